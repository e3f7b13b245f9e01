//! Standalone activities, caller side: `/namespaces/{ns}/activities/...` and `/activity-count`.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use waymark_api::*;

use super::{Empty, Reply, empty};
use crate::app::AppState;
use crate::extract::{ActivityCall, ApiPath, ApiQuery, Deadline};

type ActivityPath = ApiPath<(String, String)>;

pub async fn start(
    State(s): State<AppState>,
    c: ActivityCall<StartActivityExecutionRequest>,
) -> Reply<StartActivityExecutionResponse> {
    Ok(Json(s.history.start_activity(&c.ns, &c.id, c.req).await?))
}

/// A long poll when `longPollToken` is set: `{}` if nothing changed in time.
pub async fn describe(
    State(s): State<AppState>,
    deadline: Deadline,
    ApiPath((ns, id)): ActivityPath,
    ApiQuery(q): ApiQuery<DescribeActivityExecutionQuery>,
) -> Reply<DescribeActivityExecutionResponse> {
    let answer = if q.long_poll_token.is_empty() {
        s.history
            .describe_activity(&ns, &id, q, Duration::ZERO)
            .await?
    } else {
        let wait = deadline.long_poll_wait(s.cfg.long_poll_cap.to_std());
        s.long_poll(s.history.describe_activity(&ns, &id, q, wait))
            .await?
    };
    Ok(Json(answer.unwrap_or_default()))
}

/// A long poll for the outcome: `{}` if the activity did not close in time.
pub async fn outcome(
    State(s): State<AppState>,
    deadline: Deadline,
    ApiPath((ns, id)): ActivityPath,
    ApiQuery(q): ApiQuery<PollActivityExecutionQuery>,
) -> Reply<PollActivityExecutionResponse> {
    let wait = deadline.long_poll_wait(s.cfg.long_poll_cap.to_std());
    let answer = s
        .long_poll(s.history.poll_activity_outcome(&ns, &id, &q.run_id, wait))
        .await?;
    Ok(Json(answer.unwrap_or_default()))
}

pub async fn list(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListActivityExecutionsQuery>,
) -> Reply<ListActivityExecutionsResponse> {
    Ok(Json(s.history.list_activities(&ns, q).await?))
}

pub async fn count(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
    ApiQuery(q): ApiQuery<CountActivityExecutionsQuery>,
) -> Reply<CountActivityExecutionsResponse> {
    Ok(Json(s.history.count_activities(&ns, &q.query).await?))
}

/// The operator commands that answer `{}`.
macro_rules! command {
    ($($handler:ident: $req:ty => $call:ident;)*) => {$(
        pub async fn $handler(State(s): State<AppState>, c: ActivityCall<$req>) -> Reply<Empty> {
            s.history.$call(&c.ns, &c.id, c.req).await?;
            empty()
        }
    )*};
}

command! {
    cancel: RequestCancelActivityExecutionRequest => request_cancel_activity;
    terminate: TerminateActivityExecutionRequest => terminate_activity;
    pause: PauseActivityExecutionRequest => pause_activity;
    unpause: UnpauseActivityExecutionRequest => unpause_activity;
    reset: ResetActivityExecutionRequest => reset_activity;
}

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
