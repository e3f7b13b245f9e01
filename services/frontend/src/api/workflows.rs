//! Workflows: the caller side (`/namespaces/{ns}/workflows/...`, `/workflow-count`) and the
//! worker's workflow-task protocol (`/workflow-tasks/poll|complete|fail`).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use waymark_api::workflow::*;
use waymark_api::{ApiError, CountActivityExecutionsResponse};

use super::worker::check_poll;
use super::{Empty, Reply, empty};
use crate::app::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Deadline};
use crate::openapi::params::{
    LongPoll, NamespaceParams, QueryParams, SignalParams, WorkflowParams,
};
use crate::openapi::{BodyErrors, CreateErrors, Errors};

type WorkflowPath = ApiPath<(String, String)>;

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/workflows/{workflowId}",
    tag = "Workflows",
    operation_id = "StartWorkflowExecution",
    summary = "Start a workflow",
    description = "Starts a workflow: its first workflow task is queued on `taskQueue` for a workflow \
        worker (PollWorkflowTaskQueue). `workflowType` and `taskQueue` are required. The example \
        uses `WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING`, so running it again answers the running \
        workflow (`started: false`).",
    params(WorkflowParams),
    request_body(content = StartWorkflowExecutionRequest, example = json!({"workflowType": {"name": "OrderWorkflow"}, "taskQueue": {"name": "orders"}, "input": [{"orderId": "o-1"}], "workflowIdConflictPolicy": "WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING"})),
    responses((status = 200, description = "OK", body = StartWorkflowExecutionResponse), CreateErrors)
)]
pub async fn start(
    State(s): State<AppState>,
    ApiPath((ns, id)): WorkflowPath,
    ApiJson(mut req): ApiJson<StartWorkflowExecutionRequest>,
) -> Reply<StartWorkflowExecutionResponse> {
    (req.namespace, req.workflow_id) = (ns.clone(), id.clone());
    Ok(Json(s.history.start_workflow(&ns, &id, req).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/workflows/{workflowId}/signal-with-start/{signalName}",
    tag = "Workflows",
    operation_id = "SignalWithStartWorkflowExecution",
    summary = "Signal a workflow, starting it if it is not running",
    description = "Signals the workflow if it runs, else starts it with the signal as its first event: one \
        call for a caller that does not know whether it runs. `workflowType` and `taskQueue` are \
        required.",
    params(SignalParams),
    request_body(content = SignalWithStartWorkflowExecutionRequest, example = json!({"workflowType": {"name": "OrderWorkflow"}, "taskQueue": {"name": "orders"}, "input": [{"orderId": "o-1"}], "signalInput": [{"approvedBy": "ops"}]})),
    responses((status = 200, description = "OK", body = SignalWithStartWorkflowExecutionResponse), CreateErrors)
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}/workflows/{workflowId}",
    tag = "Workflows",
    operation_id = "DescribeWorkflowExecution",
    summary = "Describe a workflow",
    description = "The workflow's latest run (or `execution.runId`'s): status, type, times, task queue, \
        pending activities and workflow task. The example acts on workflow `order-1`, which the \
        StartWorkflowExecution example starts.",
    params(WorkflowParams, DescribeWorkflowExecutionQuery),
    responses((status = 200, description = "OK", body = DescribeWorkflowExecutionResponse), Errors)
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}/workflows/{workflowId}/history",
    tag = "Workflows",
    operation_id = "GetWorkflowExecutionHistory",
    summary = "Read a workflow's event history",
    description = "A page of the run's events, oldest first (`maximumPageSize`, then `nextPageToken`). With \
        `waitNewEvent=true` it is a long poll for events after the page: It holds the request \
        open until a new event comes, at most until the `Grpc-Timeout` header's deadline less a \
        second (without the header, the server's long-poll cap: 60 s by default), and then \
        answers the events that came in time (maybe none). With \
        `historyEventFilterType=HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT` it waits for the close \
        event alone. The example acts on workflow `order-1`, which the StartWorkflowExecution \
        example starts.",
    params(WorkflowParams, GetWorkflowExecutionHistoryQuery, LongPoll),
    responses((status = 200, description = "A page of events; with `waitNewEvent` or the close-event filter, the events that came in time (maybe none)", body = GetWorkflowExecutionHistoryResponse), Errors)
)]
pub async fn history(
    State(s): State<AppState>,
    deadline: Deadline,
    ApiPath((ns, id)): WorkflowPath,
    ApiQuery(q): ApiQuery<GetWorkflowExecutionHistoryQuery>,
) -> Reply<GetWorkflowExecutionHistoryResponse> {
    Ok(Json(read_history(&s, deadline, &ns, &id, q).await?))
}

