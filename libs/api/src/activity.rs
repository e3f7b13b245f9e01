//! Standalone-activity requests and responses (`/activities/...`) and the worker task protocol
//! (poll, heartbeat, complete, fail, resolve-as-canceled), named as in Temporal's protos.

use crate::common::{
    ActivityType, Header, Link, Priority, RetryPolicy, SearchAttributes, TaskQueue, UserMetadata,
    WorkflowExecution, WorkflowType,
};
use crate::duration::Duration;
use crate::enums::{
    ActivityExecutionStatus, ActivityIdConflictPolicy, ActivityIdReusePolicy, PendingActivityState,
    RetryState,
};
use crate::failure::Failure;
use crate::identity;
use crate::payload::{Payload, Payloads};
use crate::protojson::{int64_as_string, is_default};
use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Standalone activities

/// `POST /activities/{activityId}`; `namespace` and `activityId` come from the URL.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct StartActivityExecutionRequest {
    /// Ignored: the namespace comes from the URL.
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    /// Who makes the call, recorded in the history (at most 1000 bytes). Default: the API key's
    /// identity when keys are required, else empty.
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    /// Idempotency key: a retried start with the same request id answers the run it started.
    /// Default: a fresh one per call.
    #[serde(alias = "request_id", skip_serializing_if = "is_default")]
    pub request_id: String,
    /// Ignored: the activity id comes from the URL (at most 1000 bytes).
    #[serde(alias = "activity_id", skip_serializing_if = "is_default")]
    pub activity_id: String,
    /// The activity's type, which the worker dispatches on. Required; its name at most 1000 bytes.
    #[serde(alias = "activity_type", skip_serializing_if = "Option::is_none")]
    #[schema(required = true)]
    pub activity_type: Option<ActivityType>,
    /// Where workers poll for the activity's tasks. Required.
    #[serde(alias = "task_queue", skip_serializing_if = "Option::is_none")]
    #[schema(required = true)]
    pub task_queue: Option<TaskQueue>,
    /// Limit on the whole activity, all attempts and backoffs included. At least one of
    /// `scheduleToCloseTimeout` and `startToCloseTimeout` is required; absent or `0s`: unlimited.
    /// Capped at 100 years.
    #[serde(
        alias = "schedule_to_close_timeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub schedule_to_close_timeout: Option<Duration>,
    /// Limit on the time an attempt waits in the queue for a worker (a timeout here is not
    /// retried). Default and maximum: `scheduleToCloseTimeout`.
    #[serde(
        alias = "schedule_to_start_timeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub schedule_to_start_timeout: Option<Duration>,
    /// Limit on one attempt, from its poll to its completion; a timeout is retried. Default and
    /// maximum: `scheduleToCloseTimeout`.
    #[serde(
        alias = "start_to_close_timeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_to_close_timeout: Option<Duration>,
    /// Limit on the time between heartbeats of a running attempt; absent or `0s`: no heartbeats
    /// needed. At most `startToCloseTimeout`.
    #[serde(alias = "heartbeat_timeout", skip_serializing_if = "Option::is_none")]
    pub heartbeat_timeout: Option<Duration>,
    /// How failed attempts are retried. Default: retry without end with 1s initial interval,
    /// coefficient 2 and 100s maximum interval, until `scheduleToCloseTimeout`.
    #[serde(alias = "retry_policy", skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    /// The activity's arguments, handed to the worker as given. The whole request is limited to 2
    /// MiB of payload data by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Payloads>,
    /// Whether a closed activity's id may start again. Default
    /// `ACTIVITY_ID_REUSE_POLICY_ALLOW_DUPLICATE`.
    #[serde(alias = "id_reuse_policy", skip_serializing_if = "is_default")]
    pub id_reuse_policy: ActivityIdReusePolicy,
    /// What a start does while an activity of this id runs. Default
    /// `ACTIVITY_ID_CONFLICT_POLICY_FAIL` (409 AlreadyExists);
    /// `ACTIVITY_ID_CONFLICT_POLICY_USE_EXISTING` answers the running one with `started: false`.
    #[serde(alias = "id_conflict_policy", skip_serializing_if = "is_default")]
    pub id_conflict_policy: ActivityIdConflictPolicy,
    /// Indexed fields for visibility queries (`GET .../activities?query=`).
    #[serde(alias = "search_attributes", skip_serializing_if = "Option::is_none")]
    pub search_attributes: Option<SearchAttributes>,
    /// Context propagated to the worker as given (tracing, auth).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<Header>,
    #[serde(alias = "user_metadata", skip_serializing_if = "Option::is_none")]
    pub user_metadata: Option<UserMetadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(alias = "completion_callbacks", skip_serializing_if = "is_default")]
    #[schema(schema_with = crate::schema::messages)]
    pub completion_callbacks: Vec<Value>,
    #[serde(skip_serializing_if = "is_default")]
    #[schema(schema_with = crate::schema::links)]
    pub links: Vec<Link>,
    #[serde(alias = "on_conflict_options", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub on_conflict_options: Option<Value>,
    /// Time to wait before the first attempt is dispatched. Default: none.
    #[serde(alias = "start_delay", skip_serializing_if = "Option::is_none")]
    pub start_delay: Option<Duration>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct StartActivityExecutionResponse {
    /// The run this start created, or the running one it found (`started: false`).
    #[serde(skip_serializing_if = "is_default")]
    pub run_id: String,
    /// Whether this call started a run (false: an existing run answered, by request id or conflict
    /// policy).
    #[serde(skip_serializing_if = "is_default")]
    pub started: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::link)]
    pub link: Option<Link>,
}

