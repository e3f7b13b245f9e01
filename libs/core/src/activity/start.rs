//! Starting a standalone activity: request-id idempotency, id reuse and conflict policies
//! (SEMANTICS.md §8.5), and the first attempt's schedule.

use waymark_api::{
    ActivityIdConflictPolicy, ActivityIdReusePolicy, Duration, StartActivityExecutionRequest,
    Timestamp,
};

use super::{Activity, State, Transition};
use crate::options::Options;

/// What a start request does, given the latest run of its activity id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartDecision {
    /// Create a new run.
    Create,
    /// Answer with an existing run (`started` omitted).
    Existing { run_id: String },
    /// Refuse: 409 ActivityExecutionAlreadyStarted.
    AlreadyStarted {
        start_request_id: String,
        run_id: String,
    },
}

/// Request-id dedupe comes first (even against a closed run), then the policies.
pub fn decide_start(
    latest: Option<&Activity>,
    request_id: &str,
    reuse: ActivityIdReusePolicy,
    conflict: ActivityIdConflictPolicy,
) -> StartDecision {
    let Some(run) = latest else {
        return StartDecision::Create;
    };
    if run.request_id == request_id {
        return StartDecision::Existing {
            run_id: run.run_id.clone(),
        };
    }
    let reject = || StartDecision::AlreadyStarted {
        start_request_id: run.request_id.clone(),
        run_id: run.run_id.clone(),
    };
    if !run.state.is_terminal() {
        return match conflict {
            ActivityIdConflictPolicy::UseExisting => StartDecision::Existing {
                run_id: run.run_id.clone(),
            },
            _ => reject(),
        };
    }
    let failed = matches!(
        run.state,
        State::Failed | State::Canceled | State::Terminated | State::TimedOut
    );
    match reuse {
        ActivityIdReusePolicy::RejectDuplicate => reject(),
        ActivityIdReusePolicy::AllowDuplicateFailedOnly if !failed => reject(),
        _ => StartDecision::Create,
    }
}

/// The identity of a new run, chosen by the caller (ids are random, so not the core's to pick).
pub struct NewRun<'a> {
    pub namespace: &'a str,
    pub activity_id: &'a str,
    pub run_id: String,
    pub request_id: String,
}

impl Activity {
    /// A new run for a validated request: attempt 1, dispatched now or after its start delay.
    pub fn start(
        run: NewRun<'_>,
        req: StartActivityExecutionRequest,
        options: Options,
        now: Timestamp,
    ) -> Transition {
        let start_delay = req.start_delay.unwrap_or(Duration::ZERO);
        let activity = Activity {
            namespace: run.namespace.to_owned(),
            activity_id: run.activity_id.to_owned(),
            run_id: run.run_id,
            activity_type: req.activity_type.map(|t| t.name).unwrap_or_default(),
            original_options: options.clone(),
            options,
            input: req.input,
            header: req.header,
            user_metadata: req.user_metadata,
            search_attributes: req.search_attributes,
            request_id: run.request_id,
            identity: req.identity,
            schedule_time: now,
            start_delay,
            state: State::Scheduled,
            attempt: 1,
            stamp: 0,
            attempt_scheduled_time: now.add(start_delay),
            running: None,
            last_started_time: None,
            last_worker_identity: String::new(),
            heartbeat_details: None,
            last_heartbeat_time: None,
            total_heartbeat_count: 0,
            last_failure: None,
            current_retry_interval: None,
            last_attempt_complete_time: None,
            cancel: None,
            terminate: None,
            pending_reset: None,
            operation_request_ids: Vec::new(),
            outcome: None,
            close_time: None,
            state_transition_count: 1,
        };
        let mut t = Transition::new(activity);
        t.schedule_attempt(1, now.add(start_delay), now);
        t.arm(super::TimerKind::ScheduleToClose);
        t
    }
}
