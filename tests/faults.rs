//! Fault tolerance of the distributed deployment, each test on a cluster of its own (its own
//! PostgreSQL and Redis, see `support::cluster`). With 200 activities in flight and workers
//! completing them, a service killed with SIGKILL and restarted, Redis restarted empty, or
//! PostgreSQL restarted: every activity still closes, none is lost, and the server accepts no
//! activity's completion twice. Also: a rate limit that two matching instances share, and two
//! timer instances that never fire a timer twice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::support::cluster::{Cluster, Role, Topology};
use crate::support::*;

const ACTIVITIES: usize = 200;
const POLLERS: usize = 24;
/// How long a worker holds a task before it completes it, so that many are held when the fault hits.
const WORK_TIME: Duration = Duration::from_millis(300);
/// Completions accepted before the fault.
const FAULT_AFTER: usize = 50;
/// How long a killed service or store stays down.
const OUTAGE: Duration = Duration::from_secs(1);
/// From the restart until every activity must have closed.
const ALL_CLOSED_WITHIN: Duration = Duration::from_secs(60);
/// A worker's pause after a failed call.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------------------------------------
// The faults

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_history() {
    with_fault("kill -9 history", async |c: &mut Cluster| {
        c.kill9(Role::History, 0).await;
        tokio::time::sleep(OUTAGE).await;
        c.restart(Role::History, 0).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_matching() {
    with_fault("kill -9 matching", async |c: &mut Cluster| {
        c.kill9(Role::Matching, 0).await;
        tokio::time::sleep(OUTAGE).await;
        c.restart(Role::Matching, 0).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_timer() {
    with_fault("kill -9 timer", async |c: &mut Cluster| {
        c.kill9(Role::Timer, 0).await;
        tokio::time::sleep(OUTAGE).await;
        c.restart(Role::Timer, 0).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_frontend() {
    with_fault("kill -9 frontend", async |c: &mut Cluster| {
        c.kill9(Role::Frontend, 0).await;
        tokio::time::sleep(OUTAGE).await;
        c.restart(Role::Frontend, 0).await;
    })
    .await;
}

/// `waymark bench activities` across a kill -9 of the frontend: a completion whose answer the
/// kill lost (history committed it) is resolved by describing the activity, so the bench still
/// reports every activity completed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_reports_the_truth_across_a_frontend_kill9() {
    let mut cluster = Cluster::start().await;
    let queue = unique("bench");
    let bench = tokio::process::Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args([
            "bench",
            "activities",
            "--json",
            "--count",
            "400",
            "--workers",
            "16",
        ])
        .args(["--url", cluster.client().origin(), "--task-queue", &queue])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn waymark bench");
    let client = cluster.client();
    let all = completed_query(&queue);
    eventually(Duration::from_secs(60), || async {
        (count(&client, &all).await? >= FAULT_AFTER).then_some(())
    })
    .await;
    cluster.kill9(Role::Frontend, 0).await;
    tokio::time::sleep(OUTAGE).await;
    cluster.restart(Role::Frontend, 0).await;
    let out = tokio::time::timeout(Duration::from_secs(180), bench.wait_with_output())
        .await
        .expect("the bench finishes")
        .expect("the bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    eprintln!("bench across a frontend kill -9: {report}");
    assert!(out.status.success(), "{report}");
    assert_eq!(report["check"]["exactly_once"], true, "{report}");
    assert_eq!(report["check"]["not_completed"], 0, "{report}");
}

/// The queued tasks are gone with Redis; history's sweeper must dispatch them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty() {
    with_fault(
        "redis-server killed and restarted empty",
        async |c: &mut Cluster| {
            c.kill9_redis().await;
            tokio::time::sleep(OUTAGE).await;
            c.start_redis().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted() {
    with_fault(
        "PostgreSQL stopped (immediate) and restarted",
        async |c: &mut Cluster| {
            c.stop_postgres().await;
            tokio::time::sleep(OUTAGE).await;
            c.start_postgres().await;
        },
    )
    .await;
}

/// Starts 200 activities, has workers complete them (dropping the first attempt of every fourth,
/// so that timeouts and retries go on throughout), injects `fault` after 50 completions, then
/// checks that all 200 complete, each by exactly one accepted completion.
async fn with_fault(name: &str, fault: impl AsyncFnOnce(&mut Cluster)) {
    let began = Instant::now();
    let mut cluster = Cluster::start().await;
    let setup = began.elapsed();
    let queue = unique("faults");
    let options = json!({
        "startToCloseTimeout": "2s",
        "retryPolicy": {"initialInterval": "0.2s", "backoffCoefficient": 1.5, "maximumInterval": "1s"},
    });
    let ids = start_activities(&cluster.client(), &queue, ACTIVITIES, options).await;
    let tally = Arc::new(Tally::default());
    let worker = Worker {
        queue: queue.clone(),
        tally: tally.clone(),
        hold: WORK_TIME,
        complete_if: not_every_fourth_first_attempt,
        poll_rate: None,
    };
    let mut workers = worker.spawn(&[cluster.client()], POLLERS);

    let before = Instant::now();
    eventually(Duration::from_secs(30), || async {
        (tally.accepted_total() >= FAULT_AFTER).then_some(())
    })
    .await;
    let (done, held, errors_before) = (
        tally.accepted_total(),
        tally.held(),
        tally.errors.load(Ordering::Relaxed),
    );
    let fault_at = Instant::now();
    fault(&mut cluster).await;
    let restarted = Instant::now();
    let all = completed_query(&queue);
    wait_until_closed(
        &cluster,
        &tally,
        &ids,
        &[(all.as_str(), ACTIVITIES)],
        ALL_CLOSED_WITHIN,
    )
    .await;
    let closed = Instant::now();
    workers.shutdown().await;

    let problems = check_completed_once(&cluster.client(), &queue, &ids, &tally).await;
    let report = format!(
        "{name}: setup {setup:.1?}, {FAULT_AFTER} completions in {:.1?}, fault with {done} completed and {held} held by \
         workers, down for {:.1?}, all {ACTIVITIES} completed {:.1?} after the restart; workers saw {} failed calls \
         during and after the fault, {} stale completions",
        fault_at - before,
        restarted - fault_at,
        closed - restarted,
        tally.errors.load(Ordering::Relaxed) - errors_before,
        tally.stale.load(Ordering::Relaxed),
    );
    let report = format!(
        "{report}; first failed calls: {:?}",
        tally.error_samples.lock().unwrap()
    );
    eprintln!("{report}");
    assert!(
        problems.is_empty(),
        "{report}\n{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Several instances of a service

/// Two matching instances (each behind its own frontend, the pollers split between them) share
/// a limit of 20 tasks/s set with `update-config`: 200 tasks take at least 9.5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_matching_instances_share_a_rate_limit_set_by_update_config() {
    rate_limited_dispatch(LimitBy::UpdateConfig).await;
}

/// The same limit, set by the pollers (`taskQueueMetadata.maxTasksPerSecond`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_matching_instances_share_a_rate_limit_set_by_the_pollers() {
    rate_limited_dispatch(LimitBy::Pollers).await;
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum LimitBy {
    UpdateConfig,
    Pollers,
}

const RATE: f64 = 20.0;
const RATE_LIMITED_AT_LEAST: Duration = Duration::from_millis(9_500);

async fn rate_limited_dispatch(by: LimitBy) {
    let cluster = Cluster::start_with(Topology {
        matching: 2,
        frontend: 2,
        ..Topology::default()
    })
    .await;
    let queue = unique("rate");
    let ids = start_activities(
        &cluster.client(),
        &queue,
        ACTIVITIES,
        json!({"startToCloseTimeout": "60s"}),
    )
    .await;
    if by == LimitBy::UpdateConfig {
        let body = json!({
            "taskQueueType": "TASK_QUEUE_TYPE_ACTIVITY",
            "updateQueueRateLimit": {"rateLimit": {"requestsPerSecond": RATE}},
            "identity": "faults-test",
        });
        let path = format!("task-queues/{queue}/update-config");
        let (status, answer) = cluster.client().post(&path, body).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "POST .../{path} (set the queue's rate limit) answered {status}: {answer}"
        );
    }

    let tally = Arc::new(Tally::default());
    let poll_rate = (by == LimitBy::Pollers).then_some(RATE);
    let worker = Worker {
        queue: queue.clone(),
        tally: tally.clone(),
        hold: Duration::ZERO,
        complete_if: always,
        poll_rate,
    };
    let began = Instant::now();
    let mut workers = worker.spawn(&[cluster.client_of(0), cluster.client_of(1)], 20);
    let all = completed_query(&queue);
    wait_until_closed(
        &cluster,
        &tally,
        &ids,
        &[(all.as_str(), ACTIVITIES)],
        Duration::from_secs(60),
    )
    .await;
    workers.shutdown().await;

    let dispatched = tally.dispatched.lock().unwrap().clone();
    let took = dispatched
        .iter()
        .map(|(at, _)| *at)
        .max()
        .expect("tasks were dispatched")
        - began;
    let mut per_second = BTreeMap::<u64, usize>::new();
    let mut per_matching = [0usize; 2];
    for (at, frontend) in &dispatched {
        *per_second.entry((*at - began).as_secs()).or_default() += 1;
        per_matching[*frontend] += 1;
    }
    let problems = check_completed_once(&cluster.client(), &queue, &ids, &tally).await;
    let report = format!(
        "{ACTIVITIES} tasks at {RATE}/s (set by {by:?}) dispatched in {took:.2?}: per second since the polls began \
         {per_second:?}; through matching 0 and 1: {per_matching:?}"
    );
    eprintln!("{report}");
    assert!(problems.is_empty(), "{report}\n{}", problems.join("\n"));
    assert!(
        per_matching.iter().all(|n| *n > 0),
        "both matching instances should have dispatched: {report}"
    );
    assert!(
        took >= RATE_LIMITED_AT_LEAST,
        "faster than the global limit allows (at least {RATE_LIMITED_AT_LEAST:?}): {report}"
    );
}

/// Two timer instances fire the timeouts and retry backoffs of 200 activities (each attempt's
/// start-to-close timer fires: the workers hold attempt 1 of all and attempt 2 of the odd ones
/// without answering). Their debug logs name every timer fired: none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_timer_instances_never_fire_a_timer_twice() {
    let topology = Topology {
        timer: 2,
        log: "waymark_timer=debug,info".into(),
        ..Topology::default()
    };
    let cluster = Cluster::start_with(topology).await;
    let queue = unique("timers");
    let options = json!({
        "startToCloseTimeout": "1s",
        "retryPolicy": {"initialInterval": "0.2s", "backoffCoefficient": 1, "maximumAttempts": 2},
    });
    let ids = start_activities(&cluster.client(), &queue, ACTIVITIES, options).await;
    let tally = Arc::new(Tally::default());
    let complete_if: fn(&str, i64) -> bool = |id, attempt| attempt == 2 && is_even(id);
    let worker = Worker {
        queue: queue.clone(),
        tally: tally.clone(),
        hold: Duration::ZERO,
        complete_if,
        poll_rate: None,
    };
    let mut workers = worker.spawn(&[cluster.client()], 16);
    let completed = completed_query(&queue);
    let timed_out = format!("TaskQueue = '{queue}' AND ExecutionStatus = 'TimedOut'");
    let expected = [
        (completed.as_str(), ACTIVITIES / 2),
        (timed_out.as_str(), ACTIVITIES / 2),
    ];
    wait_until_closed(&cluster, &tally, &ids, &expected, Duration::from_secs(60)).await;
    workers.shutdown().await;

    let client = cluster.client();
    let mut problems = Vec::new();
    let received = tally.received.lock().unwrap().clone();
    let accepted = tally.accepted.lock().unwrap().clone();
    for id in &ids {
        let info = client.describe(id).await;
        let (state, outcome) = (&info["info"], &info["outcome"]);
        let expected = if is_even(id) {
            json!({"status": "ACTIVITY_EXECUTION_STATUS_COMPLETED", "attempt": 2, "outcome": {"result": [id, 2]}})
        } else {
            json!({"status": "ACTIVITY_EXECUTION_STATUS_TIMED_OUT", "attempt": 2})
        };
        let mut actual = json!({"status": state["status"], "attempt": state["attempt"]});
        if is_even(id) {
            actual["outcome"] = outcome.clone();
        }
        if actual != expected {
            problems.push(format!("{id}: expected {expected}, got {actual}"));
        }
        let got = received.get(id).cloned().unwrap_or_default();
        if got != [1, 2] {
            problems.push(format!(
                "{id}: the workers received attempts {got:?}, expected [1, 2]"
            ));
        }
        let want: &[i64] = if is_even(id) { &[2] } else { &[] };
        if accepted.get(id).map_or(&[][..], Vec::as_slice) != want {
            problems.push(format!(
                "{id}: completions accepted for attempts {:?}",
                accepted.get(id)
            ));
        }
    }

    let fired = [0, 1].map(|i| fired_timers(&cluster.log(Role::Timer, i)));
    let mut seen = HashMap::<i64, Vec<usize>>::new();
    for (instance, ids) in fired.iter().enumerate() {
        for id in ids {
            seen.entry(*id).or_default().push(instance);
        }
    }
    let twice: BTreeMap<i64, Vec<usize>> = seen
        .iter()
        .filter(|(_, by)| by.len() > 1)
        .map(|(id, by)| (*id, by.clone()))
        .collect();
    let report = format!(
        "timer 0 fired {} timers, timer 1 fired {}, {} distinct; fired more than once (timer id: instances): {twice:?}",
        fired[0].len(),
        fired[1].len(),
        seen.len()
    );
    eprintln!("{report}");
    assert!(
        problems.is_empty(),
        "{report}\n{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(twice.is_empty(), "{report}");
    // 200 first attempts and 100 second attempts timed out, each by its start-to-close timer.
    assert!(
        seen.len() >= 300,
        "fewer timers fired than attempts timed out: {report}"
    );
    assert!(
        fired.iter().all(|f| !f.is_empty()),
        "both timer instances should have fired timers: {report}"
    );
}

/// Timer ids in `tracing::debug!(timer = id, "fired")` lines.
fn fired_timers(log: &str) -> Vec<i64> {
    log.lines()
        .map(strip_ansi)
        .filter_map(|line| {
            let rest = line.split_once("waymark_timer")?.1;
            let rest = rest.split_once(" fired ")?.1;
            let id = rest.split_once("timer=")?.1;
            id.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        })
        .collect()
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Activities and workers

/// Starts `n` activities `<queue>-000` ... on `queue` with `options`, 10 at a time.
async fn start_activities(client: &Client, queue: &str, n: usize, options: Value) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|i| format!("{queue}-{i:03}")).collect();
    let mut starters = JoinSet::new();
    for chunk in ids.chunks(n.div_ceil(10)) {
        let (client, chunk, queue) = (client.clone(), chunk.to_vec(), queue.to_owned());
        let mut extra = options.clone();
        extra["taskQueue"] = json!({"name": queue});
        starters.spawn(async move {
            for id in chunk {
                client.start_activity(&id, extra.clone()).await;
            }
        });
    }
    while let Some(done) = starters.join_next().await {
        done.expect("starting activities");
    }
    ids
}

fn always(_: &str, _: i64) -> bool {
    true
}

/// The first attempt of every fourth activity is dropped, so that start-to-close timers and
/// retry backoffs fire (at the timer service) all through a fault.
fn not_every_fourth_first_attempt(id: &str, attempt: i64) -> bool {
    attempt > 1 || !number(id).is_multiple_of(4)
}

fn is_even(id: &str) -> bool {
    number(id).is_multiple_of(2)
}

fn number(id: &str) -> usize {
    id.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("an activity id ends in its number")
}

/// What the workers saw, per activity id.
#[derive(Default)]
struct Tally {
    /// Attempts handed to a worker.
    received: Mutex<HashMap<String, Vec<i64>>>,
    /// Attempts whose completion the server accepted (200).
    accepted: Mutex<HashMap<String, Vec<i64>>>,
    /// Completions whose answer was lost (transport error or 5xx) and that were stale when retried:
    /// the server may or may not have applied them.
    in_doubt: Mutex<HashSet<(String, i64)>>,
    /// When each task was handed out, and through which frontend.
    dispatched: Mutex<Vec<(Instant, usize)>>,
    /// Answers no worker call should get (a 4xx other than a stale token's 404).
    unexpected: Mutex<Vec<String>>,
    /// Calls that failed: transport errors and 5xx.
    errors: AtomicUsize,
    /// The first few of those failures, for the report.
    error_samples: Mutex<Vec<String>>,
    /// Completions answered 404 (the attempt had timed out meanwhile).
    stale: AtomicUsize,
    /// Tasks a worker holds right now.
    holding: AtomicUsize,
}

impl Tally {
    fn accepted_total(&self) -> usize {
        self.accepted.lock().unwrap().values().map(Vec::len).sum()
    }

    fn held(&self) -> usize {
        self.holding.load(Ordering::Relaxed)
    }

    fn failed(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut samples = self.error_samples.lock().unwrap();
        if samples.len() < 3 {
            samples.push(what.chars().take(200).collect());
        }
    }
}

#[derive(Clone)]
struct Worker {
    queue: String,
    tally: Arc<Tally>,
    /// How long a task is worked on before it is completed.
    hold: Duration,
    /// Which attempts the worker completes; the others it drops without a word (they time out).
    complete_if: fn(&str, i64) -> bool,
    /// `taskQueueMetadata.maxTasksPerSecond` of its polls.
    poll_rate: Option<f64>,
}

impl Worker {
    /// `pollers` concurrent pollers, split evenly between the `frontends`.
    fn spawn(&self, frontends: &[Client], pollers: usize) -> JoinSet<()> {
        let mut set = JoinSet::new();
        for p in 0..pollers {
            let frontend = p % frontends.len();
            set.spawn(
                self.clone()
                    .poll_loop(frontends[frontend].clone(), frontend),
            );
        }
        set
    }

    async fn poll_loop(self, client: Client, frontend: usize) {
        let mut body = json!({"taskQueue": {"name": self.queue}, "identity": format!("fault-worker-{frontend}")});
        if let Some(rate) = self.poll_rate {
            body["taskQueueMetadata"] = json!({"maxTasksPerSecond": rate});
        }
        loop {
            let task = match client
                .try_post("activity-tasks/poll", &body, Some("5S"))
                .await
            {
                Ok((StatusCode::OK, task)) => task,
                Ok((status, answer)) if status.is_server_error() => {
                    self.tally.failed(format!("poll: {status} {answer}"));
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue;
                }
                Ok((status, answer)) => {
                    self.tally
                        .unexpected
                        .lock()
                        .unwrap()
                        .push(format!("poll: {status} {answer}"));
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue;
                }
                Err(e) => {
                    self.tally.failed(format!("poll: {e}"));
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue;
                }
            };
            let Some(token) = task["taskToken"].as_str().filter(|t| !t.is_empty()) else {
                continue;
            };
            let id = task["activityId"].as_str().unwrap_or_default().to_owned();
            let attempt = task["attempt"].as_i64().unwrap_or_default();
            self.tally
                .dispatched
                .lock()
                .unwrap()
                .push((Instant::now(), frontend));
            self.tally
                .received
                .lock()
                .unwrap()
                .entry(id.clone())
                .or_default()
                .push(attempt);
            if !(self.complete_if)(&id, attempt) {
                continue;
            }
            self.tally.holding.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(self.hold).await; // the work
            self.complete(&client, &id, attempt, token).await;
            self.tally.holding.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Completes the attempt, retrying through an outage until the server answers 200 or 404.
    async fn complete(&self, client: &Client, id: &str, attempt: i64, token: &str) {
        let body = json!({"taskToken": token, "identity": "fault-worker", "result": [id, attempt]});
        let mut answer_lost = false;
        loop {
            match client.try_post("activity-complete", &body, None).await {
                Ok((StatusCode::OK, _)) => {
                    self.tally
                        .accepted
                        .lock()
                        .unwrap()
                        .entry(id.to_owned())
                        .or_default()
                        .push(attempt);
                    return;
                }
                Ok((StatusCode::NOT_FOUND, _)) => {
                    self.tally.stale.fetch_add(1, Ordering::Relaxed);
                    if answer_lost {
                        self.tally
                            .in_doubt
                            .lock()
                            .unwrap()
                            .insert((id.to_owned(), attempt));
                    }
                    return;
                }
                Ok((status, answer)) if status.is_server_error() => {
                    answer_lost = true;
                    self.tally
                        .failed(format!("complete {id}: {status} {answer}"));
                }
                Ok((status, answer)) => {
                    let what = format!("complete {id} attempt {attempt}: {status} {answer}");
                    self.tally.unexpected.lock().unwrap().push(what);
                    return;
                }
                Err(e) => {
                    answer_lost = true;
                    self.tally.failed(format!("complete {id}: {e}"));
                }
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checks

fn completed_query(queue: &str) -> String {
    format!("TaskQueue = '{queue}' AND ExecutionStatus = 'Completed'")
}

/// The count of a visibility query; `None` while the server cannot answer.
async fn count(client: &Client, query: &str) -> Option<usize> {
    match client.try_get("activity-count", &[("query", query)]).await {
        Ok((StatusCode::OK, body)) => Some(
            body["count"]
                .as_str()
                .map_or(0, |n| n.parse().expect("a count")),
        ),
        _ => None,
    }
}

/// Waits until every query counts what it should; else panics naming the activities that did not
/// get there, with their state and what the workers saw of them.
async fn wait_until_closed(
    cluster: &Cluster,
    tally: &Tally,
    ids: &[String],
    expected: &[(&str, usize)],
    within: Duration,
) {
    let client = cluster.client();
    let deadline = Instant::now() + within;
    let mut counts = Vec::new();
    while Instant::now() < deadline {
        counts.clear();
        for (query, _) in expected {
            counts.push(count(&client, query).await);
        }
        if counts
            .iter()
            .zip(expected)
            .all(|(got, (_, want))| *got == Some(*want))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut open = Vec::new();
    for id in ids {
        let state = match client.try_get(&format!("activities/{id}"), &[]).await {
            Ok((StatusCode::OK, body)) => {
                let info = &body["info"];
                if info["status"] == "ACTIVITY_EXECUTION_STATUS_RUNNING" {
                    json!({"runState": info["runState"], "attempt": info["attempt"], "lastFailure": info["lastFailure"]})
                } else {
                    continue;
                }
            }
            Ok((status, body)) => json!(format!("describe answered {status} {body}")),
            Err(e) => json!(format!("describe failed: {e}")),
        };
        let received = tally.received.lock().unwrap().get(id).cloned();
        open.push(format!(
            "  {id}: {state}; workers received attempts {received:?}"
        ));
    }
    let expected: Vec<String> = expected.iter().map(|(q, n)| format!("{q} = {n}")).collect();
    panic!(
        "not every activity closed within {within:?}: expected {expected:?}, counted {counts:?}; {} still running \
         (lost?):\n{}\nunexpected answers: {:?}",
        open.len(),
        open.join("\n"),
        tally.unexpected.lock().unwrap()
    );
}

/// Every activity completed with the result of the one attempt whose completion was accepted
/// (or, if the worker lost that answer, of an attempt whose completion is in doubt), no
/// activity's completion was accepted twice, and the queue holds no other executions.
async fn check_completed_once(
    client: &Client,
    queue: &str,
    ids: &[String],
    tally: &Tally,
) -> Vec<String> {
    let mut problems = Vec::new();
    let accepted = tally.accepted.lock().unwrap().clone();
    let in_doubt = tally.in_doubt.lock().unwrap().clone();
    let mut twice = Vec::new();
    for id in ids {
        let attempts = accepted.get(id).cloned().unwrap_or_default();
        if attempts.len() > 1 {
            twice.push(format!("{id} (attempts {attempts:?})"));
        }
        let described = client.describe(id).await;
        let (status, result) = (
            &described["info"]["status"],
            &described["outcome"]["result"],
        );
        if status != "ACTIVITY_EXECUTION_STATUS_COMPLETED" {
            problems.push(format!("{id}: {status}, expected COMPLETED"));
            continue;
        }
        let completed_attempt = result[1].as_i64();
        let explained = match attempts.as_slice() {
            [one] => completed_attempt == Some(*one),
            [] => completed_attempt.is_some_and(|a| in_doubt.contains(&(id.clone(), a))),
            _ => true, // reported as twice
        };
        if result[0] != id.as_str() || !explained {
            problems.push(format!(
                "{id}: completed with {result}, but the server accepted completions of attempts {attempts:?} \
                 (in doubt: {:?})",
                in_doubt.iter().filter(|(i, _)| i == id).map(|(_, a)| a).collect::<Vec<_>>()
            ));
        }
    }
    if !twice.is_empty() {
        problems.push(format!(
            "completed twice (two completions answered 200): {}",
            twice.join(", ")
        ));
    }
    let all = format!("TaskQueue = '{queue}'");
    if count(client, &all).await != Some(ids.len()) {
        problems.push(format!(
            "{all} counts {:?} executions, expected {}",
            count(client, &all).await,
            ids.len()
        ));
    }
    let unexpected = tally.unexpected.lock().unwrap();
    if !unexpected.is_empty() {
        problems.push(format!("unexpected answers to workers: {unexpected:?}"));
    }
    problems
}

/// An `/outcome` long poll served by one history instance wakes within 100 ms when another
/// history instance (behind another frontend) completes the activity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_waiter_on_one_history_instance_wakes_when_another_completes() {
    let cluster = Cluster::start_with(Topology {
        history: 2,
        frontend: 2,
        ..Topology::default()
    })
    .await;
    let (waiter, worker) = (cluster.client_of(0), cluster.client_of(1));
    let id = unique("cross");
    let (status, started) = waiter.post(&format!("activities/{id}"), json!({
        "activityType": {"name": "T"}, "taskQueue": {"name": id}, "startToCloseTimeout": "30s",
    })).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let (_, task) = worker
        .post_waiting(
            "activity-tasks/poll",
            json!({"taskQueue": {"name": id}}),
            "5S",
        )
        .await;
    let token = task["taskToken"].as_str().expect("a task").to_owned();
    let outcome = tokio::spawn(async move {
        let reply = waiter
            .get_waiting(&format!("activities/{id}/outcome"), "10S")
            .await;
        (reply, Instant::now())
    });
    // The completion on instance 1 must find the waiter parked on history instance 0, so that it
    // exercises the wake-up: instance 0 counts it in its long-poll gauge then.
    let metrics = format!("{}/metrics", cluster.url_of(Role::History, 0));
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    eventually(Duration::from_secs(10), || async {
        let text = http.get(&metrics).send().await.ok()?.text().await.ok()?;
        text.lines()
            .any(|l| l.starts_with("waymark_long_polls_waiting ") && !l.ends_with(" 0"))
            .then_some(())
    })
    .await;
    let (status, body) = worker
        .post(
            "activity-complete",
            json!({"taskToken": token, "result": ["done"]}),
        )
        .await;
    let completed_at = Instant::now();
    assert_eq!(status, StatusCode::OK, "{body}");
    let ((status, body), answered_at) = outcome.await.unwrap();
    assert_eq!(
        (status, &body["outcome"]["result"]),
        (StatusCode::OK, &json!(["done"])),
        "{body}"
    );
    // A notification wakes it in milliseconds on an idle machine; the periodic re-check would
    // take a second. The bound leaves room for two cores loaded by the rest of the suite.
    let delay = answered_at.saturating_duration_since(completed_at);
    assert!(
        delay < Duration::from_millis(500),
        "the waiter woke {delay:?} after the completion"
    );
}

/// A durable timer fires within 100 ms of its deadline when nothing else is going on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_fires_promptly_after_its_deadline() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    let id = unique("timer");
    let sent = Instant::now();
    let (status, body) = client.post(&format!("activities/{id}"), json!({
        "activityType": {"name": "T"}, "taskQueue": {"name": id}, "scheduleToStartTimeout": "0.5s", "startToCloseTimeout": "5s",
    })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = client
        .get_waiting(&format!("activities/{id}/outcome"), "10S")
        .await;
    let waited = sent.elapsed();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["outcome"]["failure"]["message"],
        "activity ScheduleToStart timeout"
    );
    assert!(
        waited >= Duration::from_millis(500),
        "fired early: {waited:?}"
    );
    // Within 100 ms on an idle machine (the timer-lag metric); the bound leaves room for two
    // cores loaded by the rest of the suite (620 ms seen), and still fails a timer found only by
    // the periodic scan.
    assert!(
        waited < Duration::from_millis(1_000),
        "fired {waited:?} after the start, deadline 500 ms"
    );
}
