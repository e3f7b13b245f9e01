//! The frontend's second door: Temporal's gRPC `WorkflowService`, so that Temporal's SDKs and
//! CLI work against Waymark unchanged. It serves the same engine as the REST/JSON door (see
//! `service.rs`), plus the standard health service and reflection.

pub mod bridge;
mod service;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpConnectInfo;
use waymark_proto::temporal::api::workflowservice::v1::workflow_service_server::WorkflowServiceServer;

use waymark_telemetry::trace;

use crate::app::AppState;
use crate::guard;
pub use service::WorkflowService;

/// Serves `WorkflowService` on `listener` (over TLS with `tls`) until `shutdown` is cancelled;
/// long polls then answer empty at once, as on the HTTP door.
pub async fn run(
    mut state: AppState,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    state.shutdown = shutdown.clone();
    tracing::info!(addr = ?listener.local_addr().ok(), tls = tls.is_some(), "gRPC frontend listening");
    // Each handshake happens in its connection's task (`tls::Stream`), never in this loop.
    let incoming = TcpListenerStream::new(listener)
        .map(move |tcp| tcp.map(|tcp| crate::tls::Stream::new(tcp, tls.as_ref())));
    let max_request = state.cfg.max_body_bytes;
    // Temporal's SDKs compress their requests with gzip. Answers go uncompressed (gRPC lets the
    // server choose): compressing small messages costed more CPU than anything else per call.
    let edge_state = state.clone();
    let workflow_service = WorkflowServiceServer::new(WorkflowService { state })
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_request)
        .max_encoding_message_size(usize::MAX);
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<WorkflowServiceServer<WorkflowService>>()
        .await;
    let health_service = health_service.accept_compressed(CompressionEncoding::Gzip);
    // Reflection in both versions: grpcurl asks v1, older clients (grpcio's) v1alpha.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(waymark_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .build_v1()
        .expect("the generated descriptor set is valid")
        .accept_compressed(CompressionEncoding::Gzip);
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .expect("the generated descriptor set is valid")
        .accept_compressed(CompressionEncoding::Gzip);
    tonic::transport::Server::builder()
        .layer(tower::layer::layer_fn(move |inner| {
            Edge(inner, Some(edge_state.clone()))
        }))
        .add_service(workflow_service)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await
}

/// What every gRPC call goes through: its key is checked (the RPC checks the namespace, which
/// is inside its message, with `service::authorize`); it is served inside its W3C trace context
/// (the caller's `traceparent` metadata, or a new trace), as on the HTTP door; and the generated
/// stub of an RPC Waymark does not serve, which answers UNIMPLEMENTED with a fixed text, names
/// the RPC instead, so that a user sees at once what is missing.
#[derive(Clone)]
struct Edge<S>(S, Option<AppState>);

/// The path prefix of `WorkflowService`'s RPCs, the only ones that need a key.
const WORKFLOW_SERVICE_PATH: &str = "/temporal.api.workflowservice.v1.WorkflowService";

/// What tonic's generated stubs say (percent-encoded, as `grpc-message` carries it).
const STUB_MESSAGE: &str = "Not%20yet%20implemented";

