//! How an activity looks on the wire: describe, list, outcome and the worker's task.

use waymark_api::{
    ActivityExecutionInfo, ActivityExecutionListInfo, ActivityExecutionStatus, ActivityOptions,
    ActivityType, Duration, PendingActivityState, PollActivityTaskQueueResponse, Timestamp,
    WorkflowExecution, workflow::normal_queue,
};

use super::{Activity, State};

impl State {
    pub fn status(self) -> ActivityExecutionStatus {
        match self {
            State::Paused => ActivityExecutionStatus::Paused,
            State::Completed => ActivityExecutionStatus::Completed,
            State::Failed => ActivityExecutionStatus::Failed,
            State::Canceled => ActivityExecutionStatus::Canceled,
            State::Terminated => ActivityExecutionStatus::Terminated,
            State::TimedOut => ActivityExecutionStatus::TimedOut,
            _ => ActivityExecutionStatus::Running,
        }
    }

    pub fn run_state(self) -> PendingActivityState {
        match self {
            State::Scheduled => PendingActivityState::Scheduled,
            State::Started | State::ResetRequested => PendingActivityState::Started,
            State::CancelRequested => PendingActivityState::CancelRequested,
            State::Paused => PendingActivityState::Paused,
            State::PauseRequested => PendingActivityState::PauseRequested,
            _ => PendingActivityState::Unspecified,
        }
    }
}

/// Which optional parts a describe includes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Includes {
    pub heartbeat_details: bool,
    pub last_failure: bool,
}

impl Activity {
    fn execution_time(&self) -> Timestamp {
        self.schedule_time.add(self.start_delay)
    }

    fn execution_duration(&self) -> Option<Duration> {
        self.close_time.map(|c| c.since(self.schedule_time))
    }

    /// `ActivityExecutionInfo` of describe at `now` (SEMANTICS §8.2).
    pub fn info(
        &self,
        include: Includes,
        state_size_bytes: i64,
        now: Timestamp,
    ) -> ActivityExecutionInfo {
        let o = &self.options;
        // The next dispatch time shows while the attempt waits for it (start delay, backoff,
        // unpause jitter); the retry interval only when a retry is what it waits for.
        let waiting = self.state == State::Scheduled && self.attempt_scheduled_time > now;
        let backing_off = waiting && self.attempt > 1;
        ActivityExecutionInfo {
            activity_id: self.activity_id.clone(),
            run_id: self.run_id.clone(),
            activity_type: Some(ActivityType {
                name: self.activity_type.clone(),
            }),
            status: self.state.status(),
            run_state: self.state.run_state(),
            task_queue: o.task_queue.clone(),
            schedule_to_close_timeout: Some(o.schedule_to_close),
            schedule_to_start_timeout: Some(o.schedule_to_start),
            start_to_close_timeout: Some(o.start_to_close),
            heartbeat_timeout: Some(o.heartbeat),
            retry_policy: Some(o.retry_policy.clone()),
            heartbeat_details: self
                .heartbeat_details
                .clone()
                .filter(|_| include.heartbeat_details),
            last_heartbeat_time: self.last_heartbeat_time,
            last_started_time: self.last_started_time,
            attempt: self.attempt,
            execution_duration: self.execution_duration(),
            schedule_time: Some(self.schedule_time),
            expiration_time: self.schedule_to_close_deadline(),
            close_time: self.close_time,
            last_failure: self.last_failure.clone().filter(|_| include.last_failure),
            last_worker_identity: self.last_worker_identity.clone(),
            current_retry_interval: self.current_retry_interval.filter(|_| backing_off),
            last_attempt_complete_time: self.last_attempt_complete_time,
            next_attempt_schedule_time: waiting.then_some(self.attempt_scheduled_time),
            priority: o.priority.clone(),
            state_transition_count: self.state_transition_count,
            state_size_bytes,
            search_attributes: self.search_attributes.clone(),
            header: self.header.clone(),
            user_metadata: self.user_metadata.clone(),
            canceled_reason: self
                .cancel
                .as_ref()
                .map(|c| c.reason.clone())
                .unwrap_or_default(),
            total_heartbeat_count: self.total_heartbeat_count,
            start_delay: (!self.start_delay.is_zero()).then_some(self.start_delay),
            execution_time: Some(self.execution_time()),
            ..Default::default()
        }
    }

    /// `ActivityExecutionListInfo` of list (running ones omit transition count and duration).
    pub fn list_info(&self, state_size_bytes: i64) -> ActivityExecutionListInfo {
        let closed = self.state.is_terminal();
        ActivityExecutionListInfo {
            activity_id: self.activity_id.clone(),
            run_id: self.run_id.clone(),
            activity_type: Some(ActivityType {
                name: self.activity_type.clone(),
            }),
            schedule_time: Some(self.schedule_time),
            close_time: self.close_time,
            status: self.state.status(),
            search_attributes: self.search_attributes.clone(),
            task_queue: self.options.task_queue.clone(),
            state_transition_count: if closed {
                self.state_transition_count
            } else {
                0
            },
            state_size_bytes,
            execution_duration: self.execution_duration(),
            execution_time: Some(self.execution_time()),
        }
    }

    /// The options as update-options reports them.
    pub fn wire_options(&self) -> ActivityOptions {
        // The server names the kind of every queue it echoes, as Temporal does.
        let queue = normal_queue(&self.options.task_queue);
        let start_delay = (!self.start_delay.is_zero()).then_some(self.start_delay);
        self.options.wire(queue, start_delay)
    }

    /// The task a worker receives for the attempt it just started.
    pub fn task(&self, task_token: String) -> PollActivityTaskQueueResponse {
        let o = &self.options;
        PollActivityTaskQueueResponse {
            task_token,
            workflow_namespace: self.namespace.clone(),
            workflow_execution: Some(WorkflowExecution::default()),
            activity_type: Some(ActivityType {
                name: self.activity_type.clone(),
            }),
            activity_id: self.activity_id.clone(),
            header: self.header.clone(),
            input: self.input.clone(),
            heartbeat_details: self.heartbeat_details.clone(),
            scheduled_time: Some(self.schedule_time),
            current_attempt_scheduled_time: Some(self.attempt_scheduled_time),
            started_time: self.running.as_ref().map(|r| r.started_time),
            attempt: self.attempt,
            schedule_to_close_timeout: Some(o.schedule_to_close),
            start_to_close_timeout: Some(o.start_to_close),
            heartbeat_timeout: Some(o.heartbeat),
            retry_policy: Some(o.retry_policy.clone()),
            priority: o.priority.clone(),
            activity_run_id: self.run_id.clone(),
            ..Default::default()
        }
    }
}
