//! State machine tests: each drives an activity through commands with a manual clock.

use super::*;
use waymark_api::{ApplicationFailureInfo, Payload, StartActivityExecutionRequest};

use crate::options::validate_start;

/// A manual clock and the activity under test, with what the last transition asked for.
struct Harness {
    now: Timestamp,
    activity: Option<Activity>,
    timers: Vec<Timer>,
    dispatched: bool,
}

const T0: i64 = 1_800_000_000_000_000_000;

fn secs(s: i64) -> Duration {
    Duration::from_secs(s)
}
fn ms(m: i64) -> Duration {
    Duration::from_millis(m)
}
fn json(v: &str) -> Payloads {
    Payloads(vec![Payload::Json(v.into())])
}
fn app_failure(kind: &str, non_retryable: bool) -> Failure {
    Failure {
        message: format!("{kind} failed"),
        application_failure_info: Some(ApplicationFailureInfo {
            r#type: kind.into(),
            non_retryable,
            ..Default::default()
        }),
        ..Default::default()
    }
}
fn request(id: &str, identity: &str) -> Request {
    Request {
        request_id: id.into(),
        reason: "why".into(),
        identity: identity.into(),
    }
}

impl Harness {
    /// Starts an activity from a JSON start request (type and queue filled in).
    fn start(extra: &str) -> Harness {
        let body =
            format!(r#"{{"activityType":{{"name":"T"}},"taskQueue":{{"name":"q"}}{extra}}}"#);
        let req: StartActivityExecutionRequest = serde_json::from_str(&body).unwrap();
        let options = validate_start("a1", &req, crate::limits::DEFAULT_MAX_PAYLOAD_BYTES).unwrap();
        let now = Timestamp::from_nanos(T0);
        let run = start::NewRun {
            namespace: "ns",
            activity_id: "a1",
            run_id: "r1".into(),
            request_id: "rq".into(),
        };
        let t = Activity::start(run, req, options, now);
        let mut h = Harness {
            now,
            activity: None,
            timers: vec![],
            dispatched: false,
        };
        h.take(t);
        h
    }

    fn take(&mut self, t: Transition) {
        self.timers.extend(t.timers);
        self.dispatched = t.dispatch;
        self.activity = Some(t.activity);
    }

    fn a(&self) -> &Activity {
        self.activity.as_ref().unwrap()
    }

    fn advance(&mut self, d: Duration) {
        self.now = self.now.add(d);
    }

    fn try_apply(&mut self, c: Command) -> Result<bool, ActivityError> {
        let t = self.a().clone().apply(c, self.now)?;
        let noop = t.noop;
        self.take(t);
        Ok(!noop)
    }

    fn apply(&mut self, c: Command) {
        self.try_apply(c).unwrap();
    }

    fn poll(&mut self) {
        let attempt = self.a().attempt;
        self.apply(Command::RecordStarted {
            attempt,
            identity: "worker".into(),
            request_id: "p".into(),
        });
    }

    fn fail(&mut self, f: Failure) {
        let (attempt, stamp) = (self.a().attempt, self.a().stamp);
        self.apply(Command::Fail {
            caller: Caller::Token { attempt, stamp },
            failure: Some(f),
            last_heartbeat_details: None,
            identity: "w".into(),
        });
    }

    fn heartbeat(&mut self, details: &str) {
        let (attempt, stamp) = (self.a().attempt, self.a().stamp);
        self.apply(Command::Heartbeat {
            caller: Caller::Token { attempt, stamp },
            details: Some(json(details)),
        });
    }

    /// Fires the pending timer of `kind` at its due time, like the timer service; true when it
    /// changed something.
    fn fire(&mut self, kind: TimerKind) -> bool {
        let timer = self
            .pending(kind)
            .unwrap_or_else(|| panic!("no {kind:?} timer"));
        self.timers.retain(|t| *t != timer);
        self.now = self.now.max(timer.due);
        self.try_apply(Command::TimerFired {
            kind,
            attempt: timer.attempt,
        })
        .unwrap()
    }

    /// The latest timer of `kind` set for the current attempt.
    fn pending(&self, kind: TimerKind) -> Option<Timer> {
        let attempt = self.a().attempt;
        self.timers.iter().rev().copied().find(|t| {
            t.kind == kind && (t.attempt == attempt || kind == TimerKind::ScheduleToClose)
        })
    }

    fn outcome(&self) -> &ActivityExecutionOutcome {
        self.a().outcome.as_ref().expect("closed")
    }

    fn outcome_failure(&self) -> &Failure {
        self.outcome().failure.as_ref().expect("failure")
    }
}

#[test]
fn a_new_activity_is_dispatched_at_once_with_attempt_one() {
    let h = Harness::start(r#","startToCloseTimeout":"10s""#);
    assert_eq!((h.a().state, h.a().attempt), (State::Scheduled, 1));
    assert!(h.dispatched);
    assert!(
        h.timers.is_empty(),
        "no schedule-to-start or -close without those timeouts"
    );
}

#[test]
fn a_start_delay_defers_the_first_dispatch_and_the_schedule_to_close_deadline() {
    let h = Harness::start(r#","scheduleToCloseTimeout":"10s","startDelay":"5s""#);
    assert!(!h.dispatched);
    let due = |k| h.pending(k).unwrap().due.since(Timestamp::from_nanos(T0));
    assert_eq!(due(TimerKind::Dispatch), secs(5));
    assert_eq!(due(TimerKind::ScheduleToStart), secs(15));
    assert_eq!(due(TimerKind::ScheduleToClose), secs(15));
}

#[test]
fn success_closes_completed_with_the_result() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.poll();
    assert_eq!(h.a().state, State::Started);
    h.apply(Command::Complete {
        caller: Caller::Token {
            attempt: 1,
            stamp: 0,
        },
        result: Some(json("done")),
        identity: "w".into(),
    });
    assert_eq!(h.a().state, State::Completed);
    assert_eq!(h.outcome().result, Some(json("done")));
}

#[test]
fn completion_without_a_result_has_an_empty_result() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.poll();
    h.apply(Command::Complete {
        caller: Caller::Token {
            attempt: 1,
            stamp: 0,
        },
        result: None,
        identity: "w".into(),
    });
    assert_eq!(h.outcome().result, Some(Payloads::default()));
}

#[test]
fn a_retryable_failure_schedules_the_next_attempt_after_the_backoff() {
    let mut h = Harness::start(
        r#","startToCloseTimeout":"10s","retryPolicy":{"initialInterval":"2s","backoffCoefficient":3}"#,
    );
    h.poll();
    h.fail(app_failure("X", false));
    let a = h.a();
    assert_eq!(
        (a.state, a.attempt),
        (State::Scheduled, 2),
        "describe shows the next attempt during backoff"
    );
    assert_eq!(a.current_retry_interval, Some(secs(2)));
    assert_eq!(a.last_failure.as_ref().unwrap().message, "X failed");
    assert!(!h.dispatched);
    assert_eq!(
        h.pending(TimerKind::Dispatch).unwrap().due,
        h.now.add(secs(2))
    );
    assert!(h.fire(TimerKind::Dispatch));
    assert!(h.dispatched);
    h.poll();
    h.fail(app_failure("X", false));
    assert_eq!(h.a().current_retry_interval, Some(secs(6)));
}

#[test]
fn a_non_retryable_failure_closes_failed() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.poll();
    h.fail(app_failure("X", true));
    assert_eq!(h.a().state, State::Failed);
    assert_eq!(h.outcome().retry_state, RetryState::NonRetryableFailure);
    assert_eq!(
        h.outcome_failure(),
        &app_failure("X", true),
        "the worker's failure, unchanged"
    );
    // Describe's lastFailure is the closing failure, as in Temporal.
    assert_eq!(h.a().last_failure, Some(app_failure("X", true)));
}