/// A history read of either door, long-polling with `waitNewEvent` or the close-event filter.
pub(crate) async fn read_history(
    s: &AppState,
    deadline: Deadline,
    ns: &str,
    id: &str,
    q: GetWorkflowExecutionHistoryQuery,
) -> Result<GetWorkflowExecutionHistoryResponse, ApiError> {
    let waits =
        q.wait_new_event || q.history_event_filter_type == HistoryEventFilterType::CloseEvent;
    let wait = if waits {
        deadline.long_poll_wait(s.cfg.long_poll_cap.to_std())
    } else {
        Duration::ZERO
    };
    let answer = s
        .long_poll(async { Ok(Some(s.history.get_workflow_history(ns, id, q, wait).await?)) })
        .await?;
    // A shutdown cuts the wait short: an empty page, as at the deadline.
    Ok(
        answer.unwrap_or_else(|| GetWorkflowExecutionHistoryResponse {
            history: Some(History::default()),
            ..Default::default()
        }),
    )
}

#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}/workflows",
    tag = "Workflows",
    operation_id = "ListWorkflowExecutions",
    summary = "List workflows (visibility query)",
    description = "Lists the namespace's workflows matching a visibility query in Temporal's SQL-like \
        syntax (`query`, at most 10,000 characters), newest first, a page at a time.",
    params(NamespaceParams, ListWorkflowExecutionsQuery),
    responses((status = 200, description = "OK", body = ListWorkflowExecutionsResponse), Errors)
)]
pub async fn list(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListWorkflowExecutionsQuery>,
) -> Reply<ListWorkflowExecutionsResponse> {
    Ok(Json(s.history.list_workflows(&ns, q).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}/workflow-count",
    tag = "Workflows",
    operation_id = "CountWorkflowExecutions",
    summary = "Count workflows (visibility query)",
    description = "Counts the namespace's workflows matching a visibility query (all without `query`).",
    params(NamespaceParams, ListWorkflowExecutionsQuery),
    responses((status = 200, description = "OK", body = CountActivityExecutionsResponse), Errors)
)]
pub async fn count(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListWorkflowExecutionsQuery>,
) -> Reply<CountActivityExecutionsResponse> {
    Ok(Json(s.history.count_workflows(&ns, &q.query).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/workflows/{workflowId}/cancel",
    tag = "Workflows",
    operation_id = "RequestCancelWorkflowExecution",
    summary = "Request a workflow's cancellation",
    description = "Asks the workflow to cancel: a `WorkflowExecutionCancelRequested` event and a workflow \
        task let its code decide how. Idempotent while the workflow is open. The example acts on \
        workflow `order-1`, which the StartWorkflowExecution example starts.",
    params(WorkflowParams),
    request_body(content = RequestCancelWorkflowExecutionRequest, example = json!({"reason": "order withdrawn"})),
    responses((status = 200, description = "`{}`", body = Empty), BodyErrors)
)]
pub async fn cancel(
    State(s): State<AppState>,
    ApiPath((ns, id)): WorkflowPath,
    ApiJson(req): ApiJson<RequestCancelWorkflowExecutionRequest>,
) -> Reply<Empty> {
    s.history.request_cancel_workflow(&ns, &id, req).await?;
    empty()
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/workflows/{workflowId}/terminate",
    tag = "Workflows",
    operation_id = "TerminateWorkflowExecution",
    summary = "Terminate a workflow",
    description = "Closes the workflow's run at once as terminated; its code gets no say. The example acts \
        on workflow `order-1`, which the StartWorkflowExecution example starts.",
    params(WorkflowParams),
    request_body(content = TerminateWorkflowExecutionRequest, example = json!({"reason": "stuck"})),
    responses((status = 200, description = "`{}`", body = Empty), BodyErrors)
)]
pub async fn terminate(
    State(s): State<AppState>,
    ApiPath((ns, id)): WorkflowPath,
    ApiJson(req): ApiJson<TerminateWorkflowExecutionRequest>,
) -> Reply<Empty> {
    s.history.terminate_workflow(&ns, &id, req).await?;
    empty()
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/workflows/{workflowId}/signal/{signalName}",
    tag = "Workflows",
    operation_id = "SignalWorkflowExecution",
    summary = "Signal a workflow",
    description = "Sends a signal (its name is in the URL, its arguments in `input`) to a running workflow: \
        a `WorkflowExecutionSignaled` event and a workflow task. The example acts on workflow \
        `order-1`, which the StartWorkflowExecution example starts.",
    params(SignalParams),
    request_body(content = SignalWorkflowExecutionRequest, example = json!({"input": [{"approvedBy": "ops"}]})),
    responses((status = 200, description = "OK", body = SignalWorkflowExecutionResponse), BodyErrors)
)]
pub async fn signal(
    State(s): State<AppState>,
    ApiPath((ns, id, signal)): ApiPath<(String, String, String)>,
    ApiJson(mut req): ApiJson<SignalWorkflowExecutionRequest>,
) -> Reply<SignalWorkflowExecutionResponse> {
    req.signal_name = signal;
    Ok(Json(s.history.signal_workflow(&ns, &id, req).await?))
}

