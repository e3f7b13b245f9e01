//! The distributed deployment: `waymark serve frontend|history|matching|timer|all` on PostgreSQL
//! and Redis, `waymark migrate`, and `waymark healthcheck` for container probes. Each service
//! calls its peers over HTTP on `/internal/v1/...` through the same traits start-dev wires in
//! process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::{AuthArgs, AuthMode};
use anyhow::{Context, bail};
use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use waymark_clients::remote::{self, HttpHistory, HttpMatching, HttpTimer, Remote};
use waymark_clients::{Clock, HistoryApi, MatchingApi, SystemClock, TimerApi};
use waymark_core::task_token::TokenSigner;
use waymark_frontend::AppState;
use waymark_frontend::tls::PublicTls;
use waymark_history::History;
use waymark_matching::Matching;
use waymark_queue::{RedisConfig, RedisQueue, RedisTls, TaskKind, TaskQueueBackend};
use waymark_store::Store;
use waymark_timer::TimerService;

use crate::limits::{FrontendLimitArgs, HistoryLimitArgs};
use crate::tls::{InternalTlsArgs, TlsArgs};

/// How often history looks for dispatches the queue lost, and how long a run must have waited.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
const SWEEP_OVERDUE: Duration = Duration::from_secs(10);

/// `waymark serve <service>`: each service takes the flags (and `WAYMARK_*` variables) it
/// reads, and nothing else, so that one environment can serve them all. Defaults, then the
/// variables, then the flags.
// Parsed once at start: boxing the large variants would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(clap::Subcommand)]
pub enum ServeCommand {
    /// The public HTTP API and Temporal's gRPC API; calls history and matching.
    Frontend(FrontendArgs),
    /// Executions, their histories and visibility on PostgreSQL; calls matching and timer.
    History(HistoryArgs),
    /// The task queues and their rate limits on Redis; calls history.
    Matching(MatchingArgs),
    /// The durable timers on PostgreSQL; calls history.
    Timer(TimerArgs),
    /// All four in one process, on PostgreSQL and Redis.
    All(AllArgs),
}

#[derive(clap::Args)]
pub struct FrontendArgs {
    #[command(flatten)]
    listen: ListenArgs,
    #[command(flatten, next_help_heading = "Public API")]
    public: PublicArgs,
    #[command(flatten, next_help_heading = "Other services")]
    history: HistoryPeer,
    #[command(flatten)]
    matching: MatchingPeer,
    #[command(flatten)]
    internal: InternalArgs,
    #[command(flatten, next_help_heading = "Logs")]
    logs: crate::Logs,
}

#[derive(clap::Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    listen: ListenArgs,
    #[command(flatten, next_help_heading = "Database")]
    database: DatabaseArgs,
    #[command(flatten, next_help_heading = "Tokens and limits")]
    signing: SigningArgs,
    #[command(flatten)]
    limits: HistoryLimitArgs,
    #[command(flatten, next_help_heading = "Other services")]
    matching: MatchingPeer,
    #[command(flatten)]
    timer: TimerPeer,
    #[command(flatten)]
    internal: InternalArgs,
    #[command(flatten, next_help_heading = "Logs")]
    logs: crate::Logs,
}

#[derive(clap::Args)]
pub struct MatchingArgs {
    #[command(flatten)]
    listen: ListenArgs,
    #[command(flatten, next_help_heading = "Redis")]
    redis: RedisArgs,
    #[command(flatten, next_help_heading = "Other services")]
    history: HistoryPeer,
    #[command(flatten)]
    internal: InternalArgs,
    #[command(flatten, next_help_heading = "Logs")]
    logs: crate::Logs,
}

#[derive(clap::Args)]
pub struct TimerArgs {
    #[command(flatten)]
    listen: ListenArgs,
    #[command(flatten, next_help_heading = "Database")]
    database: DatabaseArgs,
    #[command(flatten, next_help_heading = "Other services")]
    history: HistoryPeer,
    #[command(flatten)]
    internal: InternalArgs,
    #[command(flatten, next_help_heading = "Logs")]
    logs: crate::Logs,
}

