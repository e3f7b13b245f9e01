//! Task queue backends: where dispatched tasks wait for a worker. The in-process backend serves
//! `waymark start-dev`; a waiting poller is handed a task directly (sync match) and only the
//! backlog is queued.

mod in_process;

pub use in_process::InProcessQueue;

use serde::{Deserialize, Serialize};

/// A dispatched attempt of an activity. History checks it is still current when a worker takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityTask {
    pub namespace: String,
    pub task_queue: String,
    pub run_id: String,
    pub attempt: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("task queue backend unavailable: {0}")]
    Unavailable(String),
}

/// What a queue holds right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub backlog: usize,
    pub pollers: usize,
}

#[async_trait::async_trait]
pub trait TaskQueueBackend: Send + Sync + 'static {
    async fn push(&self, task: ActivityTask) -> Result<(), QueueError>;
    /// Waits until a task of `namespace`/`task_queue` comes or `deadline` passes.
    async fn pop(&self, namespace: &str, task_queue: &str, deadline: tokio::time::Instant)
    -> Result<Option<ActivityTask>, QueueError>;
    fn stats(&self, namespace: &str, task_queue: &str) -> QueueStats;
}
