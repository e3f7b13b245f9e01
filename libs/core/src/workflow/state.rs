//! The mutable state of one workflow run (persisted as JSON by the store) and its durable timers.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use waymark_api::{
    Duration, Failure, Header, Memo, Payloads, Priority, RetryPolicy, SearchAttributes, Timestamp,
};

use super::wire::{HistoryEvent, WorkflowExecutionStatus};
use crate::activity::ResetOptions;
use crate::options::{self, Options};

/// Where a run is. Every status but `Running` is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Running,
    Completed,
    Failed,
    Canceled,
    Terminated,
    ContinuedAsNew,
    TimedOut,
}

impl Status {
    /// The `ExecutionStatus` value of visibility queries.
    pub fn visibility_status(self) -> &'static str {
        match self {
            Status::Running => "Running",
            Status::Completed => "Completed",
            Status::Failed => "Failed",
            Status::Canceled => "Canceled",
            Status::Terminated => "Terminated",
            Status::ContinuedAsNew => "ContinuedAsNew",
            Status::TimedOut => "TimedOut",
        }
    }

    pub fn wire(self) -> WorkflowExecutionStatus {
        match self {
            Status::Running => WorkflowExecutionStatus::Running,
            Status::Completed => WorkflowExecutionStatus::Completed,
            Status::Failed => WorkflowExecutionStatus::Failed,
            Status::Canceled => WorkflowExecutionStatus::Canceled,
            Status::Terminated => WorkflowExecutionStatus::Terminated,
            Status::ContinuedAsNew => WorkflowExecutionStatus::ContinuedAsNew,
            Status::TimedOut => WorkflowExecutionStatus::TimedOut,
        }
    }
}

/// One workflow run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    pub namespace: String,
    pub workflow_id: String,
    pub run_id: String,
    pub first_execution_run_id: String,
    /// The run this one continued (continue-as-new); empty for a first run.
    pub continued_execution_run_id: String,
    pub workflow_type: String,
    pub task_queue: String,
    /// The start request's id (W15 dedupe) and the starter's identity.
    pub request_id: String,
    pub identity: String,
    pub input: Option<Payloads>,
    pub header: Option<Header>,
    pub memo: Option<Memo>,
    pub search_attributes: Option<SearchAttributes>,
    pub retry_policy: Option<RetryPolicy>,
    pub priority: Option<Priority>,
    /// Effective run timeout: min(run, execution) when both are set (zero = none).
    pub run_timeout: Duration,
    pub execution_timeout: Duration,
    pub task_timeout: Duration,
    pub start_time: Timestamp,
    /// First run's start + execution timeout; carried over by continue-as-new.
    pub execution_expiration: Option<Timestamp>,
    pub status: Status,
    pub close_time: Option<Timestamp>,
    pub close_event_id: i64,
    /// The id the next permanent event gets; `next_event_id - 1` is the history length.
    pub next_event_id: i64,
    pub last_task_id: i64,
    pub history_size_bytes: i64,
    /// The one outstanding workflow task, if any.
    pub task: Option<WorkflowTask>,
    /// The queue of the worker that keeps this run in its cache: the run's next workflow
    /// tasks go there, with only the events it has not seen (sticky execution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky: Option<StickyQueue>,
    /// `startedEventId` of the last completed workflow task (0: none yet).
    pub last_completed_started_event_id: i64,
    /// Events that arrived while a workflow task was started (W5), ids not yet assigned.
    pub buffered: Vec<HistoryEvent>,
    pub activities: BTreeMap<i64, PendingActivity>,
    pub timers: BTreeMap<String, PendingTimer>,
    pub cancel_requested: bool,
    pub signal_request_ids: BTreeSet<String>,
    pub state_transition_count: i64,
}

/// A workflow task, scheduled or started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowTask {
    pub attempt: i32,
    /// The id of its Scheduled event, permanent or (transient) reserved.
    pub scheduled_event_id: i64,
    pub scheduled_time: Timestamp,
    pub original_scheduled_time: Timestamp,
    /// Attempt ≥ 2 after a failure or timeout: its events become permanent only on completion.
    pub transient: bool,
    pub started: Option<StartedTask>,
    /// The sticky queue it was dispatched to; `None`: the run's task queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky_queue: Option<String>,
}

