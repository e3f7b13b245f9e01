//! Standalone activities, caller side: `/namespaces/{ns}/activities/...` and `/activity-count`.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use waymark_api::*;

use super::{Empty, Reply, empty};
use crate::app::AppState;
use crate::extract::{ActivityCall, ApiPath, ApiQuery, Deadline};
use crate::openapi::params::{ActivityParams, LongPoll, NamespaceParams};
use crate::openapi::{BodyErrors, CreateErrors, Errors};

type ActivityPath = ApiPath<(String, String)>;

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/activities/{activityId}",
    tag = "Activities",
    operation_id = "StartActivityExecution",
    summary = "Start a standalone activity",
    description = "Starts a standalone activity: an attempt is queued on `taskQueue` for a worker to poll \
        (PollActivityTaskQueue) and retried by `retryPolicy` until it completes, fails for good, \
        times out, is canceled or terminated. `activityType`, `taskQueue` and one of \
        `startToCloseTimeout` or `scheduleToCloseTimeout` are required. A start with a running \
        activity's id answers 409 unless `idConflictPolicy` says otherwise; the example uses \
        `ACTIVITY_ID_CONFLICT_POLICY_USE_EXISTING`, so running it again answers the running \
        activity (`started: false`), and after the activity closed starts a new run (the default \
        reuse policy allows it). Read the result with PollActivityExecution.",
    params(ActivityParams),
    request_body(content = StartActivityExecutionRequest, example = json!({"activityType": {"name": "SimpleActivity"}, "taskQueue": {"name": "demo"}, "input": ["hello"], "startToCloseTimeout": "300s", "idConflictPolicy": "ACTIVITY_ID_CONFLICT_POLICY_USE_EXISTING"})),
    responses((status = 200, description = "OK", body = StartActivityExecutionResponse), CreateErrors)
)]
pub async fn start(
    State(s): State<AppState>,
    c: ActivityCall<StartActivityExecutionRequest>,
) -> Reply<StartActivityExecutionResponse> {
    Ok(Json(s.history.start_activity(&c.ns, &c.id, c.req).await?))
}

/// A long poll when `longPollToken` is set: `{}` if nothing changed in time.
#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}/activities/{activityId}",
    tag = "Activities",
    operation_id = "DescribeActivityExecution",
    summary = "Describe an activity",
    description = "The activity's latest run (or `runId`'s): status, attempt, timeouts, retry policy, last \
        failure, heartbeat details, and with `includeOutcome=true` its result or failure. \
        Without `longPollToken` it answers at once. With the `longPollToken` of an earlier \
        answer it is a long poll: It holds the request open until the activity changes, at most \
        until the `Grpc-Timeout` header's deadline less a second (without the header, the \
        server's long-poll cap: 60 s by default), and then answers `{}` if it did not. The \
        example acts on activity `greet-1` of namespace `default`, which the Start example \
        starts.",
    params(ActivityParams, DescribeActivityExecutionQuery, LongPoll),
    responses((status = 200, description = "The description; `{}` when a long poll (`longPollToken`) saw no change in time", body = DescribeActivityExecutionResponse), Errors)
)]
pub async fn describe(
    State(s): State<AppState>,
    deadline: Deadline,
    ApiPath((ns, id)): ActivityPath,
    ApiQuery(q): ApiQuery<DescribeActivityExecutionQuery>,
) -> Reply<DescribeActivityExecutionResponse> {
    Ok(Json(describe_activity(&s, deadline, &ns, &id, q).await?))
}

/// A describe of either door: it long-polls for a change when given a `longPollToken`.
pub(crate) async fn describe_activity(
    s: &AppState,
    deadline: Deadline,
    ns: &str,
    id: &str,
    q: DescribeActivityExecutionQuery,
) -> Result<DescribeActivityExecutionResponse, ApiError> {
    let answer = if q.long_poll_token.is_empty() {
        s.history
            .describe_activity(ns, id, q, Duration::ZERO)
            .await?
    } else {
        let wait = deadline.long_poll_wait(s.cfg.long_poll_cap.to_std());
        s.long_poll(s.history.describe_activity(ns, id, q, wait))
            .await?
    };
    Ok(answer.unwrap_or_default())
}