#[test]
fn maximum_attempts_ends_it_with_the_last_failure() {
    let mut h =
        Harness::start(r#","startToCloseTimeout":"10s","retryPolicy":{"maximumAttempts":2}"#);
    h.poll();
    h.fail(app_failure("A", false));
    h.fire(TimerKind::Dispatch);
    h.poll();
    h.fail(app_failure("B", false));
    assert_eq!((h.a().state, h.a().attempt), (State::Failed, 2));
    assert_eq!(h.outcome().retry_state, RetryState::MaximumAttemptsReached);
    assert_eq!(h.outcome_failure().message, "B failed");
    assert_eq!(h.a().last_failure, Some(app_failure("B", false)));
}

#[test]
fn a_failure_whose_retry_would_pass_schedule_to_close_fails_with_retry_state_timeout() {
    let mut h =
        Harness::start(r#","scheduleToCloseTimeout":"5s","retryPolicy":{"initialInterval":"10s"}"#);
    h.poll();
    h.fail(app_failure("X", false));
    assert_eq!(h.a().state, State::Failed);
    assert_eq!(h.outcome().retry_state, RetryState::Timeout);
    assert_eq!(h.outcome_failure().message, "X failed");
}

#[test]
fn start_to_close_timeout_is_retried_and_heartbeat_details_reach_the_next_attempt() {
    let mut h =
        Harness::start(r#","startToCloseTimeout":"1s","retryPolicy":{"initialInterval":"1s"}"#);
    h.poll();
    h.heartbeat("p1");
    assert!(h.fire(TimerKind::StartToClose));
    let a = h.a();
    assert_eq!((a.state, a.attempt), (State::Scheduled, 2));
    assert_eq!(a.heartbeat_details, Some(json("p1")));
    let last = a.last_failure.as_ref().unwrap();
    assert_eq!(last.message, "activity StartToClose timeout");
    assert_eq!(
        last.timeout_failure_info
            .as_ref()
            .unwrap()
            .last_heartbeat_details,
        None
    );
}

#[test]
fn the_final_timeout_carries_the_previous_failure_and_the_heartbeat_details() {
    let mut h =
        Harness::start(r#","startToCloseTimeout":"1s","retryPolicy":{"maximumAttempts":2}"#);
    h.poll();
    h.heartbeat("p1");
    h.fire(TimerKind::StartToClose);
    h.fire(TimerKind::Dispatch);
    h.poll();
    h.fire(TimerKind::StartToClose);
    assert_eq!(h.a().state, State::TimedOut);
    assert_eq!(h.outcome().retry_state, RetryState::MaximumAttemptsReached);
    let f = h.outcome_failure();
    assert_eq!(f.message, "activity StartToClose timeout");
    assert_eq!(
        f.cause.as_ref().unwrap().message,
        "activity StartToClose timeout"
    );
    assert_eq!(
        f.timeout_failure_info
            .as_ref()
            .unwrap()
            .last_heartbeat_details,
        Some(json("p1"))
    );
    // Describe's lastFailure is the outcome's failure, cause and details included.
    assert_eq!(h.a().last_failure.as_ref(), Some(f));
}

#[test]
fn a_timeout_whose_retry_would_pass_schedule_to_close_is_reported_as_schedule_to_close() {
    let mut h = Harness::start(
        r#","scheduleToCloseTimeout":"3s","startToCloseTimeout":"1s","retryPolicy":{"initialInterval":"5s"}"#,
    );
    h.poll();
    h.fire(TimerKind::StartToClose);
    assert_eq!(h.a().state, State::TimedOut);
    assert_eq!(h.outcome().retry_state, RetryState::Timeout);
    let f = h.outcome_failure();
    assert_eq!(
        f.message,
        "Not enough time to schedule next retry before activity ScheduleToClose timeout, giving up retrying"
    );
    assert_eq!(
        f.timeout_failure_info.as_ref().unwrap().timeout_type,
        TimeoutType::ScheduleToClose
    );
    // Describe's lastFailure is the attempt's own timeout.
    let last = h.a().last_failure.as_ref().unwrap();
    assert_eq!(last.message, "activity StartToClose timeout");
}

#[test]
fn heartbeat_timeout_runs_from_the_last_heartbeat() {
    let mut h = Harness::start(
        r#","startToCloseTimeout":"10s","heartbeatTimeout":"1s","retryPolicy":{"maximumAttempts":1}"#,
    );
    h.poll();
    h.advance(ms(800));
    h.heartbeat("x");
    // The timer set at start fires early and re-arms itself from the heartbeat.
    let first = h
        .a()
        .clone()
        .apply(
            Command::TimerFired {
                kind: TimerKind::Heartbeat,
                attempt: 1,
            },
            h.now.add(ms(200)),
        )
        .unwrap();
    assert_eq!(first.activity.state, State::Started);
    assert_eq!(first.timers[0].due, h.now.add(secs(1)));
    h.now = h.now.add(secs(1));
    h.apply(Command::TimerFired {
        kind: TimerKind::Heartbeat,
        attempt: 1,
    });
    assert_eq!(h.a().state, State::TimedOut);
    let f = h.outcome_failure();
    assert_eq!(f.message, "activity Heartbeat timeout");
    assert_eq!(
        f.timeout_failure_info.as_ref().unwrap().timeout_type,
        TimeoutType::Heartbeat
    );
}

#[test]
fn heartbeats_of_an_earlier_attempt_do_not_extend_the_next_one() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s","heartbeatTimeout":"2s""#);
    h.poll();
    h.heartbeat("x");
    h.fail(app_failure("X", false));
    h.fire(TimerKind::Dispatch);
    h.poll();
    let due = h.a().deadline(TimerKind::Heartbeat).unwrap();
    assert_eq!(due, h.now.add(secs(2)));
}

#[test]
fn a_heartbeat_without_details_clears_them() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.poll();
    h.heartbeat("x");
    h.apply(Command::Heartbeat {
        caller: Caller::Token {
            attempt: 1,
            stamp: 0,
        },
        details: None,
    });
    assert_eq!(h.a().heartbeat_details, None);
    assert_eq!(h.a().total_heartbeat_count, 2);
}

#[test]
fn last_heartbeat_details_on_a_failure_count_as_a_heartbeat() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.poll();
    h.apply(Command::Fail {
        caller: Caller::Token {
            attempt: 1,
            stamp: 0,
        },
        failure: Some(app_failure("X", false)),
        last_heartbeat_details: Some(json("d")),
        identity: "w".into(),
    });
    assert_eq!(h.a().heartbeat_details, Some(json("d")));
    assert_eq!(h.a().total_heartbeat_count, 1);
}

#[test]
fn schedule_to_start_timeout_ends_it_without_retry() {
    let mut h = Harness::start(r#","scheduleToStartTimeout":"1s","startToCloseTimeout":"5s""#);
    assert!(h.fire(TimerKind::ScheduleToStart));
    assert_eq!(h.a().state, State::TimedOut);
    assert_eq!(h.outcome().retry_state, RetryState::Timeout);
    assert_eq!(
        h.outcome_failure().message,
        "activity ScheduleToStart timeout"
    );
}

#[test]
fn only_schedule_to_close_without_a_worker_ends_as_schedule_to_start() {
    let mut h = Harness::start(r#","scheduleToCloseTimeout":"2s""#);
    let s2s = h.pending(TimerKind::ScheduleToStart).unwrap();
    let s2c = h.pending(TimerKind::ScheduleToClose).unwrap();
    assert_eq!(s2s.due, s2c.due);
    h.fire(TimerKind::ScheduleToStart);
    assert_eq!(
        h.outcome_failure().message,
        "activity ScheduleToStart timeout"
    );
}

#[test]
fn schedule_to_close_ends_a_retrying_activity_with_the_previous_failure_as_cause() {
    let mut h = Harness::start(
        r#","scheduleToCloseTimeout":"10s","startToCloseTimeout":"1s","retryPolicy":{"initialInterval":"1s","backoffCoefficient":1}"#,
    );
    h.poll();
    h.fail(app_failure("X", false));
    h.fire(TimerKind::Dispatch);
    h.poll();
    let s2c = h.a().schedule_to_close_deadline().unwrap();
    h.now = s2c;
    h.apply(Command::TimerFired {
        kind: TimerKind::ScheduleToClose,
        attempt: 0,
    });
    assert_eq!(h.a().state, State::TimedOut);
    assert_eq!(h.outcome().retry_state, RetryState::Timeout);
    let f = h.outcome_failure();
    assert_eq!(f.message, "activity ScheduleToClose timeout");
    assert_eq!(f.cause.as_ref().unwrap().message, "X failed");
}

#[test]
fn a_stale_timer_is_a_noop() {
    let mut h = Harness::start(r#","startToCloseTimeout":"1s""#);
    h.poll();
    h.apply(Command::Complete {
        caller: Caller::ById,
        result: None,
        identity: "x".into(),
    });
    let t = h
        .a()
        .clone()
        .apply(
            Command::TimerFired {
                kind: TimerKind::StartToClose,
                attempt: 1,
            },
            h.now.add(secs(5)),
        )
        .unwrap();
    assert!(t.noop);
}

#[test]
fn a_timer_of_an_old_attempt_is_a_noop() {
    let mut h = Harness::start(r#","startToCloseTimeout":"1s""#);
    h.poll();
    h.fail(app_failure("X", false));
    h.fire(TimerKind::Dispatch);
    h.poll();
    let t = h
        .a()
        .clone()
        .apply(
            Command::TimerFired {
                kind: TimerKind::StartToClose,
                attempt: 1,
            },
            h.now.add(secs(5)),
        )
        .unwrap();
    assert!(t.noop);
}

#[test]
fn cancel_of_a_scheduled_activity_is_immediate() {
    let mut h = Harness::start(r#","startToCloseTimeout":"1s""#);
    h.apply(Command::RequestCancel(request("c1", "me")));
    assert_eq!(h.a().state, State::Canceled);
    let f = h.outcome_failure();
    assert_eq!(f.message, "Activity canceled");
    let info = f.canceled_failure_info.as_ref().unwrap();
    assert_eq!(
        (info.details.clone(), info.identity.as_str()),
        (Some(json("why")), "me")
    );
    assert_eq!(h.outcome().retry_state, RetryState::Unspecified);
}

#[test]
fn cancel_of_a_started_activity_is_cooperative() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.poll();
    h.apply(Command::RequestCancel(request("c1", "me")));
    assert_eq!(h.a().state, State::CancelRequested);
    h.heartbeat("still here");
    assert_eq!(h.a().state, State::CancelRequested);
    h.apply(Command::ResolveCanceled {
        caller: Caller::Token {
            attempt: 1,
            stamp: 0,
        },
        details: Some(json("bye")),
        identity: "w".into(),
    });
    assert_eq!(h.a().state, State::Canceled);
    let info = h.outcome_failure().canceled_failure_info.clone().unwrap();
    assert_eq!(
        (info.details, info.identity.as_str()),
        (Some(json("bye")), "me"),
        "the requester's identity"
    );
}

#[test]
fn completion_after_a_cancel_request_is_accepted() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.poll();
    h.apply(Command::RequestCancel(request("c1", "me")));
    h.apply(Command::Complete {
        caller: Caller::Token {
            attempt: 1,
            stamp: 0,
        },
        result: Some(json("r")),
        identity: "w".into(),
    });
    assert_eq!(h.a().state, State::Completed);
}

#[test]
fn failure_after_a_cancel_request_is_not_retried() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.poll();
    h.apply(Command::RequestCancel(request("c1", "me")));
    h.fail(app_failure("X", false));
    assert_eq!(h.a().state, State::Failed);
    assert_eq!(h.outcome().retry_state, RetryState::CancelRequested);
}

#[test]
fn resolve_as_canceled_without_a_request_is_refused() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.poll();
    let err = h.try_apply(Command::ResolveCanceled {
        caller: Caller::Token {
            attempt: 1,
            stamp: 0,
        },
        details: None,
        identity: "w".into(),
    });
    assert_eq!(err, Err(ActivityError::CancelNotRequested));
}

#[test]
fn cancel_requests_are_idempotent_by_request_id() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.poll();
    h.apply(Command::RequestCancel(request("c1", "me")));
    assert_eq!(
        h.try_apply(Command::RequestCancel(request("c1", "me"))),
        Ok(false)
    );
    assert_eq!(
        h.try_apply(Command::RequestCancel(request("c2", "me"))),
        Err(ActivityError::CancelAlreadyRequested("c1".into()))
    );
    h.apply(Command::ResolveCanceled {
        caller: Caller::ById,
        details: None,
        identity: "w".into(),
    });
    assert_eq!(
        h.try_apply(Command::RequestCancel(request("c1", "me"))),
        Ok(false)
    );
    assert_eq!(
        h.try_apply(Command::RequestCancel(request("c3", "me"))),
        Err(ActivityError::TerminalState("Canceled"))
    );
}

#[test]
fn terminate_closes_it_and_is_idempotent_by_request_id() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.poll();
    h.apply(Command::Terminate(request("t1", "ops")));
    assert_eq!(h.a().state, State::Terminated);
    assert_eq!(h.outcome_failure().message, "why");
    assert_eq!(
        h.outcome_failure()
            .terminated_failure_info
            .as_ref()
            .unwrap()
            .identity,
        "ops"
    );
    assert_eq!(
        h.try_apply(Command::Terminate(request("t1", "ops"))),
        Ok(false)
    );
    assert_eq!(
        h.try_apply(Command::Terminate(request("t2", "ops"))),
        Err(ActivityError::AlreadyTerminated("t1".into()))
    );
}

