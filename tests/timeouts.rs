//! Timeouts (§4) and heartbeats (§5): how timeouts are defaulted, which are retried, and what the
//! closing failure carries.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

// §12.2: unset is not "infinite"; s2s and st2c default to s2c, heartbeat is capped at st2c.
#[tokio::test]
async fn timeouts_are_defaulted_and_capped_as_temporal_does() {
    let s = Server::start().await;
    let cases = [
        (
            json!({"startToCloseTimeout": "60s"}),
            ["0s", "0s", "60s", "0s"],
        ),
        (
            json!({"scheduleToCloseTimeout": "10s", "scheduleToStartTimeout": "20s", "startToCloseTimeout": "30s", "heartbeatTimeout": "40s"}),
            ["10s", "10s", "10s", "10s"],
        ),
        (
            json!({"scheduleToCloseTimeout": "2s", "startToCloseTimeout": null}),
            ["2s", "2s", "2s", "0s"],
        ),
        (
            json!({"startToCloseTimeout": "2.5s", "heartbeatTimeout": "5s"}),
            ["0s", "0s", "2.500s", "2.500s"],
        ),
    ];
    for (options, [s2c, s2s, st2c, hb]) in cases {
        let id = unique("normalized");
        s.start_activity(&id, options.clone()).await;
        let info = s.info(&id).await;
        let described: Vec<&Value> = [
            "scheduleToCloseTimeout",
            "scheduleToStartTimeout",
            "startToCloseTimeout",
            "heartbeatTimeout",
        ]
        .iter()
        .map(|f| &info[f])
        .collect();
        assert_eq!(
            described,
            [s2c, s2s, st2c, hb],
            "timeouts described for {options}"
        );
        assert_eq!(
            info["retryPolicy"],
            json!({"initialInterval": "1s", "backoffCoefficient": 2, "maximumInterval": "100s"})
        );
    }
}

// §12.2, §12.5: schedule-to-start is never retried; an s2c-only activity nobody picks up ends
// by SCHEDULE_TO_START (s2s defaulted to s2c).
#[tokio::test]
async fn an_activity_no_worker_picks_up_times_out_schedule_to_start_without_retry() {
    let s = Server::start().await;
    let expected = json!({
        "failure": timeout_failure("activity ScheduleToStart timeout", "TIMEOUT_TYPE_SCHEDULE_TO_START"),
        "retryState": "RETRY_STATE_TIMEOUT",
    });
    for options in [
        json!({"scheduleToStartTimeout": "0.3s"}),
        json!({"scheduleToCloseTimeout": "0.4s", "startToCloseTimeout": null}),
    ] {
        let id = unique("s2s");
        s.start_activity(&id, options.clone()).await;
        assert_eq!(s.outcome(&id).await, expected, "outcome for {options}");
        assert_eq!(
            s.state(&id).await,
            json!({"status": "ACTIVITY_EXECUTION_STATUS_TIMED_OUT", "attempt": 1}),
            "{options}"
        );
    }
}

// §12.7: details outlive the attempt, reach the next one, and end up in the final failure.
#[tokio::test]
async fn heartbeat_details_survive_a_start_to_close_timeout() {
    let s = Server::start().await;
    let id = unique("st2c");
    let options = json!({"startToCloseTimeout": "0.5s", "retryPolicy": {"initialInterval": "0.1s", "maximumAttempts": 2}});
    s.start_activity(&id, options).await;
    let first = s.poll_task(&id).await;
    assert_eq!(s.heartbeat(&first, json!(["p1"])).await, json!({}));

    // Attempt 1 times out after 0.5 s and is retried 0.1 s later.
    let second = s.poll_task(&id).await;
    assert_eq!(second["attempt"], 2);
    assert_eq!(second["heartbeatDetails"], json!(["p1"]));

    let st2c = timeout_failure(
        "activity StartToClose timeout",
        "TIMEOUT_TYPE_START_TO_CLOSE",
    );
    let mut last = st2c.clone();
    last["cause"] = st2c;
    last["timeoutFailureInfo"]["lastHeartbeatDetails"] = json!(["p1"]);
    assert_eq!(
        s.outcome(&id).await,
        json!({"failure": last, "retryState": "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"})
    );
    assert_eq!(
        s.state(&id).await,
        json!({"status": "ACTIVITY_EXECUTION_STATUS_TIMED_OUT", "attempt": 2})
    );
}

