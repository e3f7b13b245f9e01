//! The services' traits over HTTP: each call is one `POST /internal/v1/<service>` whose JSON body
//! names the method and its arguments. `dispatch_*` serves a call with any implementation; the
//! `Http*` clients make calls. Internal routes need the shared secret header.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use subtle::ConstantTimeEq;
use waymark_api::workflow as wf;
use waymark_api::*;
use waymark_queue::ActivityTask;
use waymark_telemetry::trace::{self, SpanKind, TRACEPARENT_HEADER};

use crate::{
    ActivityRef, ApiResult, DueTimer, HistoryApi, MatchingApi, NewApiKey, PollerInfo, TimerApi,
};

/// Header carrying the shared secret of internal calls.
pub const SECRET_HEADER: &str = "x-waymark-internal-secret";
/// Slack over a long poll's own wait before the HTTP call itself gives up.
const LONG_POLL_SLACK: Duration = Duration::from_secs(5);
/// Timeout of an ordinary internal call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Declares a service's internal calls from one list: the `*Call` enum that travels as JSON
/// (`{"method": "<snake_case variant>", ..arguments}`), the trait's impl for the HTTP client, and
/// the `dispatch_*` function that serves a call with any implementation. An entry is the trait
/// method's signature; arguments by reference (`&str`, `&T`) travel owned, and `, wait` names
/// the argument that makes the call a long poll (its HTTP timeout is that wait plus a slack).
macro_rules! internal_calls {
    ($trait:ident, $call:ident, $client:ident, $dispatch:ident; $($list:tt)*) => {
        internal_calls!(@method [$trait $call $client $dispatch] [] $($list)*);
    };
    // The next entry: its arguments are read one at a time.
    (@method $names:tt [$($done:tt)*]
        $variant:ident => fn $method:ident($($args:tt)*) -> $ret:ty $(, $wait:ident)?;
        $($rest:tt)*) => {
        internal_calls!(@arg $names [$($done)*] [$variant $method ($ret) [$($wait)?]]
            [] [] [] [] [] ($($args)*) $($rest)*);
    };
    // An argument by reference: owned in the call.
    (@arg $names:tt $done:tt $head:tt [$($sig:tt)*] [$($field:tt)*] [$($build:tt)*]
        [$($bind:tt)*] [$($pass:tt)*] ($arg:ident : & $ty:ty $(, $($more:tt)*)?) $($rest:tt)*) => {
        internal_calls!(@arg $names $done $head
            [$($sig)* $arg: &$ty,] [$($field)* $arg: <$ty as ToOwned>::Owned,]
            [$($build)* $arg: $arg.to_owned(),] [$($bind)* $arg,] [$($pass)* &$arg,]
            ($($($more)*)?) $($rest)*);
    };
    // An argument by value.
    (@arg $names:tt $done:tt $head:tt [$($sig:tt)*] [$($field:tt)*] [$($build:tt)*]
        [$($bind:tt)*] [$($pass:tt)*] ($arg:ident : $ty:ty $(, $($more:tt)*)?) $($rest:tt)*) => {
        internal_calls!(@arg $names $done $head
            [$($sig)* $arg: $ty,] [$($field)* $arg: $ty,] [$($build)* $arg,] [$($bind)* $arg,]
            [$($pass)* $arg,] ($($($more)*)?) $($rest)*);
    };
    // The entry's arguments are read.
    (@arg $names:tt [$($done:tt)*] [$($head:tt)*] $sig:tt $field:tt $build:tt $bind:tt $pass:tt ()
        $($rest:tt)*) => {
        internal_calls!(@method $names [$($done)* {$($head)* $sig $field $build $bind $pass}]
            $($rest)*);
    };
    (@timeout []) => { CALL_TIMEOUT };
    (@timeout [$wait:ident]) => { $wait + LONG_POLL_SLACK };
    // Every entry is read: the enum, the client and the dispatch.
    (@method [$trait:ident $call:ident $client:ident $dispatch:ident]
        [$({$variant:ident $method:ident ($ret:ty) $wait:tt [$($sig:tt)*] [$($field:tt)*]
            [$($build:tt)*] [$($bind:tt)*] [$($pass:tt)*]})*]) => {
        // A call is built once, serialized and dropped: boxing its large requests would only
        // add an allocation.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Serialize, Deserialize)]
        #[serde(tag = "method", rename_all = "snake_case")]
        pub enum $call {
            $($variant { $($field)* },)*
        }

        #[async_trait]
        impl $trait for $client {
            $(
                async fn $method(&self, $($sig)*) -> ApiResult<$ret> {
                    let timeout = internal_calls!(@timeout $wait);
                    self.0.call(&$call::$variant { $($build)* }, timeout).await
                }
            )*
        }

        /// Serves one call with `api`.
        pub async fn $dispatch(api: &dyn $trait, call: $call) -> ApiResult<Value> {
            match call {
                $($call::$variant { $($bind)* } => json(api.$method($($pass)*).await),)*
            }
        }
    };
}

