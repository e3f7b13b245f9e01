//! Many activities started in parallel and awaited together.
//!
//! ```sh
//! cargo run -p waymark-sdk --example parallel -- --url http://127.0.0.1:7243
//! ```
//!
//! Starts `Square(i)` for i in 0..50 (`--count N`) on a worker of 10 slots running in this
//! process, awaits every result together and checks their sum.

use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use waymark_sdk::{
    ActivityContext, ActivityError, ActivityOptions, Client, ClientOptions, Worker, WorkerOptions,
};

/// Squares its input after a short pause (standing for real work).
async fn square(_ctx: ActivityContext, n: u64) -> Result<u64, ActivityError> {
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(n * n)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let url = arg("--url").unwrap_or_else(|| "http://127.0.0.1:7243".into());
    let count: u64 = arg("--count").map_or(Ok(50), |c| c.parse())?;
    let client = Client::connect(&url, ClientOptions::default()).await?;
    let queue = format!("parallel-{}", std::process::id());

    let options = WorkerOptions {
        max_concurrent_activities: 10,
        ..Default::default()
    };
    let mut worker = Worker::new(client.clone(), &queue, options);
    worker.register_activity("Square", square)?;
    let shutdown = worker.shutdown_handle();
    let running = tokio::spawn(worker.run());

    let began = Instant::now();
    let mut pending = JoinSet::new();
    for n in 0..count {
        let client = client.clone();
        let options = ActivityOptions::new(&queue).start_to_close_timeout(Duration::from_secs(30));
        pending.spawn(async move {
            let handle = client.start_activity("Square", n, options).await?;
            handle.result::<u64>().await
        });
    }
    let mut sum = 0;
    while let Some(result) = pending.join_next().await {
        sum += result??;
    }
    let expected: u64 = (0..count).map(|n| n * n).sum();
    println!(
        "{count} activities in {:?}: sum of squares = {sum}",
        began.elapsed()
    );
    shutdown.shutdown();
    running.await??;
    if sum != expected {
        return Err(format!("expected {expected}").into());
    }
    Ok(())
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}