/// A long poll for the outcome: `{}` if the activity did not close in time.
#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}/activities/{activityId}/outcome",
    tag = "Activities",
    operation_id = "PollActivityExecution",
    summary = "Long-poll an activity's outcome",
    description = "Waits for the activity to close and answers its outcome: `result`, or `failure` with the \
        `retryState`. Use it where a caller needs the result. It holds the request open until \
        the activity closes, at most until the `Grpc-Timeout` header's deadline less a second \
        (without the header, the server's long-poll cap: 60 s by default), and then answers `{}` \
        if it is still open. A closed activity answers at once. The example acts on activity \
        `greet-1` of namespace `default`, which the Start example starts.",
    params(ActivityParams, PollActivityExecutionQuery, LongPoll),
    responses((status = 200, description = "The outcome; `{}` when the activity did not close in time", body = PollActivityExecutionResponse), Errors)
)]
pub async fn outcome(
    State(s): State<AppState>,
    deadline: Deadline,
    ApiPath((ns, id)): ActivityPath,
    ApiQuery(q): ApiQuery<PollActivityExecutionQuery>,
) -> Reply<PollActivityExecutionResponse> {
    Ok(Json(
        activity_outcome(&s, deadline, &ns, &id, &q.run_id).await?,
    ))
}

/// An outcome long poll of either door: the empty answer when the activity did not close in time.
pub(crate) async fn activity_outcome(
    s: &AppState,
    deadline: Deadline,
    ns: &str,
    id: &str,
    run_id: &str,
) -> Result<PollActivityExecutionResponse, ApiError> {
    let wait = deadline.long_poll_wait(s.cfg.long_poll_cap.to_std());
    let answer = s
        .long_poll(s.history.poll_activity_outcome(ns, id, run_id, wait))
        .await?;
    Ok(answer.unwrap_or_default())
}

#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}/activities",
    tag = "Activities",
    operation_id = "ListActivityExecutions",
    summary = "List activities (visibility query)",
    description = "Lists the namespace's activities matching a visibility query in Temporal's SQL-like \
        syntax (`query`, at most 10,000 characters), newest first, a page at a time (`pageSize`, \
        then `nextPageToken`). Standalone activities only.",
    params(NamespaceParams, ListActivityExecutionsQuery),
    responses((status = 200, description = "OK", body = ListActivityExecutionsResponse), Errors)
)]
pub async fn list(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListActivityExecutionsQuery>,
) -> Reply<ListActivityExecutionsResponse> {
    Ok(Json(s.history.list_activities(&ns, q).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}/activity-count",
    tag = "Activities",
    operation_id = "CountActivityExecutions",
    summary = "Count activities (visibility query)",
    description = "Counts the namespace's activities matching a visibility query (all without `query`).",
    params(NamespaceParams, CountActivityExecutionsQuery),
    responses((status = 200, description = "OK", body = CountActivityExecutionsResponse), Errors)
)]
pub async fn count(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiQuery(q): ApiQuery<CountActivityExecutionsQuery>,
) -> Reply<CountActivityExecutionsResponse> {
    Ok(Json(s.history.count_activities(&ns, &q.query).await?))
}

/// The operator commands that answer `{}`.
macro_rules! command {
    ($(
        $handler:ident($path:literal, $op:literal, $summary:literal, $description:literal):
        $req:ty = $example:expr => $call:ident;
    )*) => {$(
        #[utoipa::path(
            post,
            path = $path,
            tag = "Activities",
            operation_id = $op,
            summary = $summary,
            description = $description,
            params(ActivityParams),
            request_body(content = $req, example = $example),
            responses((status = 200, description = "`{}`", body = Empty), BodyErrors)
        )]
        pub async fn $handler(State(s): State<AppState>, c: ActivityCall<$req>) -> Reply<Empty> {
            s.history.$call(&c.ns, &c.id, c.req).await?;
            empty()
        }
    )*};
}

