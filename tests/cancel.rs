//! Cancellation and termination (§6, §8.5). §12.6: cancel is cooperative for a started attempt,
//! immediate for one that waits for a worker, and the failure names the requester.

use serde_json::{Value, json};

use crate::support::*;

fn canceled(details: Value, identity: &str) -> Value {
    json!({"failure": {"message": "Activity canceled", "canceledFailureInfo": {"details": details, "identity": identity}}})
}

fn cancel_request(request_id: &str, identity: &str, reason: &str) -> Value {
    json!({"requestId": request_id, "identity": identity, "reason": reason})
}

// §12.6: only a flag in the heartbeat answer; canceledFailureInfo.identity is the requester's.
#[tokio::test]
async fn cancel_of_a_started_activity_reaches_the_worker_through_its_heartbeat() {
    let s = Server::start().await;
    let id = unique("cancel-started");
    s.start_activity(&id, json!({})).await;
    let task = s.poll_task(&id).await;

    let cancel = cancel_request("c1", "alice", "stop it");
    assert_eq!(s.by_id(&id, "cancel", cancel.clone()).await, ok(json!({})));
    let info = s.info(&id).await;
    assert_eq!(info["status"], "ACTIVITY_EXECUTION_STATUS_RUNNING");
    assert_eq!(info["runState"], "PENDING_ACTIVITY_STATE_CANCEL_REQUESTED");
    assert_eq!(info["canceledReason"], "stop it");
    // Repeating the request is a no-op; another request conflicts.
    assert_eq!(s.by_id(&id, "cancel", cancel.clone()).await, ok(json!({})));
    let other = s
        .by_id(&id, "cancel", cancel_request("c2", "bob", "me too"))
        .await;
    assert_eq!(
        other,
        error(400, 9, "cancellation already requested with request ID c1")
    );

    assert_eq!(
        s.heartbeat(&task, json!(["working"])).await,
        json!({"cancelRequested": true})
    );
    let resolved = s
        .worker_call(
            "activity-resolve-as-canceled",
            &task,
            json!({"details": ["bye"], "identity": "w"}),
        )
        .await;
    assert_eq!(resolved, ok(json!({})));
    // The details are the worker's, the identity the requester's.
    assert_eq!(s.outcome(&id).await, canceled(json!(["bye"]), "alice"));
    assert_eq!(
        s.info(&id).await["status"],
        "ACTIVITY_EXECUTION_STATUS_CANCELED"
    );

    assert_eq!(
        s.by_id(&id, "cancel", cancel).await,
        ok(json!({})),
        "same request after the close"
    );
    let late = s
        .by_id(&id, "cancel", cancel_request("c3", "carol", "late"))
        .await;
    assert_eq!(
        late,
        error(400, 9, "activity is in terminal state Canceled")
    );
}

// §12.6: not started (also in backoff) ⇒ canceled at once.
#[tokio::test]
async fn cancel_of_an_activity_waiting_for_a_worker_is_immediate() {
    let s = Server::start().await;

    let scheduled = unique("cancel-scheduled");
    s.start_activity(&scheduled, json!({})).await;

    let backing_off = unique("cancel-backoff");
    s.start_activity(
        &backing_off,
        json!({"retryPolicy": {"initialInterval": "10s"}}),
    )
    .await;
    let task = s.poll_task(&backing_off).await;
    s.fail(&task, app_failure("failed", "Boom")).await;

    for id in [&scheduled, &backing_off] {
        assert_eq!(
            s.by_id(id, "cancel", cancel_request("c1", "bob", "not needed"))
                .await,
            ok(json!({}))
        );
        assert_eq!(
            s.info(id).await["status"],
            "ACTIVITY_EXECUTION_STATUS_CANCELED",
            "{id} right after the cancel"
        );
        assert_eq!(s.outcome(id).await, canceled(json!(["not needed"]), "bob"));
    }
}

// §12.6: no retry after a cancel request, completion still accepted, canceled needs a request.
#[tokio::test]
async fn after_a_cancel_request_a_failure_is_final_and_a_completion_is_accepted() {
    let s = Server::start().await;

    let failing = unique("cancel-then-fail");
    s.start_activity(
        &failing,
        json!({"retryPolicy": {"initialInterval": "0.1s"}}),
    )
    .await;
    let task = s.poll_task(&failing).await;
    assert_eq!(
        s.by_id(&failing, "cancel", cancel_request("c1", "alice", "stop"))
            .await,
        ok(json!({}))
    );
    let failure = app_failure("could not stop cleanly", "Boom");
    s.fail(&task, failure.clone()).await;
    assert_eq!(
        s.outcome(&failing).await,
        json!({"failure": failure, "retryState": "RETRY_STATE_CANCEL_REQUESTED"})
    );

    let completing = unique("cancel-then-complete");
    s.start_activity(&completing, json!({})).await;
    let task = s.poll_task(&completing).await;
    // Reporting canceled needs a cancel request.
    let unrequested = s
        .worker_call("activity-resolve-as-canceled", &task, json!({}))
        .await;
    let message =
        "unable to mark activity as canceled without activity being request canceled first";
    assert_eq!(unrequested, error(400, 3, message));
    assert_eq!(
        s.by_id(&completing, "cancel", cancel_request("c1", "alice", "stop"))
            .await,
        ok(json!({}))
    );
    s.complete(&task, json!(["finished anyway"])).await;
    assert_eq!(
        s.outcome(&completing).await,
        json!({"result": ["finished anyway"]})
    );
}

#[tokio::test]
async fn terminate_closes_the_activity_and_the_worker_is_then_not_found() {
    let s = Server::start().await;
    let id = unique("terminate");
    s.start_activity(&id, json!({})).await;
    let task = s.poll_task(&id).await;

    let terminate = json!({"reason": "enough", "identity": "ops", "requestId": "t1"});
    assert_eq!(
        s.by_id(&id, "terminate", terminate.clone()).await,
        ok(json!({}))
    );
    assert_eq!(
        s.outcome(&id).await,
        json!({"failure": {"message": "enough", "terminatedFailureInfo": {"identity": "ops"}}})
    );
    assert_eq!(
        s.info(&id).await["status"],
        "ACTIVITY_EXECUTION_STATUS_TERMINATED"
    );

    assert_eq!(
        s.worker_call("activity-complete", &task, json!({"result": ["late"]}))
            .await,
        activity_not_found(&id)
    );
    assert_eq!(
        s.worker_call("activity-heartbeat", &task, json!({})).await,
        activity_not_found(&id)
    );
    assert_eq!(
        s.by_id(&id, "terminate", terminate).await,
        ok(json!({})),
        "same request again"
    );
    let other = s
        .by_id(
            &id,
            "terminate",
            json!({"reason": "again", "requestId": "t2"}),
        )
        .await;
    assert_eq!(
        other,
        error(400, 9, "already terminated with request ID t1")
    );
}
