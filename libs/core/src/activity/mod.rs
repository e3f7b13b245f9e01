//! The activity state machine (SEMANTICS.md §3–§8): one pure function,
//! `Activity::apply(command, now) -> Transition`, that the history service loads, calls and
//! commits. Timers are idempotent: each names a kind and an attempt, and on firing the machine
//! recomputes the deadline from the state, so a stale timer is a no-op and an early one re-arms.

mod start;
mod view;

pub use view::Includes;

pub use start::{NewRun, StartDecision, decide_start};

use serde::{Deserialize, Serialize};
use waymark_api::{
    ActivityExecutionOutcome, ActivityOptions, CanceledFailureInfo, Code, Duration, Failure,
    Header, Payloads, RetryState, SearchAttributes, TerminatedFailureInfo, TimeoutFailureInfo,
    TimeoutType, Timestamp, UserMetadata,
};

use crate::options::{self, Options, Timeouts};
use crate::retry::{self, Decision};

/// Where an activity is in its life. Exactly one at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    Scheduled,
    Started,
    CancelRequested,
    Paused,
    PauseRequested,
    ResetRequested,
    Completed,
    Failed,
    Canceled,
    Terminated,
    TimedOut,
}

impl State {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Completed
                | State::Failed
                | State::Canceled
                | State::Terminated
                | State::TimedOut
        )
    }

    /// A worker holds an attempt (it may heartbeat, complete or fail it).
    pub fn has_running_attempt(self) -> bool {
        matches!(
            self,
            State::Started | State::CancelRequested | State::PauseRequested | State::ResetRequested
        )
    }

    /// The CamelCase name Temporal's messages use.
    pub fn name(self) -> &'static str {
        match self {
            State::Scheduled => "Scheduled",
            State::Started => "Started",
            State::CancelRequested => "CancelRequested",
            State::Paused => "Paused",
            State::PauseRequested => "PauseRequested",
            State::ResetRequested => "ResetRequested",
            State::Completed => "Completed",
            State::Failed => "Failed",
            State::Canceled => "Canceled",
            State::Terminated => "Terminated",
            State::TimedOut => "TimedOut",
        }
    }

    /// The `ExecutionStatus` value of visibility queries.
    pub fn visibility_status(self) -> &'static str {
        match self {
            State::Paused => "Paused",
            s if s.is_terminal() => s.name(),
            _ => "Running",
        }
    }
}

/// A worker's claim on the current attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunningAttempt {
    pub started_time: Timestamp,
    pub identity: String,
    pub request_id: String,
}

/// A cancel, terminate or pause request as the caller sent it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub request_id: String,
    pub reason: String,
    pub identity: String,
}

/// A reset asked for while a worker ran the attempt, applied when that attempt fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResetOptions {
    pub keep_paused: bool,
    pub reset_heartbeat: bool,
    pub restore_original_options: bool,
    /// Random delay before the new attempt is dispatched (already drawn by the caller).
    pub jitter: Duration,
}

/// One standalone activity execution (a run). Persisted as JSON by the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub namespace: String,
    pub activity_id: String,
    pub run_id: String,
    pub activity_type: String,
    pub options: Options,
    /// The options given at start, for `restoreOriginal`.
    pub original_options: Options,
    pub input: Option<Payloads>,
    pub header: Option<Header>,
    pub user_metadata: Option<UserMetadata>,
    pub search_attributes: Option<SearchAttributes>,
    pub request_id: String,
    pub identity: String,
    pub schedule_time: Timestamp,
    pub start_delay: Duration,
    pub state: State,
    pub attempt: i32,
    /// How many resets sent the attempts back to 1. A task token carries it, so that a worker
    /// still holding an attempt from before a reset cannot answer the same-numbered attempt
    /// after it (Temporal's activity stamp).
    #[serde(default, skip_serializing_if = "crate::task_token::is_zero")]
    pub stamp: i32,
    /// When the current attempt became (or becomes) dispatchable.
    pub attempt_scheduled_time: Timestamp,
    pub running: Option<RunningAttempt>,
    pub last_started_time: Option<Timestamp>,
    pub last_worker_identity: String,
    pub heartbeat_details: Option<Payloads>,
    pub last_heartbeat_time: Option<Timestamp>,
    pub total_heartbeat_count: i64,
    pub last_failure: Option<Failure>,
    pub current_retry_interval: Option<Duration>,
    pub last_attempt_complete_time: Option<Timestamp>,
    pub cancel: Option<Request>,
    pub terminate: Option<Request>,
    pub pending_reset: Option<ResetOptions>,
    /// The last request id seen per idempotent operator command (pause, unpause, reset, update).
    pub operation_request_ids: Vec<(String, String)>,
    pub outcome: Option<ActivityExecutionOutcome>,
    pub close_time: Option<Timestamp>,
    pub state_transition_count: i64,
}