command! {
    cancel(
        "/api/v1/namespaces/{namespace}/activities/{activityId}/cancel",
        "RequestCancelActivityExecution",
        "Request an activity's cancellation",
        "Asks for the activity's cancellation. A running attempt learns of it from its next \
            heartbeat (`cancelRequested: true`) and should then resolve as canceled \
            (RespondActivityTaskCanceled). Idempotent while the activity is open. \
            The example acts on activity `greet-1` of namespace `default`, which the Start \
            example starts."
    ): RequestCancelActivityExecutionRequest = json!({"reason": "no longer needed"}) => request_cancel_activity;
    terminate(
        "/api/v1/namespaces/{namespace}/activities/{activityId}/terminate",
        "TerminateActivityExecution",
        "Terminate an activity",
        "Closes the activity at once as terminated, whatever its worker does: the worker's \
            later calls for its attempt are refused. Use it when cancellation is \
            not enough. The example acts on activity `greet-1` of namespace `default`, which the \
            Start example starts."
    ): TerminateActivityExecutionRequest = json!({"reason": "stuck"}) => terminate_activity;
    pause(
        "/api/v1/namespaces/{namespace}/activities/{activityId}/pause",
        "PauseActivityExecution",
        "Pause an activity",
        "Pauses the activity: no new attempt is dispatched until it is unpaused; a running \
            attempt may finish, and its heartbeats answer `activityPaused: true`. The example \
            acts on activity `greet-1` of namespace `default`, which the Start example starts."
    ): PauseActivityExecutionRequest = json!({"reason": "the payment provider is down"}) => pause_activity;
    unpause(
        "/api/v1/namespaces/{namespace}/activities/{activityId}/unpause",
        "UnpauseActivityExecution",
        "Unpause an activity",
        "Resumes a paused activity: its next attempt is dispatched (after `jitter`, if \
            given). The example acts on activity `greet-1` of namespace `default`, which the Start example starts."
    ): UnpauseActivityExecutionRequest = json!({"reason": "the payment provider is back"}) => unpause_activity;
    reset(
        "/api/v1/namespaces/{namespace}/activities/{activityId}/reset",
        "ResetActivityExecution",
        "Reset an activity to a first attempt",
        "Starts the activity over from a first attempt, with a fresh retry budget; with \
            `resetHeartbeat` its heartbeat details are dropped, with `keepPaused` a paused \
            activity stays paused. The example acts on activity `greet-1` of namespace \
            `default`, which the Start example starts."
    ): ResetActivityExecutionRequest = json!({"resetHeartbeat": true}) => reset_activity;
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/activities/{activityId}/update-options",
    tag = "Activities",
    operation_id = "UpdateActivityExecutionOptions",
    summary = "Update an activity's options",
    description = "Changes the options that `updateMask` names (comma-separated camelCase paths of \
        `activityOptions`: `taskQueue`, the timeouts, `retryPolicy`, `priority`), or with \
        `restoreOriginal` the options it started with. Answers the options now in force; they \
        apply from the next attempt. The example acts on activity `greet-1` of namespace \
        `default`, which the Start example starts.",
    params(ActivityParams),
    request_body(content = UpdateActivityExecutionOptionsRequest, example = json!({"activityOptions": {"startToCloseTimeout": "120s"}, "updateMask": "startToCloseTimeout"})),
    responses((status = 200, description = "OK", body = UpdateActivityExecutionOptionsResponse), BodyErrors)
)]
pub async fn update_options(
    State(s): State<AppState>,
    c: ActivityCall<UpdateActivityExecutionOptionsRequest>,
) -> Reply<UpdateActivityExecutionOptionsResponse> {
    Ok(Json(
        s.history
            .update_activity_options(&c.ns, &c.id, c.req)
            .await?,
    ))
}