internal_calls! {
    HistoryApi, HistoryCall, HttpHistory, dispatch_history;
    RegisterNamespace => fn register_namespace(req: RegisterNamespaceRequest) -> ();
    DescribeNamespace => fn describe_namespace(namespace: &str) -> DescribeNamespaceResponse;
    UpdateNamespace => fn update_namespace(req: UpdateNamespaceRequest) -> DescribeNamespaceResponse;
    ListNamespaces => fn list_namespaces() -> ListNamespacesResponse;
    ActivityThroughput => fn activity_throughput(namespace: &str) -> ActivityThroughputResponse;
    NamespaceChanges => fn namespace_changes(
        namespace: &str,
        after: &str,
        wait: Duration,
    ) -> NamespaceChangesResponse, wait;
    CreateApiKey => fn create_api_key(key: NewApiKey) -> ApiKeyInfo;
    ListApiKeys => fn list_api_keys(namespace: Option<String>) -> ListApiKeysResponse;
    DescribeApiKey => fn describe_api_key(id: &str) -> ApiKeyInfo;
    SetApiKeyDisabled => fn set_api_key_disabled(id: &str, disabled: bool) -> ();
    DeleteApiKey => fn delete_api_key(id: &str) -> ();
    AuthenticateApiKey => fn authenticate_api_key(id: &str, hash: &str) -> Option<ApiKeyInfo>;
    HasSystemAdminKey => fn has_system_admin_key() -> bool;
    StartActivity => fn start_activity(
        ns: &str,
        activity_id: &str,
        req: StartActivityExecutionRequest,
    ) -> StartActivityExecutionResponse;
    DescribeActivity => fn describe_activity(
        ns: &str,
        activity_id: &str,
        query: DescribeActivityExecutionQuery,
        wait: Duration,
    ) -> Option<DescribeActivityExecutionResponse>, wait;
    PollActivityOutcome => fn poll_activity_outcome(
        ns: &str,
        activity_id: &str,
        run_id: &str,
        wait: Duration,
    ) -> Option<PollActivityExecutionResponse>, wait;
    ListActivities => fn list_activities(
        ns: &str,
        query: ListActivityExecutionsQuery,
    ) -> ListActivityExecutionsResponse;
    CountActivities => fn count_activities(
        ns: &str,
        query: &str,
    ) -> CountActivityExecutionsResponse;
    RequestCancelActivity => fn request_cancel_activity(
        ns: &str,
        activity_id: &str,
        req: RequestCancelActivityExecutionRequest,
    ) -> ();
    TerminateActivity => fn terminate_activity(
        ns: &str,
        activity_id: &str,
        req: TerminateActivityExecutionRequest,
    ) -> ();
    PauseActivity => fn pause_activity(
        ns: &str,
        activity_id: &str,
        req: PauseActivityExecutionRequest,
    ) -> ();
    UnpauseActivity => fn unpause_activity(
        ns: &str,
        activity_id: &str,
        req: UnpauseActivityExecutionRequest,
    ) -> ();
    ResetActivity => fn reset_activity(
        ns: &str,
        activity_id: &str,
        req: ResetActivityExecutionRequest,
    ) -> ();
    UpdateActivityOptions => fn update_activity_options(
        ns: &str,
        activity_id: &str,
        req: UpdateActivityExecutionOptionsRequest,
    ) -> UpdateActivityExecutionOptionsResponse;
    RecordHeartbeat => fn record_heartbeat(
        ns: &str,
        target: ActivityRef,
        details: Option<Payloads>,
        identity: String,
    ) -> RecordActivityTaskHeartbeatResponse;
    RespondCompleted => fn respond_completed(
        ns: &str,
        target: ActivityRef,
        result: Option<Payloads>,
        identity: String,
    ) -> ();
    RespondFailed => fn respond_failed(
        ns: &str,
        target: ActivityRef,
        failure: Option<Failure>,
        last_heartbeat_details: Option<Payloads>,
        identity: String,
    ) -> RespondActivityTaskFailedResponse;
    RespondCanceled => fn respond_canceled(
        ns: &str,
        target: ActivityRef,
        details: Option<Payloads>,
        identity: String,
    ) -> ();
    RecordActivityTaskStarted => fn record_activity_task_started(
        task: &ActivityTask,
        poller: &PollerInfo,
    ) -> Option<PollActivityTaskQueueResponse>;
    FireTimer => fn fire_timer(timer: DueTimer) -> ();
    StartWorkflow => fn start_workflow(
        ns: &str,
        workflow_id: &str,
        req: wf::StartWorkflowExecutionRequest,
    ) -> wf::StartWorkflowExecutionResponse;
    SignalWithStartWorkflow => fn signal_with_start_workflow(
        ns: &str,
        workflow_id: &str,
        req: wf::SignalWithStartWorkflowExecutionRequest,
    ) -> wf::SignalWithStartWorkflowExecutionResponse;
    DescribeWorkflow => fn describe_workflow(
        ns: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> wf::DescribeWorkflowExecutionResponse;
    GetWorkflowHistory => fn get_workflow_history(
        ns: &str,
        workflow_id: &str,
        query: wf::GetWorkflowExecutionHistoryQuery,
        wait: Duration,
    ) -> wf::GetWorkflowExecutionHistoryResponse, wait;
    ListWorkflows => fn list_workflows(
        ns: &str,
        query: wf::ListWorkflowExecutionsQuery,
    ) -> wf::ListWorkflowExecutionsResponse;
    CountWorkflows => fn count_workflows(ns: &str, query: &str) -> CountActivityExecutionsResponse;
    RequestCancelWorkflow => fn request_cancel_workflow(
        ns: &str,
        workflow_id: &str,
        req: wf::RequestCancelWorkflowExecutionRequest,
    ) -> ();
    TerminateWorkflow => fn terminate_workflow(
        ns: &str,
        workflow_id: &str,
        req: wf::TerminateWorkflowExecutionRequest,
    ) -> ();
    SignalWorkflow => fn signal_workflow(
        ns: &str,
        workflow_id: &str,
        req: wf::SignalWorkflowExecutionRequest,
    ) -> wf::SignalWorkflowExecutionResponse;
    RecordWorkflowTaskStarted => fn record_workflow_task_started(
        task: &ActivityTask,
        poller: &PollerInfo,
    ) -> Option<wf::PollWorkflowTaskQueueResponse>;
    RespondWorkflowTaskCompleted => fn respond_workflow_task_completed(
        ns: &str,
        req: wf::RespondWorkflowTaskCompletedRequest,
    ) -> ();
    RespondWorkflowTaskFailed => fn respond_workflow_task_failed(
        ns: &str,
        req: wf::RespondWorkflowTaskFailedRequest,
    ) -> ();
    QueryWorkflow => fn query_workflow(
        ns: &str,
        workflow_id: &str,
        req: wf::QueryWorkflowRequest,
        wait: Duration,
    ) -> wf::QueryWorkflowResponse, wait;
    RespondQueryTaskCompleted => fn respond_query_task_completed(
        ns: &str,
        req: wf::RespondQueryTaskCompletedRequest,
    ) -> ();
}

internal_calls! {
    MatchingApi, MatchingCall, HttpMatching, dispatch_matching;
    AddActivityTask => fn add_activity_task(task: ActivityTask) -> ();
    PollActivityTask => fn poll_activity_task(
        ns: &str,
        req: PollActivityTaskQueueRequest,
        wait: Duration,
    ) -> Option<PollActivityTaskQueueResponse>, wait;
    QueueBacklog => fn queue_backlog(ns: &str, task_queue: &str) -> u64;
    ListTaskQueues => fn list_task_queues(ns: &str) -> ListTaskQueuesResponse;
    DescribeTaskQueue => fn describe_task_queue(
        ns: &str,
        task_queue: &str,
        query: DescribeTaskQueueQuery,
    ) -> DescribeTaskQueueResponse;
    UpdateTaskQueueConfig => fn update_task_queue_config(
        ns: &str,
        task_queue: &str,
        req: UpdateTaskQueueConfigRequest,
    ) -> UpdateTaskQueueConfigResponse;
    AddWorkflowTask => fn add_workflow_task(task: ActivityTask) -> ();
    PollWorkflowTask => fn poll_workflow_task(
        ns: &str,
        req: wf::PollWorkflowTaskQueueRequest,
        wait: Duration,
    ) -> Option<wf::PollWorkflowTaskQueueResponse>, wait;
    QueryWorkflow => fn query_workflow(
        task: ActivityTask,
        wait: Duration,
    ) -> Option<wf::RespondQueryTaskCompletedRequest>, wait;
    AnswerQuery => fn answer_query(id: &str, answer: wf::RespondQueryTaskCompletedRequest) -> ();
}

internal_calls! {
    TimerApi, TimerCall, HttpTimer, dispatch_timer;
    TimerWritten => fn timer_written(due_ns: i64) -> ();
}

fn json<T: Serialize>(r: ApiResult<T>) -> ApiResult<Value> {
    r.and_then(|v| serde_json::to_value(v).map_err(|_| ApiError::internal()))
}

/// Mutual TLS of the calls between the services: the certificate a service presents, and the
/// CA that alone is trusted to have signed the others'.
#[derive(Clone)]
pub struct ClientTls {
    identity: reqwest::Identity,
    ca: Vec<reqwest::Certificate>,
}

/// Why a file of `ClientTls` cannot be used; never quotes a key.
#[derive(Debug, thiserror::Error)]
pub enum ClientTlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{cert} and {key} are not a PEM certificate and its private key")]
    Identity { cert: PathBuf, key: PathBuf },
    #[error("{path} holds no PEM CA certificate")]
    Ca { path: PathBuf },
}