// The four services call one another in process: no peers, no internal secret nor TLS.
#[derive(clap::Args)]
pub struct AllArgs {
    #[command(flatten)]
    listen: ListenArgs,
    #[command(flatten, next_help_heading = "Public API")]
    public: PublicArgs,
    #[command(flatten, next_help_heading = "Database")]
    database: DatabaseArgs,
    #[command(flatten, next_help_heading = "Redis")]
    redis: RedisArgs,
    #[command(flatten, next_help_heading = "Tokens and limits")]
    signing: SigningArgs,
    #[command(flatten)]
    limits: HistoryLimitArgs,
    #[command(flatten, next_help_heading = "Logs")]
    logs: crate::Logs,
}

impl ServeCommand {
    pub fn service(&self) -> Service {
        match self {
            ServeCommand::Frontend(_) => Service::Frontend,
            ServeCommand::History(_) => Service::History,
            ServeCommand::Matching(_) => Service::Matching,
            ServeCommand::Timer(_) => Service::Timer,
            ServeCommand::All(_) => Service::All,
        }
    }

    pub fn logs(&self) -> &crate::Logs {
        match self {
            ServeCommand::Frontend(a) => &a.logs,
            ServeCommand::History(a) => &a.logs,
            ServeCommand::Matching(a) => &a.logs,
            ServeCommand::Timer(a) => &a.logs,
            ServeCommand::All(a) => &a.logs,
        }
    }
}

/// Which service a process runs: its name in traces and its default port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Frontend,
    History,
    Matching,
    Timer,
    All,
}

impl Service {
    /// The process's name in exported traces (`service.name`).
    pub fn trace_name(self) -> &'static str {
        match self {
            Service::Frontend => "waymark-frontend",
            Service::History => "waymark-history",
            Service::Matching => "waymark-matching",
            Service::Timer => "waymark-timer",
            Service::All => "waymark",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Service::Frontend | Service::All => 7243,
            Service::History => 7234,
            Service::Matching => 7235,
            Service::Timer => 7239,
        }
    }
}

/// The address of the service's own listener.
#[derive(clap::Args)]
struct ListenArgs {
    /// This service's address (default: 0.0.0.0 and the service's port: 7243 frontend and all,
    /// 7234 history, 7235 matching, 7239 timer).
    #[arg(long, env = "WAYMARK_LISTEN")]
    listen: Option<SocketAddr>,
}

impl ListenArgs {
    async fn bind(&self, service: Service) -> anyhow::Result<tokio::net::TcpListener> {
        let addr = self
            .listen
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], service.default_port())));
        tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))
    }
}

/// The frontend's public doors: Temporal's gRPC API next to the HTTP API, their TLS, who may
/// call them, and what they accept.
#[derive(clap::Args)]
struct PublicArgs {
    /// Address of Temporal's gRPC API.
    #[arg(long, env = "WAYMARK_GRPC_LISTEN", default_value = "0.0.0.0:7233")]
    grpc_listen: SocketAddr,
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    auth: AuthArgs,
    #[command(flatten)]
    limits: FrontendLimitArgs,
}

impl PublicArgs {
    /// The gRPC API's listener; prints its address for tests and scripts.
    async fn grpc_listener(&self) -> anyhow::Result<tokio::net::TcpListener> {
        let addr = self.grpc_listen;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        println!("{}{}", crate::GRPC_READY_LINE, listener.local_addr()?);
        Ok(listener)
    }
}

/// The PostgreSQL database: all that `migrate` needs.
#[derive(clap::Args, Clone, Debug)]
pub struct DatabaseArgs {
    /// PostgreSQL URL (required); TLS with `?sslmode=require|verify-ca|verify-full` (and
    /// `&sslrootcert=PATH` for a private CA).
    #[arg(long, env = "WAYMARK_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// PostgreSQL schema to use (created if missing).
    #[arg(long, env = "WAYMARK_DATABASE_SCHEMA")]
    pub database_schema: Option<String>,
}