// §12.7, §14.2: replaced on every heartbeat, `[]` kept, no details clears, a failure's
// lastHeartbeatDetails counts as a heartbeat and reaches the next attempt.
#[tokio::test]
async fn heartbeat_details_are_replaced_cleared_and_recorded_on_failure() {
    let s = Server::start().await;
    let id = unique("details");
    s.start_activity(&id, json!({"retryPolicy": {"initialInterval": "0.1s"}}))
        .await;
    let first = s.poll_task(&id).await;
    let steps = [
        (json!(["d1"]), Some(json!(["d1"]))),
        (json!(["d2"]), Some(json!(["d2"]))),
        (json!([]), Some(json!([]))),
        (Value::Null, None),
    ];
    for (details, described) in steps {
        s.heartbeat(&first, details.clone()).await;
        assert_eq!(
            s.info(&id).await.get("heartbeatDetails").cloned(),
            described,
            "after a heartbeat with {details}"
        );
    }

    let fail =
        json!({"failure": app_failure("failed", "Boom"), "lastHeartbeatDetails": ["from-failure"]});
    assert_eq!(
        s.worker_call("activity-fail", &first, fail).await,
        ok(json!({}))
    );
    let second = s.poll_task(&id).await;
    assert_eq!(second["heartbeatDetails"], json!(["from-failure"]));
    assert_eq!(s.info(&id).await["totalHeartbeatCount"], "5");
}

// §12.7: each heartbeat re-arms the timer; the timeout fires heartbeatTimeout after the last one.
#[tokio::test]
async fn a_missed_heartbeat_times_the_attempt_out() {
    let s = Server::start().await;
    let id = unique("heartbeat");
    let options = json!({"heartbeatTimeout": "0.5s", "retryPolicy": {"maximumAttempts": 1}});
    s.start_activity(&id, options).await;
    let task = s.poll_task(&id).await;

    // A worker that heartbeats every 0.2 s outlives several heartbeat timeouts.
    let mut last_sent = Instant::now();
    for beat in 1..=6 {
        last_sent = Instant::now();
        assert_eq!(s.heartbeat(&task, json!([beat])).await, json!({}));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let info = s.info(&id).await;
    assert_eq!(
        info["runState"], "PENDING_ACTIVITY_STATE_STARTED",
        "alive after 1.2 s of heartbeats: {info}"
    );

    let (outcome, closed) = finished_at(s.outcome(&id)).await;
    let mut failure = timeout_failure("activity Heartbeat timeout", "TIMEOUT_TYPE_HEARTBEAT");
    failure["timeoutFailureInfo"]["lastHeartbeatDetails"] = json!([6]);
    assert_eq!(
        outcome,
        json!({"failure": failure, "retryState": "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"})
    );
    let silent = closed - last_sent;
    assert!(
        silent >= Duration::from_millis(500),
        "timed out {silent:?} after the last heartbeat"
    );
    assert!(
        silent < Duration::from_millis(1_600),
        "timed out only {silent:?} after the last heartbeat"
    );
    assert_eq!(
        s.info(&id).await["status"],
        "ACTIVITY_EXECUTION_STATUS_TIMED_OUT"
    );
}

// §12.5: `TemporalTimeout:StartToClose` stops retries; the long enum name validates but never matches.
#[tokio::test]
async fn only_the_short_timeout_name_makes_a_timeout_non_retryable() {
    let s = Server::start().await;
    let options = |name: &str| json!({"startToCloseTimeout": "0.3s", "retryPolicy": {"initialInterval": "0.1s", "nonRetryableErrorTypes": [name]}});

    let short = unique("short-name");
    s.start_activity(&short, options("TemporalTimeout:StartToClose"))
        .await;
    s.poll_task(&short).await;
    let failure = timeout_failure(
        "activity StartToClose timeout",
        "TIMEOUT_TYPE_START_TO_CLOSE",
    );
    assert_eq!(
        s.outcome(&short).await,
        json!({"failure": failure, "retryState": "RETRY_STATE_NON_RETRYABLE_FAILURE"})
    );

    let long = unique("long-name");
    s.start_activity(
        &long,
        options("TemporalTimeout:TIMEOUT_TYPE_START_TO_CLOSE"),
    )
    .await;
    s.poll_task(&long).await;
    assert_eq!(
        s.poll_task(&long).await["attempt"],
        2,
        "the long name does not stop the retry"
    );
}
