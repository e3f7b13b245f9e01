//! Workflow wire types (history events, worker commands, the workflow task protocol, describe),
//! with serde exactly as Temporal's HTTP API prints them: camelCase, int64 as strings, zero
//! values omitted, enums by full name. Requests also accept snake_case and reject unknown fields.

use std::collections::BTreeMap;
use std::fmt;

use crate::identity;
use crate::{
    ActivityOptions, ActivityType, Duration, Failure, Header, Memo, Payloads, PendingActivityState,
    Priority, RetryPolicy, RetryState, SearchAttributes, TaskQueue, TaskQueueKind, TimeoutType,
    Timestamp, WorkflowExecution, WorkflowType, int64_as_string,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::protojson::is_default;

/// A task queue as the server echoes it in events: with `kind: TASK_QUEUE_KIND_NORMAL`.
pub fn normal_queue(name: &str) -> TaskQueue {
    TaskQueue {
        name: name.to_owned(),
        kind: TaskQueueKind::Normal,
        normal_name: String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Enums

use crate::enums::proto_enum;

proto_enum! {
    EventType, "EVENT_TYPE_" {
        Unspecified = 0 => "UNSPECIFIED",
        WorkflowExecutionStarted = 1 => "WORKFLOW_EXECUTION_STARTED",
        WorkflowExecutionCompleted = 2 => "WORKFLOW_EXECUTION_COMPLETED",
        WorkflowExecutionFailed = 3 => "WORKFLOW_EXECUTION_FAILED",
        WorkflowExecutionTimedOut = 4 => "WORKFLOW_EXECUTION_TIMED_OUT",
        WorkflowTaskScheduled = 5 => "WORKFLOW_TASK_SCHEDULED",
        WorkflowTaskStarted = 6 => "WORKFLOW_TASK_STARTED",
        WorkflowTaskCompleted = 7 => "WORKFLOW_TASK_COMPLETED",
        WorkflowTaskTimedOut = 8 => "WORKFLOW_TASK_TIMED_OUT",
        WorkflowTaskFailed = 9 => "WORKFLOW_TASK_FAILED",
        ActivityTaskScheduled = 10 => "ACTIVITY_TASK_SCHEDULED",
        ActivityTaskStarted = 11 => "ACTIVITY_TASK_STARTED",
        ActivityTaskCompleted = 12 => "ACTIVITY_TASK_COMPLETED",
        ActivityTaskFailed = 13 => "ACTIVITY_TASK_FAILED",
        ActivityTaskTimedOut = 14 => "ACTIVITY_TASK_TIMED_OUT",
        ActivityTaskCancelRequested = 15 => "ACTIVITY_TASK_CANCEL_REQUESTED",
        ActivityTaskCanceled = 16 => "ACTIVITY_TASK_CANCELED",
        TimerStarted = 17 => "TIMER_STARTED",
        TimerFired = 18 => "TIMER_FIRED",
        TimerCanceled = 19 => "TIMER_CANCELED",
        WorkflowExecutionCancelRequested = 20 => "WORKFLOW_EXECUTION_CANCEL_REQUESTED",
        WorkflowExecutionCanceled = 21 => "WORKFLOW_EXECUTION_CANCELED",
        MarkerRecorded = 25 => "MARKER_RECORDED",
        WorkflowExecutionSignaled = 26 => "WORKFLOW_EXECUTION_SIGNALED",
        WorkflowExecutionTerminated = 27 => "WORKFLOW_EXECUTION_TERMINATED",
        WorkflowExecutionContinuedAsNew = 28 => "WORKFLOW_EXECUTION_CONTINUED_AS_NEW",
    }
}

proto_enum! {
    WorkflowExecutionStatus, "WORKFLOW_EXECUTION_STATUS_" {
        Unspecified = 0 => "UNSPECIFIED",
        Running = 1 => "RUNNING",
        Completed = 2 => "COMPLETED",
        Failed = 3 => "FAILED",
        Canceled = 4 => "CANCELED",
        Terminated = 5 => "TERMINATED",
        ContinuedAsNew = 6 => "CONTINUED_AS_NEW",
        TimedOut = 7 => "TIMED_OUT",
    }
}

proto_enum! {
    CommandType, "COMMAND_TYPE_" {
        Unspecified = 0 => "UNSPECIFIED",
        ScheduleActivityTask = 1 => "SCHEDULE_ACTIVITY_TASK",
        RequestCancelActivityTask = 2 => "REQUEST_CANCEL_ACTIVITY_TASK",
        StartTimer = 3 => "START_TIMER",
        CompleteWorkflowExecution = 4 => "COMPLETE_WORKFLOW_EXECUTION",
        FailWorkflowExecution = 5 => "FAIL_WORKFLOW_EXECUTION",
        CancelTimer = 6 => "CANCEL_TIMER",
        CancelWorkflowExecution = 7 => "CANCEL_WORKFLOW_EXECUTION",
        RequestCancelExternalWorkflowExecution = 8 => "REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION",
        RecordMarker = 9 => "RECORD_MARKER",
        ContinueAsNewWorkflowExecution = 10 => "CONTINUE_AS_NEW_WORKFLOW_EXECUTION",
        StartChildWorkflowExecution = 11 => "START_CHILD_WORKFLOW_EXECUTION",
        SignalExternalWorkflowExecution = 12 => "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION",
        UpsertWorkflowSearchAttributes = 13 => "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
        ProtocolMessage = 14 => "PROTOCOL_MESSAGE",
        ModifyWorkflowProperties = 16 => "MODIFY_WORKFLOW_PROPERTIES",
        ScheduleNexusOperation = 17 => "SCHEDULE_NEXUS_OPERATION",
        RequestCancelNexusOperation = 18 => "REQUEST_CANCEL_NEXUS_OPERATION",
    }
}

impl CommandType {
    /// Commands that close the run: they must come last.
    pub fn is_closing(self) -> bool {
        matches!(
            self,
            CommandType::CompleteWorkflowExecution
                | CommandType::FailWorkflowExecution
                | CommandType::CancelWorkflowExecution
                | CommandType::ContinueAsNewWorkflowExecution
        )
    }
}

proto_enum! {
    WorkflowTaskFailedCause, "WORKFLOW_TASK_FAILED_CAUSE_" {
        Unspecified = 0 => "UNSPECIFIED",
        UnhandledCommand = 1 => "UNHANDLED_COMMAND",
        BadScheduleActivityAttributes = 2 => "BAD_SCHEDULE_ACTIVITY_ATTRIBUTES",
        BadRequestCancelActivityAttributes = 3 => "BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES",
        BadStartTimerAttributes = 4 => "BAD_START_TIMER_ATTRIBUTES",
        BadCancelTimerAttributes = 5 => "BAD_CANCEL_TIMER_ATTRIBUTES",
        BadRecordMarkerAttributes = 6 => "BAD_RECORD_MARKER_ATTRIBUTES",
        BadCompleteWorkflowExecutionAttributes = 7 => "BAD_COMPLETE_WORKFLOW_EXECUTION_ATTRIBUTES",
        BadFailWorkflowExecutionAttributes = 8 => "BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES",
        BadCancelWorkflowExecutionAttributes = 9 => "BAD_CANCEL_WORKFLOW_EXECUTION_ATTRIBUTES",
        BadRequestCancelExternalWorkflowExecutionAttributes = 10 => "BAD_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_ATTRIBUTES",
        BadContinueAsNewAttributes = 11 => "BAD_CONTINUE_AS_NEW_ATTRIBUTES",
        StartTimerDuplicateId = 12 => "START_TIMER_DUPLICATE_ID",
        ResetStickyTaskQueue = 13 => "RESET_STICKY_TASK_QUEUE",
        WorkflowWorkerUnhandledFailure = 14 => "WORKFLOW_WORKER_UNHANDLED_FAILURE",
        BadSignalWorkflowExecutionAttributes = 15 => "BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES",
        BadStartChildExecutionAttributes = 16 => "BAD_START_CHILD_EXECUTION_ATTRIBUTES",
        ForceCloseCommand = 17 => "FORCE_CLOSE_COMMAND",
        FailoverCloseCommand = 18 => "FAILOVER_CLOSE_COMMAND",
        BadSignalInputSize = 19 => "BAD_SIGNAL_INPUT_SIZE",
        ResetWorkflow = 20 => "RESET_WORKFLOW",
        BadBinary = 21 => "BAD_BINARY",
        ScheduleActivityDuplicateId = 22 => "SCHEDULE_ACTIVITY_DUPLICATE_ID",
        BadSearchAttributes = 23 => "BAD_SEARCH_ATTRIBUTES",
        NonDeterministicError = 24 => "NON_DETERMINISTIC_ERROR",
        BadModifyWorkflowPropertiesAttributes = 25 => "BAD_MODIFY_WORKFLOW_PROPERTIES_ATTRIBUTES",
        PendingChildWorkflowsLimitExceeded = 26 => "PENDING_CHILD_WORKFLOWS_LIMIT_EXCEEDED",
        PendingActivitiesLimitExceeded = 27 => "PENDING_ACTIVITIES_LIMIT_EXCEEDED",
        PendingSignalsLimitExceeded = 28 => "PENDING_SIGNALS_LIMIT_EXCEEDED",
        PendingRequestCancelLimitExceeded = 29 => "PENDING_REQUEST_CANCEL_LIMIT_EXCEEDED",
        BadUpdateWorkflowExecutionMessage = 30 => "BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE",
        UnhandledUpdate = 31 => "UNHANDLED_UPDATE",
        BadScheduleNexusOperationAttributes = 32 => "BAD_SCHEDULE_NEXUS_OPERATION_ATTRIBUTES",
        PendingNexusOperationsLimitExceeded = 33 => "PENDING_NEXUS_OPERATIONS_LIMIT_EXCEEDED",
        BadRequestCancelNexusOperationAttributes = 34 => "BAD_REQUEST_CANCEL_NEXUS_OPERATION_ATTRIBUTES",
        FeatureDisabled = 35 => "FEATURE_DISABLED",
        GrpcMessageTooLarge = 36 => "GRPC_MESSAGE_TOO_LARGE",
    }
}

proto_enum! {
    PendingWorkflowTaskState, "PENDING_WORKFLOW_TASK_STATE_" {
        Unspecified = 0 => "UNSPECIFIED",
        Scheduled = 1 => "SCHEDULED",
        Started = 2 => "STARTED",
    }
}

proto_enum! {
    WorkflowIdReusePolicy, "WORKFLOW_ID_REUSE_POLICY_" {
        Unspecified = 0 => "UNSPECIFIED",
        AllowDuplicate = 1 => "ALLOW_DUPLICATE",
        AllowDuplicateFailedOnly = 2 => "ALLOW_DUPLICATE_FAILED_ONLY",
        RejectDuplicate = 3 => "REJECT_DUPLICATE",
        TerminateIfRunning = 4 => "TERMINATE_IF_RUNNING",
    }
}

proto_enum! {
    WorkflowIdConflictPolicy, "WORKFLOW_ID_CONFLICT_POLICY_" {
        Unspecified = 0 => "UNSPECIFIED",
        Fail = 1 => "FAIL",
        UseExisting = 2 => "USE_EXISTING",
        TerminateExisting = 3 => "TERMINATE_EXISTING",
    }
}

proto_enum! {
    ContinueAsNewInitiator, "CONTINUE_AS_NEW_INITIATOR_" {
        Unspecified = 0 => "UNSPECIFIED",
        Workflow = 1 => "WORKFLOW",
        Retry = 2 => "RETRY",
        CronSchedule = 3 => "CRON_SCHEDULE",
    }
}

// ---------------------------------------------------------------------------------------------
// History events

/// One history event: `{eventId, eventTime, eventType, taskId, <name>EventAttributes}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "int64_as_string")]
    pub event_id: i64,
    pub event_time: Timestamp,
    pub event_type: EventType,
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "int64_as_string")]
    pub task_id: i64,
    #[serde(flatten)]
    pub attributes: Attributes,
}

