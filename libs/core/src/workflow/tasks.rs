//! The workflow task protocol (W3, W5, W11, W16): start, complete, fail and time out, with
//! transient attempts and the rejection of whole answers.

use waymark_api::{Failure, ServerFailureInfo, TimeoutType, Timestamp};

use super::commands::Rejection;
use super::state::{StartedTask, TimerKind, WorkflowTask, WorkflowTaskRef};
use super::wire::*;
use super::{TaskCompletion, WorkflowError, WorkflowTransition};

/// The failure the server records when it fails a task on the worker's behalf.
fn server_failure(message: &str) -> Failure {
    Failure {
        message: message.into(),
        server_failure_info: Some(ServerFailureInfo::default()),
        ..Default::default()
    }
}

impl WorkflowTransition {
    fn started(&self) -> (WorkflowTask, StartedTask) {
        let (task, started) = self
            .workflow
            .started_task()
            .expect("a started workflow task");
        (task.clone(), started.clone())
    }

    pub(super) fn record_task_started(
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
        let current = self
            .workflow
            .task
            .clone()
            .filter(|t| t.scheduled_event_id == scheduled_event_id && t.attempt == attempt);
        let Some(mut task) = current else {
            return Err(WorkflowError::StaleTask);
        };
        if let Some(started) = &task.started {
            // The same poll delivered twice gets the same task.
            if started.request_id != request_id {
                return Err(WorkflowError::StaleTask);
            }
            self.noop = true;
            return Ok(());
        }
        if task.transient && task.scheduled_event_id != self.workflow.next_event_id {
            // Events came in since this attempt was scheduled: it becomes a normal first attempt.
            task.scheduled_event_id = self.write(now, self.task_scheduled_attributes(1));
            task.attempt = 1;
            task.transient = false;
            task.scheduled_time = now;
        }
        let suggest_continue_as_new = self.limits.suggest_continue_as_new(
            self.workflow.next_event_id,
            self.workflow.history_size_bytes,
        );
        let attributes = WorkflowTaskStartedEventAttributes {
            scheduled_event_id: task.scheduled_event_id,
            identity: identity.clone(),
            request_id: request_id.clone(),
            suggest_continue_as_new,
            history_size_bytes: self.workflow.history_size_bytes,
        };
        let started_event_id = if task.transient {
            task.scheduled_event_id + 1
        } else {
            self.write(now, Attributes::WorkflowTaskStarted(attributes))
        };
        task.started = Some(StartedTask {
            started_event_id,
            started_time: now,
            request_id,
            identity,
            suggest_continue_as_new,
        });
        let kind = TimerKind::WorkflowTask {
            scheduled_event_id: task.scheduled_event_id,
            attempt: task.attempt,
        };
        self.workflow.task = Some(task);
        self.timer(kind, now.add(self.workflow.task_timeout));
        Ok(())
    }

    pub(super) fn complete_task(
        &mut self,
        completion: TaskCompletion,
        now: Timestamp,
    ) -> Result<(), WorkflowError> {
        let task_ref = completion.task;
        if !self.workflow.is_running() || self.workflow.started_task_ref() != Some(task_ref) {
            return Err(WorkflowError::WorkflowTaskNotFound);
        }
        check_command_sequence(&completion.commands)?;
        let closing = completion
            .commands
            .iter()
            .any(|c| c.command_type.is_closing());
        if closing && !self.workflow.buffered.is_empty() {
            // The workflow has not seen what arrived meanwhile: the whole answer is refused and
            // the task retried at attempt 1 (W5).
            let message = WorkflowTaskFailedCause::UnhandledCommand.camel_name();
            self.end_task(
                WorkflowTaskFailedCause::UnhandledCommand,
                Some(server_failure(&message)),
                completion.identity,
                1,
                now,
            );
            self.rejected = Some(message);
            return Ok(());
        }
        // The worker that answered keeps the run in its cache if it asked for stickiness; a
        // worker that did not ask gets the next tasks through the run's task queue.
        self.workflow.sticky = completion.sticky.clone();
        let identity = completion.identity.clone();
        // Commands apply to a scratch copy: a bad one discards them all (W16).
        let mut scratch = self.clone();
        match scratch.apply_commands(completion, now) {
            Ok(()) => *self = scratch,
            Err(Rejection { cause, text }) => {
                let message = format!("{}: {text}", cause.camel_name());
                let next_attempt = task_ref.attempt + 1;
                self.end_task(
                    cause,
                    Some(server_failure(&message)),
                    identity,
                    next_attempt,
                    now,
                );
                self.rejected = Some(message);
            }
        }
        Ok(())
    }

    fn apply_commands(
        &mut self,
        completion: TaskCompletion,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        let TaskCompletion {
            commands,
            identity,
            force_create_new_task,
            new_run_id,
            sdk_metadata,
            metering_metadata,
            ..
        } = completion;
        let (task, started) = self.started();
        if task.transient {
            // A completed attempt's events become permanent, with their reserved ids.
            self.write(
                task.scheduled_time,
                self.task_scheduled_attributes(task.attempt),
            );
            let attributes = WorkflowTaskStartedEventAttributes {
                scheduled_event_id: task.scheduled_event_id,
                identity: started.identity.clone(),
                request_id: started.request_id.clone(),
                suggest_continue_as_new: started.suggest_continue_as_new,
                history_size_bytes: self.workflow.history_size_bytes,
            };
            self.write(
                started.started_time,
                Attributes::WorkflowTaskStarted(attributes),
            );
        }
        let attributes = WorkflowTaskCompletedEventAttributes {
            scheduled_event_id: task.scheduled_event_id,
            started_event_id: started.started_event_id,
            identity: identity.clone(),
            sdk_metadata,
            metering_metadata,
        };
        let completed_event_id = self.write(now, Attributes::WorkflowTaskCompleted(attributes));
        self.workflow.last_completed_started_event_id = started.started_event_id;
        let context = super::commands::Context {
            completed_event_id,
            identity: &identity,
            new_run_id: &new_run_id,
        };
        // The task stays started while its commands apply, so that what they cause is held back.
        for command in commands {
            self.command(command, &context, now)?;
        }
        if self.closed {
            return Ok(());
        }
        self.workflow.task = None;
        if self.flush() || force_create_new_task {
            self.wake = true;
        }
        Ok(())
    }

