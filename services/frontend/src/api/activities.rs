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
    params(ActivityParams),
    request_body = StartActivityExecutionRequest,
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
    ($($handler:ident($path:literal, $op:literal, $summary:literal): $req:ty => $call:ident;)*) => {$(
        #[utoipa::path(
            post,
            path = $path,
            tag = "Activities",
            operation_id = $op,
            summary = $summary,
            params(ActivityParams),
            request_body = $req,
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
        "Request an activity's cancellation"
    ): RequestCancelActivityExecutionRequest => request_cancel_activity;
    terminate(
        "/api/v1/namespaces/{namespace}/activities/{activityId}/terminate",
        "TerminateActivityExecution",
        "Terminate an activity"
    ): TerminateActivityExecutionRequest => terminate_activity;
    pause(
        "/api/v1/namespaces/{namespace}/activities/{activityId}/pause",
        "PauseActivityExecution",
        "Pause an activity"
    ): PauseActivityExecutionRequest => pause_activity;
    unpause(
        "/api/v1/namespaces/{namespace}/activities/{activityId}/unpause",
        "UnpauseActivityExecution",
        "Unpause an activity"
    ): UnpauseActivityExecutionRequest => unpause_activity;
    reset(
        "/api/v1/namespaces/{namespace}/activities/{activityId}/reset",
        "ResetActivityExecution",
        "Reset an activity to a first attempt"
    ): ResetActivityExecutionRequest => reset_activity;
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces/{namespace}/activities/{activityId}/update-options",
    tag = "Activities",
    operation_id = "UpdateActivityExecutionOptions",
    summary = "Update an activity's options",
    params(ActivityParams),
    request_body = UpdateActivityExecutionOptionsRequest,
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
