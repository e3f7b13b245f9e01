//! The limits an operator sets (`--max-request-bytes`, `--max-payload-bytes`, `--long-poll-max`,
//! the history limits, namespace retention), each lowered through its `WAYMARK_*` variable.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::support::workflow::*;
use crate::support::*;

#[tokio::test]
async fn lowered_request_and_payload_limits_are_refused_with_the_limit_and_the_size() {
    let s = Server::start_with_env(&[
        ("WAYMARK_MAX_REQUEST_BYTES", "1000"),
        ("WAYMARK_MAX_PAYLOAD_BYTES", "100"),
    ])
    .await;
    let id = unique("limits");
    let big = "x".repeat(1000);
    let (status, body) = s.try_start(&id, json!({"input": [big]})).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["code"], 8, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("request body of ")
            && message.ends_with(" bytes exceeds the limit of 1000 bytes"),
        "{body}"
    );

    assert_eq!(
        s.try_start(&id, json!({"input": ["x".repeat(200)]})).await,
        error(400, 3, "input exceeds length limit. Length=202 Limit=100")
    );
    // Under both limits, the same activity starts.
    s.start_activity(&id, json!({"input": ["x".repeat(50)]}))
        .await;
}

#[tokio::test]
async fn a_lowered_long_poll_cap_answers_a_longer_poll_early() {
    let s = Server::start_with_env(&[("WAYMARK_LONG_POLL_MAX", "1s")]).await;
    let began = Instant::now();
    assert_eq!(s.poll(&unique("empty"), "30S").await, ok(json!({})));
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "a 30 s poll capped at 1 s took {:?}",
        began.elapsed()
    );
}

#[tokio::test]
async fn a_history_at_the_threshold_suggests_continue_as_new_and_past_the_limit_is_terminated() {
    let s = Server::start_with_env(&[
        ("WAYMARK_HISTORY_COUNT_SUGGEST", "5"),
        ("WAYMARK_HISTORY_COUNT_ERROR", "12"),
    ])
    .await;
    let (id, queue) = (unique("long-history"), unique("q"));
    s.start_workflow(&id, &queue, json!({})).await;
    let first = s.run_first_task(&queue, json!([])).await;
    assert_ne!(
        started_attributes(&first)["suggestContinueAsNew"],
        true,
        "{first}"
    );
    // Events 5 and 6: a signal and the task it schedules.
    signal(&s, &id).await;
    let second = s.poll_workflow_task(&queue).await;
    let started = started_attributes(&second);
    assert_eq!(started["suggestContinueAsNew"], true, "{second}");
    assert!(
        started["historySizeBytes"]
            .as_str()
            .is_some_and(|n| n != "0"),
        "{started}"
    );
    s.complete_workflow_task(&second, json!([])).await;
    // Events 9 to 12 reach the limit, event 13 passes it: a write is checked against the
    // history before it, as in Temporal.
    for _ in 0..4 {
        signal(&s, &id).await;
    }
    assert_eq!(s.history(&id).await.len(), 13);
    // The next write terminates the run instead, and the signal is refused.
    let reason = "Workflow history count exceeds limit.";
    assert_eq!(
        s.on_workflow(&id, "signal/go", json!({"input": ["x"]}))
            .await,
        error(400, 3, reason)
    );
    let history = s.history(&id).await;
    assert_eq!(history.len(), 14);
    let last = history.last().unwrap();
    assert_eq!(
        last["workflowExecutionTerminatedEventAttributes"],
        json!({"reason": reason, "identity": "history-service"}),
        "{last}"
    );
    let described = s.describe_workflow(&id).await;
    assert_eq!(
        described["workflowExecutionInfo"]["status"],
        "WORKFLOW_EXECUTION_STATUS_TERMINATED"
    );

    // A workflow task poll that would write past the limit terminates the run; the poller
    // gets no task, not an error.
    let other = unique("long-history");
    s.start_workflow(&other, &queue, json!({})).await;
    s.run_first_task(&queue, json!([])).await;
    for _ in 0..8 {
        signal(&s, &other).await;
    }
    assert_eq!(s.history(&other).await.len(), 13);
    assert_eq!(s.poll_workflow(&queue, "2S").await, ok(json!({})));
    let last = s.history(&other).await.pop().unwrap();
    assert_eq!(
        last["workflowExecutionTerminatedEventAttributes"]["reason"],
        reason
    );
}

