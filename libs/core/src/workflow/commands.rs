//! The worker's commands (W4, W6–W10, W16): each validated, then turned into events and state.
//! A bad command fails the whole workflow task with a cause and message like Temporal's.

use waymark_api::{Duration, Payload, Payloads, RetryState, Timestamp};

use super::events::closes_activity;
use super::start::{NewRun, StartOptions};
use super::state::{
    ActivityState, ActivityTimer, PendingActivity, PendingTimer, Status, TimerKind,
};
use super::wire::*;
use super::{ActivityDispatch, ContinuedAsNew, WorkflowTransition};
use crate::options::{self, MAX_ID_LENGTH, Options, Timeouts};
use crate::retry;

use WorkflowTaskFailedCause as Cause;

/// Why a command failed its workflow task; the message is `"<Cause>: <text>"`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Rejection {
    pub cause: WorkflowTaskFailedCause,
    pub text: String,
}

fn reject<T>(cause: WorkflowTaskFailedCause, text: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection {
        cause,
        text: text.into(),
    })
}

/// What every command of one answer shares.
pub(super) struct Context<'a> {
    pub completed_event_id: i64,
    /// The workflow worker.
    pub identity: &'a str,
    pub new_run_id: &'a str,
}

/// The attributes of a command, or the rejection for their absence.
fn attributes<T>(
    a: Option<T>,
    cause: WorkflowTaskFailedCause,
    command: &str,
) -> Result<T, Rejection> {
    a.map_or_else(
        || {
            reject(
                cause,
                format!("{command}CommandAttributes is not set on {command}Command."),
            )
        },
        Ok,
    )
}

fn check_length(what: &str, value: &str) -> Result<(), String> {
    if value.len() > MAX_ID_LENGTH {
        return Err(format!(
            "{what} exceeds length limit. Length={} Limit={MAX_ID_LENGTH}",
            value.len()
        ));
    }
    Ok(())
}