/// Waits for a worker's answer until the caller's deadline (less a second).
#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/workflows/{workflowId}/query/{queryType}",
    tag = "Workflows",
    operation_id = "QueryWorkflow",
    summary = "Query a workflow's state through a worker",
    description = "Asks a workflow worker to answer a query (the `queryType` in the URL) from the \
        workflow's state, without changing it. The request waits for the answer, at most until \
        the `Grpc-Timeout` deadline less a second (without the header, the server's long-poll \
        cap); with no worker polling the workflow's queue in that time it answers an error. The \
        example acts on workflow `order-1`, which the StartWorkflowExecution example starts.",
    params(QueryParams, LongPoll),
    request_body(content = QueryWorkflowRequest, example = json!({"query": {"queryArgs": []}})),
    responses((status = 200, description = "The worker's answer, or `queryRejected` when the run's status fails `queryRejectCondition`", body = QueryWorkflowResponse), BodyErrors)
)]
pub async fn query(
    State(s): State<AppState>,
    deadline: Deadline,
    ApiPath((ns, id, query_type)): ApiPath<(String, String, String)>,
    ApiJson(mut req): ApiJson<QueryWorkflowRequest>,
) -> Reply<QueryWorkflowResponse> {
    req.query.get_or_insert_default().query_type = query_type;
    Ok(Json(query_workflow(&s, deadline, &ns, &id, req).await?))
}

/// A query of either door.
pub(crate) async fn query_workflow(
    s: &AppState,
    deadline: Deadline,
    ns: &str,
    id: &str,
    req: QueryWorkflowRequest,
) -> Result<QueryWorkflowResponse, ApiError> {
    let wait = deadline.long_poll_wait(s.cfg.long_poll_cap.to_std());
    s.history.query_workflow(ns, id, req, wait).await
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/workflow-tasks/query-complete",
    tag = "Workflow workers",
    operation_id = "RespondQueryTaskCompleted",
    summary = "Answer a query task",
    description = "Answers a query task (a poll's `query`) with the `queryResult`, or fails it with \
        `errorMessage`; the waiting QueryWorkflow call answers with it. The prefilled \
        `taskToken` is a placeholder that no server issued: as is, the example answers 400 (code \
        3, `Error deserializing task token.`). Paste the `taskToken` of a poll.",
    params(NamespaceParams),
    request_body(content = RespondQueryTaskCompletedRequest, example = json!({"taskToken": "PASTE-THE-taskToken-OF-A-POLL", "completedType": "QUERY_RESULT_TYPE_ANSWERED", "queryResult": ["paid"]})),
    responses((status = 200, description = "`{}`", body = Empty), BodyErrors)
)]
pub async fn query_complete(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiJson(req): ApiJson<RespondQueryTaskCompletedRequest>,
) -> Reply<Empty> {
    s.history.respond_query_task_completed(&ns, req).await?;
    empty()
}