impl DatabaseArgs {
    async fn store(&self) -> anyhow::Result<Store> {
        let url = required(&self.database_url, "WAYMARK_DATABASE_URL")?;
        let store = Store::connect(url, self.database_schema.as_deref())
            .await
            .context("connecting to the database")?;
        let encrypted = store
            .session_encrypted()
            .await
            .context("asking the database whether the session is encrypted")?;
        tracing::info!(tls = encrypted, "connected to PostgreSQL");
        Ok(store)
    }
}

/// The Redis that holds the task queues and the rate limits.
#[derive(clap::Args)]
struct RedisArgs {
    /// Redis URL (required); `rediss://` for TLS.
    #[arg(long, env = "WAYMARK_REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,
    /// CA certificate (PEM) that signs Redis's certificate, trusted instead of Mozilla's roots.
    #[arg(long, env = "WAYMARK_REDIS_TLS_CA")]
    redis_tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for a Redis that verifies its clients (`tls-auth-clients yes`).
    #[arg(long, env = "WAYMARK_REDIS_TLS_CERT", requires = "redis_tls_key")]
    redis_tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --redis-tls-cert.
    #[arg(long, env = "WAYMARK_REDIS_TLS_KEY", requires = "redis_tls_cert")]
    redis_tls_key: Option<PathBuf>,
    /// Prefix of every Redis key.
    #[arg(long, env = "WAYMARK_REDIS_PREFIX", default_value = "waymark:")]
    redis_prefix: String,
}

impl RedisArgs {
    /// The activity and the workflow task queues.
    async fn queues(&self) -> anyhow::Result<(RedisQueue, RedisQueue)> {
        let url = required(&self.redis_url, "WAYMARK_REDIS_URL")?;
        let cfg = RedisConfig {
            url: url.into(),
            tls: RedisTls {
                ca: self.redis_tls_ca.clone(),
                cert: self.redis_tls_cert.clone(),
                key: self.redis_tls_key.clone(),
            },
            prefix: self.redis_prefix.clone(),
            ..Default::default()
        };
        cfg.validate()?;
        let activities = RedisQueue::connect_kind(&cfg, TaskKind::Activity)
            .await
            .context("connecting to Redis")?;
        let workflows = RedisQueue::connect_kind(&cfg, TaskKind::Workflow)
            .await
            .context("connecting to Redis")?;
        Ok((activities, workflows))
    }
}

/// The key of history's task tokens.
#[derive(clap::Args)]
struct SigningArgs {
    /// Key that signs task tokens (required; the same on every history instance).
    #[arg(long, env = "WAYMARK_SIGNING_KEY", hide_env_values = true)]
    signing_key: Option<String>,
}

impl SigningArgs {
    fn signer(&self) -> anyhow::Result<TokenSigner> {
        Ok(TokenSigner::new(required(
            &self.signing_key,
            "WAYMARK_SIGNING_KEY",
        )?))
    }
}

/// Where the history service is, for the services that call it.
#[derive(clap::Args)]
struct HistoryPeer {
    /// Where the history service is.
    #[arg(
        long,
        env = "WAYMARK_HISTORY_URL",
        default_value = "http://127.0.0.1:7234"
    )]
    history_url: String,
}

/// Where the matching service is, for the services that call it.
#[derive(clap::Args)]
struct MatchingPeer {
    /// Where the matching service is.
    #[arg(
        long,
        env = "WAYMARK_MATCHING_URL",
        default_value = "http://127.0.0.1:7235"
    )]
    matching_url: String,
}

/// Where the timer service is, for history.
#[derive(clap::Args)]
struct TimerPeer {
    /// Where the timer service is.
    #[arg(
        long,
        env = "WAYMARK_TIMER_URL",
        default_value = "http://127.0.0.1:7239"
    )]
    timer_url: String,
}

/// How the separate services trust one another: the shared secret of the internal routes, and
/// optionally mutual TLS.
#[derive(clap::Args)]
struct InternalArgs {
    /// Shared secret of the internal routes (required, at least 32 bytes): the calls between
    /// the services carry it.
    #[arg(long, env = "WAYMARK_INTERNAL_SECRET", hide_env_values = true)]
    internal_secret: Option<String>,
    #[command(flatten)]
    tls: InternalTlsArgs,
}