impl HistoryEvent {
    pub fn new(event_id: i64, event_time: Timestamp, task_id: i64, attributes: Attributes) -> Self {
        HistoryEvent {
            event_id,
            event_time,
            event_type: attributes.event_type(),
            task_id,
            attributes,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct History {
    #[serde(skip_serializing_if = "is_default")]
    pub events: Vec<HistoryEvent>,
}

macro_rules! attributes {
    ($($variant:ident($attrs:ident) = $key:tt,)+) => {
        /// The one attributes object of an event, keyed by its JSON name.
        #[allow(clippy::large_enum_variant, reason = "events are built and written one at a time")]
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
        pub enum Attributes {
            $(#[serde(rename = $key)] $variant($attrs),)+
        }

        impl Attributes {
            pub fn event_type(&self) -> EventType {
                match self { $(Attributes::$variant(_) => EventType::$variant,)+ }
            }
        }
    };
}

attributes! {
    WorkflowExecutionStarted(WorkflowExecutionStartedEventAttributes) = "workflowExecutionStartedEventAttributes",
    WorkflowExecutionCompleted(WorkflowExecutionCompletedEventAttributes) = "workflowExecutionCompletedEventAttributes",
    WorkflowExecutionFailed(WorkflowExecutionFailedEventAttributes) = "workflowExecutionFailedEventAttributes",
    WorkflowExecutionTimedOut(WorkflowExecutionTimedOutEventAttributes) = "workflowExecutionTimedOutEventAttributes",
    WorkflowTaskScheduled(WorkflowTaskScheduledEventAttributes) = "workflowTaskScheduledEventAttributes",
    WorkflowTaskStarted(WorkflowTaskStartedEventAttributes) = "workflowTaskStartedEventAttributes",
    WorkflowTaskCompleted(WorkflowTaskCompletedEventAttributes) = "workflowTaskCompletedEventAttributes",
    WorkflowTaskTimedOut(WorkflowTaskTimedOutEventAttributes) = "workflowTaskTimedOutEventAttributes",
    WorkflowTaskFailed(WorkflowTaskFailedEventAttributes) = "workflowTaskFailedEventAttributes",
    ActivityTaskScheduled(ActivityTaskScheduledEventAttributes) = "activityTaskScheduledEventAttributes",
    ActivityTaskStarted(ActivityTaskStartedEventAttributes) = "activityTaskStartedEventAttributes",
    ActivityTaskCompleted(ActivityTaskCompletedEventAttributes) = "activityTaskCompletedEventAttributes",
    ActivityTaskFailed(ActivityTaskFailedEventAttributes) = "activityTaskFailedEventAttributes",
    ActivityTaskTimedOut(ActivityTaskTimedOutEventAttributes) = "activityTaskTimedOutEventAttributes",
    ActivityTaskCancelRequested(ActivityTaskCancelRequestedEventAttributes) = "activityTaskCancelRequestedEventAttributes",
    ActivityTaskCanceled(ActivityTaskCanceledEventAttributes) = "activityTaskCanceledEventAttributes",
    TimerStarted(TimerStartedEventAttributes) = "timerStartedEventAttributes",
    TimerFired(TimerFiredEventAttributes) = "timerFiredEventAttributes",
    TimerCanceled(TimerCanceledEventAttributes) = "timerCanceledEventAttributes",
    WorkflowExecutionCancelRequested(WorkflowExecutionCancelRequestedEventAttributes) = "workflowExecutionCancelRequestedEventAttributes",
    WorkflowExecutionCanceled(WorkflowExecutionCanceledEventAttributes) = "workflowExecutionCanceledEventAttributes",
    MarkerRecorded(MarkerRecordedEventAttributes) = "markerRecordedEventAttributes",
    WorkflowExecutionSignaled(WorkflowExecutionSignaledEventAttributes) = "workflowExecutionSignaledEventAttributes",
    WorkflowExecutionTerminated(WorkflowExecutionTerminatedEventAttributes) = "workflowExecutionTerminatedEventAttributes",
    WorkflowExecutionContinuedAsNew(WorkflowExecutionContinuedAsNewEventAttributes) = "workflowExecutionContinuedAsNewEventAttributes",
}

/// Declares an output message: camelCase, zero values omitted.
macro_rules! message {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(default, rename_all = "camelCase")]
        pub struct $name {
            $($(#[$fmeta])* #[serde(skip_serializing_if = "is_default")] pub $field: $ty,)*
        }
    };
}

/// Declares a request message: also accepts snake_case names, rejects unknown fields.
macro_rules! request {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(default, rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            $($(#[$fmeta])* #[serde(skip_serializing_if = "is_default")] pub $field: $ty,)*
        }
    };
}

/// int64 fields: `#[serde(with = "i64s")]` prints them as strings.
use int64_as_string as i64s;

message! {
    WorkflowExecutionStartedEventAttributes {
        workflow_type: Option<WorkflowType>,
        task_queue: Option<TaskQueue>,
        input: Option<Payloads>,
        workflow_execution_timeout: Option<Duration>,
        workflow_run_timeout: Option<Duration>,
        workflow_task_timeout: Option<Duration>,
        continued_execution_run_id: String,
        initiator: ContinueAsNewInitiator,
        continued_failure: Option<Failure>,
        last_completion_result: Option<Payloads>,
        original_execution_run_id: String,
        identity: String,
        first_execution_run_id: String,
        retry_policy: Option<RetryPolicy>,
        attempt: i32,
        workflow_execution_expiration_time: Option<Timestamp>,
        first_workflow_task_backoff: Option<Duration>,
        memo: Option<Memo>,
        search_attributes: Option<SearchAttributes>,
        header: Option<Header>,
        workflow_id: String,
        priority: Option<Priority>,
    }
}

message! {
    WorkflowExecutionCompletedEventAttributes {
        result: Option<Payloads>,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        workflow_task_completed_event_id: i64,
        new_execution_run_id: String,
    }
}

message! {
    WorkflowExecutionFailedEventAttributes {
        failure: Option<Failure>,
        retry_state: RetryState,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        workflow_task_completed_event_id: i64,
        new_execution_run_id: String,
    }
}

message! {
    WorkflowExecutionTimedOutEventAttributes {
        retry_state: RetryState,
        new_execution_run_id: String,
    }
}

message! {
    WorkflowTaskScheduledEventAttributes {
        task_queue: Option<TaskQueue>,
        start_to_close_timeout: Option<Duration>,
        attempt: i32,
    }
}

message! {
    WorkflowTaskStartedEventAttributes {
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        scheduled_event_id: i64,
        identity: String,
        request_id: String,
        suggest_continue_as_new: bool,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        history_size_bytes: i64,
    }
}

message! {
    WorkflowTaskCompletedEventAttributes {
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        scheduled_event_id: i64,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        started_event_id: i64,
        identity: String,
        /// The SDK's own record (`WorkflowTaskCompletedMetadata`: the flags it used), as sent.
        #[schema(schema_with = crate::schema::message)]
        sdk_metadata: Option<Value>,
        #[schema(schema_with = crate::schema::message)]
        metering_metadata: Option<Value>,
    }
}

message! {
    WorkflowTaskTimedOutEventAttributes {
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        scheduled_event_id: i64,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        started_event_id: i64,
        timeout_type: TimeoutType,
    }
}

message! {
    WorkflowTaskFailedEventAttributes {
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        scheduled_event_id: i64,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        started_event_id: i64,
        cause: WorkflowTaskFailedCause,
        failure: Option<Failure>,
        identity: String,
    }
}

/// The four timeouts are always printed, `"0s"` included.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ActivityTaskScheduledEventAttributes {
    #[serde(skip_serializing_if = "is_default")]
    pub activity_id: String,
    #[serde(skip_serializing_if = "is_default")]
    pub activity_type: Option<ActivityType>,
    #[serde(skip_serializing_if = "is_default")]
    pub task_queue: Option<TaskQueue>,
    #[serde(skip_serializing_if = "is_default")]
    pub header: Option<Header>,
    #[serde(skip_serializing_if = "is_default")]
    pub input: Option<Payloads>,
    pub schedule_to_close_timeout: Duration,
    pub schedule_to_start_timeout: Duration,
    pub start_to_close_timeout: Duration,
    pub heartbeat_timeout: Duration,
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "i64s", skip_serializing_if = "is_default")]
    pub workflow_task_completed_event_id: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub retry_policy: Option<RetryPolicy>,
    #[serde(skip_serializing_if = "is_default")]
    pub use_workflow_build_id: bool,
    #[serde(skip_serializing_if = "is_default")]
    pub priority: Option<Priority>,
}

message! {
    ActivityTaskStartedEventAttributes {
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        scheduled_event_id: i64,
        identity: String,
        request_id: String,
        attempt: i32,
        last_failure: Option<Failure>,
    }
}

message! {
    ActivityTaskCompletedEventAttributes {
        result: Option<Payloads>,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        scheduled_event_id: i64,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        started_event_id: i64,
        identity: String,
    }
}

message! {
    ActivityTaskFailedEventAttributes {
        failure: Option<Failure>,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        scheduled_event_id: i64,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        started_event_id: i64,
        identity: String,
        retry_state: RetryState,
    }
}

message! {
    ActivityTaskTimedOutEventAttributes {
        failure: Option<Failure>,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        scheduled_event_id: i64,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        started_event_id: i64,
        retry_state: RetryState,
    }
}

message! {
    ActivityTaskCancelRequestedEventAttributes {
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        scheduled_event_id: i64,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        workflow_task_completed_event_id: i64,
    }
}

message! {
    ActivityTaskCanceledEventAttributes {
        details: Option<Payloads>,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        latest_cancel_requested_event_id: i64,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        scheduled_event_id: i64,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        started_event_id: i64,
        identity: String,
    }
}

message! {
    TimerStartedEventAttributes {
        timer_id: String,
        start_to_fire_timeout: Option<Duration>,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        workflow_task_completed_event_id: i64,
    }
}

message! {
    TimerFiredEventAttributes {
        timer_id: String,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        started_event_id: i64,
    }
}

message! {
    TimerCanceledEventAttributes {
        timer_id: String,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        started_event_id: i64,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        workflow_task_completed_event_id: i64,
        identity: String,
    }
}

message! {
    WorkflowExecutionCancelRequestedEventAttributes {
        cause: String,
        identity: String,
    }
}

message! {
    WorkflowExecutionCanceledEventAttributes {
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        workflow_task_completed_event_id: i64,
        details: Option<Payloads>,
    }
}

message! {
    MarkerRecordedEventAttributes {
        marker_name: String,
        details: BTreeMap<String, Payloads>,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        workflow_task_completed_event_id: i64,
        header: Option<Header>,
        failure: Option<Failure>,
    }
}

message! {
    WorkflowExecutionSignaledEventAttributes {
        signal_name: String,
        input: Option<Payloads>,
        identity: String,
        header: Option<Header>,
        request_id: String,
    }
}

message! {
    WorkflowExecutionTerminatedEventAttributes {
        reason: String,
        details: Option<Payloads>,
        identity: String,
    }
}

message! {
    WorkflowExecutionContinuedAsNewEventAttributes {
        new_execution_run_id: String,
        workflow_type: Option<WorkflowType>,
        task_queue: Option<TaskQueue>,
        input: Option<Payloads>,
        workflow_run_timeout: Option<Duration>,
        workflow_task_timeout: Option<Duration>,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        workflow_task_completed_event_id: i64,
        backoff_start_interval: Option<Duration>,
        initiator: ContinueAsNewInitiator,
        failure: Option<Failure>,
        last_completion_result: Option<Payloads>,
        header: Option<Header>,
        memo: Option<Memo>,
        search_attributes: Option<SearchAttributes>,
    }
}

// ---------------------------------------------------------------------------------------------
// Worker commands

request! {
    /// One command of a workflow task completion; the attributes field matches `commandType`.
    Command {
        #[serde(alias = "command_type")]
        command_type: CommandType,
        #[serde(alias = "user_metadata")]
        #[schema(schema_with = crate::schema::message)]
        user_metadata: Option<Value>,
        #[serde(alias = "schedule_activity_task_command_attributes")]
        schedule_activity_task_command_attributes: Option<ScheduleActivityTaskCommandAttributes>,
        #[serde(alias = "start_timer_command_attributes")]
        start_timer_command_attributes: Option<StartTimerCommandAttributes>,
        #[serde(alias = "complete_workflow_execution_command_attributes")]
        complete_workflow_execution_command_attributes: Option<CompleteWorkflowExecutionCommandAttributes>,
        #[serde(alias = "fail_workflow_execution_command_attributes")]
        fail_workflow_execution_command_attributes: Option<FailWorkflowExecutionCommandAttributes>,
        #[serde(alias = "request_cancel_activity_task_command_attributes")]
        request_cancel_activity_task_command_attributes: Option<RequestCancelActivityTaskCommandAttributes>,
        #[serde(alias = "cancel_timer_command_attributes")]
        cancel_timer_command_attributes: Option<CancelTimerCommandAttributes>,
        #[serde(alias = "cancel_workflow_execution_command_attributes")]
        cancel_workflow_execution_command_attributes: Option<CancelWorkflowExecutionCommandAttributes>,
        #[serde(alias = "request_cancel_external_workflow_execution_command_attributes")]
        #[schema(schema_with = crate::schema::message)]
        request_cancel_external_workflow_execution_command_attributes: Option<Value>,
        #[serde(alias = "record_marker_command_attributes")]
        record_marker_command_attributes: Option<RecordMarkerCommandAttributes>,
        #[serde(alias = "continue_as_new_workflow_execution_command_attributes")]
        continue_as_new_workflow_execution_command_attributes: Option<ContinueAsNewWorkflowExecutionCommandAttributes>,
        #[serde(alias = "start_child_workflow_execution_command_attributes")]
        #[schema(schema_with = crate::schema::message)]
        start_child_workflow_execution_command_attributes: Option<Value>,
        #[serde(alias = "signal_external_workflow_execution_command_attributes")]
        #[schema(schema_with = crate::schema::message)]
        signal_external_workflow_execution_command_attributes: Option<Value>,
        #[serde(alias = "upsert_workflow_search_attributes_command_attributes")]
        #[schema(schema_with = crate::schema::message)]
        upsert_workflow_search_attributes_command_attributes: Option<Value>,
        #[serde(alias = "protocol_message_command_attributes")]
        #[schema(schema_with = crate::schema::message)]
        protocol_message_command_attributes: Option<Value>,
        #[serde(alias = "modify_workflow_properties_command_attributes")]
        #[schema(schema_with = crate::schema::message)]
        modify_workflow_properties_command_attributes: Option<Value>,
        #[serde(alias = "schedule_nexus_operation_command_attributes")]
        #[schema(schema_with = crate::schema::message)]
        schedule_nexus_operation_command_attributes: Option<Value>,
        #[serde(alias = "request_cancel_nexus_operation_command_attributes")]
        #[schema(schema_with = crate::schema::message)]
        request_cancel_nexus_operation_command_attributes: Option<Value>,
    }
}

request! {
    ScheduleActivityTaskCommandAttributes {
        #[serde(alias = "activity_id")]
        activity_id: String,
        #[serde(alias = "activity_type")]
        activity_type: Option<ActivityType>,
        #[serde(alias = "task_queue")]
        task_queue: Option<TaskQueue>,
        header: Option<Header>,
        input: Option<Payloads>,
        #[serde(alias = "schedule_to_close_timeout")]
        schedule_to_close_timeout: Option<Duration>,
        #[serde(alias = "schedule_to_start_timeout")]
        schedule_to_start_timeout: Option<Duration>,
        #[serde(alias = "start_to_close_timeout")]
        start_to_close_timeout: Option<Duration>,
        #[serde(alias = "heartbeat_timeout")]
        heartbeat_timeout: Option<Duration>,
        #[serde(alias = "retry_policy")]
        retry_policy: Option<RetryPolicy>,
        #[serde(alias = "request_eager_execution")]
        request_eager_execution: bool,
        #[serde(alias = "use_workflow_build_id")]
        use_workflow_build_id: bool,
        priority: Option<Priority>,
    }
}

request! {
    RequestCancelActivityTaskCommandAttributes {
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        #[serde(alias = "scheduled_event_id")]
        scheduled_event_id: i64,
    }
}

request! {
    StartTimerCommandAttributes {
        #[serde(alias = "timer_id")]
        timer_id: String,
        #[serde(alias = "start_to_fire_timeout")]
        start_to_fire_timeout: Option<Duration>,
    }
}

request! {
    CancelTimerCommandAttributes {
        #[serde(alias = "timer_id")]
        timer_id: String,
    }
}

request! {
    CompleteWorkflowExecutionCommandAttributes {
        result: Option<Payloads>,
    }
}

request! {
    FailWorkflowExecutionCommandAttributes {
        failure: Option<Failure>,
    }
}

request! {
    CancelWorkflowExecutionCommandAttributes {
        details: Option<Payloads>,
    }
}

request! {
    RecordMarkerCommandAttributes {
        #[serde(alias = "marker_name")]
        marker_name: String,
        details: BTreeMap<String, Payloads>,
        header: Option<Header>,
        failure: Option<Failure>,
    }
}

request! {
    ContinueAsNewWorkflowExecutionCommandAttributes {
        #[serde(alias = "workflow_type")]
        workflow_type: Option<WorkflowType>,
        #[serde(alias = "task_queue")]
        task_queue: Option<TaskQueue>,
        input: Option<Payloads>,
        #[serde(alias = "workflow_run_timeout")]
        workflow_run_timeout: Option<Duration>,
        #[serde(alias = "workflow_task_timeout")]
        workflow_task_timeout: Option<Duration>,
        #[serde(alias = "backoff_start_interval")]
        backoff_start_interval: Option<Duration>,
        #[serde(alias = "retry_policy")]
        retry_policy: Option<RetryPolicy>,
        initiator: ContinueAsNewInitiator,
        failure: Option<Failure>,
        #[serde(alias = "last_completion_result")]
        last_completion_result: Option<Payloads>,
        #[serde(alias = "cron_schedule")]
        cron_schedule: String,
        header: Option<Header>,
        memo: Option<Memo>,
        #[serde(alias = "search_attributes")]
        search_attributes: Option<SearchAttributes>,
        #[serde(alias = "inherit_build_id")]
        inherit_build_id: bool,
        #[serde(alias = "initial_versioning_behavior")]
        #[schema(schema_with = crate::schema::message)]
        initial_versioning_behavior: Option<Value>,
    }
}

// ---------------------------------------------------------------------------------------------
// Client requests

request! {
    /// `POST /workflows/{workflowId}`.
    StartWorkflowExecutionRequest {
        /// Ignored: the namespace comes from the URL.
        namespace: String,
        /// Ignored: the workflow id comes from the URL (at most 1000 bytes).
        #[serde(alias = "workflow_id")]
        workflow_id: String,
        /// The workflow's type, which the workflow worker dispatches on. Required.
        #[serde(alias = "workflow_type")]
        #[schema(required = true)]
        workflow_type: Option<WorkflowType>,
        /// Where workflow workers poll for its workflow tasks. Required.
        #[serde(alias = "task_queue")]
        #[schema(required = true)]
        task_queue: Option<TaskQueue>,
        /// The workflow's arguments.
        input: Option<Payloads>,
        /// Limit on the whole workflow, retries and continue-as-new included. Absent or `0s`:
        /// unlimited.
        #[serde(alias = "workflow_execution_timeout")]
        workflow_execution_timeout: Option<Duration>,
        /// Limit on one run. Default: `workflowExecutionTimeout`.
        #[serde(alias = "workflow_run_timeout")]
        workflow_run_timeout: Option<Duration>,
        /// Limit on one workflow task. Default `10s`, at most `120s`.
        #[serde(alias = "workflow_task_timeout")]
        workflow_task_timeout: Option<Duration>,
        /// Who makes the call, recorded in the history (at most 1000 bytes). Default: the API key's
        /// identity when keys are required, else empty.
        #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
        identity: String,
        /// Idempotency key: a retried start with the same request id answers the run it started.
        #[serde(alias = "request_id")]
        request_id: String,
        /// Whether a closed workflow's id may start again. Default
        /// `WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE`.
        #[serde(alias = "workflow_id_reuse_policy")]
        workflow_id_reuse_policy: WorkflowIdReusePolicy,
        /// What a start does while a workflow of this id runs. Default
        /// `WORKFLOW_ID_CONFLICT_POLICY_FAIL` (409 AlreadyExists);
        /// `WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING` answers the running one.
        #[serde(alias = "workflow_id_conflict_policy")]
        workflow_id_conflict_policy: WorkflowIdConflictPolicy,
        #[serde(alias = "retry_policy")]
        retry_policy: Option<RetryPolicy>,
        #[serde(alias = "cron_schedule")]
        cron_schedule: String,
        memo: Option<Memo>,
        #[serde(alias = "search_attributes")]
        search_attributes: Option<SearchAttributes>,
        header: Option<Header>,
        #[serde(alias = "request_eager_execution")]
        request_eager_execution: bool,
        #[serde(alias = "continued_failure")]
        continued_failure: Option<Failure>,
        #[serde(alias = "last_completion_result")]
        last_completion_result: Option<Payloads>,
        #[serde(alias = "workflow_start_delay")]
        workflow_start_delay: Option<Duration>,
        #[serde(alias = "completion_callbacks")]
        #[schema(schema_with = crate::schema::messages)]
        completion_callbacks: Vec<Value>,
        #[serde(alias = "user_metadata")]
        #[schema(schema_with = crate::schema::message)]
        user_metadata: Option<Value>,
        #[schema(schema_with = crate::schema::links)]
        links: Vec<Value>,
        #[serde(alias = "versioning_override")]
        #[schema(schema_with = crate::schema::message)]
        versioning_override: Option<Value>,
        #[serde(alias = "on_conflict_options")]
        #[schema(schema_with = crate::schema::message)]
        on_conflict_options: Option<Value>,
        priority: Option<Priority>,
        #[serde(alias = "eager_worker_deployment_options")]
        #[schema(schema_with = crate::schema::message)]
        eager_worker_deployment_options: Option<Value>,
    }
}

message! {
    StartWorkflowExecutionResponse {
        run_id: String,
        /// The first run of the chain (= `run_id` for a first run).
        first_execution_run_id: String,
        started: bool,
        status: WorkflowExecutionStatus,
        #[schema(schema_with = crate::schema::message)]
        eager_workflow_task: Option<Value>,
        #[schema(schema_with = crate::schema::link)]
        link: Option<Value>,
    }
}

request! {
    /// `POST /workflows/{workflowId}/signal/{signalName}`.
    SignalWorkflowExecutionRequest {
        namespace: String,
        #[serde(alias = "workflow_execution")]
        workflow_execution: Option<WorkflowExecution>,
        #[serde(alias = "signal_name")]
        signal_name: String,
        input: Option<Payloads>,
        #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
        identity: String,
        #[serde(alias = "request_id")]
        request_id: String,
        control: String,
        header: Option<Header>,
        #[schema(schema_with = crate::schema::links)]
        links: Vec<Value>,
    }
}

request! {
    /// `POST /workflows/{workflowId}/cancel`.
    RequestCancelWorkflowExecutionRequest {
        namespace: String,
        #[serde(alias = "workflow_execution")]
        workflow_execution: Option<WorkflowExecution>,
        #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
        identity: String,
        #[serde(alias = "request_id")]
        request_id: String,
        #[serde(alias = "first_execution_run_id")]
        first_execution_run_id: String,
        reason: String,
        #[schema(schema_with = crate::schema::links)]
        links: Vec<Value>,
    }
}

request! {
    /// `POST /workflows/{workflowId}/terminate`.
    TerminateWorkflowExecutionRequest {
        namespace: String,
        #[serde(alias = "workflow_execution")]
        workflow_execution: Option<WorkflowExecution>,
        reason: String,
        details: Option<Payloads>,
        #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
        identity: String,
        #[serde(alias = "first_execution_run_id")]
        first_execution_run_id: String,
        #[schema(schema_with = crate::schema::links)]
        links: Vec<Value>,
    }
}

message! {
    GetWorkflowExecutionHistoryResponse {
        history: Option<History>,
        /// base64
        next_page_token: String,
        archived: bool,
    }
}

// ---------------------------------------------------------------------------------------------
// Worker protocol

request! {
    PollWorkflowTaskQueueRequest {
        /// Ignored: the namespace comes from the URL.
        namespace: String,
        /// The queue to take a workflow task from. Required, with a non-empty name.
        #[serde(alias = "task_queue")]
        #[schema(required = true)]
        task_queue: Option<TaskQueue>,
        #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
        identity: String,
        #[serde(alias = "binary_checksum")]
        binary_checksum: String,
        #[serde(alias = "worker_version_capabilities")]
        #[schema(schema_with = crate::schema::message)]
        worker_version_capabilities: Option<Value>,
        #[serde(alias = "deployment_options")]
        #[schema(schema_with = crate::schema::message)]
        deployment_options: Option<Value>,
        #[serde(alias = "worker_instance_key")]
        worker_instance_key: String,
        #[serde(alias = "poller_group_id")]
        poller_group_id: String,
        #[serde(alias = "worker_control_task_queue")]
        worker_control_task_queue: String,
    }
}

message! {
    /// A workflow task for a worker; the all-default value prints `{}` (a poll that timed out).
    PollWorkflowTaskQueueResponse {
        /// base64
        task_token: String,
        workflow_execution: Option<WorkflowExecution>,
        workflow_type: Option<WorkflowType>,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        previous_started_event_id: i64,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        started_event_id: i64,
        attempt: i32,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        backlog_count_hint: i64,
        history: Option<History>,
        next_page_token: String,
        /// Set on a query task: answer it with `RespondQueryTaskCompleted`, not with commands.
        query: Option<WorkflowQuery>,
        workflow_execution_task_queue: Option<TaskQueue>,
        scheduled_time: Option<Timestamp>,
        started_time: Option<Timestamp>,
        #[schema(schema_with = crate::schema::message_map)]
        queries: BTreeMap<String, Value>,
        #[schema(schema_with = crate::schema::messages)]
        messages: Vec<Value>,
        #[schema(schema_with = crate::schema::message)]
        poller_scaling_decision: Option<Value>,
    }
}

request! {
    /// A worker's request that the run's next workflow tasks come to its own queue.
    StickyExecutionAttributes {
        #[serde(alias = "worker_task_queue")]
        worker_task_queue: Option<TaskQueue>,
        #[serde(alias = "schedule_to_start_timeout")]
        schedule_to_start_timeout: Option<Duration>,
    }
}

request! {
    RespondWorkflowTaskCompletedRequest {
        /// base64
        #[serde(alias = "task_token")]
        #[schema(required = true)]
        task_token: String,
        commands: Vec<Command>,
        #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
        identity: String,
        #[serde(alias = "sticky_attributes")]
        sticky_attributes: Option<StickyExecutionAttributes>,
        #[serde(alias = "return_new_workflow_task")]
        return_new_workflow_task: bool,
        #[serde(alias = "force_create_new_workflow_task")]
        force_create_new_workflow_task: bool,
        #[serde(alias = "binary_checksum")]
        binary_checksum: String,
        #[serde(alias = "query_results")]
        #[schema(schema_with = crate::schema::message_map)]
        query_results: BTreeMap<String, Value>,
        namespace: String,
        #[serde(alias = "worker_version_stamp")]
        #[schema(schema_with = crate::schema::message)]
        worker_version_stamp: Option<Value>,
        #[schema(schema_with = crate::schema::messages)]
        messages: Vec<Value>,
        #[serde(alias = "sdk_metadata")]
        #[schema(schema_with = crate::schema::message)]
        sdk_metadata: Option<Value>,
        #[serde(alias = "metering_metadata")]
        #[schema(schema_with = crate::schema::message)]
        metering_metadata: Option<Value>,
        #[schema(schema_with = crate::schema::message)]
        capabilities: Option<Value>,
        #[schema(schema_with = crate::schema::message)]
        deployment: Option<Value>,
        #[serde(alias = "versioning_behavior")]
        #[schema(schema_with = crate::schema::message)]
        versioning_behavior: Option<Value>,
        #[serde(alias = "deployment_options")]
        #[schema(schema_with = crate::schema::message)]
        deployment_options: Option<Value>,
        #[serde(alias = "worker_instance_key")]
        worker_instance_key: String,
    }
}

request! {
    RespondWorkflowTaskFailedRequest {
        /// base64
        #[serde(alias = "task_token")]
        #[schema(required = true)]
        task_token: String,
        cause: WorkflowTaskFailedCause,
        failure: Option<Failure>,
        #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
        identity: String,
        #[serde(alias = "binary_checksum")]
        binary_checksum: String,
        namespace: String,
        #[schema(schema_with = crate::schema::messages)]
        messages: Vec<Value>,
        #[serde(alias = "worker_version")]
        #[schema(schema_with = crate::schema::message)]
        worker_version: Option<Value>,
        #[schema(schema_with = crate::schema::message)]
        deployment: Option<Value>,
        #[serde(alias = "deployment_options")]
        #[schema(schema_with = crate::schema::message)]
        deployment_options: Option<Value>,
    }
}

/// Query string of `GET /workflows/{workflowId}` (describe).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct DescribeWorkflowExecutionQuery {
    /// The run to describe. Default: the latest run.
    #[serde(rename = "execution.runId", alias = "execution.run_id")]
    pub run_id: String,
}

/// Query string of `GET /workflows/{workflowId}/history`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct GetWorkflowExecutionHistoryQuery {
    /// The run whose events to read. Default: the latest run.
    #[serde(rename = "execution.runId", alias = "execution.run_id")]
    pub run_id: String,
    /// Events per page, at most 1000. Default (0): 1000.
    #[serde(rename = "maximumPageSize", alias = "maximum_page_size")]
    pub maximum_page_size: i32,
    /// base64
    #[serde(rename = "nextPageToken", alias = "next_page_token")]
    pub next_page_token: String,
    /// With a `nextPageToken`: long-poll for events after that page (see the operation). Default
    /// false.
    #[serde(rename = "waitNewEvent", alias = "wait_new_event")]
    pub wait_new_event: bool,
    /// `HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT`: only the close event, waiting for it with
    /// `waitNewEvent`. Default: all events.
    #[serde(rename = "historyEventFilterType", alias = "history_event_filter_type")]
    pub history_event_filter_type: HistoryEventFilterType,
    /// Accepted for Temporal compatibility; Waymark has no archival.
    #[serde(rename = "skipArchival", alias = "skip_archival")]
    pub skip_archival: bool,
}

