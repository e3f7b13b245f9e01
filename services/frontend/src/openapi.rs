//! The OpenAPI 3.1 document of the public API, served at `/api/v1/openapi.json` and printed by
//! `waymark openapi`, and the Swagger UI page that renders it at `/docs`.

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, PartialSchema, ToSchema};
use utoipa_swagger_ui::SwaggerUi;
use waymark_api::ApiError;

use crate::api::{activities, api_keys, namespaces, task_queues, worker, workflows};

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";
/// Where the Swagger UI page is served.
pub const DOCS_PATH: &str = "/docs";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Waymark",
        description = "Waymark's REST/JSON API, shaped like Temporal's HTTP API: standalone \
            activities, workflows, their workers' long polls, namespaces and task queues. Every \
            `/api/v1/...` route is also served without the `/api/v1` prefix.\n\n\
            Wire rules (protojson): fields are written in camelCase and read in camelCase or \
            snake_case; fields with a zero value are omitted; int64 values are decimal strings; \
            durations are strings such as `\"1.500s\"`; timestamps are RFC 3339; enums are \
            written by name and read by name or number. A request body may be empty (`{}`). \
            Errors are `{\"code\", \"message\", \"details\"}` with a gRPC code. Long polls wait \
            up to the `Grpc-Timeout` header (less a second) and answer `{}` when nothing came.\n\n\
            Every operation has an example that works as is against a fresh `waymark start-dev` \
            (namespace `default`), tried in this order: start the activity `greet-1` on queue \
            `demo`, poll its task, then heartbeat, complete, fail or cancel it by id, describe it \
            and read its outcome; likewise the workflow `order-1` on queue `orders`. Where an \
            example cannot succeed as is (a task token only a poll gives, an id only a create \
            answers), its description says so and `x-example-status` gives the status it \
            answers."
    ),
    paths(
        api_keys::create,
        api_keys::list,
        api_keys::disable,
        api_keys::enable,
        api_keys::describe,
        api_keys::delete,
        namespaces::list,
        namespaces::register,
        namespaces::describe,
        namespaces::update,
        namespaces::throughput,
        namespaces::changes,
        activities::start,
        activities::describe,
        activities::outcome,
        activities::list,
        activities::count,
        activities::cancel,
        activities::terminate,
        activities::pause,
        activities::unpause,
        activities::reset,
        activities::update_options,
        worker::poll,
        worker::heartbeat,
        worker::complete,
        worker::fail,
        worker::resolve_canceled,
        worker::heartbeat_by_id,
        worker::complete_by_id,
        worker::fail_by_id,
        worker::resolve_canceled_by_id,
        task_queues::list,
        task_queues::describe,
        task_queues::update_config,
        workflows::start,
        workflows::describe,
        workflows::history,
        workflows::list,
        workflows::count,
        workflows::cancel,
        workflows::terminate,
        workflows::signal,
        workflows::signal_with_start,
        workflows::query,
        workflows::poll,
        workflows::complete,
        workflows::fail,
        workflows::query_complete,
        crate::healthz,
        crate::readyz,
        metrics,
    ),
    // Schemas that only parameters or hand-written responses name, which no derive collects.
    components(schemas(ApiError, waymark_api::workflow::HistoryEventFilterType)),
    modifiers(&WorkflowActivityRoutes, &BearerKeys, &ExampleAnswers, &MapKeysAreStrings),
    tags(
        (name = "Activities", description = "Standalone activities, caller side"),
        (name = "Activity workers", description = "A worker's activity tasks: long poll, \
            heartbeat, complete, fail, resolve as canceled (by task token or by id)"),
        (name = "Workflows", description = "Workflows, caller side"),
        (name = "Workflow workers", description = "The workflow task protocol"),
        (name = "Task queues", description = "Pollers, backlog and rate limits"),
        (name = "Namespaces"),
        (name = "API keys", description = "Keys for `Authorization: Bearer <key>`, when the \
            server requires them: created with a role in a namespace (or `system:admin`)"),
        (name = "Operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

/// The document as `waymark openapi` prints it and `openapi/waymark.json` holds it.
pub fn document_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
}

/// Each documented operation's id by method and path (as documented: under `/api/v1`).
pub fn operation_ids() -> HashMap<(http::Method, String), String> {
    let doc = ApiDoc::openapi();
    let mut ids = HashMap::new();
    for (path, item) in doc.paths.paths {
        let methods = [
            (http::Method::GET, item.get),
            (http::Method::POST, item.post),
            (http::Method::PUT, item.put),
            (http::Method::DELETE, item.delete),
            (http::Method::PATCH, item.patch),
        ];
        for (method, op) in methods {
            if let Some(id) = op.and_then(|op| op.operation_id) {
                ids.insert((method, path.clone()), id);
            }
        }
    }
    ids
}

/// `/api/v1/openapi.json` and the Swagger UI at `/docs`, whose assets are compiled in.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    SwaggerUi::new(DOCS_PATH)
        .url(DOCUMENT_PATH, ApiDoc::openapi())
        .into()
}

