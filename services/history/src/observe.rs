//! What a committed activity transition means for the metrics: an attempt taken by a worker
//! (schedule-to-start), an attempt that ended (start-to-close), a retry, a worker's failure, a
//! timeout that took effect, a close (end-to-end). Derived from the state before and after the
//! transition, so that every path through the state machine is counted alike.

use std::time::Duration;

use waymark_api::Timestamp;
use waymark_core::activity::{Activity, Command, State, TimerKind};
use waymark_telemetry::{CloseStatus, TimeoutType};

/// The parts of the state before a transition that the metrics compare with (all `Copy`: taking
/// them costs no allocation).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Before {
    state: State,
    attempt: i32,
    attempt_scheduled_time: Timestamp,
    started_time: Option<Timestamp>,
}

impl Before {
    pub(crate) fn of(a: &Activity) -> Before {
        Before {
            state: a.state,
            attempt: a.attempt,
            attempt_scheduled_time: a.attempt_scheduled_time,
            started_time: a.running.as_ref().map(|r| r.started_time),
        }
    }
}

/// What caused a transition, as far as the metrics care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    WorkerFailed,
    TimerFired(TimerKind),
    Other,
}

impl Cause {
    pub(crate) fn of(command: &Command) -> Cause {
        match command {
            Command::Fail { .. } => Cause::WorkerFailed,
            Command::TimerFired { kind, .. } => Cause::TimerFired(*kind),
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
    let started_time = after.running.as_ref().map(|r| r.started_time);
    let started = before.state == State::Scheduled && started_time.is_some();
    let ended = before.started_time.filter(|&t| started_time != Some(t));
    let closed = !before.state.is_terminal() && after.state.is_terminal();
    let took_effect = ended.is_some() || closed;
    Observed {
        schedule_to_start: started_time
            .filter(|_| started)
            .map(|t| span(before.attempt_scheduled_time, t)),
        start_to_close: ended.map(|t| span(t, now)),
        closed: closed.then(|| {
            (
                close_status(after.state),
                span(after.schedule_time, after.close_time.unwrap_or(now)),
            )
        }),
        retried: after.attempt > before.attempt,
        worker_failed: cause == Cause::WorkerFailed,
        timeout: match cause {
            Cause::TimerFired(kind) if took_effect => timeout_type(kind),
            _ => None,
        },
    }
}

impl Observed {
    /// Records the observation under the activity's namespace and task queue. A transition that
    /// changed nothing counted (a heartbeat, most operator commands) looks nothing up.
    pub(crate) fn record(&self, ns: &str, task_queue: &str) {
        if *self == Observed::default() {
            return;
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

#[cfg(test)]
mod tests {
    use waymark_api::{ApplicationFailureInfo, Failure, StartActivityExecutionRequest};
    use waymark_core::activity::{Caller, NewRun, Request};
    use waymark_core::options::validate_start;

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
        let opts = validate_start("a", &req).unwrap();
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

    fn failed(attempt: i32) -> Command {
        let failure = Failure {
            message: "boom".into(),
            application_failure_info: Some(ApplicationFailureInfo::default()),
            ..Default::default()
        };
        Command::Fail {
            caller: Caller::Token { attempt },
            failure: Some(failure),
            last_heartbeat_details: None,
            identity: "w".into(),
        }
    }

    fn completed(attempt: i32) -> Command {
        Command::Complete {
            caller: Caller::Token { attempt },
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
            caller: Caller::Token { attempt: 1 },
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
}
