//! The matching service: task queues and their pollers. A poll takes the next task from the
//! queue backend and asks history to record it as started; a stale task is dropped and the
//! next one served.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use waymark_api::{ApiError, PollActivityTaskQueueRequest, PollActivityTaskQueueResponse};
use waymark_clients::{ApiResult, HistoryApi, MatchingApi, PollerInfo};
use waymark_queue::{ActivityTask, TaskQueueBackend};

pub struct Matching {
    queue: Arc<dyn TaskQueueBackend>,
    history: OnceLock<Arc<dyn HistoryApi>>,
}

impl Matching {
    pub fn new(queue: Arc<dyn TaskQueueBackend>) -> Arc<Matching> {
        Arc::new(Matching { queue, history: OnceLock::new() })
    }

    /// History calls matching too, so it is connected after construction.
    pub fn connect(&self, history: Arc<dyn HistoryApi>) {
        let _ = self.history.set(history);
    }

    fn history(&self) -> ApiResult<Arc<dyn HistoryApi>> {
        self.history.get().cloned().ok_or_else(|| ApiError::unavailable("matching is not connected to history"))
    }
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable(e.to_string())
}

#[async_trait]
impl MatchingApi for Matching {
    async fn add_activity_task(&self, task: ActivityTask) -> ApiResult<()> {
        self.queue.push(task).await.map_err(unavailable)
    }

    async fn poll_activity_task(
        &self,
        ns: &str,
        req: PollActivityTaskQueueRequest,
        wait: Duration,
    ) -> ApiResult<Option<PollActivityTaskQueueResponse>> {
        let history = self.history()?;
        let queue = req.task_queue.map(|q| q.name).unwrap_or_default();
        let poller = PollerInfo { identity: req.identity, request_id: uuid::Uuid::new_v4().to_string() };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let Some(popped) = self.queue.pop(ns, &queue, &poller.identity, deadline).await.map_err(unavailable)? else {
                return Ok(None);
            };
            // Recording and acknowledging run to completion even if the poller leaves meanwhile:
            // the task is then started (and times out), or stays unacknowledged and is handed out
            // again; never silently lost.
            let (history, poller, backend) = (history.clone(), poller.clone(), self.queue.clone());
            let recorded = tokio::spawn(async move {
                let recorded = history.record_activity_task_started(&popped.task, &poller).await?;
                let t = &popped.task;
                backend.ack(&t.namespace, &t.task_queue, popped.receipt).await.map_err(unavailable)?;
                Ok::<_, ApiError>(recorded)
            });
            match recorded.await.map_err(|e| ApiError::unavailable(e.to_string()))? {
                Ok(Some(response)) => return Ok(Some(response)),
                Ok(None) => continue, // stale: dropped
                Err(e) => return Err(e),
            }
        }
    }

    async fn queue_backlog(&self, ns: &str, task_queue: &str) -> ApiResult<u64> {
        Ok(self.queue.stats(ns, task_queue).await.map_err(unavailable)?.backlog as u64)
    }
}