/// `/metrics` is `waymark_telemetry::scrape`; this describes it.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "Operations",
    operation_id = "Metrics",
    summary = "Prometheus metrics",
    description = "The process's metrics in the OpenMetrics text format.",
    responses((
        status = 200,
        description = "The OpenMetrics exposition, ending with `# EOF`",
        body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    ))
)]
#[allow(
    dead_code,
    reason = "documentation only: the route serves waymark_telemetry::scrape"
)]
fn metrics() {}

/// How a request presents its key (`Authorization: Bearer`), on every operation but the health
/// checks: the Swagger page's Authorize button then sends it with each call it tries.
struct BearerKeys;

/// The security scheme's name in the document.
const BEARER: &str = "bearer";

impl Modify for BearerKeys {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("API key (wmk_...) or, with --auth=jwt, a JWT")
            .description(Some(
                "Required when the server runs with keys (`waymark serve`, `start-dev --auth`): \
                 a missing or invalid key answers 401 (code 16), a role without the operation \
                 403 (code 7).",
            ))
            .build();
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
        doc.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
        for path in ["/healthz", "/readyz"] {
            if let Some(op) = doc.paths.paths.get_mut(path).and_then(|i| i.get.as_mut()) {
                // An empty requirement: no key needed.
                op.security = Some(vec![SecurityRequirement::default()]);
            }
        }
    }
}

/// The by-id worker routes and the operator commands of a workflow's activity: the same
/// handlers, bodies and answers as a standalone activity's, under `/workflows/{workflowId}`.
struct WorkflowActivityRoutes;

impl Modify for WorkflowActivityRoutes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let ns = "/api/v1/namespaces/{namespace}";
        let worker = ["heartbeat", "complete", "fail", "resolve-as-canceled"]
            .map(|a| (a, "Workflow workers"));
        let operator = ["pause", "unpause", "reset", "update-options"].map(|a| (a, "Workflows"));
        for (action, tag) in worker.into_iter().chain(operator) {
            let standalone = format!("{ns}/activities/{{activityId}}/{action}");
            let Some(mut item) = doc.paths.paths.get(&standalone).cloned() else {
                panic!("{standalone} is not documented");
            };
            let op = item.post.as_mut().expect("by-id routes are POST");
            let standalone_op = op.operation_id.take().unwrap_or_default();
            op.operation_id = Some(format!("{standalone_op}InWorkflow"));
            op.tags = Some(vec![tag.into()]);
            op.summary = op
                .summary
                .take()
                .map(|s| format!("{s} (a workflow's activity)"));
            op.description = Some(format!(
                "As {standalone_op}, for an activity that a workflow scheduled (its \
                 `activityId` is the ScheduleActivityTask command's), under the workflow's id; \
                 `runId` names the workflow's run. The examples name workflow `order-1`, whose \
                 worker scheduled no activity `greet-1`: as is, the example answers 404 (code 5). \
                 Use the id of an activity the workflow scheduled."
            ));
            let params = op.parameters.get_or_insert_with(Vec::new);
            params.insert(1, workflow_id_param());
            let path = format!("{ns}/workflows/{{workflowId}}/activities/{{activityId}}/{action}");
            doc.paths.paths.insert(path, item);
        }
    }
}

