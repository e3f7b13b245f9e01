//! The frontend service: Waymark's public REST/JSON API, shaped like Temporal's HTTP API.
//! It parses and checks requests, calls history and matching, and renders their answers and
//! errors; the domain rules live behind those calls.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod conn;
pub mod error;
pub mod extract;
pub mod grpc;
pub mod guard;
pub mod openapi;
pub mod tls;
pub mod ui;

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, Method};
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router, middleware};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use waymark_api::{ApiError, Code};
use waymark_telemetry::trace;

pub use app::AppState;
pub use config::FrontendConfig;

use api::{activities, api_keys, namespaces, task_queues, worker, workflows};

/// The longest a graceful shutdown waits for requests in flight before the server stops anyway.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// Serves the API on `listener` (HTTPS with `tls`) until `shutdown` is cancelled. Long polls
/// then answer `{}` at once, and in-flight requests finish before this returns (at most
/// `SHUTDOWN_DEADLINE`).
pub async fn run(
    mut state: AppState,
    listener: conn::Listener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    state.shutdown = shutdown.clone();
    if !state.auth.is_enforced() {
        tracing::warn!("{}", auth::OFF_WARNING);
    }
    let tls = listener.tls.is_some();
    tracing::info!(addr = ?listener.tcp.local_addr()?, tls, "frontend listening");
    serve_until(listener, router(state), shutdown).await
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then lets requests in flight
/// finish, for at most `SHUTDOWN_DEADLINE`: a client that keeps a request open cannot hold the
/// process up.
pub async fn serve_until(
    listener: conn::Listener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    // Each request knows its client's address (`ConnectInfo`), for `guard`.
    let app = router.into_make_service_with_connect_info::<conn::ClientAddr>();
    let serving =
        axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_DEADLINE).await;
    };
    tokio::select! {
        served = serving => served,
        () = deadline => {
            tracing::warn!("requests still in flight {SHUTDOWN_DEADLINE:?} after shutdown began; stopping anyway");
            Ok(())
        }
    }
}

/// Every API route, both under `/api/v1` and at the root, plus `/healthz`, `/readyz`,
/// `/metrics`, the OpenAPI document (`/api/v1/openapi.json`), its Swagger UI (`/docs`) and,
/// unless turned off, the web UI (`/ui/`).
pub fn router(state: AppState) -> Router {
    let api = api_routes(&state);
    // The routes outside the API's table, authorized as their operation.
    let guard_as = |operation: &'static str| {
        middleware::from_fn_with_state((state.clone(), operation), authorize_as)
    };
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(waymark_telemetry::scrape).route_layer(guard_as("Metrics")),
        )
        .merge(api.clone())
        .nest("/api/v1", api)
        .merge(openapi::routes().route_layer(guard_as("Docs")));
    let routes = match state.cfg.ui {
        true => routes.merge(ui::routes()),
        false => routes,
    };
    let routes = routes
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found);
    let cors = cors(&state.cfg.cors_origins);
    with_error_answers(routes)
        .layer(DefaultBodyLimit::max(state.cfg.max_body_bytes))
        .layer(middleware::from_fn(waymark_telemetry::track_requests))
        .layer(middleware::from_fn(with_trace_context))
        // Failures are logged by `track_requests`, with their route, and only the server's.
        .layer(TraceLayer::new_for_http().on_failure(()))
        // Outermost: a preflight carries no key, and every answer (errors too) needs the headers.
        .layer(tower::util::option_layer(cors))
        .with_state(state)
}

/// CORS for the configured origins: browsers may send the API's methods and headers, and read
/// its answers and `traceparent`. None without origins.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([http::Method::GET, http::Method::POST, http::Method::DELETE])
            .allow_headers([
                http::header::AUTHORIZATION,
                http::header::CONTENT_TYPE,
                http::HeaderName::from_static("grpc-timeout"),
                http::HeaderName::from_static(trace::TRACEPARENT_HEADER),
            ])
            .expose_headers([http::HeaderName::from_static(trace::TRACEPARENT_HEADER)])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// The error answers of every Waymark server (the internal services' too): a handler's panic
/// answers 500 (code 13), and every error has the API error body, whichever layer answered it.
pub fn with_error_answers<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(CatchPanicLayer::custom(error::panicked))
        .layer(middleware::from_fn(error::api_error_bodies))
}

fn api_routes(state: &AppState) -> Router<AppState> {
    // The guards wrap the handlers only, so that a wrong method is still 501 (routing comes
    // first in grpc-gateway too); `Router::route_layer` would wrap the 501 as well. The key is
    // checked first, before the deadline or the body.
    let deadline = middleware::from_fn(extract::enforce_deadline);
    let authorize = middleware::from_fn_with_state(state.clone(), authorize);
    api_route_table()
        .into_iter()
        .fold(Router::new(), |router, (path, route)| {
            let route = route
                .route_layer(deadline.clone())
                .route_layer(authorize.clone());
            router.route(&path, route)
        })
}