proto_enum! {
    HistoryEventFilterType, "HISTORY_EVENT_FILTER_TYPE_" {
        Unspecified = 0 => "UNSPECIFIED",
        AllEvent = 1 => "ALL_EVENT",
        CloseEvent = 2 => "CLOSE_EVENT",
    }
}

/// Query string of `GET /workflows` and `GET /workflow-count`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, rename_all = "camelCase")]
pub struct ListWorkflowExecutionsQuery {
    /// Executions per page, at most 1000. Default (0): 1000.
    #[serde(alias = "page_size")]
    #[param(example = 10)]
    pub page_size: i32,
    #[serde(alias = "next_page_token")]
    pub next_page_token: String,
    /// A visibility query in Temporal's SQL-like syntax (at most 10,000 characters), e.g.
    /// `WorkflowType = 'OrderWorkflow' AND ExecutionStatus = 'Running'`. Default: every execution.
    #[param(example = "WorkflowType = 'OrderWorkflow'")]
    pub query: String,
}

message! {
    ListWorkflowExecutionsResponse {
        executions: Vec<WorkflowExecutionInfo>,
        /// base64
        next_page_token: String,
    }
}

message! {
    /// `POST /workflows/{workflowId}/signal/{signalName}` answers its event's link.
    SignalWorkflowExecutionResponse {
        #[schema(schema_with = crate::schema::link)]
        link: Option<Value>,
    }
}

