//! Asynchronous completion: an activity returns `ResultPending` and someone else (another
//! process, by task token; or anyone, by id) completes, fails, cancels or heartbeats it.

use std::time::Duration;

use tokio::process::Command;
use tokio::sync::mpsc;
use waymark_sdk::api::Code;
use waymark_sdk::{
    ActivityContext, ActivityError, ActivityExecutionStatus, ActivityOptions, ActivityTarget,
    Client, FailureKind, RetryPolicy, RetryState, TaskToken, WorkerOptions,
};

use crate::support::{Running, Server, example, start_worker, unique};

/// A worker whose `Pending` activity hands out its task token and leaves the result to others.
fn pending_worker(client: &Client, queue: &str) -> (Running, mpsc::UnboundedReceiver<TaskToken>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let worker = start_worker(client, queue, WorkerOptions::default(), move |w| {
        w.register_activity("Pending", move |ctx: ActivityContext, (): ()| {
            let tx = tx.clone();
            async move {
                tx.send(ctx.info().task_token.clone()).unwrap();
                Err::<String, _>(ActivityError::ResultPending)
            }
        })
        .unwrap();
    });
    (worker, rx)
}

fn options(queue: &str) -> ActivityOptions {
    ActivityOptions::new(queue)
        .start_to_close_timeout(Duration::from_secs(30))
        .retry_policy(RetryPolicy {
            maximum_attempts: 1,
            ..Default::default()
        })
}

#[tokio::test]
async fn another_process_holding_the_task_token_heartbeats_and_completes_the_activity() {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("async");
    let (worker, mut tokens) = pending_worker(&client, &queue);

    let handle = client
        .start_activity("Pending", (), options(&queue))
        .await
        .unwrap();
    let token = tokens.recv().await.unwrap();
    // The worker reported nothing: the activity still runs.
    assert_eq!(
        handle.describe().await.unwrap().status(),
        ActivityExecutionStatus::Running
    );

    let out = Command::new(example("async_completion"))
        .args([
            "approve",
            "--url",
            &server.url,
            "--token",
            token.as_str(),
            "--request",
            "invoice 7",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "approver: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        handle.result::<String>().await.unwrap(),
        "approved: invoice 7"
    );
    let d = handle.describe().await.unwrap();
    assert_eq!(
        d.heartbeat_details::<String>().unwrap().as_deref(),
        Some("reviewing"),
        "the approver's heartbeat"
    );

    // The same from a process that rejects: a non-retryable failure.
    let handle = client
        .start_activity("Pending", (), options(&queue))
        .await
        .unwrap();
    let token = tokens.recv().await.unwrap();
    let out = Command::new(example("async_completion"))
        .args([
            "approve",
            "--url",
            &server.url,
            "--token",
            token.as_str(),
            "--request",
            "invoice 8",
            "--reject",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "approver: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = handle.result::<String>().await.unwrap_err();
    let failure = err.activity_failure().unwrap();
    assert_eq!(
        (failure.error_type(), failure.message()),
        (Some("Rejected"), "invoice 8 was rejected")
    );
    assert_eq!(failure.retry_state(), RetryState::NonRetryableFailure);
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn a_pending_activity_is_completed_failed_or_cancelled_by_id() {
    let server = Server::start().await;
    let client = server.client().await;
    let queue = unique("by-id");
    let (worker, mut tokens) = pending_worker(&client, &queue);

    let completed = client
        .start_activity("Pending", (), options(&queue))
        .await
        .unwrap();
    tokens.recv().await.unwrap();
    let answer = completed.heartbeat(("halfway", 50)).await.unwrap();
    assert!(!answer.cancel_requested);
    completed.complete("done by id").await.unwrap();
    assert_eq!(completed.result::<String>().await.unwrap(), "done by id");

    let failed = client
        .start_activity("Pending", (), options(&queue))
        .await
        .unwrap();
    tokens.recv().await.unwrap();
    client
        .fail_activity(
            ActivityTarget::id(failed.id()),
            ActivityError::application("External", "the partner said no"),
        )
        .await
        .unwrap();
    let err = failed.result::<String>().await.unwrap_err();
    assert_eq!(
        err.activity_failure().unwrap().error_type(),
        Some("External")
    );

    let cancelled = client
        .start_activity("Pending", (), options(&queue))
        .await
        .unwrap();
    let token = tokens.recv().await.unwrap();
    cancelled.cancel().await.unwrap();
    // The holder of the token learns of the cancel from its heartbeat, and confirms it.
    assert!(
        client
            .heartbeat_activity(&token, ())
            .await
            .unwrap()
            .cancel_requested
    );
    client
        .report_activity_cancelled(&token, "cleaned up")
        .await
        .unwrap();
    let err = cancelled.result::<String>().await.unwrap_err();
    let failure = err.activity_failure().unwrap();
    assert_eq!(failure.kind(), FailureKind::Cancelled);
    assert_eq!(
        failure.details::<String>().unwrap().as_deref(),
        Some("cleaned up")
    );

    // The token of a closed activity is refused.
    let err = client.complete_activity(&token, "late").await.unwrap_err();
    assert_eq!(err.code(), Some(Code::NotFound), "{err}");
    worker.stop().await.unwrap();
}