/// Every documented operation's id, by method and documented path.
static OPERATION_IDS: LazyLock<HashMap<(Method, String), String>> =
    LazyLock::new(openapi::operation_ids);

/// Answers 401 or 403 unless the request's key may do its operation in its namespace (429 while
/// its address is held for invalid keys: `guard`), then serves it as its caller's; the handler
/// finds the caller in the request's extensions.
async fn authorize(
    State(s): State<AppState>,
    matched: MatchedPath,
    params: Result<Path<HashMap<String, String>>, PathRejection>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let documented = match matched.as_str() {
        path if path.starts_with("/api/v1/") => path.to_owned(),
        path => format!("/api/v1{path}"),
    };
    let operation = OPERATION_IDS
        .get(&(req.method().clone(), documented))
        .map_or("", String::as_str);
    let namespace = params
        .as_ref()
        .ok()
        .and_then(|p| p.get("namespace"))
        .map_or("", String::as_str);
    serve_authorized(&s, operation, namespace, req, next).await
}

/// `/metrics` and the docs, which name no namespace: authorized as `operation`.
async fn authorize_as(
    State((s, operation)): State<(AppState, &'static str)>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    serve_authorized(&s, operation, "", req, next).await
}

async fn serve_authorized(
    s: &AppState,
    operation: &str,
    namespace: &str,
    mut req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    // Without keys, there is no failure to count and no caller to record or audit.
    let enforced = s.auth.is_enforced();
    let client = req
        .extensions()
        .get::<ConnectInfo<conn::ClientAddr>>()
        .filter(|_| enforced)
        .map(|c| c.0.0.ip());
    if let Err(e) = s.guard.admit(client) {
        return error::Error::from(e).into_response();
    }
    let authorization = req.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes);
    let presented = authorization.is_some();
    match s
        .auth
        .authorize(&*s.history, operation, namespace, authorization)
        .await
    {
        Ok(caller) => {
            req.extensions_mut().insert(caller.clone());
            if !enforced {
                return next.run(req).await;
            }
            // A clone of the URI shares its bytes; the path is copied only for an audit line.
            let uri = req.uri().clone();
            let target = move || uri.path().to_owned();
            let served = next.run(req);
            guard::serve_as(&caller, operation, target, served, |r| r.status().as_u16()).await
        }
        Err(e) => {
            s.guard.refused(client, presented, &e);
            error::Error::from(e).into_response()
        }
    }
}

/// The API's routes, relative to `/api/v1`. Each is documented in `openapi::ApiDoc`.
fn api_route_table() -> Vec<(String, MethodRouter<AppState>)> {
    let ns = |rest: &str| format!("/namespaces/{{namespace}}{rest}");
    let activity = |rest: &str| ns(&format!("/activities/{{activityId}}{rest}"));
    let workflow = |rest: &str| ns(&format!("/workflows/{{workflowId}}{rest}"));
    let workflow_activity = |rest: &str| workflow(&format!("/activities/{{activityId}}{rest}"));
    #[rustfmt::skip]
    let routes = vec![
        ("/api-keys".into(), post(api_keys::create).get(api_keys::list)),
        ("/api-keys/{id}".into(), get(api_keys::describe).delete(api_keys::delete)),
        ("/api-keys/{id}/disable".into(), post(api_keys::disable)),
        ("/api-keys/{id}/enable".into(), post(api_keys::enable)),
        ("/namespaces".into(), get(namespaces::list).post(namespaces::register)),
        (ns(""), get(namespaces::describe)),
        (ns("/update"), post(namespaces::update)),
        (ns("/activity-throughput"), get(namespaces::throughput)),
        (ns("/changes"), get(namespaces::changes)),
        (ns("/activities"), get(activities::list)),
        (ns("/activity-count"), get(activities::count)),
        (activity(""), post(activities::start).get(activities::describe)),
        (activity("/outcome"), get(activities::outcome)),
        (activity("/cancel"), post(activities::cancel)),
        (activity("/terminate"), post(activities::terminate)),
        (activity("/pause"), post(activities::pause)),
        (activity("/unpause"), post(activities::unpause)),
        (activity("/reset"), post(activities::reset)),
        (activity("/update-options"), post(activities::update_options)),
        (ns("/activity-tasks/poll"), post(worker::poll)),
        (ns("/activity-heartbeat"), post(worker::heartbeat)),
        (ns("/activity-complete"), post(worker::complete)),
        (ns("/activity-fail"), post(worker::fail)),
        (ns("/activity-resolve-as-canceled"), post(worker::resolve_canceled)),
        (activity("/heartbeat"), post(worker::heartbeat_by_id)),
        (activity("/complete"), post(worker::complete_by_id)),
        (activity("/fail"), post(worker::fail_by_id)),
        (activity("/resolve-as-canceled"), post(worker::resolve_canceled_by_id)),
        (ns("/task-queues"), get(task_queues::list)),
        (ns("/task-queues/{taskQueue}"), get(task_queues::describe)),
        (ns("/task-queues/{taskQueue}/update-config"), post(task_queues::update_config)),
        (ns("/workflows"), get(workflows::list)),
        (ns("/workflow-count"), get(workflows::count)),
        (workflow(""), post(workflows::start).get(workflows::describe)),
        (workflow("/history"), get(workflows::history)),
        (workflow("/cancel"), post(workflows::cancel)),
        (workflow("/terminate"), post(workflows::terminate)),
        (workflow("/signal/{signalName}"), post(workflows::signal)),
        (workflow("/signal-with-start/{signalName}"), post(workflows::signal_with_start)),
        (workflow("/query/{queryType}"), post(workflows::query)),
        (ns("/workflow-tasks/poll"), post(workflows::poll)),
        (ns("/workflow-tasks/complete"), post(workflows::complete)),
        (ns("/workflow-tasks/fail"), post(workflows::fail)),
        (ns("/workflow-tasks/query-complete"), post(workflows::query_complete)),
        (workflow_activity("/heartbeat"), post(worker::heartbeat_by_id)),
        (workflow_activity("/complete"), post(worker::complete_by_id)),
        (workflow_activity("/fail"), post(worker::fail_by_id)),
        (workflow_activity("/resolve-as-canceled"), post(worker::resolve_canceled_by_id)),
        (workflow_activity("/pause"), post(activities::pause)),
        (workflow_activity("/unpause"), post(activities::unpause)),
        (workflow_activity("/reset"), post(activities::reset)),
        (workflow_activity("/update-options"), post(activities::update_options)),
    ];
    routes
}

