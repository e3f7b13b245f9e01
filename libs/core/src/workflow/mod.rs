//! Workflow runs (WORKFLOWS.md): one pure function, `Workflow::apply(command, now) ->
//! WorkflowTransition`, that the history service loads, calls and commits with the transition's
//! new events, timers and dispatches. Ids (run ids, request ids) come in as arguments; timers
//! are idempotent: on firing, the machine checks that what they name is still current and
//! re-derives the deadline from the state, so a stale timer is a no-op and an early one re-arms.

mod activities;
mod commands;
mod events;
mod queries;
mod start;
mod state;
mod tasks;
mod views;
pub use waymark_api::workflow as wire;

pub use events::closes_activity;
pub use start::{NewRun, StartDecision, StartOptions, decide_start, validate_start};
pub use state::{
    ActivityState, ActivityTimer, Pause, PendingActivity, PendingTimer, RunningAttempt,
    StartedTask, Status, StickyQueue, Timer, TimerKind, Workflow, WorkflowTask, WorkflowTaskRef,
};
pub use wire::{Command, HistoryEvent, WorkflowTaskFailedCause};

use waymark_api::{
    Code, Failure, Header, Payloads, RecordActivityTaskHeartbeatResponse, Timestamp,
};

use crate::limits::HistoryLimits;

/// Which activity attempt a worker's call speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActivityTarget {
    /// A task token: the activity's Scheduled event id, the attempt it was issued for and the
    /// activity's reset stamp then.
    Token {
        scheduled_event_id: i64,
        attempt: i32,
        stamp: i32,
    },
    /// A by-id call (W12): any attempt of the pending activity with this id.
    Id(String),
}

/// RespondWorkflowTaskCompleted: the worker's answer to its started task.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskCompletion {
    pub task: WorkflowTaskRef,
    pub commands: Vec<Command>,
    pub identity: String,
    /// Schedule a new task even if nothing new happened (a local activity heartbeating).
    pub force_create_new_task: bool,
    /// The worker's own queue for the run's next tasks; `None`: the run's task queue.
    pub sticky: Option<StickyQueue>,
    /// The run id a continue-as-new in `commands` gives the new run.
    pub new_run_id: String,
    /// What the SDK records in the task's Completed event (the flags it used), for its replays.
    pub sdk_metadata: Option<serde_json::Value>,
    pub metering_metadata: Option<serde_json::Value>,
}

/// Everything that can happen to a workflow run after its start (`Workflow::start`).
#[derive(Clone, Debug, PartialEq)]
pub enum WorkflowCommand {
    /// Matching hands the dispatched workflow task to a poller.
    RecordTaskStarted {
        scheduled_event_id: i64,
        attempt: i32,
        identity: String,
        request_id: String,
    },
    /// RespondWorkflowTaskCompleted. `new_run_id` is used if a command continues as new.
    CompleteTask(TaskCompletion),
    /// RespondWorkflowTaskFailed.
    FailTask {
        task: WorkflowTaskRef,
        cause: WorkflowTaskFailedCause,
        failure: Option<Failure>,
        identity: String,
    },
    Signal {
        name: String,
        input: Option<Payloads>,
        identity: String,
        request_id: String,
        header: Option<Header>,
    },
    RequestCancel {
        reason: String,
        identity: String,
        request_id: String,
    },
    Terminate {
        reason: String,
        details: Option<Payloads>,
        identity: String,
    },
    /// Matching hands a dispatched activity attempt to a poller.
    RecordActivityStarted {
        scheduled_event_id: i64,
        attempt: i32,
        identity: String,
        request_id: String,
    },
    ActivityHeartbeat {
        target: ActivityTarget,
        details: Option<Payloads>,
    },
    CompleteActivity {
        target: ActivityTarget,
        result: Option<Payloads>,
        identity: String,
    },
    FailActivity {
        target: ActivityTarget,
        failure: Option<Failure>,
        last_heartbeat_details: Option<Payloads>,
        identity: String,
    },
    ResolveActivityCanceled {
        target: ActivityTarget,
        details: Option<Payloads>,
        identity: String,
    },
    TimerFired(TimerKind),
    /// An operator's command on a pending activity, named by its activity id.
    Operate {
        activity_id: String,
        operation: ActivityOperation,
    },
}

