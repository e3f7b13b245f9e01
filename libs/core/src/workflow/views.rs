//! How a run looks on the wire: describe (W13), the poll answer of a workflow task (W3, W11),
//! the transient tail of GET history, and the activity task of a workflow activity (W4).

use std::collections::BTreeMap;

use waymark_api::{
    ActivityType, PendingActivityState, PollActivityTaskQueueResponse, TaskQueue, Timestamp,
    WorkflowExecution, WorkflowType,
};

use super::state::{ActivityState, PendingActivity, Workflow};
use super::wire::*;

impl Workflow {
    pub fn execution(&self) -> WorkflowExecution {
        WorkflowExecution {
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone(),
        }
    }

    /// The events of a transient task attempt (W11), not part of the stored history: its
    /// Scheduled event once it exists, its Started event once polled. The poll answer shows
    /// the poller's identity; GET history does not.
    pub fn transient_events(&self, with_identity: bool) -> Vec<HistoryEvent> {
        let Some(task) = self.task.as_ref().filter(|t| t.transient) else {
            return Vec::new();
        };
        // Events written since it was scheduled took its ids: it becomes a new task when polled.
        if task.started.is_none() && task.scheduled_event_id != self.next_event_id {
            return Vec::new();
        }
        let scheduled = WorkflowTaskScheduledEventAttributes {
            task_queue: Some(normal_queue(&self.task_queue)),
            start_to_close_timeout: Some(self.task_timeout),
            attempt: task.attempt,
        };
        let mut events = vec![HistoryEvent::new(
            task.scheduled_event_id,
            task.scheduled_time,
            self.last_task_id + 1,
            Attributes::WorkflowTaskScheduled(scheduled),
        )];
        if let Some(s) = &task.started {
            let started = WorkflowTaskStartedEventAttributes {
                scheduled_event_id: task.scheduled_event_id,
                identity: if with_identity {
                    s.identity.clone()
                } else {
                    String::new()
                },
                request_id: s.request_id.clone(),
                suggest_continue_as_new: s.suggest_continue_as_new,
                history_size_bytes: self.history_size_bytes,
            };
            events.push(HistoryEvent::new(
                s.started_event_id,
                s.started_time,
                self.last_task_id + 2,
                Attributes::WorkflowTaskStarted(started),
            ));
        }
        events
    }

    /// The first event the started task's poll answer carries: 1, or on a sticky queue the
    /// first event after the last task the worker completed (it keeps the rest in its cache).
    pub fn poll_history_start(&self) -> i64 {
        match &self.task {
            Some(t) if t.sticky_queue.is_some() => self.last_completed_started_event_id + 1,
            _ => 1,
        }
    }

    /// The answer to the poll that started the current task: the stored events from
    /// `poll_history_start` (`history`) plus the task's transient events. `None` if no task is
    /// started.
    pub fn poll_response(
        &self,
        task_token: String,
        mut history: Vec<HistoryEvent>,
    ) -> Option<PollWorkflowTaskQueueResponse> {
        let (task, started) = self.started_task()?;
        history.extend(self.transient_events(true));
        Some(PollWorkflowTaskQueueResponse {
            task_token,
            workflow_execution: Some(self.execution()),
            workflow_type: Some(WorkflowType {
                name: self.workflow_type.clone(),
            }),
            previous_started_event_id: self.last_completed_started_event_id,
            started_event_id: started.started_event_id,
            attempt: task.attempt,
            history: Some(History { events: history }),
            workflow_execution_task_queue: Some(normal_queue(&self.task_queue)),
            scheduled_time: Some(task.scheduled_time),
            started_time: Some(started.started_time),
            ..Default::default()
        })
    }

    /// The task a worker receives for the attempt of activity `scheduled_event_id` it just
    /// started. `None` if that activity is not pending.
    pub fn activity_task(
        &self,
        scheduled_event_id: i64,
        task_token: String,
    ) -> Option<PollActivityTaskQueueResponse> {
        let a = self.activities.get(&scheduled_event_id)?;
        let o = &a.options;
        Some(PollActivityTaskQueueResponse {
            task_token,
            workflow_namespace: self.namespace.clone(),
            workflow_type: Some(WorkflowType {
                name: self.workflow_type.clone(),
            }),
            workflow_execution: Some(self.execution()),
            activity_type: Some(ActivityType {
                name: a.activity_type.clone(),
            }),
            activity_id: a.activity_id.clone(),
            header: a.header.clone(),
            input: a.input.clone(),
            heartbeat_details: a.heartbeat_details.clone(),
            scheduled_time: Some(a.scheduled_time),
            current_attempt_scheduled_time: Some(a.attempt_scheduled_time),
            started_time: a.running.as_ref().map(|r| r.started_time),
            attempt: a.attempt,
            schedule_to_close_timeout: Some(o.schedule_to_close),
            start_to_close_timeout: Some(o.start_to_close),
            heartbeat_timeout: Some(o.heartbeat),
            retry_policy: Some(o.retry_policy.clone()),
            priority: self.activity_priority_of(a),
            ..Default::default()
        })
    }