/// The extension that states the status an operation's example answers, where it is not 200.
pub const EXAMPLE_STATUS: &str = "x-example-status";

/// The operations whose example, run as is after the examples before it (see `tests/openapi.rs`),
/// answers an error, and which: their descriptions say why.
const EXAMPLE_ERRORS: [(&str, u16); 20] = [
    // The prefilled key id names no key.
    ("DescribeApiKey", 404),
    ("DisableApiKey", 404),
    ("EnableApiKey", 404),
    ("DeleteApiKey", 404),
    // The prefilled task token is a placeholder.
    ("RecordActivityTaskHeartbeat", 400),
    ("RespondActivityTaskCompleted", 400),
    ("RespondActivityTaskFailed", 400),
    ("RespondActivityTaskCanceled", 400),
    ("RespondWorkflowTaskCompleted", 400),
    ("RespondWorkflowTaskFailed", 400),
    ("RespondQueryTaskCompleted", 400),
    // The example workflow scheduled no activity.
    ("RecordActivityTaskHeartbeatByIdInWorkflow", 404),
    ("RespondActivityTaskCompletedByIdInWorkflow", 404),
    ("RespondActivityTaskFailedByIdInWorkflow", 404),
    ("RespondActivityTaskCanceledByIdInWorkflow", 404),
    ("PauseActivityExecutionInWorkflow", 404),
    ("UnpauseActivityExecutionInWorkflow", 404),
    ("ResetActivityExecutionInWorkflow", 404),
    ("UpdateActivityExecutionOptionsInWorkflow", 404),
    // Nobody answers the query in time.
    ("QueryWorkflow", 504),
];

/// Marks each operation of `EXAMPLE_ERRORS` with the status its example answers.
struct ExampleAnswers;

impl Modify for ExampleAnswers {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::extensions::ExtensionsBuilder;
        for item in doc.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.post, &mut item.delete];
            for op in ops.into_iter().flatten() {
                let id = op.operation_id.as_deref().unwrap_or_default();
                if let Some((_, status)) = EXAMPLE_ERRORS.iter().find(|(op, _)| *op == id) {
                    let status = ExtensionsBuilder::new()
                        .add(EXAMPLE_STATUS, *status)
                        .build();
                    op.extensions
                        .get_or_insert_with(Default::default)
                        .merge(status);
                }
            }
        }
    }
}

/// A map with integer keys (`BTreeMap<i32, _>`) is a JSON object, whose keys are strings: utoipa
/// writes the key's schema as `integer`, which no JSON object matches. This says what is sent:
/// a decimal string.
struct MapKeysAreStrings;

impl Modify for MapKeysAreStrings {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        for schema in components.schemas.values_mut() {
            if let RefOr::T(schema) = schema {
                string_map_keys(schema);
            }
        }
    }
}

fn string_map_keys(schema: &mut Schema) {
    use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, ObjectBuilder, Type};
    let nested = |s: &mut RefOr<Schema>| {
        if let RefOr::T(s) = s {
            string_map_keys(s);
        }
    };
    match schema {
        Schema::Object(object) => {
            let integer_keys = object.property_names.as_deref().is_some_and(
                |keys| matches!(keys, Schema::Object(k) if k.schema_type == Type::Integer.into()),
            );
            if integer_keys {
                let keys = ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^-?[0-9]+$"))
                    .description(Some("an integer, written as a decimal string"));
                object.property_names = Some(Box::new(keys.into()));
            }
            object.properties.values_mut().for_each(nested);
            if let Some(AdditionalProperties::RefOr(values)) =
                object.additional_properties.as_deref_mut()
            {
                nested(values);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                nested(items);
            }
        }
        Schema::OneOf(one) => one.items.iter_mut().for_each(nested),
        Schema::AllOf(all) => all.items.iter_mut().for_each(nested),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(nested),
        _ => {}
    }
}

fn workflow_id_param() -> Parameter {
    ParameterBuilder::new()
        .name("workflowId")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("The workflow whose activity this is"))
        .schema(Some(String::schema()))
        .example(Some(serde_json::json!("order-1")))
        .build()
}

