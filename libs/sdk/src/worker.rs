//! The worker: polls one task queue when it has a free slot, runs the registered activity
//! functions, heartbeats for them, reports their outcome, and shuts down gracefully.

use std::collections::BTreeMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use waymark_api as api;
use waymark_api::Code;

use crate::client::{ActivityTarget, Client};
use crate::context::{
    ActivityContext, ActivityInfo, CancelReason, HeartbeatSender, Heartbeats, throttle_interval,
};
use crate::error::{ActivityError, ApplicationError, Error};
use crate::payload;
use crate::transport::{current_trace, traced};

/// After the graceful-shutdown timeout the worker cancels the activities still running and
/// gives them this long to return before it abandons them (and reports them failed).
const ABANDON_AFTER: Duration = Duration::from_secs(2);
/// Attempts at delivering one report when the server cannot be reached.
const REPORT_ATTEMPTS: u32 = 6;

/// Settings of a [`Worker`].
///
/// ```
/// use std::time::Duration;
/// use waymark_sdk::WorkerOptions;
///
/// let options = WorkerOptions {
///     max_concurrent_activities: 8,
///     max_activities_per_second: Some(20.0),
///     graceful_shutdown_timeout: Duration::from_secs(30),
///     ..Default::default()
/// };
/// # let _ = options;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerOptions {
    /// Activities run at once, at most. The worker polls only while it has a free slot, so a
    /// burst never overloads it: the backlog waits on the server. Default 100.
    pub max_concurrent_activities: usize,
    /// Activities this worker starts per second, at most (`None`: no limit).
    pub max_activities_per_second: Option<f64>,
    /// Limit for the whole task queue across all its workers, sent to the server with every
    /// poll as `taskQueueMetadata.maxTasksPerSecond` (`None`: not sent).
    pub max_task_queue_activities_per_second: Option<f64>,
    /// The identity in polls and reports; the client's identity if `None`.
    pub identity: Option<String>,
    /// Concurrent long polls. Default 2.
    pub pollers: usize,
    /// How long a shutdown lets running activities finish before it cancels them. Default 10 s.
    pub graceful_shutdown_timeout: Duration,
    /// Heartbeat throttle interval of activities without a heartbeat timeout. Default 30 s.
    pub default_heartbeat_throttle_interval: Duration,
    /// Longest heartbeat throttle interval. Default 60 s.
    pub max_heartbeat_throttle_interval: Duration,
    /// Deadline of one long poll (the server answers empty 1 s before it). Default 30 s.
    pub poll_timeout: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            max_concurrent_activities: 100,
            max_activities_per_second: None,
            max_task_queue_activities_per_second: None,
            identity: None,
            pollers: 2,
            graceful_shutdown_timeout: Duration::from_secs(10),
            default_heartbeat_throttle_interval: Duration::from_secs(30),
            max_heartbeat_throttle_interval: Duration::from_secs(60),
            poll_timeout: Duration::from_secs(30),
        }
    }
}

impl WorkerOptions {
    fn validate(&self) -> Result<(), WorkerError> {
        let invalid = |m: String| Err(WorkerError::InvalidOptions(m));
        if self.max_concurrent_activities == 0
            || u32::try_from(self.max_concurrent_activities).is_err()
        {
            return invalid(format!(
                "max_concurrent_activities must be between 1 and {}, got {}",
                u32::MAX,
                self.max_concurrent_activities
            ));
        }
        if self.pollers == 0 {
            return invalid("pollers must be at least 1".into());
        }
        for (name, rate) in [
            ("max_activities_per_second", self.max_activities_per_second),
            (
                "max_task_queue_activities_per_second",
                self.max_task_queue_activities_per_second,
            ),
        ] {
            if let Some(r) = rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
                return invalid(format!("{name} must be a positive number, got {r}"));
            }
        }
        if self.default_heartbeat_throttle_interval.is_zero()
            || self.max_heartbeat_throttle_interval.is_zero()
        {
            return invalid("heartbeat throttle intervals must be positive".into());
        }
        if self.poll_timeout < Duration::from_secs(3) {
            return invalid(format!(
                "poll_timeout must be at least 3s (the server refuses polls under 2s), got {:?}",
                self.poll_timeout
            ));
        }
        Ok(())
    }
}

