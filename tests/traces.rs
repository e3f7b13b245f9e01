//! Traces: with the standard `OTEL_*` variables set, every process exports its spans over OTLP,
//! and one activity's schedule, queue wait, attempt and completion form one trace that a worker
//! continues with the `traceparent` its poll answered with.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::otlp::Collector;
use crate::support::*;

/// Polls queue `queue` as a worker; the task and the `traceparent` its answer carries.
async fn poll_traced(s: &Server, queue: &str) -> (Value, String) {
    let polled = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(s.url("activity-tasks/poll"))
        .header("Grpc-Timeout", "5S")
        .json(&json!({"taskQueue": {"name": queue}, "identity": "w"}))
        .send()
        .await
        .unwrap();
    let handed = polled
        .headers()
        .get("traceparent")
        .expect("a polled task carries its traceparent")
        .to_str()
        .unwrap()
        .to_owned();
    (polled.json().await.unwrap(), handed)
}

fn trace_id_of(traceparent: &str) -> &str {
    traceparent.split('-').nth(1).expect("traceparent trace id")
}

fn span_id_of(traceparent: &str) -> &str {
    traceparent.split('-').nth(2).expect("traceparent span id")
}

#[tokio::test]
async fn one_activity_is_one_trace_from_schedule_to_completion() {
    let collector = Collector::start().await;
    let s = Server::start_with_env(&collector.env()).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let trace_id = trace_id_of(caller);
    let id = unique("traced");

    // The caller schedules the activity inside its own trace.
    let started = http
        .post(s.url(&format!("activities/{id}")))
        .header("traceparent", caller)
        .json(&json!({
            "activityType": {"name": "T"},
            "taskQueue": {"name": id},
            "startToCloseTimeout": "10s",
        }))
        .send()
        .await
        .unwrap();
    assert!(started.status().is_success(), "{:?}", started.text().await);

    // The worker's poll hands over the task with the context the worker continues.
    let (task, handed) = poll_traced(&s, &id).await;
    assert_eq!(
        trace_id_of(&handed),
        trace_id,
        "the task stays in the caller's trace"
    );
    let completed = http
        .post(s.url("activity-complete"))
        .header("traceparent", &handed)
        .json(&json!({"taskToken": task["taskToken"], "result": ["done"]}))
        .send()
        .await
        .unwrap();
    assert!(
        completed.status().is_success(),
        "{:?}",
        completed.text().await
    );

    let distributed = distributed();
    let spans = eventually(Duration::from_secs(10), || {
        let spans = collector.trace(trace_id);
        let names: HashSet<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        let services: HashSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
        let complete = [
            "POST /api/v1/namespaces/{namespace}/activities/{activityId}",
            "queue wait",
            "activity transition",
            "POST /api/v1/namespaces/{namespace}/activity-complete",
        ]
        .iter()
        .all(|n| names.contains(n))
            && spans
                .iter()
                .filter(|s| s.name == "activity transition")
                .count()
                >= 3
            && (!distributed
                || ["waymark-frontend", "waymark-history", "waymark-matching"]
                    .iter()
                    .all(|s| services.contains(s)));
        std::future::ready(complete.then_some(spans.clone()))
    })
    .await;

    // Schedule: the start request's span is a child of the caller's span.
    let start = spans
        .iter()
        .find(|s| s.name.ends_with("/activities/{activityId}"))
        .unwrap();
    assert_eq!(start.parent_span_id, span_id_of(caller));
    // Queue wait, then the attempt: the worker's completion is a child of the context it got.
    let wait = spans.iter().find(|s| s.name == "queue wait").unwrap();
    assert_eq!(wait.span_id, span_id_of(&handed));
    let completion = spans
        .iter()
        .find(|s| s.name.ends_with("/activity-complete"))
        .unwrap();
    assert_eq!(completion.parent_span_id, wait.span_id);
    // Every span hangs off another span of the trace, or off the caller's.
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    for span in &spans {
        assert!(
            ids.contains(span.parent_span_id.as_str()) || span.parent_span_id == span_id_of(caller),
            "{span:?} has no parent in the trace {spans:#?}"
        );
    }
}

#[tokio::test]
async fn a_request_without_a_traceparent_starts_a_trace() {
    let s = Server::start_in_memory().await;
    let id = unique("untraced");
    s.start_activity(&id, json!({})).await;
    let (_, handed) = poll_traced(&s, &id).await;
    let parts: Vec<&str> = handed.split('-').collect();
    assert_eq!(parts.len(), 4, "{handed:?}");
    assert_eq!(parts[1].len(), 32);
}
