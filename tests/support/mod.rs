//! The harness of the black-box suite: a server per test (`waymark start-dev`, or the four
//! distributed services), a small JSON client, and the steps many tests share (start, poll,
//! heartbeat, complete, describe, wait).

pub mod browser;
pub mod cluster;
pub mod otlp;
pub mod workflow;
use std::future::Future;
use std::ops::Deref;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// What every call answers: the HTTP status and the JSON body (a JSON string if it was not JSON).
pub type Reply = (StatusCode, Value);

/// How long a test waits for the server to say it listens.
const READY_WITHIN: Duration = Duration::from_secs(10);
/// The distributed services' shared secret (at least 32 bytes, as they require).
pub const INTERNAL_SECRET: &str = "blackbox-internal-secret-0123456789abcdef";
/// The deadline of a task poll that should find a task.
const POLL_TIMEOUT: &str = "5S";
/// The deadline of an `/outcome` long poll that should see the activity close.
const OUTCOME_TIMEOUT: &str = "10S";

/// A name no other test uses: `prefix-<uuid>`.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A `200` with this body.
pub fn ok(body: Value) -> Reply {
    (StatusCode::OK, body)
}

/// The API error body `{"code","message"}` with its HTTP status.
pub fn error(status: u16, code: i64, message: &str) -> Reply {
    (
        StatusCode::from_u16(status).unwrap(),
        json!({"code": code, "message": message}),
    )
}

/// `404 activity not found for ID: <id>`, as every stale or unknown worker call answers.
pub fn activity_not_found(id: &str) -> Reply {
    (
        StatusCode::NOT_FOUND,
        json!({
            "code": 5,
            "message": format!("activity not found for ID: {id}"),
            "details": [{"@type": "type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure"}],
        }),
    )
}

/// A worker's application failure.
pub fn app_failure(message: &str, error_type: &str) -> Value {
    json!({"message": message, "applicationFailureInfo": {"type": error_type}})
}

/// A failure the server produced for a timeout (standalone activities carry no `source`).
pub fn timeout_failure(message: &str, timeout_type: &str) -> Value {
    json!({"message": message, "timeoutFailureInfo": {"timeoutType": timeout_type}})
}

