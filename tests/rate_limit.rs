//! Task-queue rate limits (SEMANTICS §11.1): set through `update-config` or by the pollers'
//! `maxTasksPerSecond`, applied when a task is handed to a poller, and shown by the queue's
//! describe with the pollers and the backlog.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

fn set_limit(rate_limit: Value) -> Value {
    json!({
        "taskQueueType": "TASK_QUEUE_TYPE_ACTIVITY",
        "identity": "operator",
        "updateQueueRateLimit": {"rateLimit": rate_limit, "reason": "test"},
    })
}

async fn update_config(s: &Server, queue: &str, body: Value) -> Reply {
    s.post(&format!("task-queues/{queue}/update-config"), body)
        .await
}

/// The activity queue's describe with its config and stats; must succeed.
async fn describe_queue(s: &Server, queue: &str) -> Value {
    let params = [
        ("taskQueueType", "TASK_QUEUE_TYPE_ACTIVITY"),
        ("reportConfig", "true"),
        ("reportStats", "true"),
    ];
    let (status, body) = s
        .get_with(&format!("task-queues/{queue}"), &params, None)
        .await;
    assert_eq!(status, 200, "describe {queue}: {body}");
    body
}

/// A poll of `queue` that asks for a worker limit (`null`: none); a task must come.
async fn poll_with_limit(
    s: &Server,
    queue: &str,
    identity: &str,
    max_tasks_per_second: Value,
) -> Value {
    let mut body = json!({"taskQueue": {"name": queue}, "identity": identity});
    if !max_tasks_per_second.is_null() {
        body["taskQueueMetadata"] = json!({"maxTasksPerSecond": max_tasks_per_second});
    }
    let (status, task) = s.post_waiting("activity-tasks/poll", body, "5S").await;
    assert!(
        status == 200 && task.get("taskToken").is_some(),
        "no task on {queue}: {task}"
    );
    task
}

#[tokio::test]
async fn five_per_second_set_through_the_api_spaces_out_fifteen_dispatches_to_three_pollers() {
    let s = Server::start_in_memory().await;
    let queue = unique("rate");
    let (status, answer) =
        update_config(&s, &queue, set_limit(json!({"requestsPerSecond": 5}))).await;
    assert_eq!(status, 200, "{answer}");
    let limit = &answer["config"]["queueRateLimit"];
    assert_eq!(limit["rateLimit"], json!({"requestsPerSecond": 5}));
    assert_eq!(
        (
            &limit["metadata"]["reason"],
            &limit["metadata"]["updateIdentity"]
        ),
        (&json!("test"), &json!("operator"))
    );
    assert!(limit["metadata"]["updateTime"].is_string(), "{answer}");

    for i in 0..15 {
        s.start_activity(
            &format!("{queue}-{i}"),
            json!({"taskQueue": {"name": queue}}),
        )
        .await;
    }
    let dispatched = Arc::new(Mutex::new(Vec::new()));
    let pollers: Vec<_> = (0..3)
        .map(|_| {
            let (c, queue, dispatched) = (s.client(), queue.clone(), dispatched.clone());
            tokio::spawn(async move {
                while dispatched.lock().unwrap().len() < 15 {
                    let (status, task) = c.poll(&queue, "3S").await;
                    assert_eq!(status, 200, "{task}");
                    if task.get("taskToken").is_some() {
                        dispatched.lock().unwrap().push(Instant::now());
                        c.complete(&task, json!(["done"])).await;
                    }
                }
            })
        })
        .collect();
    for p in pollers {
        p.await.unwrap();
    }
    let mut at = dispatched.lock().unwrap().clone();
    at.sort();
    assert_eq!(at.len(), 15);
    // A full bucket of max(ceil(5), 1) = 5 tokens, then one every 200 ms: task i (from 0) goes
    // out no earlier than (i - 4) × 200 ms after the first, so the 15 take at least 2 s.
    let slack = Duration::from_millis(100);
    for (i, t) in at.iter().enumerate().skip(5) {
        let earliest = Duration::from_millis(200 * (i as u64 - 4));
        assert!(
            *t - at[0] + slack >= earliest,
            "dispatch {i} came {:?} after the first",
            *t - at[0]
        );
    }
    let took = at[14] - at[0];
    assert!(
        took < Duration::from_millis(5_000),
        "15 dispatches at 5/s took {took:?}"
    );

    let described = describe_queue(&s, &queue).await;
    assert_eq!(
        described["effectiveRateLimit"],
        json!({"requestsPerSecond": 5, "rateLimitSource": "RATE_LIMIT_SOURCE_API"})
    );
    assert_eq!(described["config"], answer["config"]);
    assert_eq!(described["pollers"][0]["identity"], "test-worker");
    assert!(
        described["pollers"][0]["lastAccessTime"].is_string(),
        "{described}"
    );
    assert_eq!(
        described["stats"],
        json!({"approximateBacklogAge": "0s"}),
        "no backlog left"
    );
}