impl InternalArgs {
    fn secret(&self) -> anyhow::Result<&str> {
        let secret = required(&self.internal_secret, "WAYMARK_INTERNAL_SECRET")?;
        if secret.len() < remote::MIN_SECRET_BYTES {
            anyhow::bail!(
                "WAYMARK_INTERNAL_SECRET must be at least {} bytes, got {} (try `openssl rand -hex 32`)",
                remote::MIN_SECRET_BYTES,
                secret.len()
            );
        }
        Ok(secret)
    }

    /// The client of the calls to the `peers` (each its variable and URL); with mutual TLS,
    /// their URLs must be `https://` (said at start rather than at the first call).
    fn client(&self, peers: &[(&str, &str)]) -> anyhow::Result<reqwest::Client> {
        let tls = self.tls.client()?;
        if tls.is_some() {
            for (name, url) in peers {
                if !url.starts_with("https://") {
                    bail!("{name} must be an https:// URL with --internal-tls-cert, got {url}");
                }
            }
        }
        Ok(remote::http_client(tls.as_ref())?)
    }

    fn remote(&self, http: &reqwest::Client, base: &str, service: &str) -> anyhow::Result<Remote> {
        Ok(Remote::new(http.clone(), base, service, self.secret()?))
    }
}

fn required<'a>(value: &'a Option<String>, name: &str) -> anyhow::Result<&'a str> {
    match value.as_deref() {
        Some(v) if !v.is_empty() => Ok(v),
        _ => bail!("{name} must be set"),
    }
}

pub async fn migrate(cfg: &DatabaseArgs) -> anyhow::Result<()> {
    let store = cfg.store().await?;
    let migrated = store.migrate().await.context("migrating")?;
    println!("{}", migrated_line(migrated.from, migrated.to));
    Ok(())
}

/// What `waymark migrate` says it did.
fn migrated_line(from: i64, to: i64) -> String {
    match from {
        0 => format!("created the database schema (version {to})"),
        from if from < to => format!("migrated the database schema from version {from} to {to}"),
        _ => format!("database schema is up to date (version {to})"),
    }
}

/// Exit status 0 when `url` answers 2xx: the container images have no curl. With mutual TLS
/// between the services, it presents the service's certificate. It checks no server
/// certificate (as Kubernetes' HTTPS probes do not): it only asks whether the process answers.
pub async fn healthcheck(url: &str, internal_tls: &InternalTlsArgs) -> anyhow::Result<()> {
    let mut client = reqwest::Client::builder().danger_accept_invalid_certs(true);
    if let Some(tls) = internal_tls.client()? {
        client = client.identity(tls.identity());
    }
    let status = client
        .build()?
        .get(url)
        .timeout(Duration::from_secs(3))
        .send()
        .await?
        .status();
    if !status.is_success() {
        bail!("{url} answered {status}");
    }
    Ok(())
}

/// `/healthz` (the process is alive), `/readyz` (its dependencies answer; 503 when shutting
/// down) and `/metrics` (Prometheus), next to a service's internal route.
fn health_router<F, Fut>(ready: F, shutdown: CancellationToken) -> axum::Router
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let readyz = move || {
        let (ready, shutdown) = (ready.clone(), shutdown.clone());
        async move {
            if shutdown.is_cancelled() {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"code": 14, "message": "shutting down"})),
                );
            }
            match ready().await {
                Ok(()) => (StatusCode::OK, Json(json!({"status": "ok"}))),
                Err(e) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"code": 14, "message": e.to_string()})),
                ),
            }
        }
    };
    axum::Router::new()
        .route(
            "/healthz",
            axum::routing::get(|| async { Json(json!({"status": "ok"})).into_response() }),
        )
        .route("/readyz", axum::routing::get(readyz))
        .route("/metrics", axum::routing::get(waymark_telemetry::scrape))
}

