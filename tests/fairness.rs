//! Issue 16: within a priority level, a task queue shares dispatches across fairness keys by
//! weight (weighted round robin by stride scheduling), first in first out within a key; a queue's
//! `fairnessWeightOverrides` replace the weights tasks carry, and its
//! `fairnessKeysRateLimitDefault` (times a key's weight) is each key's own dispatch rate.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::support::*;

fn keyed(queue: &str, key: &str, weight: f32) -> Value {
    json!({"taskQueue": {"name": queue}, "priority": {"fairnessKey": key, "fairnessWeight": weight}})
}

/// Starts `n` activities of each `(key, weight)` on `queue`, 16 at a time.
async fn start_keyed(s: &Server, queue: &str, keys: &[(&str, f32)], n: usize) {
    let starts: Vec<(String, Value)> = keys
        .iter()
        .flat_map(|(key, weight)| {
            (0..n).map(move |i| (format!("{key}-{i}"), keyed(queue, key, *weight)))
        })
        .collect();
    let mut starters = JoinSet::new();
    for lane in 0..16 {
        let (client, mine) = (
            s.client(),
            starts
                .iter()
                .skip(lane)
                .step_by(16)
                .cloned()
                .collect::<Vec<_>>(),
        );
        starters.spawn(async move {
            for (id, extra) in mine {
                client.start_activity(&id, extra).await;
            }
        });
    }
    while let Some(done) = starters.join_next().await {
        done.expect("a starter");
    }
}

