//! Task queue backends: where dispatched tasks wait for a worker, the per-queue dispatch rate
//! limiters, and the store of each queue's rate-limit settings. The in-process backend serves
//! `waymark start-dev`; the Redis Streams backend serves the distributed deployment. A waiting
//! poller is handed a task directly (sync match) and only the backlog is queued. Redis holds copies
//! that SQL can rebuild: duplicates are fine (history rejects a stale task), losses are not, hence
//! the acknowledgement after the start is recorded.

mod config;
mod fair;
mod in_process;
mod keys;
mod rate_limit;
mod redis;
mod tls;

pub use self::redis::{RedisConfig, RedisQueue};
pub use config::{InProcessQueueConfig, QueueConfigStore, QueueLimits, RedisQueueConfig};
pub use fair::{KeyRate, stride, weight};
pub use in_process::InProcessQueue;
pub use keys::{Keys, TaskKind};
pub use rate_limit::{InProcessRateLimiter, PAUSED_RECHECK, RateLimiter, RedisRateLimiter};
pub use tls::RedisTls;

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// A dispatched attempt of an activity (or, in a workflow task queue, of a workflow task, or a
/// query of a workflow). History checks it is still current when a worker takes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivityTask {
    pub namespace: String,
    pub task_queue: String,
    pub run_id: String,
    /// The Scheduled event of the task in its workflow's history; 0 for standalone activities.
    #[serde(default)]
    pub scheduled_event_id: i64,
    pub attempt: i32,
    /// Its priority level, 1 (dispatched first) to 5 (last); 0 is the default level, 3.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: i32,
    /// Its fairness key: within a level, keys share dispatches by weight; "" is a key too.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fairness_key: String,
    /// Its key's weight (0: 1), after the queue's overrides.
    #[serde(default, skip_serializing_if = "is_unset")]
    pub fairness_weight: f32,
    /// Its key's own dispatch rate (tasks a second; 0 holds the key): the queue's
    /// `fairnessKeysRateLimitDefault` times the key's weight. None: no limit of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_rate: Option<f64>,
    /// The W3C trace context of the request that scheduled the task, handed to the worker so
    /// that the attempt joins that trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// Set on a query task: it asks the worker about the run, starts nothing and is never
    /// recorded; the answer goes back to whoever waits for `QueryTask::id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<QueryTask>,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

fn is_unset(w: &f32) -> bool {
    *w == 0.0
}

/// Priority levels, and the level of a task that names none (as `waymark_core::options`).
pub const PRIORITY_LEVELS: usize = 5;
const DEFAULT_LEVEL: i32 = 3;

impl ActivityTask {
    /// Its level's index, 0 (priority 1, first) to 4 (priority 5, last).
    pub fn level(&self) -> usize {
        let level = if self.priority == 0 {
            DEFAULT_LEVEL
        } else {
            self.priority
        };
        (level.clamp(1, PRIORITY_LEVELS as i32) - 1) as usize
    }
}

/// A query of a run, waiting for a worker of the run's workflow task queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueryTask {
    /// Names the query's waiter (random: only the asker and the worker that took it know it).
    pub id: String,
    pub query: waymark_api::workflow::WorkflowQuery,
    /// When the asker stops waiting (Unix ns): a worker is never handed an expired query.
    pub expires_ns: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("task queue backend unavailable: {0}")]
    Unavailable(String),
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("invalid queue config: {0}")]
    InvalidConfig(String),
}

/// What a queue holds right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Tasks not yet acknowledged: waiting, or handed out and not yet recorded as started.
    pub backlog: usize,
    /// The backlog per priority level, 1 first.
    pub by_priority: [usize; PRIORITY_LEVELS],
    /// The fairness keys with backlog per priority level.
    pub keys_by_priority: [usize; PRIORITY_LEVELS],
    /// When the oldest task of each level's backlog was queued.
    pub oldest_by_priority: [Option<SystemTime>; PRIORITY_LEVELS],
    /// Polls waiting on this instance.
    pub pollers: usize,
    /// When the oldest task of the backlog was queued; `None` without a backlog.
    pub oldest: Option<SystemTime>,
}

/// A task taken from a queue, with what its backend needs to acknowledge it.
#[derive(Clone, Debug, PartialEq)]
pub struct Popped {
    pub task: ActivityTask,
    pub receipt: Receipt,
    /// When the task was queued (handed straight to a waiting poller: when it was popped).
    pub queued_at: SystemTime,
}

/// Opaque to callers: a Redis stream entry id, empty in process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Receipt(pub(crate) String);

/// A worker seen polling a queue, on any instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollerSeen {
    pub identity: String,
    pub last_access: SystemTime,
}

/// How long a poller stays listed after its last poll (Temporal's poller history TTL).
pub const POLLER_TTL: Duration = Duration::from_secs(300);

#[async_trait::async_trait]
pub trait TaskQueueBackend: Send + Sync + 'static {
    async fn push(&self, task: ActivityTask) -> Result<(), QueueError>;
    /// Waits until a task of `namespace`/`task_queue` comes or `deadline` passes. `identity` is
    /// the polling worker, listed by `pollers`.
    async fn pop(
        &self,
        namespace: &str,
        task_queue: &str,
        identity: &str,
        deadline: tokio::time::Instant,
    ) -> Result<Option<Popped>, QueueError>;
    /// Forgets a popped task once history has recorded its start (or rejected it as stale).
    /// A task never acknowledged is handed out again later.
    async fn ack(
        &self,
        namespace: &str,
        task_queue: &str,
        receipt: Receipt,
    ) -> Result<(), QueueError>;
    async fn stats(&self, namespace: &str, task_queue: &str) -> Result<QueueStats, QueueError>;
    /// The namespace's queues that had a task pushed or a poll within `POLLER_TTL`, with when
    /// they last did, most recent first.
    async fn queues(&self, namespace: &str) -> Result<Vec<(String, SystemTime)>, QueueError>;
    /// Workers that polled within `POLLER_TTL`, most recent first.
    async fn pollers(
        &self,
        namespace: &str,
        task_queue: &str,
    ) -> Result<Vec<PollerSeen>, QueueError>;
    /// Hands the answer to query `id` to the other processes sharing these queues, one of
    /// which may wait for it. The in-process backend has no other processes.
    async fn publish_answer(&self, _id: &str, _answer: &str) -> Result<(), QueueError> {
        Ok(())
    }
    /// From now on, answers that other processes publish go to `deliver(id, answer)`.
    async fn subscribe_answers(&self, _deliver: AnswerSink) -> Result<(), QueueError> {
        Ok(())
    }
}

/// Where a process takes the query answers published by others: `(query id, answer JSON)`.
pub type AnswerSink = std::sync::Arc<dyn Fn(&str, &str) + Send + Sync>;