request! {
    /// `POST /workflows/{workflowId}/signal-with-start/{signalName}`.
    SignalWithStartWorkflowExecutionRequest {
        /// Ignored: the namespace comes from the URL.
        namespace: String,
        /// Ignored: the workflow id comes from the URL (at most 1000 bytes).
        #[serde(alias = "workflow_id")]
        workflow_id: String,
        /// The workflow's type, which the workflow worker dispatches on. Required.
        #[serde(alias = "workflow_type")]
        #[schema(required = true)]
        workflow_type: Option<WorkflowType>,
        /// Where workflow workers poll for its workflow tasks. Required.
        #[serde(alias = "task_queue")]
        #[schema(required = true)]
        task_queue: Option<TaskQueue>,
        /// The workflow's arguments.
        input: Option<Payloads>,
        /// Limit on the whole workflow, retries and continue-as-new included. Absent or `0s`:
        /// unlimited.
        #[serde(alias = "workflow_execution_timeout")]
        workflow_execution_timeout: Option<Duration>,
        /// Limit on one run. Default: `workflowExecutionTimeout`.
        #[serde(alias = "workflow_run_timeout")]
        workflow_run_timeout: Option<Duration>,
        /// Limit on one workflow task. Default `10s`, at most `120s`.
        #[serde(alias = "workflow_task_timeout")]
        workflow_task_timeout: Option<Duration>,
        /// Who makes the call, recorded in the history (at most 1000 bytes). Default: the API key's
        /// identity when keys are required, else empty.
        #[serde(default = "identity::caller", deserialize_with = "identity::or_caller")]
        identity: String,
        /// Idempotency key: a retried start with the same request id answers the run it started.
        #[serde(alias = "request_id")]
        request_id: String,
        /// Whether a closed workflow's id may start again. Default
        /// `WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE`.
        #[serde(alias = "workflow_id_reuse_policy")]
        workflow_id_reuse_policy: WorkflowIdReusePolicy,
        /// What a start does while a workflow of this id runs. Default
        /// `WORKFLOW_ID_CONFLICT_POLICY_FAIL` (409 AlreadyExists);
        /// `WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING` answers the running one.
        #[serde(alias = "workflow_id_conflict_policy")]
        workflow_id_conflict_policy: WorkflowIdConflictPolicy,
        #[serde(alias = "signal_name")]
        signal_name: String,
        #[serde(alias = "signal_input")]
        signal_input: Option<Payloads>,
        control: String,
        #[serde(alias = "retry_policy")]
        retry_policy: Option<RetryPolicy>,
        #[serde(alias = "cron_schedule")]
        cron_schedule: String,
        memo: Option<Memo>,
        #[serde(alias = "search_attributes")]
        search_attributes: Option<SearchAttributes>,
        header: Option<Header>,
        #[serde(alias = "workflow_start_delay")]
        workflow_start_delay: Option<Duration>,
        #[serde(alias = "user_metadata")]
        #[schema(schema_with = crate::schema::message)]
        user_metadata: Option<Value>,
        #[schema(schema_with = crate::schema::links)]
        links: Vec<Value>,
        priority: Option<Priority>,
    }
}