/// The kinds of durable timers an activity sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    ScheduleToStart,
    StartToClose,
    Heartbeat,
    ScheduleToClose,
    /// The current attempt becomes dispatchable (start delay, retry backoff, unpause jitter).
    Dispatch,
}

impl TimerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::ScheduleToStart => "schedule_to_start",
            TimerKind::StartToClose => "start_to_close",
            TimerKind::Heartbeat => "heartbeat",
            TimerKind::ScheduleToClose => "schedule_to_close",
            TimerKind::Dispatch => "dispatch",
        }
    }

    pub fn parse(s: &str) -> Option<TimerKind> {
        [
            Self::ScheduleToStart,
            Self::StartToClose,
            Self::Heartbeat,
            Self::ScheduleToClose,
            Self::Dispatch,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    pub kind: TimerKind,
    pub attempt: i32,
    pub due: Timestamp,
}

/// Which attempt a worker's call speaks for: a task token names one, a by-id call any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    Token { attempt: i32, stamp: i32 },
    ById,
}

/// Everything that can happen to an activity.
// One command is built per transition and consumed at once: boxing the large variants would
// only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    RecordStarted {
        attempt: i32,
        identity: String,
        request_id: String,
    },
    Heartbeat {
        caller: Caller,
        details: Option<Payloads>,
    },
    Complete {
        caller: Caller,
        result: Option<Payloads>,
        identity: String,
    },
    Fail {
        caller: Caller,
        failure: Option<Failure>,
        last_heartbeat_details: Option<Payloads>,
        identity: String,
    },
    ResolveCanceled {
        caller: Caller,
        details: Option<Payloads>,
        identity: String,
    },
    RequestCancel(Request),
    Terminate(Request),
    Pause(Request),
    Unpause {
        request: Request,
        jitter: Duration,
    },
    Reset {
        request: Request,
        reset: ResetOptions,
    },
    UpdateOptions {
        request_id: String,
        update: OptionsUpdate,
    },
    TimerFired {
        kind: TimerKind,
        attempt: i32,
    },
}

/// An update-options request, as validated fields.
#[allow(clippy::large_enum_variant)] // built once per request, as `Command`
#[derive(Clone, Debug, PartialEq)]
pub enum OptionsUpdate {
    Mask {
        options: ActivityOptions,
        paths: Vec<String>,
    },
    RestoreOriginal,
}

