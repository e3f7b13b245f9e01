//! What a running activity sees: its [`ActivityInfo`], throttled heartbeats, the details of the
//! previous attempt, and cancellation.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use waymark_api as api;

use crate::client::{ActivityTarget, Client, TaskToken};
use crate::payload::{self, PayloadError};

/// Facts about the running attempt.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ActivityInfo {
    /// Identifies this attempt; hand it to another process to complete the activity there.
    pub task_token: TaskToken,
    /// The namespace.
    pub namespace: String,
    /// The task queue the task came from.
    pub task_queue: String,
    /// The activity id.
    pub activity_id: String,
    /// The run id of the standalone activity.
    pub activity_run_id: String,
    /// The registered name that was called.
    pub activity_type: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When the activity was first scheduled.
    pub scheduled_time: Option<SystemTime>,
    /// When this attempt was scheduled (after the retry backoff).
    pub current_attempt_scheduled_time: Option<SystemTime>,
    /// When the server handed this attempt to the worker.
    pub started_time: Option<SystemTime>,
    /// When the server will time this attempt out (start-to-close or schedule-to-close,
    /// whichever comes first); `None` if unlimited.
    pub deadline: Option<SystemTime>,
    /// The activity's schedule-to-close timeout (`None`: unlimited).
    pub schedule_to_close_timeout: Option<Duration>,
    /// The attempt's start-to-close timeout.
    pub start_to_close_timeout: Option<Duration>,
    /// The heartbeat timeout (`None`: no heartbeats required).
    pub heartbeat_timeout: Option<Duration>,
}

fn positive(d: Option<api::Duration>) -> Option<Duration> {
    d.filter(|d| d.as_nanos() > 0).map(api::Duration::to_std)
}

fn system_time(t: Option<api::Timestamp>) -> Option<SystemTime> {
    let nanos = t?.as_nanos();
    let magnitude = Duration::from_nanos(nanos.unsigned_abs());
    if nanos >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(magnitude)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(magnitude)
    }
}

impl ActivityInfo {
    pub(crate) fn from_task(
        task: &api::PollActivityTaskQueueResponse,
        namespace: &str,
        task_queue: &str,
    ) -> Self {
        let schedule_to_close_timeout = positive(task.schedule_to_close_timeout);
        let start_to_close_timeout = positive(task.start_to_close_timeout);
        let by_start = task
            .started_time
            .zip(start_to_close_timeout)
            .map(|(t, d)| t.add(api::Duration::from_std(d)));
        let by_schedule = task
            .scheduled_time
            .zip(schedule_to_close_timeout)
            .map(|(t, d)| t.add(api::Duration::from_std(d)));
        let deadline = match (by_start, by_schedule) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        ActivityInfo {
            task_token: TaskToken::from(task.task_token.clone()),
            namespace: if task.workflow_namespace.is_empty() {
                namespace.to_owned()
            } else {
                task.workflow_namespace.clone()
            },
            task_queue: task_queue.to_owned(),
            activity_id: task.activity_id.clone(),
            activity_run_id: task.activity_run_id.clone(),
            activity_type: task
                .activity_type
                .as_ref()
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            attempt: u32::try_from(task.attempt).unwrap_or(1).max(1),
            scheduled_time: system_time(task.scheduled_time),
            current_attempt_scheduled_time: system_time(task.current_attempt_scheduled_time),
            started_time: system_time(task.started_time),
            deadline: system_time(deadline),
            schedule_to_close_timeout,
            start_to_close_timeout,
            heartbeat_timeout: positive(task.heartbeat_timeout),
        }
    }

    /// Time left until [`deadline`](Self::deadline), measured on the server's clock from the
    /// attempt's start, so that a skewed local clock does not matter.
    pub(crate) fn time_to_deadline(&self) -> Option<Duration> {
        let deadline = self.deadline?;
        let from = self.started_time.unwrap_or_else(SystemTime::now);
        Some(deadline.duration_since(from).unwrap_or_default())
    }
}