#[test]
fn a_stale_token_is_not_found() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.poll();
    h.fail(app_failure("X", false));
    h.fire(TimerKind::Dispatch);
    h.poll();
    let stale = Command::Complete {
        caller: Caller::Token {
            attempt: 1,
            stamp: 0,
        },
        result: None,
        identity: "w".into(),
    };
    assert_eq!(
        h.try_apply(stale),
        Err(ActivityError::NotFound("a1".into()))
    );
}

#[test]
fn complete_by_id_force_completes_a_scheduled_activity_but_not_a_closed_one() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.apply(Command::Complete {
        caller: Caller::ById,
        result: Some(json("r")),
        identity: "x".into(),
    });
    assert_eq!(h.a().state, State::Completed);
    let again = Command::Complete {
        caller: Caller::ById,
        result: None,
        identity: "x".into(),
    };
    assert_eq!(
        h.try_apply(again),
        Err(ActivityError::InvalidTransition("Completed"))
    );
}

#[test]
fn fail_and_heartbeat_by_id_need_a_running_attempt() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    let hb = Command::Heartbeat {
        caller: Caller::ById,
        details: None,
    };
    assert_eq!(h.try_apply(hb), Err(ActivityError::NotFound("a1".into())));
    let fail = Command::Fail {
        caller: Caller::ById,
        failure: None,
        last_heartbeat_details: None,
        identity: "x".into(),
    };
    assert_eq!(h.try_apply(fail), Err(ActivityError::NotFound("a1".into())));
}

