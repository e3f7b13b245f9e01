//! The history service: owns executions and every state transition. Each transition is
//! load → `Activity::apply` → one store transaction (state, timers, outbox) → after commit,
//! dispatch to matching, wake long polls, nudge the timer loop.

mod activities;
mod api;
mod api_keys;
mod cache;
mod error;
mod namespaces;
mod observe;
mod queries;
mod retention;
mod throughput;
mod watch;
mod workflows;

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use waymark_api::{ApiError, Timestamp};
use waymark_clients::{Clock, MatchingApi, TimerApi};
use waymark_core::activity::{Activity, Command, Transition};
use waymark_core::limits::Limits;
use waymark_core::options;
use waymark_core::task_token::TokenSigner;
use waymark_queue::ActivityTask;
use waymark_store::{
    ActivityRecord, Effects, NewDispatch, NewTimer, OutboxEntry, Store, StoreError, WorkflowRecord,
};
use waymark_telemetry::trace;

pub use error::HistoryError;

use watch::Watchers;

/// How often a transition is retried after losing an optimistic-concurrency race.
pub(crate) const MAX_CONFLICT_RETRIES: usize = 16;
/// Most runs re-queued at start; more would not fit a sensible in-process backlog anyway.
const REDISPATCH_LIMIT: u64 = 1_000_000;
/// A waiting long poll reads its execution again this often without a wake-up: the safety net
/// under change notifications, which a loaded database or another history instance may deliver
/// late or not at all.
const RECHECK_EVERY: Duration = Duration::from_secs(2);
/// Rows one sweep looks at.
const SWEEP_BATCH: u64 = 1000;
/// Runs of each kind whose rows a sole-writer history keeps (a few KB each).
const RUNS_KEPT: usize = 1024;

pub struct History {
    store: Store,
    signer: TokenSigner,
    clock: Arc<dyn Clock>,
    limits: Limits,
    matching: OnceLock<Arc<dyn MatchingApi>>,
    timer: OnceLock<Arc<dyn TimerApi>>,
    watchers: Arc<Watchers>,
    /// Delivered outbox rows, deleted in batches by a background task (one statement per batch,
    /// not per dispatch; a row left by a crash is only re-pushed, and history drops duplicates).
    delivered: tokio::sync::mpsc::UnboundedSender<i64>,
    /// Namespaces known to exist. They are never deleted, so a hit is always right.
    namespaces: RwLock<HashSet<String>>,
    /// Once cancelled, long polls answer at once as if their wait had passed (shutdown).
    long_polls_end: OnceLock<CancellationToken>,
    /// The rows of recent runs and open workflows' histories, when this history is its
    /// store's only writer.
    activity_rows: OnceLock<cache::RunCache<ActivityRecord>>,
    workflow_rows: OnceLock<cache::RunCache<WorkflowRecord>>,
    workflow_events: OnceLock<cache::RunCache<Arc<cache::EventLog>>>,
    throughput: throughput::Throughput,
    /// Tells this instance's namespace change tokens from another's (see `namespace_changes`).
    epoch: u64,
}

/// Which run a call addresses.
pub(crate) enum RunRef<'a> {
    /// The latest run of execution `id` (an activity or workflow id).
    Latest {
        id: &'a str,
    },
    Run {
        id: &'a str,
        run_id: &'a str,
    },
    /// Internal callers (dispatch, timers) know only the run.
    ByRun {
        run_id: &'a str,
    },
}

/// An empty run id (the latest run) or a UUID; anything else is refused with `message`.
pub(crate) fn check_run_id(run_id: &str, message: &str) -> Result<(), HistoryError> {
    if run_id.is_empty() || uuid::Uuid::parse_str(run_id).is_ok() {
        Ok(())
    } else {
        Err(HistoryError::InvalidArgument(message.into()))
    }
}

/// The run a call targets: `run_id` if given, else the latest run of execution `id`.
pub(crate) fn run_ref<'a>(id: &'a str, run_id: &'a str) -> RunRef<'a> {
    if run_id.is_empty() {
        RunRef::Latest { id }
    } else {
        RunRef::Run { id, run_id }
    }
}

