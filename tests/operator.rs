//! Operator commands on a standalone activity (§8.7): pause, unpause, reset, update-options.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_paused_activity_is_not_delivered_until_it_is_unpaused() {
    let s = Server::start().await;
    let id = unique("pause");
    s.start_activity(&id, json!({})).await;
    let pause = json!({"identity": "ops", "reason": "hold on", "requestId": "p1"});
    assert_eq!(s.by_id(&id, "pause", pause).await, ok(json!({})));
    let info = s.info(&id).await;
    assert_eq!(info["status"], "ACTIVITY_EXECUTION_STATUS_PAUSED");
    assert_eq!(info["runState"], "PENDING_ACTIVITY_STATE_PAUSED");
    let again = s
        .by_id(&id, "pause", json!({"identity": "ops", "requestId": "p2"}))
        .await;
    assert_eq!(
        again,
        error(400, 9, "activity is in non-pausable state Paused")
    );

    s.poll_nothing(&id).await;

    assert_eq!(
        s.by_id(&id, "unpause", json!({"identity": "ops"})).await,
        ok(json!({}))
    );
    assert_eq!(
        s.info(&id).await["runState"],
        "PENDING_ACTIVITY_STATE_SCHEDULED"
    );
    assert_eq!(s.poll_task(&id).await["attempt"], 1);
}

#[tokio::test]
async fn reset_during_backoff_starts_again_at_attempt_one_at_once() {
    let s = Server::start().await;
    let id = unique("reset");
    s.start_activity(&id, json!({"retryPolicy": {"initialInterval": "10s"}}))
        .await;
    let task = s.poll_task(&id).await;
    s.fail(&task, app_failure("failed", "Boom")).await;
    let info = s.info(&id).await;
    assert_eq!(
        (
            info["attempt"].clone(),
            info["currentRetryInterval"].clone()
        ),
        (json!(2), json!("10s"))
    );

    assert_eq!(
        s.by_id(&id, "reset", json!({"identity": "ops"})).await,
        ok(json!({}))
    );
    let info = s.info(&id).await;
    assert_eq!(info["attempt"], 1);
    assert_eq!(info["runState"], "PENDING_ACTIVITY_STATE_SCHEDULED");
    assert_eq!(
        info.get("currentRetryInterval"),
        None,
        "no backoff after a reset: {info}"
    );
    // Within the poll's 5 s, long before the 10 s backoff.
    assert_eq!(s.poll_task(&id).await["attempt"], 1);
}

// §12.10: a FieldMask is one comma-separated camelCase string.
#[tokio::test]
async fn update_options_changes_the_masked_fields_and_returns_all_options() {
    let s = Server::start().await;
    let id = unique("update");
    s.start_activity(
        &id,
        json!({"startToCloseTimeout": "10s", "heartbeatTimeout": "5s"}),
    )
    .await;

    let update = json!({"activityOptions": {"startToCloseTimeout": "20s"}, "updateMask": "startToCloseTimeout", "identity": "ops"});
    let (status, body) = s.by_id(&id, "update-options", update).await;
    assert_eq!(status, 200, "{body}");
    let options = &body["activityOptions"];
    // Issue 12, finding 2: with its kind, as Temporal answers.
    assert_eq!(
        options["taskQueue"],
        json!({"name": id, "kind": "TASK_QUEUE_KIND_NORMAL"}),
        "{body}"
    );
    let timeouts = [
        "scheduleToCloseTimeout",
        "scheduleToStartTimeout",
        "startToCloseTimeout",
        "heartbeatTimeout",
    ];
    let values = |o: &serde_json::Value| timeouts.map(|t| o[t].clone());
    assert_eq!(
        values(options),
        [json!("0s"), json!("0s"), json!("20s"), json!("5s")],
        "{body}"
    );
    assert_eq!(
        options["retryPolicy"],
        json!({"initialInterval": "1s", "backoffCoefficient": 2, "maximumInterval": "100s"})
    );

    // The timeouts are normalized again: s2s and st2c follow a new s2c.
    let update = json!({"activityOptions": {"scheduleToCloseTimeout": "8s"}, "updateMask": "scheduleToCloseTimeout"});
    let (status, body) = s.by_id(&id, "update-options", update).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        values(&body["activityOptions"]),
        [json!("8s"), json!("8s"), json!("8s"), json!("5s")],
        "{body}"
    );
    assert_eq!(
        values(&s.info(&id).await),
        [json!("8s"), json!("8s"), json!("8s"), json!("5s")]
    );

    let no_mask = s
        .by_id(
            &id,
            "update-options",
            json!({"activityOptions": {"startToCloseTimeout": "1s"}}),
        )
        .await;
    assert_eq!(no_mask, error(400, 3, "UpdateMask is not provided"));
    let object_mask =
        json!({"activityOptions": {}, "updateMask": {"paths": ["startToCloseTimeout"]}});
    let (status, body) = s.by_id(&id, "update-options", object_mask).await;
    assert_eq!(
        (status.as_u16(), body["code"].clone()),
        (400, json!(3)),
        "a FieldMask is a string: {body}"
    );
}