/// Describe's `info` (SEMANTICS §8.2). `taskQueue` is a plain string here.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ActivityExecutionInfo {
    #[serde(skip_serializing_if = "is_default")]
    pub activity_id: String,
    #[serde(skip_serializing_if = "is_default")]
    pub run_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_type: Option<ActivityType>,
    #[serde(skip_serializing_if = "is_default")]
    pub status: ActivityExecutionStatus,
    #[serde(skip_serializing_if = "is_default")]
    pub run_state: PendingActivityState,
    #[serde(skip_serializing_if = "is_default")]
    pub task_queue: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_to_close_timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_to_start_timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_to_close_timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_details: Option<Payloads>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_started_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "is_default")]
    pub attempt: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_duration: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<Failure>,
    #[serde(skip_serializing_if = "is_default")]
    pub last_worker_identity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_retry_interval: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_attempt_complete_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_schedule_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub last_deployment_version: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "int64_as_string", skip_serializing_if = "is_default")]
    pub state_transition_count: i64,
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "int64_as_string", skip_serializing_if = "is_default")]
    pub state_size_bytes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_attributes: Option<SearchAttributes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<Header>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_metadata: Option<UserMetadata>,
    #[serde(skip_serializing_if = "is_default")]
    pub canceled_reason: String,
    #[serde(skip_serializing_if = "is_default")]
    #[schema(schema_with = crate::schema::links)]
    pub links: Vec<Link>,
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "int64_as_string", skip_serializing_if = "is_default")]
    pub total_heartbeat_count: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub sdk_name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub sdk_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_delay: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_time: Option<Timestamp>,
}

/// One of `result` | `failure`, plus `retryState` for failures and timeouts. A completion without
/// a result is `result: Some(Payloads::default())`, which prints `{"result":[]}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ActivityExecutionOutcome {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Payloads>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    #[serde(skip_serializing_if = "is_default")]
    pub retry_state: RetryState,
}

impl ActivityExecutionOutcome {
    pub fn completed(result: Payloads) -> Self {
        ActivityExecutionOutcome {
            result: Some(result),
            ..Default::default()
        }
    }

    pub fn failed(failure: Failure, retry_state: RetryState) -> Self {
        ActivityExecutionOutcome {
            failure: Some(failure),
            retry_state,
            ..Default::default()
        }
    }
}