/// Serves each request inside its W3C trace context (the caller's `traceparent`, or a new
/// trace), which every internal call then carries, and in a server span of its route when spans
/// are exported. An answer that hands over a task (a poll) carries the task's context in its
/// `traceparent` header, for the worker to send back with what it reports.
async fn with_trace_context(
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let caller = req
        .headers()
        .get(trace::TRACEPARENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let name = || {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str);
        format!("{} {route}", req.method())
    };
    let mut span = trace::Span::start_at(name, trace::SpanKind::Server, caller.as_deref(), None);
    let traceparent = span
        .traceparent()
        .unwrap_or_else(|| trace::continue_or_start(caller.as_deref()));
    let (mut response, answer) =
        trace::answering(trace::scope(Some(traceparent), next.run(req))).await;
    let status = response.status();
    span.set_attribute("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.set_error(status.as_str());
    }
    if let Some(answer) = answer.and_then(|t| HeaderValue::try_from(t).ok()) {
        response
            .headers_mut()
            .insert(trace::TRACEPARENT_HEADER, answer);
    }
    response
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "Operations",
    operation_id = "Health",
    summary = "Liveness: 200 while the process runs",
    description = "200 `{\"status\":\"ok\"}` while the process runs, whatever its dependencies: for a \
        liveness probe. Needs no key.",
    responses((status = 200, body = openapi::Health))
)]
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Not ready once shutdown began, so that load balancers stop sending new work, nor while a
/// dependency of the process (`AppState::ready`) is out of reach. Ready without auth carries
/// a warning, for whoever checks the deployment.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "Operations",
    operation_id = "Ready",
    summary = "Readiness: 503 once shutdown began or while a dependency is out of reach",
    description = "200 while the process can serve: for a readiness probe and load balancers. 503 once \
        shutdown began, or while a dependency (database, Redis, another service) is out of \
        reach. Needs no key.",
    responses(
        (status = 200, body = openapi::Health),
        (status = 503, description = "Unavailable (14): not ready", body = ApiError),
    )
)]
async fn readyz(State(s): State<AppState>) -> Result<Json<Value>, error::Error> {
    if s.shutdown.is_cancelled() {
        return Err(ApiError::unavailable("shutting down").into());
    }
    if let Some(check) = &s.ready {
        check().await.map_err(ApiError::unavailable)?;
    }
    if !s.auth.is_enforced() {
        return Ok(Json(json!({"status": "ok", "warning": auth::OFF_WARNING})));
    }
    Ok(Json(json!({"status": "ok"})))
}

async fn not_found() -> error::Error {
    ApiError::new(Code::NotFound, "Not Found").into()
}

/// grpc-gateway answers a known path with the wrong method as Unimplemented (501).
async fn method_not_allowed() -> error::Error {
    ApiError::new(Code::Unimplemented, "Method Not Allowed").into()
}