impl WorkflowTransition {
    pub(super) fn command(
        &mut self,
        c: Command,
        cx: &Context<'_>,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        match c.command_type {
            CommandType::ScheduleActivityTask => {
                let a = attributes(
                    c.schedule_activity_task_command_attributes,
                    Cause::BadScheduleActivityAttributes,
                    "ScheduleActivityTask",
                )?;
                self.schedule_activity(a, cx, now)
            }
            CommandType::RequestCancelActivityTask => {
                let a = attributes(
                    c.request_cancel_activity_task_command_attributes,
                    Cause::BadRequestCancelActivityAttributes,
                    "RequestCancelActivityTask",
                )?;
                self.request_cancel_activity(a.scheduled_event_id, cx, now)
            }
            CommandType::StartTimer => {
                let a = attributes(
                    c.start_timer_command_attributes,
                    Cause::BadStartTimerAttributes,
                    "StartTimer",
                )?;
                self.start_timer(a, cx, now)
            }
            CommandType::CancelTimer => {
                let a = attributes(
                    c.cancel_timer_command_attributes,
                    Cause::BadCancelTimerAttributes,
                    "CancelTimer",
                )?;
                self.cancel_timer(a.timer_id, cx, now)
            }
            CommandType::RecordMarker => {
                let a = attributes(
                    c.record_marker_command_attributes,
                    Cause::BadRecordMarkerAttributes,
                    "RecordMarker",
                )?;
                if a.marker_name.is_empty() {
                    return reject(
                        Cause::BadRecordMarkerAttributes,
                        "MarkerName is not set on command.",
                    );
                }
                let attributes = MarkerRecordedEventAttributes {
                    marker_name: a.marker_name,
                    details: a.details,
                    workflow_task_completed_event_id: cx.completed_event_id,
                    header: a.header,
                    failure: a.failure,
                };
                self.write(now, Attributes::MarkerRecorded(attributes));
                Ok(())
            }
            CommandType::CompleteWorkflowExecution => {
                let a = attributes(
                    c.complete_workflow_execution_command_attributes,
                    Cause::BadCompleteWorkflowExecutionAttributes,
                    "CompleteWorkflowExecution",
                )?;
                let attributes = WorkflowExecutionCompletedEventAttributes {
                    result: a.result,
                    workflow_task_completed_event_id: cx.completed_event_id,
                    new_execution_run_id: String::new(),
                };
                self.write(now, Attributes::WorkflowExecutionCompleted(attributes));
                self.close(Status::Completed, now);
                Ok(())
            }
            CommandType::FailWorkflowExecution => {
                let cause = Cause::BadFailWorkflowExecutionAttributes;
                let a = attributes(
                    c.fail_workflow_execution_command_attributes,
                    cause,
                    "FailWorkflowExecution",
                )?;
                let Some(failure) = a.failure else {
                    return reject(
                        cause,
                        "FailWorkflowExecutionCommandAttributes.Failure is not set on command.",
                    );
                };
                // Workflow retry policies are not applied: the run is not retried.
                let attributes = WorkflowExecutionFailedEventAttributes {
                    failure: Some(failure),
                    retry_state: RetryState::RetryPolicyNotSet,
                    workflow_task_completed_event_id: cx.completed_event_id,
                    new_execution_run_id: String::new(),
                };
                self.write(now, Attributes::WorkflowExecutionFailed(attributes));
                self.close(Status::Failed, now);
                Ok(())
            }
            CommandType::CancelWorkflowExecution => {
                let a = attributes(
                    c.cancel_workflow_execution_command_attributes,
                    Cause::BadCancelWorkflowExecutionAttributes,
                    "CancelWorkflowExecution",
                )?;
                let attributes = WorkflowExecutionCanceledEventAttributes {
                    workflow_task_completed_event_id: cx.completed_event_id,
                    details: a.details,
                };
                self.write(now, Attributes::WorkflowExecutionCanceled(attributes));
                self.close(Status::Canceled, now);
                Ok(())
            }
            CommandType::ContinueAsNewWorkflowExecution => {
                let a = attributes(
                    c.continue_as_new_workflow_execution_command_attributes,
                    Cause::BadContinueAsNewAttributes,
                    "ContinueAsNewWorkflowExecution",
                )?;
                self.continue_as_new(a, cx, now)
            }
            // The request-level check refused every other type before any command applied.
            other => unreachable!("command type {other} passed the sequence check"),
        }
    }

    fn schedule_activity(
        &mut self,
        a: ScheduleActivityTaskCommandAttributes,
        cx: &Context<'_>,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        let bad = |text: String| Rejection {
            cause: Cause::BadScheduleActivityAttributes,
            text,
        };
        let options = self.activity_options(&a).map_err(bad)?;
        if self.workflow.activity_by_id(&a.activity_id).is_some() {
            return reject(
                Cause::ScheduleActivityDuplicateId,
                format!(
                    "invalid history builder state for action: add-activitytask-scheduled-event, ActivityID: {}",
                    a.activity_id
                ),
            );
        }
        let activity_type = a.activity_type.map(|t| t.name).unwrap_or_default();
        let attributes = ActivityTaskScheduledEventAttributes {
            activity_id: a.activity_id.clone(),
            activity_type: Some(waymark_api::ActivityType {
                name: activity_type.clone(),
            }),
            task_queue: Some(normal_queue(&options.task_queue)),
            header: a.header.clone(),
            input: a.input.clone(),
            schedule_to_close_timeout: options.schedule_to_close,
            schedule_to_start_timeout: options.schedule_to_start,
            start_to_close_timeout: options.start_to_close,
            heartbeat_timeout: options.heartbeat,
            workflow_task_completed_event_id: cx.completed_event_id,
            retry_policy: Some(options.retry_policy.clone()),
            use_workflow_build_id: a.use_workflow_build_id,
            priority: options.priority.clone(),
        };
        let scheduled_event_id = self.write(now, Attributes::ActivityTaskScheduled(attributes));
        let activity = PendingActivity {
            scheduled_event_id,
            activity_id: a.activity_id,
            activity_type,
            options,
            input: a.input,
            header: a.header,
            scheduled_time: now,
            state: ActivityState::Scheduled,
            attempt: 1,
            attempt_scheduled_time: now,
            running: None,
            last_worker_identity: String::new(),
            heartbeat_details: None,
            last_heartbeat_time: None,
            last_failure: None,
            current_retry_interval: None,
            last_attempt_complete_time: None,
            cancel_requested_event_id: 0,
            pause: None,
            pending_reset: None,
            original_options: None,
            stamp: 0,
        };
        self.activity_dispatches.push(ActivityDispatch {
            scheduled_event_id,
            attempt: 1,
            task_queue: activity.options.task_queue.clone(),
            priority: self.workflow.activity_priority(&activity),
        });
        self.workflow
            .activities
            .insert(scheduled_event_id, activity);
        self.arm_activity(scheduled_event_id, ActivityTimer::ScheduleToStart);
        self.arm_activity(scheduled_event_id, ActivityTimer::ScheduleToClose);
        Ok(())
    }

    /// Validates and normalizes the options of a ScheduleActivityTask (SEMANTICS §2, §3): the
    /// timeouts are capped by the workflow's run timeout; an empty queue name means the
    /// workflow's queue.
    fn activity_options(
        &self,
        a: &ScheduleActivityTaskCommandAttributes,
    ) -> Result<Options, String> {
        if a.activity_id.is_empty() {
            return Err("activityId is not set".into());
        }
        check_length("activityId", &a.activity_id)?;
        let activity_type = a
            .activity_type
            .as_ref()
            .map(|t| t.name.as_str())
            .unwrap_or_default();
        if activity_type.is_empty() {
            return Err("activityType is not set".into());
        }
        check_length("activityType", activity_type)?;
        let task_queue = match a.task_queue.as_ref().map(|q| q.name.as_str()) {
            Some("") => self.workflow.task_queue.clone(),
            name => options::validate_task_queue(name)?,
        };
        let requested = Timeouts {
            schedule_to_close: a.schedule_to_close_timeout.unwrap_or_default(),
            schedule_to_start: a.schedule_to_start_timeout.unwrap_or_default(),
            start_to_close: a.start_to_close_timeout.unwrap_or_default(),
            heartbeat: a.heartbeat_timeout.unwrap_or_default(),
        };
        let t = options::normalize_timeouts(
            requested,
            self.workflow.run_timeout,
            (&a.activity_id, activity_type),
        )?;
        let retry_policy = retry::with_defaults(a.retry_policy.as_ref());
        retry::validate(&retry_policy)?;
        if let Some(p) = &a.priority {
            options::validate_priority(p)?;
        }
        Ok(Options {
            task_queue,
            schedule_to_close: t.schedule_to_close,
            schedule_to_start: t.schedule_to_start,
            start_to_close: t.start_to_close,
            heartbeat: t.heartbeat,
            retry_policy,
            priority: a.priority.clone(),
        })
    }

    /// W7: a not-started activity is canceled at once (held back like any event of this task,
    /// so dropped if the answer closes the run); a started one only learns of the request.
    fn request_cancel_activity(
        &mut self,
        scheduled_event_id: i64,
        cx: &Context<'_>,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        let pending = self
            .workflow
            .activities
            .get(&scheduled_event_id)
            .map(|a| (a.state, a.cancel_requested_event_id));
        let finished = self
            .workflow
            .buffered
            .iter()
            .any(|e| closes_activity(e, scheduled_event_id));
        match pending {
            // Its close is held back: the request is recorded and the close stands.
            None if finished => {}
            Some((_, 0)) => {}
            _ => {
                return reject(
                    Cause::BadRequestCancelActivityAttributes,
                    format!(
                        "invalid history builder state for action: add-activitytask-cancel-requested-event, ScheduledEventID: {scheduled_event_id}"
                    ),
                );
            }
        }
        let attributes = ActivityTaskCancelRequestedEventAttributes {
            scheduled_event_id,
            workflow_task_completed_event_id: cx.completed_event_id,
        };
        let requested_id = self.write(now, Attributes::ActivityTaskCancelRequested(attributes));
        match pending {
            Some((ActivityState::Scheduled | ActivityState::Paused, _)) => {
                self.workflow.activities.remove(&scheduled_event_id);
                let attributes = ActivityTaskCanceledEventAttributes {
                    details: Some(Payloads(vec![Payload::Json(
                        "ACTIVITY_ID_NOT_STARTED".into(),
                    )])),
                    latest_cancel_requested_event_id: requested_id,
                    scheduled_event_id,
                    started_event_id: 0,
                    identity: cx.identity.to_owned(),
                };
                self.notify(now, Attributes::ActivityTaskCanceled(attributes));
            }
            Some(_) => {
                let activity = self
                    .workflow
                    .activities
                    .get_mut(&scheduled_event_id)
                    .expect("pending");
                activity.state = ActivityState::CancelRequested;
                activity.cancel_requested_event_id = requested_id;
                activity.pending_reset = None;
                if activity.pause.is_some() {
                    self.resume_activity(scheduled_event_id);
                }
            }
            None => {}
        }
        Ok(())
    }

    fn start_timer(
        &mut self,
        a: StartTimerCommandAttributes,
        cx: &Context<'_>,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        let cause = Cause::BadStartTimerAttributes;
        if a.timer_id.is_empty() {
            return reject(cause, "TimerId is not set on command.");
        }
        check_length("timerId", &a.timer_id).or_else(|e| reject(cause, e))?;
        // Observed: a timer without a timeout is accepted and fires at once.
        let timeout = a.start_to_fire_timeout.unwrap_or_default();
        if timeout.is_negative() {
            return reject(cause, "An invalid StartToFireTimeout is set on command.");
        }
        if self.workflow.timers.contains_key(&a.timer_id) {
            return reject(
                Cause::StartTimerDuplicateId,
                format!(
                    "invalid history builder state for action: add-timer-started-event, TimerID: {}",
                    a.timer_id
                ),
            );
        }
        let attributes = TimerStartedEventAttributes {
            timer_id: a.timer_id.clone(),
            start_to_fire_timeout: a.start_to_fire_timeout,
            workflow_task_completed_event_id: cx.completed_event_id,
        };
        let started_event_id = self.write(now, Attributes::TimerStarted(attributes));
        let fire_time = now.add(timeout);
        self.timer(
            TimerKind::User {
                started_event_id,
                timer_id: a.timer_id.clone(),
            },
            fire_time,
        );
        let timer = PendingTimer {
            timer_id: a.timer_id.clone(),
            started_event_id,
            fire_time,
        };
        self.workflow.timers.insert(a.timer_id, timer);
        Ok(())
    }

    /// A timer that fired during this task (its TIMER_FIRED held back) can still be canceled:
    /// the fired event is dropped, as Temporal does.
    fn cancel_timer(
        &mut self,
        timer_id: String,
        cx: &Context<'_>,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        let cause = Cause::BadCancelTimerAttributes;
        if timer_id.is_empty() {
            return reject(cause, "TimerId is not set on command.");
        }
        let started_event_id = if let Some(timer) = self.workflow.timers.remove(&timer_id) {
            timer.started_event_id
        } else {
            let fired = self.workflow.buffered.iter().position(
                |e| matches!(&e.attributes, Attributes::TimerFired(f) if f.timer_id == timer_id),
            );
            let Some(i) = fired else {
                return reject(
                    cause,
                    format!(
                        "invalid history builder state for action: add-timer-canceled-event, TimerID: {timer_id}"
                    ),
                );
            };
            match self.workflow.buffered.remove(i).attributes {
                Attributes::TimerFired(f) => f.started_event_id,
                _ => unreachable!("matched a TimerFired event"),
            }
        };
        let attributes = TimerCanceledEventAttributes {
            timer_id,
            started_event_id,
            workflow_task_completed_event_id: cx.completed_event_id,
            identity: cx.identity.to_owned(),
        };
        self.write(now, Attributes::TimerCanceled(attributes));
        Ok(())
    }

    /// Closes this run and describes the next one; unset fields are inherited.
    fn continue_as_new(
        &mut self,
        a: ContinueAsNewWorkflowExecutionCommandAttributes,
        cx: &Context<'_>,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        let cause = Cause::BadContinueAsNewAttributes;
        let w = &self.workflow;
        let workflow_type = a
            .workflow_type
            .map(|t| t.name)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| w.workflow_type.clone());
        let task_queue = a
            .task_queue
            .map(|q| q.name)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| w.task_queue.clone());
        check_length("WorkflowType", &workflow_type).or_else(|e| reject(cause, e))?;
        let task_queue =
            options::validate_task_queue(Some(&task_queue)).or_else(|e| reject(cause, e))?;
        let run_timeout = a.workflow_run_timeout.unwrap_or(w.run_timeout);
        let task_timeout = a.workflow_task_timeout.unwrap_or(w.task_timeout);
        if run_timeout.is_negative() {
            return reject(cause, "A valid WorkflowRunTimeout is not set on command.");
        }
        if task_timeout.is_negative() {
            return reject(cause, "A valid WorkflowTaskTimeout is not set on command.");
        }
        if a.backoff_start_interval.is_some_and(|d| d.as_nanos() != 0)
            || !a.cron_schedule.is_empty()
        {
            return reject(
                cause,
                "backoffStartInterval and cronSchedule are not supported.",
            );
        }
        let options = StartOptions {
            workflow_type,
            task_queue,
            input: a.input.clone(),
            header: a.header.clone().or_else(|| w.header.clone()),
            memo: a.memo.clone().or_else(|| w.memo.clone()),
            search_attributes: a
                .search_attributes
                .clone()
                .or_else(|| w.search_attributes.clone()),
            retry_policy: a.retry_policy.clone().or_else(|| w.retry_policy.clone()),
            priority: w.priority.clone(),
            execution_timeout: w.execution_timeout,
            run_timeout,
            task_timeout,
            identity: w.identity.clone(),
            request_id: String::new(),
        };
        let run = NewRun {
            namespace: w.namespace.clone(),
            workflow_id: w.workflow_id.clone(),
            run_id: cx.new_run_id.to_owned(),
            first_execution_run_id: w.first_execution_run_id.clone(),
            continued_execution_run_id: w.run_id.clone(),
            execution_expiration: w.execution_expiration,
        };
        let attributes = WorkflowExecutionContinuedAsNewEventAttributes {
            new_execution_run_id: cx.new_run_id.to_owned(),
            workflow_type: Some(waymark_api::WorkflowType {
                name: options.workflow_type.clone(),
            }),
            task_queue: Some(normal_queue(&options.task_queue)),
            input: a.input,
            workflow_run_timeout: (!run_timeout.is_zero()).then_some(run_timeout),
            workflow_task_timeout: Some(task_timeout),
            workflow_task_completed_event_id: cx.completed_event_id,
            backoff_start_interval: Some(Duration::ZERO),
            initiator: ContinueAsNewInitiator::Workflow,
            failure: a.failure,
            last_completion_result: a.last_completion_result,
            header: options.header.clone(),
            memo: options.memo.clone(),
            search_attributes: options.search_attributes.clone(),
        };
        self.write(now, Attributes::WorkflowExecutionContinuedAsNew(attributes));
        self.close(Status::ContinuedAsNew, now);
        self.continued_as_new = Some(ContinuedAsNew { run, options });
        Ok(())
    }
}
