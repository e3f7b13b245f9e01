//! What a `kill -9` must not lose: executions, their heartbeat details, tokens, dispatches and
//! timers all live in the database.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn activities_tokens_and_timers_survive_a_kill_9() {
    let mut s = Server::start().await;

    let started = unique("started");
    s.start_activity(&started, json!({"startToCloseTimeout": "60s"}))
        .await;
    let started_task = s.poll_task(&started).await;
    s.heartbeat(&started_task, json!(["hb-before-crash"])).await;

    let scheduled = unique("scheduled");
    s.start_activity(&scheduled, json!({"input": ["queued"]}))
        .await;

    let timed = unique("timed");
    let options = json!({"startToCloseTimeout": "1.5s", "retryPolicy": {"initialInterval": "0.1s", "maximumAttempts": 2}});
    s.start_activity(&timed, options).await;
    s.poll_task(&timed).await;

    let backing_off = unique("backoff");
    s.start_activity(
        &backing_off,
        json!({"retryPolicy": {"initialInterval": "1s"}}),
    )
    .await;
    let failing = s.poll_task(&backing_off).await;
    s.fail(&failing, app_failure("before the crash", "Boom"))
        .await;

    s.restart_after_kill9().await;

    let info = s.info(&started).await;
    assert_eq!(info["runState"], "PENDING_ACTIVITY_STATE_STARTED", "{info}");
    assert_eq!(info["heartbeatDetails"], json!(["hb-before-crash"]));
    assert_eq!(
        s.info(&scheduled).await["runState"],
        "PENDING_ACTIVITY_STATE_SCHEDULED"
    );
    assert_eq!(
        s.info(&timed).await["status"],
        "ACTIVITY_EXECUTION_STATUS_RUNNING"
    );
    let waiting = json!({"status": "ACTIVITY_EXECUTION_STATUS_RUNNING", "runState": "PENDING_ACTIVITY_STATE_SCHEDULED", "attempt": 2});
    assert_eq!(s.state(&backing_off).await, waiting);
    assert_eq!(
        s.info(&backing_off).await["lastFailure"],
        app_failure("before the crash", "Boom")
    );

    // The old token still speaks for its attempt.
    s.complete(&started_task, json!(["after the crash"])).await;
    assert_eq!(
        s.outcome(&started).await,
        json!({"result": ["after the crash"]})
    );
    // The queue was in memory; the dispatch was not.
    let task = s.poll_task(&scheduled).await;
    assert_eq!(
        (task["attempt"].clone(), task["input"].clone()),
        (json!(1), json!(["queued"]))
    );
    // The backoff timer and the start-to-close timer still fire.
    assert_eq!(s.poll_task(&backing_off).await["attempt"], 2);
    assert_eq!(
        s.poll_task(&timed).await["attempt"],
        2,
        "attempt 1 timed out and was retried"
    );
}