/// Error answers: the API error body under the status of its code.
fn error_responses(statuses: &[u16]) -> BTreeMap<String, RefOr<Response>> {
    statuses
        .iter()
        .map(|&status| {
            let description = match status {
                400 => {
                    "InvalidArgument (3) or FailedPrecondition (9): a malformed body, query, \
                     path or `Grpc-Timeout` header, or a request the current state refuses"
                }
                401 => {
                    "Unauthenticated (16): no API key, or one that is unknown, disabled or \
                     expired, when the server requires keys"
                }
                403 => "PermissionDenied (7): the API key's role does not allow the request",
                404 => "NotFound (5): the namespace, execution or task does not exist",
                409 => "AlreadyExists (6): it exists already (see the id policies)",
                413 => "ResourceExhausted (8): the request body exceeds the size limit",
                500 => "Internal (13): the cause is logged, not answered",
                503 => {
                    "Unavailable (14): a dependency is out of reach, the server is shutting \
                     down, or too many concurrent updates; retry"
                }
                504 => "DeadlineExceeded (4): the `Grpc-Timeout` deadline had passed",
                _ => unreachable!("no description for {status}"),
            };
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ApiError::name())))
                .build();
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/json", content)
                .build();
            (status.to_string(), response.into())
        })
        .collect()
}

macro_rules! errors {
    ($($(#[$meta:meta])* $name:ident: $($status:literal)+;)*) => {$(
        $(#[$meta])*
        pub(crate) struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                error_responses(&[$($status),+])
            }
        }
    )*};
}

errors! {
    /// The errors of a route without a body.
    Errors: 400 401 403 404 500 503 504;
    /// The errors of a route with a body.
    BodyErrors: 400 401 403 404 413 500 503 504;
    /// The errors of a route that creates something.
    CreateErrors: 400 401 403 404 409 413 500 503 504;
}

/// Path and header parameters, for the documentation only (the handlers extract tuples).
#[allow(dead_code, reason = "documentation only: never built")]
pub(crate) mod params {
    use super::IntoParams;

    #[derive(IntoParams)]
    #[into_params(parameter_in = Path)]
    pub(crate) struct ApiKeyParams {
        /// The key's id (the part between `wmk_` and the next `_`)
        #[param(example = "0123456789abcdef")]
        id: String,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Path)]
    pub(crate) struct NamespaceParams {
        /// The namespace, e.g. `default`
        #[param(example = "default")]
        namespace: String,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Path, rename_all = "camelCase")]
    pub(crate) struct ActivityParams {
        /// The namespace, e.g. `default`
        #[param(example = "default")]
        namespace: String,
        /// The activity id (at most 1000 bytes)
        #[param(example = "greet-1")]
        activity_id: String,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Path, rename_all = "camelCase")]
    pub(crate) struct WorkflowParams {
        /// The namespace, e.g. `default`
        #[param(example = "default")]
        namespace: String,
        /// The workflow id (at most 1000 bytes)
        #[param(example = "order-1")]
        workflow_id: String,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Path, rename_all = "camelCase")]
    pub(crate) struct SignalParams {
        /// The namespace, e.g. `default`
        #[param(example = "default")]
        namespace: String,
        /// The workflow id (at most 1000 bytes)
        #[param(example = "order-1")]
        workflow_id: String,
        /// The signal's name
        #[param(example = "approve")]
        signal_name: String,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Path, rename_all = "camelCase")]
    pub(crate) struct QueryParams {
        /// The namespace, e.g. `default`
        #[param(example = "default")]
        namespace: String,
        /// The workflow id (at most 1000 bytes)
        #[param(example = "order-1")]
        workflow_id: String,
        /// The query's type: the name of the workflow's query handler
        #[param(example = "status")]
        query_type: String,
    }

    #[derive(IntoParams)]
    #[into_params(parameter_in = Path, rename_all = "camelCase")]
    pub(crate) struct TaskQueueParams {
        /// The namespace, e.g. `default`
        #[param(example = "default")]
        namespace: String,
        /// The task queue's name
        #[param(example = "demo")]
        task_queue: String,
    }

    /// The caller's deadline, which bounds a long poll.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Header)]
    pub(crate) struct LongPoll {
        /// gRPC's timeout format: digits and a unit, `H`, `M`, `S` or `m` (ms), e.g. `10S`.
        /// The server also reads `u` and `n` units, and answers 504 to a deadline under 1 ms.
        /// The poll answers empty a second before the deadline; without one it waits up to the
        /// server's cap (60 s by default). Task polls refuse deadlines under 2 s (400).
        #[param(
            rename = "Grpc-Timeout",
            required = false,
            pattern = r"^[1-9][0-9]{0,7}[HMSm]$",
            example = "5S"
        )]
        grpc_timeout: String,
    }
}