impl ClientTls {
    /// The PEM files of the certificate to present, its key, and the CA(s) to trust.
    pub fn load(cert: &Path, key: &Path, ca: &Path) -> Result<ClientTls, ClientTlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| ClientTlsError::Read {
                path: path.to_owned(),
                source,
            })
        };
        let mut pem = read(cert)?;
        pem.push(b'\n');
        pem.extend(read(key)?);
        // reqwest's own error may quote what it could not parse: only the paths are said.
        let identity = reqwest::Identity::from_pem(&pem).map_err(|_| ClientTlsError::Identity {
            cert: cert.to_owned(),
            key: key.to_owned(),
        })?;
        let no_ca = || ClientTlsError::Ca {
            path: ca.to_owned(),
        };
        let ca_certs = reqwest::Certificate::from_pem_bundle(&read(ca)?).map_err(|_| no_ca())?;
        if ca_certs.is_empty() {
            return Err(no_ca());
        }
        Ok(ClientTls {
            identity,
            ca: ca_certs,
        })
    }

    /// The certificate and key this service presents.
    pub fn identity(&self) -> reqwest::Identity {
        self.identity.clone()
    }
}

/// The HTTP client of a service's calls to the others: keep-alive pooled, and with `tls`,
/// HTTPS only, presenting its certificate and trusting only its CA.
pub fn http_client(tls: Option<&ClientTls>) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(60));
    if let Some(tls) = tls {
        builder = builder
            .https_only(true)
            .tls_built_in_root_certs(false)
            .identity(tls.identity.clone());
        for ca in &tls.ca {
            builder = builder.add_root_certificate(ca.clone());
        }
    }
    builder.build()
}

