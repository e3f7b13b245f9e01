//! Activities inside a workflow (W4, W6, W7, W12; SEMANTICS §3–§7, §10): attempts, retries
//! and timeouts live in the state; only the close writes events, ACTIVITY_TASK_STARTED (with
//! the final attempt's data) immediately followed by the closing event.

use waymark_api::{
    Duration, Failure, Payloads, RecordActivityTaskHeartbeatResponse, RetryState,
    TimeoutFailureInfo, TimeoutType, Timestamp,
};

use super::events::BUFFERED_EVENT_ID;
use super::state::{ActivityState, ActivityTimer, Pause, RunningAttempt, TimerKind};
use super::wire::*;
use super::{
    ActivityDispatch, ActivityOperation, ActivityTarget, WorkflowError, WorkflowTransition,
};
use crate::activity::{self as standalone, ActivityError, OptionsUpdate, ResetOptions};
use crate::retry::{self, Decision};

/// Server-generated timeout failures of workflow activities carry `source: "Server"`.
fn timeout_failure(message: &str, timeout_type: TimeoutType) -> Failure {
    Failure {
        message: message.into(),
        source: "Server".into(),
        timeout_failure_info: Some(TimeoutFailureInfo {
            timeout_type,
            last_heartbeat_details: None,
        }),
        ..Default::default()
    }
}

const NOT_ENOUGH_TIME: &str = "Not enough time to schedule next retry before activity ScheduleToClose timeout, giving up retrying";

/// When deadlines coincide, Temporal's timer order decides which timeout an activity gets.
const TIMEOUT_ORDER: [ActivityTimer; 4] = [
    ActivityTimer::StartToClose,
    ActivityTimer::ScheduleToStart,
    ActivityTimer::ScheduleToClose,
    ActivityTimer::Heartbeat,
];

/// How an activity ends.
enum Close {
    Completed {
        result: Option<Payloads>,
        identity: String,
    },
    Failed {
        failure: Option<Failure>,
        retry_state: RetryState,
        identity: String,
    },
    TimedOut {
        failure: Failure,
        retry_state: RetryState,
    },
    Canceled {
        details: Option<Payloads>,
        identity: String,
    },
}

impl WorkflowTransition {
    fn activity(&mut self, scheduled_event_id: i64) -> &mut super::PendingActivity {
        self.workflow
            .activities
            .get_mut(&scheduled_event_id)
            .expect("a pending activity")
    }

    /// The pending activity a worker's call names; `running`: it must have a running attempt.
    fn target(&self, target: &ActivityTarget, running: bool) -> Result<i64, WorkflowError> {
        if !self.workflow.is_running() {
            return Err(WorkflowError::AlreadyCompleted);
        }
        let activity = match target {
            ActivityTarget::Token {
                scheduled_event_id,
                attempt,
                stamp,
            } => self
                .workflow
                .activities
                .get(scheduled_event_id)
                .filter(|a| a.attempt == *attempt && a.stamp == *stamp && a.running.is_some())
                .ok_or(WorkflowError::ActivityTaskNotFound)?,
            ActivityTarget::Id(id) => self
                .workflow
                .activity_by_id(id)
                .ok_or_else(|| WorkflowError::PendingActivityNotFound(id.clone()))?,
        };
        if running && activity.running.is_none() {
            return Err(WorkflowError::ActivityTaskNotFound);
        }
        Ok(activity.scheduled_event_id)
    }

    /// Sets the activity's timer of this kind at its current deadline, if it has one.
    pub(super) fn arm_activity(&mut self, scheduled_event_id: i64, timer: ActivityTimer) {
        let activity = &self.workflow.activities[&scheduled_event_id];
        let attempt = if timer == ActivityTimer::ScheduleToClose {
            0
        } else {
            activity.attempt
        };
        if let Some(due) = activity.deadline(timer) {
            self.timer(
                TimerKind::Activity {
                    scheduled_event_id,
                    attempt,
                    timer,
                },
                due,
            );
        }
    }

    /// Makes `attempt` wait for a worker from `dispatch_at` on. A paused activity resumes: its
    /// schedule-to-close clock, stopped while paused, runs again.
    fn schedule_activity_attempt(
        &mut self,
        id: i64,
        attempt: i32,
        dispatch_at: Timestamp,
        now: Timestamp,
    ) {
        let activity = self.activity(id);
        activity.state = ActivityState::Scheduled;
        activity.attempt = attempt;
        activity.attempt_scheduled_time = dispatch_at;
        activity.running = None;
        let resumed = activity.pause.take().is_some();
        if dispatch_at <= now {
            self.dispatch_activity(id);
        } else {
            self.arm_activity(id, ActivityTimer::Retry);
        }
        self.arm_activity(id, ActivityTimer::ScheduleToStart);
        if resumed {
            self.arm_activity(id, ActivityTimer::ScheduleToClose);
        }
    }