#[tokio::test]
async fn the_api_limit_beats_the_latest_pollers_limit_and_a_poll_without_one_removes_it() {
    let s = Server::start_in_memory().await;
    let queue = unique("worker-rate");
    let start = |i: u32| {
        let (s, id, extra) = (
            &s,
            format!("{queue}-{i}"),
            json!({"taskQueue": {"name": queue}}),
        );
        async move { s.start_activity(&id, extra).await }
    };
    let effective = |body: &Value| body["effectiveRateLimit"].clone();
    let limit =
        |rps: Value, source: &str| json!({"requestsPerSecond": rps, "rateLimitSource": source});

    assert_eq!(
        effective(&describe_queue(&s, &queue).await),
        limit(json!("Infinity"), "RATE_LIMIT_SOURCE_SYSTEM")
    );
    start(1).await;
    poll_with_limit(&s, &queue, "limited-worker", json!(2.5)).await;
    let described = describe_queue(&s, &queue).await;
    assert_eq!(
        effective(&described),
        limit(json!(2.5), "RATE_LIMIT_SOURCE_WORKER")
    );
    assert_eq!(described["pollers"][0]["identity"], "limited-worker");
    assert_eq!(described["pollers"][0]["ratePerSecond"], 2.5);
    assert_eq!(described.get("config"), None, "no config was set");

    let (status, _) = update_config(&s, &queue, set_limit(json!({"requestsPerSecond": 10}))).await;
    assert_eq!(status, 200);
    assert_eq!(
        effective(&describe_queue(&s, &queue).await),
        limit(json!(10), "RATE_LIMIT_SOURCE_API")
    );

    // `updateQueueRateLimit: {}` removes the API limit and keeps who removed it.
    let removal = json!({"taskQueueType": "TASK_QUEUE_TYPE_ACTIVITY", "identity": "operator", "updateQueueRateLimit": {}});
    let (status, answer) = update_config(&s, &queue, removal).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["config"]["queueRateLimit"].get("rateLimit"),
        None,
        "{answer}"
    );
    assert_eq!(
        answer["config"]["queueRateLimit"]["metadata"]["updateIdentity"],
        "operator"
    );
    assert_eq!(
        effective(&describe_queue(&s, &queue).await),
        limit(json!(2.5), "RATE_LIMIT_SOURCE_WORKER")
    );

    start(2).await;
    poll_with_limit(&s, &queue, "plain-worker", Value::Null).await;
    assert_eq!(
        effective(&describe_queue(&s, &queue).await),
        limit(json!("Infinity"), "RATE_LIMIT_SOURCE_SYSTEM")
    );
}

#[tokio::test]
async fn a_rate_of_zero_pauses_dispatch_until_the_limit_is_raised() {
    let s = Server::start_in_memory().await;
    let queue = unique("paused");
    let (status, answer) =
        update_config(&s, &queue, set_limit(json!({"requestsPerSecond": 0}))).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["config"]["queueRateLimit"]["rateLimit"],
        json!({}),
        "0 prints as an empty message"
    );
    s.start_activity(&queue, json!({})).await;
    let backlog = |d: &Value| d["stats"]["approximateBacklogCount"].clone();
    let described = describe_queue(&s, &queue).await;
    assert_eq!(backlog(&described), "1", "{described}");
    let age = described["stats"]["approximateBacklogAge"]
        .as_str()
        .unwrap();
    assert!(
        age.ends_with('s') && age.trim_end_matches('s').parse::<f64>().is_ok(),
        "{described}"
    );
    // The poll takes the task, gets no token before its deadline, and gives the task back.
    s.poll_nothing(&queue).await;
    assert_eq!(backlog(&describe_queue(&s, &queue).await), "1");

    update_config(&s, &queue, set_limit(json!({"requestsPerSecond": 1}))).await;
    let task = s.poll_task(&queue).await;
    s.complete(&task, json!(["done"])).await;
}