/// Query string of `GET /activities/{activityId}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, rename_all = "camelCase")]
pub struct DescribeActivityExecutionQuery {
    /// The run to describe. Default: the latest run.
    #[serde(alias = "run_id", skip_serializing_if = "is_default")]
    pub run_id: String,
    /// Also answer the activity's input. Default false.
    #[serde(alias = "include_input", skip_serializing_if = "is_default")]
    pub include_input: bool,
    /// Also answer the result or failure of a closed activity. Default false.
    #[serde(alias = "include_outcome", skip_serializing_if = "is_default")]
    #[param(example = true)]
    pub include_outcome: bool,
    /// Also answer the last heartbeat's details. Default false.
    #[serde(
        alias = "include_heartbeat_details",
        skip_serializing_if = "is_default"
    )]
    pub include_heartbeat_details: bool,
    /// Also answer the last attempt's failure. Default false.
    #[serde(alias = "include_last_failure", skip_serializing_if = "is_default")]
    pub include_last_failure: bool,
    /// base64
    #[serde(alias = "long_poll_token", skip_serializing_if = "is_default")]
    pub long_poll_token: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct DescribeActivityExecutionResponse {
    #[serde(skip_serializing_if = "is_default")]
    pub run_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<ActivityExecutionInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Payloads>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ActivityExecutionOutcome>,
    /// base64
    #[serde(skip_serializing_if = "Option::is_none")]
    pub long_poll_token: Option<String>,
    #[serde(skip_serializing_if = "is_default")]
    #[schema(schema_with = crate::schema::messages)]
    pub callbacks: Vec<Value>,
}

/// Query string of `GET /activities/{activityId}/outcome`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, rename_all = "camelCase")]
pub struct PollActivityExecutionQuery {
    /// The run to wait for. Default: the latest run.
    #[serde(alias = "run_id", skip_serializing_if = "is_default")]
    pub run_id: String,
}

/// `{}` when the long poll times out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct PollActivityExecutionResponse {
    #[serde(skip_serializing_if = "is_default")]
    pub run_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ActivityExecutionOutcome>,
}

/// Query string of `GET /activities`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, rename_all = "camelCase")]
pub struct ListActivityExecutionsQuery {
    /// Executions per page, at most 1000. Default (0): 1000.
    #[serde(alias = "page_size", skip_serializing_if = "is_default")]
    #[param(example = 10)]
    pub page_size: i32,
    /// base64
    #[serde(alias = "next_page_token", skip_serializing_if = "is_default")]
    pub next_page_token: String,
    /// A visibility query in Temporal's SQL-like syntax (at most 10,000 characters), e.g.
    /// `ActivityType = 'SimpleActivity' AND ExecutionStatus = 'Running'`. Default: every execution.
    #[serde(skip_serializing_if = "is_default")]
    #[param(example = "ActivityType = 'SimpleActivity'")]
    pub query: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ListActivityExecutionsResponse {
    #[serde(skip_serializing_if = "is_default")]
    pub executions: Vec<ActivityExecutionListInfo>,
    /// base64
    #[serde(skip_serializing_if = "is_default")]
    pub next_page_token: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ActivityExecutionListInfo {
    #[serde(skip_serializing_if = "is_default")]
    pub activity_id: String,
    #[serde(skip_serializing_if = "is_default")]
    pub run_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_type: Option<ActivityType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "is_default")]
    pub status: ActivityExecutionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_attributes: Option<SearchAttributes>,
    #[serde(skip_serializing_if = "is_default")]
    pub task_queue: String,
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "int64_as_string", skip_serializing_if = "is_default")]
    pub state_transition_count: i64,
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "int64_as_string", skip_serializing_if = "is_default")]
    pub state_size_bytes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_duration: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_time: Option<Timestamp>,
}

/// Query string of `GET /activity-count`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, rename_all = "camelCase")]
pub struct CountActivityExecutionsQuery {
    /// A visibility query, as for listing; `GROUP BY ExecutionStatus` answers a count per group.
    /// Default: every execution.
    #[serde(skip_serializing_if = "is_default")]
    #[param(example = "ActivityType = 'SimpleActivity'")]
    pub query: String,
}

/// A count of 0 prints `{}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct CountActivityExecutionsResponse {
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "int64_as_string", skip_serializing_if = "is_default")]
    pub count: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub groups: Vec<CountGroup>,
}

