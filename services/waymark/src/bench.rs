//! `waymark bench activities|workflows` (and `list`, in `bench_list`): load generators for any Waymark deployment, or for one
//! they start themselves (`--spawn dev|distributed`) and stop after. Clients start executions;
//! in-process HTTP workers poll the task queues and complete each task at once. They print
//! throughput, latency percentiles, errors by kind and the spawned server's memory, and check
//! that every activity completed exactly once.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// How long a spawned server may take to answer its first request.
const READY_WITHIN: Duration = Duration::from_secs(60);
/// How long a spawned server may take to exit after SIGTERM before it is killed.
const STOP_WITHIN: Duration = Duration::from_secs(10);
/// How long one activity may go without an outcome before the bench gives up on it.
const OUTCOME_WITHIN: Duration = Duration::from_secs(120);
/// Retries of a start or a completion that failed on the way (same request id: idempotent).
const RETRIES: u32 = 5;

// ---------------------------------------------------------------------------------------------
// Options shared by both benches

/// Which server to load, and how to print the result.
#[derive(clap::Args, Clone, Debug)]
pub struct Target {
    /// Base URL of a running server (not with --spawn).
    #[arg(
        long,
        default_value = "http://127.0.0.1:7243",
        conflicts_with = "spawn"
    )]
    url: String,
    #[arg(long, default_value = "default")]
    pub(crate) namespace: String,
    /// Start a server for the run and stop it after: `dev` (start-dev on in-memory SQLite) or
    /// `distributed` (migrate, then the four services on PostgreSQL and Redis, in a schema and
    /// key prefix of their own that are dropped after).
    #[arg(long, value_enum)]
    spawn: Option<Spawn>,
    /// PostgreSQL of `--spawn distributed`.
    #[arg(
        long,
        env = "WAYMARK_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        hide_env_values = true
    )]
    database_url: String,
    /// Redis of `--spawn distributed`.
    #[arg(
        long,
        env = "WAYMARK_REDIS_URL",
        default_value = "redis://127.0.0.1:6379",
        hide_env_values = true
    )]
    redis_url: String,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// An API key of the namespace (writer or stronger), for a server that requires keys.
    #[arg(
        long,
        env = "WAYMARK_API_KEY",
        hide_env_values = true,
        conflicts_with = "spawn"
    )]
    api_key: Option<String>,
}

impl Target {
    /// A client of the target: each request carries the API key, when one is given.
    pub(crate) fn http(&self) -> anyhow::Result<reqwest::ClientBuilder> {
        use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
        let mut headers = HeaderMap::new();
        if let Some(key) = &self.api_key {
            // The key itself stays out of the message.
            let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
                .map_err(|_| anyhow::anyhow!("--api-key is not a valid header value"))?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        Ok(reqwest::Client::builder().default_headers(headers))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Spawn {
    Dev,
    Distributed,
}

/// How executions are started: as fast as they finish (closed loop) or at a fixed rate.
#[derive(clap::Args, Clone, Debug)]
pub struct Load {
    /// Open loop: start this many per second, whatever the latency.
    #[arg(long, conflicts_with = "max")]
    rate: Option<f64>,
    /// Closed loop (the default): `--concurrency` clients each start one, wait for its
    /// outcome, and start the next.
    #[arg(long)]
    max: bool,
    /// Executions in flight at most (default closed loop: 200 activities, or every workflow;
    /// open loop: 10000).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Size in bytes of each activity's input; the worker returns it as the result.
    #[arg(long, default_value_t = 1)]
    payload_bytes: usize,
    /// Task queue name (default: a fresh `bench-...` one per run).
    #[arg(long)]
    task_queue: Option<String>,
}

impl Load {
    fn in_flight(&self, default_closed: usize) -> usize {
        self.concurrency
            .unwrap_or(if self.rate.is_some() {
                10_000
            } else {
                default_closed
            })
            .max(1)
    }

    fn describe(&self, in_flight: usize) -> String {
        match self.rate {
            Some(r) => format!("open loop at {r}/s, at most {in_flight} in flight"),
            None => format!("closed loop, {in_flight} in flight"),
        }
    }

    fn payload(&self) -> Value {
        json!(["x".repeat(self.payload_bytes)])
    }
}

// ---------------------------------------------------------------------------------------------
// Samples, errors, progress

/// Latency samples of one kind.
#[derive(Default)]
struct Samples(Mutex<Vec<Duration>>);

impl Samples {
    fn push(&self, d: Duration) {
        self.0.lock().expect("samples").push(d);
    }

    fn percentiles(&self) -> Value {
        percentiles(std::mem::take(&mut *self.0.lock().expect("samples")))
    }
}

pub(crate) fn percentiles(mut v: Vec<Duration>) -> Value {
    v.sort();
    let at = |p: f64| {
        let i = ((v.len() as f64 * p).ceil() as usize).saturating_sub(1);
        v.get(i)
            .map_or(0.0, |d| (d.as_secs_f64() * 1e6).round() / 1e3)
    };
    json!({"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": at(1.0), "count": v.len()})
}

/// Time from schedule to start of a task, as the server stamped them on it.
fn schedule_to_start(task: &Value, scheduled: &str) -> Option<Duration> {
    let at = |k: &str| {
        task.get(k)
            .and_then(Value::as_str)
            .and_then(|s| waymark_api::Timestamp::parse(s).ok())
    };
    Some(at("startedTime")?.since(at(scheduled)?).to_std())
}

/// Error counts by kind: `<call>: HTTP <status>`, `<call>: connect`, `<call>: timeout`, ...
#[derive(Default)]
struct Errors {
    by_kind: Mutex<BTreeMap<String, u64>>,
    total: AtomicU64,
}

impl Errors {
    fn add(&self, kind: String) {
        self.total.fetch_add(1, Ordering::Relaxed);
        *self
            .by_kind
            .lock()
            .expect("errors")
            .entry(kind)
            .or_default() += 1;
    }

    fn transport(&self, call: &str, e: &reqwest::Error) {
        self.add(format!("{call}: {}", transport_kind(e)));
    }

    fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    fn to_json(&self) -> Value {
        json!(*self.by_kind.lock().expect("errors"))
    }
}

fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_connect() {
        "connect"
    } else if e.is_timeout() {
        "timeout"
    } else if e.is_decode() || e.is_body() {
        "bad body"
    } else {
        "request"
    }
}

/// Counters the progress line reads.
#[derive(Default)]
struct Progress {
    started: AtomicU64,
    finished: AtomicU64,
}

/// Prints a progress line on stderr once a second (rewritten in place on a terminal, every
/// ten seconds on its own line otherwise) until `done`.
fn show_progress(
    label: &'static str,
    total: usize,
    progress: Arc<Progress>,
    errors: Arc<Errors>,
    done: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let tty = std::io::stderr().is_terminal();
        let began = Instant::now();
        let mut tick = tokio::time::interval(if tty {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(10)
        });
        tick.tick().await;
        let (mut last, mut last_at) = (0, Instant::now());
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = done.cancelled() => break,
            }
            let finished = progress.finished.load(Ordering::Relaxed);
            let rate = (finished - last) as f64 / last_at.elapsed().as_secs_f64();
            (last, last_at) = (finished, Instant::now());
            let line = format!(
                "{label}: {finished}/{total} done, {} started, {rate:.0}/s, {} errors, {:.0} s",
                progress.started.load(Ordering::Relaxed),
                errors.total(),
                began.elapsed().as_secs_f64()
            );
            let mut err = std::io::stderr().lock();
            let _ = if tty {
                write!(err, "\r\x1b[2K{line}")
            } else {
                writeln!(err, "{line}")
            };
            let _ = err.flush();
        }
        if tty {
            eprint!("\r\x1b[2K");
        }
    })
}

