//! Retry policy at work (§3): backoff, non-retryable failures, maximum attempts, and the
//! schedule-to-close budget (§12.3, §14.1).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

// §12.4 backoff math and defaults; §12.9 describe shows the next attempt during backoff.
#[tokio::test]
async fn a_retryable_failure_is_retried_after_the_policy_backoff() {
    let s = Server::start().await;
    let id = unique("retry");
    s.start_activity(
        &id,
        json!({"retryPolicy": {"initialInterval": "1s", "backoffCoefficient": 2}}),
    )
    .await;
    let first = s.poll_task(&id).await;
    // maximumInterval defaults to 100 × initialInterval.
    let policy =
        json!({"initialInterval": "1s", "backoffCoefficient": 2, "maximumInterval": "100s"});
    assert_eq!(first["retryPolicy"], policy);

    let failure = app_failure("first failed", "Boom");
    let fail_sent = Instant::now();
    s.fail(&first, failure.clone()).await;
    let fail_answered = Instant::now();

    // Describe already shows the next attempt during the backoff.
    let waiting = json!({"status": "ACTIVITY_EXECUTION_STATUS_RUNNING", "runState": "PENDING_ACTIVITY_STATE_SCHEDULED", "attempt": 2});
    assert_eq!(s.state(&id).await, waiting);
    let info = s.info(&id).await;
    assert_eq!(info["lastFailure"], failure);
    assert_eq!(info["currentRetryInterval"], "1s");
    assert_eq!(info["retryPolicy"], policy);
    assert!(info["nextAttemptScheduleTime"].is_string(), "{info}");

    let second = s.poll_task(&id).await;
    let delivered = Instant::now();
    assert_eq!(second["attempt"], 2);
    let backoff = Duration::from_secs(1);
    assert!(
        delivered - fail_sent >= backoff,
        "retried after {:?}, before the backoff",
        delivered - fail_sent
    );
    assert!(
        delivered - fail_answered < backoff + Duration::from_millis(1_000),
        "retried {:?} after the failure",
        delivered - fail_answered
    );

    // The next interval is initialInterval × coefficient.
    s.fail(&second, app_failure("second failed", "Boom")).await;
    let info = s.info(&id).await;
    assert_eq!(
        (
            info["attempt"].clone(),
            info["currentRetryInterval"].clone()
        ),
        (json!(3), json!("2s"))
    );
    assert_eq!(info["lastFailure"]["message"], "second failed");
}

// Issue 12 finding 2: describe's lastFailure is the failure that closed the activity, as Temporal
// shows it, whether the attempt ended it by a non-retryable failure, the last attempt or a timeout.
#[tokio::test]
async fn describe_shows_the_final_attempts_failure_as_last_failure() {
    let s = Server::start().await;
    let id = unique("last-failure-non-retryable");
    s.start_activity(&id, json!({})).await;
    let task = s.poll_task(&id).await;
    let fatal =
        json!({"message": "fatal", "applicationFailureInfo": {"type": "X", "nonRetryable": true}});
    s.fail(&task, fatal.clone()).await;
    s.outcome(&id).await;
    assert_eq!(s.info(&id).await["lastFailure"], fatal);

    let id = unique("last-failure-attempts");
    let policy = json!({"retryPolicy": {"initialInterval": "0.1s", "maximumAttempts": 3}});
    s.start_activity(&id, policy).await;
    for n in 1..=3 {
        let task = s.poll_task(&id).await;
        s.fail(&task, app_failure(&format!("f{n}"), "X")).await;
    }
    s.outcome(&id).await;
    assert_eq!(s.info(&id).await["lastFailure"], app_failure("f3", "X"));

    // A closing timeout: the outcome's failure, with the previous failure as its cause.
    let id = unique("last-failure-timeout");
    let options = json!({"startToCloseTimeout": "0.5s", "retryPolicy": {"initialInterval": "0.1s", "maximumAttempts": 2}});
    s.start_activity(&id, options).await;
    let task = s.poll_task(&id).await;
    s.fail(&task, app_failure("f1", "X")).await;
    s.poll_task(&id).await;
    let outcome = s.outcome(&id).await;
    let mut expected = timeout_failure(
        "activity StartToClose timeout",
        "TIMEOUT_TYPE_START_TO_CLOSE",
    );
    expected["cause"] = app_failure("f1", "X");
    assert_eq!(outcome["failure"], expected);
    assert_eq!(s.info(&id).await["lastFailure"], expected);
}