/// What a commit replaces: an existing run's row, or (for a new run) the latest run it follows.
pub(crate) enum Replaces<'a> {
    Row(&'a ActivityRecord),
    Latest(Option<&'a str>),
}

/// Runs `tick` every `every` until `shutdown` (a tick in progress finishes first).
pub(crate) async fn repeat_every<F, Fut>(
    every: std::time::Duration,
    shutdown: CancellationToken,
    mut tick: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        tick().await;
    }
}

impl History {
    pub fn new(
        store: Store,
        signer: TokenSigner,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Arc<History> {
        let (delivered, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(clear_delivered(store.clone(), rx));
        Arc::new(History {
            delivered,
            store,
            signer,
            clock,
            limits,
            matching: OnceLock::new(),
            timer: OnceLock::new(),
            watchers: Arc::default(),
            namespaces: RwLock::default(),
            long_polls_end: OnceLock::new(),
            activity_rows: OnceLock::new(),
            workflow_rows: OnceLock::new(),
            workflow_events: OnceLock::new(),
            throughput: Default::default(),
            epoch: uuid::Uuid::new_v4().as_u64_pair().0,
        })
    }

    /// Declares this history its store's only writer (start-dev): it then keeps the rows of
    /// recent runs and the histories of open workflow runs, so that a transition starts
    /// without reading its run and a workflow task's poll without reading the history.
    pub fn sole_writer(&self) {
        let _ = self.activity_rows.set(cache::RunCache::new(RUNS_KEPT));
        let _ = self.workflow_rows.set(cache::RunCache::new(RUNS_KEPT));
        let _ = self.workflow_events.set(cache::RunCache::new(RUNS_KEPT));
    }

    /// Long polls answer at once (as if their wait had passed) once `shutdown` is cancelled, so
    /// that a graceful shutdown does not wait a whole poll.
    pub fn end_long_polls_on(&self, shutdown: CancellationToken) {
        let _ = self.long_polls_end.set(shutdown);
    }

    /// Whether shutdown ended the long polls.
    pub(crate) fn long_polls_ended(&self) -> bool {
        self.long_polls_end
            .get()
            .is_some_and(CancellationToken::is_cancelled)
    }

    /// Waits for `notified` until `deadline`; false if the deadline or shutdown came first.
    /// Counted in `waymark_long_polls_waiting` meanwhile.
    /// Waits for `notified`, but no longer than `RECHECK_EVERY`: whether the long poll should
    /// read its execution again (false once `deadline` passed or shutdown ended the polls).
    pub(crate) async fn read_again(
        &self,
        deadline: tokio::time::Instant,
        notified: impl Future<Output = ()>,
    ) -> bool {
        let until = deadline.min(tokio::time::Instant::now() + RECHECK_EVERY);
        self.woken_before(until, notified).await
            || (tokio::time::Instant::now() < deadline && !self.long_polls_ended())
    }

    pub(crate) async fn woken_before(
        &self,
        deadline: tokio::time::Instant,
        notified: impl Future<Output = ()>,
    ) -> bool {
        let _waiting = waymark_telemetry::long_poll_waiting();
        let shutdown = async {
            match self.long_polls_end.get() {
                Some(token) => token.cancelled().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = notified => true,
            () = tokio::time::sleep_until(deadline) => false,
            () = shutdown => false,
        }
    }

    /// Samples the outbox for the metrics (`waymark_outbox_*`), before a scrape.
    pub async fn sample_metrics(&self) {
        match self.store.outbox_stats().await {
            Ok((depth, oldest_ns)) => {
                let now = self.now();
                let age = oldest_ns.map(|ns| now.since(Timestamp::from_nanos(ns)).to_std());
                waymark_telemetry::set_outbox(depth, age);
            }
            Err(e) => tracing::warn!(error = %e, "could not sample the outbox for the metrics"),
        }
    }

    /// Matching and timer call history too, so they are connected after construction.
    pub fn connect(&self, matching: Arc<dyn MatchingApi>, timer: Arc<dyn TimerApi>) {
        let _ = self.matching.set(matching);
        let _ = self.timer.set(timer);
    }

    /// Wakes this instance's long polls when another instance commits a transition.
    pub async fn follow_other_instances(&self) -> Result<(), HistoryError> {
        let watchers = self.watchers.clone();
        Ok(self
            .store
            .watch_changes(move |ns, id| watchers.changed(ns, id))
            .await?)
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn matching(&self) -> Result<&Arc<dyn MatchingApi>, ApiError> {
        self.matching
            .get()
            .ok_or_else(|| ApiError::unavailable("history is not connected to matching"))
    }

    /// Pushes what the outbox still holds and every run that waits for a worker: after a
    /// restart the in-process queue is empty, and SQL is the truth. Duplicates are harmless
    /// (history rejects a stale task).
    pub async fn redispatch(&self) -> Result<usize, HistoryError> {
        // Start-up only: the whole backlog fits in memory as it will in the queue anyway.
        let outbox = self.store.pending_outbox(REDISPATCH_LIMIT).await?;
        let mut pushed = outbox.len();
        self.deliver(outbox).await;
        let waiting = self
            .store
            .dispatchable_activities(self.now().as_nanos(), REDISPATCH_LIMIT)
            .await?;
        pushed += waiting.len();
        self.deliver(waiting).await;
        pushed += self.redispatch_workflows(REDISPATCH_LIMIT).await?;
        Ok(pushed)
    }

    /// The distributed mode's safety net, run periodically: re-pushes what the outbox still holds
    /// (a crash between commit and push) and the runs that have waited longer than `overdue` for
    /// a worker on a queue whose backlog is empty (the queue lost them, e.g. Redis restarted
    /// empty). A queue that still holds tasks is left alone, so waiting tasks are not duplicated.
    pub async fn sweep(&self, overdue: std::time::Duration) -> Result<usize, HistoryError> {
        let Some(matching) = self.matching.get() else {
            return Ok(0);
        };
        let outbox = self.store.pending_outbox(SWEEP_BATCH).await?;
        let mut pushed = outbox.len();
        self.deliver(outbox).await;
        let older_than = self
            .now()
            .as_nanos()
            .saturating_sub(overdue.as_nanos() as i64);
        let mut waiting = self
            .store
            .dispatchable_activities(older_than, SWEEP_BATCH)
            .await?;
        waiting.sort_by(|a, b| (&a.namespace, &a.task_queue).cmp(&(&b.namespace, &b.task_queue)));
        for group in
            waiting.chunk_by(|a, b| a.namespace == b.namespace && a.task_queue == b.task_queue)
        {
            let (ns, queue) = (&group[0].namespace, &group[0].task_queue);
            match matching.queue_backlog(ns, queue).await {
                Ok(0) => {
                    tracing::info!(
                        ns,
                        queue,
                        runs = group.len(),
                        "re-dispatching runs the task queue lost"
                    );
                    pushed += group.len();
                    self.deliver(group.to_vec()).await;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, ns, queue, "sweeper could not read the queue backlog")
                }
            }
        }
        Ok(pushed)
    }

    /// Runs `sweep` every `every` until `shutdown`.
    pub async fn run_sweeper(
        self: Arc<Self>,
        every: std::time::Duration,
        overdue: std::time::Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let this = &self;
        repeat_every(every, shutdown, || async move {
            if let Err(e) = this.sweep(overdue).await {
                tracing::warn!(error = %e, "sweep failed");
            }
            if let Err(e) = this.write_throughput().await {
                tracing::warn!(error = %e, "writing activity throughput failed");
            }
        })
        .await;
        if let Err(e) = this.write_throughput().await {
            tracing::warn!(error = %e, "writing activity throughput failed");
        }
    }

    async fn load(
        &self,
        ns: &str,
        run: &RunRef<'_>,
    ) -> Result<(ActivityRecord, Activity), HistoryError> {
        let kept = self.activity_rows.get().and_then(|rows| rows.find(ns, run));
        let record = match (kept, run) {
            (Some(kept), _) => Some(kept),
            (None, RunRef::Latest { id }) => self.store.latest_activity(ns, id).await?,
            (None, RunRef::Run { id, run_id }) => self.store.get_activity(ns, id, run_id).await?,
            (None, RunRef::ByRun { run_id }) => self
                .store
                .get_activity_by_run(run_id)
                .await?
                .filter(|r| r.namespace == ns),
        };
        let missing = match run {
            RunRef::Latest { id } | RunRef::Run { id, .. } => id,
            RunRef::ByRun { run_id } => run_id,
        };
        let record = record.ok_or_else(|| HistoryError::ActivityNotFound(missing.to_string()))?;
        let activity = serde_json::from_str(&record.state)?;
        Ok((record, activity))
    }

    /// Loads the run, applies the command `make` builds, commits; retried on a lost race.
    async fn transition(
        &self,
        ns: &str,
        run: RunRef<'_>,
        fired_timer: Option<i64>,
        make: impl Fn(&Activity) -> Result<Command, HistoryError>,
    ) -> Result<Activity, HistoryError> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let (record, activity) = self.load(ns, &run).await?;
            let command = make(&activity)?;
            let (before, cause, now) = (
                observe::Before::of(&activity),
                observe::Cause::of(&command),
                self.now(),
            );
            let t = activity.apply(command, now)?;
            if t.noop {
                if let Some(id) = fired_timer {
                    self.store.delete_timer(id).await?;
                }
                return Ok(t.activity);
            }
            let observed = observe::observe(before, cause, &t.activity, now);
            match self.commit(Replaces::Row(&record), t, fired_timer).await {
                Err(HistoryError::Store(StoreError::Conflict)) => {
                    if let Some(rows) = self.activity_rows.get() {
                        rows.forget(&record.run_id);
                    }
                    continue;
                }
                Ok(a) => {
                    observed.record(&a.namespace, &a.options.task_queue, &self.throughput, now);
                    return Ok(a);
                }
                other => return other,
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// Commits a transition and does its after-commit work.
    async fn commit(
        &self,
        replaces: Replaces<'_>,
        t: Transition,
        fired_timer: Option<i64>,
    ) -> Result<Activity, HistoryError> {
        let mut span = trace::Span::start("activity transition", trace::SpanKind::Internal);
        span.set_str("waymark.activity_id", &t.activity.activity_id);
        span.set_str("waymark.state", t.activity.state.name());
        span.set_attribute("waymark.attempt", i64::from(t.activity.attempt));
        span.run(self.commit_in_span(replaces, t, fired_timer))
            .await
    }

    async fn commit_in_span(
        &self,
        replaces: Replaces<'_>,
        t: Transition,
        fired_timer: Option<i64>,
    ) -> Result<Activity, HistoryError> {
        let a = t.activity;
        let closed = a.state.is_terminal();
        let effects = Effects {
            timers: t
                .timers
                .iter()
                .map(|tm| NewTimer {
                    kind: tm.kind.as_str().into(),
                    attempt: tm.attempt,
                    due_ns: tm.due.as_nanos(),
                })
                .collect(),
            dispatches: if t.dispatch {
                vec![NewDispatch {
                    task_queue: a.options.task_queue.clone(),
                    kind: waymark_store::ACTIVITY_TASK,
                    scheduled_event_id: 0,
                    attempt: a.attempt,
                    priority: options::task_priority(a.options.priority.as_ref()),
                }]
            } else {
                vec![]
            },
            fired_timer,
            clear_timers: closed,
            now_ns: self.now().as_nanos(),
            quiet: false,
        };
        let record = ActivityRecord {
            namespace: a.namespace.clone(),
            activity_id: a.activity_id.clone(),
            run_id: a.run_id.clone(),
            activity_type: a.activity_type.clone(),
            task_queue: a.options.task_queue.clone(),
            status: a.state.visibility_status().into(),
            request_id: a.request_id.clone(),
            schedule_time_ns: a.schedule_time.as_nanos(),
            close_time_ns: a.close_time.map(Timestamp::as_nanos),
            execution_time_ns: a.schedule_time.add(a.start_delay).as_nanos(),
            dispatch_at_ns: (a.state == waymark_core::activity::State::Scheduled)
                .then(|| a.attempt_scheduled_time.as_nanos()),
            attempt: a.attempt,
            state: serde_json::to_string(&a)?,
            version: match replaces {
                Replaces::Row(p) => p.version + 1,
                Replaces::Latest(_) => 1,
            },
        };
        let outbox = match replaces {
            Replaces::Row(p) => {
                timed(
                    "activity_update",
                    true,
                    self.store.update_activity(&record, p.version, &effects),
                )
                .await?
            }
            Replaces::Latest(latest) => {
                let create = self.store.create_activity(&record, latest, &effects);
                timed("activity_create", latest.is_some(), create).await?
            }
        };
        if let Some(rows) = self.activity_rows.get() {
            rows.committed(record);
        }
        self.after_commit(&a.namespace, &a.activity_id, &effects, outbox)
            .await;
        Ok(a)
    }

    /// After a commit: wakes the execution's long polls, nudges the timer loop if a timer was
    /// written, and delivers the dispatches.
    pub(crate) async fn after_commit(
        &self,
        ns: &str,
        id: &str,
        effects: &Effects,
        outbox: Vec<OutboxEntry>,
    ) {
        self.watchers.changed(ns, id);
        if let (Some(timer), Some(due)) = (
            self.timer.get(),
            effects.timers.iter().map(|t| t.due_ns).min(),
        ) && let Err(e) = timer.timer_written(due).await
        {
            tracing::warn!(error = %e, "could not nudge the timer service; its scan will find the timer");
        }
        self.deliver(outbox).await;
    }

    /// Hands dispatches to matching and clears them from the outbox. A failure leaves the
    /// outbox row for the next redispatch.
    pub(crate) async fn deliver(&self, entries: Vec<OutboxEntry>) {
        let Some(matching) = self.matching.get() else {
            return;
        };
        let mut done = Vec::new();
        for e in entries {
            let id = e.id;
            let workflow_task = e.kind == waymark_store::WORKFLOW_TASK;
            let task = ActivityTask {
                namespace: e.namespace,
                task_queue: e.task_queue,
                run_id: e.run_id,
                scheduled_event_id: e.scheduled_event_id,
                attempt: e.attempt,
                priority: e.priority,
                fairness_key: e.fairness_key,
                fairness_weight: e.fairness_weight,
                key_rate: None,
                traceparent: trace::current(),
                query: None,
            };
            let pushed = if workflow_task {
                matching.add_workflow_task(task).await
            } else {
                matching.add_activity_task(task).await
            };
            match pushed {
                Ok(()) if id != 0 => done.push(id),
                Ok(()) => {}
                Err(err) => tracing::warn!(error = %err, "dispatch failed; left in the outbox"),
            }
        }
        for id in done {
            let _ = self.delivered.send(id);
        }
    }
}

/// Runs a transition's store transaction `operation`, timing it for the metrics. `races`: a
/// Conflict means a lost optimistic-concurrency race (a create with no latest run to replace
/// conflicts when the id has a run already, which is no race).
pub(crate) async fn timed<T>(
    operation: &'static str,
    races: bool,
    transaction: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = transaction.await;
    let conflict = races && matches!(result, Err(StoreError::Conflict));
    waymark_telemetry::store_transaction(operation, started.elapsed(), conflict);
    result
}

/// Deletes delivered outbox rows, as many per statement as have come in meanwhile.
async fn clear_delivered(store: Store, mut rx: tokio::sync::mpsc::UnboundedReceiver<i64>) {
    const BATCH: usize = 1000;
    let mut ids = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut ids, BATCH).await > 0 {
        if let Err(e) = store.delete_outbox(&ids).await {
            tracing::warn!(error = %e, "could not clear delivered outbox rows; they will be re-pushed");
        }
        ids.clear();
    }
}
