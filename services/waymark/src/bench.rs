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

/// `waymark bench workflows`: W workflows each running K sequential activities. The bench
/// plays the workflow worker (each task schedules the next activity, then completes the
/// workflow) and the activity worker (completes each activity at once).
#[derive(clap::Args, Clone)]
pub struct WorkflowsBench {
    #[arg(long, default_value = "http://127.0.0.1:7243")]
    url: String,
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Workflows to run.
    #[arg(long, default_value_t = 200)]
    workflows: usize,
    /// Sequential activities per workflow.
    #[arg(long, default_value_t = 10)]
    activities: usize,
    /// Workflow task pollers.
    #[arg(long, default_value_t = 8)]
    workflow_workers: usize,
    /// Activity task pollers.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    #[arg(long)]
    json: bool,
}

/// Start instants of running workflows, and the end-to-end latency of closed ones.
#[derive(Default)]
struct WorkflowSamples {
    started: std::collections::HashMap<String, Instant>,
    end_to_end: Vec<Duration>,
}

pub async fn run_workflows(b: WorkflowsBench) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let base = format!("{}/api/v1/namespaces/{}", b.url.trim_end_matches('/'), b.namespace);
    let salt = uuid::Uuid::new_v4().simple().to_string();
    let (wq, aq) = (format!("bench-wf-{salt}"), format!("bench-act-{salt}"));
    let samples = Arc::new(std::sync::Mutex::new(WorkflowSamples::default()));
    let completed = Arc::new(AtomicUsize::new(0));
    let done = tokio_util::sync::CancellationToken::new();
    let s2s: ScheduleToStart = Arc::default();

    let mut tasks = Vec::new();
    for _ in 0..b.workers {
        tasks.push(tokio::spawn(worker(http.clone(), base.clone(), aq.clone(), completed.clone(), s2s.clone(), done.clone())));
    }
    for _ in 0..b.workflow_workers {
        let (http, base, wq, aq, samples, done) = (http.clone(), base.clone(), wq.clone(), aq.clone(), samples.clone(), done.clone());
        let k = b.activities;
        tasks.push(tokio::spawn(async move { workflow_worker(&http, &base, &wq, &aq, k, &samples, &done).await }));
    }
    let began = Instant::now();
    for i in 0..b.workflows {
        let id = format!("{salt}-{i}");
        samples.lock().expect("samples").started.insert(id.clone(), Instant::now());
        let start = json!({"workflowType": {"name": "BenchWorkflow"}, "taskQueue": {"name": wq}, "input": [i]});
        let r = http.post(format!("{base}/workflows/{id}")).json(&start).send().await?;
        if !r.status().is_success() {
            bail!("start workflow: {} {}", r.status(), r.text().await?);
        }
    }
    // Every workflow closes when the bench's own workflow worker completes it.
    while samples.lock().expect("samples").end_to_end.len() < b.workflows {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = began.elapsed();
    done.cancel();
    for t in tasks {
        t.await??;
    }
    let e2e = std::mem::take(&mut samples.lock().expect("samples").end_to_end);
    let activities = b.workflows * b.activities;
    let report = json!({
        "workflows": b.workflows,
        "activities": activities,
        "seconds": elapsed.as_secs_f64(),
        "activities_per_s": activities as f64 / elapsed.as_secs_f64(),
        "workflows_per_s": b.workflows as f64 / elapsed.as_secs_f64(),
        "workflow_end_to_end_ms": percentiles(e2e),
        "schedule_to_start_ms": percentiles(std::mem::take(&mut *s2s.lock().expect("samples"))),
    });
    println!("{}", if b.json { report.to_string() } else { serde_json::to_string_pretty(&report)? });
    if completed.load(Ordering::Relaxed) != activities {
        bail!("{} activities completed, {activities} expected", completed.load(Ordering::Relaxed));
    }
    Ok(())
}

/// Answers workflow tasks: schedules the next activity until `k` have completed, then completes.
async fn workflow_worker(
    http: &reqwest::Client,
    base: &str,
    wq: &str,
    aq: &str,
    k: usize,
    samples: &std::sync::Mutex<WorkflowSamples>,
    done: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let poll = json!({"taskQueue": {"name": wq}, "identity": "bench-workflow-worker"});
    while !done.is_cancelled() {
        let answer = tokio::select! {
            r = http.post(format!("{base}/workflow-tasks/poll")).header("Grpc-Timeout", "3S").json(&poll).send() => r?,
            _ = done.cancelled() => break,
        };
        let task: Value = answer.json().await?;
        let Some(token) = task.get("taskToken").and_then(Value::as_str) else { continue };
        let events = task.pointer("/history/events").and_then(Value::as_array).cloned().unwrap_or_default();
        let finished = events.iter().filter(|e| e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_COMPLETED").count();
        let command = if finished < k {
            json!({"commandType": "COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK", "scheduleActivityTaskCommandAttributes": {
                "activityId": format!("a{finished}"), "activityType": {"name": "Bench"}, "taskQueue": {"name": aq},
                "input": [finished], "startToCloseTimeout": "60s"}})
        } else {
            json!({"commandType": "COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION", "completeWorkflowExecutionCommandAttributes": {"result": ["done"]}})
        };
        let reply = json!({"taskToken": token, "identity": "bench-workflow-worker", "commands": [command]});
        let r = http.post(format!("{base}/workflow-tasks/complete")).json(&reply).send().await?;
        if r.status().is_success() && finished >= k {
            let id = task.pointer("/workflowExecution/workflowId").and_then(Value::as_str).unwrap_or_default();
            let mut s = samples.lock().expect("samples");
            if let Some(started) = s.started.remove(id) {
                s.end_to_end.push(started.elapsed());
            }
        }
    }
    Ok(())
}