    fn dispatch_activity(&mut self, scheduled_event_id: i64) {
        let activity = &self.workflow.activities[&scheduled_event_id];
        self.activity_dispatches.push(ActivityDispatch {
            scheduled_event_id,
            attempt: activity.attempt,
            task_queue: activity.options.task_queue.clone(),
            priority: self.workflow.activity_priority(activity),
        });
    }

    pub(super) fn record_activity_started(
        &mut self,
        scheduled_event_id: i64,
        attempt: i32,
        identity: String,
        request_id: String,
        now: Timestamp,
    ) -> Result<(), WorkflowError> {
        if !self.workflow.is_running() {
            return Err(WorkflowError::StaleTask);
        }
        let activity = self
            .workflow
            .activities
            .get_mut(&scheduled_event_id)
            .ok_or(WorkflowError::StaleTask)?;
        if activity.attempt != attempt {
            return Err(WorkflowError::StaleTask);
        }
        if let Some(running) = &activity.running {
            // The same poll delivered twice gets the same task.
            if running.request_id != request_id {
                return Err(WorkflowError::StaleTask);
            }
            self.noop = true;
            return Ok(());
        }
        if activity.attempt_scheduled_time > now || activity.state == ActivityState::Paused {
            return Err(WorkflowError::StaleTask);
        }
        activity.state = ActivityState::Started;
        activity.last_worker_identity = identity.clone();
        activity.running = Some(RunningAttempt {
            started_time: now,
            identity,
            request_id,
        });
        self.arm_activity(scheduled_event_id, ActivityTimer::StartToClose);
        self.arm_activity(scheduled_event_id, ActivityTimer::Heartbeat);
        Ok(())
    }

    pub(super) fn heartbeat(
        &mut self,
        target: ActivityTarget,
        details: Option<Payloads>,
        now: Timestamp,
    ) -> Result<(), WorkflowError> {
        let id = self.target(&target, true)?;
        let activity = self.activity(id);
        activity.heartbeat_details = details;
        activity.last_heartbeat_time = Some(now);
        self.heartbeat = RecordActivityTaskHeartbeatResponse {
            cancel_requested: activity.state == ActivityState::CancelRequested,
            activity_paused: activity.pause.is_some(),
            activity_reset: activity.state == ActivityState::ResetRequested,
        };
        Ok(())
    }

    /// By token the attempt must be running; by id a waiting activity is force-completed (W12).
    pub(super) fn complete_activity(
        &mut self,
        target: ActivityTarget,
        result: Option<Payloads>,
        identity: String,
        now: Timestamp,
    ) -> Result<(), WorkflowError> {
        let id = self.target(&target, matches!(target, ActivityTarget::Token { .. }))?;
        self.close_activity(id, Close::Completed { result, identity }, now);
        Ok(())
    }

    pub(super) fn fail_activity(
        &mut self,
        target: ActivityTarget,
        failure: Option<Failure>,
        last_heartbeat_details: Option<Payloads>,
        identity: String,
        now: Timestamp,
    ) -> Result<(), WorkflowError> {
        let id = self.target(&target, true)?;
        let activity = self.activity(id);
        if last_heartbeat_details.is_some() {
            activity.heartbeat_details = last_heartbeat_details;
            activity.last_heartbeat_time = Some(now);
        }
        activity.last_worker_identity = identity.clone();
        self.attempt_failed(id, failure, None, identity, now);
        Ok(())
    }

    pub(super) fn resolve_activity_canceled(
        &mut self,
        target: ActivityTarget,
        details: Option<Payloads>,
        identity: String,
        now: Timestamp,
    ) -> Result<(), WorkflowError> {
        let id = self.target(&target, true)?;
        if self.workflow.activities[&id].state != ActivityState::CancelRequested {
            return Err(WorkflowError::InvalidArgument(
                "unable to mark activity as canceled without activity being request canceled first"
                    .into(),
            ));
        }
        self.close_activity(id, Close::Canceled { details, identity }, now);
        Ok(())
    }