impl SignalWithStartWorkflowExecutionRequest {
    /// The start part of the request.
    pub fn start_request(&self) -> StartWorkflowExecutionRequest {
        StartWorkflowExecutionRequest {
            workflow_id: self.workflow_id.clone(),
            workflow_type: self.workflow_type.clone(),
            task_queue: self.task_queue.clone(),
            input: self.input.clone(),
            workflow_execution_timeout: self.workflow_execution_timeout,
            workflow_run_timeout: self.workflow_run_timeout,
            workflow_task_timeout: self.workflow_task_timeout,
            identity: self.identity.clone(),
            request_id: self.request_id.clone(),
            workflow_id_reuse_policy: self.workflow_id_reuse_policy,
            workflow_id_conflict_policy: self.workflow_id_conflict_policy,
            retry_policy: self.retry_policy.clone(),
            cron_schedule: self.cron_schedule.clone(),
            memo: self.memo.clone(),
            search_attributes: self.search_attributes.clone(),
            header: self.header.clone(),
            workflow_start_delay: self.workflow_start_delay,
            priority: self.priority.clone(),
            ..Default::default()
        }
    }
}

message! {
    SignalWithStartWorkflowExecutionResponse {
        run_id: String,
        started: bool,
        #[schema(schema_with = crate::schema::link)]
        link: Option<Value>,
    }
}