async fn signal(s: &Server, id: &str) {
    let (status, body) = s
        .on_workflow(id, "signal/go", json!({"input": ["x"]}))
        .await;
    assert_eq!(status, StatusCode::OK, "signal {id}: {body}");
}

/// The attributes of the WorkflowTaskStarted event a workflow task's poll answer ends with.
fn started_attributes(task: &serde_json::Value) -> serde_json::Value {
    let events = events(task);
    events.last().expect("events")["workflowTaskStartedEventAttributes"].clone()
}

#[tokio::test]
async fn closed_runs_are_deleted_after_the_namespace_retention_and_open_ones_stay() {
    let s = Server::start_with_env(&[
        ("WAYMARK_MIN_RETENTION", "0s"),
        ("WAYMARK_RETENTION_SWEEP_EVERY", "0.2s"),
    ])
    .await;
    let ns = unique("short-lived");
    let register = json!({"namespace": ns, "workflowExecutionRetentionPeriod": "1s"});
    assert_eq!(
        s.at("/api/v1").post("namespaces", register).await,
        ok(json!({}))
    );
    let c = s.at(&format!("/api/v1/namespaces/{ns}"));

    let (done, open) = (unique("done"), unique("open"));
    c.start_activity(&done, json!({})).await;
    let task = c.poll_task(&done).await;
    c.complete(&task, json!(["ok"])).await;
    c.start_activity(&open, json!({})).await;
    let queue = unique("q");
    let (ended, running) = (unique("ended"), unique("running"));
    c.start_workflow(&ended, &queue, json!({})).await;
    let (status, body) = c
        .on_workflow(&ended, "terminate", json!({"reason": "done"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    c.start_workflow(&running, &queue, json!({})).await;

    eventually(Duration::from_secs(20), || async {
        let activity = c.get(&format!("activities/{done}")).await.0;
        let workflow = c.get(&format!("workflows/{ended}")).await.0;
        (activity == StatusCode::NOT_FOUND && workflow == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    let (status, body) = c.get(&format!("workflows/{ended}/history")).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::NOT_FOUND, json!(5)),
        "{body}"
    );
    let (status, listed) = c.get("activities").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let ids: Vec<&str> = listed["executions"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["activityId"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, [open.as_str()], "{listed}");
    assert_eq!(
        c.info(&open).await["status"],
        "ACTIVITY_EXECUTION_STATUS_RUNNING"
    );
    assert_eq!(
        c.describe_workflow(&running).await["workflowExecutionInfo"]["status"],
        "WORKFLOW_EXECUTION_STATUS_RUNNING"
    );
}

#[tokio::test]
async fn a_retention_under_the_minimum_is_refused_as_temporal_does() {
    let s = Server::start_in_memory().await;
    // Under both Temporal's minimum (1 day) and its dev server's (1 hour).
    let register =
        json!({"namespace": unique("brief"), "workflowExecutionRetentionPeriod": "3599s"});
    assert_eq!(
        s.at("/api/v1").post("namespaces", register).await,
        error(400, 3, "A valid retention period is not set on request.")
    );
    // One hour is start-dev's minimum, as `temporal server start-dev`'s; a day the server's.
    let hour = json!({"namespace": unique("hour"), "workflowExecutionRetentionPeriod": "3600s"});
    let (status, body) = s.at("/api/v1").post("namespaces", hour).await;
    let expected = if distributed() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    assert_eq!(status, expected, "{body}");
}
