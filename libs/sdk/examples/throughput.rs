//! The worker's overhead: no-op activities through one SDK worker, many concurrent starters.
//!
//! ```sh
//! cargo run --release -p waymark-sdk --example throughput -- --url http://127.0.0.1:7243 --count 2000 --concurrency 50
//! ```
//!
//! Comparable with `waymark bench activities --count 2000 --concurrency 50 --workers 1`, whose
//! worker is a bare HTTP loop. `--pollers N` (default 1) and `--slots N` (default 100) set the
//! worker's pollers and `max_concurrent_activities`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use waymark_sdk::{
    ActivityContext, ActivityError, ActivityOptions, Client, ClientOptions, Worker, WorkerOptions,
};

async fn noop(_ctx: ActivityContext, _input: String) -> Result<String, ActivityError> {
    Ok("done".into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = arg("--url").unwrap_or_else(|| "http://127.0.0.1:7243".into());
    let count: usize = arg("--count").map_or(Ok(2000), |c| c.parse())?;
    let concurrency: usize = arg("--concurrency").map_or(Ok(50), |c| c.parse())?;
    let pollers: usize = arg("--pollers").map_or(Ok(1), |c| c.parse())?;
    let slots: usize = arg("--slots").map_or(Ok(100), |c| c.parse())?;
    let client = Client::connect(&url, ClientOptions::default()).await?;
    let queue = format!("throughput-{}", std::process::id());

    let options = WorkerOptions {
        pollers,
        max_concurrent_activities: slots,
        ..Default::default()
    };
    let mut worker = Worker::new(client.clone(), &queue, options);
    worker.register_activity("Noop", noop)?;
    let shutdown = worker.shutdown_handle();
    let running = tokio::spawn(worker.run());

    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let starters: Vec<_> = (0..concurrency.min(count))
        .map(|_| {
            let (client, queue, next) = (client.clone(), queue.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let options = ActivityOptions::new(&queue)
                        .start_to_close_timeout(Duration::from_secs(60));
                    let handle = client.start_activity("Noop", "x", options).await?;
                    let _: String = handle.result().await?;
                }
                Ok::<_, waymark_sdk::Error>(())
            })
        })
        .collect();
    for s in starters {
        s.await??;
    }
    let elapsed = began.elapsed();
    shutdown.shutdown();
    running.await??;
    println!(
        "{{\"activities\":{count},\"seconds\":{:.3},\"activities_per_s\":{:.1},\"pollers\":{pollers},\"slots\":{slots},\"concurrency\":{concurrency}}}",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}
