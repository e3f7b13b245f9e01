//! The one Waymark binary. `waymark start-dev` runs all four services in one process on
//! SQLite with the in-process task queue; `waymark serve <service>` runs the distributed
//! deployment on PostgreSQL and Redis. The other commands are a client of a running server
//! (`waymark workflow list`, ...).

mod auth;
mod bench;
mod bench_list;
mod cli;
mod limits;
mod serve;
mod tls;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use waymark::embedded::Engine;
use waymark_clients::{Clock, SystemClock};
use waymark_core::task_token::TokenSigner;
use waymark_frontend::AppState;
use waymark_store::Store;

/// What start-dev and the frontend print, followed by the address, once the gRPC API listens.
pub(crate) const GRPC_READY_LINE: &str = "Waymark gRPC API on ";

/// Store key of start-dev's task-token signing key: kept with the data, so tokens survive a restart.
const SIGNING_KEY_META: &str = "task_token_signing_key";

#[derive(Parser)]
#[command(
    name = "waymark",
    version,
    about = "Waymark: a durable execution server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start: boxing the large variants would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run every service in one process on SQLite, with nothing else to install.
    StartDev {
        /// Port of the HTTP API (0 picks a free one).
        #[arg(long, default_value_t = 7243, env = "WAYMARK_PORT")]
        port: u16,
        /// Port of Temporal's gRPC API, for Temporal's SDKs and CLI (0 picks a free one).
        #[arg(long, default_value_t = 7233, env = "WAYMARK_GRPC_PORT")]
        grpc_port: u16,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1", env = "WAYMARK_IP")]
        ip: IpAddr,
        /// SQLite database file, or `:memory:` for a throwaway server.
        #[arg(long, default_value = ":memory:", env = "WAYMARK_DB")]
        db: String,
        #[command(flatten)]
        auth: auth::AuthArgs,
        #[command(flatten)]
        tls: tls::TlsArgs,
        #[command(flatten)]
        limits: limits::LimitArgs,
        #[command(flatten)]
        logs: Logs,
    },
    /// Run one service of the distributed deployment (or `all` of them) on PostgreSQL and Redis.
    #[command(subcommand)]
    Serve(serve::ServeCommand),
    /// Bring the PostgreSQL schema up to date, then exit.
    Migrate {
        #[command(flatten)]
        cfg: serve::DatabaseArgs,
    },
    /// Exit 0 when the URL answers 2xx (for container health checks).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:7243/readyz")]
        url: String,
        #[command(flatten)]
        internal_tls: tls::InternalTlsArgs,
    },
    /// Print the OpenAPI 3.1 document of the public API (what `/api/v1/openapi.json` serves).
    Openapi,
    /// Load generators: point them at a running server (--url), or let them start one (--spawn).
    #[command(subcommand)]
    Bench(Bench),
    /// Workflow executions: start, execute, describe, show, list, count, result, signal, query,
    /// cancel, terminate.
    Workflow {
        #[command(flatten)]
        conn: cli::Connection,
        #[command(subcommand)]
        verb: cli::workflow::Verb,
    },
    /// Activities: standalone ones (start, execute, describe, result, list, count, cancel,
    /// terminate, pause, unpause, reset, update-options), and any one's complete, fail and
    /// heartbeat by hand.
    Activity {
        #[command(flatten)]
        conn: cli::Connection,
        #[command(subcommand)]
        verb: cli::activity::Verb,
    },
    /// Task queues: pollers, backlog, rates and rate limits.
    TaskQueue {
        #[command(flatten)]
        conn: cli::Connection,
        #[command(subcommand)]
        verb: cli::admin::TaskQueueVerb,
    },
    /// Namespaces: list, describe, create.
    Namespace {
        #[command(flatten)]
        conn: cli::Connection,
        #[command(subcommand)]
        verb: cli::admin::NamespaceVerb,
    },
    /// API keys: create, list, disable, enable, delete.
    ApiKey {
        #[command(flatten)]
        conn: cli::Connection,
        #[command(subcommand)]
        verb: cli::admin::ApiKeyVerb,
    },
    /// The client's connection profiles (~/.config/waymark/config.toml).
    Config {
        /// The profile [default: default].
        #[arg(long, global = true, env = "WAYMARK_PROFILE")]
        profile: Option<String>,
        #[command(subcommand)]
        verb: cli::config::Verb,
    },
    /// Print a shell completion script: `source <(waymark completion bash)`.
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Where logs and traces go. Traces are exported over OTLP when the standard `OTEL_*` variables
/// name an endpoint (see the README).
#[derive(clap::Args)]
struct Logs {
    /// Log filter (tracing's env-filter syntax).
    #[arg(long, default_value = "info", env = "WAYMARK_LOG")]
    log: String,
    /// Log lines as `text` or `json` (one object per line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "WAYMARK_LOG_FORMAT")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

impl Logs {
    /// Installs the logger and, when configured, the trace exporter of the process `service`.
    fn init(&self, service: &'static str) -> anyhow::Result<()> {
        let format = match self.log_format {
            LogFormat::Text => waymark_telemetry::LogFormat::Text,
            LogFormat::Json => waymark_telemetry::LogFormat::Json,
        };
        waymark_telemetry::init_logs(&self.log, format);
        waymark_telemetry::trace::init(service).map_err(anyhow::Error::msg)
    }
}

#[derive(Subcommand)]
enum Bench {
    /// Standalone activities through start → poll → complete → outcome.
    Activities(bench::ActivitiesBench),
    /// Workflows each running sequential activities, the bench playing both workers.
    Workflows(bench::WorkflowsBench),
    /// The web UI's workflow list with many workflows: its page and list requests.
    List(bench_list::ListBench),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::StartDev {
            port,
            grpc_port,
            ip,
            db,
            auth,
            tls,
            limits,
            logs,
        } => {
            logs.init("waymark")?;
            // Like Temporal's dev server on a laptop; anywhere else, keys unless --auth=off.
            let default = match ip.is_loopback() {
                true => auth::AuthMode::Off,
                false => auth::AuthMode::On,
            };
            let auth = auth.build(default)?;
            let addrs = (SocketAddr::new(ip, port), SocketAddr::new(ip, grpc_port));
            let served = start_dev(addrs, &db, (auth, &tls), &limits).await;
            waymark_telemetry::trace::shutdown();
            served
        }
        Command::Serve(command) => {
            command.logs().init(command.service().trace_name())?;
            let shutdown = CancellationToken::new();
            tokio::spawn(stop_on_signal(shutdown.clone()));
            let served = serve::serve(command, shutdown).await;
            waymark_telemetry::trace::shutdown();
            served
        }
        Command::Migrate { cfg } => serve::migrate(&cfg).await,
        Command::Healthcheck { url, internal_tls } => serve::healthcheck(&url, &internal_tls).await,
        Command::Openapi => print_ignoring_closed_pipe(&waymark_frontend::openapi::document_json()),
        Command::Bench(Bench::Activities(b)) => bench::run_activities(b).await,
        Command::Bench(Bench::Workflows(b)) => bench::run_workflows(b).await,
        Command::Bench(Bench::List(b)) => bench_list::run(b).await,
        Command::Workflow { conn, verb } => client(&conn, cli::Noun::Workflow(verb)).await,
        Command::Activity { conn, verb } => client(&conn, cli::Noun::Activity(verb)).await,
        Command::TaskQueue { conn, verb } => client(&conn, cli::Noun::TaskQueue(verb)).await,
        Command::Namespace { conn, verb } => client(&conn, cli::Noun::Namespace(verb)).await,
        Command::ApiKey { conn, verb } => client(&conn, cli::Noun::ApiKey(verb)).await,
        Command::Config { profile, verb } => match cli::config::run(profile.as_deref(), verb) {
            Ok(0) => Ok(()),
            Ok(status) => std::process::exit(status),
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::exit(cli::exit::FAILED)
            }
        },
        Command::Completion { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "waymark", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// Runs a client command; a failure has printed its line and sets the exit status.
async fn client(conn: &cli::Connection, noun: cli::Noun) -> anyhow::Result<()> {
    match cli::run(conn, noun).await {
        0 => Ok(()),
        status => std::process::exit(status),
    }
}

/// Prints `text`; a reader that stops early (`waymark openapi | head`) is not an error.
fn print_ignoring_closed_pipe(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => Ok(written?),
    }
}

fn sqlite_url(db: &str) -> String {
    if db == ":memory:" {
        "sqlite::memory:".into()
    } else {
        format!("sqlite://{}", PathBuf::from(db).display())
    }
}

/// `addrs`: the HTTP API's address and the gRPC API's.
async fn start_dev(
    (addr, grpc_addr): (SocketAddr, SocketAddr),
    db: &str,
    (auth, tls): (Arc<waymark_frontend::auth::Auth>, &tls::TlsArgs),
    limits: &limits::LimitArgs,
) -> anyhow::Result<()> {
    let public_tls = tls.public()?;
    let (frontend, history_limits) = (limits.frontend.config()?, limits.history.limits(true)?);
    let retention_sweep_every = limits.history.retention_sweep_every()?;
    let store = Store::connect(&sqlite_url(db), None)
        .await
        .with_context(|| format!("opening database {db}"))?;
    store.migrate().await.context("migrating the database")?;
    let fresh_key = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let key = store.get_or_init_meta(SIGNING_KEY_META, &fresh_key).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (
        Engine {
            history,
            matching,
            timer,
        },
        requeued,
    ) = Engine::boot(&store, TokenSigner::new(key), clock, history_limits).await?;
    // On SIGTERM every long poll answers at once, in the service that waits as in the frontend.
    let shutdown = CancellationToken::new();
    history.end_long_polls_on(shutdown.clone());
    matching.end_polls_on(shutdown.clone());
    serve::sample_on_scrape(Some(&history), Some(&matching));

    let timers = tokio::spawn(timer.clone().run(shutdown.clone()));
    tokio::spawn(
        history
            .clone()
            .run_retention(retention_sweep_every, shutdown.clone()),
    );
    tokio::spawn(stop_on_signal(shutdown.clone()));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let bound = listener.local_addr()?;
    let grpc_listener = tokio::net::TcpListener::bind(grpc_addr)
        .await
        .with_context(|| format!("binding {grpc_addr}"))?;
    let grpc_bound = grpc_listener.local_addr()?;
    // Tests and scripts read these lines to find the ports (the gRPC one comes first).
    println!("{GRPC_READY_LINE}{grpc_bound}");
    println!("Waymark listening on {}://{bound}", tls.scheme());
    tracing::info!(%bound, %grpc_bound, db, requeued, "waymark start-dev ready");

    let mut state = AppState::new(history.clone(), matching.clone(), frontend);
    state.auth = auth;
    let db = store.clone();
    state.ready = Some(Arc::new(move || {
        let db = db.clone();
        Box::pin(async move {
            db.ping()
                .await
                .map_err(|e| format!("the database does not answer: {e}"))
        })
    }));
    let listeners = (listener, grpc_listener);
    serve::serve_frontend(state, listeners, public_tls, shutdown.clone()).await?;
    // The timer loop finishes the batch it fires; a stuck one does not hold the exit up.
    if tokio::time::timeout(waymark_frontend::SHUTDOWN_DEADLINE, timers)
        .await
        .is_err()
    {
        tracing::warn!("the timer loop did not stop within the shutdown deadline");
    }
    store.close().await?;
    tracing::info!("stopped");
    Ok(())
}

/// Cancels `shutdown` on SIGTERM or Ctrl-C. The SIGTERM handler is installed before this
/// returns, so that a SIGTERM sent once the process says it listens always shuts it down
/// gracefully (never by the signal's default action).
fn stop_on_signal(shutdown: CancellationToken) -> impl Future<Output = ()> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        shutdown.cancel();
    }
}