/// An HTTP client of one internal service.
#[derive(Clone)]
pub struct Remote {
    http: reqwest::Client,
    url: String,
    secret: String,
}

impl Remote {
    /// `base` is the service's address (`http://history:7234`, `https://` with mutual TLS);
    /// `service` names its route.
    pub fn new(http: reqwest::Client, base: &str, service: &str, secret: &str) -> Remote {
        Remote {
            http,
            url: format!("{}/internal/v1/{service}", base.trim_end_matches('/')),
            secret: secret.to_owned(),
        }
    }

    async fn call<C: Serialize, T: DeserializeOwned>(
        &self,
        call: &C,
        timeout: Duration,
    ) -> ApiResult<T> {
        let unavailable = |e: reqwest::Error| {
            ApiError::unavailable(format!("internal call to {} failed: {e}", self.url))
        };
        let mut request = self
            .http
            .post(&self.url)
            .header(SECRET_HEADER, &self.secret)
            .timeout(timeout)
            .json(call);
        if let Some(traceparent) = trace::current() {
            request = request.header(TRACEPARENT_HEADER, traceparent);
        }
        let response = request.send().await.map_err(unavailable)?;
        if let Some(answer) = response.headers().get(TRACEPARENT_HEADER)
            && let Ok(answer) = answer.to_str()
        {
            trace::answer_with(answer.to_owned());
        }
        let ok = response.status().is_success();
        let body = response.bytes().await.map_err(unavailable)?;
        if ok {
            serde_json::from_slice(&body)
                .map_err(|e| ApiError::unavailable(format!("bad internal answer: {e}")))
        } else {
            Err(serde_json::from_slice(&body)
                .unwrap_or_else(|_| ApiError::unavailable(String::from_utf8_lossy(&body))))
        }
    }
}