/// Why [`ActivityContext::cancelled`] resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CancelReason {
    /// Someone requested cancellation (seen in a heartbeat answer). Returning any error now
    /// reports the activity as cancelled.
    CancelRequested,
    /// The attempt's deadline passed; the server has timed it out.
    DeadlineExceeded,
    /// The worker is shutting down and its graceful-shutdown timeout expired. Returning an
    /// error fails the attempt as retryable, so that another worker picks it up.
    WorkerShutdown,
    /// The activity was paused (seen in a heartbeat answer).
    Paused,
    /// The activity was reset (seen in a heartbeat answer); the server starts it again.
    Reset,
    /// The server no longer knows this attempt (it timed out, or was completed by someone else).
    NotFound,
}

impl std::fmt::Display for CancelReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CancelReason::CancelRequested => "cancel requested",
            CancelReason::DeadlineExceeded => "deadline exceeded",
            CancelReason::WorkerShutdown => "worker shutting down",
            CancelReason::Paused => "activity paused",
            CancelReason::Reset => "activity reset",
            CancelReason::NotFound => "activity no longer running on the server",
        })
    }
}

/// Handed to every activity invocation: its info, heartbeats, and cancellation. Cheap to clone
/// (clones share the same attempt).
///
/// ```no_run
/// use std::time::Duration;
/// use waymark_sdk::{ActivityContext, ActivityError};
///
/// async fn process_file(ctx: ActivityContext, (path, lines): (String, u64)) -> Result<u64, ActivityError> {
///     // Resume where the previous attempt got to.
///     let mut line: u64 = ctx.heartbeat_details()?.unwrap_or(0);
///     while line < lines {
///         tokio::select! {
///             reason = ctx.cancelled() => {
///                 println!("stopping {path} at line {line}: {reason}");
///                 return Err(ActivityError::cancelled().details(line));
///             }
///             () = tokio::time::sleep(Duration::from_millis(10)) => {}
///         }
///         line += 1;
///         ctx.heartbeat(line); // throttled; the latest value always reaches the server
///     }
///     Ok(line)
/// }
/// ```
#[derive(Clone)]
pub struct ActivityContext {
    inner: Arc<ContextInner>,
}

struct ContextInner {
    info: ActivityInfo,
    previous_details: Option<api::Payloads>,
    heartbeats: Arc<Heartbeats>,
    cancel: CancellationToken,
    reason: OnceLock<CancelReason>,
    worker_stopping: CancellationToken,
    client: Client,
}

impl std::fmt::Debug for ActivityContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivityContext")
            .field("info", &self.inner.info)
            .field("cancelled", &self.inner.reason.get())
            .finish_non_exhaustive()
    }
}

impl ActivityContext {
    pub(crate) fn new(
        info: ActivityInfo,
        previous_details: Option<api::Payloads>,
        heartbeats: Arc<Heartbeats>,
        worker_stopping: CancellationToken,
        client: Client,
    ) -> Self {
        ActivityContext {
            inner: Arc::new(ContextInner {
                info,
                previous_details,
                heartbeats,
                cancel: CancellationToken::new(),
                reason: OnceLock::new(),
                worker_stopping,
                client,
            }),
        }
    }

    /// Facts about this attempt.
    pub fn info(&self) -> &ActivityInfo {
        &self.inner.info
    }

    /// Records progress. Never blocks: the first call is sent at once, later ones within the
    /// throttle interval only replace the details waiting to be sent, which go out when the
    /// interval ends. The interval is 80 % of the heartbeat timeout, or the worker's default
    /// (30 s) without one, capped at the worker's maximum (60 s). Details still waiting when the
    /// activity returns are sent with its report. A heartbeat answer that says the activity was
    /// cancelled resolves [`cancelled`](Self::cancelled).
    ///
    /// `details` follows the payload rule of [`crate::payload`] (a tuple gives several).
    pub fn heartbeat<D: Serialize>(&self, details: D) {
        match payload::to_payloads(&details, "heartbeat details") {
            Ok(details) => self.inner.heartbeats.record(details),
            Err(e) => {
                tracing::warn!(activity_id = %self.inner.info.activity_id, error = %e, "heartbeat details not sent")
            }
        }
    }