/// The key each of the next `n` polls of `queue` gets.
async fn dispatched_keys(s: &Server, queue: &str, n: usize) -> Vec<String> {
    let mut keys = Vec::with_capacity(n);
    for _ in 0..n {
        let task = s.poll_task(queue).await;
        keys.push(
            task["priority"]["fairnessKey"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
    }
    keys
}

fn share(keys: &[String], key: &str) -> usize {
    keys.iter().filter(|k| *k == key).count()
}

/// Within ±5 % of `expected` out of 300 dispatches (15 tasks).
fn assert_near(keys: &[String], key: &str, expected: usize) {
    let got = share(keys, key);
    assert!(
        got.abs_diff(expected) <= 15,
        "key {key}: {got} of {} dispatches, expected {expected}",
        keys.len()
    );
}

#[tokio::test]
async fn three_keys_of_weights_5_3_2_share_the_first_300_dispatches_50_30_20() {
    let s = Server::start().await;
    let queue = unique("fair");
    start_keyed(&s, &queue, &[("a", 5.0), ("b", 3.0), ("c", 2.0)], 300).await;

    let described =
        format!("task-queues/{queue}?taskQueueType=TASK_QUEUE_TYPE_ACTIVITY&reportStats=true");
    let (status, body) = s.get(&described).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // At least: under load the sweeper may queue a copy of a task not yet taken (dispatch is at
    // least once; the copy is dropped when it comes up).
    let backlog: u64 = body["stats"]["approximateBacklogCount"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    assert!(backlog >= 900, "{body}");
    assert!(
        body["stats"]["fairnessKeysWithBacklog"].as_i64() >= Some(3),
        "{body}"
    );

    let keys = dispatched_keys(&s, &queue, 300).await;
    assert_near(&keys, "a", 150);
    assert_near(&keys, "b", 90);
    assert_near(&keys, "c", 60);
}

#[tokio::test]
async fn a_queues_weight_override_beats_the_weight_tasks_carry() {
    let s = Server::start().await;
    let queue = unique("fair-override");
    let update = format!("task-queues/{queue}/update-config");
    let (status, body) = s
        .post(
            &update,
            json!({"taskQueueType": "TASK_QUEUE_TYPE_ACTIVITY",
                "setFairnessWeightOverrides": {"vip": 4.0}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["config"]["fairnessWeightOverrides"],
        json!({"vip": 4.0})
    );
    // Both carry weight 1; the override makes "vip" take 4 of every 5 dispatches.
    start_keyed(&s, &queue, &[("vip", 1.0), ("basic", 1.0)], 60).await;
    let keys = dispatched_keys(&s, &queue, 50).await;
    assert_eq!(
        (share(&keys, "vip"), share(&keys, "basic")),
        (40, 10),
        "{keys:?}"
    );

    let described =
        format!("task-queues/{queue}?taskQueueType=TASK_QUEUE_TYPE_ACTIVITY&reportConfig=true");
    let (status, body) = s.get(&described).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["config"]["fairnessWeightOverrides"],
        json!({"vip": 4.0})
    );

    let (status, body) = s
        .post(
            &update,
            json!({"taskQueueType": "TASK_QUEUE_TYPE_ACTIVITY",
                "unsetFairnessWeightOverrides": ["vip"],
                "updateFairnessKeyRateLimitDefault": {"rateLimit": {"requestsPerSecond": 10}, "reason": "per tenant"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["config"].get("fairnessWeightOverrides"),
        None,
        "{body}"
    );
    assert_eq!(
        body["config"]["fairnessKeysRateLimitDefault"]["rateLimit"],
        json!({"requestsPerSecond": 10}),
        "{body}"
    );
}

#[tokio::test]
async fn each_key_dispatches_at_the_per_key_rate_times_its_weight() {
    let s = Server::start().await;
    let queue = unique("fair-rate");
    let (status, body) = s
        .post(
            &format!("task-queues/{queue}/update-config"),
            json!({"taskQueueType": "TASK_QUEUE_TYPE_ACTIVITY",
                "updateFairnessKeyRateLimitDefault": {"rateLimit": {"requestsPerSecond": 5}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // "a" goes at 5 a second, "b" (weight 2) at 10: a token at once, then one per interval.
    start_keyed(&s, &queue, &[("a", 1.0), ("b", 2.0)], 4).await;
    let began = std::time::Instant::now();
    let mut at = std::collections::HashMap::<String, Vec<std::time::Duration>>::new();
    for _ in 0..8 {
        let task = s.poll_task(&queue).await;
        let key = task["priority"]["fairnessKey"].as_str().unwrap().to_owned();
        at.entry(key).or_default().push(began.elapsed());
    }
    let spread = |key: &str| at[key][3] - at[key][0];
    assert!(
        spread("a") >= std::time::Duration::from_millis(580),
        "a: {:?}",
        at["a"]
    );
    assert!(
        spread("b") >= std::time::Duration::from_millis(280),
        "b: {:?}",
        at["b"]
    );
    assert!(
        at["b"][3] < at["a"][3],
        "the heavier key is done first: {at:?}"
    );
}

#[tokio::test]
async fn bad_fairness_settings_get_temporals_errors() {
    let s = Server::start().await;
    let update = format!("task-queues/{}/update-config", unique("fair-bad"));
    for (body, message) in [
        (
            json!({"setFairnessWeightOverrides": {"k": -1}}),
            r#"invalid fairness weight weight for key "k": must be greater than zero"#,
        ),
        (
            json!({"setFairnessWeightOverrides": {"k": 1}, "unsetFairnessWeightOverrides": ["k"]}),
            r#"fairness weight override key "k" present in both set and unset lists"#,
        ),
        (
            json!({"taskQueueType": "TASK_QUEUE_TYPE_WORKFLOW",
                "updateFairnessKeyRateLimitDefault": {"rateLimit": {"requestsPerSecond": 1}}}),
            "Setting fairness key rate limit on workflow task queues is not allowed.",
        ),
    ] {
        assert_eq!(s.post(&update, body).await, error(400, 3, message));
    }
    let (status, body) = s
        .try_start(&unique("long-key"), keyed("q", &"k".repeat(65), 1.0))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("fairness key length exceeds limit: 65 bytes, at most 64")),
        "{body}"
    );
}