    /// RespondWorkflowTaskFailed: the failure is recorded and the next attempt scheduled (W11).
    pub(super) fn fail_task(
        &mut self,
        task_ref: WorkflowTaskRef,
        cause: WorkflowTaskFailedCause,
        failure: Option<Failure>,
        identity: String,
        now: Timestamp,
    ) -> Result<(), WorkflowError> {
        if !self.workflow.is_running() {
            return Err(WorkflowError::AlreadyCompleted);
        }
        if self.workflow.started_task_ref() != Some(task_ref) {
            return Err(WorkflowError::WorkflowTaskNotFound);
        }
        self.end_task(cause, failure, identity, task_ref.attempt + 1, now);
        Ok(())
    }

    /// Nobody took a sticky task in time (its worker is gone or busy): recorded as a
    /// schedule-to-start timeout, then a new task goes to the run's task queue with the whole
    /// history, as on Temporal.
    pub(super) fn sticky_timer_fired(
        &mut self,
        scheduled_event_id: i64,
        attempt: i32,
        now: Timestamp,
    ) {
        let waiting = self.workflow.task.as_ref().is_some_and(|t| {
            t.scheduled_event_id == scheduled_event_id
                && t.attempt == attempt
                && t.started.is_none()
                && t.sticky_queue.is_some()
        });
        if !waiting {
            self.noop = true;
            return;
        }
        let attributes = WorkflowTaskTimedOutEventAttributes {
            scheduled_event_id,
            started_event_id: 0,
            timeout_type: TimeoutType::ScheduleToStart,
        };
        self.write(now, Attributes::WorkflowTaskTimedOut(attributes));
        self.workflow.sticky = None;
        self.workflow.task = None;
        self.schedule_task(1, now);
    }

    /// A started task failed: recorded unless it was transient (only the first failure of a
    /// series is), then the held-back events, then attempt `next_attempt`.
    fn end_task(
        &mut self,
        cause: WorkflowTaskFailedCause,
        failure: Option<Failure>,
        identity: String,
        next_attempt: i32,
        now: Timestamp,
    ) {
        let (task, started) = self.started();
        // The worker may have lost the run's state: the next attempt gets the whole history.
        self.workflow.sticky = None;
        if !task.transient {
            let attributes = WorkflowTaskFailedEventAttributes {
                scheduled_event_id: task.scheduled_event_id,
                started_event_id: started.started_event_id,
                cause,
                failure,
                identity,
            };
            self.write(now, Attributes::WorkflowTaskFailed(attributes));
        }
        self.workflow.task = None;
        self.flush();
        self.schedule_task(next_attempt, now);
    }

    pub(super) fn task_timer_fired(
        &mut self,
        scheduled_event_id: i64,
        attempt: i32,
        now: Timestamp,
    ) {
        let current = self
            .workflow
            .started_task()
            .filter(|(t, _)| t.scheduled_event_id == scheduled_event_id && t.attempt == attempt)
            .map(|(t, s)| (t.clone(), s.clone()));
        let Some((task, started)) = current else {
            self.noop = true;
            return;
        };
        let deadline = started.started_time.add(self.workflow.task_timeout);
        if now < deadline {
            self.timer(
                TimerKind::WorkflowTask {
                    scheduled_event_id,
                    attempt,
                },
                deadline,
            );
            return;
        }
        if !task.transient {
            let attributes = WorkflowTaskTimedOutEventAttributes {
                scheduled_event_id,
                started_event_id: started.started_event_id,
                timeout_type: TimeoutType::StartToClose,
            };
            self.write(now, Attributes::WorkflowTaskTimedOut(attributes));
        }
        self.workflow.sticky = None;
        self.workflow.task = None;
        self.flush();
        self.schedule_task(attempt + 1, now);
    }
}

/// Problems that reject only the request: the task keeps running (W16).
fn check_command_sequence(commands: &[Command]) -> Result<(), WorkflowError> {
    use CommandType::*;
    for c in commands {
        match c.command_type {
            Unspecified => {
                return Err(WorkflowError::InvalidArgument(
                    "unknown command type: Unspecified".into(),
                ));
            }
            RequestCancelExternalWorkflowExecution
            | StartChildWorkflowExecution
            | SignalExternalWorkflowExecution
            | UpsertWorkflowSearchAttributes
            | ProtocolMessage
            | ModifyWorkflowProperties
            | ScheduleNexusOperation
            | RequestCancelNexusOperation => {
                let name = c.command_type.camel_name();
                return Err(WorkflowError::InvalidArgument(format!(
                    "command type {name} is not supported"
                )));
            }
            _ => {}
        }
    }
    let closing = commands.iter().position(|c| c.command_type.is_closing());
    if let Some(i) = closing.filter(|&i| i + 1 < commands.len()) {
        let names: Vec<_> = commands
            .iter()
            .map(|c| c.command_type.camel_name())
            .collect();
        return Err(WorkflowError::InvalidArgument(format!(
            "invalid command sequence: [{}], command {} must be the last command.",
            names.join(", "),
            names[i]
        )));
    }
    Ok(())
}
