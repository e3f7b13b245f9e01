//! The matching service: task queues and their pollers. Activity tasks and workflow tasks wait
//! in separate backends (separate streams). A poll takes the next task and asks history to
//! record it as started; a stale task is dropped and the next one served. Activity queues
//! dispatch at their rate limit (`rate_limits`): a popped task waits for a token before its start
//! is recorded.

mod queries;
mod rate_limits;

pub use rate_limits::{RateLimits, SYSTEM_RATE, check_config_update, effective_rate};

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use waymark_api::workflow::{
    PollWorkflowTaskQueueRequest, PollWorkflowTaskQueueResponse,
    RespondQueryTaskCompletedRequest as QueryAnswer,
};
use waymark_api::{
    ApiError, DescribeTaskQueueQuery, DescribeTaskQueueResponse, ListTaskQueuesResponse,
    PollActivityTaskQueueRequest, PollActivityTaskQueueResponse, TaskQueueType,
    UpdateTaskQueueConfigRequest, UpdateTaskQueueConfigResponse,
};
use waymark_clients::{ApiResult, HistoryApi, MatchingApi, PollerInfo};
use waymark_queue::{ActivityTask, Popped, TaskQueueBackend};
use waymark_telemetry::QueueKind;
use waymark_telemetry::trace;

use rate_limits::Rates;

pub struct Matching {
    activities: Arc<dyn TaskQueueBackend>,
    workflows: Arc<dyn TaskQueueBackend>,
    rates: Arc<Rates>,
    history: OnceLock<Arc<dyn HistoryApi>>,
    /// Once cancelled, polls stop waiting and answer empty (shutdown); a dispatch under way
    /// still finishes and is answered.
    polls_end: OnceLock<CancellationToken>,
    queries: queries::Queries,
}

impl Matching {
    pub fn new(
        activities: Arc<dyn TaskQueueBackend>,
        workflows: Arc<dyn TaskQueueBackend>,
        limits: RateLimits,
    ) -> Arc<Matching> {
        Arc::new(Matching {
            activities,
            workflows,
            rates: Arc::new(Rates::new(limits)),
            history: OnceLock::new(),
            polls_end: OnceLock::new(),
            queries: queries::Queries::default(),
        })
    }

    /// Polls stop waiting and answer empty once `shutdown` is cancelled.
    pub fn end_polls_on(&self, shutdown: CancellationToken) {
        let _ = self.polls_end.set(shutdown);
    }

