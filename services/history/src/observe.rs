//! What a committed activity transition means for the metrics: an attempt taken by a worker
//! (schedule-to-start), an attempt that ended (start-to-close), a retry, a worker's failure, a
//! timeout that took effect, a close (end-to-end). Derived from the state before and after the
//! transition (a standalone activity's, or a workflow's pending activities and the transition's
//! new events), so that every path through either state machine is counted alike.

use std::time::Duration;

use waymark_api::Timestamp;
use waymark_api::workflow::{EventType, HistoryEvent};
use waymark_core::activity::{Activity, Command, State, TimerKind};
use waymark_core::workflow::{
    self as wf, ActivityTimer, PendingActivity, Workflow, WorkflowCommand,
};
use waymark_telemetry::{CloseStatus, TimeoutType};

use crate::throughput::Throughput;

/// An activity's current attempt, as the metrics compare it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Attempt {
    number: i32,
    /// When it became (or becomes, after a backoff) dispatchable.
    scheduled_time: Timestamp,
    /// When a worker took it, while it runs.
    started_time: Option<Timestamp>,
}

/// The parts of the state before a transition that the metrics compare with (all `Copy`: taking
/// them costs no allocation).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Before {
    state: State,
    attempt: Attempt,
}

impl Before {
    pub(crate) fn of(a: &Activity) -> Before {
        Before {
            state: a.state,
            attempt: standalone_attempt(a),
        }
    }
}

fn standalone_attempt(a: &Activity) -> Attempt {
    Attempt {
        number: a.attempt,
        scheduled_time: a.attempt_scheduled_time,
        started_time: a.running.as_ref().map(|r| r.started_time),
    }
}

fn pending_attempt(a: &PendingActivity) -> Attempt {
    Attempt {
        number: a.attempt,
        scheduled_time: a.attempt_scheduled_time,
        started_time: a.running.as_ref().map(|r| r.started_time),
    }
}

/// What caused a transition, as far as the metrics care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    WorkerFailed,
    /// The timer of this timeout fired (a dispatch or retry timer is `Other`).
    TimerFired(TimeoutType),
    Other,
}

impl Cause {
    pub(crate) fn of(command: &Command) -> Cause {
        match command {
            Command::Fail { .. } => Cause::WorkerFailed,
            Command::TimerFired { kind, .. } => {
                timeout_type(*kind).map_or(Cause::Other, Cause::TimerFired)
            }
            _ => Cause::Other,
        }
    }

    /// The cause of a workflow transition, for the workflow's activities.
    pub(crate) fn of_workflow(command: &WorkflowCommand) -> Cause {
        match command {
            WorkflowCommand::FailActivity { .. } => Cause::WorkerFailed,
            WorkflowCommand::TimerFired(wf::TimerKind::Activity { timer, .. }) => {
                activity_timeout_type(*timer).map_or(Cause::Other, Cause::TimerFired)
            }
            _ => Cause::Other,
        }
    }
}

/// What one transition changed that the metrics count.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Observed {
    /// A worker took an attempt this long after it became dispatchable.
    schedule_to_start: Option<Duration>,
    /// A running attempt ended this long after it started.
    start_to_close: Option<Duration>,
    /// The activity closed, this long after it was scheduled.
    closed: Option<(CloseStatus, Duration)>,
    retried: bool,
    worker_failed: bool,
    timeout: Option<TimeoutType>,
}

/// Compares the state `before` a transition caused by `cause` with the state `after` it, at `now`.
pub(crate) fn observe(before: Before, cause: Cause, after: &Activity, now: Timestamp) -> Observed {
    let closed = (!before.state.is_terminal() && after.state.is_terminal()).then(|| {
        (
            close_status(after.state),
            span(after.schedule_time, after.close_time.unwrap_or(now)),
        )
    });
    compare(
        before.attempt,
        Some(standalone_attempt(after)),
        closed,
        cause,
        now,
    )
}

