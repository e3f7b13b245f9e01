//! A distributed Waymark of a test's own, for the fault tests: a PostgreSQL (`initdb` into a
//! temporary directory) and a `redis-server` on free ports, `waymark migrate`, then history,
//! matching, timer and frontend processes (`waymark serve ...`) on free `127.0.0.1` ports. Any
//! service can be killed with SIGKILL and started again on its port, Redis restarted empty,
//! PostgreSQL restarted: nothing outside the test is disturbed.
//!
//! Dropping the cluster kills everything and removes the directory; when the test panicked, the
//! tails of every log are printed and the logs are kept.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use super::{Client, Process, Reply, free_port, spawn_process, unique};

/// How long PostgreSQL and Redis may take to accept connections.
const READY_WITHIN: Duration = Duration::from_secs(30);
/// Lines of each log printed when a test fails.
const TAIL_LINES: usize = 40;
const INTERNAL_SECRET: &str = "faults-internal-secret-0123456789abcdef";
const SIGNING_KEY: &str = "faults-signing-key";

/// A service of the distributed deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    History,
    Matching,
    Timer,
    Frontend,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::History => "history",
            Role::Matching => "matching",
            Role::Timer => "timer",
            Role::Frontend => "frontend",
        }
    }
}

/// How many instances of each service and their `WAYMARK_LOG`. Frontend `i` talks to matching
/// `i % matching` and history `i % history`; the other services talk to instance 0 of their
/// peers (timer instances other than 0 find their timers by their periodic scan).
#[derive(Clone, Debug)]
pub struct Topology {
    pub history: usize,
    pub matching: usize,
    pub timer: usize,
    pub frontend: usize,
    pub log: String,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            history: 1,
            matching: 1,
            timer: 1,
            frontend: 1,
            log: "info".into(),
        }
    }
}

/// One `waymark serve` instance: its port and environment stay the same across restarts.
struct Instance {
    role: Role,
    index: usize,
    port: u16,
    env: Vec<(String, String)>,
    process: Option<Process>,
}