/// `HistoryApi` over HTTP.
pub struct HttpHistory(pub Remote);
/// `MatchingApi` over HTTP.
pub struct HttpMatching(pub Remote);
/// `TimerApi` over HTTP.
pub struct HttpTimer(pub Remote);

/// The internal route of one service: checks the shared secret, decodes the call, serves it.
/// Mounted next to `/healthz` and `/readyz` on the service's own listener, never on the
/// frontend's public one.
pub fn internal_router<C, F, Fut>(service: &'static str, secret: String, serve: F) -> axum::Router
where
    C: DeserializeOwned + Send + 'static,
    F: Fn(C) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ApiResult<Value>> + Send + 'static,
{
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;

    let handler = move |headers: HeaderMap, body: axum::body::Bytes| {
        let serve = serve.clone();
        async move {
            let mut answered_in = None;
            let answer = {
                let caller = headers
                    .get(TRACEPARENT_HEADER)
                    .and_then(|v| v.to_str().ok());
                match serde_json::from_slice::<C>(&body) {
                    Ok(call) => {
                        let mut span = call_span(service, caller, &body);
                        let (answer, traceparent) = trace::answering(trace::scope(
                            span.traceparent().or(caller.map(str::to_owned)),
                            serve(call),
                        ))
                        .await;
                        if let Err(e) = &answer {
                            span.set_error(&e.message);
                        }
                        answered_in = traceparent;
                        answer
                    }
                    Err(e) => Err(ApiError::invalid_argument(format!(
                        "bad internal call: {e}"
                    ))),
                }
            };
            let mut response = match answer {
                Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
                Err(e) => {
                    let status = StatusCode::from_u16(e.http_status())
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    (status, axum::Json(e)).into_response()
                }
            };
            if let Some(t) = answered_in.and_then(|t| t.try_into().ok()) {
                response.headers_mut().insert(TRACEPARENT_HEADER, t);
            }
            response
        }
    };
    // The secret is checked before the body is read: a caller without it cannot make the
    // service read (up to) `INTERNAL_BODY_LIMIT` bytes.
    let secret = std::sync::Arc::new(secret);
    let guard = axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let secret = secret.clone();
            async move {
                let given = request
                    .headers()
                    .get(SECRET_HEADER)
                    .map(|v| v.as_bytes())
                    .unwrap_or_default();
                if bool::from(given.ct_eq(secret.as_bytes())) {
                    return next.run(request).await;
                }
                let refused = ApiError::new(
                    Code::PermissionDenied,
                    "internal call without the right secret",
                );
                (StatusCode::FORBIDDEN, axum::Json(refused)).into_response()
            }
        },
    );
    axum::Router::new()
        .route(
            &format!("/internal/v1/{service}"),
            axum::routing::post(handler),
        )
        // The frontend enforces the public limits; a call it forwards may be larger than axum's
        // default (payload limits are checked by history, with Temporal's messages).
        .layer(axum::extract::DefaultBodyLimit::max(INTERNAL_BODY_LIMIT))
        .route_layer(guard)
}

