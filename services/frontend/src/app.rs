//! The frontend's shared state: the services it calls and its configuration.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use waymark_clients::{ApiResult, HistoryApi, MatchingApi};

use crate::auth::Auth;
use crate::config::FrontendConfig;
use crate::guard::Guard;

/// How long a long poll may still take once shutdown began: well within the second a client
/// waits for its empty answer.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(300);

/// What `/readyz` checks besides shutdown: the dependencies this process holds itself (start-dev:
/// its database). An error says what is out of reach.
pub type ReadinessCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

#[derive(Clone)]
pub struct AppState {
    pub history: Arc<dyn HistoryApi>,
    pub matching: Arc<dyn MatchingApi>,
    pub cfg: Arc<FrontendConfig>,
    /// Once cancelled, long polls answer empty at once; `run` sets it to its shutdown token.
    pub shutdown: CancellationToken,
    /// Checked by `/readyz`; none: ready while not shutting down.
    pub ready: Option<ReadinessCheck>,
    /// Whether requests need an API key (off unless the binary turns it on).
    pub auth: Arc<Auth>,
    /// Holds addresses that keep presenting invalid keys.
    pub guard: Arc<Guard>,
    /// Namespaces known to exist. They are never deleted, so a hit is always right.
    known_namespaces: Arc<RwLock<HashSet<String>>>,
}

impl AppState {
    pub fn new(
        history: Arc<dyn HistoryApi>,
        matching: Arc<dyn MatchingApi>,
        cfg: FrontendConfig,
    ) -> Self {
        AppState {
            history,
            matching,
            cfg: Arc::new(cfg),
            shutdown: CancellationToken::new(),
            ready: None,
            auth: Arc::new(Auth::off()),
            guard: Arc::default(),
            known_namespaces: Arc::default(),
        }
    }

    /// NotFound unless namespace `ns` exists, for routes whose service does not check it
    /// (matching knows queues, not namespaces). Asks history once per namespace.
    pub async fn require_namespace(&self, ns: &str) -> ApiResult<()> {
        if self
            .known_namespaces
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(ns)
        {
            return Ok(());
        }
        self.history.describe_namespace(ns).await?;
        self.known_namespaces
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(ns.to_owned());
        Ok(())
    }

    /// Runs a long poll, cut short with the empty answer when shutdown begins so that the
    /// graceful shutdown does not wait a whole poll. The poll first gets `SHUTDOWN_GRACE` to
    /// answer by itself: a service that shares the shutdown (start-dev) answers empty at once,
    /// and a task being handed over is answered rather than dropped.
    pub async fn long_poll<T>(
        &self,
        poll: impl Future<Output = ApiResult<Option<T>>>,
    ) -> ApiResult<Option<T>> {
        tokio::pin!(poll);
        tokio::select! {
            answer = &mut poll => answer,
            () = self.shutdown.cancelled() => {
                tokio::time::timeout(SHUTDOWN_GRACE, poll).await.unwrap_or(Ok(None))
            }
        }
    }
}
