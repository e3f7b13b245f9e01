//! The worker: unknown types, errors and panics, flow control and its rate limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use waymark_sdk::{
    ActivityContext, ActivityError, ActivityOptions, FailureKind, PendingActivityState,
    RetryPolicy, RetryState, WorkerOptions,
};

use crate::support::{Server, eventually, start_worker, unique};

fn once(queue: &str) -> ActivityOptions {
    ActivityOptions::new(queue)
        .start_to_close_timeout(Duration::from_secs(10))
        .retry_policy(RetryPolicy {
            maximum_attempts: 1,
            ..Default::default()
        })
}

async fn noop(_: ActivityContext, _: ()) -> Result<(), ActivityError> {
    Ok(())
}

#[tokio::test]
async fn an_unregistered_activity_type_fails_naming_it_and_the_registered_ones() {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("unknown");
    let worker = start_worker(&client, &queue, WorkerOptions::default(), |w| {
        w.register_activity("Resize", noop)
            .unwrap()
            .register_activity("Archive", noop)
            .unwrap();
    });
    let err = client
        .start_activity("Transcode", (), once(&queue))
        .await
        .unwrap()
        .result::<()>()
        .await
        .unwrap_err();
    let failure = err.activity_failure().expect("an activity failure");
    assert_eq!(failure.error_type(), Some("ActivityNotRegistered"));
    assert_eq!(
        failure.message(),
        format!(
            "activity type \"Transcode\" is not registered on the worker of task queue \"{queue}\"; registered types: Archive, Resize"
        )
    );
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn application_errors_keep_their_type_details_and_retryability() {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("errors");
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let worker = start_worker(&client, &queue, WorkerOptions::default(), move |w| {
        w.register_activity("Declines", |_: ActivityContext, amount: u64| async move {
            Err::<(), _>(
                ActivityError::application("CardDeclined", format!("{amount} is too much"))
                    .non_retryable()
                    .details(("limit", 100)),
            )
        })
        .unwrap();
        w.register_activity("Parses", move |_: ActivityContext, text: String| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<u32, ActivityError>(text.parse::<u32>()?) }
        })
        .unwrap();
    });

    // Non-retryable, even though the policy allows 5 attempts.
    let options = ActivityOptions::new(&queue)
        .start_to_close_timeout(Duration::from_secs(10))
        .retry_policy(RetryPolicy {
            maximum_attempts: 5,
            ..Default::default()
        });
    let err = client
        .start_activity("Declines", 500u64, options)
        .await
        .unwrap()
        .result::<()>()
        .await
        .unwrap_err();
    let failure = err.activity_failure().unwrap();
    assert_eq!(
        (failure.kind(), failure.error_type()),
        (FailureKind::Failed, Some("CardDeclined"))
    );
    assert_eq!(failure.message(), "500 is too much");
    assert!(failure.is_non_retryable());
    assert_eq!(failure.retry_state(), RetryState::NonRetryableFailure);
    assert_eq!(
        failure.details::<(String, u32)>().unwrap(),
        Some(("limit".into(), 100))
    );

    // Any other error is retryable: two attempts, then the policy gives up.
    let options = ActivityOptions::new(&queue)
        .start_to_close_timeout(Duration::from_secs(10))
        .retry_policy(RetryPolicy {
            maximum_attempts: 2,
            initial_interval: Some(Duration::from_millis(100)),
            ..Default::default()
        });
    let err = client
        .start_activity("Parses", "not a number", options)
        .await
        .unwrap()
        .result::<u32>()
        .await
        .unwrap_err();
    let failure = err.activity_failure().unwrap();
    assert_eq!(
        failure.error_type(),
        Some("core::num::error::ParseIntError")
    );
    assert_eq!(failure.retry_state(), RetryState::MaximumAttemptsReached);
    assert!(!failure.is_non_retryable());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn a_panic_fails_the_attempt_and_the_worker_keeps_serving() {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("panics");
    let worker = start_worker(&client, &queue, WorkerOptions::default(), |w| {
        w.register_activity("Boom", |_: ActivityContext, (): ()| async move {
            if true {
                panic!("boom: index out of range");
            }
            Ok::<(), ActivityError>(())
        })
        .unwrap();
        w.register_activity(
            "FirstAttemptPanics",
            |ctx: ActivityContext, (): ()| async move {
                assert!(
                    ctx.info().attempt > 1,
                    "attempt {} panics",
                    ctx.info().attempt
                );
                Ok::<_, ActivityError>(format!("recovered on attempt {}", ctx.info().attempt))
            },
        )
        .unwrap();
    });

    let err = client
        .start_activity("Boom", (), once(&queue))
        .await
        .unwrap()
        .result::<()>()
        .await
        .unwrap_err();
    let failure = err.activity_failure().unwrap();
    assert_eq!(failure.error_type(), Some("Panic"));
    assert_eq!(
        failure.message(),
        "activity panicked: boom: index out of range"
    );

    let retried = ActivityOptions::new(&queue)
        .start_to_close_timeout(Duration::from_secs(10))
        .retry_policy(RetryPolicy {
            initial_interval: Some(Duration::from_millis(100)),
            ..Default::default()
        });
    let handle = client
        .start_activity("FirstAttemptPanics", (), retried)
        .await
        .unwrap();
    assert_eq!(
        handle.result::<String>().await.unwrap(),
        "recovered on attempt 2"
    );
    assert!(!worker.task.is_finished(), "the worker kept running");
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn with_two_slots_at_most_two_run_and_the_backlog_waits_on_the_server() {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("flow");
    let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (release, released) = tokio::sync::watch::channel(false);
    let (r, m) = (running.clone(), most.clone());
    let options = WorkerOptions {
        max_concurrent_activities: 2,
        pollers: 4,
        ..Default::default()
    };
    let worker = start_worker(&client, &queue, options, move |w| {
        w.register_activity("Block", move |_: ActivityContext, n: u32| {
            let (running, most, mut released) = (r.clone(), m.clone(), released.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                released.wait_for(|go| *go).await.expect("test alive");
                running.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, ActivityError>(n)
            }
        })
        .unwrap();
    });

    let mut handles = Vec::new();
    for n in 0..10u32 {
        let options = ActivityOptions::new(&queue).start_to_close_timeout(Duration::from_secs(60));
        handles.push(client.start_activity("Block", n, options).await.unwrap());
    }
    eventually(Duration::from_secs(5), || async {
        (running.load(Ordering::SeqCst) == 2).then_some(())
    })
    .await;
    // Give a misbehaving worker time to take more; then the server must still hold 8.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut states = Vec::new();
    for h in &handles {
        states.push(h.describe().await.unwrap().run_state());
    }
    let count = |s| states.iter().filter(|&&x| x == s).count();
    assert_eq!(
        (
            count(PendingActivityState::Started),
            count(PendingActivityState::Scheduled)
        ),
        (2, 8),
        "{states:?}"
    );
    assert_eq!(running.load(Ordering::SeqCst), 2);
    let described = client.describe_task_queue(&queue).await.unwrap();
    assert_eq!(
        described.stats.map(|s| s.approximate_backlog_count),
        Some(8),
        "the backlog stays on the server"
    );

    release.send(true).unwrap();
    for (n, h) in handles.iter().enumerate() {
        assert_eq!(h.result::<u32>().await.unwrap(), n as u32);
    }
    assert_eq!(
        most.load(Ordering::SeqCst),
        2,
        "never more than two at once"
    );
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn the_per_worker_rate_limit_spaces_activity_starts() {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("rate");
    let mut handles = Vec::new();
    for n in 0..6u32 {
        let options = ActivityOptions::new(&queue).start_to_close_timeout(Duration::from_secs(30));
        handles.push(client.start_activity("Stamp", n, options).await.unwrap());
    }
    // Six tasks wait in the backlog; at 5 per second the worker takes one every 200 ms.
    let starts = Arc::new(Mutex::new(Vec::new()));
    let s = starts.clone();
    let options = WorkerOptions {
        max_activities_per_second: Some(5.0),
        pollers: 3,
        ..Default::default()
    };
    let worker = start_worker(&client, &queue, options, move |w| {
        w.register_activity("Stamp", move |_: ActivityContext, n: u32| {
            s.lock().unwrap().push(Instant::now());
            async move { Ok::<_, ActivityError>(n) }
        })
        .unwrap();
    });
    for h in &handles {
        h.result::<u32>().await.unwrap();
    }
    let mut starts = starts.lock().unwrap().clone();
    starts.sort();
    let gaps: Vec<Duration> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    // Polls are spaced exactly; the activities start after a poll's answer, give or take.
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(150)),
        "starts much closer than 200 ms: {gaps:?}"
    );
    assert!(
        starts[5] - starts[0] >= Duration::from_millis(950),
        "six starts faster than 5 per second: {gaps:?}"
    );
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn the_queue_wide_rate_limit_is_sent_with_polls_and_holds_across_workers() {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("queue-rate");
    let mut handles = Vec::new();
    for n in 0..6u32 {
        let options = ActivityOptions::new(&queue).start_to_close_timeout(Duration::from_secs(30));
        handles.push(client.start_activity("Stamp", n, options).await.unwrap());
    }
    // Two workers, no per-worker limit; the server dispatches 2 per second to the queue
    // (a burst of 2, then one every 500 ms).
    let starts = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for _ in 0..2 {
        let s = starts.clone();
        let options = WorkerOptions {
            max_task_queue_activities_per_second: Some(2.0),
            pollers: 2,
            ..Default::default()
        };
        workers.push(start_worker(&client, &queue, options, move |w| {
            w.register_activity("Stamp", move |_: ActivityContext, n: u32| {
                s.lock().unwrap().push(Instant::now());
                async move { Ok::<_, ActivityError>(n) }
            })
            .unwrap();
        }));
    }
    for h in &handles {
        h.result::<u32>().await.unwrap();
    }
    let mut starts = starts.lock().unwrap().clone();
    starts.sort();
    let span = starts[5] - starts[0];
    assert!(
        span >= Duration::from_millis(1850),
        "six starts within {span:?}"
    );
    let limit = client
        .describe_task_queue(&queue)
        .await
        .unwrap()
        .effective_rate_limit
        .unwrap();
    assert_eq!(
        (limit.requests_per_second, limit.rate_limit_source),
        (2.0, waymark_sdk::api::RateLimitSource::Worker)
    );
    for w in workers {
        w.stop().await.unwrap();
    }
}