    /// The last heartbeat details the previous attempts recorded, decoded: where to resume.
    /// `Ok(None)` on a first attempt or when none were recorded.
    pub fn heartbeat_details<T: DeserializeOwned>(&self) -> Result<Option<T>, PayloadError> {
        payload::optional(self.inner.previous_details.as_ref(), "heartbeat details")
    }

    /// Resolves once the activity should stop: a heartbeat answer said cancellation was
    /// requested (or the activity was paused or reset), the attempt's deadline passed, or the
    /// worker is shutting down and its graceful-shutdown timeout expired. Gives the reason.
    pub async fn cancelled(&self) -> CancelReason {
        self.inner.cancel.cancelled().await;
        self.cancel_reason()
            .unwrap_or(CancelReason::CancelRequested)
    }

    /// Whether [`cancelled`](Self::cancelled) has resolved.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// Why the activity was cancelled, if it was.
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        self.inner.reason.get().copied()
    }

    /// Resolves as soon as the worker begins shutting down, before the graceful-shutdown
    /// timeout: a chance to checkpoint early. The activity may still run to completion.
    pub async fn worker_stopping(&self) {
        self.inner.worker_stopping.cancelled().await;
    }

    /// The client of the worker, to start or inspect other activities.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Cancels the context with `reason`, unless it already was (the first reason stays).
    pub(crate) fn cancel(&self, reason: CancelReason) {
        if self.inner.reason.set(reason).is_ok() {
            tracing::debug!(activity_id = %self.inner.info.activity_id, %reason, "activity context cancelled");
        }
        self.inner.cancel.cancel();
    }
}

// ---------------------------------------------------------------------------------------------
// Heartbeats: one sender task per attempt, fed through `Heartbeats`.

/// The throttle interval of heartbeats (SEMANTICS §5.3, as sdk-go does it).
pub(crate) fn throttle_interval(
    heartbeat_timeout: Option<Duration>,
    default: Duration,
    max: Duration,
) -> Duration {
    let interval = match heartbeat_timeout {
        Some(t) if !t.is_zero() => t.mul_f64(0.8),
        _ => default,
    };
    interval.min(max)
}

/// The details waiting to be sent, shared by the activity (`record`) and the sender.
#[derive(Default)]
pub(crate) struct Heartbeats {
    pending: Mutex<Pending>,
    notify: Notify,
}

#[derive(Default)]
struct Pending {
    details: Option<api::Payloads>,
    /// The server answered NotFound: nothing more is sent.
    gone: bool,
}

impl Heartbeats {
    fn record(&self, details: api::Payloads) {
        let mut p = self.pending.lock().expect("heartbeat state");
        if p.gone {
            return;
        }
        p.details = Some(details);
        drop(p);
        self.notify.notify_one();
    }

    fn take(&self) -> Option<api::Payloads> {
        self.pending.lock().expect("heartbeat state").details.take()
    }

    /// Puts details back after a failed send, unless newer ones came meanwhile.
    fn restore(&self, details: api::Payloads) {
        let mut p = self.pending.lock().expect("heartbeat state");
        if p.details.is_none() && !p.gone {
            p.details = Some(details);
        }
    }

    fn mark_gone(&self) {
        let mut p = self.pending.lock().expect("heartbeat state");
        p.gone = true;
        p.details = None;
    }

    /// The details still unsent once the sender stopped; the worker sends them with its report.
    pub(crate) fn take_unsent(&self) -> Option<api::Payloads> {
        self.take()
    }
}

/// What the sender needs besides the shared state.
pub(crate) struct HeartbeatSender {
    pub client: Client,
    pub identity: String,
    pub ctx: ActivityContext,
    pub throttle: Duration,
    /// Cancelled when the activity returned.
    pub stop: CancellationToken,
    pub worker_stopping: CancellationToken,
}