/// What registering or running a worker can fail with.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// An activity of this name is registered already.
    #[error("activity type {name:?} is already registered on this worker")]
    AlreadyRegistered {
        /// The name.
        name: String,
    },
    /// An empty activity name.
    #[error("an activity type name must not be empty")]
    EmptyName,
    /// `run` was called with no activity registered.
    #[error("no activity is registered on the worker of task queue {task_queue:?}")]
    NothingRegistered {
        /// The task queue.
        task_queue: String,
    },
    /// The options cannot work.
    #[error("invalid worker options: {0}")]
    InvalidOptions(String),
    /// The server refused the worker's polls for good (unknown namespace, bad request, ...).
    #[error("the worker of task queue {task_queue:?} stopped: {source}")]
    Poll {
        /// The task queue.
        task_queue: String,
        /// The last poll's error.
        source: Error,
    },
}

/// Ends a worker's [`run`](Worker::run) gracefully; cloneable, usable from anywhere.
#[derive(Clone, Debug, Default)]
pub struct ShutdownHandle {
    token: CancellationToken,
}

impl ShutdownHandle {
    /// Begins the graceful shutdown: polling stops at once, running activities get the
    /// graceful-shutdown timeout to finish. `run` returns when everything is reported.
    pub fn shutdown(&self) {
        self.token.cancel();
    }