// ---------------------------------------------------------------------------------------------
// Queries

proto_enum! {
    QueryRejectCondition, "QUERY_REJECT_CONDITION_" {
        Unspecified = 0 => "UNSPECIFIED",
        None = 1 => "NONE",
        NotOpen = 2 => "NOT_OPEN",
        NotCompletedCleanly = 3 => "NOT_COMPLETED_CLEANLY",
    }
}

proto_enum! {
    QueryResultType, "QUERY_RESULT_TYPE_" {
        Unspecified = 0 => "UNSPECIFIED",
        Answered = 1 => "ANSWERED",
        Failed = 2 => "FAILED",
    }
}

request! {
    /// A query of a workflow's state: its type (a handler's name), arguments and header.
    WorkflowQuery {
        #[serde(alias = "query_type")]
        query_type: String,
        #[serde(alias = "query_args")]
        query_args: Option<Payloads>,
        header: Option<Header>,
    }
}

request! {
    /// `POST /workflows/{workflowId}/query/{queryType}`.
    QueryWorkflowRequest {
        namespace: String,
        execution: Option<WorkflowExecution>,
        query: Option<WorkflowQuery>,
        #[serde(alias = "query_reject_condition")]
        query_reject_condition: QueryRejectCondition,
    }
}

message! {
    /// Why a query was not run: the run's status failed its `queryRejectCondition`.
    QueryRejected {
        status: WorkflowExecutionStatus,
    }
}

