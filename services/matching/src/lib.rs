//! The matching service: task queues and their pollers. Activity tasks and workflow tasks wait
//! in separate backends (separate streams). A poll takes the next task and asks history to
//! record it as started; a stale task is dropped and the next one served.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use waymark_api::workflow::{PollWorkflowTaskQueueRequest, PollWorkflowTaskQueueResponse};
use waymark_api::{ApiError, PollActivityTaskQueueRequest, PollActivityTaskQueueResponse};
use waymark_clients::{ApiResult, HistoryApi, MatchingApi, PollerInfo};
use waymark_queue::{ActivityTask, TaskQueueBackend};

pub struct Matching {
    activities: Arc<dyn TaskQueueBackend>,
    workflows: Arc<dyn TaskQueueBackend>,
    history: OnceLock<Arc<dyn HistoryApi>>,
}

impl Matching {
    pub fn new(activities: Arc<dyn TaskQueueBackend>, workflows: Arc<dyn TaskQueueBackend>) -> Arc<Matching> {
        Arc::new(Matching { activities, workflows, history: OnceLock::new() })
    }

    /// History calls matching too, so it is connected after construction.
    pub fn connect(&self, history: Arc<dyn HistoryApi>) {
        let _ = self.history.set(history);
    }

    fn history(&self) -> ApiResult<Arc<dyn HistoryApi>> {
        self.history.get().cloned().ok_or_else(|| ApiError::unavailable("matching is not connected to history"))
    }

    /// Serves one poll from `queue`: pops tasks until history records one as started (`record`
    /// answers `None` for a stale task, which is dropped) or the wait ends.
    async fn poll<T, F, Fut>(
        &self,
        queue: &Arc<dyn TaskQueueBackend>,
        ns: &str,
        task_queue: &str,
        identity: String,
        wait: Duration,
        record: F,
    ) -> ApiResult<Option<T>>
    where
        T: Send + 'static,
        F: Fn(Arc<dyn HistoryApi>, ActivityTask, PollerInfo) -> Fut,
        Fut: Future<Output = ApiResult<Option<T>>> + Send + 'static,
    {
        let history = self.history()?;
        let poller = PollerInfo { identity, request_id: uuid::Uuid::new_v4().to_string() };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let Some(popped) = queue.pop(ns, task_queue, &poller.identity, deadline).await.map_err(unavailable)? else {
                return Ok(None);
            };
            // Recording and acknowledging run to completion even if the poller leaves meanwhile:
            // the task is then started (and times out), or stays unacknowledged and is handed out
            // again; never silently lost.
            let t = &popped.task;
            let (ns, task_queue) = (t.namespace.clone(), t.task_queue.clone());
            let recording = record(history.clone(), popped.task.clone(), poller.clone());
            let backend = queue.clone();
            let recorded = tokio::spawn(async move {
                let recorded = recording.await?;
                backend.ack(&ns, &task_queue, popped.receipt).await.map_err(unavailable)?;
                Ok::<_, ApiError>(recorded)
            });
            match recorded.await.map_err(|e| ApiError::unavailable(e.to_string()))? {
                Ok(Some(response)) => return Ok(Some(response)),
                Ok(None) => continue, // stale: dropped
                Err(e) => return Err(e),
            }
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable(e.to_string())
}

#[async_trait]
impl MatchingApi for Matching {
    async fn add_activity_task(&self, task: ActivityTask) -> ApiResult<()> {
        self.activities.push(task).await.map_err(unavailable)
    }

    async fn poll_activity_task(
        &self,
        ns: &str,
        req: PollActivityTaskQueueRequest,
        wait: Duration,
    ) -> ApiResult<Option<PollActivityTaskQueueResponse>> {
        let queue = req.task_queue.map(|q| q.name).unwrap_or_default();
        self.poll(&self.activities, ns, &queue, req.identity, wait, |history, task, poller| async move {
            history.record_activity_task_started(&task, &poller).await
        })
        .await
    }

    async fn queue_backlog(&self, ns: &str, task_queue: &str) -> ApiResult<u64> {
        Ok(self.activities.stats(ns, task_queue).await.map_err(unavailable)?.backlog as u64)
    }

    async fn add_workflow_task(&self, task: ActivityTask) -> ApiResult<()> {
        self.workflows.push(task).await.map_err(unavailable)
    }

    async fn poll_workflow_task(
        &self,
        ns: &str,
        req: PollWorkflowTaskQueueRequest,
        wait: Duration,
    ) -> ApiResult<Option<PollWorkflowTaskQueueResponse>> {
        let queue = req.task_queue.map(|q| q.name).unwrap_or_default();
        self.poll(&self.workflows, ns, &queue, req.identity, wait, |history, task, poller| async move {
            history.record_workflow_task_started(&task, &poller).await
        })
        .await
    }
}