/// A worker's own task queue for a run, and how long a task may wait there before it goes to
/// the run's task queue instead (`StickyExecutionAttributes`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StickyQueue {
    pub name: String,
    pub schedule_to_start: Duration,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartedTask {
    pub started_event_id: i64,
    pub started_time: Timestamp,
    pub request_id: String,
    pub identity: String,
    /// The history had reached a continue-as-new threshold when the task started.
    #[serde(default)]
    pub suggest_continue_as_new: bool,
}

/// What a workflow task token names: one attempt of one task, once started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowTaskRef {
    pub scheduled_event_id: i64,
    pub attempt: i32,
    pub started_event_id: i64,
}

impl Workflow {
    pub fn is_running(&self) -> bool {
        self.status == Status::Running
    }

    /// The highest attempt among the pending activities, 1 without any: above 1, the run is
    /// retrying an activity (the visibility attribute `Attempt`).
    pub fn highest_pending_attempt(&self) -> i32 {
        self.activities
            .values()
            .map(|a| a.attempt)
            .max()
            .unwrap_or(1)
            .max(1)
    }

    pub fn history_length(&self) -> i64 {
        self.next_event_id - 1
    }

    pub(super) fn started_task(&self) -> Option<(&WorkflowTask, &StartedTask)> {
        self.task
            .as_ref()
            .and_then(|t| t.started.as_ref().map(|s| (t, s)))
    }

    /// The token claims of the started workflow task.
    pub fn started_task_ref(&self) -> Option<WorkflowTaskRef> {
        self.started_task().map(|(t, s)| WorkflowTaskRef {
            scheduled_event_id: t.scheduled_event_id,
            attempt: t.attempt,
            started_event_id: s.started_event_id,
        })
    }

    /// The run's deadline: its run timeout or the execution expiration, whichever comes first.
    pub fn run_deadline(&self) -> Option<Timestamp> {
        let run = (!self.run_timeout.is_zero()).then(|| self.start_time.add(self.run_timeout));
        match (run, self.execution_expiration) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn activity_by_id(&self, activity_id: &str) -> Option<&PendingActivity> {
        self.activities
            .values()
            .find(|a| a.activity_id == activity_id)
    }

    /// The workflow task waiting for a poller, for a sweeper that re-dispatches lost tasks.
    pub fn waiting_task(&self) -> Option<super::WorkflowTaskDispatch> {
        let task = self
            .task
            .as_ref()
            .filter(|t| t.started.is_none() && self.is_running())?;
        let task_queue = task
            .sticky_queue
            .as_ref()
            .unwrap_or(&self.task_queue)
            .clone();
        Some(super::WorkflowTaskDispatch {
            scheduled_event_id: task.scheduled_event_id,
            attempt: task.attempt,
            task_queue,
            priority: self.task_priority(),
        })
    }

    /// How the run's workflow tasks are dispatched.
    pub fn task_priority(&self) -> options::TaskPriority {
        options::task_priority(self.priority.as_ref())
    }

    /// The effective priority of one of its activities: the workflow's, with the activity's
    /// non-zero fields over it.
    pub fn activity_priority_of(&self, a: &PendingActivity) -> Option<waymark_api::Priority> {
        options::merged_priority(a.options.priority.as_ref(), self.priority.as_ref())
    }

    /// How one of its activities is dispatched.
    pub fn activity_priority(&self, a: &PendingActivity) -> options::TaskPriority {
        options::task_priority(self.activity_priority_of(a).as_ref())
    }

    /// Activity attempts dispatchable at `now` and not yet started, for the same sweeper.
    pub fn waiting_activities(&self, now: Timestamp) -> Vec<super::ActivityDispatch> {
        if !self.is_running() {
            return Vec::new();
        }
        let waiting = self
            .activities
            .values()
            .filter(|a| a.state == ActivityState::Scheduled && a.attempt_scheduled_time <= now);
        waiting
            .map(|a| super::ActivityDispatch {
                scheduled_event_id: a.scheduled_event_id,
                attempt: a.attempt,
                task_queue: a.options.task_queue.clone(),
                priority: self.activity_priority(a),
            })
            .collect()
    }
}

/// Where a workflow activity is; closed activities leave the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActivityState {
    /// Waiting for a worker (first attempt or a retry, maybe still in backoff).
    Scheduled,
    Started,
    CancelRequested,
    /// Paused by an operator: not dispatched until unpaused or reset.
    Paused,
    /// Paused while a worker runs the attempt: pauses when the attempt fails with retries left.
    PauseRequested,
    /// Reset while a worker runs the attempt: resets when that attempt fails or times out.
    ResetRequested,
}