/// Starts executions by `start(i)` for i in 0..count, closed loop or at `load.rate`, with at
/// most `in_flight` unfinished. `start` returns when the execution is finished, or hands its
/// permit to whoever sees it finish.
async fn drive<F, Fut>(count: usize, load: &Load, in_flight: usize, start: F) -> anyhow::Result<()>
where
    F: Fn(usize, OwnedSemaphorePermit) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(in_flight));
    let mut tasks = tokio::task::JoinSet::new();
    let mut tick = load.rate.map(|r| {
        let mut t = tokio::time::interval(Duration::from_secs_f64(1.0 / r.max(0.001)));
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        t
    });
    for i in 0..count {
        if let Some(t) = tick.as_mut() {
            t.tick().await;
        }
        let permit = slots.clone().acquire_owned().await?;
        tasks.spawn(start(i, permit));
        while let Some(r) = tasks.try_join_next() {
            r?;
        }
    }
    while let Some(r) = tasks.join_next().await {
        r?;
    }
    // Executions whose permit went elsewhere finish when every permit is back.
    drop(slots.acquire_many(in_flight as u32).await?);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// A spawned server

/// The server processes of `--spawn`, and what is needed to stop them and drop their data.
struct Server {
    mode: Spawn,
    url: String,
    processes: Vec<Child>,
    /// From spawning the server to its first answered request.
    ready: Duration,
    idle_rss_kb: u64,
    logs: PathBuf,
    /// PostgreSQL schema and Redis prefix of a distributed server.
    data: Option<(String, String)>,
    database_url: String,
    redis_url: String,
}

impl Server {
    async fn start(mode: Spawn, target: &Target) -> anyhow::Result<Server> {
        let salt = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let logs = std::env::temp_dir().join(format!("waymark-bench-{salt}"));
        std::fs::create_dir_all(&logs)?;
        let exe = std::env::current_exe().context("finding the waymark binary")?;
        let mut server = Server {
            mode,
            url: String::new(),
            processes: Vec::new(),
            ready: Duration::ZERO,
            idle_rss_kb: 0,
            logs,
            data: None,
            database_url: target.database_url.clone(),
            redis_url: target.redis_url.clone(),
        };
        match server.launch(&exe, target, &salt).await {
            Ok(()) => Ok(server),
            Err(e) => {
                server.stop().await;
                Err(e)
            }
        }
    }

    /// Starts the processes, waits for the first answer and reads the idle footprint.
    async fn launch(
        &mut self,
        exe: &std::path::Path,
        target: &Target,
        salt: &str,
    ) -> anyhow::Result<()> {
        let server = self;
        let began;
        match server.mode {
            Spawn::Dev => {
                began = Instant::now();
                let args = [
                    "start-dev",
                    "--port",
                    "0",
                    "--grpc-port",
                    "0",
                    "--ip",
                    "127.0.0.1",
                    "--db",
                    ":memory:",
                    "--log",
                    "warn",
                ];
                server.url = server.spawn(exe, "dev", &args, &[]).await?;
            }
            Spawn::Distributed => {
                let (schema, prefix) = (format!("bench_{salt}"), format!("bench{salt}:"));
                server.data = Some((schema.clone(), prefix.clone()));
                // Each service needs the others' addresses up front, so the ports are picked here.
                let ports = free_ports(4)?;
                let url = |p: u16| format!("http://127.0.0.1:{p}");
                let secret = uuid::Uuid::new_v4().simple().to_string();
                let key = uuid::Uuid::new_v4().simple().to_string();
                let env: Vec<(&str, String)> = vec![
                    ("WAYMARK_DATABASE_URL", target.database_url.clone()),
                    ("WAYMARK_DATABASE_SCHEMA", schema),
                    ("WAYMARK_REDIS_URL", target.redis_url.clone()),
                    ("WAYMARK_REDIS_PREFIX", prefix),
                    ("WAYMARK_INTERNAL_SECRET", secret),
                    ("WAYMARK_SIGNING_KEY", key),
                    ("WAYMARK_HISTORY_URL", url(ports[0])),
                    ("WAYMARK_MATCHING_URL", url(ports[1])),
                    ("WAYMARK_TIMER_URL", url(ports[2])),
                    ("WAYMARK_LOG", "warn".into()),
                    ("WAYMARK_GRPC_LISTEN", "127.0.0.1:0".into()),
                    // The load generators send no key.
                    ("WAYMARK_AUTH", "off".into()),
                ];
                let migrated = Command::new(exe)
                    .arg("migrate")
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .output()
                    .await?;
                if !migrated.status.success() {
                    bail!(
                        "waymark migrate failed: {}",
                        String::from_utf8_lossy(&migrated.stderr).trim()
                    );
                }
                began = Instant::now();
                for (service, port) in ["history", "matching", "timer", "frontend"]
                    .into_iter()
                    .zip(&ports)
                {
                    let listen = ("WAYMARK_LISTEN", format!("127.0.0.1:{port}"));
                    let env: Vec<_> = env.iter().cloned().chain([listen]).collect();
                    server.url = server
                        .spawn(exe, service, &["serve", service], &env)
                        .await?;
                }
            }
        }
        server.wait_ready(&target.namespace, began).await?;
        // Let start-up work settle before reading the idle footprint.
        tokio::time::sleep(Duration::from_millis(500)).await;
        server.idle_rss_kb = server.memory_kb("VmRSS");
        Ok(())
    }

