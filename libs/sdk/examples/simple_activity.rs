//! The seeds' `SimpleActivity`: `"Processed: " + value`.
//!
//! ```sh
//! cargo run -p waymark-sdk --example simple_activity -- --url http://127.0.0.1:7243
//! ```
//!
//! Runs a worker of task queue `simple` in this process, starts `SimpleActivity("hello")`,
//! prints its result and shuts the worker down. Options: `--value V`, `--task-queue Q`,
//! `--worker-only` (serve the queue until Ctrl-C), `--start-only` (start and await the activity,
//! served by another worker, e.g. `examples/python-worker/worker.py`).

use std::time::Duration;

use waymark_sdk::{
    ActivityContext, ActivityError, ActivityOptions, Client, ClientOptions, Worker, WorkerOptions,
};

/// Heartbeats once, then answers `"Processed: " + value` (like the Python worker does).
async fn simple_activity(ctx: ActivityContext, value: String) -> Result<String, ActivityError> {
    ctx.heartbeat("processing");
    Ok(format!("Processed: {value}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logs();
    let url = arg("--url").unwrap_or_else(|| "http://127.0.0.1:7243".into());
    let queue = arg("--task-queue").unwrap_or_else(|| "simple".into());
    let value = arg("--value").unwrap_or_else(|| "hello".into());
    let client = Client::connect(&url, ClientOptions::default()).await?;

    let mut worker = Worker::new(client.clone(), &queue, WorkerOptions::default());
    worker.register_activity("SimpleActivity", simple_activity)?;
    if flag("--worker-only") {
        println!("worker of task queue {queue} running; Ctrl-C to stop");
        worker
            .run_until(async { tokio::signal::ctrl_c().await.unwrap_or_default() })
            .await?;
        return Ok(());
    }
    let shutdown = worker.shutdown_handle();
    let running = (!flag("--start-only")).then(|| tokio::spawn(worker.run()));

    let options = ActivityOptions::new(&queue)
        .start_to_close_timeout(Duration::from_secs(10))
        .heartbeat_timeout(Duration::from_secs(5));
    let handle = client
        .start_activity("SimpleActivity", &value, options)
        .await?;
    let result: String = handle.result().await?;
    println!("{result}");

    shutdown.shutdown();
    if let Some(running) = running {
        running.await??;
    }
    Ok(())
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn init_logs() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