    /// The running attempt ended with `failure`; `timeout` says which timer ended it. Retried
    /// attempts write nothing and wake no workflow task (W4).
    fn attempt_failed(
        &mut self,
        id: i64,
        failure: Option<Failure>,
        timeout: Option<TimeoutType>,
        identity: String,
        now: Timestamp,
    ) {
        let activity = &self.workflow.activities[&id];
        if activity.state == ActivityState::ResetRequested {
            // Even a non-retryable failure or a timeout only ends the attempt (§8.7).
            let activity = self.activity(id);
            activity.last_attempt_complete_time = Some(now);
            let reset = activity.pending_reset.take().unwrap_or_default();
            return self.reset_activity_now(id, reset, now);
        }
        let decision = if activity.state == ActivityState::CancelRequested {
            Decision::Stop(RetryState::CancelRequested)
        } else {
            // Workflow activities give up only when the retry would start after the deadline.
            let deadline = activity
                .schedule_to_close_deadline()
                .map(|d| d.add(Duration::from_nanos(1)));
            let probe = failure.clone().unwrap_or_default();
            retry::decide(
                &activity.options.retry_policy,
                activity.attempt,
                &probe,
                now,
                deadline,
            )
        };
        match (decision, timeout) {
            (Decision::RetryAfter(interval), _) => {
                let activity = self.activity(id);
                activity.last_failure = failure;
                activity.current_retry_interval = Some(interval);
                activity.last_attempt_complete_time = Some(now);
                let next = activity.attempt + 1;
                if activity.state == ActivityState::PauseRequested {
                    activity.state = ActivityState::Paused;
                    activity.attempt = next;
                    activity.attempt_scheduled_time = now.add(interval);
                    activity.running = None;
                } else {
                    self.schedule_activity_attempt(id, next, now.add(interval), now);
                }
            }
            // A timeout whose retry would overrun schedule-to-close is reported as that timeout.
            (Decision::Stop(RetryState::Timeout), Some(_)) => {
                let failure = self.final_failure(
                    id,
                    timeout_failure(NOT_ENOUGH_TIME, TimeoutType::ScheduleToClose),
                );
                self.close_activity(
                    id,
                    Close::TimedOut {
                        failure,
                        retry_state: RetryState::Timeout,
                    },
                    now,
                );
            }
            (Decision::Stop(retry_state), Some(_)) => {
                let failure = self.final_failure(id, failure.unwrap_or_default());
                self.close_activity(
                    id,
                    Close::TimedOut {
                        failure,
                        retry_state,
                    },
                    now,
                );
            }
            (Decision::Stop(retry_state), None) => {
                self.close_activity(
                    id,
                    Close::Failed {
                        failure,
                        retry_state,
                        identity,
                    },
                    now,
                );
            }
        }
    }

    /// A closing timeout carries the previous attempt's failure and the last heartbeat details.
    fn final_failure(&self, id: i64, mut failure: Failure) -> Failure {
        let activity = &self.workflow.activities[&id];
        failure.cause = activity.last_failure.clone().map(Box::new);
        if let Some(info) = failure.timeout_failure_info.as_mut() {
            info.last_heartbeat_details = activity.heartbeat_details.clone();
        }
        failure
    }

    /// Removes the activity and records its Started event (the running attempt's, or one
    /// fabricated for a force-complete) followed by its closing event.
    fn close_activity(&mut self, id: i64, close: Close, now: Timestamp) {
        let activity = self
            .workflow
            .activities
            .remove(&id)
            .expect("a pending activity");
        let fabricated = match &close {
            Close::Completed { identity, .. } => Some((now, identity.clone(), String::new())),
            _ => None,
        };
        let started = activity
            .running
            .map(|r| (r.started_time, r.identity, r.request_id))
            .or(fabricated);
        let started_event_id = match started {
            Some((time, identity, request_id)) => {
                let attributes = ActivityTaskStartedEventAttributes {
                    scheduled_event_id: id,
                    identity,
                    request_id,
                    attempt: activity.attempt,
                    last_failure: activity.last_failure,
                };
                self.notify(time, Attributes::ActivityTaskStarted(attributes))
                    .unwrap_or(BUFFERED_EVENT_ID)
            }
            None => 0,
        };
        let attributes = match close {
            Close::Completed { result, identity } => {
                Attributes::ActivityTaskCompleted(ActivityTaskCompletedEventAttributes {
                    result,
                    scheduled_event_id: id,
                    started_event_id,
                    identity,
                })
            }
            Close::Failed {
                failure,
                retry_state,
                identity,
            } => Attributes::ActivityTaskFailed(ActivityTaskFailedEventAttributes {
                failure,
                scheduled_event_id: id,
                started_event_id,
                identity,
                retry_state,
            }),
            Close::TimedOut {
                failure,
                retry_state,
            } => Attributes::ActivityTaskTimedOut(ActivityTaskTimedOutEventAttributes {
                failure: Some(failure),
                scheduled_event_id: id,
                started_event_id,
                retry_state,
            }),
            Close::Canceled { details, identity } => {
                Attributes::ActivityTaskCanceled(ActivityTaskCanceledEventAttributes {
                    details,
                    latest_cancel_requested_event_id: activity.cancel_requested_event_id,
                    scheduled_event_id: id,
                    started_event_id,
                    identity,
                })
            }
        };
        self.notify(now, attributes);
    }