/// Closes activity `id` in `state`, one of Temporal's closed states.
async fn close_as(s: &Server, id: &str, state: &str) {
    let extra = match state {
        "FAILED" => json!({"retryPolicy": {"maximumAttempts": 1}}),
        "TIMED_OUT" => json!({"scheduleToStartTimeout": "0.2s"}),
        _ => json!({}),
    };
    s.start_activity(id, extra).await;
    let request = json!({"identity": "ops", "requestId": "first", "reason": "done"});
    match state {
        "COMPLETED" => s.complete(&s.poll_task(id).await, json!(["r"])).await,
        "FAILED" => s.fail(&s.poll_task(id).await, app_failure("f", "X")).await,
        "CANCELED" => assert_eq!(s.by_id(id, "cancel", request).await, ok(json!({}))),
        "TERMINATED" => assert_eq!(s.by_id(id, "terminate", request).await, ok(json!({}))),
        _ => {}
    }
    s.outcome(id).await;
    assert_eq!(
        s.info(id).await["status"],
        format!("ACTIVITY_EXECUTION_STATUS_{state}")
    );
}

// Issue 12 finding 2: every command on every closed state answers what Temporal 1.32 answers.
#[tokio::test]
async fn every_command_on_a_closed_activity_is_refused_as_temporal_refuses_it() {
    let s = Server::start().await;
    let states = [
        ("COMPLETED", "Completed"),
        ("FAILED", "Failed"),
        ("CANCELED", "Canceled"),
        ("TERMINATED", "Terminated"),
        ("TIMED_OUT", "TimedOut"),
    ];
    for (status, name) in states {
        let id = unique("closed");
        close_as(&s, &id, status).await;
        let request = json!({"identity": "ops", "requestId": "another"});
        let terminate = if status == "TERMINATED" {
            error(400, 9, "already terminated with request ID first")
        } else {
            error(400, 9, &format!("invalid transition from {name}"))
        };
        let update = json!({"identity": "ops", "activityOptions": {"startToCloseTimeout": "5s"}, "updateMask": "startToCloseTimeout"});
        let matrix = [
            (
                "pause",
                request.clone(),
                error(400, 9, &format!("activity is in non-pausable state {name}")),
            ),
            (
                "unpause",
                request.clone(),
                error(400, 9, &format!("activity is in terminal state {name}")),
            ),
            (
                "reset",
                request.clone(),
                error(400, 9, "activity execution is not running"),
            ),
            (
                "update-options",
                update,
                error(
                    400,
                    9,
                    &format!("Cannot update options for activity in state {name}"),
                ),
            ),
            (
                "cancel",
                request.clone(),
                error(400, 9, &format!("activity is in terminal state {name}")),
            ),
            ("terminate", request.clone(), terminate),
            (
                "complete",
                json!({"result": ["r"]}),
                error(400, 9, &format!("invalid transition from {name}")),
            ),
            (
                "fail",
                json!({"failure": {"message": "m"}}),
                activity_not_found(&id),
            ),
            ("resolve-as-canceled", json!({}), activity_not_found(&id)),
            ("heartbeat", json!({}), activity_not_found(&id)),
        ];
        for (op, body, expected) in matrix {
            assert_eq!(s.by_id(&id, op, body).await, expected, "{op} on {status}");
        }
    }
}