/// Pause, unpause, reset or update the options of a workflow's pending activity (SEMANTICS
/// §8.7: the same rules as for standalone activities).
#[allow(clippy::large_enum_variant)] // built once per request, as `activity::Command`
#[derive(Clone, Debug, PartialEq)]
pub enum ActivityOperation {
    Pause {
        identity: String,
        reason: String,
    },
    Unpause {
        /// Already drawn from the request's jitter.
        jitter: waymark_api::Duration,
    },
    Reset(crate::activity::ResetOptions),
    UpdateOptions(crate::activity::OptionsUpdate),
}

/// Why a command was refused: nothing is written. `code()` gives the API error code.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum WorkflowError {
    #[error("workflow execution already completed")]
    AlreadyCompleted,
    #[error("Workflow task not found.")]
    WorkflowTaskNotFound,
    #[error("invalid activityID or activity already timed out or invoking workflow is completed")]
    ActivityTaskNotFound,
    #[error(
        "cannot find pending activity with ActivityID {0}, check workflow execution history for more details"
    )]
    PendingActivityNotFound(String),
    /// An operator's command names no pending activity.
    #[error(
        "Can't find pending activity with such ID. Invalid activityID or activity already completed"
    )]
    NoPendingActivity,
    #[error("{0}")]
    InvalidArgument(String),
    /// An operator's command on an activity, refused as for a standalone activity.
    #[error(transparent)]
    Operation(#[from] crate::activity::ActivityError),
    /// A dispatched task no longer matches the run (duplicate, old attempt, closed): drop it.
    #[error("task is stale")]
    StaleTask,
}

impl WorkflowError {
    pub fn code(&self) -> Code {
        match self {
            WorkflowError::InvalidArgument(_) => Code::InvalidArgument,
            WorkflowError::Operation(e) => e.code(),
            _ => Code::NotFound,
        }
    }
}

/// An activity attempt to hand to its task queue after commit.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivityDispatch {
    pub scheduled_event_id: i64,
    pub attempt: i32,
    pub task_queue: String,
    /// Its place in the queue (`options::task_priority`).
    pub priority: crate::options::TaskPriority,
}

/// A workflow task to hand to the workflow's task queue after commit.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowTaskDispatch {
    pub scheduled_event_id: i64,
    pub attempt: i32,
    pub task_queue: String,
    /// Its place in the queue: the workflow's (`options::task_priority`).
    pub priority: crate::options::TaskPriority,
}

/// The run a continue-as-new asks for: call `Workflow::start(run, options, now)` after commit.
#[derive(Clone, Debug, PartialEq)]
pub struct ContinuedAsNew {
    pub run: NewRun,
    pub options: StartOptions,
}

/// The result of applying a command: the new state and what must be committed with it.
#[derive(Clone, Debug)]
pub struct WorkflowTransition {
    pub workflow: Workflow,
    /// Permanent history events, in order, with their final ids.
    pub new_events: Vec<HistoryEvent>,
    pub timers: Vec<Timer>,
    pub activity_dispatches: Vec<ActivityDispatch>,
    pub workflow_task_dispatch: Option<WorkflowTaskDispatch>,
    /// Nothing changed (an idempotent repeat or a stale timer): nothing to write.
    pub noop: bool,
    /// The run closed: its remaining timers can be deleted.
    pub closed: bool,
    /// Commit, then answer the caller `400 InvalidArgument` with this message (W5, W16: the
    /// worker's answer failed the workflow task).
    pub rejected: Option<String>,
    pub continued_as_new: Option<ContinuedAsNew>,
    /// For a worker's call on an activity attempt: what a heartbeat answers (cancel, pause or
    /// reset requested).
    pub heartbeat: RecordActivityTaskHeartbeatResponse,
    /// An event the workflow must see was written while no task was outstanding.
    wake: bool,
    /// Where a started workflow task suggests continue-as-new.
    limits: HistoryLimits,
    /// A history limit terminated the run instead of the command: answer the caller
    /// `InvalidArgument` with this reason.
    pub history_limit_exceeded: Option<&'static str>,
}