message! {
    QueryWorkflowResponse {
        query_result: Option<Payloads>,
        query_rejected: Option<QueryRejected>,
    }
}

request! {
    /// A worker's answer to a query task (`POST /workflow-tasks/query-complete`).
    RespondQueryTaskCompletedRequest {
        /// base64
        #[serde(alias = "task_token")]
        #[schema(required = true)]
        task_token: String,
        #[serde(alias = "completed_type")]
        completed_type: QueryResultType,
        #[serde(alias = "query_result")]
        query_result: Option<Payloads>,
        #[serde(alias = "error_message")]
        error_message: String,
        namespace: String,
        failure: Option<Failure>,
    }
}

// ---------------------------------------------------------------------------------------------
// Describe

message! {
    DescribeWorkflowExecutionResponse {
        execution_config: Option<WorkflowExecutionConfig>,
        workflow_execution_info: Option<WorkflowExecutionInfo>,
        pending_activities: Vec<PendingActivityInfo>,
        pending_workflow_task: Option<PendingWorkflowTaskInfo>,
        workflow_extended_info: Option<WorkflowExecutionExtendedInfo>,
    }
}

message! {
    WorkflowExecutionConfig {
        task_queue: Option<TaskQueue>,
        workflow_execution_timeout: Option<Duration>,
        workflow_run_timeout: Option<Duration>,
        default_workflow_task_timeout: Option<Duration>,
    }
}