impl Instance {
    fn name(&self) -> String {
        format!("{}-{}", self.role.name(), self.index)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

pub struct Cluster {
    dir: PathBuf,
    postgres: Postgres,
    redis: Redis,
    instances: Vec<Instance>,
    http: reqwest::Client,
}

impl Cluster {
    /// One instance of each service.
    pub async fn start() -> Cluster {
        Cluster::start_with(Topology::default()).await
    }

    pub async fn start_with(topology: Topology) -> Cluster {
        let dir = std::env::temp_dir().join(unique("waymark-faults"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut redis = Redis {
            port: free_port(),
            dir: dir.clone(),
            child: None,
        };
        let (postgres, ()) = tokio::join!(Postgres::init(&dir), redis.start());
        postgres.start().await;

        let mut instances = Vec::new();
        for (role, count) in [
            (Role::History, topology.history),
            (Role::Matching, topology.matching),
            (Role::Timer, topology.timer),
            (Role::Frontend, topology.frontend),
        ] {
            assert!(
                count >= 1,
                "a cluster needs at least one {} instance",
                role.name()
            );
            for index in 0..count {
                instances.push(Instance {
                    role,
                    index,
                    port: free_port(),
                    env: Vec::new(),
                    process: None,
                });
            }
        }
        let first = |role: Role| {
            instances
                .iter()
                .find(|i| i.role == role)
                .expect("an instance")
                .url()
        };
        let base: Vec<(String, String)> = [
            ("WAYMARK_DATABASE_URL", postgres.url()),
            ("WAYMARK_DATABASE_SCHEMA", "waymark".into()),
            (
                "WAYMARK_REDIS_URL",
                format!("redis://127.0.0.1:{}", redis.port),
            ),
            ("WAYMARK_REDIS_PREFIX", "waymark:".into()),
            ("WAYMARK_INTERNAL_SECRET", INTERNAL_SECRET.into()),
            ("WAYMARK_SIGNING_KEY", SIGNING_KEY.into()),
            ("WAYMARK_HISTORY_URL", first(Role::History)),
            ("WAYMARK_MATCHING_URL", first(Role::Matching)),
            ("WAYMARK_TIMER_URL", first(Role::Timer)),
            ("WAYMARK_LOG", topology.log.clone()),
            ("WAYMARK_AUTH", "off".into()),
            ("NO_COLOR", "1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let urls = |role: Role| -> Vec<String> {
            instances
                .iter()
                .filter(|i| i.role == role)
                .map(Instance::url)
                .collect()
        };
        let (matching_urls, history_urls) = (urls(Role::Matching), urls(Role::History));
        for instance in &mut instances {
            instance.env = base.clone();
            instance.env.push((
                "WAYMARK_LISTEN".into(),
                format!("127.0.0.1:{}", instance.port),
            ));
            if instance.role == Role::Frontend {
                instance
                    .env
                    .push(("WAYMARK_GRPC_LISTEN".into(), "127.0.0.1:0".into()));
                let matching = matching_urls[instance.index % matching_urls.len()].clone();
                instance.env.push(("WAYMARK_MATCHING_URL".into(), matching));
                let history = history_urls[instance.index % history_urls.len()].clone();
                instance.env.push(("WAYMARK_HISTORY_URL".into(), history));
            }
        }

        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(15))
            .build()
            .expect("http client");
        let mut cluster = Cluster {
            dir,
            postgres,
            redis,
            instances,
            http,
        };
        let migrated = Command::new(env!("CARGO_BIN_EXE_waymark"))
            .arg("migrate")
            .envs(base.iter().map(|(k, v)| (k, v)))
            .output()
            .await
            .expect("run waymark migrate");
        assert!(
            migrated.status.success(),
            "waymark migrate: {}",
            String::from_utf8_lossy(&migrated.stderr)
        );
        for i in 0..cluster.instances.len() {
            cluster.spawn(i).await;
        }
        cluster
    }

    fn position(&self, role: Role, index: usize) -> usize {
        self.instances
            .iter()
            .position(|i| i.role == role && i.index == index)
            .unwrap_or_else(|| panic!("the cluster has no {} instance {index}", role.name()))
    }

    async fn spawn(&mut self, at: usize) {
        let instance = &mut self.instances[at];
        assert!(
            instance.process.is_none(),
            "{} is already running",
            instance.name()
        );
        let env: Vec<(&str, &str)> = instance
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (process, _origin) = spawn_process(
            &self.dir,
            &instance.name(),
            &["serve", instance.role.name()],
            &env,
        )
        .await;
        instance.process = Some(process);
    }

    /// A client of the `default` namespace through frontend 0.
    pub fn client(&self) -> Client {
        self.client_of(0)
    }

    /// A client of the `default` namespace through frontend `index`.
    /// Where instance `index` of `role` listens (`http://host:port`), e.g. for its `/metrics`.
    pub fn url_of(&self, role: Role, index: usize) -> String {
        self.instances[self.position(role, index)].url()
    }

    pub fn client_of(&self, index: usize) -> Client {
        let frontend = &self.instances[self.position(Role::Frontend, index)];
        Client {
            http: self.http.clone(),
            origin: frontend.url(),
            prefix: "/api/v1/namespaces/default".into(),
            key: None,
        }
    }

    /// SIGKILLs one service instance and reaps it.
    pub async fn kill9(&mut self, role: Role, index: usize) {
        let at = self.position(role, index);
        let mut process = self.instances[at]
            .process
            .take()
            .unwrap_or_else(|| panic!("{role:?} {index} is not running"));
        process.child.kill().await.expect("kill -9");
    }

    /// Starts a killed instance again, on the same port with the same environment.
    pub async fn restart(&mut self, role: Role, index: usize) {
        let at = self.position(role, index);
        self.spawn(at).await;
    }

    /// SIGKILLs Redis. It keeps nothing on disk, so it comes back empty.
    pub async fn kill9_redis(&mut self) {
        self.redis.kill9().await;
    }

    pub async fn start_redis(&mut self) {
        self.redis.start().await;
    }

    /// Stops PostgreSQL the hard way (`pg_ctl stop -m immediate`: no checkpoint, crash recovery
    /// at the next start); every connection is cut.
    pub async fn stop_postgres(&mut self) {
        self.postgres.stop().await;
    }

    pub async fn start_postgres(&mut self) {
        self.postgres.start().await;
    }

    /// The whole log of a service instance.
    pub fn log(&self, role: Role, index: usize) -> String {
        let name = self.instances[self.position(role, index)].name();
        std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }

    /// The last `lines` lines of every log: the services', Redis's and PostgreSQL's.
    pub fn log_tails(&self, lines: usize) -> String {
        self.log_files()
            .iter()
            .map(|path| {
                format!(
                    "--- last lines of {} ---\n{}\n",
                    path.display(),
                    tail(path, lines)
                )
            })
            .collect()
    }

    fn log_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .instances
            .iter()
            .map(|i| self.dir.join(format!("{}.log", i.name())))
            .collect();
        files.push(self.redis.log());
        files.push(self.postgres.log.clone());
        files
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for instance in &mut self.instances {
            if let Some(p) = &mut instance.process {
                let _ = p.child.start_kill();
            }
        }
        if let Some(child) = &mut self.redis.child {
            let _ = child.start_kill();
        }
        self.postgres.stop_now();
        let _ = std::fs::remove_dir_all(&self.postgres.data);
        if std::thread::panicking() {
            eprintln!("{}", self.log_tails(TAIL_LINES));
            eprintln!("the cluster's logs are kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let last: Vec<&str> = text.lines().rev().take(lines).collect();
    last.into_iter().rev().collect::<Vec<_>>().join("\n")
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// A PostgreSQL cluster in `<dir>/pg`: data, socket and log. `initdb` and `postgres` refuse to run
/// as root, so as root they run as the `postgres` user (through `runuser`).
struct Postgres {
    bin: PathBuf,
    home: PathBuf,
    data: PathBuf,
    log: PathBuf,
    port: u16,
    as_postgres_user: bool,
}

impl Postgres {
    async fn init(dir: &Path) -> Postgres {
        let home = dir.join("pg");
        std::fs::create_dir_all(&home).expect("postgres dir");
        let as_postgres_user = std::fs::metadata(&home).expect("postgres dir").uid() == 0;
        if as_postgres_user {
            let chown = std::process::Command::new("chown")
                .arg("postgres")
                .arg(&home)
                .output()
                .expect("run chown");
            assert!(
                chown.status.success(),
                "chown postgres {}: {}",
                home.display(),
                String::from_utf8_lossy(&chown.stderr)
            );
        }
        let pg = Postgres {
            bin: postgres_bin(),
            data: home.join("data"),
            log: home.join("postgres.log"),
            home,
            port: free_port(),
            as_postgres_user,
        };
        let data = pg.data.display().to_string();
        let args = [
            "-D",
            data.as_str(),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ];
        pg.run("initdb", &args).await;
        pg
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut c = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        // The postgres user may not be allowed into the test's working directory.
        c.current_dir(&self.home);
        c
    }

    async fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await;
        let out = out.unwrap_or_else(|e| panic!("run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}\n{}\n--- {} ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log.display(),
            tail(&self.log, TAIL_LINES)
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl start`, waiting until it accepts connections. No fsync: the faults kill processes,
    /// not the machine, so what was written is in the page cache.
    async fn start(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c full_page_writes=off",
            self.port,
            self.home.display()
        );
        let (data, log) = (
            self.data.display().to_string(),
            self.log.display().to_string(),
        );
        let timeout = READY_WITHIN.as_secs().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-o", &options, "-w", "-t", &timeout, "start",
            ],
        )
        .await;
    }

    async fn stop(&self) {
        let data = self.data.display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
            .await;
    }

    /// For `Drop`: no runtime needed, errors ignored (it may be stopped already).
    fn stop_now(&self) {
        let data = self.data.display().to_string();
        let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        let program = self.bin.join("pg_ctl");
        let mut c = if self.as_postgres_user {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            std::process::Command::new(program)
        };
        let _ = c
            .current_dir(&self.home)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `WAYMARK_TEST_PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin`, else `$PATH`.
fn postgres_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("WAYMARK_TEST_PG_BIN") {
        return bin.into();
    }
    let versions = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten();
    let newest = versions
        .filter_map(|e| {
            Some((
                e.file_name().to_str()?.parse::<u32>().ok()?,
                e.path().join("bin"),
            ))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .max();
    newest.map(|(_, bin)| bin).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Redis

/// A `redis-server` that keeps nothing on disk.
struct Redis {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Redis {
    fn log(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    async fn start(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("redis log");
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("redis log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn redis-server (is it installed?)");
        self.child = Some(child);
        let deadline = Instant::now() + READY_WITHIN;
        while !self.pong().await {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING within {READY_WITHIN:?}:\n{}",
                tail(&self.log(), TAIL_LINES)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn pong(&self) -> bool {
        let Ok(mut conn) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        if conn.write_all(b"PING\r\n").await.is_err() {
            return false;
        }
        let mut answer = [0u8; 7];
        conn.read_exact(&mut answer).await.is_ok() && &answer == b"+PONG\r\n"
    }

    async fn kill9(&mut self) {
        let mut child = self.child.take().expect("redis-server is not running");
        child.kill().await.expect("kill -9 redis-server");
    }
}

// ---------------------------------------------------------------------------------------------
// Calls that live through an outage

impl Client {
    /// A POST whose transport error (connection refused or reset, timeout) is an answer rather
    /// than a panic: workers keep going while a service is down.
    pub async fn try_post(
        &self,
        path: &str,
        body: &Value,
        grpc_timeout: Option<&str>,
    ) -> Result<Reply, reqwest::Error> {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(t) = grpc_timeout {
            req = req.header("Grpc-Timeout", t);
        }
        reply(req.send().await?).await
    }

    /// A GET with URL-encoded query parameters whose transport error is an answer.
    pub async fn try_get(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<Reply, reqwest::Error> {
        let url = reqwest::Url::parse_with_params(&self.url(path), params).expect("url");
        reply(self.http.get(url).send().await?).await
    }
}

async fn reply(resp: reqwest::Response) -> Result<Reply, reqwest::Error> {
    let status = resp.status();
    let text = resp.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok((status, body))
}
