//! `/namespaces/{ns}/task-queues`: the namespace's recently used queues;
//! `/task-queues/{taskQueue}`: describe a queue, and `/update-config` its rate limit. Matching
//! owns the queues and the rules; the namespace must exist.

use axum::Json;
use axum::extract::State;
use waymark_api::*;

use super::Reply;
use crate::app::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::params::{NamespaceParams, TaskQueueParams};
use crate::openapi::{BodyErrors, Errors};

type QueuePath = ApiPath<(String, String)>;

#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}/task-queues",
    tag = "Task queues",
    operation_id = "ListTaskQueues",
    summary = "List the task queues used lately, with their backlog and pollers (a Waymark addition)",
    description = "The namespace's queues that had a task added or a poll within the last five \
        minutes, most recently used first, one entry per queue and type (workflow, activity): \
        the backlog, its oldest task's age, and how many workers polled lately. \
        `GET /task-queues/{taskQueue}` describes one.",
    params(NamespaceParams),
    responses((status = 200, description = "OK", body = ListTaskQueuesResponse), Errors)
)]
pub async fn list(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
) -> Reply<ListTaskQueuesResponse> {
    s.require_namespace(&ns).await?;
    Ok(Json(s.matching.list_task_queues(&ns).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}/task-queues/{taskQueue}",
    tag = "Task queues",
    operation_id = "DescribeTaskQueue",
    summary = "Describe a task queue: pollers, backlog, rate limit",
    description = "The queue's pollers (identity, last poll), its backlog with the oldest task's age and, \
        where set, its rate limit. `taskQueueType` picks the activity or the workflow side \
        (default workflow, as Temporal). A queue nobody used describes as empty.",
    params(TaskQueueParams, DescribeTaskQueueQuery),
    responses((status = 200, description = "OK", body = DescribeTaskQueueResponse), Errors)
)]
pub async fn describe(
    State(s): State<AppState>,
    ApiPath((ns, queue)): QueuePath,
    ApiQuery(q): ApiQuery<DescribeTaskQueueQuery>,
) -> Reply<DescribeTaskQueueResponse> {
    s.require_namespace(&ns).await?;
    Ok(Json(s.matching.describe_task_queue(&ns, &queue, q).await?))
}

/// The URL names the namespace and queue, whatever the body says.
#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/task-queues/{taskQueue}/update-config",
    tag = "Task queues",
    operation_id = "UpdateTaskQueueConfig",
    summary = "Set or remove a task queue's rate limit",
    description = "Sets a rate limit on the tasks the queue hands out, per second across all its workers \
        (`updateQueueRateLimit.rateLimit`), or removes it (`updateQueueRateLimit` without \
        `rateLimit`). Answers the queue's config now in force. The URL names the namespace and \
        queue, whatever the body says.",
    params(TaskQueueParams),
    request_body(content = UpdateTaskQueueConfigRequest, example = json!({"taskQueueType": "TASK_QUEUE_TYPE_ACTIVITY", "updateQueueRateLimit": {"rateLimit": {"requestsPerSecond": 100}, "reason": "protect the payment API"}})),
    responses((status = 200, description = "OK", body = UpdateTaskQueueConfigResponse), BodyErrors)
)]
pub async fn update_config(
    State(s): State<AppState>,
    ApiPath((ns, queue)): QueuePath,
    ApiJson(mut req): ApiJson<UpdateTaskQueueConfigRequest>,
) -> Reply<UpdateTaskQueueConfigResponse> {
    s.require_namespace(&ns).await?;
    req.namespace.clone_from(&ns);
    req.task_queue.clone_from(&queue);
    Ok(Json(
        s.matching
            .update_task_queue_config(&ns, &queue, req)
            .await?,
    ))
}
