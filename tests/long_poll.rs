//! Long polls (§8.6, §14.2): they wake within milliseconds of the change they wait for, and on
//! timeout answer `200 {}` one second before the caller's deadline (§12.10).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

/// How soon a long poll answers after its event: milliseconds on an idle machine; the bound
/// leaves room for two cores loaded by the rest of the suite.
const PROMPTLY: Duration = Duration::from_millis(500);

// §12.10
#[tokio::test]
async fn the_outcome_long_poll_answers_right_after_the_completion() {
    let s = Server::start().await;
    let id = unique("outcome-wait");
    let run_id = s.start_activity(&id, json!({})).await["runId"].clone();
    let task = s.poll_task(&id).await;

    let waiter = {
        let c = s.client();
        let path = format!("activities/{id}/outcome");
        tokio::spawn(async move { finished_at(c.get_waiting(&path, "10S")).await })
    };
    s.heartbeat(&task, json!(["almost"])).await;
    let complete_sent = Instant::now();
    s.complete(&task, json!(["done"])).await;
    let completed = Instant::now();

    let (reply, answered) = waiter.await.unwrap();
    assert_eq!(
        reply,
        ok(json!({"runId": run_id, "outcome": {"result": ["done"]}}))
    );
    assert!(
        answered > complete_sent,
        "the outcome came before the completion was sent"
    );
    let late = answered.saturating_duration_since(completed);
    assert!(
        late < PROMPTLY,
        "outcome answered {late:?} after the completion"
    );
}

// §12.10
#[tokio::test]
async fn describe_with_a_long_poll_token_wakes_on_the_next_heartbeat() {
    let s = Server::start().await;
    let id = unique("describe-wait");
    s.start_activity(&id, json!({})).await;
    let task = s.poll_task(&id).await;
    let before = s.describe(&id).await;
    let (run_id, token) = (
        before["runId"].as_str().unwrap().to_owned(),
        before["longPollToken"].as_str().unwrap().to_owned(),
    );

    let waiter = {
        let (c, path) = (s.client(), format!("activities/{id}"));
        tokio::spawn(async move {
            let params = [
                ("runId", run_id.as_str()),
                ("longPollToken", token.as_str()),
                ("includeHeartbeatDetails", "true"),
            ];
            finished_at(c.get_with(&path, &params, Some("10S"))).await
        })
    };
    s.get(&format!("activities/{id}")).await; // a round trip, so the long poll is under way
    s.heartbeat(&task, json!(["hb"])).await;
    let heartbeat_answered = Instant::now();

    let ((status, after), answered) = waiter.await.unwrap();
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["info"]["heartbeatDetails"], json!(["hb"]));
    assert_eq!(after["info"]["totalHeartbeatCount"], "1");
    assert_ne!(after["longPollToken"], before["longPollToken"]);
    let late = answered.saturating_duration_since(heartbeat_answered);
    assert!(
        late < PROMPTLY,
        "describe woke {late:?} after the heartbeat"
    );
}

// §12.10: `200 {}` at deadline − 1 s, not an error.
#[tokio::test]
async fn long_polls_answer_empty_one_second_before_the_deadline() {
    let s = Server::start().await;
    let id = unique("idle");
    s.start_activity(&id, json!({})).await;
    let described = s.describe(&id).await;
    let (run_id, token) = (
        described["runId"].as_str().unwrap(),
        described["longPollToken"].as_str().unwrap(),
    );
    let empty_queue = unique("empty-queue");

    let (outcome_path, describe_path) = (
        format!("activities/{id}/outcome"),
        format!("activities/{id}"),
    );
    let describe_params = [("runId", run_id), ("longPollToken", token)];

    let started = Instant::now();
    let (outcome, describe, poll) = tokio::join!(
        finished_at(s.get_waiting(&outcome_path, "2S")),
        finished_at(s.get_with(&describe_path, &describe_params, Some("2S"))),
        finished_at(s.poll(&empty_queue, "3S")),
    );
    for (what, (reply, at), deadline) in [
        ("outcome", outcome, 2),
        ("describe", describe, 2),
        ("task poll", poll, 3),
    ] {
        assert_eq!(reply, ok(json!({})), "{what}");
        let waited = at - started;
        let expected = Duration::from_secs(deadline - 1);
        assert!(
            waited >= expected - PROMPTLY && waited < expected + Duration::from_millis(900),
            "{what} with a {deadline} s deadline answered after {waited:?}"
        );
    }
}

/// List pages follow a namespace with `GET /changes`: a token at once, then a long poll that
/// wakes on the next start, change or close of any of its executions.
#[tokio::test]
async fn the_namespace_changes_long_poll_wakes_on_any_execution_of_the_namespace() {
    let s = Server::start().await;
    let (status, first) = s.get("changes").await;
    assert_eq!(status, reqwest::StatusCode::OK, "{first}");
    let token = first["token"].as_str().expect("a token").to_owned();

    let waiter = {
        let c = s.client();
        let path = format!("changes?after={token}");
        tokio::spawn(async move { finished_at(c.get_waiting(&path, "10S")).await })
    };
    // Whether the poll waits when the start commits or comes after it, it answers the new token.
    let started = Instant::now();
    s.start_workflow(&unique("wf"), &unique("q"), json!({}))
        .await;
    let ((status, next), answered) = waiter.await.unwrap();
    assert_eq!(status, reqwest::StatusCode::OK, "{next}");
    let next = next["token"].as_str().expect("a token").to_owned();
    assert_ne!(next, token);
    let late = answered.saturating_duration_since(started);
    assert!(
        late < PROMPTLY + Duration::from_millis(300),
        "answered {late:?} after the start"
    );

    // Nothing changes: the same token, one second before the deadline. (In the distributed
    // deployment the store's change feed may report the start's commit once more: follow it.)
    let mut current = next;
    let settled = loop {
        let asked = Instant::now();
        let (status, body) = s
            .get_waiting(&format!("changes?after={current}"), "2S")
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
        let answered = body["token"].as_str().expect("a token").to_owned();
        if answered == current {
            assert!(asked.elapsed() < Duration::from_secs(2));
            break current;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the token never settles"
        );
        current = answered;
    };
    // A token of an older state answers at once.
    let (reply, _) = finished_at(s.get_waiting(&format!("changes?after={token}"), "10S")).await;
    assert_eq!(reply, ok(json!({"token": settled})));
}