    /// Samples the backlog of every queue this instance has seen, for the metrics
    /// (`waymark_task_queue_backlog`, `waymark_task_queue_oldest_task_age_seconds`).
    pub async fn sample_metrics(&self) {
        for (kind, backend) in [
            (QueueKind::Activity, &self.activities),
            (QueueKind::Workflow, &self.workflows),
        ] {
            for (ns, queue) in waymark_telemetry::task_queues(kind) {
                match backend.stats(&ns, &queue).await {
                    Ok(s) => {
                        let age = s.oldest.map(|at| at.elapsed().unwrap_or_default());
                        waymark_telemetry::task_queue(kind, &ns, &queue).set_backlog(
                            s.backlog,
                            s.by_priority,
                            s.keys_by_priority.iter().sum(),
                            age,
                        );
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, ns, queue, "could not sample a task queue for the metrics");
                        return;
                    }
                }
            }
        }
    }

    /// Resolves once shutdown began (never, without a shutdown token).
    async fn polls_ended(&self) {
        match self.polls_end.get() {
            Some(token) => token.cancelled().await,
            None => std::future::pending().await,
        }
    }

    /// History calls matching too, so it is connected after construction.
    pub fn connect(&self, history: Arc<dyn HistoryApi>) {
        let _ = self.history.set(history);
    }

    fn history(&self) -> ApiResult<Arc<dyn HistoryApi>> {
        self.history
            .get()
            .cloned()
            .ok_or_else(|| ApiError::unavailable("matching is not connected to history"))
    }

    /// Serves one poll from `queue`: pops tasks until history records one as started (`record`
    /// answers `None` for a stale task, which is dropped) or the wait ends (or shutdown begins).
    /// Activity queues dispatch at their rate limit: each popped task first waits for a token.
    #[allow(clippy::too_many_arguments)]
    async fn poll<T, F, Fut>(
        &self,
        queue: &Arc<dyn TaskQueueBackend>,
        kind: QueueKind,
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
        let poller = PollerInfo {
            identity,
            request_id: uuid::Uuid::new_v4().to_string(),
        };
        let deadline = tokio::time::Instant::now() + wait;
        let limited = kind == QueueKind::Activity;
        let metrics = waymark_telemetry::task_queue(kind, ns, task_queue);
        loop {
            let popped = {
                let _waiting = metrics.poller_waiting();
                // A pop given up at shutdown loses nothing: the in-process queue takes a task
                // handed over meanwhile back, and Redis hands an unacknowledged one out again.
                tokio::select! {
                    popped = queue.pop(ns, task_queue, &poller.identity, deadline) => popped.map_err(unavailable)?,
                    () = self.polls_ended() => None,
                }
            };
            let Some(popped) = popped else {
                return Ok(None);
            };
            // Dispatching runs to completion even if the poller leaves meanwhile (`_polling` is
            // dropped then): the task is then started (and times out), or stays unacknowledged
            // and is handed out again, or goes back to the queue; never silently lost.
            let recording = record(history.clone(), popped.task.clone(), poller.clone());
            let (_polling, gone) = tokio::sync::oneshot::channel();
            let gate = limited.then(|| Gate {
                rates: self.rates.clone(),
                deadline,
                gone,
            });
            // The task's wait and the recording of its start join the trace that scheduled it,
            // and the worker continues that trace (`traceparent` of the poll's answer).
            let mut waited = trace::Span::start_at(
                || "queue wait",
                trace::SpanKind::Consumer,
                popped.task.traceparent.as_deref(),
                Some(popped.queued_at),
            );
            waited.set_str("waymark.task_queue", task_queue);
            let handed = waited
                .traceparent()
                .or_else(|| popped.task.traceparent.clone());
            let traced = waited.run(dispatch(queue.clone(), popped, gate, recording));
            let dispatch = tokio::spawn(traced);
            match dispatch
                .await
                .map_err(|e| ApiError::unavailable(e.to_string()))??
            {
                Dispatched::Started(response) => {
                    metrics.dispatched();
                    if let Some(t) = handed {
                        trace::answer_with(t);
                    }
                    return Ok(Some(response));
                }
                Dispatched::Stale => continue,
                Dispatched::Returned => return Ok(None),
            }
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable(e.to_string())
}

/// A rate-limited dispatch's wait for a token: until `deadline`, or until the poller is `gone`.
struct Gate {
    rates: Arc<Rates>,
    deadline: tokio::time::Instant,
    gone: tokio::sync::oneshot::Receiver<()>,
}

enum Dispatched<T> {
    Started(T),
    /// History refused the task as stale: it was dropped.
    Stale,
    /// No token came in time: the task went back to the queue.
    Returned,
}

/// Takes a token for a popped task (if gated), then records its start and acknowledges it. If the
/// token does not come in time the task is queued again and the old copy acknowledged.
async fn dispatch<T, Fut>(
    backend: Arc<dyn TaskQueueBackend>,
    popped: Popped,
    gate: Option<Gate>,
    recording: Fut,
) -> ApiResult<Dispatched<T>>
where
    Fut: Future<Output = ApiResult<Option<T>>>,
{
    let (ns, queue) = (
        popped.task.namespace.clone(),
        popped.task.task_queue.clone(),
    );
    if let Some(Gate {
        rates,
        deadline,
        gone,
    }) = gate
        && !rates.take_token(&ns, &queue, deadline, gone).await?
    {
        backend.push(popped.task).await.map_err(unavailable)?;
        backend
            .ack(&ns, &queue, popped.receipt)
            .await
            .map_err(unavailable)?;
        return Ok(Dispatched::Returned);
    }
    let recorded = match recording.await {
        Ok(recorded) => recorded,
        Err(e) => {
            // History is unreachable: queue the task again at once rather than leave it
            // unacknowledged until another reader reclaims it (if the start was recorded after
            // all, history drops the copy as stale).
            backend.push(popped.task).await.map_err(unavailable)?;
            backend
                .ack(&ns, &queue, popped.receipt)
                .await
                .map_err(unavailable)?;
            return Err(e);
        }
    };
    backend
        .ack(&ns, &queue, popped.receipt)
        .await
        .map_err(unavailable)?;
    Ok(recorded.map_or(Dispatched::Stale, Dispatched::Started))
}

#[async_trait]
impl MatchingApi for Matching {
    async fn add_activity_task(&self, mut task: ActivityTask) -> ApiResult<()> {
        // Every key, "" too, may have a rate of its own.
        self.rates.weigh(&mut task, TaskQueueType::Activity).await?;
        let metrics =
            waymark_telemetry::task_queue(QueueKind::Activity, &task.namespace, &task.task_queue);
        self.activities.push(task).await.map_err(unavailable)?;
        metrics.added();
        Ok(())
    }

    async fn poll_activity_task(
        &self,
        ns: &str,
        req: PollActivityTaskQueueRequest,
        wait: Duration,
    ) -> ApiResult<Option<PollActivityTaskQueueResponse>> {
        let queue = req.task_queue.map(|q| q.name).unwrap_or_default();
        let rate = req.task_queue_metadata.and_then(|m| m.max_tasks_per_second);
        self.rates.saw_poll(ns, &queue, &req.identity, rate).await?;
        self.poll(
            &self.activities,
            QueueKind::Activity,
            ns,
            &queue,
            req.identity,
            wait,
            |history, task, poller| async move {
                history.record_activity_task_started(&task, &poller).await
            },
        )
        .await
    }

    async fn queue_backlog(&self, ns: &str, task_queue: &str) -> ApiResult<u64> {
        Ok(self
            .activities
            .stats(ns, task_queue)
            .await
            .map_err(unavailable)?
            .backlog as u64)
    }

    async fn describe_task_queue(
        &self,
        ns: &str,
        task_queue: &str,
        query: DescribeTaskQueueQuery,
    ) -> ApiResult<DescribeTaskQueueResponse> {
        self.describe(ns, task_queue, query).await
    }

    async fn list_task_queues(&self, ns: &str) -> ApiResult<ListTaskQueuesResponse> {
        self.list(ns).await
    }

    async fn update_task_queue_config(
        &self,
        ns: &str,
        task_queue: &str,
        req: UpdateTaskQueueConfigRequest,
    ) -> ApiResult<UpdateTaskQueueConfigResponse> {
        self.update_config(ns, task_queue, req).await
    }

    async fn add_workflow_task(&self, mut task: ActivityTask) -> ApiResult<()> {
        if !task.fairness_key.is_empty() {
            self.rates.weigh(&mut task, TaskQueueType::Workflow).await?;
        }
        let metrics =
            waymark_telemetry::task_queue(QueueKind::Workflow, &task.namespace, &task.task_queue);
        self.workflows.push(task).await.map_err(unavailable)?;
        metrics.added();
        Ok(())
    }

    async fn poll_workflow_task(
        &self,
        ns: &str,
        req: PollWorkflowTaskQueueRequest,
        wait: Duration,
    ) -> ApiResult<Option<PollWorkflowTaskQueueResponse>> {
        let queue = req.task_queue.map(|q| q.name).unwrap_or_default();
        self.poll(
            &self.workflows,
            QueueKind::Workflow,
            ns,
            &queue,
            req.identity,
            wait,
            |history, task, poller| async move {
                history.record_workflow_task_started(&task, &poller).await
            },
        )
        .await
    }

    async fn query_workflow(
        &self,
        task: ActivityTask,
        wait: Duration,
    ) -> ApiResult<Option<QueryAnswer>> {
        let Some(query) = &task.query else {
            return Err(ApiError::invalid_argument("not a query task"));
        };
        let mut waiting = self
            .queries
            .wait_for(&query.id, self.workflows.as_ref())
            .await
            .map_err(unavailable)?;
        self.add_workflow_task(task).await?;
        tokio::select! {
            answer = tokio::time::timeout(wait, &mut waiting.answer) => Ok(answer.ok().and_then(Result::ok)),
            () = self.polls_ended() => Ok(None),
        }
    }

    async fn answer_query(&self, id: &str, answer: QueryAnswer) -> ApiResult<()> {
        self.queries
            .answer(id, answer, self.workflows.as_ref())
            .await
            .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use tokio::time::Instant;
    use waymark_api::{RateLimit, RateLimitConfig, TaskQueueType};
    use waymark_clients::SystemClock;
    use waymark_queue::{
        InProcessQueue, InProcessQueueConfig, InProcessRateLimiter, QueueConfigStore,
    };

    use super::*;
    use crate::rate_limits::tests::queue_limit;

    #[tokio::test(start_paused = true)]
    async fn a_task_without_a_token_in_time_goes_back_to_the_queue_unrecorded() {
        let store = Arc::new(InProcessQueueConfig::new());
        let limiter = Arc::new(InProcessRateLimiter::new());
        let limits = RateLimits {
            store: store.clone(),
            limiter,
            clock: Arc::new(SystemClock),
        };
        let rates = Arc::new(Rates::new(limits));
        let queue: Arc<dyn TaskQueueBackend> = Arc::new(InProcessQueue::new());
        let task = ActivityTask {
            namespace: "ns".into(),
            task_queue: "q".into(),
            run_id: "r".into(),
            ..Default::default()
        };
        let recorded = AtomicBool::new(false);
        let record = || async {
            recorded.store(true, Ordering::Relaxed);
            Ok(Some("started"))
        };
        let gate = |deadline| {
            let (alive, gone) = tokio::sync::oneshot::channel();
            (
                alive,
                Gate {
                    rates: rates.clone(),
                    deadline,
                    gone,
                },
            )
        };
        queue.push(task.clone()).await.unwrap();
        for (rps, answer, backlog) in [(0.0, "returned", 1), (5.0, "started", 0)] {
            let limit = RateLimitConfig {
                rate_limit: Some(RateLimit {
                    requests_per_second: rps,
                }),
                metadata: None,
            };
            store
                .set_api("ns", "q", TaskQueueType::Activity, queue_limit(limit))
                .await
                .unwrap();
            tokio::time::advance(Duration::from_secs(1)).await; // past the cache of the last limit
            let popped = queue
                .pop("ns", "q", "w", Instant::now())
                .await
                .unwrap()
                .expect("the task");
            assert_eq!(popped.task, task);
            let (_alive, gate) = gate(Instant::now() + Duration::from_secs(2));
            let outcome = match dispatch(queue.clone(), popped, Some(gate), record())
                .await
                .unwrap()
            {
                Dispatched::Started(s) => s,
                Dispatched::Stale => "stale",
                Dispatched::Returned => "returned",
            };
            assert_eq!(outcome, answer, "at {rps}/s");
            assert_eq!(
                recorded.load(Ordering::Relaxed),
                rps > 0.0,
                "recorded at {rps}/s"
            );
            assert_eq!(
                queue.stats("ns", "q").await.unwrap().backlog,
                backlog,
                "backlog after {rps}/s"
            );
        }
    }
}