/// The shortest internal secret a service accepts: 256 bits, as hex or base64 characters give.
pub const MIN_SECRET_BYTES: usize = 32;

/// The server span of one internal call, `<service>.<method>` (the method is read out of the
/// body only when spans are exported).
fn call_span(service: &'static str, caller: Option<&str>, body: &[u8]) -> trace::Span {
    #[derive(Deserialize)]
    struct Method<'a> {
        #[serde(borrow)]
        method: Cow<'a, str>,
    }
    let name = || {
        let method =
            serde_json::from_slice::<Method>(body).map_or(Cow::Borrowed("?"), |m| m.method);
        format!("{service}.{method}")
    };
    trace::Span::start_at(name, SpanKind::Server, caller, None)
}

/// Largest internal call body: a few times the largest public request.
pub const INTERNAL_BODY_LIMIT: usize = 64 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_round_trip_through_json() {
        let call = HistoryCall::PollActivityOutcome {
            ns: "n".into(),
            activity_id: "a".into(),
            run_id: String::new(),
            wait: Duration::from_millis(1500),
        };
        let back: HistoryCall =
            serde_json::from_str(&serde_json::to_string(&call).unwrap()).unwrap();
        assert!(
            matches!(back, HistoryCall::PollActivityOutcome { wait, .. } if wait == Duration::from_millis(1500))
        );
        // The method travels in snake case, the arguments under their names.
        let wire = serde_json::to_value(&call).unwrap();
        assert_eq!(wire["method"], "poll_activity_outcome");
        assert_eq!(wire["activity_id"], "a");
    }

    #[test]
    fn a_long_poll_waits_its_wait_plus_the_slack_and_other_calls_the_call_timeout() {
        let wait = Duration::from_millis(1500);
        assert_eq!(
            internal_calls!(@timeout [wait]),
            Duration::from_millis(1500) + LONG_POLL_SLACK
        );
        assert_eq!(internal_calls!(@timeout []), CALL_TIMEOUT);
    }

    #[test]
    fn task_queue_calls_round_trip_through_json() {
        let query = DescribeTaskQueueQuery {
            task_queue_type: TaskQueueType::Activity,
            report_stats: true,
            report_config: false,
        };
        let call = MatchingCall::DescribeTaskQueue {
            ns: "n".into(),
            task_queue: "q".into(),
            query: query.clone(),
        };
        let back: MatchingCall =
            serde_json::from_str(&serde_json::to_string(&call).unwrap()).unwrap();
        assert!(matches!(back, MatchingCall::DescribeTaskQueue { query: q, .. } if q == query));
    }
}