    pub(super) fn activity_timer_fired(
        &mut self,
        id: i64,
        attempt: i32,
        fired: ActivityTimer,
        now: Timestamp,
    ) {
        let current = self
            .workflow
            .activities
            .get(&id)
            .filter(|a| fired == ActivityTimer::ScheduleToClose || a.attempt == attempt);
        let Some(deadline) = current.and_then(|a| a.deadline(fired)) else {
            self.noop = true;
            return;
        };
        if now < deadline {
            self.timer(
                TimerKind::Activity {
                    scheduled_event_id: id,
                    attempt,
                    timer: fired,
                },
                deadline,
            );
            return;
        }
        if fired == ActivityTimer::Retry {
            return self.dispatch_activity(id);
        }
        let activity = &self.workflow.activities[&id];
        let expired = TIMEOUT_ORDER
            .into_iter()
            .find(|t| activity.deadline(*t).is_some_and(|d| d <= now))
            .unwrap_or(fired);
        let cancel_requested = activity.state == ActivityState::CancelRequested;
        match expired {
            ActivityTimer::ScheduleToStart => {
                let failure = self.final_failure(
                    id,
                    timeout_failure(
                        "activity ScheduleToStart timeout",
                        TimeoutType::ScheduleToStart,
                    ),
                );
                self.close_activity(
                    id,
                    Close::TimedOut {
                        failure,
                        retry_state: RetryState::Timeout,
                    },
                    now,
                );
            }
            ActivityTimer::ScheduleToClose => {
                // Workflow activities report even a plain schedule-to-close expiry this way (§4.1).
                let failure = self.final_failure(
                    id,
                    timeout_failure(NOT_ENOUGH_TIME, TimeoutType::ScheduleToClose),
                );
                let retry_state = if cancel_requested {
                    RetryState::CancelRequested
                } else {
                    RetryState::Timeout
                };
                self.close_activity(
                    id,
                    Close::TimedOut {
                        failure,
                        retry_state,
                    },
                    now,
                );
            }
            ActivityTimer::StartToClose => {
                let failure =
                    timeout_failure("activity StartToClose timeout", TimeoutType::StartToClose);
                self.attempt_failed(
                    id,
                    Some(failure),
                    Some(TimeoutType::StartToClose),
                    String::new(),
                    now,
                );
            }
            ActivityTimer::Heartbeat => {
                let failure = timeout_failure("activity Heartbeat timeout", TimeoutType::Heartbeat);
                self.attempt_failed(
                    id,
                    Some(failure),
                    Some(TimeoutType::Heartbeat),
                    String::new(),
                    now,
                );
            }
            ActivityTimer::Retry => unreachable!("handled above"),
        }
    }

