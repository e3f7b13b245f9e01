//! The HTTP side of the metrics: the middleware that counts and times every request by its
//! matched route, and the `GET /metrics` handler.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{HttpLabels, METRICS, render};

/// The OpenMetrics text format, which Prometheus asks for and reads.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Middleware (`axum::middleware::from_fn(track_requests)`, added with `Router::layer` so that
/// it sees the matched route): counts and times each request by route pattern, method and
/// status. A path no route matched is counted as `unmatched`, so that scanners cannot grow
/// the label set. A failure of the server is logged at ERROR with its method and route.
pub async fn track_requests(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = method_label(req.method());
    let response = next.run(req).await;
    let status = response.status();
    if is_server_fault(status) {
        tracing::error!(method, route = %route, status = status.as_u16(), "request failed");
    }
    let labels = HttpLabels {
        route,
        method,
        status: response.status().as_u16(),
    };
    METRICS.http_requests.get_or_create(&labels).inc();
    METRICS
        .http_duration
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Whether an answer is the server's fault, logged at ERROR: a 5xx, except 501 (a method the
/// route does not offer) and 504 (the caller's deadline passed), mistakes of the caller as
/// every 4xx is.
fn is_server_fault(status: StatusCode) -> bool {
    status.is_server_error()
        && status != StatusCode::NOT_IMPLEMENTED
        && status != StatusCode::GATEWAY_TIMEOUT
}

/// `GET /metrics`: every metric of this process in the OpenMetrics text format.
pub async fn scrape() -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], render().await).into_response()
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;
    use crate::tests::sample;

    /// What was logged while `f` ran, as text lines.
    async fn logged<F: std::future::Future<Output = ()>>(f: F) -> String {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        f.await;
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn server_failures_are_logged_at_error_with_method_and_route_and_mistakes_are_not() {
        use axum::routing::{post, put};
        let status = |code: u16| move || async move { StatusCode::from_u16(code).unwrap() };
        let app = Router::new()
            .route("/boom/{id}", put(status(500)))
            .route("/bad", post(status(400)))
            .route("/unimplemented", post(status(501)))
            .route("/late", post(status(504)))
            .layer(axum::middleware::from_fn(track_requests));
        let send = |method: Method, path: &str| {
            let request = Request::builder().method(method).uri(path);
            app.clone().oneshot(request.body(Body::empty()).unwrap())
        };
        let logs = logged(async {
            send(Method::PUT, "/boom/7").await.unwrap();
        })
        .await;
        assert!(logs.contains("ERROR"), "{logs}");
        assert!(logs.contains(r#"method="PUT""#), "{logs}");
        assert!(logs.contains("route=/boom/{id}"), "{logs}");
        assert!(logs.contains("status=500"), "{logs}");
        let logs = logged(async {
            for path in ["/bad", "/unimplemented", "/late", "/nowhere"] {
                send(Method::POST, path).await.unwrap();
            }
            // A wrong method.
            send(Method::DELETE, "/bad").await.unwrap();
        })
        .await;
        assert!(!logs.contains("ERROR"), "{logs}");
    }

    #[tokio::test]
    async fn requests_are_counted_by_route_pattern_and_status() {
        let app = Router::new()
            .route("/things/{id}", get(|| async { "thing" }))
            .route("/metrics", get(scrape))
            .layer(axum::middleware::from_fn(track_requests));
        for path in ["/things/1", "/things/2", "/no/such/path"] {
            app.clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
        }
        let response = app
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        let things = [
            r#"route="/things/{id}""#,
            r#"method="GET""#,
            r#"status="200""#,
        ];
        assert_eq!(
            sample(&text, "waymark_http_requests_total", &things),
            Some(2.0),
            "{text}"
        );
        assert_eq!(
            sample(
                &text,
                "waymark_http_request_duration_seconds_count",
                &things
            ),
            Some(2.0)
        );
        let unmatched = [r#"route="unmatched""#, r#"status="404""#];
        assert_eq!(
            sample(&text, "waymark_http_requests_total", &unmatched),
            Some(1.0)
        );
        assert!(!text.contains("/no/such/path"));
        assert!(text.ends_with("# EOF\n"));
    }
}
