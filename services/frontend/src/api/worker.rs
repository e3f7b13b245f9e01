//! The worker side: task polls, and heartbeat / complete / fail / resolve-as-canceled by task
//! token (`/activity-*`) or by activity id (`/activities/{activityId}/*`).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use waymark_api::*;
use waymark_clients::ActivityRef;

use super::{Empty, Reply, empty};
use crate::app::AppState;
use crate::extract::{ApiJson, ApiPath, Deadline};
use crate::openapi::BodyErrors;
use crate::openapi::params::{ActivityParams, LongPoll, NamespaceParams};

/// Temporal refuses polls whose caller would give up before a poll could usefully wait.
const MIN_POLL_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_IDENTITY_BYTES: usize = 1000;

/// A long poll for a task: `{}` if none came in time.
#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/activity-tasks/poll",
    tag = "Activity workers",
    operation_id = "PollActivityTaskQueue",
    summary = "Long-poll a task queue for an activity task",
    description = "A worker takes the next activity task of `taskQueue`: the activity's type, input, \
        attempt, timeouts and the `taskToken` that its heartbeat, complete, fail and \
        resolve-as-canceled calls name. It holds the request open until a task comes, at most \
        until the `Grpc-Timeout` header's deadline less a second (without the header, the \
        server's long-poll cap: 60 s by default), and then answers `{}` if none came. A \
        `Grpc-Timeout` under 2 s is refused (400), as Temporal does. The example takes the task \
        that the StartActivityExecution example queued on `demo`.",
    params(NamespaceParams, LongPoll),
    request_body(content = PollActivityTaskQueueRequest, example = json!({"taskQueue": {"name": "demo"}, "identity": "curl-worker"})),
    responses((status = 200, description = "An activity task; `{}` when none came in time", body = PollActivityTaskQueueResponse), BodyErrors)
)]
pub async fn poll(
    State(s): State<AppState>,
    deadline: Deadline,
    ApiPath(ns): ApiPath<String>,
    ApiJson(req): ApiJson<PollActivityTaskQueueRequest>,
) -> Reply<PollActivityTaskQueueResponse> {
    Ok(Json(poll_activity_task(&s, deadline, &ns, req).await?))
}

/// A poll of either door: the empty answer when no task came in time.
pub(crate) async fn poll_activity_task(
    s: &AppState,
    deadline: Deadline,
    ns: &str,
    mut req: PollActivityTaskQueueRequest,
) -> Result<PollActivityTaskQueueResponse, ApiError> {
    check_poll(req.task_queue.as_ref(), &req.identity, deadline)?;
    s.require_namespace(ns).await?;
    ns.clone_into(&mut req.namespace);
    let wait = deadline.long_poll_wait(s.cfg.long_poll_cap.to_std());
    let task = s
        .long_poll(s.matching.poll_activity_task(ns, req, wait))
        .await?;
    Ok(task.unwrap_or_default())
}

/// The frontend's own checks of a poll (Temporal's `validateTaskQueue`, identity length,
/// `ValidateLongPollContextTimeout`), made before a poller is parked in matching.
pub(crate) fn check_poll(
    task_queue: Option<&TaskQueue>,
    identity: &str,
    deadline: Deadline,
) -> Result<(), ApiError> {
    let Some(queue) = task_queue else {
        return Err(ApiError::invalid_argument("taskQueue is not set"));
    };
    if queue.name.is_empty() {
        return Err(ApiError::invalid_argument("missing task queue name"));
    }
    if identity.len() > MAX_IDENTITY_BYTES {
        let message = format!(
            "identity exceeds length limit. Length={} Limit={MAX_IDENTITY_BYTES}",
            identity.len()
        );
        return Err(ApiError::invalid_argument(message));
    }
    if let Some(t) = deadline.0.filter(|t| *t < MIN_POLL_TIMEOUT) {
        // Temporal's sentence first, then the rule it does not state.
        return Err(ApiError::failed_precondition(format!(
            "Context timeout is too short. A poll's Grpc-Timeout must be at least {}s (the answer \
             comes 1s before the deadline), got {}ms.",
            MIN_POLL_TIMEOUT.as_secs(),
            t.as_millis()
        )));
    }
    Ok(())
}

pub(crate) fn by_token(task_token: String) -> Result<ActivityRef, ApiError> {
    if task_token.is_empty() {
        return Err(ApiError::invalid_argument("Task token not set on request."));
    }
    Ok(ActivityRef::Token(task_token))
}

/// The activity a by-id call names: a workflow's when `workflow_id` is set, else a standalone
/// one; `run_id` is the workflow's run or the activity's.
pub(crate) fn by_id(
    workflow_id: Option<String>,
    activity_id: String,
    run_id: String,
) -> ActivityRef {
    match workflow_id {
        Some(workflow_id) => ActivityRef::WorkflowActivity {
            workflow_id,
            activity_id,
            run_id,
        },
        None => ActivityRef::Id {
            activity_id,
            run_id,
        },
    }
}