/// Why a command was refused. `code()` gives the API error code.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ActivityError {
    #[error("activity not found for ID: {0}")]
    NotFound(String),
    #[error("activity is in terminal state {0}")]
    TerminalState(&'static str),
    #[error("invalid transition from {0}")]
    InvalidTransition(&'static str),
    #[error("unable to mark activity as canceled without activity being request canceled first")]
    CancelNotRequested,
    #[error("cancellation already requested with request ID {0}")]
    CancelAlreadyRequested(String),
    #[error("already terminated with request ID {0}")]
    AlreadyTerminated(String),
    #[error("activity is in non-pausable state {0}")]
    NotPausable(&'static str),
    /// A workflow's activity paused twice.
    #[error("activity is already paused")]
    AlreadyPaused,
    #[error("activity is in non-unpausable state {0}")]
    NotUnpausable(&'static str),
    #[error("cannot reset an activity with a pending cancellation")]
    ResetWithPendingCancel,
    #[error("cannot reset an activity with a pending reset")]
    ResetPending,
    #[error("activity execution is not running")]
    NotRunning,
    #[error("Cannot update options for activity in state {0}")]
    CannotUpdateOptions(&'static str),
    #[error("{0}")]
    InvalidArgument(String),
    /// A dispatched task no longer matches the activity (duplicate, old attempt, paused, closed).
    #[error("activity task is stale")]
    StaleTask,
}

impl ActivityError {
    pub fn code(&self) -> Code {
        match self {
            ActivityError::NotFound(_) | ActivityError::StaleTask => Code::NotFound,
            ActivityError::CancelNotRequested | ActivityError::InvalidArgument(_) => {
                Code::InvalidArgument
            }
            _ => Code::FailedPrecondition,
        }
    }
}

/// The result of applying a command: the new state and what must be committed with it.
#[derive(Debug)]
pub struct Transition {
    pub activity: Activity,
    pub timers: Vec<Timer>,
    /// The current attempt must be handed to the task queue after commit.
    pub dispatch: bool,
    /// Nothing changed (an idempotent repeat or a stale timer): nothing to write.
    pub noop: bool,
}

impl Transition {
    fn new(activity: Activity) -> Self {
        Transition {
            activity,
            timers: Vec::new(),
            dispatch: false,
            noop: false,
        }
    }

    fn timer(&mut self, kind: TimerKind, due: Timestamp) {
        self.timers.push(Timer {
            kind,
            attempt: self.activity.attempt,
            due,
        });
    }

    /// Makes `attempt` wait for a worker from `dispatch_at` on.
    fn schedule_attempt(&mut self, attempt: i32, dispatch_at: Timestamp, now: Timestamp) {
        let a = &mut self.activity;
        a.state = State::Scheduled;
        a.attempt = attempt;
        a.attempt_scheduled_time = dispatch_at;
        a.running = None;
        if dispatch_at <= now {
            self.dispatch = true;
        } else {
            self.timer(TimerKind::Dispatch, dispatch_at);
        }
        self.arm(TimerKind::ScheduleToStart);
    }

    /// Sets the timer of `kind` at its current deadline, if it has one.
    fn arm(&mut self, kind: TimerKind) {
        if let Some(due) = self.activity.deadline(kind) {
            self.timer(kind, due);
        }
    }

    fn close(&mut self, state: State, outcome: ActivityExecutionOutcome, now: Timestamp) {
        let a = &mut self.activity;
        a.state = state;
        a.outcome = Some(outcome);
        a.close_time = Some(now);
        a.running = None;
        a.pending_reset = None;
    }

    fn close_failed(
        &mut self,
        state: State,
        failure: Failure,
        retry_state: RetryState,
        now: Timestamp,
    ) {
        let outcome = ActivityExecutionOutcome {
            failure: Some(failure),
            retry_state,
            ..Default::default()
        };
        self.close(state, outcome, now);
    }
}

impl Activity {
    /// The deadline of a timer kind in the current state, if that timer is live.
    pub fn deadline(&self, kind: TimerKind) -> Option<Timestamp> {
        let o = &self.options;
        let positive = |d: Duration| (!d.is_zero()).then_some(d);
        match kind {
            TimerKind::Dispatch => {
                (self.state == State::Scheduled).then_some(self.attempt_scheduled_time)
            }
            TimerKind::ScheduleToStart => (self.state == State::Scheduled)
                .then_some(())
                .and(positive(o.schedule_to_start))
                .map(|d| self.attempt_scheduled_time.add(d)),
            TimerKind::StartToClose => self
                .running
                .as_ref()
                .map(|r| r.started_time.add(o.start_to_close)),
            TimerKind::Heartbeat => {
                let running = self.running.as_ref()?;
                let timeout = positive(o.heartbeat)?;
                // Heartbeats of an earlier attempt never extend this one.
                let from = self
                    .last_heartbeat_time
                    .map_or(running.started_time, |t| t.max(running.started_time));
                Some(from.add(timeout))
            }
            TimerKind::ScheduleToClose => (!self.state.is_terminal())
                .then_some(())
                .and(self.schedule_to_close_deadline()),
        }
    }

    /// First schedule time (plus start delay) plus schedule-to-close; not moved by retries.
    pub fn schedule_to_close_deadline(&self) -> Option<Timestamp> {
        let s2c = self.options.schedule_to_close;
        (!s2c.is_zero()).then(|| self.schedule_time.add(self.start_delay).add(s2c))
    }

    /// Applies `command` at `now`. Consumes the state: the caller loaded it to change it.
    pub fn apply(self, command: Command, now: Timestamp) -> Result<Transition, ActivityError> {
        if self.state.is_terminal() {
            self.on_closed(&command)?;
            let mut t = Transition::new(self);
            t.noop = true;
            return Ok(t);
        }
        let mut t = Transition::new(self);
        let counts = !matches!(command, Command::TimerFired { .. });
        match command {
            Command::RecordStarted {
                attempt,
                identity,
                request_id,
            } => t.record_started(attempt, identity, request_id, now)?,
            Command::Heartbeat { caller, details } => t.heartbeat(caller, details, now)?,
            Command::Complete {
                caller,
                result,
                identity,
            } => t.complete(caller, result, identity, now)?,
            Command::Fail {
                caller,
                failure,
                last_heartbeat_details,
                identity,
            } => t.fail(caller, failure, last_heartbeat_details, identity, now)?,
            Command::ResolveCanceled {
                caller,
                details,
                identity,
            } => t.resolve_canceled(caller, details, identity, now)?,
            Command::RequestCancel(request) => t.request_cancel(request, now)?,
            Command::Terminate(request) => t.terminate(request, now)?,
            Command::Pause(request) => t.pause(request)?,
            Command::Unpause { request, jitter } => t.unpause(request, jitter, now)?,
            Command::Reset { request, reset } => t.reset(request, reset, now)?,
            Command::UpdateOptions { request_id, update } => {
                t.update_options(request_id, update, now)?
            }
            Command::TimerFired { kind, attempt } => t.timer_fired(kind, attempt, now),
        }
        if counts && !t.noop {
            t.activity.state_transition_count += 1;
        }
        Ok(t)
    }
}

impl Activity {
    /// What `command` gets from this closed activity, the same on every closed state (Temporal
    /// 1.32, probed): `Ok` is a no-op (a repeat of the operation's last request id, or a timer
    /// with nothing left to do), otherwise the refusal of that command.
    pub fn on_closed(&self, command: &Command) -> Result<(), ActivityError> {
        use ActivityError as E;
        let state = self.state.name();
        let repeats = |operation: &str, request_id: &str| {
            !request_id.is_empty()
                && self
                    .operation_request_ids
                    .iter()
                    .any(|(op, last)| op == operation && last == request_id)
        };
        match command {
            Command::TimerFired { .. } => Ok(()),
            Command::RecordStarted { .. } => Err(E::StaleTask),
            Command::Pause(r) if repeats("pause", &r.request_id) => Ok(()),
            Command::Pause(_) => Err(E::NotPausable(state)),
            Command::Unpause { request, .. } if repeats("unpause", &request.request_id) => Ok(()),
            Command::Unpause { .. } => Err(E::TerminalState(state)),
            Command::Reset { request, .. } if repeats("reset", &request.request_id) => Ok(()),
            Command::Reset { .. } => Err(E::NotRunning),
            Command::UpdateOptions { request_id, .. } if repeats("update-options", request_id) => {
                Ok(())
            }
            // A malformed mask is refused as such before the state is looked at.
            Command::UpdateOptions {
                update: OptionsUpdate::Mask { options, paths },
                ..
            } => {
                self.apply_mask(options, paths)?;
                Err(E::CannotUpdateOptions(state))
            }
            Command::UpdateOptions { .. } => Err(E::CannotUpdateOptions(state)),
            Command::RequestCancel(r)
                if self
                    .cancel
                    .as_ref()
                    .is_some_and(|c| c.request_id == r.request_id) =>
            {
                Ok(())
            }
            Command::RequestCancel(_) => Err(E::TerminalState(state)),
            Command::Terminate(r) => match &self.terminate {
                Some(t) if t.request_id == r.request_id => Ok(()),
                Some(t) => Err(E::AlreadyTerminated(t.request_id.clone())),
                None => Err(E::InvalidTransition(state)),
            },
            Command::Complete {
                caller: Caller::ById,
                ..
            } => Err(E::InvalidTransition(state)),
            Command::Complete { .. }
            | Command::Fail { .. }
            | Command::ResolveCanceled { .. }
            | Command::Heartbeat { .. } => Err(E::NotFound(self.activity_id.clone())),
        }
    }
}

impl Transition {
    fn not_found(&self) -> ActivityError {
        ActivityError::NotFound(self.activity.activity_id.clone())
    }

    /// The running attempt the caller speaks for, or NotFound.
    fn check_running(&self, caller: Caller) -> Result<(), ActivityError> {
        let a = &self.activity;
        let attempt_matches = match caller {
            Caller::Token { attempt, stamp } => attempt == a.attempt && stamp == a.stamp,
            Caller::ById => true,
        };
        if a.state.has_running_attempt() && attempt_matches {
            Ok(())
        } else {
            Err(self.not_found())
        }
    }

    fn record_started(
        &mut self,
        attempt: i32,
        identity: String,
        request_id: String,
        now: Timestamp,
    ) -> Result<(), ActivityError> {
        let a = &mut self.activity;
        if a.state != State::Scheduled || a.attempt != attempt || a.attempt_scheduled_time > now {
            return Err(ActivityError::StaleTask);
        }
        a.state = State::Started;
        a.running = Some(RunningAttempt {
            started_time: now,
            identity: identity.clone(),
            request_id,
        });
        a.last_started_time = Some(now);
        a.last_worker_identity = identity;
        self.arm(TimerKind::StartToClose);
        self.arm(TimerKind::Heartbeat);
        Ok(())
    }

    fn record_heartbeat(&mut self, details: Option<Payloads>, now: Timestamp) {
        let a = &mut self.activity;
        a.heartbeat_details = details;
        a.last_heartbeat_time = Some(now);
        a.total_heartbeat_count += 1;
    }

    fn heartbeat(
        &mut self,
        caller: Caller,
        details: Option<Payloads>,
        now: Timestamp,
    ) -> Result<(), ActivityError> {
        self.check_running(caller)?;
        self.record_heartbeat(details, now);
        Ok(())
    }

    fn complete(
        &mut self,
        caller: Caller,
        result: Option<Payloads>,
        identity: String,
        now: Timestamp,
    ) -> Result<(), ActivityError> {
        // By id, an activity with no running attempt can be force-completed.
        if let Caller::Token { .. } = caller {
            self.check_running(caller)?;
        }
        self.activity.last_worker_identity = identity;
        self.activity.last_attempt_complete_time = Some(now);
        let outcome = ActivityExecutionOutcome {
            result: Some(result.unwrap_or_default()),
            ..Default::default()
        };
        self.close(State::Completed, outcome, now);
        Ok(())
    }

    fn fail(
        &mut self,
        caller: Caller,
        failure: Option<Failure>,
        last_heartbeat_details: Option<Payloads>,
        identity: String,
        now: Timestamp,
    ) -> Result<(), ActivityError> {
        self.check_running(caller)?;
        if last_heartbeat_details.is_some() {
            self.record_heartbeat(last_heartbeat_details, now);
        }
        self.activity.last_worker_identity = identity;
        let failure = failure.unwrap_or_else(|| Failure {
            message: "activity task failed without failure details".into(),
            ..Default::default()
        });
        self.attempt_failed(failure, None, now);
        Ok(())
    }

    fn resolve_canceled(
        &mut self,
        caller: Caller,
        details: Option<Payloads>,
        identity: String,
        now: Timestamp,
    ) -> Result<(), ActivityError> {
        self.check_running(caller)?;
        if self.activity.state != State::CancelRequested {
            return Err(ActivityError::CancelNotRequested);
        }
        self.activity.last_worker_identity = identity;
        self.activity.last_attempt_complete_time = Some(now);
        // The failure names the requester, not the worker.
        let requester = self
            .activity
            .cancel
            .as_ref()
            .map(|c| c.identity.clone())
            .unwrap_or_default();
        self.close_failed(
            State::Canceled,
            canceled_failure(details, requester),
            RetryState::Unspecified,
            now,
        );
        Ok(())
    }

    /// The running attempt ended with `failure`; `timeout` says which timer ended it.
    fn attempt_failed(&mut self, failure: Failure, timeout: Option<TimeoutType>, now: Timestamp) {
        self.activity.last_attempt_complete_time = Some(now);
        match self.activity.state {
            State::ResetRequested => return self.apply_deferred_reset(now),
            State::CancelRequested => {
                return self.close_attempt(failure, timeout, RetryState::CancelRequested, now);
            }
            _ => {}
        }
        let a = &self.activity;
        let decision = retry::decide(
            &a.options.retry_policy,
            a.attempt,
            &failure,
            now,
            a.schedule_to_close_deadline(),
        );
        match decision {
            Decision::RetryAfter(interval) => {
                let a = &mut self.activity;
                a.last_failure = Some(failure);
                a.current_retry_interval = Some(interval);
                let (next, dispatch_at) = (a.attempt + 1, now.add(interval));
                if a.state == State::PauseRequested {
                    a.state = State::Paused;
                    a.attempt = next;
                    a.attempt_scheduled_time = dispatch_at;
                    a.running = None;
                } else {
                    self.schedule_attempt(next, dispatch_at, now);
                }
            }
            Decision::Stop(RetryState::Timeout) if timeout.is_some() => {
                // The retry would overrun schedule-to-close: reported as that timeout.
                let budget = timeout_failure(
                    "Not enough time to schedule next retry before activity ScheduleToClose timeout, giving up retrying",
                    TimeoutType::ScheduleToClose,
                );
                let (state, budget) = self.final_failure(budget, timeout);
                self.activity.last_failure = Some(self.final_failure(failure, timeout).1);
                self.close_failed(state, budget, RetryState::Timeout, now);
            }
            Decision::Stop(retry_state) => self.close_attempt(failure, timeout, retry_state, now),
        }
    }

    /// The last attempt's failure closes the activity; describe shows it as `lastFailure`.
    fn close_attempt(
        &mut self,
        failure: Failure,
        timeout: Option<TimeoutType>,
        retry_state: RetryState,
        now: Timestamp,
    ) {
        let (state, failure) = self.final_failure(failure, timeout);
        self.activity.last_failure = Some(failure.clone());
        self.close_failed(state, failure, retry_state, now);
    }

    /// A closing timeout failure carries the previous attempt's failure as its cause and the last
    /// heartbeat details; a worker's failure closes the activity unchanged.
    fn final_failure(
        &self,
        mut failure: Failure,
        timeout: Option<TimeoutType>,
    ) -> (State, Failure) {
        if timeout.is_none() {
            return (State::Failed, failure);
        }
        failure.cause = self.activity.last_failure.clone().map(Box::new);
        if let Some(info) = failure.timeout_failure_info.as_mut() {
            info.last_heartbeat_details = self.activity.heartbeat_details.clone();
        }
        (State::TimedOut, failure)
    }

    fn request_cancel(&mut self, request: Request, now: Timestamp) -> Result<(), ActivityError> {
        let a = &self.activity;
        let same_request = a
            .cancel
            .as_ref()
            .is_some_and(|c| c.request_id == request.request_id);
        match a.state {
            State::CancelRequested if same_request => {
                self.noop = true;
                return Ok(());
            }
            State::CancelRequested => {
                let first = a
                    .cancel
                    .as_ref()
                    .map(|c| c.request_id.clone())
                    .unwrap_or_default();
                return Err(ActivityError::CancelAlreadyRequested(first));
            }
            _ => {}
        }
        let not_started = matches!(a.state, State::Scheduled | State::Paused);
        let reason = request.reason.clone();
        let identity = request.identity.clone();
        self.activity.cancel = Some(request);
        if not_started {
            let details = (!reason.is_empty())
                .then(|| Payloads(vec![waymark_api::Payload::Json(reason.into())]));
            self.close_failed(
                State::Canceled,
                canceled_failure(details, identity),
                RetryState::Unspecified,
                now,
            );
        } else {
            self.activity.state = State::CancelRequested;
            self.activity.pending_reset = None;
        }
        Ok(())
    }

    fn terminate(&mut self, request: Request, now: Timestamp) -> Result<(), ActivityError> {
        let failure = Failure {
            message: request.reason.clone(),
            terminated_failure_info: Some(TerminatedFailureInfo {
                identity: request.identity.clone(),
            }),
            ..Default::default()
        };
        self.activity.terminate = Some(request);
        self.close_failed(State::Terminated, failure, RetryState::Unspecified, now);
        Ok(())
    }

    /// Records `request_id` for `operation`; true when it repeats the last one (a no-op).
    fn seen_operation(&mut self, operation: &str, request_id: &str) -> bool {
        let ids = &mut self.activity.operation_request_ids;
        match ids.iter_mut().find(|(op, _)| op == operation) {
            Some((_, last)) if !request_id.is_empty() && last == request_id => return true,
            Some((_, last)) => *last = request_id.to_owned(),
            None => ids.push((operation.to_owned(), request_id.to_owned())),
        }
        false
    }

    fn pause(&mut self, request: Request) -> Result<(), ActivityError> {
        let state = self.activity.state;
        if self.seen_operation("pause", &request.request_id) {
            self.noop = true;
            return Ok(());
        }
        self.activity.state = match state {
            State::Scheduled => State::Paused,
            State::Started => State::PauseRequested,
            s => return Err(ActivityError::NotPausable(s.name())),
        };
        Ok(())
    }

    fn unpause(
        &mut self,
        request: Request,
        jitter: Duration,
        now: Timestamp,
    ) -> Result<(), ActivityError> {
        let state = self.activity.state;
        if self.seen_operation("unpause", &request.request_id) {
            self.noop = true;
            return Ok(());
        }
        match state {
            State::Paused => {
                // Never earlier than a pending retry or the first dispatch time.
                let at = now.add(jitter).max(self.activity.attempt_scheduled_time);
                self.schedule_attempt(self.activity.attempt, at, now);
            }
            State::PauseRequested => self.activity.state = State::Started,
            s => return Err(ActivityError::NotUnpausable(s.name())),
        }
        Ok(())
    }

    fn reset(
        &mut self,
        request: Request,
        reset: ResetOptions,
        now: Timestamp,
    ) -> Result<(), ActivityError> {
        match self.activity.state {
            State::CancelRequested => return Err(ActivityError::ResetWithPendingCancel),
            State::ResetRequested => return Err(ActivityError::ResetPending),
            _ => {}
        }
        if self.seen_operation("reset", &request.request_id) {
            self.noop = true;
            return Ok(());
        }
        match self.activity.state {
            State::Started | State::PauseRequested => {
                self.activity.state = State::ResetRequested;
                self.activity.pending_reset = Some(reset);
            }
            _ => self.reset_now(reset, now),
        }
        Ok(())
    }

    fn apply_deferred_reset(&mut self, now: Timestamp) {
        let reset = self.activity.pending_reset.take().unwrap_or_default();
        self.reset_now(reset, now);
    }

    /// Back to attempt 1 with no backoff; paused again if asked to stay paused.
    fn reset_now(&mut self, reset: ResetOptions, now: Timestamp) {
        let a = &mut self.activity;
        if reset.reset_heartbeat {
            a.heartbeat_details = None;
        }
        if reset.restore_original_options {
            a.options = a.original_options.clone();
        }
        a.current_retry_interval = None;
        a.pending_reset = None;
        a.stamp += 1;
        let first_dispatch = a.schedule_time.add(a.start_delay);
        let at = now.add(reset.jitter).max(first_dispatch);
        if reset.keep_paused
            && matches!(
                a.state,
                State::Paused | State::PauseRequested | State::ResetRequested
            )
        {
            a.state = State::Paused;
            a.attempt = 1;
            a.attempt_scheduled_time = at;
            a.running = None;
        } else {
            self.schedule_attempt(1, at, now);
        }
    }

    fn update_options(
        &mut self,
        request_id: String,
        update: OptionsUpdate,
        now: Timestamp,
    ) -> Result<(), ActivityError> {
        let state = self.activity.state;
        if !matches!(
            state,
            State::Scheduled | State::Started | State::Paused | State::PauseRequested
        ) {
            return Err(ActivityError::CannotUpdateOptions(state.name()));
        }
        if self.seen_operation("update-options", &request_id) {
            self.noop = true;
            return Ok(());
        }
        let a = &mut self.activity;
        let before_first_dispatch =
            a.attempt == 1 && a.last_started_time.is_none() && a.attempt_scheduled_time > now;
        a.options = match update {
            OptionsUpdate::RestoreOriginal => a.original_options.clone(),
            OptionsUpdate::Mask { options, paths } => {
                let (next, start_delay) = a.apply_mask(&options, &paths)?;
                if let Some(delay) = start_delay.filter(|_| before_first_dispatch) {
                    a.start_delay = delay;
                    a.attempt_scheduled_time = a.schedule_time.add(delay);
                }
                next
            }
        };
        // Timers are re-armed at the new deadlines; the old ones will find they are early or stale.
        for kind in [
            TimerKind::ScheduleToStart,
            TimerKind::StartToClose,
            TimerKind::Heartbeat,
            TimerKind::ScheduleToClose,
        ] {
            self.arm(kind);
        }
        if self.activity.state == State::Scheduled && self.activity.attempt_scheduled_time > now {
            self.arm(TimerKind::Dispatch);
        }
        Ok(())
    }

    fn timer_fired(&mut self, kind: TimerKind, attempt: i32, now: Timestamp) {
        let per_attempt = kind != TimerKind::ScheduleToClose;
        let deadline = self.activity.deadline(kind);
        let Some(deadline) = deadline.filter(|_| !per_attempt || attempt == self.activity.attempt)
        else {
            self.noop = true;
            return;
        };
        if now < deadline {
            self.timer(kind, deadline);
            return;
        }
        match kind {
            TimerKind::Dispatch => self.dispatch = true,
            TimerKind::ScheduleToStart => {
                let failure = timeout_failure(
                    "activity ScheduleToStart timeout",
                    TimeoutType::ScheduleToStart,
                );
                let (state, failure) =
                    self.final_failure(failure, Some(TimeoutType::ScheduleToStart));
                self.close_failed(state, failure, RetryState::Timeout, now);
            }
            TimerKind::ScheduleToClose => {
                let failure = timeout_failure(
                    "activity ScheduleToClose timeout",
                    TimeoutType::ScheduleToClose,
                );
                let (state, failure) =
                    self.final_failure(failure, Some(TimeoutType::ScheduleToClose));
                let retry_state = if self.activity.state == State::CancelRequested {
                    RetryState::CancelRequested
                } else {
                    RetryState::Timeout
                };
                self.close_failed(state, failure, retry_state, now);
            }
            TimerKind::StartToClose => {
                let failure =
                    timeout_failure("activity StartToClose timeout", TimeoutType::StartToClose);
                self.attempt_failed(failure, Some(TimeoutType::StartToClose), now);
            }
            TimerKind::Heartbeat => {
                let failure = timeout_failure("activity Heartbeat timeout", TimeoutType::Heartbeat);
                self.attempt_failed(failure, Some(TimeoutType::Heartbeat), now);
            }
        }
        if !self.noop && kind != TimerKind::Dispatch {
            self.activity.state_transition_count += 1;
        }
    }
}

fn timeout_failure(message: &str, timeout_type: TimeoutType) -> Failure {
    Failure {
        message: message.into(),
        timeout_failure_info: Some(TimeoutFailureInfo {
            timeout_type,
            last_heartbeat_details: None,
        }),
        ..Default::default()
    }
}

fn canceled_failure(details: Option<Payloads>, identity: String) -> Failure {
    Failure {
        message: "Activity canceled".into(),
        canceled_failure_info: Some(CanceledFailureInfo { details, identity }),
        ..Default::default()
    }
}

impl Activity {
    fn apply_mask(
        &self,
        update: &ActivityOptions,
        paths: &[String],
    ) -> Result<(Options, Option<Duration>), ActivityError> {
        let ids = (self.activity_id.as_str(), self.activity_type.as_str());
        apply_mask(&self.options, ids, Duration::ZERO, update, paths)
    }
}

/// Applies the masked fields of an update to `current` and re-normalizes them (activity id
/// and type for the messages, the workflow's run timeout or zero). Returns the new options and a
/// new start delay, if the mask names one.
pub(crate) fn apply_mask(
    current: &Options,
    ids: (&str, &str),
    run_timeout: Duration,
    update: &ActivityOptions,
    paths: &[String],
) -> Result<(Options, Option<Duration>), ActivityError> {
    let invalid = ActivityError::InvalidArgument;
    let mut o = current.clone();
    let mut t = Timeouts {
        schedule_to_close: o.schedule_to_close,
        schedule_to_start: o.schedule_to_start,
        start_to_close: o.start_to_close,
        heartbeat: o.heartbeat,
    };
    let mut start_delay = None;
    let policy = update.retry_policy.clone().unwrap_or_default();
    let priority = update.priority.clone().unwrap_or_default();
    for path in paths {
        match path.as_str() {
            "taskQueue.name" => {
                let name = update.task_queue.as_ref().map(|q| q.name.as_str());
                o.task_queue = options::validate_task_queue(name).map_err(invalid)?;
            }
            "scheduleToCloseTimeout" => {
                t.schedule_to_close = update.schedule_to_close_timeout.unwrap_or_default()
            }
            "scheduleToStartTimeout" => {
                t.schedule_to_start = update.schedule_to_start_timeout.unwrap_or_default()
            }
            "startToCloseTimeout" => {
                t.start_to_close = update.start_to_close_timeout.unwrap_or_default()
            }
            "heartbeatTimeout" => t.heartbeat = update.heartbeat_timeout.unwrap_or_default(),
            "priority" => o.priority = update.priority.clone(),
            "priority.priorityKey" => {
                o.priority.get_or_insert_default().priority_key = priority.priority_key
            }
            "priority.fairnessKey" => {
                o.priority.get_or_insert_default().fairness_key = priority.fairness_key.clone()
            }
            "priority.fairnessWeight" => {
                o.priority.get_or_insert_default().fairness_weight = priority.fairness_weight
            }
            "retryPolicy" => o.retry_policy = retry::with_defaults(update.retry_policy.as_ref()),
            "retryPolicy.initialInterval" => {
                o.retry_policy.initial_interval = policy.initial_interval
            }
            "retryPolicy.backoffCoefficient" => {
                o.retry_policy.backoff_coefficient = policy.backoff_coefficient
            }
            "retryPolicy.maximumInterval" => {
                o.retry_policy.maximum_interval = policy.maximum_interval
            }
            "retryPolicy.maximumAttempts" => {
                o.retry_policy.maximum_attempts = policy.maximum_attempts
            }
            "startDelay" => {
                let delay = update.start_delay.unwrap_or_default();
                if delay.is_negative() {
                    return Err(invalid("invalid StartDelay: negative duration".into()));
                }
                start_delay = Some(delay);
            }
            other => {
                return Err(invalid(format!(
                    "unsupported update_mask path: \"{other}\""
                )));
            }
        }
    }
    // Explicitly cleared timeouts fall back to their defaults in normalization.
    let t = options::normalize_timeouts(t, run_timeout, ids).map_err(invalid)?;
    o.schedule_to_close = t.schedule_to_close;
    o.schedule_to_start = t.schedule_to_start;
    o.start_to_close = t.start_to_close;
    o.heartbeat = t.heartbeat;
    o.retry_policy = retry::with_defaults(Some(&o.retry_policy));
    retry::validate(&o.retry_policy).map_err(invalid)?;
    if let Some(p) = &o.priority {
        options::validate_priority(p).map_err(invalid)?;
    }
    Ok((o, start_delay))
}

#[cfg(test)]
mod tests;