/// Compares an activity's attempt `before` a transition caused by `cause` with its attempt
/// `after` it (none: the activity left the state), given whether and how the activity `closed`.
fn compare(
    before: Attempt,
    after: Option<Attempt>,
    closed: Option<(CloseStatus, Duration)>,
    cause: Cause,
    now: Timestamp,
) -> Observed {
    let started_time = after.and_then(|a| a.started_time);
    let started = before.started_time.is_none() && started_time.is_some();
    let ended = before.started_time.filter(|&t| started_time != Some(t));
    let took_effect = ended.is_some() || closed.is_some();
    Observed {
        schedule_to_start: started_time
            .filter(|_| started)
            .map(|t| span(before.scheduled_time, t)),
        start_to_close: ended.map(|t| span(t, now)),
        closed,
        retried: after.is_some_and(|a| a.number > before.number),
        worker_failed: cause == Cause::WorkerFailed && took_effect,
        timeout: match cause {
            Cause::TimerFired(t) if took_effect => Some(t),
            _ => None,
        },
    }
}

/// A workflow's pending activities before a transition, what the metrics compare with. Only
/// small summaries are taken, no payload; a task queue only where it is not the workflow's.
pub(crate) struct PendingBefore(Vec<Pending>);

struct Pending {
    scheduled_event_id: i64,
    attempt: Attempt,
    /// Its Scheduled event's time: end-to-end runs from it.
    scheduled_time: Timestamp,
    /// None: the workflow's task queue.
    task_queue: Option<String>,
}

impl PendingBefore {
    pub(crate) fn of(w: &Workflow) -> PendingBefore {
        let pending = w.activities.values().map(|a| Pending {
            scheduled_event_id: a.scheduled_event_id,
            attempt: pending_attempt(a),
            scheduled_time: a.scheduled_time,
            task_queue: (a.options.task_queue != w.task_queue)
                .then(|| a.options.task_queue.clone()),
        });
        PendingBefore(pending.collect())
    }
}

/// Compares a workflow's pending activities `before` a transition caused by `cause` with the run
/// `after` it and the transition's `new_events`, at `now`: what each activity the transition
/// changed counts, with the task queue to count it under. An activity that left the pending
/// activities closed with the closing event the transition wrote or held back (W5); one whose
/// event was dropped with the run's close (W7) is not counted closed.
pub(crate) fn observe_workflow(
    before: PendingBefore,
    cause: Cause,
    after: &Workflow,
    new_events: &[HistoryEvent],
    now: Timestamp,
) -> Vec<(String, Observed)> {
    let mut observed = Vec::new();
    for p in before.0 {
        let (o, task_queue) = match after.activities.get(&p.scheduled_event_id) {
            Some(a) if pending_attempt(a) == p.attempt => continue,
            Some(a) => (
                compare(p.attempt, Some(pending_attempt(a)), None, cause, now),
                a.options.task_queue.as_str(),
            ),
            None => {
                let closed = workflow_close_status(p.scheduled_event_id, after, new_events)
                    .map(|status| (status, span(p.scheduled_time, now)));
                let o = compare(p.attempt, None, closed, cause, now);
                (o, p.task_queue.as_deref().unwrap_or(&after.task_queue))
            }
        };
        if o != Observed::default() {
            observed.push((task_queue.to_owned(), o));
        }
    }
    observed
}

/// How the activity scheduled at `id` closed: its closing event, written or held back.
fn workflow_close_status(
    id: i64,
    after: &Workflow,
    new_events: &[HistoryEvent],
) -> Option<CloseStatus> {
    let event = new_events
        .iter()
        .chain(&after.buffered)
        .find(|e| wf::closes_activity(e, id))?;
    Some(match event.event_type {
        EventType::ActivityTaskCompleted => CloseStatus::Completed,
        EventType::ActivityTaskCanceled => CloseStatus::Canceled,
        EventType::ActivityTaskTimedOut => CloseStatus::TimedOut,
        _ => CloseStatus::Failed,
    })
}