impl<S, B, R> tower::Service<http::Request<B>> for Edge<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // A clone of the URI shares its bytes: nothing is copied unless it is needed.
        let uri = request.uri().clone();
        // The service made ready is the one to call once the key is checked; its clone serves
        // the next call.
        let mut inner = self.0.clone();
        std::mem::swap(&mut self.0, &mut inner);
        let state = self.1.clone();
        let authorization = request.headers().get(http::header::AUTHORIZATION).cloned();
        let caller = request
            .headers()
            .get(trace::TRACEPARENT_HEADER)
            .and_then(|v| v.to_str().ok());
        let span = trace::Span::start_at(
            || format!("grpc {}", uri.path()),
            trace::SpanKind::Server,
            caller,
            None,
        );
        let traceparent = span
            .traceparent()
            .unwrap_or_else(|| trace::continue_or_start(caller));
        Box::pin(async move {
            let (service, method) = uri.path().rsplit_once('/').unwrap_or_default();
            // Health and reflection stay open, as `/healthz` and the OpenAPI document do.
            let mut caller = None;
            if let Some(state) = state.filter(|_| service == WORKFLOW_SERVICE_PATH) {
                let client = request
                    .extensions()
                    .get::<TcpConnectInfo>()
                    .and_then(TcpConnectInfo::remote_addr)
                    .filter(|_| state.auth.is_enforced())
                    .map(|a| a.ip());
                if let Err(e) = state.guard.admit(client) {
                    return Ok(bridge::status(e).into_http());
                }
                let authorization = authorization.as_ref().map(http::HeaderValue::as_bytes);
                let authorized = state
                    .auth
                    .authenticate_for(&*state.history, method, authorization)
                    .await;
                match authorized {
                    Ok(authorized) => {
                        // Without keys, there is no caller to record or audit.
                        caller = state.auth.is_enforced().then(|| authorized.caller.clone());
                        request.extensions_mut().insert(authorized);
                    }
                    Err(e) => {
                        state.guard.refused(client, authorization.is_some(), &e);
                        return Ok(bridge::status(e).into_http());
                    }
                };
            }
            let call = trace::scope(Some(traceparent), inner.call(request));
            let answer = async {
                match &caller {
                    // The target is learnt from the message (`bridge::to_api`).
                    Some(caller) => {
                        let status = |answered: &Result<S::Response, S::Error>| {
                            answered.as_ref().map_or(2, grpc_status)
                        };
                        guard::serve_as(caller, method, String::new, call, status).await
                    }
                    None => call.await,
                }
            };
            let answered = CatchPanic(Box::pin(answer)).await;
            drop(span);
            let mut response = match answered {
                Ok(response) => response?,
                Err(panic) => {
                    let panic = crate::error::panic_message(&*panic);
                    tracing::error!(panic, method = uri.path(), "a gRPC call panicked");
                    return Ok(tonic::Status::internal("internal error").into_http());
                }
            };
            let headers = response.headers_mut();
            if headers
                .get("grpc-message")
                .is_some_and(|m| m == STUB_MESSAGE)
            {
                let message = format!("{method}%20is%20not%20implemented%20by%20Waymark");
                if let Ok(value) = http::HeaderValue::from_str(&message) {
                    headers.insert("grpc-message", value);
                }
            }
            Ok(response)
        })
    }
}

/// The `grpc-status` of an answer: in its headers when it failed at once (trailers-only),
/// else 0 (an answer's trailers come after it is served).
fn grpc_status<R>(answer: &http::Response<R>) -> u16 {
    let status = answer.headers().get("grpc-status");
    status
        .and_then(|s| s.to_str().ok()?.parse().ok())
        .unwrap_or(0)
}

/// A call's future whose panic is caught: the call answers INTERNAL, as a panicking HTTP handler
/// answers 500, instead of the connection being dropped.
struct CatchPanic<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchPanic<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(answer)) => Poll::Ready(Ok(answer)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Service, ServiceExt};

    #[tokio::test]
    async fn a_panicking_call_answers_internal() {
        let panics = tower::service_fn(|_: http::Request<()>| async {
            if true {
                panic!("a bug reached by a call");
            }
            Ok::<_, std::convert::Infallible>(http::Response::new(tonic::body::Body::default()))
        });
        let mut edge = Edge(panics, None);
        let request = http::Request::post("/temporal.api.workflowservice.v1.WorkflowService/X")
            .body(())
            .unwrap();
        let response = edge.ready().await.unwrap().call(request).await.unwrap();
        let status = tonic::Status::from_header_map(response.headers()).expect("a gRPC status");
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(status.message(), "internal error");
    }
}
