//! Writing history (W5): permanent events, events held back while a workflow task is started,
//! scheduling workflow tasks, closing the run; plus signals, cancel requests, terminate and the
//! timers that are not an activity's.

use std::collections::HashMap;

use waymark_api::{Header, Payloads, RetryState, TaskQueue, TaskQueueKind, Timestamp};

use crate::limits::HistoryLimits;

use super::state::{Status, Timer, TimerKind, WorkflowTask};
use super::wire::*;
use super::{WorkflowError, WorkflowTaskDispatch, WorkflowTransition};

/// The id of a held-back event's reference to a Started event that has no id yet; fixed when
/// the held-back events are written (Temporal's `BufferedEventID`).
pub(super) const BUFFERED_EVENT_ID: i64 = -123;

/// The identity Temporal records for events the server writes on its own.
pub(super) const SERVER_IDENTITY: &str = "history-service";

impl WorkflowTransition {
    pub(super) fn new(workflow: super::Workflow) -> Self {
        WorkflowTransition {
            workflow,
            new_events: Vec::new(),
            timers: Vec::new(),
            activity_dispatches: Vec::new(),
            workflow_task_dispatch: None,
            noop: false,
            closed: false,
            rejected: None,
            continued_as_new: None,
            heartbeat: Default::default(),
            wake: false,
            limits: HistoryLimits::default(),
            history_limit_exceeded: None,
        }
    }

    /// Appends a permanent event and returns its id.
    pub(super) fn write(&mut self, time: Timestamp, attributes: Attributes) -> i64 {
        let w = &mut self.workflow;
        let id = w.next_event_id;
        w.next_event_id += 1;
        w.last_task_id += 1;
        let event = HistoryEvent::new(id, time, w.last_task_id, attributes);
        w.history_size_bytes += serde_json::to_vec(&event).map_or(0, |b| b.len() as i64);
        self.new_events.push(event);
        id
    }

    /// An event the workflow code must see. While a task is started it is held back (no id
    /// yet: `None`); otherwise it is written, and a task is scheduled after this transition's
    /// events if none is outstanding.
    pub(super) fn notify(&mut self, time: Timestamp, attributes: Attributes) -> Option<i64> {
        if self.workflow.started_task().is_some() {
            self.workflow
                .buffered
                .push(HistoryEvent::new(BUFFERED_EVENT_ID, time, 0, attributes));
            return None;
        }
        self.wake = true;
        Some(self.write(time, attributes))
    }

    /// Writes the held-back events in arrival order; true if there were any.
    pub(super) fn flush(&mut self) -> bool {
        let buffered = std::mem::take(&mut self.workflow.buffered);
        let any = !buffered.is_empty();
        let mut started_ids = HashMap::new();
        for event in buffered {
            let mut attributes = event.attributes;
            if let Some((scheduled, started)) = activity_started_ref(&mut attributes)
                && *started == BUFFERED_EVENT_ID
            {
                *started = started_ids.get(&scheduled).copied().unwrap_or_default();
            }
            let scheduled = match &attributes {
                Attributes::ActivityTaskStarted(a) => Some(a.scheduled_event_id),
                _ => None,
            };
            let id = self.write(event.event_time, attributes);
            if let Some(scheduled) = scheduled {
                started_ids.insert(scheduled, id);
            }
        }
        any
    }

    /// A task for a sticky worker names its queue as Temporal does: kind STICKY, with the run's
    /// queue as `normalName`.
    pub(super) fn task_scheduled_attributes(&self, attempt: i32) -> Attributes {
        let normal = &self.workflow.task_queue;
        let task_queue = match &self.workflow.sticky {
            Some(s) => TaskQueue {
                name: s.name.clone(),
                kind: TaskQueueKind::Sticky,
                normal_name: normal.clone(),
            },
            None => normal_queue(normal),
        };
        Attributes::WorkflowTaskScheduled(WorkflowTaskScheduledEventAttributes {
            task_queue: Some(task_queue),
            start_to_close_timeout: Some(self.workflow.task_timeout),
            attempt,
        })
    }