impl Observed {
    /// Records the observation under the activity's namespace and task queue. A transition that
    /// changed nothing counted (a heartbeat, most operator commands) looks nothing up.
    /// It also counts in the namespace's throughput of the minute of `now`.
    pub(crate) fn record(
        &self,
        ns: &str,
        task_queue: &str,
        throughput: &Throughput,
        now: Timestamp,
    ) {
        if *self == Observed::default() {
            return;
        }
        if self.schedule_to_start.is_some() || self.closed.is_some() {
            let completed = self.closed.map(|(s, _)| s == CloseStatus::Completed);
            throughput.count(ns, now, self.schedule_to_start, completed);
        }
        let m = waymark_telemetry::activity(ns, task_queue);
        if let Some(d) = self.schedule_to_start {
            m.attempt_started(d);
        }
        if let Some(d) = self.start_to_close {
            m.attempt_ended(d);
        }
        if self.retried {
            m.retried();
        }
        if self.worker_failed {
            m.worker_failed();
        }
        if let Some(t) = self.timeout {
            m.timed_out(t);
        }
        if let Some((status, d)) = self.closed {
            m.closed(status, d);
        }
    }
}

fn span(from: Timestamp, to: Timestamp) -> Duration {
    to.since(from).to_std()
}

fn close_status(state: State) -> CloseStatus {
    match state {
        State::Completed => CloseStatus::Completed,
        State::Canceled => CloseStatus::Canceled,
        State::Terminated => CloseStatus::Terminated,
        State::TimedOut => CloseStatus::TimedOut,
        _ => CloseStatus::Failed,
    }
}

fn timeout_type(kind: TimerKind) -> Option<TimeoutType> {
    match kind {
        TimerKind::ScheduleToStart => Some(TimeoutType::ScheduleToStart),
        TimerKind::StartToClose => Some(TimeoutType::StartToClose),
        TimerKind::Heartbeat => Some(TimeoutType::Heartbeat),
        TimerKind::ScheduleToClose => Some(TimeoutType::ScheduleToClose),
        TimerKind::Dispatch => None,
    }
}

fn activity_timeout_type(timer: ActivityTimer) -> Option<TimeoutType> {
    match timer {
        ActivityTimer::ScheduleToStart => Some(TimeoutType::ScheduleToStart),
        ActivityTimer::StartToClose => Some(TimeoutType::StartToClose),
        ActivityTimer::Heartbeat => Some(TimeoutType::Heartbeat),
        ActivityTimer::ScheduleToClose => Some(TimeoutType::ScheduleToClose),
        ActivityTimer::Retry => None,
    }
}

#[cfg(test)]
mod tests {
    use waymark_api::{ApplicationFailureInfo, Failure, StartActivityExecutionRequest};
    use waymark_core::activity::{Caller, NewRun, Request};
    use waymark_core::options::validate_start;
    use waymark_core::workflow::TaskCompletion;

    use super::*;

    const T0: i64 = 1_800_000_000_000_000_000;

    fn at_ms(ms: i64) -> Timestamp {
        Timestamp::from_nanos(T0 + ms * 1_000_000)
    }