    /// Spawns one process with its stderr in a log file; returns the URL it says it listens on.
    async fn spawn(
        &mut self,
        exe: &std::path::Path,
        name: &str,
        args: &[&str],
        env: &[(&str, String)],
    ) -> anyhow::Result<String> {
        let log_path = self.logs.join(format!("{name}.log"));
        let mut child = Command::new(exe)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log_path)?)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning waymark {name}"))?;
        let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        self.processes.push(child);
        let listening = tokio::time::timeout(READY_WITHIN, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = listening_url(&line) {
                    return Ok(Some(url));
                }
            }
            anyhow::Ok(None)
        })
        .await;
        let url = match listening {
            Ok(Ok(Some(url))) => url,
            Ok(Ok(None)) | Ok(Err(_)) => {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                bail!("waymark {name} exited before listening:\n{}", log.trim());
            }
            Err(_) => bail!(
                "waymark {name} did not listen within {READY_WITHIN:?} (log: {})",
                log_path.display()
            ),
        };
        // Keep reading stdout, so the process never writes to a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(url)
    }

    async fn wait_ready(&mut self, namespace: &str, began: Instant) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let probe = format!("{}/api/v1/namespaces/{namespace}", self.url);
        while began.elapsed() < READY_WITHIN {
            if let Ok(r) = http
                .get(&probe)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                && r.status().is_success()
            {
                self.ready = began.elapsed();
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        bail!("the spawned server did not answer {probe} within {READY_WITHIN:?}")
    }

    /// A field of /proc/PID/status (in kB), summed over the server's processes.
    fn memory_kb(&self, field: &str) -> u64 {
        self.processes
            .iter()
            .filter_map(Child::id)
            .filter_map(|pid| proc_status_kb(pid, field))
            .sum()
    }

    fn to_json(&self) -> Value {
        json!({
            "mode": match self.mode { Spawn::Dev => "dev", Spawn::Distributed => "distributed" },
            "processes": self.processes.len(),
            "ready_s": self.ready.as_secs_f64(),
            "idle_rss_mb": self.idle_rss_kb as f64 / 1024.0,
            "peak_rss_mb": self.memory_kb("VmHWM") as f64 / 1024.0,
        })
    }

    /// SIGTERM, then SIGKILL after `STOP_WITHIN`; then drops a distributed server's data, and its
    /// logs unless they say something.
    async fn stop(mut self) {
        for child in self.processes.iter().rev() {
            if let Some(pid) = child.id() {
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .await;
            }
        }
        for child in self.processes.iter_mut() {
            if tokio::time::timeout(STOP_WITHIN, child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
        if let Some((schema, prefix)) = self.data.take() {
            drop_distributed_data(&self.database_url, &self.redis_url, &schema, &prefix).await;
        }
        // Logs are kept only when the server said something (at warn level, something is wrong).
        let said_something = std::fs::read_dir(&self.logs)
            .map(|dir| {
                dir.flatten()
                    .any(|f| f.metadata().is_ok_and(|m| m.len() > 0))
            })
            .unwrap_or(false);
        if said_something {
            eprintln!(
                "note: the server logged warnings or errors; its logs are in {}",
                self.logs.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.logs);
        }
    }
}

/// The URL in start-dev's `Waymark listening on http://ADDR` (and the services' own lines).
fn listening_url(line: &str) -> Option<String> {
    let (_, url) = line.split_once("listening on ")?;
    Some(url.trim().trim_end_matches('/').to_owned())
}

/// Ports free right now, for services that must know each other's address before they start.
fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    // Held together, so the n are distinct.
    let held: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    Ok(held
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()?)
}

fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Best effort, with psql and redis-cli: the schema and keys are the bench's own.
async fn drop_distributed_data(database_url: &str, redis_url: &str, schema: &str, prefix: &str) {
    let dropped = Command::new("psql")
        .args([
            database_url,
            "-q",
            "-c",
            &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    if !dropped.is_ok_and(|s| s.success()) {
        eprintln!("note: could not drop PostgreSQL schema {schema} (is psql installed?)");
    }
    let keys = Command::new("redis-cli")
        .args([
            "-u",
            redis_url,
            "--scan",
            "--pattern",
            &format!("{prefix}*"),
        ])
        .output()
        .await;
    let Ok(keys) = keys else {
        eprintln!("note: could not delete Redis keys {prefix}* (is redis-cli installed?)");
        return;
    };
    let keys: Vec<String> = String::from_utf8_lossy(&keys.stdout)
        .lines()
        .map(String::from)
        .collect();
    for chunk in keys.chunks(500) {
        let _ = Command::new("redis-cli")
            .args(["-u", redis_url, "DEL"])
            .args(chunk)
            .stdout(Stdio::null())
            .status()
            .await;
    }
}

/// Runs `bench` against the target's URL, or against a server spawned for it and stopped after.
pub(crate) async fn with_server<F, Fut>(target: &Target, bench: F) -> anyhow::Result<Value>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = anyhow::Result<Value>>,
{
    let Some(mode) = target.spawn else {
        let url = target.url.trim_end_matches('/').to_owned();
        let probe = format!("{url}/api/v1/namespaces/{}", target.namespace);
        let answer = target
            .http()?
            .build()?
            .get(&probe)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match answer {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => bail!(
                "{probe} answered {} (is namespace {} registered?)",
                r.status(),
                target.namespace
            ),
            Err(e) => {
                bail!("no Waymark server answers at {url} ({e}); start one, or pass --spawn dev")
            }
        }
        return bench(url).await;
    };
    let server = Server::start(mode, target).await?;
    let result = bench(server.url.clone()).await;
    let result = result.map(|mut report| {
        report["server"] = server.to_json();
        report
    });
    server.stop().await;
    result
}

// ---------------------------------------------------------------------------------------------
// What the clients and workers of a run share

/// Deliveries and accepted completions of one activity, and outcomes the client saw.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    delivered: u32,
    completed: u32,
    outcomes: u32,
}

struct Shared {
    http: reqwest::Client,
    /// `{url}/api/v1/namespaces/{ns}`
    base: String,
    payload: Value,
    errors: Arc<Errors>,
    progress: Arc<Progress>,
    /// Activity tasks, from the server's stamps.
    schedule_to_start: Samples,
    start_to_outcome: Samples,
    /// Per activity key (see `activity_key`).
    ledger: Mutex<HashMap<String, Tally>>,
    began: Instant,
    /// Nanoseconds from `began` to the last start sent.
    last_start_ns: AtomicU64,
}

impl Shared {
    fn new(
        http: reqwest::ClientBuilder,
        url: &str,
        namespace: &str,
        load: &Load,
        in_flight: usize,
        pollers: usize,
    ) -> anyhow::Result<Shared> {
        Ok(Shared {
            http: http.pool_max_idle_per_host(in_flight + pollers).build()?,
            base: format!("{url}/api/v1/namespaces/{namespace}"),
            payload: load.payload(),
            errors: Arc::default(),
            progress: Arc::default(),
            schedule_to_start: Samples::default(),
            start_to_outcome: Samples::default(),
            ledger: Mutex::default(),
            began: Instant::now(),
            last_start_ns: AtomicU64::new(0),
        })
    }

    fn tally(&self, key: String, f: impl FnOnce(&mut Tally)) {
        f(self.ledger.lock().expect("ledger").entry(key).or_default());
    }

    fn started(&self) {
        self.progress.started.fetch_add(1, Ordering::Relaxed);
        self.last_start_ns
            .fetch_max(self.began.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    /// Sends the request `make` builds until it answers 2xx. Transport errors, 5xx and 429 are
    /// retried (callers make their requests idempotent); every failure is counted.
    async fn send(
        &self,
        call: &str,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Option<reqwest::Response> {
        for attempt in 0..=RETRIES {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            match make().send().await {
                Ok(r) if r.status().is_success() => return Some(r),
                Ok(r) => {
                    let status = r.status();
                    self.errors.add(format!("{call}: HTTP {}", status.as_u16()));
                    if !(status.is_server_error()
                        || status == reqwest::StatusCode::TOO_MANY_REQUESTS)
                    {
                        return None;
                    }
                }
                Err(e) => self.errors.transport(call, &e),
            }
        }
        None
    }

    /// Whether a completion of `task` that got no 2xx answer completed it all the same (the
    /// frontend died after history committed it, and the retry found the task gone): the
    /// activity itself says whether this attempt closed it, a standalone one by its describe, a
    /// workflow's by its run's history.
    async fn completion_landed(&self, task: &Value) -> bool {
        let activity_id = task
            .get("activityId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let attempt = task.get("attempt").and_then(Value::as_i64);
        let workflow_id = task
            .pointer("/workflowExecution/workflowId")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty());
        let completed = match workflow_id {
            None => {
                let url = format!("{}/activities/{activity_id}", self.base);
                let Some(info) = self.json_of("describe activity", &url).await else {
                    return false;
                };
                let info = &info["info"];
                (info["status"] == "ACTIVITY_EXECUTION_STATUS_COMPLETED")
                    .then(|| info["attempt"].as_i64())
                    .flatten()
            }
            Some(workflow_id) => {
                let url = format!(
                    "{}/workflows/{workflow_id}/history?execution.runId={}&maximumPageSize=10000",
                    self.base,
                    str_of(&task["workflowExecution"]["runId"]),
                );
                let Some(history) = self.json_of("workflow history", &url).await else {
                    return false;
                };
                let events = history["history"]["events"].as_array();
                completed_attempt(events.map_or(&[][..], Vec::as_slice), activity_id)
            }
        };
        let landed = completed.is_some() && completed == attempt;
        if landed {
            self.errors
                .add("complete activity: answer lost, completed per the activity's record".into());
        }
        landed
    }

    async fn json_of(&self, call: &str, url: &str) -> Option<Value> {
        let answer = self.send(call, || self.http.get(url)).await?;
        answer
            .json()
            .await
            .inspect_err(|e| self.errors.transport(call, e))
            .ok()
    }

    /// Accepted completions per expected key: whether each completed exactly once (and, for
    /// standalone activities, its client saw the outcome once), and what went otherwise.
    fn check(&self, expected: impl Iterator<Item = String>, outcomes: bool) -> Value {
        let ledger = self.ledger.lock().expect("ledger");
        let (mut once, mut missing, mut twice, mut expected_n) = (0u64, 0u64, 0u64, 0usize);
        for key in expected {
            expected_n += 1;
            let t = ledger.get(&key).copied().unwrap_or_default();
            match t.completed {
                0 => missing += 1,
                1 if !outcomes || t.outcomes == 1 => once += 1,
                1 => missing += 1,
                _ => twice += 1,
            }
        }
        let duplicates: u64 = ledger
            .values()
            .map(|t| u64::from(t.delivered.saturating_sub(1)))
            .sum();
        let foreign = ledger.len().saturating_sub(expected_n);
        json!({
            "completed_once": once,
            "not_completed": missing,
            "completed_more_than_once": twice,
            "duplicate_deliveries": duplicates,
            "foreign_tasks": foreign,
            "exactly_once": once as usize == expected_n && twice == 0,
        })
    }

    /// Start figures every report has.
    fn report(&self, finished: usize, elapsed: Duration) -> Value {
        let last_start = Duration::from_nanos(self.last_start_ns.load(Ordering::Relaxed));
        json!({
            "seconds": elapsed.as_secs_f64(),
            "starts_per_s": self.progress.started.load(Ordering::Relaxed) as f64 / last_start.as_secs_f64().max(1e-9),
            "activities_per_s": finished as f64 / elapsed.as_secs_f64(),
            "schedule_to_start_ms": self.schedule_to_start.percentiles(),
            "start_to_outcome_ms": self.start_to_outcome.percentiles(),
            "errors": self.errors.to_json(),
            "errors_total": self.errors.total(),
        })
    }
}

/// A standalone activity is known by its id; a workflow's by workflow id and activity id.
fn activity_key(task: &Value) -> String {
    let activity_id = task
        .get("activityId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match task
        .pointer("/workflowExecution/workflowId")
        .and_then(Value::as_str)
    {
        Some(workflow_id) => format!("{workflow_id}/{activity_id}"),
        None => activity_id.to_owned(),
    }
}

/// The attempt of activity `activity_id` whose completion `events` (a workflow history) record.
fn completed_attempt(events: &[Value], activity_id: &str) -> Option<i64> {
    let event_id = |e: &Value| str_of(&e["eventId"]).to_owned();
    let scheduled = events
        .iter()
        .find(|e| e["activityTaskScheduledEventAttributes"]["activityId"] == activity_id)
        .map(event_id)?;
    let started = events
        .iter()
        .map(|e| &e["activityTaskCompletedEventAttributes"])
        .find(|c| str_of(&c["scheduledEventId"]) == scheduled)
        .map(|c| str_of(&c["startedEventId"]).to_owned())?;
    events
        .iter()
        .find(|e| event_id(e) == started)
        .and_then(|e| e["activityTaskStartedEventAttributes"]["attempt"].as_i64())
}

/// Long-polls `queue` for activity tasks and completes each at once with its input.
async fn activity_worker(run: Arc<Shared>, queue: String, done: CancellationToken) {
    let poll = json!({"taskQueue": {"name": queue}, "identity": "bench-worker"});
    let (poll_url, complete_url) = (
        format!("{}/activity-tasks/poll", run.base),
        format!("{}/activity-complete", run.base),
    );
    while !done.is_cancelled() {
        let answer = tokio::select! {
            r = run.http.post(&poll_url).header("Grpc-Timeout", "3S").json(&poll).send() => r,
            _ = done.cancelled() => break,
        };
        let task: Value = match answer {
            Ok(r) if r.status().is_success() => match r.json().await {
                Ok(task) => task,
                Err(e) => {
                    run.errors.transport("poll activity task", &e);
                    continue;
                }
            },
            Ok(r) => {
                run.errors
                    .add(format!("poll activity task: HTTP {}", r.status().as_u16()));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => {
                run.errors.transport("poll activity task", &e);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(token) = task.get("taskToken").and_then(Value::as_str) else {
            continue;
        };
        if let Some(waited) = schedule_to_start(&task, "currentAttemptScheduledTime") {
            run.schedule_to_start.push(waited);
        }
        let key = activity_key(&task);
        run.tally(key.clone(), |t| t.delivered += 1);
        let result = task.get("input").cloned().unwrap_or_else(|| json!([]));
        let body = json!({"taskToken": token, "result": result, "identity": "bench-worker"});
        let answered = run
            .send("complete activity", || {
                run.http.post(&complete_url).json(&body)
            })
            .await
            .is_some();
        if answered || run.completion_landed(&task).await {
            run.tally(key, |t| t.completed += 1);
        }
    }
}

/// Resolves once nothing has started or finished for `OUTCOME_WITHIN`.
async fn stalled(progress: &Progress) {
    let now = || {
        (
            progress.started.load(Ordering::Relaxed),
            progress.finished.load(Ordering::Relaxed),
        )
    };
    let (mut seen, mut since) = (now(), Instant::now());
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if now() != seen {
            (seen, since) = (now(), Instant::now());
        } else if since.elapsed() > OUTCOME_WITHIN {
            return;
        }
    }
}

/// Runs `drive` with workers, the progress line and the stall guard; returns the elapsed time.
async fn with_workers(
    run: &Arc<Shared>,
    label: &'static str,
    total: usize,
    workers: Vec<tokio::task::JoinHandle<()>>,
    done: CancellationToken,
    drive: impl Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<Duration> {
    let progress = show_progress(
        label,
        total,
        run.progress.clone(),
        run.errors.clone(),
        done.clone(),
    );
    let outcome = tokio::select! {
        r = drive => r,
        _ = stalled(&run.progress) => {
            run.errors.add(format!("gave up: no progress for {} s", OUTCOME_WITHIN.as_secs()));
            Ok(())
        }
    };
    let elapsed = run.began.elapsed();
    done.cancel();
    for w in workers {
        w.await?;
    }
    progress.await?;
    outcome?;
    Ok(elapsed)
}

// ---------------------------------------------------------------------------------------------
// bench activities

/// Standalone activities: start → poll → complete → outcome.
#[derive(clap::Args, Clone, Debug)]
pub struct ActivitiesBench {
    #[command(flatten)]
    target: Target,
    /// Activities to run.
    #[arg(long, default_value_t = 2000)]
    count: usize,
    /// Concurrent activity task pollers (each completes its task before polling again).
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Spread the activities over the five priority levels (activity i at level i % 5 + 1),
    /// to measure what dispatch by priority costs against one level.
    #[arg(long)]
    priority_mix: bool,
    /// Spread the activities over N fairness keys (activity i under key `key-(i % N)`, of weight
    /// 1 to 5), to measure what fair dispatch costs against one key.
    #[arg(long, default_value_t = 0)]
    fairness_keys: usize,
    #[command(flatten)]
    load: Load,
}

impl ActivitiesBench {
    /// The `priority` of activity `i`, if the run sets any.
    fn priority(&self, i: usize) -> Option<Value> {
        let mut priority = serde_json::Map::new();
        if self.priority_mix {
            priority.insert("priorityKey".into(), (i % 5 + 1).into());
        }
        if self.fairness_keys > 0 {
            let key = i % self.fairness_keys;
            priority.insert("fairnessKey".into(), format!("key-{key}").into());
            priority.insert("fairnessWeight".into(), (key % 5 + 1).into());
        }
        (!priority.is_empty()).then_some(Value::Object(priority))
    }
}

pub async fn run_activities(b: ActivitiesBench) -> anyhow::Result<()> {
    if b.count == 0 || b.workers == 0 {
        bail!("--count and --workers must be at least 1");
    }
    let report = with_server(&b.target, |url| activities(&b, url)).await?;
    finish(&b.target, &report, &activity_rows())
}

async fn activities(b: &ActivitiesBench, url: String) -> anyhow::Result<Value> {
    let in_flight = b.load.in_flight(200);
    let run = Arc::new(Shared::new(
        b.target.http()?,
        &url,
        &b.target.namespace,
        &b.load,
        in_flight,
        b.workers,
    )?);
    let salt = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let queue = b
        .load
        .task_queue
        .clone()
        .unwrap_or_else(|| format!("bench-{salt}"));
    let done = CancellationToken::new();
    let workers = (0..b.workers)
        .map(|_| tokio::spawn(activity_worker(run.clone(), queue.clone(), done.clone())))
        .collect();
    let start = |i: usize, permit: OwnedSemaphorePermit| {
        let (run, queue, id) = (run.clone(), queue.clone(), format!("{salt}-{i}"));
        let priority = b.priority(i);
        async move {
            one_activity(&run, &queue, id, priority).await;
            drop(permit);
        }
    };
    let elapsed = with_workers(
        &run,
        "activities",
        b.count,
        workers,
        done,
        drive(b.count, &b.load, in_flight, start),
    )
    .await?;
    let finished = run.progress.finished.load(Ordering::Relaxed) as usize;
    let mut report = run.report(finished, elapsed);
    report["bench"] = "activities".into();
    report["activities"] = b.count.into();
    report["completed"] = finished.into();
    report["workers"] = b.workers.into();
    report["priority_mix"] = b.priority_mix.into();
    report["fairness_keys"] = b.fairness_keys.into();
    report["load"] = b.load.describe(in_flight).into();
    report["payload_bytes"] = b.load.payload_bytes.into();
    report["task_queue"] = queue.into();
    report["check"] = run.check((0..b.count).map(|i| format!("{salt}-{i}")), true);
    Ok(report)
}

/// Starts one activity (retried with the same request id), with `priority` if given, and
/// long-polls its outcome.
async fn one_activity(run: &Shared, queue: &str, id: String, priority: Option<Value>) {
    let t0 = Instant::now();
    let url = format!("{}/activities/{id}", run.base);
    let mut start = json!({
        "activityType": {"name": "Bench"}, "taskQueue": {"name": queue}, "input": run.payload,
        "startToCloseTimeout": "60s", "requestId": id, "identity": "bench-client",
    });
    if let Some(priority) = priority {
        start["priority"] = priority;
    }
    if run
        .send("start activity", || run.http.post(&url).json(&start))
        .await
        .is_none()
    {
        return;
    }
    run.started();
    let outcome_url = format!("{url}/outcome");
    while t0.elapsed() < OUTCOME_WITHIN {
        let Some(r) = run
            .send("poll outcome", || {
                run.http.get(&outcome_url).header("Grpc-Timeout", "30S")
            })
            .await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let answer: Value = match r.json().await {
            Ok(v) => v,
            Err(e) => {
                run.errors.transport("poll outcome", &e);
                continue;
            }
        };
        match answer.get("outcome") {
            None => continue,
            Some(o) if o.get("result") == Some(&run.payload) => {
                run.start_to_outcome.push(t0.elapsed());
                run.tally(id, |t| t.outcomes += 1);
                run.progress.finished.fetch_add(1, Ordering::Relaxed);
            }
            Some(o) if o.get("result").is_some() => run
                .errors
                .add("outcome: result differs from the input".into()),
            Some(_) => run.errors.add("outcome: failure".into()),
        }
        return;
    }
    run.errors.add(format!(
        "outcome: none within {} s",
        OUTCOME_WITHIN.as_secs()
    ));
}

// ---------------------------------------------------------------------------------------------
// bench workflows

/// Workflows each running K sequential activities. The bench plays the workflow worker (each
/// workflow task schedules the next activity, then completes the workflow) and the activity
/// worker (completes each activity at once).
#[derive(clap::Args, Clone, Debug)]
pub struct WorkflowsBench {
    #[command(flatten)]
    target: Target,
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
    #[command(flatten)]
    load: Load,
}

/// A running workflow: when it started, its slot, and when its last activity was scheduled.
struct Flow {
    started: Instant,
    _slot: OwnedSemaphorePermit,
    scheduled: Option<Instant>,
}

struct WorkflowRun {
    shared: Arc<Shared>,
    flows: Mutex<HashMap<String, Flow>>,
    end_to_end: Samples,
    workflow_task_schedule_to_start: Samples,
    activities: usize,
    workflow_queue: String,
    activity_queue: String,
}

pub async fn run_workflows(b: WorkflowsBench) -> anyhow::Result<()> {
    if b.workflows == 0 || b.workers == 0 || b.workflow_workers == 0 {
        bail!("--workflows, --workers and --workflow-workers must be at least 1");
    }
    let report = with_server(&b.target, |url| workflows(&b, url)).await?;
    finish(&b.target, &report, &workflow_rows())
}

async fn workflows(b: &WorkflowsBench, url: String) -> anyhow::Result<Value> {
    let in_flight = b.load.in_flight(b.workflows);
    let shared = Arc::new(Shared::new(
        b.target.http()?,
        &url,
        &b.target.namespace,
        &b.load,
        in_flight,
        b.workers + b.workflow_workers,
    )?);
    let salt = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let queue = b
        .load
        .task_queue
        .clone()
        .unwrap_or_else(|| format!("bench-{salt}"));
    let run = Arc::new(WorkflowRun {
        shared: shared.clone(),
        flows: Mutex::default(),
        end_to_end: Samples::default(),
        workflow_task_schedule_to_start: Samples::default(),
        activities: b.activities,
        workflow_queue: format!("{queue}-wf"),
        activity_queue: format!("{queue}-act"),
    });
    let done = CancellationToken::new();
    let mut workers: Vec<_> = (0..b.workers)
        .map(|_| {
            tokio::spawn(activity_worker(
                shared.clone(),
                run.activity_queue.clone(),
                done.clone(),
            ))
        })
        .collect();
    workers.extend(
        (0..b.workflow_workers).map(|_| tokio::spawn(workflow_worker(run.clone(), done.clone()))),
    );
    let start = |i: usize, slot: OwnedSemaphorePermit| {
        let (run, id) = (run.clone(), format!("{salt}-{i}"));
        async move { start_workflow(&run, id, i, slot).await }
    };
    let elapsed = with_workers(
        &shared,
        "workflows",
        b.workflows,
        workers,
        done,
        drive(b.workflows, &b.load, in_flight, start),
    )
    .await?;
    let finished = shared.progress.finished.load(Ordering::Relaxed) as usize;
    let mut report = shared.report(finished * b.activities, elapsed);
    report["bench"] = "workflows".into();
    report["workflows"] = b.workflows.into();
    report["activities_per_workflow"] = b.activities.into();
    report["activities"] = (b.workflows * b.activities).into();
    report["completed"] = finished.into();
    report["workflows_per_s"] = (finished as f64 / elapsed.as_secs_f64()).into();
    report["workflow_end_to_end_ms"] = run.end_to_end.percentiles();
    report["workflow_task_schedule_to_start_ms"] =
        run.workflow_task_schedule_to_start.percentiles();
    report["workers"] = b.workers.into();
    report["workflow_workers"] = b.workflow_workers.into();
    report["load"] = b.load.describe(in_flight).into();
    report["payload_bytes"] = b.load.payload_bytes.into();
    report["task_queue"] = queue.into();
    let salt = salt.as_str();
    let expected =
        (0..b.workflows).flat_map(|i| (0..b.activities).map(move |k| format!("{salt}-{i}/a{k}")));
    let mut check = shared.check(expected, false);
    if finished != b.workflows {
        check["exactly_once"] = false.into();
    }
    check["workflows_completed"] = finished.into();
    report["check"] = check;
    Ok(report)
}

async fn start_workflow(run: &WorkflowRun, id: String, i: usize, slot: OwnedSemaphorePermit) {
    let shared = &run.shared;
    // Known before it starts, so a fast workflow worker finds it.
    run.flows.lock().expect("flows").insert(
        id.clone(),
        Flow {
            started: Instant::now(),
            _slot: slot,
            scheduled: None,
        },
    );
    let url = format!("{}/workflows/{id}", shared.base);
    let start = json!({
        "workflowType": {"name": "BenchWorkflow"}, "taskQueue": {"name": run.workflow_queue}, "input": [i],
        "requestId": id, "identity": "bench-client",
    });
    if shared
        .send("start workflow", || shared.http.post(&url).json(&start))
        .await
        .is_some()
    {
        shared.started();
    } else {
        run.flows.lock().expect("flows").remove(&id);
    }
}

/// Answers workflow tasks: schedules the next activity until K have completed, then completes
/// the workflow.
async fn workflow_worker(run: Arc<WorkflowRun>, done: CancellationToken) {
    let shared = &run.shared;
    let poll =
        json!({"taskQueue": {"name": run.workflow_queue}, "identity": "bench-workflow-worker"});
    let (poll_url, complete_url) = (
        format!("{}/workflow-tasks/poll", shared.base),
        format!("{}/workflow-tasks/complete", shared.base),
    );
    while !done.is_cancelled() {
        let answer = tokio::select! {
            r = shared.http.post(&poll_url).header("Grpc-Timeout", "3S").json(&poll).send() => r,
            _ = done.cancelled() => break,
        };
        let task: Value = match answer {
            Ok(r) if r.status().is_success() => match r.json().await {
                Ok(task) => task,
                Err(e) => {
                    shared.errors.transport("poll workflow task", &e);
                    continue;
                }
            },
            Ok(r) => {
                shared
                    .errors
                    .add(format!("poll workflow task: HTTP {}", r.status().as_u16()));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => {
                shared.errors.transport("poll workflow task", &e);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(token) = task.get("taskToken").and_then(Value::as_str) else {
            continue;
        };
        if let Some(waited) = schedule_to_start(&task, "scheduledTime") {
            run.workflow_task_schedule_to_start.push(waited);
        }
        let id = task
            .pointer("/workflowExecution/workflowId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        // The task that carries an activity's result ends that activity's step.
        if let Some(at) = run
            .flows
            .lock()
            .expect("flows")
            .get_mut(&id)
            .and_then(|f| f.scheduled.take())
        {
            shared.start_to_outcome.push(at.elapsed());
        }
        let events = task
            .pointer("/history/events")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let finished = events
            .iter()
            .filter(|e| e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")
            .count();
        let command = if finished < run.activities {
            json!({"commandType": "COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK", "scheduleActivityTaskCommandAttributes": {
                "activityId": format!("a{finished}"), "activityType": {"name": "Bench"}, "taskQueue": {"name": run.activity_queue},
                "input": shared.payload, "startToCloseTimeout": "60s"}})
        } else {
            json!({"commandType": "COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION", "completeWorkflowExecutionCommandAttributes": {"result": ["done"]}})
        };
        let reply =
            json!({"taskToken": token, "identity": "bench-workflow-worker", "commands": [command]});
        let sent = Instant::now();
        if shared
            .send("complete workflow task", || {
                shared.http.post(&complete_url).json(&reply)
            })
            .await
            .is_none()
        {
            continue;
        }
        let mut flows = run.flows.lock().expect("flows");
        if finished < run.activities {
            if let Some(flow) = flows.get_mut(&id) {
                flow.scheduled = Some(sent);
            }
        } else if let Some(flow) = flows.remove(&id) {
            run.end_to_end.push(flow.started.elapsed());
            shared.progress.finished.fetch_add(1, Ordering::Relaxed);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Output

/// One line of the table: a label and the report's key of a number or a percentile object.
type Row = (&'static str, &'static str);

fn activity_rows() -> Vec<Row> {
    vec![
        ("schedule → start", "schedule_to_start_ms"),
        ("start → outcome", "start_to_outcome_ms"),
    ]
}

fn workflow_rows() -> Vec<Row> {
    vec![
        (
            "workflow task schedule → start",
            "workflow_task_schedule_to_start_ms",
        ),
        ("activity schedule → start", "schedule_to_start_ms"),
        ("activity step (schedule → result)", "start_to_outcome_ms"),
        ("workflow end to end", "workflow_end_to_end_ms"),
    ]
}

/// Prints the report (JSON or table) and fails unless every activity completed exactly once.
fn finish(target: &Target, report: &Value, rows: &[Row]) -> anyhow::Result<()> {
    if target.json {
        println!("{report}");
    } else {
        print!("{}", table(report, rows));
    }
    if report["check"]["exactly_once"] != true {
        bail!(
            "not every activity completed exactly once: {}",
            report["check"]
        );
    }
    Ok(())
}

fn table(r: &Value, rows: &[Row]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let n = |k: &str| r[k].as_f64().unwrap_or(0.0);
    let workflows = r["bench"] == "workflows";
    let what = if workflows {
        format!(
            "{} workflows × {} activities, {}, {} workflow + {} activity pollers",
            r["workflows"],
            r["activities_per_workflow"],
            str_of(&r["load"]),
            r["workflow_workers"],
            r["workers"]
        )
    } else {
        format!(
            "{} activities, {}, {} pollers",
            r["activities"],
            str_of(&r["load"]),
            r["workers"]
        )
    };
    let _ = writeln!(
        out,
        "waymark bench {}: {what}, {}-byte payloads",
        str_of(&r["bench"]),
        r["payload_bytes"]
    );
    if let Some(s) = r.get("server") {
        let _ = writeln!(
            out,
            "server: {} ({} process{}), first answer {:.0} ms after start, RSS idle {:.1} MB, peak {:.1} MB",
            str_of(&s["mode"]),
            s["processes"],
            if s["processes"] == 1 { "" } else { "es" },
            s["ready_s"].as_f64().unwrap_or(0.0) * 1e3,
            s["idle_rss_mb"].as_f64().unwrap_or(0.0),
            s["peak_rss_mb"].as_f64().unwrap_or(0.0)
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  {:<36}{:>10.1} activities/s",
        "throughput",
        n("activities_per_s")
    );
    if workflows {
        let _ = writeln!(
            out,
            "  {:<36}{:>10.1} workflows/s",
            "",
            n("workflows_per_s")
        );
    }
    let _ = writeln!(
        out,
        "  {:<36}{:>10.2} s ({} completed, starts at {:.1}/s)",
        "elapsed",
        n("seconds"),
        r["completed"],
        n("starts_per_s")
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  {:<36}{:>10}{:>10}{:>10}{:>10}",
        "latency (ms)", "p50", "p90", "p99", "max"
    );
    for (label, key) in rows {
        let p = &r[*key];
        let ms = |q: &str| p[q].as_f64().unwrap_or(0.0);
        let _ = writeln!(
            out,
            "  {label:<36}{:>10.1}{:>10.1}{:>10.1}{:>10.1}",
            ms("p50"),
            ms("p90"),
            ms("p99"),
            ms("max")
        );
    }
    let _ = writeln!(out);
    match r["errors"].as_object().filter(|e| !e.is_empty()) {
        None => {
            let _ = writeln!(out, "  {:<36}{:>10}", "errors", "none");
        }
        Some(errors) => {
            for (i, (kind, count)) in errors.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "  {:<36}{count:>10}  {kind}",
                    if i == 0 { "errors" } else { "" }
                );
            }
        }
    }
    let c = &r["check"];
    let verdict = if c["exactly_once"] == true {
        "yes"
    } else {
        "NO"
    };
    let _ = writeln!(
        out,
        "  {:<36}{verdict:>10}  ({} once, {} not, {} more than once; {} duplicate deliveries)",
        "every activity completed exactly once",
        c["completed_once"],
        c["not_completed"],
        c["completed_more_than_once"],
        c["duplicate_deliveries"]
    );
    out
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let p = percentiles((1..=100).map(Duration::from_millis).collect());
        assert_eq!(
            (
                p["p50"].as_f64(),
                p["p90"].as_f64(),
                p["p99"].as_f64(),
                p["max"].as_f64()
            ),
            (Some(50.0), Some(90.0), Some(99.0), Some(100.0))
        );
        assert_eq!(percentiles(vec![])["max"], 0.0);
    }

    #[test]
    fn the_listening_line_gives_the_url() {
        assert_eq!(
            listening_url("Waymark listening on http://127.0.0.1:4321").as_deref(),
            Some("http://127.0.0.1:4321")
        );
        assert_eq!(
            listening_url("Waymark History listening on http://127.0.0.1:1/").as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(listening_url("database schema is up to date"), None);
    }

    #[test]
    fn a_workflow_activity_is_known_by_its_workflow_and_id() {
        assert_eq!(activity_key(&json!({"activityId": "x-1"})), "x-1");
        assert_eq!(
            activity_key(&json!({"activityId": "a3", "workflowExecution": {"workflowId": "w"}})),
            "w/a3"
        );
    }

    #[test]
    fn a_workflow_history_tells_which_attempt_completed_an_activity() {
        let events = [
            json!({"eventId": "5", "activityTaskScheduledEventAttributes": {"activityId": "a1"}}),
            json!({"eventId": "6", "activityTaskStartedEventAttributes": {"scheduledEventId": "5", "attempt": 2}}),
            json!({"eventId": "7", "activityTaskCompletedEventAttributes": {"scheduledEventId": "5", "startedEventId": "6"}}),
            json!({"eventId": "11", "activityTaskScheduledEventAttributes": {"activityId": "a2"}}),
        ];
        assert_eq!(completed_attempt(&events, "a1"), Some(2));
        assert_eq!(completed_attempt(&events, "a2"), None);
        assert_eq!(completed_attempt(&events, "a3"), None);
    }

    #[test]
    fn proc_status_reads_kilobytes() {
        let pid = std::process::id();
        assert!(proc_status_kb(pid, "VmRSS").is_some_and(|kb| kb > 0));
        assert!(proc_status_kb(pid, "VmHWM").is_some_and(|kb| kb > 0));
    }

    #[test]
    fn exactly_once_needs_every_expected_activity_completed_once() {
        let load = Load {
            rate: None,
            max: false,
            concurrency: None,
            payload_bytes: 1,
            task_queue: None,
        };
        let run = Shared::new(
            reqwest::Client::builder(),
            "http://127.0.0.1:1",
            "default",
            &load,
            1,
            1,
        )
        .unwrap();
        for id in ["a", "b"] {
            run.tally(id.into(), |t| {
                (t.delivered, t.completed, t.outcomes) = (1, 1, 1)
            });
        }
        assert_eq!(
            run.check(["a", "b"].map(String::from).into_iter(), true)["exactly_once"],
            true
        );
        let c = run.check(["a", "b", "c"].map(String::from).into_iter(), true);
        assert_eq!(
            (c["exactly_once"].as_bool(), c["not_completed"].as_u64()),
            (Some(false), Some(1))
        );
        run.tally("b".into(), |t| (t.delivered, t.completed) = (2, 2));
        let c = run.check(["a", "b"].map(String::from).into_iter(), true);
        assert_eq!(
            (
                c["exactly_once"].as_bool(),
                c["duplicate_deliveries"].as_u64()
            ),
            (Some(false), Some(1))
        );
    }

    #[test]
    fn the_table_shows_the_figures_and_the_verdict() {
        let report = json!({
            "bench": "activities", "activities": 10, "workers": 2, "load": "closed loop, 5 in flight", "payload_bytes": 1,
            "activities_per_s": 123.4, "seconds": 0.081, "completed": 10, "starts_per_s": 130.0,
            "schedule_to_start_ms": {"p50": 1.0, "p90": 2.0, "p99": 3.0, "max": 4.0},
            "start_to_outcome_ms": {"p50": 5.0, "p90": 6.0, "p99": 7.0, "max": 8.0},
            "errors": {"start activity: HTTP 503": 2},
            "check": {"exactly_once": true, "completed_once": 10, "not_completed": 0, "completed_more_than_once": 0, "duplicate_deliveries": 0},
            "server": {"mode": "dev", "processes": 1, "ready_s": 0.05, "idle_rss_mb": 10.0, "peak_rss_mb": 20.0},
        });
        let t = table(&report, &activity_rows());
        assert!(t.contains("123.4 activities/s"), "{t}");
        assert!(t.contains("start activity: HTTP 503"), "{t}");
        assert!(t.contains("RSS idle 10.0 MB, peak 20.0 MB"), "{t}");
        assert!(
            t.lines()
                .any(|l| l.contains("start → outcome") && l.contains("5.0") && l.contains("8.0")),
            "{t}"
        );
    }
}