/// Serves a service's routes, each request counted in the metrics, until shutdown (and its
/// requests in flight, within the deadline).
async fn serve_router(
    router: axum::Router,
    listener: waymark_frontend::conn::Listener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let router = waymark_frontend::with_error_answers(router)
        .layer(axum::middleware::from_fn(waymark_telemetry::track_requests));
    waymark_frontend::serve_until(listener, router, shutdown).await?;
    Ok(())
}

/// Samples what the metrics read from the store and the queues (the outbox, queue backlogs)
/// before each scrape of `/metrics`.
pub(crate) fn sample_on_scrape(history: Option<&Arc<History>>, matching: Option<&Arc<Matching>>) {
    if let Some(history) = history.cloned() {
        waymark_telemetry::sample_on_scrape(move || {
            let history = history.clone();
            async move { history.sample_metrics().await }
        });
    }
    if let Some(matching) = matching.cloned() {
        waymark_telemetry::sample_on_scrape(move || {
            let matching = matching.clone();
            async move { matching.sample_metrics().await }
        });
    }
}

/// Runs `command`'s service until `shutdown`; each checks its configuration before it listens.
pub async fn serve(command: ServeCommand, shutdown: CancellationToken) -> anyhow::Result<()> {
    match command {
        ServeCommand::Frontend(args) => frontend(args, shutdown).await,
        ServeCommand::History(args) => history(args, shutdown).await,
        ServeCommand::Matching(args) => matching(args, shutdown).await,
        ServeCommand::Timer(args) => timer(args, shutdown).await,
        ServeCommand::All(args) => all(args, shutdown).await,
    }
}

/// The public doors, calling history and matching over HTTP.
async fn frontend(args: FrontendArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let FrontendArgs {
        listen,
        public,
        history,
        matching,
        internal,
        logs: _,
    } = args;
    internal.secret()?;
    let auth = public.auth.build(AuthMode::On)?;
    let tls = public.tls.public()?;
    let config = public.limits.config()?;
    let listener = listen.bind(Service::Frontend).await?;
    let bound = listener.local_addr()?;
    let http = internal.client(&[
        ("WAYMARK_HISTORY_URL", &history.history_url),
        ("WAYMARK_MATCHING_URL", &matching.matching_url),
    ])?;
    let history: Arc<dyn HistoryApi> = Arc::new(HttpHistory(internal.remote(
        &http,
        &history.history_url,
        "history",
    )?));
    let matching: Arc<dyn MatchingApi> = Arc::new(HttpMatching(internal.remote(
        &http,
        &matching.matching_url,
        "matching",
    )?));
    let grpc = public.grpc_listener().await?;
    println!(
        "Waymark frontend listening on {}://{bound}",
        public.tls.scheme()
    );
    let mut state = AppState::new(history, matching, config);
    state.auth = auth;
    serve_frontend(state, (listener, grpc), tls, shutdown).await
}

async fn history(args: HistoryArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let secret = args.internal.secret()?.to_owned();
    let signer = args.signing.signer()?;
    let limits = args.limits.limits(false)?;
    let retention_sweep_every = args.limits.retention_sweep_every()?;
    let tls = args.internal.tls.listener()?;
    let listener = args.listen.bind(Service::History).await?;
    let http = args.internal.client(&[
        ("WAYMARK_MATCHING_URL", &args.matching.matching_url),
        ("WAYMARK_TIMER_URL", &args.timer.timer_url),
    ])?;
    let store = args.database.store().await?;
    let history = History::new(store.clone(), signer, Arc::new(SystemClock), limits);
    let matching: Arc<dyn MatchingApi> = Arc::new(HttpMatching(args.internal.remote(
        &http,
        &args.matching.matching_url,
        "matching",
    )?));
    let timer: Arc<dyn TimerApi> = Arc::new(HttpTimer(args.internal.remote(
        &http,
        &args.timer.timer_url,
        "timer",
    )?));
    history.connect(matching, timer);
    history.end_long_polls_on(shutdown.clone());
    sample_on_scrape(Some(&history), None);
    history.follow_other_instances().await?;
    history.ensure_namespace_exists("default").await?;
    let loops = vec![
        tokio::spawn(
            history
                .clone()
                .run_sweeper(SWEEP_EVERY, SWEEP_OVERDUE, shutdown.clone()),
        ),
        tokio::spawn(
            history
                .clone()
                .run_retention(retention_sweep_every, shutdown.clone()),
        ),
    ];
    let routes = remote::internal_router("history", secret, move |call| {
        let api = history.clone();
        async move { remote::dispatch_history(api.as_ref(), call).await }
    });
    let ready = move || {
        let s = store.clone();
        async move { Ok(s.ping().await?) }
    };
    let listener = waymark_frontend::conn::Listener { tcp: listener, tls };
    serve_internal(Service::History, (routes, ready), listener, loops, shutdown).await
}

