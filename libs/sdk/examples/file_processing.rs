//! A long file-processing activity that heartbeats its progress and, after its worker is
//! killed, resumes on another worker from the last heartbeat details.
//!
//! ```sh
//! cargo run -p waymark-sdk --example file_processing -- --url http://127.0.0.1:7243
//! ```
//!
//! The demo writes a 200-line file, starts a worker process, starts `ProcessFile` on it, kills
//! that worker (SIGKILL) a third of the way through, starts a second worker process, and waits
//! for the result: the second attempt continues from the line the first one last reported.
//!
//! `file_processing worker --url URL [--task-queue Q]` runs just a worker.

use std::process::{Child, Command};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use waymark_sdk::{
    ActivityContext, ActivityError, ActivityOptions, Client, ClientOptions, RetryPolicy, Worker,
    WorkerOptions,
};

/// Progress, sent as heartbeat details.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Progress {
    line: usize,
    words: u64,
}

/// What the activity returns.
#[derive(Debug, Serialize, Deserialize)]
struct Summary {
    path: String,
    lines: usize,
    words: u64,
    resumed_from: usize,
    attempt: u32,
}

/// Counts the words of `path`, one line per `delay_ms`, resuming from the previous attempt's
/// last heartbeat.
async fn process_file(
    ctx: ActivityContext,
    (path, delay_ms): (String, u64),
) -> Result<Summary, ActivityError> {
    let resumed: Progress = ctx.heartbeat_details()?.unwrap_or_default();
    let attempt = ctx.info().attempt;
    println!(
        "[worker {}] attempt {attempt}: processing {path} from line {}",
        std::process::id(),
        resumed.line
    );
    let text = tokio::fs::read_to_string(&path).await?;
    let mut progress = resumed.clone();
    for line in text.lines().skip(resumed.line) {
        tokio::select! {
            reason = ctx.cancelled() => {
                println!("[worker {}] stopping at line {}: {reason}", std::process::id(), progress.line);
                return Err(ActivityError::cancelled().details(&progress));
            }
            () = tokio::time::sleep(Duration::from_millis(delay_ms)) => {}
        }
        progress.words += line.split_whitespace().count() as u64;
        progress.line += 1;
        ctx.heartbeat(&progress);
    }
    Ok(Summary {
        path,
        lines: progress.line,
        words: progress.words,
        resumed_from: resumed.line,
        attempt,
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let url = arg("--url").unwrap_or_else(|| "http://127.0.0.1:7243".into());
    let queue = arg("--task-queue").unwrap_or_else(|| "files".into());
    let client = Client::connect(&url, ClientOptions::default()).await?;
    if std::env::args().nth(1).as_deref() == Some("worker") {
        let mut worker = Worker::new(client, &queue, WorkerOptions::default());
        worker.register_activity("ProcessFile", process_file)?;
        worker
            .run_until(async { tokio::signal::ctrl_c().await.unwrap_or_default() })
            .await?;
        return Ok(());
    }
    demo(client, &url).await
}

async fn demo(client: Client, url: &str) -> Result<(), Box<dyn std::error::Error>> {
    // A fresh queue, so that no other worker takes the task.
    let queue = format!("files-{}", uuid_ish());
    let path = std::env::temp_dir().join(format!("waymark-file-{}.txt", uuid_ish()));
    let text: String = (0..200)
        .map(|i| format!("line {i}: {}\n", "word ".repeat(i % 7 + 1)))
        .collect();
    let expected_words: u64 = text
        .lines()
        .map(|l| l.split_whitespace().count() as u64)
        .sum();
    std::fs::write(&path, &text)?;

    let mut first = spawn_worker(url, &queue)?;
    let options = ActivityOptions::new(&queue)
        .start_to_close_timeout(Duration::from_secs(120))
        .heartbeat_timeout(Duration::from_secs(2))
        .retry_policy(RetryPolicy {
            initial_interval: Some(Duration::from_millis(500)),
            ..Default::default()
        });
    let handle = client
        .start_activity("ProcessFile", (path.display().to_string(), 20u64), options)
        .await?;
    println!("started ProcessFile {}", handle.id());

    // Wait for a third of the file, then kill the worker without warning.
    let killed_at = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(p) = handle.describe().await?.heartbeat_details::<Progress>()?
            && p.line >= 66
        {
            break p.line;
        }
    };
    first.kill()?;
    first.wait()?;
    println!(
        "killed worker 1 (SIGKILL) after it reported line {killed_at}; the server times the attempt out after the 2 s heartbeat timeout"
    );

    let mut second = spawn_worker(url, &queue)?;
    let summary: Result<Summary, _> = handle.result().await;
    second.kill()?;
    second.wait()?;
    let _ = std::fs::remove_file(&path);
    let summary = summary?;
    println!("result: {summary:?}");
    if summary.resumed_from < killed_at
        || summary.lines != 200
        || summary.words != expected_words
        || summary.attempt < 2
    {
        return Err(format!("expected a second attempt resuming from line >= {killed_at} with 200 lines and {expected_words} words").into());
    }
    println!(
        "attempt {} resumed from line {} of 200 and counted {} words",
        summary.attempt, summary.resumed_from, summary.words
    );
    Ok(())
}

fn spawn_worker(url: &str, queue: &str) -> std::io::Result<Child> {
    Command::new(std::env::current_exe()?)
        .args(["worker", "--url", url, "--task-queue", queue])
        .spawn()
}

fn uuid_ish() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", std::process::id())
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}
