//! The suite's harness: builds the `waymark` binary and the SDK's examples once, starts a fresh
//! `waymark start-dev` per test, and offers the steps many tests share.

use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use waymark_sdk::{Client, ClientOptions, ShutdownHandle, Worker, WorkerError, WorkerOptions};

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// `target/<profile>`: this test binary lives in its `deps/`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// Builds the `waymark` binary and the SDK's examples once per test binary. Cargo builds
/// another package's binary for no integration test of this one (and `cargo test --workspace`
/// promises no order), so the suite asks cargo itself: cargo's lock is free while tests run, and
/// the build is a no-op when everything is fresh. The two commands are the usual ones, so that
/// their feature sets (and build caches) are those of a developer's `cargo build -p waymark`.
fn built() -> &'static PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let dir = profile_dir();
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        for args in [
            &["build", "-p", "waymark"][..],
            &["build", "-p", "waymark-sdk", "--examples"],
        ] {
            let mut cargo = std::process::Command::new(env!("CARGO"));
            cargo
                .args(args)
                .arg("--quiet")
                .arg("--manifest-path")
                .arg(&manifest);
            if dir.file_name().is_some_and(|p| p == "release") {
                cargo.arg("--release");
            }
            eprintln!("running `cargo {}`", args.join(" "));
            let out = cargo.output().map_err(|e| format!("running cargo: {e}"))?;
            if !out.status.success() {
                let error = format!(
                    "`cargo {}` failed:\n{}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                );
                // A broken build elsewhere in the workspace fails that package's own tests; here
                // the last good binary still serves, with a warning.
                if args.contains(&"waymark") && dir.join("waymark").exists() {
                    eprintln!(
                        "{error}\nwarning: testing against the existing {}",
                        dir.join("waymark").display()
                    );
                    continue;
                }
                return Err(error);
            }
        }
        let server = dir.join("waymark");
        if !server.exists() {
            return Err(format!(
                "{} is missing after `cargo build -p waymark`",
                server.display()
            ));
        }
        Ok(dir)
    });
    match built {
        Ok(dir) => dir,
        Err(e) => panic!(
            "{e}\nBuild by hand with `cargo build -p waymark && cargo build -p waymark-sdk --examples`, then run the tests again."
        ),
    }
}

/// The path of example `name`, built.
pub fn example(name: &str) -> PathBuf {
    built().join("examples").join(name)
}

/// One `waymark start-dev` on an in-memory database; killed when dropped.
pub struct Server {
    pub url: String,
    _process: Child,
    log: PathBuf,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with_env(&[]).await
    }

    /// As `start`, with `env` added to the server's environment.
    pub async fn start_with_env(env: &[(&str, &str)]) -> Server {
        let binary = built().join("waymark");
        let log = std::env::temp_dir().join(format!("{}.log", unique("waymark-sdk-test")));
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut process = Command::new(&binary)
            .args([
                "start-dev",
                "--port",
                "0",
                "--grpc-port",
                "0",
                "--log",
                "info",
            ])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let mut lines = BufReader::new(process.stdout.take().expect("stdout")).lines();
        let url = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await.expect("server stdout") {
                if let Some((_, url)) = line.split_once("listening on ") {
                    return url.trim().to_owned();
                }
            }
            panic!(
                "waymark exited before listening:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        })
        .await
        .expect("waymark start-dev did not print its address within 20 s");
        // Keep reading stdout so that the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Server {
            url,
            _process: process,
            log,
        }
    }

    pub async fn client(&self) -> Client {
        Client::connect(&self.url, ClientOptions::default().identity("sdk-test"))
            .await
            .expect("connect")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            eprintln!(
                "--- last server log lines ---\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A worker running in the background.
pub struct Running {
    pub shutdown: ShutdownHandle,
    pub task: JoinHandle<Result<(), WorkerError>>,
}

impl Running {
    /// Shuts down gracefully and waits for `run` to return.
    pub async fn stop(self) -> Result<(), WorkerError> {
        self.shutdown.shutdown();
        self.task.await.expect("worker task")
    }
}

/// Starts `worker` in the background.
pub fn run(worker: Worker) -> Running {
    let shutdown = worker.shutdown_handle();
    Running {
        shutdown,
        task: tokio::spawn(worker.run()),
    }
}

/// A worker of `queue` with `options`, after `register` added its activities.
pub fn start_worker(
    client: &Client,
    queue: &str,
    options: WorkerOptions,
    register: impl FnOnce(&mut Worker),
) -> Running {
    let mut worker = Worker::new(client.clone(), queue, options);
    register(&mut worker);
    run(worker)
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