async fn matching(args: MatchingArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let secret = args.internal.secret()?.to_owned();
    let tls = args.internal.tls.listener()?;
    let listener = args.listen.bind(Service::Matching).await?;
    let http = args
        .internal
        .client(&[("WAYMARK_HISTORY_URL", &args.history.history_url)])?;
    let (queue, workflow_queue) = args.redis.queues().await?;
    let rate_limits = waymark_matching::RateLimits::redis(&queue, Arc::new(SystemClock));
    let matching = Matching::new(
        Arc::new(queue.clone()),
        Arc::new(workflow_queue),
        rate_limits,
    );
    matching.connect(Arc::new(HttpHistory(args.internal.remote(
        &http,
        &args.history.history_url,
        "history",
    )?)));
    matching.end_polls_on(shutdown.clone());
    sample_on_scrape(None, Some(&matching));
    let routes = remote::internal_router("matching", secret, move |call| {
        let api = matching.clone();
        async move { remote::dispatch_matching(api.as_ref(), call).await }
    });
    let ready = move || {
        let q = queue.clone();
        async move { Ok(q.stats("", "").await.map(drop)?) }
    };
    let listener = waymark_frontend::conn::Listener { tcp: listener, tls };
    serve_internal(
        Service::Matching,
        (routes, ready),
        listener,
        Vec::new(),
        shutdown,
    )
    .await
}

async fn timer(args: TimerArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let secret = args.internal.secret()?.to_owned();
    let tls = args.internal.tls.listener()?;
    let listener = args.listen.bind(Service::Timer).await?;
    let http = args
        .internal
        .client(&[("WAYMARK_HISTORY_URL", &args.history.history_url)])?;
    let store = args.database.store().await?;
    let history: Arc<dyn HistoryApi> = Arc::new(HttpHistory(args.internal.remote(
        &http,
        &args.history.history_url,
        "history",
    )?));
    let timer = TimerService::new(store.clone(), history, Arc::new(SystemClock));
    let loops = vec![tokio::spawn(timer.clone().run(shutdown.clone()))];
    let routes = remote::internal_router("timer", secret, move |call| {
        let api = timer.clone();
        async move { remote::dispatch_timer(api.as_ref(), call).await }
    });
    let ready = move || {
        let s = store.clone();
        async move { Ok(s.ping().await?) }
    };
    let listener = waymark_frontend::conn::Listener { tcp: listener, tls };
    serve_internal(Service::Timer, (routes, ready), listener, loops, shutdown).await
}