    /// Schedules a workflow task; attempts after the first are transient (W11): their
    /// Scheduled event is only reserved. With a sticky queue the task goes there, and to the
    /// run's task queue if nobody takes it within the sticky schedule-to-start timeout.
    pub(super) fn schedule_task(&mut self, attempt: i32, now: Timestamp) {
        let transient = attempt > 1;
        let scheduled_event_id = if transient {
            self.workflow.next_event_id
        } else {
            self.write(now, self.task_scheduled_attributes(attempt))
        };
        let sticky = self.workflow.sticky.clone();
        if let Some(s) = &sticky {
            let kind = TimerKind::StickyScheduleToStart {
                scheduled_event_id,
                attempt,
            };
            self.timer(kind, now.add(s.schedule_to_start));
        }
        let sticky_queue = sticky.map(|s| s.name);
        let task_queue = sticky_queue.as_ref().unwrap_or(&self.workflow.task_queue);
        self.workflow_task_dispatch = Some(WorkflowTaskDispatch {
            scheduled_event_id,
            attempt,
            task_queue: task_queue.clone(),
            priority: self.workflow.task_priority(),
        });
        self.workflow.task = Some(WorkflowTask {
            attempt,
            scheduled_event_id,
            scheduled_time: now,
            original_scheduled_time: now,
            transient,
            started: None,
            sticky_queue,
        });
    }

    pub(super) fn timer(&mut self, kind: TimerKind, due: Timestamp) {
        self.timers.push(Timer { kind, due });
    }

    /// Closes the run after its closing event was written. Events held back for the task that
    /// closed it are dropped (W7: no ACTIVITY_TASK_CANCELED after a closing answer).
    pub(super) fn close(&mut self, status: Status, now: Timestamp) {
        let w = &mut self.workflow;
        w.status = status;
        w.close_time = Some(now);
        w.close_event_id = w.next_event_id - 1;
        w.task = None;
        w.buffered.clear();
        w.timers.clear();
        self.closed = true;
        self.timers.clear();
        self.activity_dispatches.clear();
        self.workflow_task_dispatch = None;
    }

    /// Before the server closes the run itself (terminate, timeout): a started task fails with
    /// FORCE_CLOSE_COMMAND and the held-back events are written (W8).
    pub(super) fn force_close_task(&mut self, now: Timestamp) {
        let Some((task, started)) = self
            .workflow
            .started_task()
            .map(|(t, s)| (t.clone(), s.clone()))
        else {
            return;
        };
        if !task.transient {
            let attributes = WorkflowTaskFailedEventAttributes {
                scheduled_event_id: task.scheduled_event_id,
                started_event_id: started.started_event_id,
                cause: WorkflowTaskFailedCause::ForceCloseCommand,
                failure: None,
                identity: SERVER_IDENTITY.into(),
            };
            self.write(now, Attributes::WorkflowTaskFailed(attributes));
        }
        self.workflow.task = None;
        self.flush();
    }

    pub(super) fn signal(
        &mut self,
        signal_name: String,
        input: Option<Payloads>,
        identity: String,
        request_id: String,
        header: Option<Header>,
        now: Timestamp,
    ) -> Result<(), WorkflowError> {
        if !self.workflow.is_running() {
            return Err(WorkflowError::AlreadyCompleted);
        }
        if !request_id.is_empty() && !self.workflow.signal_request_ids.insert(request_id.clone()) {
            self.noop = true;
            return Ok(());
        }
        let attributes = WorkflowExecutionSignaledEventAttributes {
            signal_name,
            input,
            identity,
            header,
            request_id,
        };
        self.notify(now, Attributes::WorkflowExecutionSignaled(attributes));
        Ok(())
    }

    /// Only the first request of a run writes an event; a closed run answers `{}` too (W8).
    pub(super) fn request_cancel(&mut self, reason: String, identity: String, now: Timestamp) {
        if !self.workflow.is_running() || self.workflow.cancel_requested {
            self.noop = true;
            return;
        }
        self.workflow.cancel_requested = true;
        let attributes = WorkflowExecutionCancelRequestedEventAttributes {
            cause: reason,
            identity,
        };
        self.notify(
            now,
            Attributes::WorkflowExecutionCancelRequested(attributes),
        );
    }