    /// An activity run through `steps` (command, at ms after T0); the observation of the last.
    fn last_step(options: &str, steps: Vec<(Command, i64)>) -> Observed {
        let body =
            format!(r#"{{"activityType":{{"name":"T"}},"taskQueue":{{"name":"q"}}{options}}}"#);
        let req: StartActivityExecutionRequest = serde_json::from_str(&body).unwrap();
        let opts =
            validate_start("a", &req, waymark_core::limits::DEFAULT_MAX_PAYLOAD_BYTES).unwrap();
        let run = NewRun {
            namespace: "ns",
            activity_id: "a",
            run_id: "r".into(),
            request_id: "rq".into(),
        };
        let mut a = Activity::start(run, req, opts, at_ms(0)).activity;
        let mut observed = Observed::default();
        for (command, ms) in steps {
            let (before, cause) = (Before::of(&a), Cause::of(&command));
            a = a
                .apply(command, at_ms(ms))
                .expect("the step applies")
                .activity;
            observed = observe(before, cause, &a, at_ms(ms));
        }
        observed
    }

    fn started(attempt: i32) -> Command {
        Command::RecordStarted {
            attempt,
            identity: "w".into(),
            request_id: format!("p{attempt}"),
        }
    }

    /// A worker's application failure.
    fn boom() -> Option<Failure> {
        Some(Failure {
            message: "boom".into(),
            application_failure_info: Some(ApplicationFailureInfo::default()),
            ..Default::default()
        })
    }

    fn failed(attempt: i32) -> Command {
        Command::Fail {
            caller: Caller::Token { attempt, stamp: 0 },
            failure: boom(),
            last_heartbeat_details: None,
            identity: "w".into(),
        }
    }

    fn completed(attempt: i32) -> Command {
        Command::Complete {
            caller: Caller::Token { attempt, stamp: 0 },
            result: None,
            identity: "w".into(),
        }
    }

    const S2C: &str = r#","startToCloseTimeout":"10s""#;

    #[test]
    fn a_worker_taking_an_attempt_is_its_schedule_to_start() {
        let o = last_step(S2C, vec![(started(1), 30)]);
        assert_eq!(
            o,
            Observed {
                schedule_to_start: Some(Duration::from_millis(30)),
                ..Default::default()
            }
        );
    }

    #[test]
    fn a_completion_ends_the_attempt_and_closes_the_activity_end_to_end() {
        let o = last_step(S2C, vec![(started(1), 30), (completed(1), 100)]);
        let expected = Observed {
            start_to_close: Some(Duration::from_millis(70)),
            closed: Some((CloseStatus::Completed, Duration::from_millis(100))),
            ..Default::default()
        };
        assert_eq!(o, expected);
    }

    #[test]
    fn a_heartbeat_counts_nothing() {
        let heartbeat = Command::Heartbeat {
            caller: Caller::Token {
                attempt: 1,
                stamp: 0,
            },
            details: None,
        };
        assert_eq!(
            last_step(S2C, vec![(started(1), 30), (heartbeat, 50)]),
            Observed::default()
        );
    }

    #[test]
    fn a_retried_failure_is_a_worker_failure_and_a_retry() {
        let o = last_step(S2C, vec![(started(1), 10), (failed(1), 60)]);
        let expected = Observed {
            start_to_close: Some(Duration::from_millis(50)),
            retried: true,
            worker_failed: true,
            ..Default::default()
        };
        assert_eq!(o, expected);
    }

    #[test]
    fn the_next_attempt_waits_from_its_own_dispatch_time() {
        let retry = r#","startToCloseTimeout":"10s","retryPolicy":{"initialInterval":"1s"}"#;
        let o = last_step(
            retry,
            vec![(started(1), 10), (failed(1), 60), (started(2), 1_260)],
        );
        assert_eq!(
            o,
            Observed {
                schedule_to_start: Some(Duration::from_millis(200)),
                ..Default::default()
            }
        );
    }

    #[test]
    fn a_start_to_close_timeout_that_fires_is_counted_by_its_type() {
        let fired = Command::TimerFired {
            kind: TimerKind::StartToClose,
            attempt: 1,
        };
        let options = r#","startToCloseTimeout":"1s","retryPolicy":{"maximumAttempts":1}"#;
        let o = last_step(options, vec![(started(1), 0), (fired, 1_000)]);
        let expected = Observed {
            start_to_close: Some(Duration::from_secs(1)),
            closed: Some((CloseStatus::TimedOut, Duration::from_secs(1))),
            timeout: Some(TimeoutType::StartToClose),
            ..Default::default()
        };
        assert_eq!(o, expected);
    }

    #[test]
    fn an_early_timer_that_only_re_arms_counts_nothing() {
        let fired = Command::TimerFired {
            kind: TimerKind::StartToClose,
            attempt: 1,
        };
        assert_eq!(
            last_step(S2C, vec![(started(1), 0), (fired, 500)]),
            Observed::default()
        );
    }

    #[test]
    fn a_schedule_to_start_timeout_closes_an_activity_no_worker_took() {
        let fired = Command::TimerFired {
            kind: TimerKind::ScheduleToStart,
            attempt: 1,
        };
        let options = r#","startToCloseTimeout":"10s","scheduleToStartTimeout":"2s""#;
        let o = last_step(options, vec![(fired, 2_000)]);
        let expected = Observed {
            closed: Some((CloseStatus::TimedOut, Duration::from_secs(2))),
            timeout: Some(TimeoutType::ScheduleToStart),
            ..Default::default()
        };
        assert_eq!(o, expected);
    }

    #[test]
    fn terminating_a_scheduled_activity_closes_it_without_an_attempt() {
        let terminate = Command::Terminate(Request {
            request_id: "t".into(),
            reason: "why".into(),
            identity: "op".into(),
        });
        let o = last_step(S2C, vec![(terminate, 40)]);
        assert_eq!(
            o,
            Observed {
                closed: Some((CloseStatus::Terminated, Duration::from_millis(40))),
                ..Default::default()
            }
        );
    }

    // --- A workflow's activities -----------------------------------------------------------

    /// A run on queue `wq` whose first workflow task (at T0) scheduled activity `a` on queue
    /// `aq` with a 10 s start-to-close timeout and the attributes `extra`.
    fn run_with_activity(extra: &str) -> Workflow {
        run_with_activity_on("aq", extra)
    }

    fn run_with_activity_on(queue: &str, extra: &str) -> Workflow {
        let body = r#"{"workflowType":{"name":"W"},"taskQueue":{"name":"wq"}}"#;
        let request: wf::wire::StartWorkflowExecutionRequest = serde_json::from_str(body).unwrap();
        let run = wf::NewRun {
            namespace: "ns".into(),
            workflow_id: "w".into(),
            run_id: "r".into(),
            ..Default::default()
        };
        let options = wf::validate_start(
            "w",
            &request,
            waymark_core::limits::DEFAULT_MAX_PAYLOAD_BYTES,
        )
        .unwrap();
        let w = Workflow::start(run, options, at_ms(0)).workflow;
        let w = w.apply(task_started(2), at_ms(0)).unwrap().workflow;
        let schedule = format!(
            r#"{{"commandType":"COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK","scheduleActivityTaskCommandAttributes":
                {{"activityId":"a","activityType":{{"name":"T"}},"taskQueue":{{"name":"{queue}"}},"startToCloseTimeout":"10s"{extra}}}}}"#
        );
        let complete = task_completed(&w, &schedule);
        w.apply(complete, at_ms(0)).unwrap().workflow
    }

    /// Workflow `w` run through `steps` (command, at ms after T0): the run after the last step
    /// and what that step counts.
    fn workflow_steps(
        mut w: Workflow,
        steps: Vec<(WorkflowCommand, i64)>,
    ) -> (Workflow, Vec<(String, Observed)>) {
        let mut observed = Vec::new();
        for (command, ms) in steps {
            let (before, cause) = (PendingBefore::of(&w), Cause::of_workflow(&command));
            let t = w.apply(command, at_ms(ms)).expect("the step applies");
            observed = observe_workflow(before, cause, &t.workflow, &t.new_events, at_ms(ms));
            w = t.workflow;
        }
        (w, observed)
    }

    fn last_workflow_step(
        w: Workflow,
        steps: Vec<(WorkflowCommand, i64)>,
    ) -> Vec<(String, Observed)> {
        workflow_steps(w, steps).1
    }

    /// The started workflow task of `w` completed with one command (JSON).
    fn task_completed(w: &Workflow, command: &str) -> WorkflowCommand {
        WorkflowCommand::CompleteTask(TaskCompletion {
            task: w.started_task_ref().unwrap(),
            commands: vec![serde_json::from_str(command).unwrap()],
            identity: "wf-worker".into(),
            force_create_new_task: false,
            sticky: None,
            new_run_id: String::new(),
            sdk_metadata: None,
            metering_metadata: None,
        })
    }

    /// A signal; it schedules workflow task 7 in a run of one activity and no task.
    fn signaled() -> WorkflowCommand {
        WorkflowCommand::Signal {
            name: "s".into(),
            input: None,
            identity: "x".into(),
            request_id: String::new(),
            header: None,
        }
    }

    fn task_started(scheduled_event_id: i64) -> WorkflowCommand {
        WorkflowCommand::RecordTaskStarted {
            scheduled_event_id,
            attempt: 1,
            identity: "wf-worker".into(),
            request_id: format!("t{scheduled_event_id}"),
        }
    }

    /// The activity scheduled by event 5 (after WES, WTS, WTST, WTC).
    const A: i64 = 5;

    fn activity_started(attempt: i32) -> WorkflowCommand {
        WorkflowCommand::RecordActivityStarted {
            scheduled_event_id: A,
            attempt,
            identity: "w".into(),
            request_id: format!("p{attempt}"),
        }
    }

    fn token(attempt: i32) -> wf::ActivityTarget {
        wf::ActivityTarget::Token {
            scheduled_event_id: A,
            attempt,
            stamp: 0,
        }
    }

    fn activity_completed(attempt: i32) -> WorkflowCommand {
        WorkflowCommand::CompleteActivity {
            target: token(attempt),
            result: None,
            identity: "w".into(),
        }
    }

    fn activity_failed(attempt: i32) -> WorkflowCommand {
        WorkflowCommand::FailActivity {
            target: token(attempt),
            failure: boom(),
            last_heartbeat_details: None,
            identity: "w".into(),
        }
    }

    fn activity_timer(timer: ActivityTimer, attempt: i32) -> WorkflowCommand {
        WorkflowCommand::TimerFired(wf::TimerKind::Activity {
            scheduled_event_id: A,
            attempt,
            timer,
        })
    }

    /// What the last of `steps` counts, in a run of one activity on queue `aq`.
    fn counts(steps: Vec<(WorkflowCommand, i64)>) -> Vec<(String, Observed)> {
        last_workflow_step(run_with_activity(""), steps)
    }

    /// `o`, counted under queue `aq`.
    fn on_aq(o: Observed) -> Vec<(String, Observed)> {
        vec![("aq".to_owned(), o)]
    }

    /// An attempt that ran `ran_ms` and closed the activity `status`, `end_to_end_ms` after its
    /// schedule.
    fn closing(ran_ms: u64, status: CloseStatus, end_to_end_ms: u64) -> Observed {
        Observed {
            start_to_close: Some(Duration::from_millis(ran_ms)),
            closed: Some((status, Duration::from_millis(end_to_end_ms))),
            ..Default::default()
        }
    }

    #[test]
    fn a_worker_taking_a_workflow_activity_is_its_schedule_to_start_on_the_activity_queue() {
        let expected = Observed {
            schedule_to_start: Some(Duration::from_millis(30)),
            ..Default::default()
        };
        assert_eq!(counts(vec![(activity_started(1), 30)]), on_aq(expected));
    }

    #[test]
    fn a_workflow_activity_completing_ends_its_attempt_and_closes_it_end_to_end() {
        let steps = vec![(activity_started(1), 30), (activity_completed(1), 100)];
        let expected = closing(70, CloseStatus::Completed, 100);
        assert_eq!(counts(steps), on_aq(expected));
    }

    #[test]
    fn a_workflow_activity_on_the_workflows_queue_is_counted_there_when_it_closes() {
        let w = run_with_activity_on("wq", "");
        let steps = vec![(activity_started(1), 30), (activity_completed(1), 100)];
        let expected = closing(70, CloseStatus::Completed, 100);
        assert_eq!(
            last_workflow_step(w, steps),
            vec![("wq".to_owned(), expected)]
        );
    }

    #[test]
    fn a_heartbeat_of_a_workflow_activity_counts_nothing() {
        let heartbeat = WorkflowCommand::ActivityHeartbeat {
            target: token(1),
            details: None,
        };
        assert_eq!(
            counts(vec![(activity_started(1), 30), (heartbeat, 50)]),
            vec![]
        );
    }

    #[test]
    fn a_retried_workflow_activity_failure_is_a_worker_failure_and_a_retry() {
        let steps = vec![(activity_started(1), 10), (activity_failed(1), 60)];
        let expected = Observed {
            start_to_close: Some(Duration::from_millis(50)),
            retried: true,
            worker_failed: true,
            ..Default::default()
        };
        assert_eq!(counts(steps), on_aq(expected));
    }

    #[test]
    fn the_next_workflow_activity_attempt_waits_from_its_own_dispatch_time() {
        let w = run_with_activity(r#","retryPolicy":{"initialInterval":"1s"}"#);
        let steps = vec![
            (activity_started(1), 10),
            (activity_failed(1), 60),
            (activity_timer(ActivityTimer::Retry, 2), 1_060),
            (activity_started(2), 1_260),
        ];
        let expected = Observed {
            schedule_to_start: Some(Duration::from_millis(200)),
            ..Default::default()
        };
        assert_eq!(last_workflow_step(w, steps), on_aq(expected));
    }

    #[test]
    fn a_final_workflow_activity_failure_closes_it_failed() {
        let w = run_with_activity(r#","retryPolicy":{"maximumAttempts":1}"#);
        let steps = vec![(activity_started(1), 10), (activity_failed(1), 60)];
        let expected = Observed {
            worker_failed: true,
            ..closing(50, CloseStatus::Failed, 60)
        };
        assert_eq!(last_workflow_step(w, steps), on_aq(expected));
    }

    #[test]
    fn a_workflow_activity_start_to_close_timeout_is_counted_by_its_type() {
        let w = run_with_activity(r#","retryPolicy":{"maximumAttempts":1}"#);
        let fired = activity_timer(ActivityTimer::StartToClose, 1);
        let steps = vec![(activity_started(1), 0), (fired, 10_000)];
        let expected = Observed {
            timeout: Some(TimeoutType::StartToClose),
            ..closing(10_000, CloseStatus::TimedOut, 10_000)
        };
        assert_eq!(last_workflow_step(w, steps), on_aq(expected));
    }

    #[test]
    fn an_early_workflow_activity_timer_that_only_re_arms_counts_nothing() {
        let fired = activity_timer(ActivityTimer::StartToClose, 1);
        assert_eq!(counts(vec![(activity_started(1), 0), (fired, 500)]), vec![]);
    }

    #[test]
    fn a_workflow_activity_closing_during_a_workflow_task_is_counted_by_its_held_back_event() {
        // The signal (event 6) schedules a task (7) that is started (8) when the activity ends.
        let steps = vec![
            (activity_started(1), 10),
            (signaled(), 20),
            (task_started(7), 30),
            (activity_completed(1), 40),
        ];
        let expected = closing(30, CloseStatus::Completed, 40);
        assert_eq!(counts(steps), on_aq(expected));
    }

    #[test]
    fn a_scheduled_workflow_activity_canceled_by_the_workflow_closes_it_canceled() {
        let steps = vec![(signaled(), 20), (task_started(7), 30)];
        let (w, _) = workflow_steps(run_with_activity(""), steps);
        let cancel = r#"{"commandType":"COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK",
            "requestCancelActivityTaskCommandAttributes":{"scheduledEventId":"5"}}"#;
        let complete = task_completed(&w, cancel);
        let expected = Observed {
            closed: Some((CloseStatus::Canceled, Duration::from_millis(50))),
            ..Default::default()
        };
        assert_eq!(last_workflow_step(w, vec![(complete, 50)]), on_aq(expected));
    }
}