impl ActivityState {
    /// The CamelCase name Temporal's messages use.
    pub fn name(self) -> &'static str {
        match self {
            ActivityState::Scheduled => "Scheduled",
            ActivityState::Started => "Started",
            ActivityState::CancelRequested => "CancelRequested",
            ActivityState::Paused => "Paused",
            ActivityState::PauseRequested => "PauseRequested",
            ActivityState::ResetRequested => "ResetRequested",
        }
    }
}

/// Who paused an activity, when and why (describe's `pauseInfo`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pause {
    pub time: Timestamp,
    pub identity: String,
    pub reason: String,
}

/// A worker's claim on the current attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunningAttempt {
    pub started_time: Timestamp,
    pub identity: String,
    pub request_id: String,
}

/// An activity scheduled by the workflow and not yet closed, keyed by its Scheduled event id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingActivity {
    pub scheduled_event_id: i64,
    pub activity_id: String,
    pub activity_type: String,
    /// Normalized with the workflow's run timeout.
    pub options: Options,
    pub input: Option<Payloads>,
    pub header: Option<Header>,
    /// The Scheduled event's time; schedule-to-close runs from it.
    pub scheduled_time: Timestamp,
    pub state: ActivityState,
    pub attempt: i32,
    /// When the current attempt became (or becomes, after a backoff) dispatchable.
    pub attempt_scheduled_time: Timestamp,
    pub running: Option<RunningAttempt>,
    pub last_worker_identity: String,
    pub heartbeat_details: Option<Payloads>,
    pub last_heartbeat_time: Option<Timestamp>,
    pub last_failure: Option<Failure>,
    pub current_retry_interval: Option<Duration>,
    pub last_attempt_complete_time: Option<Timestamp>,
    pub cancel_requested_event_id: i64,
    /// Set while the activity is Paused or PauseRequested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<Pause>,
    /// A reset asked for while a worker ran the attempt (ResetRequested).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_reset: Option<ResetOptions>,
    /// The options of the Scheduled event, kept once an update changes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_options: Option<Options>,
    /// How many resets sent the attempts back to 1 (a task token carries it; see
    /// `activity::Activity::stamp`).
    #[serde(default, skip_serializing_if = "crate::task_token::is_zero")]
    pub stamp: i32,
}

impl PendingActivity {
    /// First schedule time plus schedule-to-close; not moved by retries.
    pub fn schedule_to_close_deadline(&self) -> Option<Timestamp> {
        let s2c = self.options.schedule_to_close;
        (!s2c.is_zero()).then(|| self.scheduled_time.add(s2c))
    }

    /// The deadline of a timer in the current state, if that timer is live.
    pub fn deadline(&self, timer: ActivityTimer) -> Option<Timestamp> {
        let o = &self.options;
        let positive = |d: Duration| (!d.is_zero()).then_some(d);
        if self.pause.is_some() {
            // Temporal stops a paused activity's clocks.
            return None;
        }
        let waiting = self.state == ActivityState::Scheduled;
        match timer {
            ActivityTimer::Retry => waiting.then_some(self.attempt_scheduled_time),
            ActivityTimer::ScheduleToStart => waiting
                .then_some(())
                .and(positive(o.schedule_to_start))
                .map(|d| self.attempt_scheduled_time.add(d)),
            ActivityTimer::StartToClose => self
                .running
                .as_ref()
                .map(|r| r.started_time.add(o.start_to_close)),
            ActivityTimer::Heartbeat => {
                let running = self.running.as_ref()?;
                let timeout = positive(o.heartbeat)?;
                // Heartbeats of an earlier attempt never extend this one.
                let from = self
                    .last_heartbeat_time
                    .map_or(running.started_time, |t| t.max(running.started_time));
                Some(from.add(timeout))
            }
            ActivityTimer::ScheduleToClose => self.schedule_to_close_deadline(),
        }
    }
}

/// A user timer (START_TIMER), keyed by its timer id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingTimer {
    pub timer_id: String,
    pub started_event_id: i64,
    pub fire_time: Timestamp,
}

/// The timers of a workflow activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActivityTimer {
    ScheduleToStart,
    StartToClose,
    Heartbeat,
    ScheduleToClose,
    /// The next attempt's backoff is over: dispatch it.
    Retry,
}