#[test]
fn a_duplicate_or_early_task_is_stale() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.poll();
    let again = Command::RecordStarted {
        attempt: 1,
        identity: "w2".into(),
        request_id: "p2".into(),
    };
    assert_eq!(h.try_apply(again), Err(ActivityError::StaleTask));
}

#[test]
fn pause_holds_dispatch_and_unpause_resumes_it() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.apply(Command::Pause(request("p1", "ops")));
    assert_eq!(h.a().state, State::Paused);
    assert_eq!(h.a().state.visibility_status(), "Paused");
    let task = Command::RecordStarted {
        attempt: 1,
        identity: "w".into(),
        request_id: "p".into(),
    };
    assert_eq!(h.try_apply(task), Err(ActivityError::StaleTask));
    assert_eq!(
        h.try_apply(Command::Pause(request("p2", "ops"))),
        Err(ActivityError::NotPausable("Paused"))
    );
    h.apply(Command::Unpause {
        request: request("u1", "ops"),
        jitter: Duration::ZERO,
    });
    assert_eq!(h.a().state, State::Scheduled);
    assert!(h.dispatched);
}

#[test]
fn pause_of_a_running_attempt_takes_effect_when_it_fails() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.poll();
    h.apply(Command::Pause(request("p1", "ops")));
    assert_eq!(h.a().state, State::PauseRequested);
    h.fail(app_failure("X", false));
    assert_eq!((h.a().state, h.a().attempt), (State::Paused, 2));
    assert!(!h.dispatched);
}