// A repeat of an operator command's last request id is answered as a success even after close.
#[tokio::test]
async fn a_repeated_operator_request_is_a_no_op_after_the_activity_closed() {
    let s = Server::start().await;
    let id = unique("closed-repeat");
    s.start_activity(&id, json!({})).await;
    let same = json!({"identity": "ops", "requestId": "same"});
    for op in ["pause", "unpause"] {
        assert_eq!(s.by_id(&id, op, same.clone()).await, ok(json!({})), "{op}");
    }
    let task = s.poll_task(&id).await;
    assert_eq!(s.by_id(&id, "cancel", same.clone()).await, ok(json!({})));
    s.complete(&task, json!(["r"])).await;

    for op in ["pause", "unpause", "cancel"] {
        assert_eq!(s.by_id(&id, op, same.clone()).await, ok(json!({})), "{op}");
    }
    assert_eq!(
        s.by_id(&id, "pause", json!({"identity": "ops", "requestId": "new"}))
            .await,
        error(400, 9, "activity is in non-pausable state Completed")
    );
    // A malformed mask is refused as such, whatever the state.
    let bogus = json!({"activityOptions": {}, "updateMask": "bogus"});
    assert_eq!(
        s.by_id(&id, "update-options", bogus).await,
        error(400, 3, "unsupported update_mask path: \"bogus\"")
    );
}

// Issue 12 finding 2: while the first attempt waits for its start delay, describe shows when it
// will be dispatched; a backoff shows it (and its interval) only until the retry is due.
#[tokio::test]
async fn describe_shows_the_next_dispatch_time_while_an_attempt_waits_for_it() {
    let s = Server::start().await;
    let id = unique("start-delay");
    s.start_activity(&id, json!({"startDelay": "30s"})).await;
    let info = s.info(&id).await;
    assert_eq!(
        info["runState"], "PENDING_ACTIVITY_STATE_SCHEDULED",
        "{info}"
    );
    assert_eq!(info["startDelay"], "30s", "{info}");
    assert!(info["nextAttemptScheduleTime"].is_string(), "{info}");
    assert_eq!(
        info["nextAttemptScheduleTime"], info["executionTime"],
        "{info}"
    );
    assert_eq!(info.get("currentRetryInterval"), None, "{info}");

    let pause = json!({"identity": "ops", "requestId": "p"});
    assert_eq!(s.by_id(&id, "pause", pause).await, ok(json!({})));
    assert_eq!(s.info(&id).await.get("nextAttemptScheduleTime"), None);
    let unpause = json!({"identity": "ops", "requestId": "u"});
    assert_eq!(s.by_id(&id, "unpause", unpause).await, ok(json!({})));
    assert_eq!(
        s.info(&id).await["nextAttemptScheduleTime"],
        info["executionTime"]
    );

    let id = unique("backoff-due");
    s.start_activity(&id, json!({"retryPolicy": {"initialInterval": "1s"}}))
        .await;
    let task = s.poll_task(&id).await;
    s.fail(&task, app_failure("f1", "X")).await;
    let info = s.info(&id).await;
    assert_eq!(info["currentRetryInterval"], "1s", "{info}");
    assert!(info["nextAttemptScheduleTime"].is_string(), "{info}");
    // Once the retry is due (no worker takes it) both are gone, as in Temporal.
    eventually(std::time::Duration::from_secs(5), || async {
        let info = s.info(&id).await;
        (info.get("nextAttemptScheduleTime").is_none()
            && info.get("currentRetryInterval").is_none())
        .then_some(())
    })
    .await;
}