    pub(super) fn terminate(
        &mut self,
        reason: String,
        details: Option<Payloads>,
        identity: String,
        now: Timestamp,
    ) -> Result<(), WorkflowError> {
        if !self.workflow.is_running() {
            return Err(WorkflowError::AlreadyCompleted);
        }
        self.force_close_task(now);
        let attributes = WorkflowExecutionTerminatedEventAttributes {
            reason,
            details,
            identity,
        };
        self.write(now, Attributes::WorkflowExecutionTerminated(attributes));
        self.close(Status::Terminated, now);
        Ok(())
    }

    pub(super) fn timer_fired(&mut self, kind: TimerKind, now: Timestamp) {
        if !self.workflow.is_running() {
            self.noop = true;
            return;
        }
        match kind {
            TimerKind::WorkflowTask {
                scheduled_event_id,
                attempt,
            } => self.task_timer_fired(scheduled_event_id, attempt, now),
            TimerKind::StickyScheduleToStart {
                scheduled_event_id,
                attempt,
            } => self.sticky_timer_fired(scheduled_event_id, attempt, now),
            TimerKind::Activity {
                scheduled_event_id,
                attempt,
                timer,
            } => self.activity_timer_fired(scheduled_event_id, attempt, timer, now),
            TimerKind::User {
                started_event_id,
                timer_id,
            } => self.user_timer_fired(started_event_id, timer_id, now),
            TimerKind::Run => self.run_timer_fired(now),
        }
    }

    fn user_timer_fired(&mut self, started_event_id: i64, timer_id: String, now: Timestamp) {
        let timer = self
            .workflow
            .timers
            .get(&timer_id)
            .filter(|t| t.started_event_id == started_event_id);
        let Some(fire_time) = timer.map(|t| t.fire_time) else {
            self.noop = true;
            return;
        };
        if now < fire_time {
            self.timer(
                TimerKind::User {
                    started_event_id,
                    timer_id,
                },
                fire_time,
            );
            return;
        }
        self.workflow.timers.remove(&timer_id);
        self.notify(
            now,
            Attributes::TimerFired(TimerFiredEventAttributes {
                timer_id,
                started_event_id,
            }),
        );
    }

    fn run_timer_fired(&mut self, now: Timestamp) {
        let Some(deadline) = self.workflow.run_deadline() else {
            self.noop = true;
            return;
        };
        if now < deadline {
            self.timer(TimerKind::Run, deadline);
            return;
        }
        // Past the execution expiration no retry could run; a plain run timeout has no policy.
        let retry_state = if self.workflow.execution_expiration.is_some_and(|e| e <= now) {
            RetryState::Timeout
        } else {
            RetryState::RetryPolicyNotSet
        };
        self.force_close_task(now);
        let attributes = WorkflowExecutionTimedOutEventAttributes {
            retry_state,
            new_execution_run_id: String::new(),
        };
        self.write(now, Attributes::WorkflowExecutionTimedOut(attributes));
        self.close(Status::TimedOut, now);
    }
}

/// The (scheduled id, started id) reference of an activity's closing event.
fn activity_started_ref(a: &mut Attributes) -> Option<(i64, &mut i64)> {
    match a {
        Attributes::ActivityTaskCompleted(a) => {
            Some((a.scheduled_event_id, &mut a.started_event_id))
        }
        Attributes::ActivityTaskFailed(a) => Some((a.scheduled_event_id, &mut a.started_event_id)),
        Attributes::ActivityTaskTimedOut(a) => {
            Some((a.scheduled_event_id, &mut a.started_event_id))
        }
        Attributes::ActivityTaskCanceled(a) => {
            Some((a.scheduled_event_id, &mut a.started_event_id))
        }
        _ => None,
    }
}

/// Whether `event` (permanent or held back) closes the activity scheduled at
/// `scheduled_event_id`: its ActivityTaskCompleted, Failed, TimedOut or Canceled event.
pub fn closes_activity(event: &HistoryEvent, scheduled_event_id: i64) -> bool {
    let scheduled = match &event.attributes {
        Attributes::ActivityTaskCompleted(a) => a.scheduled_event_id,
        Attributes::ActivityTaskFailed(a) => a.scheduled_event_id,
        Attributes::ActivityTaskTimedOut(a) => a.scheduled_event_id,
        Attributes::ActivityTaskCanceled(a) => a.scheduled_event_id,
        _ => return false,
    };
    scheduled == scheduled_event_id
}