#[test]
fn reset_of_a_backing_off_activity_starts_over_at_attempt_one() {
    let mut h =
        Harness::start(r#","startToCloseTimeout":"10s","retryPolicy":{"initialInterval":"60s"}"#);
    h.poll();
    h.heartbeat("d");
    h.fail(app_failure("X", false));
    let reset = ResetOptions {
        reset_heartbeat: true,
        ..Default::default()
    };
    h.apply(Command::Reset {
        request: request("r1", "ops"),
        reset,
    });
    assert_eq!(
        (h.a().state, h.a().attempt, h.a().heartbeat_details.clone()),
        (State::Scheduled, 1, None)
    );
    assert!(h.dispatched);
}

/// Found by the simulation: attempt 1 after a reset is not the attempt 1 before it.
#[test]
fn a_token_from_before_a_reset_cannot_answer_the_attempt_after_it() {
    let mut h =
        Harness::start(r#","startToCloseTimeout":"10s","retryPolicy":{"initialInterval":"60s"}"#);
    h.poll();
    h.fail(app_failure("X", false));
    h.apply(Command::Reset {
        request: request("r1", "ops"),
        reset: ResetOptions::default(),
    });
    h.poll();
    assert_eq!(
        (h.a().state, h.a().attempt, h.a().stamp),
        (State::Started, 1, 1)
    );
    let stale = Command::Complete {
        caller: Caller::Token {
            attempt: 1,
            stamp: 0,
        },
        result: None,
        identity: "zombie".into(),
    };
    assert_eq!(
        h.try_apply(stale),
        Err(ActivityError::NotFound(h.a().activity_id.clone()))
    );
    assert_eq!(h.a().state, State::Started);
}

#[test]
fn reset_of_a_running_attempt_is_deferred_until_it_fails_even_non_retryably() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.poll();
    h.apply(Command::Reset {
        request: request("r1", "ops"),
        reset: ResetOptions::default(),
    });
    assert_eq!(h.a().state, State::ResetRequested);
    assert_eq!(
        h.try_apply(Command::Reset {
            request: request("r2", "ops"),
            reset: ResetOptions::default()
        }),
        Err(ActivityError::ResetPending)
    );
    h.fail(app_failure("X", true));
    assert_eq!((h.a().state, h.a().attempt), (State::Scheduled, 1));
    assert!(h.dispatched);
}

#[test]
fn update_options_renormalizes_and_rearms_timers() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s","heartbeatTimeout":"5s""#);
    let update = ActivityOptions {
        schedule_to_close_timeout: Some(secs(3)),
        ..Default::default()
    };
    h.apply(Command::UpdateOptions {
        request_id: "u".into(),
        update: OptionsUpdate::Mask {
            options: update,
            paths: vec!["scheduleToCloseTimeout".into()],
        },
    });
    let o = &h.a().options;
    assert_eq!(
        (
            o.schedule_to_close,
            o.schedule_to_start,
            o.start_to_close,
            o.heartbeat
        ),
        (secs(3), secs(3), secs(3), secs(3))
    );
    assert!(h.pending(TimerKind::ScheduleToClose).is_some());
}