/// Runs `f` until it yields `Some`, at most `within`; panics if it never does.
pub async fn eventually<T, F, Fut>(within: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Awaits `f` and says when it finished.
pub async fn finished_at<T>(f: impl Future<Output = T>) -> (T, Instant) {
    let v = f.await;
    (v, Instant::now())
}

// ---------------------------------------------------------------------------------------------
// The server process

/// One `waymark start-dev` on a fresh database; killed when dropped. Derefs to a client of the
/// `default` namespace (`/api/v1/namespaces/default`).
pub struct Server {
    processes: Vec<Process>,
    dir: PathBuf,
    db: Database,
    /// Extra environment of every process (`start_with_env`).
    env: Vec<(String, String)>,
    client: Client,
}

/// One running `waymark` process.
struct Process {
    child: Child,
    /// Where it listens (`http://host:port`).
    origin: String,
    /// Where its gRPC API listens (`host:port`), if it serves one.
    grpc: Option<String>,
    /// Held so the process's stdout stays open.
    _stdout: Lines<BufReader<ChildStdout>>,
}

/// Where a test server keeps its state.
#[derive(Clone)]
enum Database {
    /// start-dev on SQLite: a file or `:memory:`.
    Sqlite(String),
    /// The four distributed services on a PostgreSQL schema and a Redis key prefix of their own.
    Distributed { schema: String, prefix: String },
}

/// Whether an external tool a test drives is `installed`; where it is not, the test is skipped
/// (see `skip`), except with `CI=true`, where `.ci/run` installs it (`install`) and its absence
/// fails the test.
pub fn tool_installed(tool: &str, installed: bool, install: &str) -> bool {
    if installed {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!ci, "{tool} is missing; .ci/run installs it (`{install}`)");
    skip(&format!("{tool} is missing (`{install}`)"));
    false
}

/// The line a skipped test prints, on the run's own output next to `test ... ok`.
pub const SKIPPED: &str = "SKIPPED ";

/// Says that the calling test is skipped and why, for the caller to return: libtest reports it
/// as passed, so the line `SKIPPED <test>: <why>` goes straight to the run's standard output,
/// which `print!` would not do (libtest captures that and shows it only for a failure).
pub fn skip(why: &str) {
    use std::io::Write;
    // libtest names each test's thread after the test.
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{SKIPPED}{test}: {why}");
}

/// `WAYMARK_TEST_DEPLOYMENT=distributed` runs the suite against `waymark serve` processes.
pub fn distributed() -> bool {
    std::env::var("WAYMARK_TEST_DEPLOYMENT").is_ok_and(|d| d == "distributed")
}

fn database_url() -> String {
    std::env::var("WAYMARK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The test database's URL with `params` added to its query string.
pub fn database_url_with(params: &str) -> String {
    let url = database_url();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{params}")
}

fn redis_url() -> String {
    std::env::var("WAYMARK_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

impl Server {
    /// A server that keeps its data across restarts: start-dev on an SQLite file in a fresh
    /// temporary directory, or the distributed deployment on its own schema and key prefix.
    pub async fn start() -> Server {
        Server::start_with_env(&[]).await
    }

    /// As `start`, with `env` added to the environment of every process of the server.
    pub async fn start_with_env(env: &[(&str, &str)]) -> Server {
        let dir = fresh_dir();
        let db = if distributed() {
            let salt = uuid::Uuid::new_v4().simple().to_string();
            Database::Distributed {
                schema: format!("bb_{salt}"),
                prefix: format!("bb{salt}:"),
            }
        } else {
            Database::Sqlite(dir.join("waymark.db").display().to_string())
        };
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Server::spawn(dir, db, env.collect()).await
    }

    /// As `start_with_env`, on the distributed deployment whatever `WAYMARK_TEST_DEPLOYMENT`
    /// says (for what only it has, such as mutual TLS between the services).
    pub async fn start_distributed_with_env(env: &[(&str, &str)]) -> Server {
        let salt = uuid::Uuid::new_v4().simple().to_string();
        let db = Database::Distributed {
            schema: format!("bb_{salt}"),
            prefix: format!("bb{salt}:"),
        };
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Server::spawn(fresh_dir(), db, env.collect()).await
    }

    /// A throwaway server (start-dev in memory; distributed: as `start`).
    pub async fn start_in_memory() -> Server {
        if distributed() {
            return Server::start().await;
        }
        Server::spawn(fresh_dir(), Database::Sqlite(":memory:".into()), vec![]).await
    }

    async fn spawn(dir: PathBuf, db: Database, env: Vec<(String, String)>) -> Server {
        let (processes, origin) = launch(&dir, &db, &env).await;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        let client = Client {
            http,
            origin,
            prefix: "/api/v1/namespaces/default".into(),
            key: None,
        };
        Server {
            processes,
            dir,
            db,
            env,
            client,
        }
    }

    /// SIGKILLs the server (every process of it) and starts it again on the same data.
    pub async fn restart_after_kill9(&mut self) {
        for p in &mut self.processes {
            p.child.kill().await.expect("kill -9 waymark");
        }
        let (processes, origin) = launch(&self.dir, &self.db, &self.env).await;
        self.processes = processes;
        self.client.origin = origin;
    }

    /// The process ids of the server's processes (start-dev: one; distributed: history,
    /// matching, timer, frontend), for a test that signals them itself.
    pub fn pids(&self) -> Vec<u32> {
        self.processes.iter().filter_map(|p| p.child.id()).collect()
    }

    /// Where each process listens (`http://host:port`), in the order of `pids`.
    pub fn origins(&self) -> Vec<String> {
        self.processes.iter().map(|p| p.origin.clone()).collect()
    }

    /// Waits up to `within` for every process to exit (after a signal the test sent); their
    /// exit statuses, in the order of `pids`. Panics if one is still running.
    pub async fn wait_exited(&mut self, within: Duration) -> Vec<std::process::ExitStatus> {
        let mut statuses = Vec::new();
        for p in &mut self.processes {
            let status = tokio::time::timeout(within, p.child.wait()).await;
            statuses.push(
                status
                    .unwrap_or_else(|_| panic!("waymark still runs {within:?} later"))
                    .expect("wait for waymark"),
            );
        }
        statuses
    }

    /// Starts the server again on the same data, once its processes exited.
    pub async fn relaunch(&mut self) {
        let (processes, origin) = launch(&self.dir, &self.db, &self.env).await;
        self.processes = processes;
        self.client.origin = origin;
    }

    /// A client of the same server under another path prefix, e.g. `/namespaces/default`.
    pub fn at(&self, prefix: &str) -> Client {
        Client {
            prefix: prefix.into(),
            ..self.client.clone()
        }
    }

    /// `host:port` of the server's HTTP API.
    pub fn authority(&self) -> String {
        let origin = &self.client.origin;
        origin
            .split_once("://")
            .map_or(origin.as_str(), |(_, a)| a)
            .to_owned()
    }

    /// Sends one request as no client library would (`request_line`, then `headers`, each line
    /// ending in CRLF) on a connection of its own; the answer, read until the server closes it.
    pub async fn raw_exchange(&self, request_line: &str, headers: &str) -> Reply {
        let conn = tokio::net::TcpStream::connect(self.authority())
            .await
            .expect("connect");
        exchange_over(conn, request_line, headers).await
    }

    /// What the server's processes logged so far (their stderr).
    pub fn logs(&self) -> String {
        std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect()
    }

    /// `host:port` of the server's gRPC API (Temporal's `WorkflowService`).
    pub fn grpc_address(&self) -> String {
        self.processes
            .iter()
            .find_map(|p| p.grpc.clone())
            .expect("the server prints its gRPC address")
    }

    /// An owned client of the default namespace (for spawned tasks).
    pub fn client(&self) -> Client {
        self.client.clone()
    }
}

/// `Server::raw_exchange` on a connection of the caller's (TLS, say).
pub async fn exchange_over(
    mut conn: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    request_line: &str,
    headers: &str,
) -> Reply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!("{request_line}\r\nHost: x\r\nConnection: close\r\n{headers}\r\n");
    // The server may answer and close before it read the whole request.
    let _ = conn.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| StatusCode::from_bytes(code.as_bytes()).ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"));
    let body = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.into()));
    (status, body)
}

impl Deref for Server {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for p in &mut self.processes {
            let _ = p.child.start_kill();
        }
        if let Database::Distributed { schema, prefix } = &self.db {
            drop_distributed_data(schema, prefix);
        }
        if std::thread::panicking() {
            let logs = std::fs::read_dir(&self.dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path());
            for log in logs.filter(|p| p.extension().is_some_and(|e| e == "log")) {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                eprintln!(
                    "--- last lines of {} ---\n{}",
                    log.display(),
                    tail.join("\n")
                );
            }
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn fresh_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("waymark-blackbox"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Starts the server's processes; returns them and the origin of its public API.
async fn launch(
    dir: &std::path::Path,
    db: &Database,
    env: &[(String, String)],
) -> (Vec<Process>, String) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    match db {
        Database::Sqlite(file) => {
            let (process, origin) = spawn_process(
                dir,
                "server",
                &["start-dev", "--port", "0", "--grpc-port", "0", "--db", file],
                &env,
            )
            .await;
            (vec![process], origin)
        }
        Database::Distributed { schema, prefix } => {
            launch_distributed(dir, schema, prefix, &env).await
        }
    }
}

/// `waymark migrate`, then history, matching, timer and frontend, each on a free port. A port
/// that another test took between `free_port` and the bind means new ports and a new try.
async fn launch_distributed(
    dir: &std::path::Path,
    schema: &str,
    prefix: &str,
    extra_env: &[(&str, &str)],
) -> (Vec<Process>, String) {
    let common: Vec<(&str, String)> = vec![
        ("WAYMARK_DATABASE_URL", database_url()),
        ("WAYMARK_DATABASE_SCHEMA", schema.into()),
        ("WAYMARK_REDIS_URL", redis_url()),
        ("WAYMARK_REDIS_PREFIX", prefix.into()),
        ("WAYMARK_INTERNAL_SECRET", INTERNAL_SECRET.into()),
        ("WAYMARK_SIGNING_KEY", "blackbox-signing-key".into()),
        ("WAYMARK_GRPC_LISTEN", "127.0.0.1:0".into()),
        // The suite speaks without keys; `auth` turns them on through `start_with_env`.
        ("WAYMARK_AUTH", "off".into()),
    ];
    let migrated = Command::new(env!("CARGO_BIN_EXE_waymark"))
        .arg("migrate")
        .envs(common.iter().map(|(k, v)| (k, v)))
        .output()
        .await
        .expect("run waymark migrate");
    assert!(
        migrated.status.success(),
        "waymark migrate: {}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    for _ in 0..5 {
        let [history, matching, timer, frontend] = [(); 4].map(|()| free_port());
        // With mutual TLS between the services, they call each other over HTTPS.
        let tls = extra_env
            .iter()
            .any(|(k, _)| *k == "WAYMARK_INTERNAL_TLS_CERT");
        let scheme = if tls { "https" } else { "http" };
        let url = |port: u16| format!("{scheme}://127.0.0.1:{port}");
        let mut env = common.clone();
        env.extend([
            ("WAYMARK_HISTORY_URL", url(history)),
            ("WAYMARK_MATCHING_URL", url(matching)),
            ("WAYMARK_TIMER_URL", url(timer)),
        ]);
        let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend_from_slice(extra_env);
        let (mut processes, mut origin) = (Vec::new(), String::new());
        for (service, port) in [
            ("history", history),
            ("matching", matching),
            ("timer", timer),
            ("frontend", frontend),
        ] {
            let listen = format!("127.0.0.1:{port}");
            let mut env = env.clone();
            env.push(("WAYMARK_LISTEN", &listen));
            match try_spawn_process(dir, service, &["serve", service], &env).await {
                Ok((process, at)) => {
                    processes.push(process);
                    origin = at;
                }
                Err(log) if log.contains("Address already in use") => break,
                Err(log) => panic!("waymark {service} exited before listening:\n{log}"),
            }
        }
        if processes.len() == 4 {
            return (processes, origin);
        }
    }
    panic!("no free ports for the distributed services in five tries")
}

/// A port free right now (the services of one test need each other's addresses up front).
/// Drawn at random below Linux's ephemeral range (32768 and up), where the kernel hands out the
/// ports of outgoing connections and of `bind(0)`, so parallel tests rarely pick the same one.
pub(crate) fn free_port() -> u16 {
    loop {
        let port = 10_000 + (uuid::Uuid::new_v4().as_u128() % 20_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Removes a distributed test server's schema and Redis keys.
fn drop_distributed_data(schema: &str, prefix: &str) {
    let _ = std::process::Command::new("psql")
        .args([
            &database_url(),
            "-q",
            "-c",
            &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
        ])
        .output();
    let keys = std::process::Command::new("redis-cli")
        .args([
            "-u",
            &redis_url(),
            "--scan",
            "--pattern",
            &format!("{prefix}*"),
        ])
        .output();
    if let Ok(keys) = keys {
        let keys: Vec<String> = String::from_utf8_lossy(&keys.stdout)
            .lines()
            .map(String::from)
            .collect();
        if !keys.is_empty() {
            let _ = std::process::Command::new("redis-cli")
                .args(["-u", &redis_url(), "DEL"])
                .args(&keys)
                .output();
        }
    }
}

/// Spawns the binary and waits for `... listening on http://...`; returns the origin.
async fn spawn_process(
    dir: &std::path::Path,
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Process, String) {
    try_spawn_process(dir, name, args, env)
        .await
        .unwrap_or_else(|log| panic!("waymark {name} exited before listening:\n{log}"))
}

/// `spawn_process`, or the process's log if it exited before listening.
async fn try_spawn_process(
    dir: &std::path::Path,
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<(Process, String), String> {
    let log_path = dir.join(format!("{name}.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn waymark");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut grpc = None;
    let origin = tokio::time::timeout(READY_WITHIN, async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            // The gRPC API's line comes before the HTTP API's.
            if let Some(addr) = line.strip_prefix("Waymark gRPC API on ") {
                grpc = Some(addr.trim().to_owned());
            }
            if let Some((_, url)) = line.split_once("listening on ") {
                return Ok(url.trim().trim_end_matches('/').to_owned());
            }
        }
        Err(std::fs::read_to_string(&log_path).unwrap_or_default())
    })
    .await
    .unwrap_or_else(|_| {
        panic!("waymark {name} did not print `listening on` within {READY_WITHIN:?}")
    })?;
    Ok((
        Process {
            child,
            origin: origin.clone(),
            grpc,
            _stdout: lines,
        },
        origin,
    ))
}

// ---------------------------------------------------------------------------------------------
// The client

/// Speaks JSON to one path prefix of the server; paths are relative to it.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    origin: String,
    prefix: String,
    /// Sent as `Authorization: Bearer <key>` (`with_key`).
    key: Option<String>,
}

impl Client {
    /// The same client, sending its requests with `http` (one that trusts a test CA, say).
    pub fn using(&self, http: reqwest::Client) -> Client {
        Client {
            http,
            ..self.clone()
        }
    }

    /// The same client, sending API key `key`.
    pub fn with_key(&self, key: &str) -> Client {
        Client {
            key: Some(key.into()),
            ..self.clone()
        }
    }

    /// Where the server listens (`http://host:port`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}/{}", self.origin, self.prefix, path)
    }

    /// Any request; `body` is sent as is, `grpc_timeout` as the `Grpc-Timeout` header.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<String>,
        grpc_timeout: Option<&str>,
    ) -> Reply {
        let mut req = self.http.request(method.clone(), url);
        if let Some(body) = body {
            req = req.header("Content-Type", "application/json").body(body);
        }
        if let Some(t) = grpc_timeout {
            req = req.header("Grpc-Timeout", t);
        }
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status();
        let text = resp.text().await.expect("response body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, &self.url(path), Some(body.to_string()), None)
            .await
    }

    pub async fn post_waiting(&self, path: &str, body: Value, grpc_timeout: &str) -> Reply {
        self.send(
            Method::POST,
            &self.url(path),
            Some(body.to_string()),
            Some(grpc_timeout),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, &self.url(path), None, None).await
    }

    pub async fn get_waiting(&self, path: &str, grpc_timeout: &str) -> Reply {
        self.send(Method::GET, &self.url(path), None, Some(grpc_timeout))
            .await
    }

    /// GET with URL-encoded query parameters.
    pub async fn get_with(
        &self,
        path: &str,
        params: &[(&str, &str)],
        grpc_timeout: Option<&str>,
    ) -> Reply {
        let url = reqwest::Url::parse_with_params(&self.url(path), params).expect("url");
        self.send(Method::GET, url.as_str(), None, grpc_timeout)
            .await
    }

    // --- Starting and inspecting activities -------------------------------------------------

    /// Starts activity `id` of type `T` on task queue `id` with a 10 s start-to-close timeout;
    /// the top-level fields of `extra` replace those (`null` removes one).
    pub async fn try_start(&self, id: &str, extra: Value) -> Reply {
        let mut body = json!({
            "activityType": {"name": "T"},
            "taskQueue": {"name": id},
            "startToCloseTimeout": "10s",
        });
        for (k, v) in extra.as_object().expect("extra fields are an object") {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        self.post(&format!("activities/{id}"), body).await
    }

    /// `try_start` that must succeed; returns the answer (`runId`, `started`, `link`).
    pub async fn start_activity(&self, id: &str, extra: Value) -> Value {
        let (status, body) = self.try_start(id, extra).await;
        assert_eq!(status, StatusCode::OK, "start {id}: {body}");
        body
    }

    /// Describe with everything included; must succeed.
    pub async fn describe(&self, id: &str) -> Value {
        let path = format!(
            "activities/{id}?includeInput=true&includeOutcome=true&includeHeartbeatDetails=true&includeLastFailure=true"
        );
        let (status, body) = self.get(&path).await;
        assert_eq!(status, StatusCode::OK, "describe {id}: {body}");
        body
    }

    /// Describe's `info`.
    pub async fn info(&self, id: &str) -> Value {
        self.describe(id).await["info"].clone()
    }

    /// Where the activity is: `status`, `runState` (absent once closed) and `attempt` of describe.
    pub async fn state(&self, id: &str) -> Value {
        let info = self.info(id).await;
        let fields = ["status", "runState", "attempt"]
            .into_iter()
            .filter_map(|k| Some((k.to_owned(), info.get(k)?.clone())));
        Value::Object(fields.collect())
    }

    /// Waits for the activity to close and returns the `/outcome` answer (`runId`, `outcome`).
    pub async fn outcome_reply(&self, id: &str) -> Value {
        let (status, body) = self
            .get_waiting(&format!("activities/{id}/outcome"), OUTCOME_TIMEOUT)
            .await;
        assert_eq!(status, StatusCode::OK, "outcome of {id}: {body}");
        assert!(
            body.get("outcome").is_some(),
            "{id} did not close within {OUTCOME_TIMEOUT}: {body}"
        );
        body
    }

    /// Waits for the activity to close and returns its outcome.
    pub async fn outcome(&self, id: &str) -> Value {
        self.outcome_reply(id).await["outcome"].clone()
    }

    // --- The worker --------------------------------------------------------------------------

    /// Polls `queue` (deadline 5 s); a task must come.
    pub async fn poll_task(&self, queue: &str) -> Value {
        let (status, task) = self.poll(queue, POLL_TIMEOUT).await;
        assert_eq!(status, StatusCode::OK, "poll {queue}: {task}");
        assert!(
            task["taskToken"].as_str().is_some_and(|t| !t.is_empty()),
            "no task on {queue}: {task}"
        );
        task
    }

    /// Polls `queue` for 3 s (answered at 2 s); no task may come.
    pub async fn poll_nothing(&self, queue: &str) {
        assert_eq!(
            self.poll(queue, "3S").await,
            ok(json!({})),
            "a task was delivered on {queue}"
        );
    }

    pub async fn poll(&self, queue: &str, grpc_timeout: &str) -> Reply {
        let body = json!({"taskQueue": {"name": queue}, "identity": "test-worker"});
        self.post_waiting("activity-tasks/poll", body, grpc_timeout)
            .await
    }

    /// A by-token worker call (`activity-heartbeat`, `activity-complete`, ...) for `task`.
    pub async fn worker_call(&self, path: &str, task: &Value, extra: Value) -> Reply {
        let mut body = extra;
        body["taskToken"] = task["taskToken"].clone();
        if body.get("identity").is_none() {
            body["identity"] = json!("test-worker");
        }
        self.post(path, body).await
    }

    /// Heartbeats with `details` (`null`: no details field); returns the answer.
    pub async fn heartbeat(&self, task: &Value, details: Value) -> Value {
        let extra = if details.is_null() {
            json!({})
        } else {
            json!({"details": details})
        };
        let (status, body) = self.worker_call("activity-heartbeat", task, extra).await;
        assert_eq!(status, StatusCode::OK, "heartbeat: {body}");
        body
    }

    pub async fn complete(&self, task: &Value, result: Value) {
        let reply = self
            .worker_call("activity-complete", task, json!({"result": result}))
            .await;
        assert_eq!(reply, ok(json!({})), "complete");
    }

    pub async fn fail(&self, task: &Value, failure: Value) {
        let reply = self
            .worker_call("activity-fail", task, json!({"failure": failure}))
            .await;
        assert_eq!(reply, ok(json!({})), "fail");
    }

    /// A call on `activities/{id}/{op}` (cancel, terminate, pause, complete, ...).
    pub async fn by_id(&self, id: &str, op: &str, body: Value) -> Reply {
        self.post(&format!("activities/{id}/{op}"), body).await
    }
}
