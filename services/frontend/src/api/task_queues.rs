//! `/namespaces/{ns}/task-queues/{taskQueue}`: describe a queue, and `/update-config` its rate
//! limit. Matching owns the queues and the rules; the namespace must exist.

use axum::Json;
use axum::extract::State;
use waymark_api::*;

use super::Reply;
use crate::app::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery};

type QueuePath = ApiPath<(String, String)>;

pub async fn describe(
    State(s): State<AppState>,
    ApiPath((ns, queue)): QueuePath,
    ApiQuery(q): ApiQuery<DescribeTaskQueueQuery>,
) -> Reply<DescribeTaskQueueResponse> {
    s.require_namespace(&ns).await?;
    Ok(Json(s.matching.describe_task_queue(&ns, &queue, q).await?))
}

/// The URL names the namespace and queue, whatever the body says.
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
