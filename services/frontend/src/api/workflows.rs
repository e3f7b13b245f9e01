//! Workflows: the caller side (`/namespaces/{ns}/workflows/...`, `/workflow-count`) and the
//! worker's workflow-task protocol (`/workflow-tasks/poll|complete|fail`).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use waymark_api::CountActivityExecutionsResponse;
use waymark_api::workflow::*;

use super::worker::check_poll;
use super::{Empty, Reply, empty};
use crate::app::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Deadline};

type WorkflowPath = ApiPath<(String, String)>;

pub async fn start(
    State(s): State<AppState>,
    ApiPath((ns, id)): WorkflowPath,
    ApiJson(mut req): ApiJson<StartWorkflowExecutionRequest>,
) -> Reply<StartWorkflowExecutionResponse> {
    (req.namespace, req.workflow_id) = (ns.clone(), id.clone());
    Ok(Json(s.history.start_workflow(&ns, &id, req).await?))
}

pub async fn signal_with_start(
    State(s): State<AppState>,
    ApiPath((ns, id, signal)): ApiPath<(String, String, String)>,
    ApiJson(mut req): ApiJson<SignalWithStartWorkflowExecutionRequest>,
) -> Reply<SignalWithStartWorkflowExecutionResponse> {
    (req.namespace, req.workflow_id, req.signal_name) = (ns.clone(), id.clone(), signal);
    Ok(Json(
        s.history.signal_with_start_workflow(&ns, &id, req).await?,
    ))
}

pub async fn describe(
    State(s): State<AppState>,
    ApiPath((ns, id)): WorkflowPath,
    ApiQuery(q): ApiQuery<DescribeWorkflowExecutionQuery>,
) -> Reply<DescribeWorkflowExecutionResponse> {
    Ok(Json(
        s.history.describe_workflow(&ns, &id, &q.run_id).await?,
    ))
}

/// Long-polls with `waitNewEvent` or the close-event filter.
pub async fn history(
    State(s): State<AppState>,
    deadline: Deadline,
    ApiPath((ns, id)): WorkflowPath,
    ApiQuery(q): ApiQuery<GetWorkflowExecutionHistoryQuery>,
) -> Reply<GetWorkflowExecutionHistoryResponse> {
    let waits =
        q.wait_new_event || q.history_event_filter_type == HistoryEventFilterType::CloseEvent;
    let wait = if waits {
        deadline.long_poll_wait(s.cfg.long_poll_cap.to_std())
    } else {
        Duration::ZERO
    };
    let answer = s
        .long_poll(async {
            Ok(Some(
                s.history.get_workflow_history(&ns, &id, q, wait).await?,
            ))
        })
        .await?;
    // A shutdown cuts the wait short: an empty page, as at the deadline.
    Ok(Json(answer.unwrap_or_else(|| {
        GetWorkflowExecutionHistoryResponse {
            history: Some(History::default()),
            ..Default::default()
        }
    })))
}

pub async fn list(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListWorkflowExecutionsQuery>,
) -> Reply<ListWorkflowExecutionsResponse> {
    Ok(Json(s.history.list_workflows(&ns, q).await?))
}

pub async fn count(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListWorkflowExecutionsQuery>,
) -> Reply<CountActivityExecutionsResponse> {
    Ok(Json(s.history.count_workflows(&ns, &q.query).await?))
}

pub async fn cancel(
    State(s): State<AppState>,
    ApiPath((ns, id)): WorkflowPath,
    ApiJson(req): ApiJson<RequestCancelWorkflowExecutionRequest>,
) -> Reply<Empty> {
    s.history.request_cancel_workflow(&ns, &id, req).await?;
    empty()
}

pub async fn terminate(
    State(s): State<AppState>,
    ApiPath((ns, id)): WorkflowPath,
    ApiJson(req): ApiJson<TerminateWorkflowExecutionRequest>,
) -> Reply<Empty> {
    s.history.terminate_workflow(&ns, &id, req).await?;
    empty()
}

pub async fn signal(
    State(s): State<AppState>,
    ApiPath((ns, id, signal)): ApiPath<(String, String, String)>,
    ApiJson(mut req): ApiJson<SignalWorkflowExecutionRequest>,
) -> Reply<SignalWorkflowExecutionResponse> {
    req.signal_name = signal;
    Ok(Json(s.history.signal_workflow(&ns, &id, req).await?))
}

/// A long poll for a workflow task: `{}` if none came in time.
pub async fn poll(
    State(s): State<AppState>,
    deadline: Deadline,
    ApiPath(ns): ApiPath<String>,
    ApiJson(mut req): ApiJson<PollWorkflowTaskQueueRequest>,
) -> Reply<PollWorkflowTaskQueueResponse> {
    check_poll(req.task_queue.as_ref(), &req.identity, deadline)?;
    s.require_namespace(&ns).await?;
    req.namespace.clone_from(&ns);
    let wait = deadline.long_poll_wait(s.cfg.long_poll_cap.to_std());
    let task = s
        .long_poll(s.matching.poll_workflow_task(&ns, req, wait))
        .await?;
    Ok(Json(task.unwrap_or_default()))
}

pub async fn complete(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiJson(req): ApiJson<RespondWorkflowTaskCompletedRequest>,
) -> Reply<Empty> {
    s.history.respond_workflow_task_completed(&ns, req).await?;
    empty()
}

pub async fn fail(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiJson(req): ApiJson<RespondWorkflowTaskFailedRequest>,
) -> Reply<Empty> {
    s.history.respond_workflow_task_failed(&ns, req).await?;
    empty()
}
