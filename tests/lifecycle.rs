//! A worker's life with an activity: poll, heartbeat, complete; by token and by id (§7).
//! §12.8: which calls a token or an id may make, and what a stale or forged token gets.

use serde_json::json;

use crate::support::*;

/// Start → poll → heartbeat → complete → outcome → describe, all through `c`.
pub(crate) async fn activity_runs_to_completion(c: &Client, id: &str) {
    let started = c.start_activity(id, json!({"input": ["hello", 42]})).await;
    let run_id = started["runId"].as_str().expect("runId").to_owned();
    let link = json!({"activity": {"namespace": "default", "activityId": id, "runId": run_id}});
    assert_eq!(
        started,
        json!({"runId": run_id, "started": true, "link": link})
    );

    let task = c.poll_task(id).await;
    let expected = [
        ("activityId", json!(id)),
        ("activityRunId", json!(run_id)),
        ("activityType", json!({"name": "T"})),
        ("workflowNamespace", json!("default")),
        ("workflowExecution", json!({})),
        ("input", json!(["hello", 42])),
        ("attempt", json!(1)),
        ("scheduleToCloseTimeout", json!("0s")),
        ("startToCloseTimeout", json!("10s")),
    ];
    for (field, want) in expected {
        assert_eq!(task[field], want, "task.{field} in {task}");
    }
    assert_eq!(
        task.get("heartbeatDetails"),
        None,
        "a first attempt has no heartbeat details: {task}"
    );

    assert_eq!(c.heartbeat(&task, json!(["halfway"])).await, json!({}));
    c.complete(&task, json!(["done"])).await;

    assert_eq!(
        c.outcome_reply(id).await,
        json!({"runId": run_id, "outcome": {"result": ["done"]}})
    );
    let described = c.describe(id).await;
    let info = &described["info"];
    assert_eq!(described["outcome"], json!({"result": ["done"]}));
    assert_eq!(info["status"], "ACTIVITY_EXECUTION_STATUS_COMPLETED");
    assert_eq!(
        info.get("runState"),
        None,
        "a closed activity has no runState: {info}"
    );
    assert_eq!(info["attempt"], 1);
    assert_eq!(info["totalHeartbeatCount"], "1", "int64 is a string");
    assert_eq!(info["lastWorkerIdentity"], "test-worker");
    assert!(
        info["closeTime"].is_string() && info["executionDuration"].is_string(),
        "{info}"
    );
}

#[tokio::test]
async fn an_activity_runs_to_completion_and_reports_its_outcome() {
    let s = Server::start().await;
    activity_runs_to_completion(&s, &unique("ok")).await;
}

// §12.8: complete by id may force-complete an activity no worker holds.
#[tokio::test]
async fn complete_by_id_finishes_a_started_or_a_never_polled_activity() {
    let s = Server::start().await;

    let started = unique("by-id-started");
    s.start_activity(&started, json!({})).await;
    let task = s.poll_task(&started).await;
    assert_eq!(
        s.by_id(
            &started,
            "complete",
            json!({"result": ["by id"], "identity": "ops"})
        )
        .await,
        ok(json!({}))
    );
    assert_eq!(s.outcome(&started).await, json!({"result": ["by id"]}));
    // The worker's token died with the attempt.
    assert_eq!(
        s.worker_call("activity-complete", &task, json!({})).await,
        activity_not_found(&started)
    );
    // A closed activity cannot be completed again.
    let again = s
        .by_id(&started, "complete", json!({"result": ["twice"]}))
        .await;
    assert_eq!(again, error(400, 9, "invalid transition from Completed"));

    let never_polled = unique("by-id-scheduled");
    s.start_activity(&never_polled, json!({})).await;
    assert_eq!(
        s.by_id(&never_polled, "complete", json!({"result": ["forced"]}))
            .await,
        ok(json!({}))
    );
    assert_eq!(
        s.outcome(&never_polled).await,
        json!({"result": ["forced"]})
    );
    assert_eq!(
        s.info(&never_polled).await["status"],
        "ACTIVITY_EXECUTION_STATUS_COMPLETED"
    );
}