    /// DescribeWorkflowExecution (W13) at `now`. A closed run's clock stopped when it closed:
    /// it describes the same ever after.
    pub fn describe(&self, now: Timestamp) -> DescribeWorkflowExecutionResponse {
        let now = self.close_time.unwrap_or(now);
        let positive = |d: waymark_api::Duration| (!d.is_zero()).then_some(d);
        let execution_config = WorkflowExecutionConfig {
            task_queue: Some(normal_queue(&self.task_queue)),
            workflow_execution_timeout: positive(self.execution_timeout),
            workflow_run_timeout: positive(self.run_timeout),
            default_workflow_task_timeout: Some(self.task_timeout),
        };
        let info = WorkflowExecutionInfo {
            execution: Some(self.execution()),
            r#type: Some(WorkflowType {
                name: self.workflow_type.clone(),
            }),
            start_time: Some(self.start_time),
            close_time: self.close_time,
            status: self.status.wire(),
            history_length: self.history_length(),
            execution_time: Some(self.start_time),
            memo: self.memo.clone().unwrap_or_default(),
            search_attributes: self.search_attributes.clone().unwrap_or_default(),
            auto_reset_points: serde_json::json!({}),
            task_queue: self.task_queue.clone(),
            state_transition_count: self.state_transition_count,
            history_size_bytes: self.history_size_bytes,
            execution_duration: self.close_time.map(|c| c.since(self.start_time)),
            root_execution: Some(self.execution()),
            first_run_id: self.first_execution_run_id.clone(),
            priority: self.priority.clone(),
        };
        let pending_workflow_task = self.task.as_ref().map(|t| PendingWorkflowTaskInfo {
            state: if t.started.is_some() {
                PendingWorkflowTaskState::Started
            } else {
                PendingWorkflowTaskState::Scheduled
            },
            scheduled_time: Some(t.scheduled_time),
            original_scheduled_time: Some(t.original_scheduled_time),
            started_time: t.started.as_ref().map(|s| s.started_time),
            attempt: t.attempt,
        });
        let mut request_id_infos = BTreeMap::new();
        if !self.request_id.is_empty() {
            let info = RequestIdInfo {
                event_type: EventType::WorkflowExecutionStarted,
                event_id: 1,
                buffered: false,
            };
            request_id_infos.insert(self.request_id.clone(), info);
        }
        DescribeWorkflowExecutionResponse {
            execution_config: Some(execution_config),
            workflow_execution_info: Some(info),
            pending_activities: self
                .activities
                .values()
                .map(|a| pending_activity_info(a, now))
                .collect(),
            pending_workflow_task,
            workflow_extended_info: Some(WorkflowExecutionExtendedInfo {
                execution_expiration_time: self.execution_expiration,
                run_expiration_time: self.run_deadline(),
                cancel_requested: self.cancel_requested,
                original_start_time: Some(self.start_time),
                request_id_infos,
            }),
        }
    }
}

/// One entry of describe's `pendingActivities` (W13).
fn pending_activity_info(a: &PendingActivity, now: Timestamp) -> PendingActivityInfo {
    let o = &a.options;
    // Retry details only while the next attempt waits for its backoff to end.
    let backing_off = a.state == ActivityState::Scheduled
        && a.attempt > 1
        && a.current_retry_interval.is_some()
        && a.attempt_scheduled_time > now;
    PendingActivityInfo {
        activity_id: a.activity_id.clone(),
        activity_type: Some(ActivityType {
            name: a.activity_type.clone(),
        }),
        state: match a.state {
            ActivityState::Scheduled => PendingActivityState::Scheduled,
            ActivityState::Started | ActivityState::ResetRequested => PendingActivityState::Started,
            ActivityState::CancelRequested => PendingActivityState::CancelRequested,
            ActivityState::Paused => PendingActivityState::Paused,
            ActivityState::PauseRequested => PendingActivityState::PauseRequested,
        },
        paused: a.pause.is_some(),
        pause_info: a.pause.as_ref().map(|p| PauseInfo {
            pause_time: Some(p.time),
            manual: Some(ManualPause {
                identity: p.identity.clone(),
                reason: p.reason.clone(),
            }),
        }),
        heartbeat_details: a.heartbeat_details.clone(),
        last_heartbeat_time: a.last_heartbeat_time,
        last_started_time: a.running.as_ref().map(|r| r.started_time),
        attempt: a.attempt,
        maximum_attempts: o.retry_policy.maximum_attempts,
        scheduled_time: Some(a.attempt_scheduled_time),
        expiration_time: a.schedule_to_close_deadline(),
        last_failure: a.last_failure.clone(),
        last_worker_identity: a.last_worker_identity.clone(),
        current_retry_interval: a.current_retry_interval.filter(|_| backing_off),
        last_attempt_complete_time: a.last_attempt_complete_time,
        next_attempt_schedule_time: backing_off.then_some(a.attempt_scheduled_time),
        // Describe shows the queue with its normal name, as Temporal does.
        activity_options: Some(a.options.wire(
            TaskQueue {
                name: o.task_queue.clone(),
                normal_name: o.task_queue.clone(),
                ..Default::default()
            },
            None,
        )),
    }
}