    /// Whether shutdown has begun.
    pub fn is_shutdown(&self) -> bool {
        self.token.is_cancelled()
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A registered activity with its types erased.
trait Activity: Send + Sync {
    fn invoke(
        &self,
        ctx: ActivityContext,
        input: Option<api::Payloads>,
    ) -> BoxFuture<Result<api::Payloads, ActivityError>>;
}

struct FnActivity<F, A, R> {
    f: F,
    _types: PhantomData<fn(A) -> R>,
}

impl<F, Fut, A, R> Activity for FnActivity<F, A, R>
where
    F: Fn(ActivityContext, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, ActivityError>> + Send + 'static,
    A: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
{
    fn invoke(
        &self,
        ctx: ActivityContext,
        input: Option<api::Payloads>,
    ) -> BoxFuture<Result<api::Payloads, ActivityError>> {
        let args = match payload::from_payloads::<A>(input.as_ref(), "activity input") {
            Ok(args) => args,
            Err(e) => {
                // The same input fails the same way on every attempt.
                let err = ActivityError::application("InvalidActivityInput", e.to_string())
                    .non_retryable();
                return Box::pin(async move { Err(err) });
            }
        };
        let fut = (self.f)(ctx, args);
        Box::pin(async move {
            let result = fut.await?;
            payload::to_payloads(&result, "activity result")
                .map_err(|e| ActivityError::application("InvalidActivityResult", e.to_string()))
        })
    }
}

/// Polls one task queue and runs the activities registered on it.
///
/// ```no_run
/// use waymark_sdk::{ActivityContext, ActivityError, Client, ClientOptions, Worker, WorkerOptions};
///
/// async fn simple_activity(_ctx: ActivityContext, value: String) -> Result<String, ActivityError> {
///     Ok(format!("Processed: {value}"))
/// }
///
/// async fn add(_ctx: ActivityContext, (a, b): (i64, i64)) -> Result<i64, ActivityError> {
///     Ok(a + b)
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::connect("http://127.0.0.1:7243", ClientOptions::default()).await?;
/// let mut worker = Worker::new(client, "demo", WorkerOptions::default());
/// worker.register_activity("SimpleActivity", simple_activity)?;
/// worker.register_activity("Add", add)?;
/// // Runs until Ctrl-C, then shuts down gracefully.
/// worker.run_until(async { tokio::signal::ctrl_c().await.ok(); }).await?;
/// # Ok(()) }
/// ```
pub struct Worker {
    client: Client,
    task_queue: String,
    options: WorkerOptions,
    activities: BTreeMap<String, Arc<dyn Activity>>,
    shutdown: ShutdownHandle,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("task_queue", &self.task_queue)
            .field("activities", &self.activities.keys().collect::<Vec<_>>())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker of `task_queue`; register activities, then [`run`](Self::run) it.
    pub fn new(client: Client, task_queue: impl Into<String>, options: WorkerOptions) -> Worker {
        Worker {
            client,
            task_queue: task_queue.into(),
            options,
            activities: BTreeMap::new(),
            shutdown: ShutdownHandle::default(),
        }
    }

    /// The task queue polled.
    pub fn task_queue(&self) -> &str {
        &self.task_queue
    }

    /// Registers `f` as the implementation of activity type `name`.
    ///
    /// `f` is an `async fn(ActivityContext, Args) -> Result<R, ActivityError>`: `Args` is
    /// decoded from the activity's input (a tuple for several parameters, `()` for none) and
    /// `R` is its result. Registering a name twice is an error.
    pub fn register_activity<F, Fut, A, R>(
        &mut self,
        name: impl Into<String>,
        f: F,
    ) -> Result<&mut Self, WorkerError>
    where
        F: Fn(ActivityContext, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, ActivityError>> + Send + 'static,
        A: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
    {
        let name = name.into();
        if name.is_empty() {
            return Err(WorkerError::EmptyName);
        }
        if self.activities.contains_key(&name) {
            return Err(WorkerError::AlreadyRegistered { name });
        }
        self.activities.insert(
            name,
            Arc::new(FnActivity {
                f,
                _types: PhantomData,
            }),
        );
        Ok(self)
    }

    /// The names registered so far, sorted.
    pub fn registered_activities(&self) -> Vec<&str> {
        self.activities.keys().map(String::as_str).collect()
    }

    /// A handle that shuts this worker down gracefully.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Runs until `signal` resolves, then shuts down gracefully.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send,
    ) -> Result<(), WorkerError> {
        let shutdown = self.shutdown_handle();
        let run = self.run();
        tokio::pin!(run);
        tokio::select! {
            result = &mut run => return result,
            () = signal => shutdown.shutdown(),
        }
        run.await
    }

    /// Polls and runs activities until [`ShutdownHandle::shutdown`] (or a poll error that
    /// retrying cannot fix), then shuts down gracefully: polling stops, running activities get
    /// `graceful_shutdown_timeout` to finish, then they are cancelled
    /// ([`CancelReason::WorkerShutdown`]) and, if they still do not return, abandoned and
    /// reported failed. It returns once every activity it took is reported.
    pub async fn run(self) -> Result<(), WorkerError> {
        self.options.validate()?;
        if self.activities.is_empty() {
            return Err(WorkerError::NothingRegistered {
                task_queue: self.task_queue,
            });
        }
        let identity = self
            .options
            .identity
            .clone()
            .unwrap_or_else(|| self.client.identity().to_owned());
        let slots = self.options.max_concurrent_activities;
        let shared = Arc::new(Shared {
            registered: self
                .activities
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            activities: self.activities,
            client: self.client,
            task_queue: self.task_queue,
            identity,
            slots: Arc::new(Semaphore::new(slots)),
            limiter: self.options.max_activities_per_second.map(RateLimiter::new),
            stopping: self.shutdown.token.clone(),
            cancel_running: CancellationToken::new(),
            abandon_running: CancellationToken::new(),
            fatal: Mutex::new(None),
            options: self.options,
        });
        tracing::info!(task_queue = %shared.task_queue, activities = %shared.registered, "worker started");

        let mut pollers = tokio::task::JoinSet::new();
        for _ in 0..shared.options.pollers {
            pollers.spawn(poll_loop(shared.clone()));
        }
        shared.stopping.cancelled().await;
        // Pollers stop at once; a poll in flight is dropped.
        while pollers.join_next().await.is_some() {}
        shared.drain(u32::try_from(slots).expect("validated")).await;
        tracing::info!(task_queue = %shared.task_queue, "worker stopped");
        match shared.fatal.lock().expect("worker state").take() {
            Some(source) => Err(WorkerError::Poll {
                task_queue: shared.task_queue.clone(),
                source,
            }),
            None => Ok(()),
        }
    }
}

struct Shared {
    client: Client,
    task_queue: String,
    identity: String,
    options: WorkerOptions,
    activities: BTreeMap<String, Arc<dyn Activity>>,
    /// "A, B": for the error of an unknown activity type.
    registered: String,
    /// One permit per running activity, held until its report is delivered.
    slots: Arc<Semaphore>,
    limiter: Option<RateLimiter>,
    /// Shutdown began.
    stopping: CancellationToken,
    /// The graceful-shutdown timeout expired: cancel what still runs.
    cancel_running: CancellationToken,
    /// Cancelled activities did not return in time: abandon them.
    abandon_running: CancellationToken,
    fatal: Mutex<Option<Error>>,
}

impl Shared {
    /// Waits for every running activity: first for the graceful-shutdown timeout, then after
    /// cancelling them, then after abandoning them. Returns when all are reported.
    async fn drain(&self, slots: u32) {
        let all = || self.slots.acquire_many(slots);
        if tokio::time::timeout(self.options.graceful_shutdown_timeout, all())
            .await
            .is_ok()
        {
            return;
        }
        tracing::warn!(task_queue = %self.task_queue, "graceful shutdown timeout expired: cancelling the running activities");
        self.cancel_running.cancel();
        if tokio::time::timeout(ABANDON_AFTER, all()).await.is_ok() {
            return;
        }
        tracing::warn!(task_queue = %self.task_queue, "activities did not return after cancellation: abandoning them");
        self.abandon_running.cancel();
        let _ = all().await;
    }

    fn poll_request(&self) -> api::PollActivityTaskQueueRequest {
        api::PollActivityTaskQueueRequest {
            task_queue: Some(api::TaskQueue {
                name: self.task_queue.clone(),
                kind: api::TaskQueueKind::Normal,
                ..Default::default()
            }),
            identity: self.identity.clone(),
            task_queue_metadata: self.options.max_task_queue_activities_per_second.map(|r| {
                api::TaskQueueMetadata {
                    max_tasks_per_second: Some(r),
                }
            }),
            ..Default::default()
        }
    }

    /// A task, with the trace context its report is to carry, or none by the deadline.
    async fn poll(
        &self,
        request: &api::PollActivityTaskQueueRequest,
    ) -> Result<Option<(api::PollActivityTaskQueueResponse, Option<String>)>, Error> {
        let (task, trace): (api::PollActivityTaskQueueResponse, _) = self
            .client
            .call_traced(
                Method::POST,
                &["activity-tasks", "poll"],
                &[],
                Some(self.options.poll_timeout),
                Some(request),
                &|| format!("poll task queue {}", self.task_queue),
            )
            .await?;
        Ok((!task.task_token.is_empty()).then_some((task, trace)))
    }
}

/// Poll errors that retrying will not fix.
fn is_fatal(e: &Error) -> bool {
    matches!(
        e.code(),
        Some(
            Code::NotFound
                | Code::InvalidArgument
                | Code::PermissionDenied
                | Code::Unauthenticated
                | Code::FailedPrecondition
                | Code::Unimplemented
        )
    )
}

async fn poll_loop(shared: Arc<Shared>) {
    let request = shared.poll_request();
    let mut backoff = Backoff::default();
    loop {
        // A free slot first: with none, the task stays on the server.
        let permit = tokio::select! {
            biased;
            () = shared.stopping.cancelled() => return,
            permit = shared.slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        if let Some(limiter) = &shared.limiter {
            tokio::select! {
                biased;
                () = shared.stopping.cancelled() => return,
                () = limiter.acquire() => {}
            }
        }
        let answer = tokio::select! {
            biased;
            () = shared.stopping.cancelled() => return,
            answer = shared.poll(&request) => answer,
        };
        match answer {
            Ok(Some((task, trace))) => {
                backoff.reset();
                let activity_type = task
                    .activity_type
                    .as_ref()
                    .map(|t| t.name.as_str())
                    .unwrap_or_default();
                let span = tracing::info_span!("activity", id = %task.activity_id, r#type = %activity_type, attempt = task.attempt);
                let attempt = traced(trace, run_attempt(shared.clone(), task, permit));
                tokio::spawn(attempt.instrument(span));
            }
            Ok(None) => backoff.reset(),
            Err(e) if is_fatal(&e) => {
                tracing::error!(task_queue = %shared.task_queue, error = %e, "poll refused; the worker stops");
                shared.fatal.lock().expect("worker state").get_or_insert(e);
                shared.stopping.cancel();
                return;
            }
            Err(e) => {
                drop(permit);
                let wait = backoff.next();
                tracing::warn!(task_queue = %shared.task_queue, error = %e, retry_in = ?wait, "poll failed");
                tokio::select! {
                    () = shared.stopping.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// How an activity invocation ended.
enum Ended {
    Returned(Result<api::Payloads, ActivityError>),
    Panicked(String),
    NotRegistered,
    Abandoned,
}

async fn run_attempt(
    shared: Arc<Shared>,
    task: api::PollActivityTaskQueueResponse,
    _slot: OwnedSemaphorePermit,
) {
    let received = Instant::now();
    let info = ActivityInfo::from_task(&task, shared.client.namespace(), &shared.task_queue);
    let heartbeats = Arc::new(Heartbeats::default());
    let ctx = ActivityContext::new(
        info,
        task.heartbeat_details,
        heartbeats.clone(),
        shared.stopping.clone(),
        shared.client.clone(),
    );
    let info = ctx.info();

    let stop_heartbeats = CancellationToken::new();
    let sender = HeartbeatSender {
        client: shared.client.clone(),
        identity: shared.identity.clone(),
        ctx: ctx.clone(),
        throttle: throttle_interval(
            info.heartbeat_timeout,
            shared.options.default_heartbeat_throttle_interval,
            shared.options.max_heartbeat_throttle_interval,
        ),
        stop: stop_heartbeats.clone(),
        worker_stopping: shared.stopping.clone(),
    };
    // The attempt's heartbeats and the activity's own calls stay in the task's trace.
    let sender = tokio::spawn(traced(current_trace(), sender.run()));
    let deadline = info.time_to_deadline().map(|d| received + d);

    let ended = match shared.activities.get(&info.activity_type) {
        None => Ended::NotRegistered,
        Some(activity) => {
            let invoked = activity.invoke(ctx.clone(), task.input);
            let mut invocation = tokio::spawn(traced(current_trace(), invoked));
            let (mut past_deadline, mut cancelled_for_shutdown) = (false, false);
            loop {
                tokio::select! {
                    joined = &mut invocation => break match joined {
                        Ok(result) => Ended::Returned(result),
                        Err(e) if e.is_panic() => Ended::Panicked(panic_message(e.into_panic())),
                        Err(_) => Ended::Abandoned,
                    },
                    () = sleep_until(deadline), if !past_deadline => {
                        past_deadline = true;
                        ctx.cancel(CancelReason::DeadlineExceeded);
                    }
                    () = shared.cancel_running.cancelled(), if !cancelled_for_shutdown => {
                        cancelled_for_shutdown = true;
                        ctx.cancel(CancelReason::WorkerShutdown);
                    }
                    () = shared.abandon_running.cancelled() => {
                        invocation.abort();
                        break Ended::Abandoned;
                    }
                }
            }
        }
    };

    // No heartbeat may overtake the report: stop the sender, then send what it left.
    stop_heartbeats.cancel();
    let _ = sender.await;
    let unsent = heartbeats.take_unsent();
    report(&shared, &ctx, ended, unsent).await;
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".into());
    format!("activity panicked: {text}")
}

/// The application failure of an attempt the worker ends on its own account.
fn worker_failure(error_type: &str, message: String, non_retryable: bool) -> api::Failure {
    ApplicationError {
        error_type: error_type.into(),
        message,
        non_retryable,
        ..Default::default()
    }
    .to_failure()
}

/// Reports the end of an attempt to the server: complete, fail, cancelled, or nothing (result
/// pending). Unsent heartbeat details go with it.
async fn report(
    shared: &Shared,
    ctx: &ActivityContext,
    ended: Ended,
    unsent: Option<api::Payloads>,
) {
    let info = ctx.info();
    let target = ActivityTarget::TaskToken(info.task_token.clone());
    let reason = ctx.cancel_reason();
    let fail = |failure: api::Failure| Report::Fail {
        failure: Box::new(failure),
        details: unsent.clone(),
    };
    let report = match ended {
        Ended::Returned(Ok(result)) => Report::Complete(result),
        Ended::Returned(Err(ActivityError::ResultPending)) => Report::Nothing,
        Ended::Returned(Err(error)) if reason == Some(CancelReason::CancelRequested) => {
            let details = match error {
                ActivityError::Cancelled { details } => details,
                ActivityError::Application(a) => a.details,
                ActivityError::ResultPending => None,
            };
            Report::Cancelled(details)
        }
        Ended::Returned(Err(ActivityError::Cancelled { .. })) => {
            let (kind, retryable) = match reason {
                Some(CancelReason::WorkerShutdown) => ("WorkerShutdown", true),
                Some(CancelReason::Paused) => ("ActivityPaused", true),
                Some(CancelReason::Reset) => ("ActivityReset", true),
                Some(CancelReason::DeadlineExceeded) => ("DeadlineExceeded", true),
                Some(CancelReason::NotFound) => ("ActivityNotFound", true),
                Some(CancelReason::CancelRequested) | None => ("Cancelled", false),
            };
            let message = match reason {
                Some(r) => format!("activity stopped: {r}"),
                None => "activity returned cancelled without a cancel request".into(),
            };
            fail(worker_failure(kind, message, !retryable))
        }
        Ended::Returned(Err(ActivityError::Application(a))) => fail(a.to_failure()),
        Ended::Panicked(message) => fail(worker_failure("Panic", message, false)),
        Ended::NotRegistered => fail(worker_failure(
            "ActivityNotRegistered",
            format!(
                "activity type {:?} is not registered on the worker of task queue {:?}; registered types: {}",
                info.activity_type, shared.task_queue, shared.registered
            ),
            false,
        )),
        Ended::Abandoned => fail(worker_failure(
            "WorkerShutdown",
            "the worker shut down and the activity did not return after it was cancelled".into(),
            false,
        )),
    };
    // Completion and cancellation carry no heartbeat details: flush them first.
    if matches!(
        report,
        Report::Complete(_) | Report::Cancelled(_) | Report::Nothing
    ) && let Some(details) = unsent
    {
        deliver(shared, info, "flush heartbeat", || {
            shared
                .client
                .heartbeat_with(&target, &shared.identity, details.clone(), None)
        })
        .await;
    }
    match report {
        Report::Complete(result) => {
            deliver(shared, info, "complete", || {
                shared
                    .client
                    .complete_with(&target, &shared.identity, result.clone())
            })
            .await;
        }
        Report::Fail { failure, details } => {
            tracing::debug!(message = %failure.message, "activity attempt failed");
            deliver(shared, info, "fail", || {
                shared.client.fail_with(
                    &target,
                    &shared.identity,
                    (*failure).clone(),
                    details.clone(),
                )
            })
            .await;
        }
        Report::Cancelled(details) => {
            deliver(shared, info, "report cancelled", || {
                shared
                    .client
                    .cancelled_with(&target, &shared.identity, details.clone())
            })
            .await;
        }
        Report::Nothing => tracing::debug!("activity result pending: completed elsewhere"),
    }
}

enum Report {
    Complete(api::Payloads),
    Fail {
        failure: Box<api::Failure>,
        details: Option<api::Payloads>,
    },
    Cancelled(Option<api::Payloads>),
    Nothing,
}

/// Sends one report, trying again while the server cannot be reached. A NotFound answer means
/// the attempt is over on the server (timed out, completed by someone else): nothing to do.
async fn deliver<T, F, Fut>(shared: &Shared, info: &ActivityInfo, what: &str, send: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut backoff = Backoff::default();
    for attempt in 1..=REPORT_ATTEMPTS {
        match send().await {
            Ok(_) => return,
            Err(e) if e.code() == Some(Code::NotFound) => {
                tracing::info!(activity_id = %info.activity_id, error = %e, "{what}: the attempt is no longer running on the server");
                return;
            }
            Err(e) if e.is_transient() && attempt < REPORT_ATTEMPTS => {
                tracing::warn!(activity_id = %info.activity_id, error = %e, "{what} failed; trying again");
                tokio::time::sleep(backoff.next()).await;
            }
            Err(e) => {
                tracing::error!(activity_id = %info.activity_id, task_queue = %shared.task_queue, error = %e, "{what} failed; the server will time the attempt out");
                return;
            }
        }
    }
}

/// Exponential backoff from 100 ms to 10 s.
#[derive(Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let wait = Duration::from_millis(100)
            .saturating_mul(1 << self.failures.min(7))
            .min(Duration::from_secs(10));
        self.failures += 1;
        wait
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Spaces starts at least `1/rate` apart (a token bucket with a burst of one).
struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    fn new(per_second: f64) -> Self {
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / per_second),
            next: Mutex::new(None),
        }
    }

    async fn acquire(&self) {
        let at = {
            let mut next = self.next.lock().expect("rate limiter");
            let now = Instant::now();
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + self.interval);
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker() -> Worker {
        Worker::new(
            Client::new("http://127.0.0.1:1", Default::default()).unwrap(),
            "q",
            WorkerOptions::default(),
        )
    }

    async fn noop(_: ActivityContext, _: ()) -> Result<(), ActivityError> {
        Ok(())
    }

    #[test]
    fn registering_a_name_twice_is_an_error() {
        let mut w = worker();
        w.register_activity("A", noop)
            .unwrap()
            .register_activity("B", noop)
            .unwrap();
        let err = w.register_activity("A", noop).unwrap_err();
        assert_eq!(
            err.to_string(),
            "activity type \"A\" is already registered on this worker"
        );
        assert!(matches!(
            w.register_activity("", noop),
            Err(WorkerError::EmptyName)
        ));
        assert_eq!(w.registered_activities(), ["A", "B"]);
    }

    #[tokio::test]
    async fn a_worker_without_activities_or_with_bad_options_does_not_run() {
        assert!(matches!(
            worker().run().await,
            Err(WorkerError::NothingRegistered { .. })
        ));
        let mut w = worker();
        w.options.max_concurrent_activities = 0;
        w.register_activity("A", noop).unwrap();
        assert!(matches!(w.run().await, Err(WorkerError::InvalidOptions(_))));
    }

    #[test]
    fn polls_carry_the_queue_wide_rate_limit() {
        let mut w = worker();
        w.options.max_task_queue_activities_per_second = Some(2.5);
        w.options.identity = Some("me".into());
        let shared = Shared {
            client: w.client.clone(),
            task_queue: "q".into(),
            identity: "me".into(),
            options: w.options.clone(),
            activities: BTreeMap::new(),
            registered: String::new(),
            slots: Arc::new(Semaphore::new(1)),
            limiter: None,
            stopping: CancellationToken::new(),
            cancel_running: CancellationToken::new(),
            abandon_running: CancellationToken::new(),
            fatal: Mutex::new(None),
        };
        assert_eq!(
            serde_json::to_value(shared.poll_request()).unwrap(),
            serde_json::json!({"taskQueue": {"name": "q", "kind": "TASK_QUEUE_KIND_NORMAL"}, "identity": "me",
                "taskQueueMetadata": {"maxTasksPerSecond": 2.5}})
        );
    }

    #[tokio::test]
    async fn the_rate_limiter_spaces_starts_by_the_interval() {
        let limiter = RateLimiter::new(20.0);
        let t0 = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        let elapsed = t0.elapsed();
        assert!(
            elapsed >= Duration::from_millis(200) && elapsed < Duration::from_millis(400),
            "{elapsed:?}"
        );
    }

    #[test]
    fn backoff_doubles_up_to_ten_seconds() {
        let mut b = Backoff::default();
        let waits: Vec<u128> = (0..9).map(|_| b.next().as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000]);
        b.reset();
        assert_eq!(b.next(), Duration::from_millis(100));
    }
}
