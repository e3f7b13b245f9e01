//! Heartbeats: throttling, cancellation through them, and resuming from their details.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::process::Command;
use waymark_sdk::{
    ActivityContext, ActivityError, ActivityOptions, CancelReason, FailureKind, RetryPolicy,
    WorkerOptions,
};

use crate::support::{Server, eventually, example, start_worker, unique};

/// Heartbeat timeout 2 s: the throttle interval is 80 % of it.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);
const THROTTLE: Duration = Duration::from_millis(1600);

#[tokio::test]
async fn a_tight_heartbeat_loop_sends_one_request_per_throttle_interval_and_the_last_details_arrive()
 {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("throttle");
    let looping = Duration::from_millis(3500);
    let worker = start_worker(&client, &queue, WorkerOptions::default(), move |w| {
        w.register_activity("Spin", move |ctx: ActivityContext, (): ()| async move {
            let began = Instant::now();
            let mut calls = 0u64;
            while began.elapsed() < looping {
                calls += 1;
                ctx.heartbeat(calls);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Ok::<_, ActivityError>(calls)
        })
        .unwrap();
    });
    let options = ActivityOptions::new(&queue)
        .start_to_close_timeout(Duration::from_secs(30))
        .heartbeat_timeout(HEARTBEAT_TIMEOUT);
    let handle = client.start_activity("Spin", (), options).await.unwrap();

    // Watch the server's record of heartbeats while the activity spins.
    let watcher = {
        let handle = handle.clone();
        tokio::spawn(async move {
            let mut seen = BTreeSet::new();
            loop {
                let d = handle.describe().await.unwrap();
                if let Some(t) = d.info().and_then(|i| i.last_heartbeat_time) {
                    seen.insert(t.as_nanos());
                }
                if d.outcome().is_some() {
                    return seen;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
    };
    let calls: u64 = handle.result().await.unwrap();
    let heartbeat_times = watcher.await.unwrap();
    let d = handle.describe().await.unwrap();

    assert!(calls > 500, "a tight loop: {calls} calls");
    // One at once, then one per window (at 1.6 s and 3.2 s), and the flush when it returned.
    let count = d.heartbeat_count();
    assert!(
        (3..=4).contains(&count),
        "{count} heartbeat requests for {calls} calls"
    );
    assert_eq!(
        d.heartbeat_details::<u64>().unwrap(),
        Some(calls),
        "the last details reached the server"
    );
    // While looping, the requests were at least a throttle interval apart (the final flush,
    // sent when the activity returned, is the only one allowed closer).
    let times: Vec<i64> = heartbeat_times.into_iter().collect();
    let gaps: Vec<Duration> = times
        .windows(2)
        .map(|w| Duration::from_nanos((w[1] - w[0]) as u64))
        .collect();
    let (during_loop, _flush) = gaps.split_at(gaps.len().saturating_sub(1));
    assert!(
        during_loop
            .iter()
            .all(|g| *g >= THROTTLE - Duration::from_millis(50)),
        "gaps between heartbeats: {gaps:?}"
    );
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn a_cancel_reaches_cancelled_within_one_throttle_interval_and_is_reported_cancelled() {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("cancel");
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let worker = start_worker(&client, &queue, WorkerOptions::default(), move |w| {
        w.register_activity("Wait", move |ctx: ActivityContext, (): ()| {
            let seen_tx = seen_tx.clone();
            async move {
                let mut beats = 0u32;
                loop {
                    tokio::select! {
                        reason = ctx.cancelled() => {
                            seen_tx.send((Instant::now(), reason, ctx.is_cancelled())).unwrap();
                            // Any error after a cancel request is reported as a cancellation.
                            return Err::<(), _>(ActivityError::application("Stopped", "saw the cancel").details(beats));
                        }
                        () = tokio::time::sleep(Duration::from_millis(50)) => {
                            beats += 1;
                            ctx.heartbeat(beats);
                        }
                    }
                }
            }
        })
        .unwrap();
    });
    let options = ActivityOptions::new(&queue)
        .start_to_close_timeout(Duration::from_secs(30))
        .heartbeat_timeout(HEARTBEAT_TIMEOUT);
    let handle = client.start_activity("Wait", (), options).await.unwrap();
    // Right after the first heartbeat: a whole throttle window lies ahead, the worst case.
    eventually(Duration::from_secs(5), || async {
        (handle.describe().await.unwrap().heartbeat_count() >= 1).then_some(())
    })
    .await;
    let asked = Instant::now();
    handle.cancel().await.unwrap();

    let (seen, reason, flagged) = tokio::time::timeout(Duration::from_secs(5), seen_rx.recv())
        .await
        .unwrap()
        .unwrap();
    let took = seen - asked;
    assert!(
        took <= THROTTLE + Duration::from_millis(400),
        "cancellation seen after {took:?}"
    );
    assert_eq!(reason, CancelReason::CancelRequested);
    assert!(flagged);

    let err = handle.result::<()>().await.unwrap_err();
    let failure = err.activity_failure().unwrap();
    assert_eq!(failure.kind(), FailureKind::Cancelled);
    assert!(failure.details::<u32>().unwrap().is_some_and(|b| b > 0));
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn the_next_attempt_reads_the_details_the_previous_one_recorded() {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("details");
    let worker = start_worker(&client, &queue, WorkerOptions::default(), |w| {
        w.register_activity("Resume", |ctx: ActivityContext, (): ()| async move {
            let previous: Option<(String, u32)> = ctx.heartbeat_details()?;
            match ctx.info().attempt {
                1 => {
                    assert_eq!(previous, None);
                    ctx.heartbeat(("step", 1));
                    ctx.heartbeat(("step", 2)); // replaces the pending one
                    Err(ActivityError::application("Flaky", "try again"))
                }
                _ => Ok(previous),
            }
        })
        .unwrap();
    });
    let options = ActivityOptions::new(&queue)
        .start_to_close_timeout(Duration::from_secs(10))
        .heartbeat_timeout(Duration::from_secs(10))
        .retry_policy(RetryPolicy {
            initial_interval: Some(Duration::from_millis(100)),
            ..Default::default()
        });
    let handle = client.start_activity("Resume", (), options).await.unwrap();
    let previous: Option<(String, u32)> = handle.result().await.unwrap();
    // The latest details win, whether the sender sent them or they went with the failure.
    assert_eq!(previous, Some(("step".into(), 2)));
    worker.stop().await.unwrap();
}

/// The `file_processing` example as a worker process of `queue`.
fn file_worker(url: &str, queue: &str) -> tokio::process::Child {
    Command::new(example("file_processing"))
        .args(["worker", "--url", url, "--task-queue", queue])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the file_processing worker")
}

#[tokio::test]
async fn after_its_worker_is_killed_an_activity_resumes_from_its_last_heartbeat_on_another_worker()
{
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("files");
    let path = std::env::temp_dir().join(format!("{}.txt", unique("sdk-file")));
    let text: String = (0..150)
        .map(|i| format!("{i} {}\n", "w ".repeat(i % 5)))
        .collect();
    let words: u64 = text
        .lines()
        .map(|l| l.split_whitespace().count() as u64)
        .sum();
    std::fs::write(&path, &text).unwrap();

    let mut first = file_worker(&server.url, &queue);
    let options = ActivityOptions::new(&queue)
        .start_to_close_timeout(Duration::from_secs(60))
        .heartbeat_timeout(Duration::from_secs(1))
        .retry_policy(RetryPolicy {
            initial_interval: Some(Duration::from_millis(200)),
            ..Default::default()
        });
    let handle = client
        .start_activity("ProcessFile", (path.display().to_string(), 20u64), options)
        .await
        .unwrap();
    let reached = eventually(Duration::from_secs(10), || async {
        let line = handle
            .describe()
            .await
            .unwrap()
            .heartbeat_details::<Value>()
            .unwrap()?["line"]
            .as_u64()?;
        (line >= 30).then_some(line)
    })
    .await;
    first.kill().await.unwrap(); // SIGKILL: no report, no flush

    let _second = file_worker(&server.url, &queue);
    let summary: Value = handle.result().await.unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(summary["attempt"], 2, "{summary}");
    let resumed = summary["resumed_from"].as_u64().unwrap();
    assert!(
        resumed >= reached && resumed < 150,
        "resumed from {resumed}, {reached} was reported before the kill"
    );
    assert_eq!(
        (summary["lines"].as_u64(), summary["words"].as_u64()),
        (Some(150), Some(words)),
        "{summary}"
    );
}