/// `memo`, `searchAttributes` and `autoResetPoints` print `{}` when empty, so they are not skipped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct WorkflowExecutionInfo {
    #[serde(skip_serializing_if = "is_default")]
    pub execution: Option<WorkflowExecution>,
    #[serde(skip_serializing_if = "is_default")]
    pub r#type: Option<WorkflowType>,
    #[serde(skip_serializing_if = "is_default")]
    pub start_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "is_default")]
    pub close_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "is_default")]
    pub status: WorkflowExecutionStatus,
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "i64s", skip_serializing_if = "is_default")]
    pub history_length: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub execution_time: Option<Timestamp>,
    pub memo: Memo,
    pub search_attributes: SearchAttributes,
    #[schema(schema_with = crate::schema::message)]
    pub auto_reset_points: Value,
    #[serde(skip_serializing_if = "is_default")]
    pub task_queue: String,
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "i64s", skip_serializing_if = "is_default")]
    pub state_transition_count: i64,
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "i64s", skip_serializing_if = "is_default")]
    pub history_size_bytes: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub execution_duration: Option<Duration>,
    #[serde(skip_serializing_if = "is_default")]
    pub root_execution: Option<WorkflowExecution>,
    #[serde(skip_serializing_if = "is_default")]
    pub first_run_id: String,
    #[serde(skip_serializing_if = "is_default")]
    pub priority: Option<Priority>,
}

message! {
    PendingActivityInfo {
        activity_id: String,
        activity_type: Option<ActivityType>,
        state: PendingActivityState,
        heartbeat_details: Option<Payloads>,
        last_heartbeat_time: Option<Timestamp>,
        last_started_time: Option<Timestamp>,
        attempt: i32,
        maximum_attempts: i32,
        scheduled_time: Option<Timestamp>,
        expiration_time: Option<Timestamp>,
        last_failure: Option<Failure>,
        last_worker_identity: String,
        current_retry_interval: Option<Duration>,
        last_attempt_complete_time: Option<Timestamp>,
        next_attempt_schedule_time: Option<Timestamp>,
        activity_options: Option<ActivityOptions>,
        paused: bool,
        pause_info: Option<PauseInfo>,
    }
}

message! {
    /// Why and since when a pending activity is paused.
    PauseInfo {
        pause_time: Option<Timestamp>,
        manual: Option<ManualPause>,
    }
}

message! {
    /// A pause by an operator's call.
    ManualPause {
        identity: String,
        reason: String,
    }
}

message! {
    PendingWorkflowTaskInfo {
        state: PendingWorkflowTaskState,
        scheduled_time: Option<Timestamp>,
        original_scheduled_time: Option<Timestamp>,
        started_time: Option<Timestamp>,
        attempt: i32,
    }
}

message! {
    WorkflowExecutionExtendedInfo {
        execution_expiration_time: Option<Timestamp>,
        run_expiration_time: Option<Timestamp>,
        cancel_requested: bool,
        original_start_time: Option<Timestamp>,
        request_id_infos: BTreeMap<String, RequestIdInfo>,
    }
}

message! {
    RequestIdInfo {
        event_type: EventType,
        #[schema(schema_with = crate::schema::int64)]
        #[serde(with = "i64s")]
        event_id: i64,
        buffered: bool,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_print_their_one_attributes_object_and_read_back() {
        let attrs = ActivityTaskCompletedEventAttributes {
            result: Some(Payloads(vec![json!("done").into()])),
            scheduled_event_id: 5,
            started_event_id: 6,
            identity: "w".into(),
        };
        let e = HistoryEvent::new(
            7,
            Timestamp::from_unix_millis(1000),
            9,
            Attributes::ActivityTaskCompleted(attrs),
        );
        let text = serde_json::to_value(&e).unwrap();
        assert_eq!(
            text,
            json!({"eventId":"7","eventTime":"1970-01-01T00:00:01Z","eventType":"EVENT_TYPE_ACTIVITY_TASK_COMPLETED",
                   "taskId":"9","activityTaskCompletedEventAttributes":
                   {"result":["done"],"scheduledEventId":"5","startedEventId":"6","identity":"w"}})
        );
        assert_eq!(serde_json::from_value::<HistoryEvent>(text).unwrap(), e);
    }

    #[test]
    fn scheduled_activity_prints_all_four_timeouts() {
        let a = ActivityTaskScheduledEventAttributes {
            start_to_close_timeout: Duration::from_secs(10),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            json!({"scheduleToCloseTimeout":"0s","scheduleToStartTimeout":"0s","startToCloseTimeout":"10s","heartbeatTimeout":"0s"})
        );
    }

    #[test]
    fn commands_accept_snake_case_and_reject_unknown_fields() {
        let c: Command = serde_json::from_value(json!({
            "command_type": "COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK",
            "request_cancel_activity_task_command_attributes": {"scheduled_event_id": "5"}
        }))
        .unwrap();
        assert_eq!(
            c.request_cancel_activity_task_command_attributes
                .unwrap()
                .scheduled_event_id,
            5
        );
        let err =
            serde_json::from_value::<Command>(json!({"commandType": 1, "bogus": 1})).unwrap_err();
        assert!(err.to_string().contains("unknown field `bogus`"), "{err}");
        assert!(
            serde_json::from_value::<Command>(json!({"commandType": "COMMAND_TYPE_NOPE"})).is_err()
        );
    }

    #[test]
    fn enum_names_read_as_camel_case_in_messages() {
        assert_eq!(
            CommandType::CompleteWorkflowExecution.camel_name(),
            "CompleteWorkflowExecution"
        );
        assert_eq!(CommandType::Unspecified.camel_name(), "Unspecified");
        assert_eq!(
            WorkflowTaskFailedCause::BadScheduleActivityAttributes.camel_name(),
            "BadScheduleActivityAttributes"
        );
    }

    #[test]
    fn an_empty_poll_answer_prints_an_empty_object() {
        assert_eq!(
            serde_json::to_string(&PollWorkflowTaskQueueResponse::default()).unwrap(),
            "{}"
        );
    }
}