#[test]
fn update_options_rejects_unknown_paths_and_closed_activities() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    let bad = OptionsUpdate::Mask {
        options: ActivityOptions::default(),
        paths: vec!["bogus".into()],
    };
    assert_eq!(
        h.try_apply(Command::UpdateOptions {
            request_id: "u".into(),
            update: bad
        }),
        Err(ActivityError::InvalidArgument(
            "unsupported update_mask path: \"bogus\"".into()
        ))
    );
    h.apply(Command::Terminate(request("t", "ops")));
    let restore = Command::UpdateOptions {
        request_id: "u2".into(),
        update: OptionsUpdate::RestoreOriginal,
    };
    assert_eq!(
        h.try_apply(restore),
        Err(ActivityError::CannotUpdateOptions("Terminated"))
    );
}

#[test]
fn start_dedupes_by_request_id_even_after_close() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.apply(Command::Terminate(request("t", "ops")));
    let d = decide_start(
        h.activity.as_ref(),
        "rq",
        Default::default(),
        Default::default(),
    );
    assert_eq!(
        d,
        StartDecision::Existing {
            run_id: "r1".into()
        }
    );
}

#[test]
fn start_conflict_and_reuse_policies() {
    use waymark_api::{ActivityIdConflictPolicy as C, ActivityIdReusePolicy as R};
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    let rejected = StartDecision::AlreadyStarted {
        start_request_id: "rq".into(),
        run_id: "r1".into(),
    };
    assert_eq!(
        decide_start(h.activity.as_ref(), "other", R::Unspecified, C::Unspecified),
        rejected
    );
    assert_eq!(
        decide_start(h.activity.as_ref(), "other", R::Unspecified, C::UseExisting),
        StartDecision::Existing {
            run_id: "r1".into()
        }
    );
    h.poll();
    h.apply(Command::Complete {
        caller: Caller::ById,
        result: None,
        identity: "x".into(),
    });
    assert_eq!(
        decide_start(h.activity.as_ref(), "other", R::Unspecified, C::Unspecified),
        StartDecision::Create
    );
    assert_eq!(
        decide_start(
            h.activity.as_ref(),
            "other",
            R::AllowDuplicateFailedOnly,
            C::Unspecified
        ),
        rejected
    );
    assert_eq!(
        decide_start(
            h.activity.as_ref(),
            "other",
            R::RejectDuplicate,
            C::Unspecified
        ),
        rejected
    );
    assert_eq!(
        decide_start(None, "other", R::RejectDuplicate, C::Unspecified),
        StartDecision::Create
    );
}