/// One `GROUP BY` bucket (Temporal's `AggregationGroup`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct CountGroup {
    #[serde(skip_serializing_if = "is_default")]
    pub group_values: Vec<Payload>,
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "int64_as_string", skip_serializing_if = "is_default")]
    pub count: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestCancelActivityExecutionRequest {
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    #[serde(alias = "activity_id", skip_serializing_if = "is_default")]
    pub activity_id: String,
    #[serde(alias = "run_id", skip_serializing_if = "is_default")]
    pub run_id: String,
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    #[serde(alias = "request_id", skip_serializing_if = "is_default")]
    pub request_id: String,
    #[serde(skip_serializing_if = "is_default")]
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TerminateActivityExecutionRequest {
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    #[serde(alias = "activity_id", skip_serializing_if = "is_default")]
    pub activity_id: String,
    #[serde(alias = "run_id", skip_serializing_if = "is_default")]
    pub run_id: String,
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    #[serde(alias = "request_id", skip_serializing_if = "is_default")]
    pub request_id: String,
    #[serde(skip_serializing_if = "is_default")]
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct PauseActivityExecutionRequest {
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    /// Set for an activity of this workflow; empty for a standalone activity.
    #[serde(alias = "workflow_id", skip_serializing_if = "is_default")]
    pub workflow_id: String,
    #[serde(alias = "activity_id", skip_serializing_if = "is_default")]
    pub activity_id: String,
    #[serde(alias = "run_id", skip_serializing_if = "is_default")]
    pub run_id: String,
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    #[serde(skip_serializing_if = "is_default")]
    pub reason: String,
    #[serde(alias = "resource_id", skip_serializing_if = "is_default")]
    pub resource_id: String,
    #[serde(alias = "request_id", skip_serializing_if = "is_default")]
    pub request_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct UnpauseActivityExecutionRequest {
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    /// Set for an activity of this workflow; empty for a standalone activity.
    #[serde(alias = "workflow_id", skip_serializing_if = "is_default")]
    pub workflow_id: String,
    #[serde(alias = "activity_id", skip_serializing_if = "is_default")]
    pub activity_id: String,
    #[serde(alias = "run_id", skip_serializing_if = "is_default")]
    pub run_id: String,
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    #[serde(skip_serializing_if = "is_default")]
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Duration>,
    #[serde(alias = "resource_id", skip_serializing_if = "is_default")]
    pub resource_id: String,
    #[serde(alias = "request_id", skip_serializing_if = "is_default")]
    pub request_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetActivityExecutionRequest {
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    /// Set for an activity of this workflow; empty for a standalone activity.
    #[serde(alias = "workflow_id", skip_serializing_if = "is_default")]
    pub workflow_id: String,
    #[serde(alias = "activity_id", skip_serializing_if = "is_default")]
    pub activity_id: String,
    #[serde(alias = "run_id", skip_serializing_if = "is_default")]
    pub run_id: String,
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    #[serde(alias = "keep_paused", skip_serializing_if = "is_default")]
    pub keep_paused: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Duration>,
    #[serde(alias = "restore_original_options", skip_serializing_if = "is_default")]
    pub restore_original_options: bool,
    #[serde(alias = "reset_heartbeat", skip_serializing_if = "is_default")]
    pub reset_heartbeat: bool,
    #[serde(alias = "resource_id", skip_serializing_if = "is_default")]
    pub resource_id: String,
    #[serde(alias = "request_id", skip_serializing_if = "is_default")]
    pub request_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateActivityExecutionOptionsRequest {
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    /// Set for an activity of this workflow; empty for a standalone activity.
    #[serde(alias = "workflow_id", skip_serializing_if = "is_default")]
    pub workflow_id: String,
    #[serde(alias = "activity_id", skip_serializing_if = "is_default")]
    pub activity_id: String,
    #[serde(alias = "run_id", skip_serializing_if = "is_default")]
    pub run_id: String,
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    #[serde(alias = "activity_options", skip_serializing_if = "Option::is_none")]
    pub activity_options: Option<ActivityOptions>,
    /// A FieldMask: one comma-separated string of camelCase paths. The object form
    /// `{"paths":[..]}` is a type error, as on Temporal.
    #[serde(alias = "update_mask", skip_serializing_if = "Option::is_none")]
    pub update_mask: Option<String>,
    #[serde(alias = "restore_original", skip_serializing_if = "is_default")]
    pub restore_original: bool,
    #[serde(alias = "resource_id", skip_serializing_if = "is_default")]
    pub resource_id: String,
    #[serde(alias = "request_id", skip_serializing_if = "is_default")]
    pub request_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ActivityOptions {
    #[serde(alias = "task_queue", skip_serializing_if = "Option::is_none")]
    pub task_queue: Option<TaskQueue>,
    #[serde(
        alias = "schedule_to_close_timeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub schedule_to_close_timeout: Option<Duration>,
    #[serde(
        alias = "schedule_to_start_timeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub schedule_to_start_timeout: Option<Duration>,
    #[serde(
        alias = "start_to_close_timeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_to_close_timeout: Option<Duration>,
    #[serde(alias = "heartbeat_timeout", skip_serializing_if = "Option::is_none")]
    pub heartbeat_timeout: Option<Duration>,
    #[serde(alias = "retry_policy", skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(alias = "start_delay", skip_serializing_if = "Option::is_none")]
    pub start_delay: Option<Duration>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct UpdateActivityExecutionOptionsResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_options: Option<ActivityOptions>,
}

// ---------------------------------------------------------------------------------------------
// Worker task protocol

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct PollActivityTaskQueueRequest {
    /// Ignored: the namespace comes from the URL.
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    /// The queue to take a task from. Required, with a non-empty name.
    #[serde(alias = "task_queue", skip_serializing_if = "Option::is_none")]
    #[schema(required = true)]
    pub task_queue: Option<TaskQueue>,
    /// The worker's identity, shown as the attempt's worker (at most 1000 bytes).
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    #[serde(alias = "task_queue_metadata", skip_serializing_if = "Option::is_none")]
    pub task_queue_metadata: Option<TaskQueueMetadata>,
    #[serde(alias = "poller_group_id", skip_serializing_if = "is_default")]
    pub poller_group_id: String,
    #[serde(alias = "worker_instance_key", skip_serializing_if = "is_default")]
    pub worker_instance_key: String,
    #[serde(
        alias = "worker_control_task_queue",
        skip_serializing_if = "is_default"
    )]
    pub worker_control_task_queue: String,
    #[serde(
        alias = "worker_version_capabilities",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = crate::schema::message)]
    pub worker_version_capabilities: Option<Value>,
    #[serde(alias = "deployment_options", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub deployment_options: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskQueueMetadata {
    /// A `DoubleValue` wrapper: a plain number, absent meaning "no worker limit".
    #[serde(
        alias = "max_tasks_per_second",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_tasks_per_second: Option<f64>,
}

/// A task for a worker; the all-default value prints `{}`, the empty answer of a poll that
/// timed out. Fields that a real task always prints (`workflowExecution`, which is `{}` for a
/// standalone activity, and `scheduleToCloseTimeout`, `"0s"` when unlimited) are `Some`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct PollActivityTaskQueueResponse {
    /// base64
    #[serde(skip_serializing_if = "is_default")]
    pub task_token: String,
    #[serde(skip_serializing_if = "is_default")]
    pub workflow_namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_type: Option<WorkflowType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_execution: Option<WorkflowExecution>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_type: Option<ActivityType>,
    #[serde(skip_serializing_if = "is_default")]
    pub activity_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<Header>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Payloads>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_details: Option<Payloads>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_attempt_scheduled_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "is_default")]
    pub attempt: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_to_close_timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_to_close_timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub poller_scaling_decision: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(skip_serializing_if = "is_default")]
    pub activity_run_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub poller_groups_info: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordActivityTaskHeartbeatRequest {
    /// Ignored: the namespace comes from the URL.
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    /// The `taskToken` of the polled task. Required.
    #[serde(alias = "task_token", skip_serializing_if = "is_default")]
    #[schema(required = true)]
    pub task_token: String,
    /// `None` clears the stored details; `Some([])` stores an empty list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Payloads>,
    /// The worker's identity (at most 1000 bytes).
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    #[serde(alias = "resource_id", skip_serializing_if = "is_default")]
    pub resource_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordActivityTaskHeartbeatByIdRequest {
    /// Ignored: the namespace comes from the URL.
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    /// Ignored: the workflow id, if any, comes from the URL.
    #[serde(alias = "workflow_id", skip_serializing_if = "is_default")]
    pub workflow_id: String,
    /// Ignored: the activity id comes from the URL.
    #[serde(alias = "activity_id", skip_serializing_if = "is_default")]
    pub activity_id: String,
    /// The run (of a standalone activity) or the workflow run. Default: the latest run.
    #[serde(alias = "run_id", skip_serializing_if = "is_default")]
    pub run_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Payloads>,
    /// The worker's identity (at most 1000 bytes).
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    #[serde(alias = "resource_id", skip_serializing_if = "is_default")]
    pub resource_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct RecordActivityTaskHeartbeatResponse {
    #[serde(skip_serializing_if = "is_default")]
    pub cancel_requested: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub activity_paused: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub activity_reset: bool,
}

pub type RecordActivityTaskHeartbeatByIdResponse = RecordActivityTaskHeartbeatResponse;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RespondActivityTaskCompletedRequest {
    /// Ignored: the namespace comes from the URL.
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    /// The `taskToken` of the polled task. Required.
    #[serde(alias = "task_token", skip_serializing_if = "is_default")]
    #[schema(required = true)]
    pub task_token: String,
    /// The activity's result, as the caller will read it in the outcome. Absent: an empty result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Payloads>,
    /// The worker's identity (at most 1000 bytes).
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    #[serde(alias = "resource_id", skip_serializing_if = "is_default")]
    pub resource_id: String,
    #[serde(alias = "worker_version", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub worker_version: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub deployment: Option<Value>,
    #[serde(alias = "deployment_options", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub deployment_options: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RespondActivityTaskCompletedByIdRequest {
    /// Ignored: the namespace comes from the URL.
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    /// Ignored: the workflow id, if any, comes from the URL.
    #[serde(alias = "workflow_id", skip_serializing_if = "is_default")]
    pub workflow_id: String,
    /// Ignored: the activity id comes from the URL.
    #[serde(alias = "activity_id", skip_serializing_if = "is_default")]
    pub activity_id: String,
    /// The run (of a standalone activity) or the workflow run. Default: the latest run.
    #[serde(alias = "run_id", skip_serializing_if = "is_default")]
    pub run_id: String,
    /// The activity's result, as the caller will read it in the outcome. Absent: an empty result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Payloads>,
    /// The worker's identity (at most 1000 bytes).
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    #[serde(alias = "resource_id", skip_serializing_if = "is_default")]
    pub resource_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RespondActivityTaskFailedRequest {
    /// Ignored: the namespace comes from the URL.
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    /// The `taskToken` of the polled task. Required.
    #[serde(alias = "task_token", skip_serializing_if = "is_default")]
    #[schema(required = true)]
    pub task_token: String,
    /// Why the attempt failed. An `applicationFailureInfo` with `nonRetryable: true`, or a `type`
    /// the retry policy lists as non-retryable, closes the activity; otherwise the next attempt is
    /// scheduled by the retry policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// The worker's identity (at most 1000 bytes).
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    /// Details to keep as the last heartbeat's, handed to the next attempt.
    #[serde(
        alias = "last_heartbeat_details",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_heartbeat_details: Option<Payloads>,
    #[serde(alias = "resource_id", skip_serializing_if = "is_default")]
    pub resource_id: String,
    #[serde(alias = "worker_version", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub worker_version: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub deployment: Option<Value>,
    #[serde(alias = "deployment_options", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub deployment_options: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RespondActivityTaskFailedByIdRequest {
    /// Ignored: the namespace comes from the URL.
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    /// Ignored: the workflow id, if any, comes from the URL.
    #[serde(alias = "workflow_id", skip_serializing_if = "is_default")]
    pub workflow_id: String,
    /// Ignored: the activity id comes from the URL.
    #[serde(alias = "activity_id", skip_serializing_if = "is_default")]
    pub activity_id: String,
    /// The run (of a standalone activity) or the workflow run. Default: the latest run.
    #[serde(alias = "run_id", skip_serializing_if = "is_default")]
    pub run_id: String,
    /// Why the attempt failed. An `applicationFailureInfo` with `nonRetryable: true`, or a `type`
    /// the retry policy lists as non-retryable, closes the activity; otherwise the next attempt is
    /// scheduled by the retry policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// The worker's identity (at most 1000 bytes).
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    /// Details to keep as the last heartbeat's, handed to the next attempt.
    #[serde(
        alias = "last_heartbeat_details",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_heartbeat_details: Option<Payloads>,
    #[serde(alias = "resource_id", skip_serializing_if = "is_default")]
    pub resource_id: String,
}

/// Failures the server substituted (size limits), echoed back to the worker.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct RespondActivityTaskFailedResponse {
    #[serde(skip_serializing_if = "is_default")]
    pub failures: Vec<Failure>,
}

pub type RespondActivityTaskFailedByIdResponse = RespondActivityTaskFailedResponse;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RespondActivityTaskCanceledRequest {
    /// Ignored: the namespace comes from the URL.
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    /// The `taskToken` of the polled task. Required.
    #[serde(alias = "task_token", skip_serializing_if = "is_default")]
    #[schema(required = true)]
    pub task_token: String,
    /// Details of the cancellation, kept in the activity's outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Payloads>,
    /// The worker's identity (at most 1000 bytes).
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    #[serde(alias = "resource_id", skip_serializing_if = "is_default")]
    pub resource_id: String,
    #[serde(alias = "worker_version", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub worker_version: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub deployment: Option<Value>,
    #[serde(alias = "deployment_options", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub deployment_options: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RespondActivityTaskCanceledByIdRequest {
    /// Ignored: the namespace comes from the URL.
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    /// Ignored: the workflow id, if any, comes from the URL.
    #[serde(alias = "workflow_id", skip_serializing_if = "is_default")]
    pub workflow_id: String,
    /// Ignored: the activity id comes from the URL.
    #[serde(alias = "activity_id", skip_serializing_if = "is_default")]
    pub activity_id: String,
    /// The run (of a standalone activity) or the workflow run. Default: the latest run.
    #[serde(alias = "run_id", skip_serializing_if = "is_default")]
    pub run_id: String,
    /// Details of the cancellation, kept in the activity's outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Payloads>,
    /// The worker's identity (at most 1000 bytes).
    #[serde(skip_serializing_if = "is_default")]
    #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
    pub identity: String,
    #[serde(alias = "resource_id", skip_serializing_if = "is_default")]
    pub resource_id: String,
    #[serde(alias = "deployment_options", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub deployment_options: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::TaskQueue;
    use serde_json::json;

    #[test]
    fn start_request_accepts_snake_case_names() {
        let r: StartActivityExecutionRequest = serde_json::from_value(json!({
            "activity_type": {"name": "echo"},
            "task_queue": {"name": "q"},
            "start_to_close_timeout": "60s",
            "idReusePolicy": "ACTIVITY_ID_REUSE_POLICY_REJECT_DUPLICATE",
            "input": ["hi", 1],
        }))
        .unwrap();
        assert_eq!(r.activity_type.unwrap().name, "echo");
        assert_eq!(r.task_queue.unwrap().name, "q");
        assert_eq!(r.start_to_close_timeout, Some(Duration::from_secs(60)));
        assert_eq!(r.id_reuse_policy, ActivityIdReusePolicy::RejectDuplicate);
        assert_eq!(r.input.unwrap().0.len(), 2);
    }

    #[test]
    fn unknown_request_fields_are_rejected() {
        let err = serde_json::from_value::<StartActivityExecutionRequest>(json!({"bogusField": 1}))
            .unwrap_err();
        assert!(
            err.to_string().contains("unknown field `bogusField`"),
            "{err}"
        );
        // Also inside nested request messages.
        let err = serde_json::from_value::<StartActivityExecutionRequest>(
            json!({"retryPolicy": {"bogus": 1}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `bogus`"), "{err}");
        // Newer-proto fields that 1.32 rejects.
        assert!(
            serde_json::from_value::<StartActivityExecutionRequest>(
                json!({"requestEagerExecution": true})
            )
            .is_err()
        );
        assert!(
            serde_json::from_value::<RespondActivityTaskFailedRequest>(json!({"cause": 1}))
                .is_err()
        );
    }

    #[test]
    fn invalid_enum_in_a_request_is_a_serde_error() {
        let err = serde_json::from_value::<StartActivityExecutionRequest>(
            json!({"idConflictPolicy": "X"}),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid value for enum type: \"X\""),
            "{err}"
        );
    }

    #[test]
    fn int64_fields_print_as_strings_and_accept_numbers() {
        let info = ActivityExecutionInfo {
            attempt: 2,
            state_transition_count: 3,
            total_heartbeat_count: 16,
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&info).unwrap(),
            json!({"attempt": 2, "stateTransitionCount": "3", "totalHeartbeatCount": "16"})
        );
        let back: ActivityExecutionInfo =
            serde_json::from_value(json!({"stateTransitionCount": 3, "totalHeartbeatCount": "16"}))
                .unwrap();
        assert_eq!(
            (back.state_transition_count, back.total_heartbeat_count),
            (3, 16)
        );
        assert!(serde_json::from_value::<CountGroup>(json!({"count": "x"})).is_err());

        assert_eq!(
            serde_json::to_string(&CountActivityExecutionsResponse::default()).unwrap(),
            "{}"
        );
        let count = CountActivityExecutionsResponse {
            count: 16,
            groups: vec![CountGroup {
                group_values: vec![Payload::Json(json!("Running"))],
                count: 16,
            }],
        };
        assert_eq!(
            serde_json::to_value(&count).unwrap(),
            json!({"count": "16", "groups": [{"groupValues": ["Running"], "count": "16"}]})
        );
    }

    #[test]
    fn empty_poll_response_is_an_empty_object() {
        assert_eq!(
            serde_json::to_string(&PollActivityTaskQueueResponse::default()).unwrap(),
            "{}"
        );
        assert_eq!(
            serde_json::to_string(&PollActivityExecutionResponse::default()).unwrap(),
            "{}"
        );
        assert_eq!(
            serde_json::to_string(&RecordActivityTaskHeartbeatResponse::default()).unwrap(),
            "{}"
        );
    }

    #[test]
    fn standalone_task_prints_empty_workflow_execution_and_zero_schedule_to_close() {
        let task = PollActivityTaskQueueResponse {
            task_token: "dG9r".into(),
            workflow_namespace: "default".into(),
            workflow_execution: Some(WorkflowExecution::default()),
            activity_type: Some(ActivityType {
                name: "echo".into(),
            }),
            activity_id: "a1".into(),
            attempt: 1,
            schedule_to_close_timeout: Some(Duration::ZERO),
            start_to_close_timeout: Some(Duration::from_secs(60)),
            heartbeat_timeout: Some(Duration::ZERO),
            activity_run_id: "r1".into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&task).unwrap(),
            json!({
                "taskToken": "dG9r", "workflowNamespace": "default", "workflowExecution": {},
                "activityType": {"name": "echo"}, "activityId": "a1", "attempt": 1,
                "scheduleToCloseTimeout": "0s", "startToCloseTimeout": "60s", "heartbeatTimeout": "0s",
                "activityRunId": "r1"
            })
        );
    }

    #[test]
    fn completion_without_result_prints_an_empty_result() {
        let outcome = ActivityExecutionOutcome::completed(Payloads::default());
        assert_eq!(serde_json::to_string(&outcome).unwrap(), r#"{"result":[]}"#);
        let failed = ActivityExecutionOutcome::failed(Failure::new("f1"), RetryState::Timeout);
        assert_eq!(
            serde_json::to_string(&failed).unwrap(),
            r#"{"failure":{"message":"f1"},"retryState":"RETRY_STATE_TIMEOUT"}"#
        );
        let back: ActivityExecutionOutcome = serde_json::from_str(r#"{"result":[]}"#).unwrap();
        assert_eq!(back, outcome);
    }

    #[test]
    fn update_mask_is_a_comma_separated_string_only() {
        let r: UpdateActivityExecutionOptionsRequest = serde_json::from_value(json!({
            "activityOptions": {"taskQueue": {"name": "q2"}, "retry_policy": {"maximumAttempts": 3}},
            "update_mask": "taskQueue.name,retryPolicy.maximumAttempts"
        }))
        .unwrap();
        assert_eq!(
            r.update_mask.as_deref(),
            Some("taskQueue.name,retryPolicy.maximumAttempts")
        );
        assert_eq!(
            r.activity_options.unwrap().task_queue,
            Some(TaskQueue {
                name: "q2".into(),
                ..Default::default()
            })
        );
        assert!(
            serde_json::from_value::<UpdateActivityExecutionOptionsRequest>(
                json!({"updateMask": {"paths": ["a"]}})
            )
            .is_err()
        );
    }

    #[test]
    fn heartbeat_distinguishes_missing_and_empty_details() {
        let none: RecordActivityTaskHeartbeatRequest =
            serde_json::from_value(json!({"taskToken": "dA=="})).unwrap();
        assert_eq!(none.details, None);
        let empty: RecordActivityTaskHeartbeatRequest =
            serde_json::from_value(json!({"task_token": "dA==", "details": []})).unwrap();
        assert_eq!(empty.details, Some(Payloads::default()));
    }

    #[test]
    fn poll_request_reads_the_worker_rate_limit() {
        let r: PollActivityTaskQueueRequest = serde_json::from_value(json!({
            "namespace": "default", "taskQueue": {"name": "q", "kind": "TASK_QUEUE_KIND_NORMAL"},
            "task_queue_metadata": {"maxTasksPerSecond": 2.5}
        }))
        .unwrap();
        assert_eq!(
            r.task_queue_metadata.unwrap().max_tasks_per_second,
            Some(2.5)
        );
    }
}
