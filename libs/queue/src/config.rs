//! Each task queue's settings, shared by every matching instance: the config set through the API
//! (per task queue type: rate limits, fairness weight overrides), and the worker limit that the most recent poll of an activity
//! queue asked for, with each poller's own. In process for `start-dev`; in Redis for the
//! distributed deployment.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use redis::aio::ConnectionManager;
use waymark_api::{RateLimitConfig, TaskQueueConfig, TaskQueueType};

use crate::{Keys, POLLER_TTL, QueueError, TaskKind};

/// What is stored about one task queue of one type.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueLimits {
    /// The API config; a removed limit keeps the removal's metadata.
    pub api: TaskQueueConfig,
    /// `maxTasksPerSecond` of the most recent poll; `None` if that poll set none.
    pub worker: Option<f64>,
    /// Each recent poller's own `maxTasksPerSecond`, by identity.
    pub pollers: HashMap<String, f64>,
}

#[async_trait::async_trait]
pub trait QueueConfigStore: Send + Sync + 'static {
    /// What is stored for `task_queue` of type `kind`; worker limits exist for activity queues only.
    async fn limits(
        &self,
        namespace: &str,
        task_queue: &str,
        kind: TaskQueueType,
    ) -> Result<QueueLimits, QueueError>;
    /// Replaces the API config of `task_queue` of type `kind`.
    async fn set_api(
        &self,
        namespace: &str,
        task_queue: &str,
        kind: TaskQueueType,
        config: TaskQueueConfig,
    ) -> Result<(), QueueError>;
    /// A poll of activity queue `task_queue` by `identity`: its `maxTasksPerSecond` becomes the
    /// queue's worker limit, and `None` removes it (SEMANTICS §11.1: the most recent poll wins).
    async fn record_poll(
        &self,
        namespace: &str,
        task_queue: &str,
        identity: &str,
        rate: Option<f64>,
    ) -> Result<(), QueueError>;
}

#[derive(Default)]
struct Stored {
    api: HashMap<TaskQueueType, TaskQueueConfig>,
    worker: Option<f64>,
    pollers: HashMap<String, (f64, SystemTime)>,
}

#[derive(Default)]
pub struct InProcessQueueConfig {
    queues: Mutex<HashMap<(String, String), Stored>>,
}

impl InProcessQueueConfig {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl QueueConfigStore for InProcessQueueConfig {
    async fn limits(
        &self,
        namespace: &str,
        task_queue: &str,
        kind: TaskQueueType,
    ) -> Result<QueueLimits, QueueError> {
        let queues = self.queues.lock().expect("queue config lock");
        let Some(q) = queues.get(&(namespace.to_owned(), task_queue.to_owned())) else {
            return Ok(QueueLimits::default());
        };
        let mut limits = QueueLimits {
            api: q.api.get(&kind).cloned().unwrap_or_default(),
            ..QueueLimits::default()
        };
        if kind == TaskQueueType::Activity {
            limits.worker = q.worker;
            limits.pollers = q
                .pollers
                .iter()
                .map(|(identity, (rate, _))| (identity.clone(), *rate))
                .collect();
        }
        Ok(limits)
    }

    async fn set_api(
        &self,
        namespace: &str,
        task_queue: &str,
        kind: TaskQueueType,
        config: TaskQueueConfig,
    ) -> Result<(), QueueError> {
        let mut queues = self.queues.lock().expect("queue config lock");
        queues
            .entry((namespace.to_owned(), task_queue.to_owned()))
            .or_default()
            .api
            .insert(kind, config);
        Ok(())
    }