impl ActivityTimer {
    const ALL: [ActivityTimer; 5] = [
        ActivityTimer::ScheduleToStart,
        ActivityTimer::StartToClose,
        ActivityTimer::Heartbeat,
        ActivityTimer::ScheduleToClose,
        ActivityTimer::Retry,
    ];

    fn as_str(self) -> &'static str {
        match self {
            ActivityTimer::ScheduleToStart => "schedule_to_start",
            ActivityTimer::StartToClose => "start_to_close",
            ActivityTimer::Heartbeat => "heartbeat",
            ActivityTimer::ScheduleToClose => "schedule_to_close",
            ActivityTimer::Retry => "retry",
        }
    }
}

/// What a durable timer is for. Timers are idempotent: on firing, the machine checks that
/// what they name is still current and re-derives the deadline from the state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// Start-to-close of a started workflow task attempt.
    WorkflowTask {
        scheduled_event_id: i64,
        attempt: i32,
    },
    /// Schedule-to-start of a workflow task on a sticky queue.
    StickyScheduleToStart {
        scheduled_event_id: i64,
        attempt: i32,
    },
    /// A timeout or the retry backoff of an activity attempt (schedule-to-close: any attempt).
    Activity {
        scheduled_event_id: i64,
        attempt: i32,
        timer: ActivityTimer,
    },
    /// A START_TIMER of the workflow.
    User {
        started_event_id: i64,
        timer_id: String,
    },
    /// The run or execution timeout.
    Run,
}

impl TimerKind {
    /// The store's form: a kind string and an attempt number.
    pub fn encode(&self) -> (String, i32) {
        match self {
            TimerKind::WorkflowTask {
                scheduled_event_id,
                attempt,
            } => (format!("wft:{scheduled_event_id}"), *attempt),
            TimerKind::StickyScheduleToStart {
                scheduled_event_id,
                attempt,
            } => (format!("wft_sticky:{scheduled_event_id}"), *attempt),
            TimerKind::Activity {
                scheduled_event_id,
                attempt,
                timer,
            } => (
                format!("activity_{}:{scheduled_event_id}", timer.as_str()),
                *attempt,
            ),
            TimerKind::User {
                started_event_id,
                timer_id,
            } => (format!("timer:{started_event_id}:{timer_id}"), 0),
            TimerKind::Run => ("run".into(), 0),
        }
    }

    pub fn decode(kind: &str, attempt: i32) -> Option<TimerKind> {
        if kind == "run" {
            return Some(TimerKind::Run);
        }
        if let Some(rest) = kind.strip_prefix("timer:") {
            let (id, timer_id) = rest.split_once(':')?;
            return Some(TimerKind::User {
                started_event_id: id.parse().ok()?,
                timer_id: timer_id.into(),
            });
        }
        let (name, id) = kind.split_once(':')?;
        let id = id.parse().ok()?;
        if name == "wft" {
            return Some(TimerKind::WorkflowTask {
                scheduled_event_id: id,
                attempt,
            });
        }
        if name == "wft_sticky" {
            return Some(TimerKind::StickyScheduleToStart {
                scheduled_event_id: id,
                attempt,
            });
        }
        let timer = ActivityTimer::ALL
            .into_iter()
            .find(|t| name.strip_prefix("activity_") == Some(t.as_str()))?;
        Some(TimerKind::Activity {
            scheduled_event_id: id,
            attempt,
            timer,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timer {
    pub kind: TimerKind,
    pub due: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_kinds_survive_the_store_encoding() {
        let kinds = [
            TimerKind::WorkflowTask {
                scheduled_event_id: 2,
                attempt: 3,
            },
            TimerKind::Activity {
                scheduled_event_id: 5,
                attempt: 2,
                timer: ActivityTimer::Heartbeat,
            },
            TimerKind::Activity {
                scheduled_event_id: 5,
                attempt: 0,
                timer: ActivityTimer::ScheduleToClose,
            },
            TimerKind::User {
                started_event_id: 7,
                timer_id: "a:b".into(),
            },
            TimerKind::Run,
        ];
        for k in kinds {
            let (kind, attempt) = k.encode();
            assert_eq!(TimerKind::decode(&kind, attempt), Some(k));
        }
        assert_eq!(TimerKind::decode("activity_bogus:5", 1), None);
    }
}
