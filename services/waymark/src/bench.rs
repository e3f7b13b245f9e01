//! `waymark bench activities`: a load generator for any Waymark deployment. Clients start
//! standalone activities and long-poll their outcomes; in-process HTTP workers poll the queue
//! and complete each task at once. Prints throughput and latency percentiles.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::sync::Mutex;

#[derive(clap::Args, Clone)]
pub struct ActivitiesBench {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:7243")]
    url: String,
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Activities to run.
    #[arg(long, default_value_t = 2000)]
    count: usize,
    /// Concurrent clients, each starting an activity and waiting for its outcome.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Concurrent worker pollers.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Default)]
struct Samples {
    start_to_outcome: Vec<Duration>,
    errors: Vec<String>,
}

/// Time from schedule to start of each task, as the server stamped them on the task.
type ScheduleToStart = Arc<std::sync::Mutex<Vec<Duration>>>;

fn schedule_to_start(task: &Value) -> Option<Duration> {
    let at = |k: &str| task.get(k).and_then(Value::as_str).and_then(|s| waymark_api::Timestamp::parse(s).ok());
    let waited = at("startedTime")?.since(at("currentAttemptScheduledTime")?);
    Some(waited.to_std())
}

fn percentiles(mut v: Vec<Duration>) -> Value {
    v.sort();
    let at = |p: f64| v.get(((v.len() as f64 * p).ceil() as usize).saturating_sub(1)).map_or(0.0, |d| d.as_secs_f64() * 1e3);
    json!({"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": at(1.0)})
}

pub async fn run(b: ActivitiesBench) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(b.concurrency + b.workers).build()?;
    let base = format!("{}/api/v1/namespaces/{}", b.url.trim_end_matches('/'), b.namespace);
    let queue = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let next = Arc::new(AtomicUsize::new(0));
    let completed = Arc::new(AtomicUsize::new(0));
    let samples = Arc::new(Mutex::new(Samples::default()));
    let s2s: ScheduleToStart = Arc::default();
    let done = tokio_util::sync::CancellationToken::new();

    let workers: Vec<_> = (0..b.workers)
        .map(|_| tokio::spawn(worker(http.clone(), base.clone(), queue.clone(), completed.clone(), s2s.clone(), done.clone())))
        .collect();
    let began = Instant::now();
    let clients: Vec<_> = (0..b.concurrency.min(b.count))
        .map(|_| {
            let (http, base, queue, next, samples) = (http.clone(), base.clone(), queue.clone(), next.clone(), samples.clone());
            let count = b.count;
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let result = one_activity(&http, &base, &queue).await;
                    let mut s = samples.lock().await;
                    match result {
                        Ok(d) => s.start_to_outcome.push(d),
                        Err(e) => s.errors.push(e.to_string()),
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.await?;
    }
    let elapsed = began.elapsed();
    done.cancel();
    for w in workers {
        w.await??;
    }
    let s = std::mem::take(&mut *samples.lock().await);
    let ok = s.start_to_outcome.len();
    let report = json!({
        "activities": b.count,
        "completed": ok,
        "completed_by_workers": completed.load(Ordering::Relaxed),
        "errors": s.errors.len(),
        "seconds": elapsed.as_secs_f64(),
        "activities_per_s": ok as f64 / elapsed.as_secs_f64(),
        "start_to_outcome_ms": percentiles(s.start_to_outcome),
        "schedule_to_start_ms": percentiles(std::mem::take(&mut *s2s.lock().expect("samples"))),
        "workers": b.workers,
        "concurrency": b.concurrency,
    });
    if b.json {
        println!("{report}");
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
        if let Some(e) = s.errors.first() {
            println!("first error: {e}");
        }
    }
    if ok != b.count || completed.load(Ordering::Relaxed) != b.count {
        bail!("not every activity completed exactly once");
    }
    Ok(())
}

async fn one_activity(http: &reqwest::Client, base: &str, queue: &str) -> anyhow::Result<Duration> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let t0 = Instant::now();
    let start = json!({"activityType": {"name": "Bench"}, "taskQueue": {"name": queue}, "input": ["x"], "startToCloseTimeout": "60s"});
    let r = http.post(format!("{base}/activities/{id}")).json(&start).send().await?;
    if !r.status().is_success() {
        bail!("start: {} {}", r.status(), r.text().await?);
    }
    loop {
        let r = http.get(format!("{base}/activities/{id}/outcome")).header("Grpc-Timeout", "30S").send().await?;
        let v: Value = r.json().await.context("outcome")?;
        if v.get("outcome").is_some() {
            return Ok(t0.elapsed());
        }
    }
}

async fn worker(
    http: reqwest::Client,
    base: String,
    queue: String,
    completed: Arc<AtomicUsize>,
    s2s: ScheduleToStart,
    done: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let poll = json!({"taskQueue": {"name": queue}, "identity": "bench-worker"});
    while !done.is_cancelled() {
        let answer = tokio::select! {
            r = http.post(format!("{base}/activity-tasks/poll")).header("Grpc-Timeout", "3S").json(&poll).send() => r?,
            _ = done.cancelled() => break,
        };
        let task: Value = answer.json().await?;
        let Some(token) = task.get("taskToken").and_then(Value::as_str) else { continue };
        if let Some(waited) = schedule_to_start(&task) {
            s2s.lock().expect("samples").push(waited);
        }
        let r = http.post(format!("{base}/activity-complete")).json(&json!({"taskToken": token, "result": ["done"]})).send().await?;
        if r.status().is_success() {
            completed.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}