    async fn record_poll(
        &self,
        namespace: &str,
        task_queue: &str,
        identity: &str,
        rate: Option<f64>,
    ) -> Result<(), QueueError> {
        let mut queues = self.queues.lock().expect("queue config lock");
        let q = queues
            .entry((namespace.to_owned(), task_queue.to_owned()))
            .or_default();
        let now = SystemTime::now();
        q.pollers
            .retain(|_, (_, at)| now.duration_since(*at).unwrap_or_default() < POLLER_TTL);
        q.worker = rate;
        match rate {
            Some(rate) => q.pollers.insert(identity.to_owned(), (rate, now)),
            None => q.pollers.remove(identity),
        };
        Ok(())
    }
}

/// The worker limit's field in the queue's config hash (activity queues only).
const WORKER_FIELD: &str = "worker/activity";

/// The API config's field in the queue's config hash: one per task queue type.
fn api_field(kind: TaskQueueType) -> String {
    format!("config/{}", kind.as_str())
}

/// Where versions before fairness kept the queue rate limit alone (a `RateLimitConfig`).
fn rate_limit_field(kind: TaskQueueType) -> String {
    format!("api/{}", kind.as_str())
}

/// One hash per queue (`Keys::config`): the API configs as JSON and the worker limit; and a hash
/// of each poller's rate (`Keys::poller_rates`) that expires with the poller list.
#[derive(Clone)]
pub struct RedisQueueConfig {
    conn: ConnectionManager,
    keys: Keys,
}

impl RedisQueueConfig {
    pub(crate) fn new(conn: ConnectionManager, keys: Keys) -> Self {
        RedisQueueConfig { conn, keys }
    }
}

fn unreadable(what: &str, e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(format!("unreadable {what} in redis: {e}"))
}

#[async_trait::async_trait]
impl QueueConfigStore for RedisQueueConfig {
    async fn limits(
        &self,
        namespace: &str,
        task_queue: &str,
        kind: TaskQueueType,
    ) -> Result<QueueLimits, QueueError> {
        let config = self.keys.config(namespace, task_queue);
        let rates = self
            .keys
            .poller_rates(namespace, task_queue, TaskKind::Activity);
        type Fields = (Option<String>, Option<String>, Option<String>);
        let ((api, rate_limit, worker), pollers): (Fields, HashMap<String, String>) = redis::pipe()
            .hmget(
                &config,
                &[
                    api_field(kind).as_str(),
                    rate_limit_field(kind).as_str(),
                    WORKER_FIELD,
                ],
            )
            .hgetall(&rates)
            .query_async(&mut self.conn.clone())
            .await?;
        let api = match (api, rate_limit) {
            (Some(json), _) => {
                serde_json::from_str(&json).map_err(|e| unreadable("queue config", e))?
            }
            (None, Some(json)) => TaskQueueConfig {
                queue_rate_limit: Some(
                    serde_json::from_str::<RateLimitConfig>(&json)
                        .map_err(|e| unreadable("queue config", e))?,
                ),
                ..TaskQueueConfig::default()
            },
            (None, None) => TaskQueueConfig::default(),
        };
        if kind != TaskQueueType::Activity {
            return Ok(QueueLimits {
                api,
                ..QueueLimits::default()
            });
        }
        let rate = |s: String| {
            s.parse::<f64>()
                .map_err(|e| unreadable("worker rate limit", e))
        };
        let worker = worker.map(rate).transpose()?;
        let pollers = pollers
            .into_iter()
            .map(|(identity, r)| Ok((identity, rate(r)?)))
            .collect::<Result<_, QueueError>>()?;
        Ok(QueueLimits {
            api,
            worker,
            pollers,
        })
    }

    async fn set_api(
        &self,
        namespace: &str,
        task_queue: &str,
        kind: TaskQueueType,
        config: TaskQueueConfig,
    ) -> Result<(), QueueError> {
        let json = serde_json::to_string(&config).expect("a config serializes");
        let key = self.keys.config(namespace, task_queue);
        redis::cmd("HSET")
            .arg(key)
            .arg(api_field(kind))
            .arg(json)
            .exec_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    async fn record_poll(
        &self,
        namespace: &str,
        task_queue: &str,
        identity: &str,
        rate: Option<f64>,
    ) -> Result<(), QueueError> {
        let config = self.keys.config(namespace, task_queue);
        let rates = self
            .keys
            .poller_rates(namespace, task_queue, TaskKind::Activity);
        let mut pipe = redis::pipe();
        match rate {
            Some(rate) => pipe
                .hset(&config, WORKER_FIELD, rate)
                .hset(&rates, identity, rate),
            None => pipe.hdel(&config, WORKER_FIELD).hdel(&rates, identity),
        };
        pipe.pexpire(&rates, POLLER_TTL.as_millis() as i64);
        pipe.exec_async(&mut self.conn.clone()).await?;
        Ok(())
    }
}