    /// An operator's pause, unpause, reset or options update of a pending activity; none of
    /// them writes an event. As in Temporal, a paused activity's timeouts stop until it resumes.
    pub(super) fn operate(
        &mut self,
        activity_id: &str,
        operation: ActivityOperation,
        now: Timestamp,
    ) -> Result<(), WorkflowError> {
        if !self.workflow.is_running() {
            return Err(WorkflowError::AlreadyCompleted);
        }
        let id = self
            .workflow
            .activity_by_id(activity_id)
            .ok_or(WorkflowError::NoPendingActivity)?
            .scheduled_event_id;
        let activity = self.activity(id);
        let state = activity.state;
        match operation {
            ActivityOperation::Pause { identity, reason } => {
                activity.state = match state {
                    ActivityState::Scheduled => ActivityState::Paused,
                    ActivityState::Started => ActivityState::PauseRequested,
                    ActivityState::Paused | ActivityState::PauseRequested => {
                        return Err(ActivityError::AlreadyPaused.into());
                    }
                    s => return Err(ActivityError::NotPausable(s.name()).into()),
                };
                activity.pause = Some(Pause {
                    time: now,
                    identity,
                    reason,
                });
            }
            ActivityOperation::Unpause { jitter } => match state {
                ActivityState::Paused => {
                    let attempt = activity.attempt;
                    self.schedule_activity_attempt(id, attempt, now.add(jitter), now);
                }
                ActivityState::PauseRequested => {
                    activity.state = ActivityState::Started;
                    self.resume_activity(id);
                }
                // Unpausing what is not paused is no error in Temporal.
                _ => self.noop = true,
            },
            ActivityOperation::Reset(reset) => match state {
                ActivityState::CancelRequested => {
                    return Err(ActivityError::ResetWithPendingCancel.into());
                }
                ActivityState::ResetRequested => return Err(ActivityError::ResetPending.into()),
                ActivityState::Started | ActivityState::PauseRequested => {
                    activity.state = ActivityState::ResetRequested;
                    activity.pending_reset = Some(reset);
                }
                ActivityState::Scheduled | ActivityState::Paused => {
                    self.reset_activity_now(id, reset, now)
                }
            },
            ActivityOperation::UpdateOptions(update) => {
                self.update_activity_options(id, update, now)?
            }
        }
        Ok(())
    }

    /// A paused activity with a running attempt resumes: its timers run again from their
    /// anchors (an overdue one fires at once).
    pub(super) fn resume_activity(&mut self, id: i64) {
        self.activity(id).pause = None;
        for timer in [
            ActivityTimer::StartToClose,
            ActivityTimer::Heartbeat,
            ActivityTimer::ScheduleToClose,
        ] {
            self.arm_activity(id, timer);
        }
    }

    /// Back to attempt 1 with no backoff; a paused activity stays paused if asked to.
    fn reset_activity_now(&mut self, id: i64, reset: ResetOptions, now: Timestamp) {
        let activity = self.activity(id);
        if reset.reset_heartbeat {
            activity.heartbeat_details = None;
        }
        if reset.restore_original_options
            && let Some(original) = activity.original_options.take()
        {
            activity.options = original;
        }
        activity.current_retry_interval = None;
        activity.pending_reset = None;
        activity.stamp += 1;
        if reset.keep_paused && activity.pause.is_some() {
            activity.state = ActivityState::Paused;
            activity.attempt = 1;
            activity.running = None;
        } else {
            self.schedule_activity_attempt(id, 1, now.add(reset.jitter), now);
        }
    }

    /// New options take effect at once: the timers are re-armed at the new deadlines (the old
    /// ones will find they are early or stale).
    fn update_activity_options(
        &mut self,
        id: i64,
        update: OptionsUpdate,
        now: Timestamp,
    ) -> Result<(), WorkflowError> {
        let run_timeout = self.workflow.run_timeout;
        let activity = self.activity(id);
        if !matches!(
            activity.state,
            ActivityState::Scheduled
                | ActivityState::Started
                | ActivityState::Paused
                | ActivityState::PauseRequested
        ) {
            return Err(ActivityError::CannotUpdateOptions(activity.state.name()).into());
        }
        let options = match update {
            OptionsUpdate::RestoreOriginal => match activity.original_options.take() {
                Some(original) => original,
                // Never changed: nothing to write.
                None => {
                    self.noop = true;
                    return Ok(());
                }
            },
            OptionsUpdate::Mask { options, paths } => {
                let ids = (
                    activity.activity_id.as_str(),
                    activity.activity_type.as_str(),
                );
                // Workflow activities have no start delay: the path is accepted and has no effect.
                let (next, _) =
                    standalone::apply_mask(&activity.options, ids, run_timeout, &options, &paths)?;
                activity
                    .original_options
                    .get_or_insert_with(|| activity.options.clone());
                next
            }
        };
        let moved = options.task_queue != activity.options.task_queue;
        activity.options = options;
        let dispatchable =
            activity.state == ActivityState::Scheduled && activity.attempt_scheduled_time <= now;
        for timer in [
            ActivityTimer::ScheduleToStart,
            ActivityTimer::StartToClose,
            ActivityTimer::Heartbeat,
            ActivityTimer::ScheduleToClose,
        ] {
            self.arm_activity(id, timer);
        }
        if moved && dispatchable {
            // The waiting task follows the activity to its new queue; the first poll of either
            // copy takes the attempt.
            self.dispatch_activity(id);
        }
        Ok(())
    }
}
