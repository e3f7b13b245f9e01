//! The limits an operator sets, shared by `start-dev` and `serve`: request and payload sizes,
//! the long-poll cap, workflow history limits, and namespace retention. Each service takes the
//! ones it enforces (the frontend's, history's; start-dev both); the frontend also whether it
//! serves the web UI and to which origins.

use anyhow::Context;
use waymark_api::Duration;
use waymark_core::limits::{
    DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_MIN_RETENTION, HistoryLimits, Limits,
};
use waymark_frontend::FrontendConfig;

/// `temporal server start-dev` accepts a retention of one hour, not less.
const DEV_MIN_RETENTION: Duration = Duration::from_secs(3600);

/// Every limit: start-dev enforces them all in one process.
#[derive(clap::Args, Clone, Debug)]
pub struct LimitArgs {
    #[command(flatten)]
    pub frontend: FrontendLimitArgs,
    #[command(flatten)]
    pub history: HistoryLimitArgs,
}

/// What the frontend enforces: request sizes, the long-poll cap, the web UI and CORS.
#[derive(clap::Args, Clone, Debug)]
pub struct FrontendLimitArgs {
    /// Largest request body the API accepts, in bytes (HTTP and gRPC); larger ones answer 413
    /// (gRPC: RESOURCE_EXHAUSTED).
    #[arg(long, env = "WAYMARK_MAX_REQUEST_BYTES", default_value_t = FrontendConfig::default().max_body_bytes)]
    pub max_request_bytes: usize,
    /// Longest a long poll waits (task polls, outcome, describe and history long polls).
    #[arg(long, env = "WAYMARK_LONG_POLL_MAX", default_value = "60s")]
    pub long_poll_max: Duration,
    /// Whether the frontend serves the web UI at `/ui/`.
    #[arg(long, value_enum, env = "WAYMARK_UI", default_value_t = Switch::On)]
    pub ui: Switch,
    /// A web origin whose pages may call the API from a browser (CORS), e.g.
    /// https://app.example.com, or `*` for any; repeat it or separate with commas. None: no
    /// cross-origin calls (the default).
    #[arg(long, env = "WAYMARK_CORS_ORIGIN", value_delimiter = ',')]
    pub cors_origin: Vec<String>,
}

/// What history enforces: payload sizes, workflow history limits and namespace retention.
#[derive(clap::Args, Clone, Debug)]
pub struct HistoryLimitArgs {
    /// Largest payload (input, result, details, failure), in bytes (Temporal's
    /// `limit.blobSize.error`).
    #[arg(long, env = "WAYMARK_MAX_PAYLOAD_BYTES", default_value_t = DEFAULT_MAX_PAYLOAD_BYTES)]
    pub max_payload_bytes: usize,
    /// Events of a workflow history (its Started event included) from which a started workflow
    /// task suggests continue-as-new.
    #[arg(long, env = "WAYMARK_HISTORY_COUNT_SUGGEST", default_value_t = HistoryLimits::default().count_suggest)]
    pub history_count_suggest: i64,
    /// Events past which a workflow run is terminated ("Workflow history count exceeds limit.").
    #[arg(long, env = "WAYMARK_HISTORY_COUNT_ERROR", default_value_t = HistoryLimits::default().count_error)]
    pub history_count_error: i64,
    /// History bytes from which a started workflow task suggests continue-as-new.
    #[arg(long, env = "WAYMARK_HISTORY_SIZE_SUGGEST", default_value_t = HistoryLimits::default().size_suggest)]
    pub history_size_suggest: i64,
    /// History bytes past which a workflow run is terminated ("Workflow history size exceeds
    /// limit.").
    #[arg(long, env = "WAYMARK_HISTORY_SIZE_ERROR", default_value_t = HistoryLimits::default().size_error)]
    pub history_size_error: i64,
    /// Shortest retention a namespace may be registered with (default: 1 day as Temporal's
    /// server; start-dev: 1 hour as Temporal's dev server). Lower it for tests only.
    #[arg(long, env = "WAYMARK_MIN_RETENTION")]
    pub min_retention: Option<Duration>,
    /// How often history deletes the closed runs past their namespace's retention.
    #[arg(long, env = "WAYMARK_RETENTION_SWEEP_EVERY", default_value = "60s")]
    pub retention_sweep_every: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

impl FrontendLimitArgs {
    /// The frontend's configuration.
    pub fn config(&self) -> anyhow::Result<FrontendConfig> {
        // The frontend passes a request on to history in one internal call.
        let internal = waymark_clients::remote::INTERNAL_BODY_LIMIT / 2;
        if self.max_request_bytes > internal {
            anyhow::bail!(
                "--max-request-bytes must be at most {internal}, got {}",
                self.max_request_bytes
            );
        }
        let cfg = FrontendConfig {
            max_body_bytes: self.max_request_bytes,
            long_poll_cap: self.long_poll_max,
            ui: self.ui == Switch::On,
            cors_origins: self.cors_origin.clone(),
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

impl HistoryLimitArgs {
    /// History's limits; `dev`: for start-dev, whose defaults are those of Temporal's dev server.
    pub fn limits(&self, dev: bool) -> anyhow::Result<Limits> {
        let default_min_retention = if dev {
            DEV_MIN_RETENTION
        } else {
            DEFAULT_MIN_RETENTION
        };
        let limits = Limits {
            max_payload_bytes: self.max_payload_bytes,
            history: HistoryLimits {
                count_suggest: self.history_count_suggest,
                count_error: self.history_count_error,
                size_suggest: self.history_size_suggest,
                size_error: self.history_size_error,
            },
            min_retention: self.min_retention.unwrap_or(default_min_retention),
        };
        limits
            .validate()
            .map_err(anyhow::Error::msg)
            .context("invalid limits")?;
        Ok(limits)
    }

    /// How often history deletes the runs past their retention.
    pub fn retention_sweep_every(&self) -> anyhow::Result<std::time::Duration> {
        let every = self.retention_sweep_every;
        if every.is_negative() || every.is_zero() {
            anyhow::bail!("--retention-sweep-every must be positive, got {every}");
        }
        Ok(every.to_std())
    }
}