// Issue 12 finding 1: a limit of 1e-20 a second (Temporal accepts it) or a poller's 1e-300 used
// to panic the dispatch and poison the limiter, so that every rate-limited queue of the process
// answered 14 from then on, and lose the task it had popped.
#[tokio::test]
async fn a_tiny_rate_holds_its_queue_back_and_harms_no_other_queue() {
    let s = Server::start_in_memory().await;
    let (tiny, other) = (unique("tiny"), unique("other"));
    let (status, _) =
        update_config(&s, &tiny, set_limit(json!({"requestsPerSecond": 1e-20}))).await;
    assert_eq!(status, 200);
    update_config(&s, &other, set_limit(json!({"requestsPerSecond": 100}))).await;
    // The bucket's first token lets one task through; the next has nothing to wait for in time.
    for id in [unique("a1"), unique("a2")] {
        s.start_activity(&id, json!({"taskQueue": {"name": tiny}}))
            .await;
    }
    poll_with_limit(&s, &tiny, "w", json!(1e-300)).await;
    s.poll_nothing(&tiny).await;
    let backlog = describe_queue(&s, &tiny).await["stats"]["approximateBacklogCount"].clone();
    assert_eq!(backlog, "1", "the task the poll took went back");
    // Other rate-limited queues dispatch as before.
    s.start_activity(&other, json!({})).await;
    let task = s.poll_task(&other).await;
    s.complete(&task, json!(["done"])).await;
}

#[tokio::test]
async fn update_config_refuses_what_temporal_refuses() {
    let s = Server::start_in_memory().await;
    let queue = unique("invalid");
    let negative = set_limit(json!({"requestsPerSecond": -1}));
    assert_eq!(
        update_config(&s, &queue, negative).await,
        error(
            400,
            3,
            "RequestsPerSecond for UpdateQueueRateLimit rate limit must be non-negative."
        )
    );
    let mut workflow = set_limit(json!({"requestsPerSecond": 1}));
    workflow["taskQueueType"] = json!("TASK_QUEUE_TYPE_WORKFLOW");
    assert_eq!(
        update_config(&s, &queue, workflow).await,
        error(
            400,
            3,
            "Setting rate limit on workflow task queues is not allowed."
        )
    );
    let elsewhere = s.at("/api/v1/namespaces/no-such-namespace");
    let (status, body) = elsewhere.get(&format!("task-queues/{queue}")).await;
    assert_eq!(
        (status.as_u16(), &body["message"]),
        (404, &json!("Namespace no-such-namespace is not found."))
    );
}

/// `GET /task-queues`: the queues used lately, one entry per queue and type, with their backlog
/// and pollers, most recently used first.
#[tokio::test]
async fn the_namespaces_task_queues_are_listed_with_backlog_and_pollers() {
    let s = Server::start().await;
    let (busy, polled) = (unique("busy"), unique("polled"));
    for i in 0..3 {
        s.start_activity(&format!("{busy}-{i}"), json!({"taskQueue": {"name": busy}}))
            .await;
    }
    assert_eq!(s.poll(&polled, "2S").await, ok(json!({})));
    let (status, body) = s.get("task-queues").await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let queues = body["taskQueues"].as_array().expect("taskQueues");
    let entry = |name: &str| {
        queues
            .iter()
            .find(|q| q["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not listed: {body}"))
    };
    assert_eq!(entry(&busy)["taskQueueType"], "TASK_QUEUE_TYPE_ACTIVITY");
    assert_eq!(entry(&busy)["stats"]["approximateBacklogCount"], "3");
    assert_eq!(entry(&busy)["pollerCount"], 0);
    assert_eq!(entry(&polled)["pollerCount"], 1);
    assert_eq!(queues[0]["name"], polled, "the last used first: {body}");
    let (status, _) = s.at("/api/v1/namespaces/nope").get("task-queues").await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
}
