//! `/namespaces`: register, describe, update, list.

use std::time::Duration;

use axum::Json;
use axum::extract::{Extension, State};
use waymark_api::{
    ActivityThroughputResponse, DescribeNamespaceResponse, ListNamespacesQuery,
    ListNamespacesResponse, NamespaceChangesQuery, NamespaceChangesResponse,
    RegisterNamespaceRequest, UpdateNamespaceRequest,
};

use super::{Empty, Reply, empty};
use crate::app::AppState;
use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Deadline};
use crate::openapi::params::{LongPoll, NamespaceParams};
use crate::openapi::{CreateErrors, Errors};

/// The query is checked but not used: history answers every namespace in one page. A key of
/// one namespace sees that one.
#[utoipa::path(
    get,
    path = "/api/v1/namespaces",
    tag = "Namespaces",
    operation_id = "ListNamespaces",
    summary = "List the namespaces",
    description = "Lists the namespaces the caller may see (all of them without keys), each as \
        DescribeNamespace answers it.",
    params(ListNamespacesQuery),
    responses((status = 200, description = "OK", body = ListNamespacesResponse), Errors)
)]
pub async fn list(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    _: ApiQuery<ListNamespacesQuery>,
) -> Reply<ListNamespacesResponse> {
    Ok(Json(visible_namespaces(&s, &caller).await?))
}

/// The namespaces `caller` may see: all, or those it holds a role in.
pub(crate) async fn visible_namespaces(
    s: &AppState,
    caller: &Caller,
) -> Result<ListNamespacesResponse, waymark_api::ApiError> {
    let mut all = s.history.list_namespaces().await?;
    all.namespaces.retain(|n| {
        n.namespace_info
            .as_ref()
            .is_some_and(|i| caller.grant.sees(&i.name))
    });
    Ok(all)
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces",
    tag = "Namespaces",
    operation_id = "RegisterNamespace",
    summary = "Register a namespace",
    description = "Creates a namespace. Its name is required and must be new (409 AlreadyExists otherwise); \
        so is a retention of closed executions of at least the server's minimum (1 day by \
        default). The example registers `staging`: run twice, it answers 409.",
    request_body(content = RegisterNamespaceRequest, example = json!({"namespace": "staging", "description": "Pre-production", "workflowExecutionRetentionPeriod": "259200s"})),
    responses((status = 200, description = "`{}`", body = Empty), CreateErrors)
)]
pub async fn register(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<RegisterNamespaceRequest>,
) -> Reply<Empty> {
    s.history.register_namespace(req).await?;
    empty()
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/update",
    tag = "Namespaces",
    operation_id = "UpdateNamespace",
    summary = "Update a namespace",
    description = "Changes what the request gives and keeps the rest, as Temporal does: a \
        non-empty `updateInfo.description` or `ownerEmail` replaces the old one, `updateInfo.data` \
        entries are merged in, and `config.workflowExecutionRetentionTtl` replaces the retention \
        (at least the server's minimum). Answers the namespace as `DescribeNamespace` would.",
    params(NamespaceParams),
    request_body(content = UpdateNamespaceRequest, example = json!({"updateInfo": {"description": "The default namespace"}})),
    responses((status = 200, description = "The updated namespace", body = DescribeNamespaceResponse), Errors)
)]
pub async fn update(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiJson(mut req): ApiJson<UpdateNamespaceRequest>,
) -> Reply<DescribeNamespaceResponse> {
    // The path names the namespace, whatever the body says (grpc-gateway's rule).
    req.namespace = ns;
    Ok(Json(s.history.update_namespace(req).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}",
    tag = "Namespaces",
    operation_id = "DescribeNamespace",
    summary = "Describe a namespace",
    description = "The namespace's info (name, state, description, owner, data), its config (retention) and \
        id. 404 if there is none of that name.",
    params(NamespaceParams),
    responses((status = 200, description = "OK", body = DescribeNamespaceResponse), Errors)
)]
pub async fn describe(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
) -> Reply<DescribeNamespaceResponse> {
    Ok(Json(s.history.describe_namespace(&ns).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}/activity-throughput",
    tag = "Namespaces",
    operation_id = "GetActivityThroughput",
    summary = "Activities over the last hour, a minute at a time (a Waymark addition)",
    description = "Per minute: the attempts workers took, how long they waited for a worker \
        (average and longest schedule-to-start), and the activities that closed, completed or \
        not. Standalone and workflow activities alike; minutes without any are left out. The \
        counts of each history instance reach the store every few seconds.",
    params(NamespaceParams),
    responses((status = 200, description = "OK", body = ActivityThroughputResponse), Errors)
)]
pub async fn throughput(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
) -> Reply<ActivityThroughputResponse> {
    Ok(Json(s.history.activity_throughput(&ns).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}/changes",
    tag = "Namespaces",
    operation_id = "PollNamespaceChanges",
    summary = "Wait for a change to any execution of the namespace (a Waymark addition)",
    description = "A long poll for pages that list executions: without `after` it answers the \
        current token at once; with the last token it answers when a workflow or activity of \
        the namespace starts, changes or closes, or with the same token when the wait \
        (`Grpc-Timeout`, capped by the server's long-poll limit) passes.",
    params(NamespaceParams, NamespaceChangesQuery, LongPoll),
    responses((status = 200, description = "OK", body = NamespaceChangesResponse), Errors)
)]
pub async fn changes(
    State(s): State<AppState>,
    deadline: Deadline,
    ApiPath(ns): ApiPath<String>,
    ApiQuery(q): ApiQuery<NamespaceChangesQuery>,
) -> Reply<NamespaceChangesResponse> {
    let wait = if q.after.is_empty() {
        Duration::ZERO
    } else {
        deadline.long_poll_wait(s.cfg.long_poll_cap.to_std())
    };
    let answer = s
        .long_poll(async {
            s.history
                .namespace_changes(&ns, &q.after, wait)
                .await
                .map(Some)
        })
        .await?;
    Ok(Json(answer.unwrap_or_default()))
}