/// The `{"status":"ok"}` of `/healthz` and `/readyz`.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "documentation only: the handlers answer a json! value"
)]
pub(crate) struct Health {
    #[schema(example = "ok")]
    status: String,
    /// `/readyz` when requests need no API key: says so.
    warning: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use tower::ServiceExt;
    use utoipa::openapi::path::PathItem;
    use waymark_clients::remote::{HttpHistory, HttpMatching, Remote};

    use super::*;
    use crate::{AppState, FrontendConfig};

    /// The committed `openapi/waymark.json`, against what the code generates.
    #[test]
    fn the_committed_document_is_up_to_date() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/waymark.json");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed.trim_end() == document_json().trim_end(),
            "openapi/waymark.json is not what the code generates; regenerate it with \
             `cargo run -p waymark -- openapi > openapi/waymark.json`"
        );
    }

    /// State whose services are never called: every probe below is refused before its handler.
    fn state() -> AppState {
        let remote =
            |service| Remote::new(reqwest::Client::new(), "http://127.0.0.1:9", service, "-");
        AppState::new(
            Arc::new(HttpHistory(remote("history"))),
            Arc::new(HttpMatching(remote("matching"))),
            FrontendConfig::default(),
        )
    }

    fn operation(item: &PathItem, method: &Method) -> bool {
        match *method {
            Method::GET => item.get.is_some(),
            Method::POST => item.post.is_some(),
            Method::PUT => item.put.is_some(),
            Method::DELETE => item.delete.is_some(),
            Method::PATCH => item.patch.is_some(),
            _ => unreachable!(),
        }
    }

    /// Each route of `api_routes()` is documented under `/api/v1` with exactly the methods it
    /// serves, and the document has no other route.
    #[tokio::test]
    async fn every_route_is_documented_with_the_methods_it_serves() {
        let doc = ApiDoc::openapi();
        let app = crate::router(state());
        let mut routes = vec!["/healthz".to_string(), "/readyz".into(), "/metrics".into()];
        for (path, _) in crate::api_route_table() {
            let documented = format!("/api/v1{path}");
            let item = doc
                .paths
                .paths
                .get(&documented)
                .unwrap_or_else(|| panic!("{documented} is served but not documented"));
            // A malformed `Grpc-Timeout` is refused (400) by every route before its handler
            // runs; a method the path does not serve is 501.
            let uri = documented.replace(['{', '}'], "_");
            for method in [
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::PATCH,
            ] {
                let req = Request::builder()
                    .method(&method)
                    .uri(&uri)
                    .header("grpc-timeout", "bogus")
                    .body(Body::empty())
                    .unwrap();
                let status = app.clone().oneshot(req).await.unwrap().status();
                assert!(
                    matches!(
                        status,
                        StatusCode::BAD_REQUEST | StatusCode::NOT_IMPLEMENTED
                    ),
                    "{method} {uri}: {status}"
                );
                let served = status == StatusCode::BAD_REQUEST;
                assert_eq!(
                    served,
                    operation(item, &method),
                    "{method} {documented}: served {served}, documented the other way"
                );
            }
            routes.push(documented);
        }
        let mut documented: Vec<_> = doc.paths.paths.keys().cloned().collect();
        documented.sort();
        routes.sort();
        assert_eq!(documented, routes, "documented paths that are not served");
    }

    #[test]
    fn the_document_is_openapi_3_1_named_waymark() {
        let doc: serde_json::Value = serde_json::from_str(&document_json()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["title"], "Waymark");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    }
}