// §12.5: nonRetryable, nonRetryableErrorTypes and a canceled failure are never retried.
#[tokio::test]
async fn non_retryable_failures_close_the_activity_at_once() {
    let s = Server::start().await;
    let cases = [
        (
            json!({"message": "fatal", "applicationFailureInfo": {"type": "Fatal", "nonRetryable": true}}),
            json!({}),
        ),
        (
            app_failure("listed", "Listed"),
            json!({"nonRetryableErrorTypes": ["Other", "Listed"]}),
        ),
    ];
    for (failure, policy) in cases {
        let id = unique("non-retryable");
        s.start_activity(&id, json!({"retryPolicy": policy})).await;
        let task = s.poll_task(&id).await;
        s.fail(&task, failure.clone()).await;
        let outcome = s.outcome(&id).await;
        assert_eq!(
            outcome,
            json!({"failure": failure, "retryState": "RETRY_STATE_NON_RETRYABLE_FAILURE"})
        );
        assert_eq!(
            s.state(&id).await,
            json!({"status": "ACTIVITY_EXECUTION_STATUS_FAILED", "attempt": 1})
        );
    }

    // By id a failure may be anything; a canceled failure is not retryable.
    let id = unique("non-retryable-canceled");
    s.start_activity(&id, json!({})).await;
    s.poll_task(&id).await;
    let canceled = json!({"message": "gave up", "canceledFailureInfo": {"details": ["why"]}});
    assert_eq!(
        s.by_id(&id, "fail", json!({"failure": canceled})).await,
        ok(json!({}))
    );
    assert_eq!(
        s.outcome(&id).await,
        json!({"failure": canceled, "retryState": "RETRY_STATE_NON_RETRYABLE_FAILURE"})
    );
}

// §12.4: maximumAttempts counts the first attempt.
#[tokio::test]
async fn maximum_attempts_counts_the_first_attempt() {
    let s = Server::start().await;
    let id = unique("max-attempts");
    s.start_activity(
        &id,
        json!({"retryPolicy": {"initialInterval": "0.1s", "maximumAttempts": 2}}),
    )
    .await;
    let first = s.poll_task(&id).await;
    s.fail(&first, app_failure("one", "Boom")).await;
    let second = s.poll_task(&id).await;
    assert_eq!(second["attempt"], 2);
    let last = app_failure("two", "Boom");
    s.fail(&second, last.clone()).await;

    assert_eq!(
        s.outcome(&id).await,
        json!({"failure": last, "retryState": "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"})
    );
    assert_eq!(
        s.state(&id).await,
        json!({"status": "ACTIVITY_EXECUTION_STATUS_FAILED", "attempt": 2})
    );
}

// §12.3 as corrected by §14.1: the worker's failure, unchanged, with RETRY_STATE_TIMEOUT.
#[tokio::test]
async fn a_retry_that_would_pass_schedule_to_close_fails_with_the_workers_failure() {
    let s = Server::start().await;
    let id = unique("budget-failure");
    let options = json!({"scheduleToCloseTimeout": "5s", "startToCloseTimeout": null, "retryPolicy": {"initialInterval": "10s"}});
    s.start_activity(&id, options).await;
    let task = s.poll_task(&id).await;
    let failure = app_failure("f1", "X");
    s.fail(&task, failure.clone()).await;

    assert_eq!(
        s.outcome(&id).await,
        json!({"failure": failure, "retryState": "RETRY_STATE_TIMEOUT"})
    );
    assert_eq!(
        s.state(&id).await,
        json!({"status": "ACTIVITY_EXECUTION_STATUS_FAILED", "attempt": 1})
    );
}

// §12.3: after a start-to-close timeout with no time left for the backoff.
#[tokio::test]
async fn a_timed_out_attempt_without_time_for_a_retry_is_a_schedule_to_close_timeout() {
    let s = Server::start().await;
    let id = unique("budget-timeout");
    let options = json!({"scheduleToCloseTimeout": "1s", "startToCloseTimeout": "0.3s", "retryPolicy": {"initialInterval": "1s"}});
    s.start_activity(&id, options).await;
    s.poll_task(&id).await;

    let outcome = s.outcome(&id).await;
    let message = "Not enough time to schedule next retry before activity ScheduleToClose timeout, giving up retrying";
    assert_eq!(outcome["failure"]["message"], message, "{outcome}");
    assert_eq!(
        outcome["failure"]["timeoutFailureInfo"]["timeoutType"], "TIMEOUT_TYPE_SCHEDULE_TO_CLOSE",
        "{outcome}"
    );
    assert_eq!(outcome["retryState"], "RETRY_STATE_TIMEOUT");
    assert_eq!(
        s.state(&id).await,
        json!({"status": "ACTIVITY_EXECUTION_STATUS_TIMED_OUT", "attempt": 1})
    );
}

// §14.2: the schedule-to-close timer firing during attempt 2 carries attempt 1's failure as cause.
#[tokio::test]
async fn schedule_to_close_ends_an_activity_that_is_retrying() {
    let s = Server::start().await;
    let id = unique("s2c");
    let options =
        json!({"scheduleToCloseTimeout": "0.8s", "retryPolicy": {"initialInterval": "0.2s"}});
    s.start_activity(&id, options).await;
    let first = s.poll_task(&id).await;
    let failure = app_failure("first failed", "Boom");
    s.fail(&first, failure.clone()).await;
    // Attempt 2 is taken and never answered; schedule-to-close ends it.
    assert_eq!(s.poll_task(&id).await["attempt"], 2);

    let mut expected = timeout_failure(
        "activity ScheduleToClose timeout",
        "TIMEOUT_TYPE_SCHEDULE_TO_CLOSE",
    );
    expected["cause"] = failure;
    assert_eq!(
        s.outcome(&id).await,
        json!({"failure": expected, "retryState": "RETRY_STATE_TIMEOUT"})
    );
    assert_eq!(
        s.state(&id).await,
        json!({"status": "ACTIVITY_EXECUTION_STATUS_TIMED_OUT", "attempt": 2})
    );
}
