//! An activity completed asynchronously by a second process holding its task token.
//!
//! ```sh
//! cargo run -p waymark-sdk --example async_completion -- --url http://127.0.0.1:7243
//! ```
//!
//! The `RequestApproval` activity hands its task token to an "approver" — a second process,
//! this program run as `async_completion approve --url URL --token TOKEN` — and returns
//! `ActivityError::ResultPending`. The approver heartbeats by token (the seeds'
//! `RecordActivityHeartbeat`), then completes the activity by token (`CompleteActivity`);
//! the caller's `result()` gets the approver's answer. `--reject` makes the approver fail it.

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use waymark_sdk::{
    ActivityContext, ActivityError, ActivityOptions, Client, ClientOptions, TaskToken, Worker,
    WorkerOptions,
};

/// The server's URL, for the approver process.
static URL: OnceLock<String> = OnceLock::new();

/// Starts the approver process with this attempt's task token and leaves the result to it.
async fn request_approval(ctx: ActivityContext, request: String) -> Result<String, ActivityError> {
    let token = ctx.info().task_token.to_string();
    let url = URL.get().cloned().unwrap_or_default();
    println!("[worker] {request:?} needs approval; handing task token to the approver process");
    let mut approver = Command::new(std::env::current_exe()?);
    approver.args([
        "approve",
        "--url",
        &url,
        "--token",
        &token,
        "--request",
        &request,
    ]);
    if std::env::args().any(|a| a == "--reject") {
        approver.arg("--reject");
    }
    approver.spawn()?; // not awaited: the activity's work ends here
    Err(ActivityError::ResultPending)
}

/// The second process: heartbeats, then completes (or fails) the activity by its task token.
async fn approve(
    client: &Client,
    token: TaskToken,
    request: &str,
) -> Result<(), waymark_sdk::Error> {
    let answer = client.heartbeat_activity(&token, "reviewing").await?;
    println!(
        "[approver {}] reviewing {request:?} (cancel requested: {})",
        std::process::id(),
        answer.cancel_requested
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    if std::env::args().any(|a| a == "--reject") {
        client
            .fail_activity(
                &token,
                ActivityError::application("Rejected", format!("{request} was rejected"))
                    .non_retryable(),
            )
            .await?;
        println!("[approver] rejected");
    } else {
        client
            .complete_activity(&token, format!("approved: {request}"))
            .await?;
        println!("[approver] approved");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let url = arg("--url").unwrap_or_else(|| "http://127.0.0.1:7243".into());
    let client = Client::connect(&url, ClientOptions::default()).await?;

    if std::env::args().nth(1).as_deref() == Some("approve") {
        let token = arg("--token").ok_or("approve needs --token")?;
        let request = arg("--request").unwrap_or_else(|| "a request".into());
        approve(&client, token.into(), &request).await?;
        return Ok(());
    }

    URL.set(url.clone()).expect("set once");
    let queue = format!("approvals-{}", std::process::id());
    let mut worker = Worker::new(client.clone(), &queue, WorkerOptions::default());
    worker.register_activity("RequestApproval", request_approval)?;
    let shutdown = worker.shutdown_handle();
    let running = tokio::spawn(worker.run());

    let options = ActivityOptions::new(&queue).start_to_close_timeout(Duration::from_secs(60));
    let handle = client
        .start_activity("RequestApproval", "expense #42", options)
        .await?;
    let result = handle.result::<String>().await;
    shutdown.shutdown();
    running.await??;
    match result {
        Ok(answer) => println!("result: {answer}"),
        Err(e) => {
            println!("result: {e}");
            if !std::env::args().any(|a| a == "--reject") {
                return Err(e.into());
            }
        }
    }
    Ok(())
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}