#[test]
fn schedule_timeouts_leave_the_last_failure_alone() {
    let mut h = Harness::start(r#","scheduleToStartTimeout":"1s","startToCloseTimeout":"10s""#);
    h.fire(TimerKind::ScheduleToStart);
    assert_eq!(h.a().state, State::TimedOut);
    assert_eq!(h.a().last_failure, None);
}

#[test]
fn describe_shows_the_next_dispatch_time_only_while_it_is_ahead() {
    let info = |h: &Harness| h.a().info(Includes::default(), 0, h.now);
    let mut h = Harness::start(r#","startToCloseTimeout":"10s","startDelay":"30s""#);
    let delayed = info(&h);
    assert_eq!(
        delayed.next_attempt_schedule_time,
        Some(h.now.add(secs(30)))
    );
    assert_eq!(delayed.current_retry_interval, None);
    h.apply(Command::Pause(request("p", "ops")));
    assert_eq!(info(&h).next_attempt_schedule_time, None);

    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.poll();
    h.fail(app_failure("X", false));
    let backing_off = info(&h);
    assert_eq!(backing_off.current_retry_interval, Some(secs(1)));
    assert_eq!(
        backing_off.next_attempt_schedule_time,
        Some(h.now.add(secs(1)))
    );
    h.advance(secs(1));
    let due = info(&h);
    assert_eq!(
        (due.current_retry_interval, due.next_attempt_schedule_time),
        (None, None)
    );
}

/// Every command on every closed state, as Temporal 1.32 answers it.
#[test]
fn a_closed_activity_answers_each_command_with_its_own_refusal() {
    use ActivityError as E;
    type Close = fn(&mut Harness);
    let closings: [(State, Close); 5] = [
        (State::Completed, |h| {
            h.poll();
            h.apply(Command::Complete {
                caller: Caller::ById,
                result: None,
                identity: "w".into(),
            })
        }),
        (State::Failed, |h| {
            h.poll();
            h.fail(app_failure("X", true))
        }),
        (State::Canceled, |h| {
            h.apply(Command::RequestCancel(request("first", "ops")))
        }),
        (State::Terminated, |h| {
            h.apply(Command::Terminate(request("first", "ops")))
        }),
        (State::TimedOut, |h| {
            h.fire(TimerKind::ScheduleToStart);
        }),
    ];
    for (state, close) in closings {
        let mut h = Harness::start(r#","scheduleToStartTimeout":"1s","startToCloseTimeout":"10s""#);
        close(&mut h);
        assert_eq!(h.a().state, state);
        let name = state.name();
        let other = request("other", "ops");
        let by_id = Caller::ById;
        let terminate = if state == State::Terminated {
            E::AlreadyTerminated("first".into())
        } else {
            E::InvalidTransition(name)
        };
        let mask = OptionsUpdate::Mask {
            options: ActivityOptions::default(),
            paths: vec!["heartbeatTimeout".into()],
        };
        let matrix = [
            (Command::Pause(other.clone()), E::NotPausable(name)),
            (
                Command::Unpause {
                    request: other.clone(),
                    jitter: Duration::ZERO,
                },
                E::TerminalState(name),
            ),
            (
                Command::Reset {
                    request: other.clone(),
                    reset: ResetOptions::default(),
                },
                E::NotRunning,
            ),
            (
                Command::UpdateOptions {
                    request_id: String::new(),
                    update: mask,
                },
                E::CannotUpdateOptions(name),
            ),
            (
                Command::RequestCancel(other.clone()),
                E::TerminalState(name),
            ),
            (Command::Terminate(other.clone()), terminate),
            (
                Command::Complete {
                    caller: by_id,
                    result: None,
                    identity: "x".into(),
                },
                E::InvalidTransition(name),
            ),
            (
                Command::Complete {
                    caller: Caller::Token {
                        attempt: 1,
                        stamp: 0,
                    },
                    result: None,
                    identity: "x".into(),
                },
                E::NotFound("a1".into()),
            ),
            (
                Command::Fail {
                    caller: by_id,
                    failure: None,
                    last_heartbeat_details: None,
                    identity: "x".into(),
                },
                E::NotFound("a1".into()),
            ),
            (
                Command::ResolveCanceled {
                    caller: by_id,
                    details: None,
                    identity: "x".into(),
                },
                E::NotFound("a1".into()),
            ),
            (
                Command::Heartbeat {
                    caller: by_id,
                    details: None,
                },
                E::NotFound("a1".into()),
            ),
        ];
        for (command, refusal) in matrix {
            let what = format!("{command:?} on {name}");
            assert_eq!(h.try_apply(command), Err(refusal), "{what}");
        }
    }
}

#[test]
fn a_repeated_request_on_a_closed_activity_is_a_no_op() {
    let mut h = Harness::start(r#","startToCloseTimeout":"10s""#);
    h.apply(Command::Pause(request("same", "ops")));
    h.apply(Command::Unpause {
        request: request("same", "ops"),
        jitter: Duration::ZERO,
    });
    h.poll();
    h.apply(Command::RequestCancel(request("same", "ops")));
    h.apply(Command::Complete {
        caller: Caller::ById,
        result: None,
        identity: "w".into(),
    });
    let before = h.a().state_transition_count;
    for repeat in [
        Command::Pause(request("same", "ops")),
        Command::Unpause {
            request: request("same", "ops"),
            jitter: Duration::ZERO,
        },
        Command::RequestCancel(request("same", "ops")),
    ] {
        assert_eq!(h.try_apply(repeat), Ok(false));
    }
    assert_eq!(h.a().state_transition_count, before);
}