// §12.8: fail/heartbeat by id need a running attempt; by id a failure needs no applicationFailureInfo.
#[tokio::test]
async fn fail_heartbeat_and_cancel_resolution_by_id_need_a_running_attempt() {
    let s = Server::start().await;
    let id = unique("by-id-fail");
    s.start_activity(&id, json!({"retryPolicy": {"maximumAttempts": 1}}))
        .await;
    let bare_failure = json!({"message": "bare"});
    for (op, body) in [
        ("fail", json!({"failure": bare_failure})),
        ("heartbeat", json!({"details": ["x"]})),
        ("resolve-as-canceled", json!({"details": ["x"]})),
    ] {
        assert_eq!(
            s.by_id(&id, op, body).await,
            activity_not_found(&id),
            "{op} by id of a scheduled activity"
        );
    }
    let unknown = unique("nobody");
    assert_eq!(
        s.by_id(&unknown, "heartbeat", json!({})).await,
        activity_not_found(&unknown)
    );

    s.poll_task(&id).await;
    assert_eq!(
        s.by_id(&id, "heartbeat", json!({"details": ["by id"]}))
            .await,
        ok(json!({}))
    );
    assert_eq!(s.info(&id).await["heartbeatDetails"], json!(["by id"]));
    // By id, a failure needs no applicationFailureInfo.
    assert_eq!(
        s.by_id(&id, "fail", json!({"failure": bare_failure})).await,
        ok(json!({}))
    );
    assert_eq!(
        s.outcome(&id).await,
        json!({"failure": bare_failure, "retryState": "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"})
    );
}

// §12.8: a token is bound to its attempt.
#[tokio::test]
async fn a_token_of_an_earlier_attempt_is_stale() {
    let s = Server::start().await;
    let id = unique("stale");
    s.start_activity(&id, json!({"retryPolicy": {"initialInterval": "0.1s"}}))
        .await;
    let first = s.poll_task(&id).await;
    s.fail(&first, app_failure("first failed", "Boom")).await;
    let second = s.poll_task(&id).await;
    assert_eq!(second["attempt"], 2);

    for (path, extra) in [
        ("activity-complete", json!({"result": ["late"]})),
        ("activity-heartbeat", json!({"details": ["late"]})),
        (
            "activity-fail",
            json!({"failure": app_failure("late", "Boom")}),
        ),
    ] {
        assert_eq!(
            s.worker_call(path, &first, extra).await,
            activity_not_found(&id),
            "{path} with attempt 1's token"
        );
    }
    s.complete(&second, json!(["second"])).await;
    assert_eq!(s.outcome(&id).await, json!({"result": ["second"]}));
}

// §12.8: tokens are signed; fail by token demands applicationFailureInfo.
#[tokio::test]
async fn a_forged_or_garbage_token_is_rejected() {
    let s = Server::start().await;
    let id = unique("forged");
    s.start_activity(&id, json!({})).await;
    let task = s.poll_task(&id).await;

    let token = task["taskToken"].as_str().unwrap();
    for bad in ["not base64 at all!", "bm90IGEgdG9rZW4=", &tamper(token)] {
        let reply = s
            .post(
                "activity-complete",
                json!({"taskToken": bad, "result": ["x"]}),
            )
            .await;
        assert_eq!(
            reply,
            error(400, 3, "Error deserializing task token."),
            "token {bad:?}"
        );
    }
    assert_eq!(
        s.post("activity-complete", json!({"result": ["x"]})).await,
        error(400, 3, "Task token not set on request.")
    );
    // By token, a failure must be an application failure.
    let bare = s
        .worker_call(
            "activity-fail",
            &task,
            json!({"failure": {"message": "bare"}}),
        )
        .await;
    assert_eq!(
        bare,
        error(400, 3, "Failure must have ApplicationFailureInfo.")
    );

    s.complete(&task, json!(["still mine"])).await;
    assert_eq!(s.outcome(&id).await, json!({"result": ["still mine"]}));
}

/// The token with one base64 character in its middle changed.
fn tamper(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}