impl Workflow {
    /// Applies `command` at `now` under Temporal's default history limits.
    pub fn apply(
        self,
        command: WorkflowCommand,
        now: Timestamp,
    ) -> Result<WorkflowTransition, WorkflowError> {
        self.apply_within(command, now, &HistoryLimits::default())
    }

    /// Applies `command` at `now`. Consumes the state: the caller loaded it to change it. A
    /// write that leaves open a run whose history is past a limit is not made: the run is
    /// terminated instead (Temporal's forced termination; see `history_limit_exceeded`). A write
    /// that closes the run is made.
    pub fn apply_within(
        self,
        command: WorkflowCommand,
        now: Timestamp,
        limits: &HistoryLimits,
    ) -> Result<WorkflowTransition, WorkflowError> {
        let breached = self
            .is_running()
            .then(|| limits.breached(self.history_length(), self.history_size_bytes))
            .flatten();
        // Kept aside only in that rare case, to terminate it instead.
        let before = breached.map(|_| self.clone());
        let t = self.apply_unchecked(command, now, limits)?;
        match (breached, before) {
            (Some(reason), Some(before)) if t.workflow.is_running() && !t.noop => {
                let terminate = WorkflowCommand::Terminate {
                    reason: reason.into(),
                    details: None,
                    identity: events::SERVER_IDENTITY.into(),
                };
                let mut t = before.apply_unchecked(terminate, now, limits)?;
                t.history_limit_exceeded = Some(reason);
                Ok(t)
            }
            _ => Ok(t),
        }
    }

    fn apply_unchecked(
        self,
        command: WorkflowCommand,
        now: Timestamp,
        limits: &HistoryLimits,
    ) -> Result<WorkflowTransition, WorkflowError> {
        let mut t = WorkflowTransition::new(self);
        t.limits = *limits;
        match command {
            WorkflowCommand::RecordTaskStarted {
                scheduled_event_id,
                attempt,
                identity,
                request_id,
            } => t.record_task_started(scheduled_event_id, attempt, identity, request_id, now)?,
            WorkflowCommand::CompleteTask(completion) => t.complete_task(completion, now)?,
            WorkflowCommand::FailTask {
                task,
                cause,
                failure,
                identity,
            } => t.fail_task(task, cause, failure, identity, now)?,
            WorkflowCommand::Signal {
                name,
                input,
                identity,
                request_id,
                header,
            } => t.signal(name, input, identity, request_id, header, now)?,
            WorkflowCommand::RequestCancel {
                reason,
                identity,
                request_id: _,
            } => t.request_cancel(reason, identity, now),
            WorkflowCommand::Terminate {
                reason,
                details,
                identity,
            } => t.terminate(reason, details, identity, now)?,
            WorkflowCommand::RecordActivityStarted {
                scheduled_event_id,
                attempt,
                identity,
                request_id,
            } => {
                t.record_activity_started(scheduled_event_id, attempt, identity, request_id, now)?
            }
            WorkflowCommand::ActivityHeartbeat { target, details } => {
                t.heartbeat(target, details, now)?
            }
            WorkflowCommand::CompleteActivity {
                target,
                result,
                identity,
            } => t.complete_activity(target, result, identity, now)?,
            WorkflowCommand::FailActivity {
                target,
                failure,
                last_heartbeat_details,
                identity,
            } => t.fail_activity(target, failure, last_heartbeat_details, identity, now)?,
            WorkflowCommand::ResolveActivityCanceled {
                target,
                details,
                identity,
            } => t.resolve_activity_canceled(target, details, identity, now)?,
            WorkflowCommand::TimerFired(kind) => t.timer_fired(kind, now),
            WorkflowCommand::Operate {
                activity_id,
                operation,
            } => t.operate(&activity_id, operation, now)?,
        }
        if t.wake && t.workflow.task.is_none() && t.workflow.is_running() {
            t.schedule_task(1, now);
        }
        if !t.noop {
            t.workflow.state_transition_count += 1;
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests;