/// A long poll for a workflow task: `{}` if none came in time.
#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/workflow-tasks/poll",
    tag = "Workflow workers",
    operation_id = "PollWorkflowTaskQueue",
    summary = "Long-poll a task queue for a workflow task",
    description = "A workflow worker takes the next workflow task of `taskQueue`: the whole history so far \
        (or a query task, `query`), and the `taskToken` that its answer names. It holds the \
        request open until a task comes, at most until the `Grpc-Timeout` header's deadline less \
        a second (without the header, the server's long-poll cap: 60 s by default), and then \
        answers `{}` if none came. A `Grpc-Timeout` under 2 s is refused (400). The example \
        takes the task that the StartWorkflowExecution example queued on `orders`.",
    params(NamespaceParams, LongPoll),
    request_body(content = PollWorkflowTaskQueueRequest, example = json!({"taskQueue": {"name": "orders"}, "identity": "wf-worker"})),
    responses((status = 200, description = "A workflow task with the whole history; `{}` when none came in time", body = PollWorkflowTaskQueueResponse), BodyErrors)
)]
pub async fn poll(
    State(s): State<AppState>,
    deadline: Deadline,
    ApiPath(ns): ApiPath<String>,
    ApiJson(req): ApiJson<PollWorkflowTaskQueueRequest>,
) -> Reply<PollWorkflowTaskQueueResponse> {
    Ok(Json(poll_workflow_task(&s, deadline, &ns, req).await?))
}

/// A poll of either door: the empty answer when no task came in time.
pub(crate) async fn poll_workflow_task(
    s: &AppState,
    deadline: Deadline,
    ns: &str,
    mut req: PollWorkflowTaskQueueRequest,
) -> Result<PollWorkflowTaskQueueResponse, ApiError> {
    check_poll(req.task_queue.as_ref(), &req.identity, deadline)?;
    s.require_namespace(ns).await?;
    ns.clone_into(&mut req.namespace);
    let wait = deadline.long_poll_wait(s.cfg.long_poll_cap.to_std());
    let task = s
        .long_poll(s.matching.poll_workflow_task(ns, req, wait))
        .await?;
    Ok(task.unwrap_or_default())
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/workflow-tasks/complete",
    tag = "Workflow workers",
    operation_id = "RespondWorkflowTaskCompleted",
    summary = "Complete a workflow task with commands",
    description = "Answers a workflow task with the commands the workflow's code produced (schedule an \
        activity, start a timer, complete the workflow, ...), which become events of the \
        history. The prefilled `taskToken` is a placeholder that no server issued: as is, the \
        example answers 400 (code 3, `Error deserializing task token.`). Paste the `taskToken` \
        of a poll.",
    params(NamespaceParams),
    request_body(content = RespondWorkflowTaskCompletedRequest, example = json!({"taskToken": "PASTE-THE-taskToken-OF-A-POLL", "commands": [{"commandType": "COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION", "completeWorkflowExecutionCommandAttributes": {"result": ["shipped"]}}]})),
    responses((status = 200, description = "`{}`", body = Empty), BodyErrors)
)]
pub async fn complete(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiJson(req): ApiJson<RespondWorkflowTaskCompletedRequest>,
) -> Reply<Empty> {
    s.history.respond_workflow_task_completed(&ns, req).await?;
    empty()
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/workflow-tasks/fail",
    tag = "Workflow workers",
    operation_id = "RespondWorkflowTaskFailed",
    summary = "Fail a workflow task",
    description = "Reports that the worker could not run the workflow task (its code threw, or the history \
        did not replay); the task is retried. The prefilled `taskToken` is a placeholder that no \
        server issued: as is, the example answers 400 (code 3, `Error deserializing task \
        token.`). Paste the `taskToken` of a poll.",
    params(NamespaceParams),
    request_body(content = RespondWorkflowTaskFailedRequest, example = json!({"taskToken": "PASTE-THE-taskToken-OF-A-POLL", "cause": "WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE", "failure": {"message": "nil pointer"}})),
    responses((status = 200, description = "`{}`", body = Empty), BodyErrors)
)]
pub async fn fail(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiJson(req): ApiJson<RespondWorkflowTaskFailedRequest>,
) -> Reply<Empty> {
    s.history.respond_workflow_task_failed(&ns, req).await?;
    empty()
}
