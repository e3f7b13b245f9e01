//! Graceful shutdown: polling stops, running activities finish within the timeout, then are
//! cancelled, then abandoned; `run` returns only when every one of them is reported.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use waymark_sdk::{
    ActivityContext, ActivityError, ActivityExecutionStatus, ActivityOptions, CancelReason,
    PendingActivityState, RetryPolicy, WorkerOptions,
};

use crate::support::{Server, eventually, start_worker, unique};

fn options(queue: &str) -> ActivityOptions {
    ActivityOptions::new(queue)
        .start_to_close_timeout(Duration::from_secs(60))
        .retry_policy(RetryPolicy {
            initial_interval: Some(Duration::from_secs(30)),
            ..Default::default()
        })
}

/// `Some` once no poll of `queue` waits on the server (its `/metrics` say so).
async fn polls_waiting(server: &Server, queue: &str) -> Option<()> {
    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let gauge = metrics.lines().find(|l| {
        l.starts_with("waymark_task_queue_pollers_waiting{") && l.contains(&format!("\"{queue}\""))
    });
    // The gauge exists from the worker's first poll on: a missing one is not "no poll".
    gauge.is_some_and(|l| l.ends_with(" 0")).then_some(())
}

#[tokio::test]
async fn running_activities_finish_within_the_timeout_and_no_new_task_is_taken() {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("drain");
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let worker = start_worker(
        &client,
        &queue,
        WorkerOptions {
            graceful_shutdown_timeout: Duration::from_secs(10),
            ..Default::default()
        },
        move |w| {
            w.register_activity("Slow", move |ctx: ActivityContext, (): ()| {
                let started_tx = started_tx.clone();
                async move {
                    started_tx.send(()).unwrap();
                    ctx.worker_stopping().await; // told at once that the worker stops...
                    tokio::time::sleep(Duration::from_millis(800)).await; // ...and allowed to finish
                    Ok::<_, ActivityError>(ctx.is_cancelled())
                }
            })
            .unwrap();
        },
    );
    let handle = client
        .start_activity("Slow", (), options(&queue))
        .await
        .unwrap();
    started.recv().await.unwrap();

    let began = Instant::now();
    worker.shutdown.shutdown();
    // The worker's poll ends with its connection. Wait until the server has seen it go: a task
    // started before that may still reach the poll, as it may on Temporal.
    eventually(Duration::from_secs(5), || polls_waiting(&server, &queue)).await;
    let late = client
        .start_activity("Slow", (), options(&queue))
        .await
        .unwrap();
    worker.task.await.unwrap().unwrap();
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(750) && took < Duration::from_secs(5),
        "run returned after {took:?}"
    );

    // Reported before run returned; it was never cancelled.
    let d = handle.describe().await.unwrap();
    assert_eq!(d.status(), ActivityExecutionStatus::Completed);
    assert!(!handle.result::<bool>().await.unwrap());
    // The task started after shutdown began was left on the server.
    let d = late.describe().await.unwrap();
    assert_eq!(
        (d.status(), d.run_state(), d.attempt()),
        (
            ActivityExecutionStatus::Running,
            PendingActivityState::Scheduled,
            1
        )
    );
}

#[tokio::test]
async fn after_the_timeout_activities_are_cancelled_and_reported_failed_with_their_latest_details()
{
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("cancel-on-stop");
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let options_ = WorkerOptions {
        graceful_shutdown_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let worker = start_worker(&client, &queue, options_, move |w| {
        w.register_activity("Loop", move |ctx: ActivityContext, (): ()| {
            let seen_tx = seen_tx.clone();
            async move {
                let mut step = 0u32;
                loop {
                    tokio::select! {
                        reason = ctx.cancelled() => {
                            seen_tx.send(reason).unwrap();
                            return Err::<(), _>(ActivityError::cancelled());
                        }
                        () = tokio::time::sleep(Duration::from_millis(20)) => {
                            step += 1;
                            ctx.heartbeat(step);
                        }
                    }
                }
            }
        })
        .unwrap();
    });
    let opts = options(&queue).heartbeat_timeout(Duration::from_secs(30));
    let handle = client.start_activity("Loop", (), opts).await.unwrap();
    eventually(Duration::from_secs(5), || async {
        (handle.describe().await.unwrap().heartbeat_count() >= 1).then_some(())
    })
    .await;

    let began = Instant::now();
    worker.stop().await.unwrap();
    let took = began.elapsed();
    assert_eq!(seen.recv().await, Some(CancelReason::WorkerShutdown));
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(3),
        "run returned after {took:?}"
    );

    // Already reported when run returned: a retryable failure, waiting for its next attempt,
    // with the details of the last step (sent with the failure, not lost in a throttle window).
    let d = handle.describe().await.unwrap();
    assert_eq!(
        (d.status(), d.run_state(), d.attempt()),
        (
            ActivityExecutionStatus::Running,
            PendingActivityState::Scheduled,
            2
        )
    );
    let failure = d.last_failure().expect("the attempt's failure");
    assert_eq!(
        failure
            .application_failure_info
            .as_ref()
            .map(|a| a.r#type.as_str()),
        Some("WorkerShutdown")
    );
    let step = d.heartbeat_details::<u32>().unwrap().unwrap();
    assert!(step >= 20, "the latest step reached the server: {step}");
    handle.terminate().await.unwrap();
}

#[tokio::test]
async fn an_activity_that_ignores_cancellation_is_abandoned_and_reported_failed() {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("stubborn");
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let options_ = WorkerOptions {
        graceful_shutdown_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let worker = start_worker(&client, &queue, options_, move |w| {
        w.register_activity("Stubborn", move |_: ActivityContext, (): ()| {
            let started_tx = started_tx.clone();
            async move {
                started_tx.send(()).unwrap();
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<_, ActivityError>(())
            }
        })
        .unwrap();
    });
    let handle = client
        .start_activity("Stubborn", (), options(&queue))
        .await
        .unwrap();
    started.recv().await.unwrap();

    let began = Instant::now();
    worker.stop().await.unwrap();
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(2300) && took < Duration::from_secs(5),
        "run returned after {took:?}"
    );
    let d = handle.describe().await.unwrap();
    let failure = d.last_failure().expect("reported before run returned");
    assert_eq!(
        failure
            .application_failure_info
            .as_ref()
            .map(|a| a.r#type.as_str()),
        Some("WorkerShutdown")
    );
    assert_eq!(
        failure.message,
        "the worker shut down and the activity did not return after it was cancelled"
    );
    handle.terminate().await.unwrap();
}
