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