/// The four services wired in process, behind the frontend's doors.
async fn all(args: AllArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let AllArgs {
        listen,
        public,
        database,
        redis,
        signing,
        limits,
        logs: _,
    } = args;
    let signer = signing.signer()?;
    let auth = public.auth.build(AuthMode::On)?;
    let tls = public.tls.public()?;
    let (config, limits, retention_sweep_every) = (
        public.limits.config()?,
        limits.limits(false)?,
        limits.retention_sweep_every()?,
    );
    let listener = listen.bind(Service::All).await?;
    let bound = listener.local_addr()?;
    let store = database.store().await?;
    store.migrate().await?;
    let (queue, workflow_queue) = redis.queues().await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let history = History::new(store.clone(), signer, clock.clone(), limits);
    let rate_limits = waymark_matching::RateLimits::redis(&queue, clock.clone());
    let matching = Matching::new(
        Arc::new(queue.clone()),
        Arc::new(workflow_queue),
        rate_limits,
    );
    let timer = TimerService::new(store.clone(), history.clone(), clock);
    history.connect(matching.clone(), timer.clone());
    matching.connect(history.clone());
    history.end_long_polls_on(shutdown.clone());
    matching.end_polls_on(shutdown.clone());
    sample_on_scrape(Some(&history), Some(&matching));
    history.follow_other_instances().await?;
    history.ensure_namespace_exists("default").await?;
    let loops = vec![
        tokio::spawn(timer.run(shutdown.clone())),
        tokio::spawn(
            history
                .clone()
                .run_sweeper(SWEEP_EVERY, SWEEP_OVERDUE, shutdown.clone()),
        ),
        tokio::spawn(
            history
                .clone()
                .run_retention(retention_sweep_every, shutdown.clone()),
        ),
    ];
    let grpc = public.grpc_listener().await?;
    println!("Waymark listening on {}://{bound}", public.tls.scheme());
    let mut state = AppState::new(history, matching, config);
    state.auth = auth;
    let served = serve_frontend(state, (listener, grpc), tls, shutdown.clone()).await;
    join_loops(loops, &shutdown).await;
    served
}

/// Serves an internal service's router on its listener, then stops its background `loops`.
async fn serve_internal<F, Fut>(
    service: Service,
    (routes, ready): (axum::Router, F),
    listener: waymark_frontend::conn::Listener,
    loops: Vec<tokio::task::JoinHandle<()>>,
    shutdown: CancellationToken,
) -> anyhow::Result<()>
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let router = routes.merge(health_router(ready, shutdown.clone()));
    let bound = listener.tcp.local_addr()?;
    let scheme = match listener.tls {
        Some(_) => "https",
        None => "http",
    };
    println!("Waymark {service:?} listening on {scheme}://{bound}");
    tracing::info!(?service, %bound, "ready");
    let served = serve_router(router, listener, shutdown.clone()).await;
    join_loops(loops, &shutdown).await;
    served
}

/// The frontend's two doors, the HTTP API on `http` and the gRPC API on `grpc` (both over
/// `tls` if given), until shutdown.
pub(crate) async fn serve_frontend(
    state: AppState,
    (http, grpc): (tokio::net::TcpListener, tokio::net::TcpListener),
    tls: Option<PublicTls>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (http_tls, grpc_tls) = match tls {
        Some(tls) => (Some(tls.http), Some(tls.grpc)),
        None => (None, None),
    };
    let grpc = tokio::spawn(waymark_frontend::grpc::run(
        state.clone(),
        grpc,
        grpc_tls,
        shutdown.clone(),
    ));
    let http = waymark_frontend::conn::Listener {
        tcp: http,
        tls: http_tls,
    };
    let served = waymark_frontend::run(state, http, shutdown.clone()).await;
    shutdown.cancel();
    grpc.await??;
    Ok(served?)
}

/// Stops the background loops (timer, sweeper) and waits for them to finish what they do, at
/// most the shutdown deadline.
async fn join_loops(loops: Vec<tokio::task::JoinHandle<()>>, shutdown: &CancellationToken) {
    shutdown.cancel();
    let all = async {
        for l in loops {
            let _ = l.await;
        }
    };
    if tokio::time::timeout(waymark_frontend::SHUTDOWN_DEADLINE, all)
        .await
        .is_err()
    {
        tracing::warn!("background loops still ran at the shutdown deadline");
    }
}

#[cfg(test)]
mod tests {
    use super::migrated_line;

    #[test]
    fn migrate_says_whether_it_created_migrated_or_found_the_schema_current() {
        assert_eq!(
            migrated_line(0, 3),
            "created the database schema (version 3)"
        );
        assert_eq!(
            migrated_line(1, 2),
            "migrated the database schema from version 1 to 2"
        );
        assert_eq!(
            migrated_line(2, 2),
            "database schema is up to date (version 2)"
        );
    }
}