/// The path of a by-id call: a standalone activity, or a workflow's activity.
#[derive(serde::Deserialize)]
pub struct IdPath {
    namespace: String,
    #[serde(rename = "workflowId")]
    workflow_id: Option<String>,
    #[serde(rename = "activityId")]
    activity_id: String,
}

impl IdPath {
    /// The namespace and the activity the call names (`run_id`: the run, or the workflow's run).
    fn target(self, run_id: String) -> (String, ActivityRef) {
        let target = by_id(self.workflow_id, self.activity_id, run_id);
        (self.namespace, target)
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/activity-heartbeat",
    tag = "Activity workers",
    operation_id = "RecordActivityTaskHeartbeat",
    summary = "Heartbeat an activity task by task token",
    description = "Reports a running attempt's progress; the `details` are kept and handed to the next \
        attempt if this one fails. The answer says whether the activity was asked to cancel, \
        paused or reset, which the worker should act on. Resets the heartbeat timeout. The \
        prefilled `taskToken` is a placeholder that no server issued: as is, the example answers \
        400 (code 3, `Error deserializing task token.`). Paste the `taskToken` of a poll.",
    params(NamespaceParams),
    request_body(content = RecordActivityTaskHeartbeatRequest, example = json!({"taskToken": "PASTE-THE-taskToken-OF-A-POLL", "details": ["halfway"]})),
    responses((status = 200, description = "OK", body = RecordActivityTaskHeartbeatResponse), BodyErrors)
)]
pub async fn heartbeat(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiJson(r): ApiJson<RecordActivityTaskHeartbeatRequest>,
) -> Reply<RecordActivityTaskHeartbeatResponse> {
    Ok(Json(
        s.history
            .record_heartbeat(&ns, by_token(r.task_token)?, r.details, r.identity)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/activity-complete",
    tag = "Activity workers",
    operation_id = "RespondActivityTaskCompleted",
    summary = "Complete an activity task by task token",
    description = "Completes the attempt with its `result`, which closes the activity. Any process holding \
        the token may call it (asynchronous completion). The prefilled `taskToken` is a \
        placeholder that no server issued: as is, the example answers 400 (code 3, `Error \
        deserializing task token.`). Paste the `taskToken` of a poll.",
    params(NamespaceParams),
    request_body(content = RespondActivityTaskCompletedRequest, example = json!({"taskToken": "PASTE-THE-taskToken-OF-A-POLL", "result": ["Processed: hello"]})),
    responses((status = 200, description = "`{}`", body = Empty), BodyErrors)
)]
pub async fn complete(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiJson(r): ApiJson<RespondActivityTaskCompletedRequest>,
) -> Reply<Empty> {
    s.history
        .respond_completed(&ns, by_token(r.task_token)?, r.result, r.identity)
        .await?;
    empty()
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/activity-fail",
    tag = "Activity workers",
    operation_id = "RespondActivityTaskFailed",
    summary = "Fail an activity task by task token",
    description = "Fails the attempt. A retryable failure schedules the next attempt by the retry policy \
        (the answer's activity stays open); a non-retryable one, or the last allowed attempt, \
        closes the activity as failed. The prefilled `taskToken` is a placeholder that no server \
        issued: as is, the example answers 400 (code 3, `Error deserializing task token.`). \
        Paste the `taskToken` of a poll.",
    params(NamespaceParams),
    request_body(content = RespondActivityTaskFailedRequest, example = json!({"taskToken": "PASTE-THE-taskToken-OF-A-POLL", "failure": {"message": "card declined", "applicationFailureInfo": {"type": "CardDeclined"}}})),
    responses((status = 200, description = "OK", body = RespondActivityTaskFailedResponse), BodyErrors)
)]
pub async fn fail(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiJson(r): ApiJson<RespondActivityTaskFailedRequest>,
) -> Reply<RespondActivityTaskFailedResponse> {
    let target = by_token(r.task_token)?;
    Ok(Json(
        s.history
            .respond_failed(&ns, target, r.failure, r.last_heartbeat_details, r.identity)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/activity-resolve-as-canceled",
    tag = "Activity workers",
    operation_id = "RespondActivityTaskCanceled",
    summary = "Resolve an activity task as canceled by task token",
    description = "Resolves the attempt as canceled, after the worker learned that cancellation was \
        requested (a heartbeat's `cancelRequested`); this closes the activity as canceled. The \
        prefilled `taskToken` is a placeholder that no server issued: as is, the example answers \
        400 (code 3, `Error deserializing task token.`). Paste the `taskToken` of a poll.",
    params(NamespaceParams),
    request_body(content = RespondActivityTaskCanceledRequest, example = json!({"taskToken": "PASTE-THE-taskToken-OF-A-POLL", "details": ["stopped"]})),
    responses((status = 200, description = "`{}`", body = Empty), BodyErrors)
)]
pub async fn resolve_canceled(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiJson(r): ApiJson<RespondActivityTaskCanceledRequest>,
) -> Reply<Empty> {
    s.history
        .respond_canceled(&ns, by_token(r.task_token)?, r.details, r.identity)
        .await?;
    empty()
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/activities/{activityId}/heartbeat",
    tag = "Activity workers",
    operation_id = "RecordActivityTaskHeartbeatById",
    summary = "Heartbeat an activity by id",
    description = "As RecordActivityTaskHeartbeat, naming the activity by id instead of a task token: for a \
        process that knows the id but not the token. The example acts on activity `greet-1`, \
        which the Start example starts; its attempt must have been handed to a worker first (the \
        PollActivityTaskQueue example on queue `demo` does that).",
    params(ActivityParams),
    request_body(content = RecordActivityTaskHeartbeatByIdRequest, example = json!({"details": ["halfway"]})),
    responses((status = 200, description = "OK", body = RecordActivityTaskHeartbeatResponse), BodyErrors)
)]
pub async fn heartbeat_by_id(
    State(s): State<AppState>,
    ApiPath(path): ApiPath<IdPath>,
    ApiJson(r): ApiJson<RecordActivityTaskHeartbeatByIdRequest>,
) -> Reply<RecordActivityTaskHeartbeatByIdResponse> {
    let (ns, target) = path.target(r.run_id);
    Ok(Json(
        s.history
            .record_heartbeat(&ns, target, r.details, r.identity)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/activities/{activityId}/complete",
    tag = "Activity workers",
    operation_id = "RespondActivityTaskCompletedById",
    summary = "Complete an activity by id",
    description = "As RespondActivityTaskCompleted, naming the activity by id: completes its running \
        attempt, which closes the activity. The example acts on activity `greet-1`, which the \
        Start example starts; its attempt must have been handed to a worker first (the \
        PollActivityTaskQueue example on queue `demo` does that).",
    params(ActivityParams),
    request_body(content = RespondActivityTaskCompletedByIdRequest, example = json!({"result": ["Processed: hello"]})),
    responses((status = 200, description = "`{}`", body = Empty), BodyErrors)
)]
pub async fn complete_by_id(
    State(s): State<AppState>,
    ApiPath(path): ApiPath<IdPath>,
    ApiJson(r): ApiJson<RespondActivityTaskCompletedByIdRequest>,
) -> Reply<Empty> {
    let (ns, target) = path.target(r.run_id);
    s.history
        .respond_completed(&ns, target, r.result, r.identity)
        .await?;
    empty()
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/activities/{activityId}/fail",
    tag = "Activity workers",
    operation_id = "RespondActivityTaskFailedById",
    summary = "Fail an activity by id",
    description = "As RespondActivityTaskFailed, naming the activity by id. The example's failure is \
        retryable, so the activity stays open and its next attempt is scheduled. The example \
        acts on activity `greet-1`, which the Start example starts; its attempt must have been \
        handed to a worker first (the PollActivityTaskQueue example on queue `demo` does that).",
    params(ActivityParams),
    request_body(content = RespondActivityTaskFailedByIdRequest, example = json!({"failure": {"message": "card declined", "applicationFailureInfo": {"type": "CardDeclined"}}})),
    responses((status = 200, description = "OK", body = RespondActivityTaskFailedResponse), BodyErrors)
)]
pub async fn fail_by_id(
    State(s): State<AppState>,
    ApiPath(path): ApiPath<IdPath>,
    ApiJson(r): ApiJson<RespondActivityTaskFailedByIdRequest>,
) -> Reply<RespondActivityTaskFailedByIdResponse> {
    let (ns, target) = path.target(r.run_id);
    Ok(Json(
        s.history
            .respond_failed(&ns, target, r.failure, r.last_heartbeat_details, r.identity)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/activities/{activityId}/resolve-as-canceled",
    tag = "Activity workers",
    operation_id = "RespondActivityTaskCanceledById",
    summary = "Resolve an activity as canceled by id",
    description = "As RespondActivityTaskCanceled, naming the activity by id: closes it as canceled. \
        Cancellation must have been requested (RequestCancelActivityExecution) while an attempt \
        runs. The example acts on activity `greet-1`, which the Start example starts; its \
        attempt must have been handed to a worker first (the PollActivityTaskQueue example on \
        queue `demo` does that).",
    params(ActivityParams),
    request_body(content = RespondActivityTaskCanceledByIdRequest, example = json!({"details": ["stopped"]})),
    responses((status = 200, description = "`{}`", body = Empty), BodyErrors)
)]
pub async fn resolve_canceled_by_id(
    State(s): State<AppState>,
    ApiPath(path): ApiPath<IdPath>,
    ApiJson(r): ApiJson<RespondActivityTaskCanceledByIdRequest>,
) -> Reply<Empty> {
    let (ns, target) = path.target(r.run_id);
    s.history
        .respond_canceled(&ns, target, r.details, r.identity)
        .await?;
    empty()
}