impl HeartbeatSender {
    /// Sends heartbeats until `stop`: the first at once, then at most one per throttle window,
    /// always the latest details. Worker shutdown ends the current window early, once.
    pub async fn run(self) {
        let heartbeats = self.ctx.inner.heartbeats.clone();
        let target = ActivityTarget::TaskToken(self.ctx.info().task_token.clone());
        let rpc_timeout = self.throttle.max(Duration::from_secs(1));
        let mut cut_window_for_shutdown = false;
        loop {
            tokio::select! {
                biased;
                () = self.stop.cancelled() => return,
                () = heartbeats.notify.notified() => {}
            }
            let Some(details) = heartbeats.take() else {
                continue;
            };
            match self
                .client
                .heartbeat_with(&target, &self.identity, details.clone(), Some(rpc_timeout))
                .await
            {
                Ok(answer) => {
                    if answer.cancel_requested {
                        self.ctx.cancel(CancelReason::CancelRequested);
                    } else if answer.activity_paused {
                        self.ctx.cancel(CancelReason::Paused);
                    } else if answer.activity_reset {
                        self.ctx.cancel(CancelReason::Reset);
                    }
                }
                Err(e) if e.code() == Some(api::Code::NotFound) => {
                    tracing::info!(activity_id = %self.ctx.info().activity_id, error = %e, "heartbeat: the attempt is gone; cancelling the activity");
                    heartbeats.mark_gone();
                    self.ctx.cancel(CancelReason::NotFound);
                    return;
                }
                Err(e) => {
                    tracing::warn!(activity_id = %self.ctx.info().activity_id, error = %e, "heartbeat failed; the details are sent again with the next one");
                    heartbeats.restore(details);
                }
            }
            // The throttle window: calls meanwhile only replace the pending details.
            tokio::select! {
                biased;
                () = self.stop.cancelled() => return,
                () = self.worker_stopping.cancelled(), if !cut_window_for_shutdown => cut_window_for_shutdown = true,
                () = tokio::time::sleep(self.throttle) => {}
            }
            // Whatever arrived during the window goes out now.
            if heartbeats
                .pending
                .lock()
                .expect("heartbeat state")
                .details
                .is_some()
            {
                heartbeats.notify.notify_one();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_is_a_fraction_of_the_heartbeat_timeout_capped_by_the_maximum() {
        let (default, max) = (Duration::from_secs(30), Duration::from_secs(60));
        assert_eq!(
            throttle_interval(Some(Duration::from_secs(10)), default, max),
            Duration::from_secs(8)
        );
        assert_eq!(
            throttle_interval(None, default, max),
            Duration::from_secs(30)
        );
        assert_eq!(
            throttle_interval(Some(Duration::ZERO), default, max),
            Duration::from_secs(30)
        );
        assert_eq!(
            throttle_interval(Some(Duration::from_secs(600)), default, max),
            Duration::from_secs(60)
        );
        assert_eq!(
            throttle_interval(None, Duration::from_secs(90), max),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn the_deadline_is_the_earlier_of_start_to_close_and_schedule_to_close() {
        let task: api::PollActivityTaskQueueResponse = serde_json::from_value(serde_json::json!({
            "taskToken": "dG9r", "activityId": "a", "activityType": {"name": "T"}, "attempt": 2,
            "scheduledTime": "2026-01-01T00:00:00Z", "startedTime": "2026-01-01T00:00:05Z",
            "scheduleToCloseTimeout": "30s", "startToCloseTimeout": "60s", "heartbeatTimeout": "0s"
        }))
        .unwrap();
        let info = ActivityInfo::from_task(&task, "default", "q");
        assert_eq!(info.attempt, 2);
        assert_eq!(info.heartbeat_timeout, None);
        assert_eq!(info.time_to_deadline(), Some(Duration::from_secs(25)));
        assert_eq!(
            info.deadline
                .unwrap()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            1_767_225_630
        );
    }
}
