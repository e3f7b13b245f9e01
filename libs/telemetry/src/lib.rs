//! Waymark's telemetry: logs (`logs`), traces (`trace`) and Prometheus metrics (here).
//!
//! The metrics: every metric (name, type, labels, meaning) is defined here, and
//! listed in the README's `## Metrics` section (a test keeps the two in step). One registry per
//! process: start-dev's port shows all four services' metrics, a distributed service its own.
//!
//! Services record at their natural points through the handles below. A queue's handles are made
//! once and cached by namespace and queue name, so recording an event of a task costs a read lock,
//! two map lookups and atomic updates, no allocation. Labels stay bounded: namespaces, task queues
//! and closed sets of kinds, never an activity or run id. Gauges that describe a store (queue
//! backlogs, the outbox) are sampled when `/metrics` is scraped.

mod http;
mod logs;
pub mod trace;

pub use http::{CONTENT_TYPE, scrape, track_requests};
pub use logs::{LogFormat, init_logs};

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Buckets (seconds) of latencies from a millisecond to an hour: activities and HTTP requests
/// (long polls included).
const LATENCY_BUCKETS: [f64; 18] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0,
];
/// Buckets (seconds) of short waits: store transactions, timer lag, rate-limit waits.
const SHORT_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// How long one sampler may take before a scrape goes on without it.
const SAMPLE_WITHIN: Duration = Duration::from_secs(2);

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

fn short_histogram() -> Histogram {
    Histogram::new(SHORT_BUCKETS)
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;
type Sampler = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

// ---------------------------------------------------------------------------------------------
// Label sets

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    /// The matched route pattern (`/api/v1/namespaces/{namespace}/...`), or `unmatched`.
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    namespace: String,
    task_queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TimeoutLabels {
    namespace: String,
    task_queue: String,
    timeout_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CloseLabels {
    namespace: String,
    task_queue: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskQueueLabels {
    namespace: String,
    task_queue: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PriorityLabels {
    namespace: String,
    task_queue: String,
    kind: &'static str,
    /// The priority level, "1" (first) to "5" (last).
    priority: &'static str,
}

/// The priority levels as label values.
const PRIORITY_LEVELS: [&str; 5] = ["1", "2", "3", "4", "5"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TimerLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuthFailureLabels {
    reason: &'static str,
}

/// Which timeout ended an attempt or an activity (`timeout_type` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutType {
    ScheduleToStart,
    StartToClose,
    Heartbeat,
    ScheduleToClose,
}

impl TimeoutType {
    const ALL: [TimeoutType; 4] = [
        TimeoutType::ScheduleToStart,
        TimeoutType::StartToClose,
        TimeoutType::Heartbeat,
        TimeoutType::ScheduleToClose,
    ];

    fn label(self) -> &'static str {
        match self {
            TimeoutType::ScheduleToStart => "schedule_to_start",
            TimeoutType::StartToClose => "start_to_close",
            TimeoutType::Heartbeat => "heartbeat",
            TimeoutType::ScheduleToClose => "schedule_to_close",
        }
    }
}

/// How an activity closed (`status` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseStatus {
    Completed,
    Failed,
    Canceled,
    Terminated,
    TimedOut,
}

impl CloseStatus {
    const ALL: [CloseStatus; 5] = [
        CloseStatus::Completed,
        CloseStatus::Failed,
        CloseStatus::Canceled,
        CloseStatus::Terminated,
        CloseStatus::TimedOut,
    ];

    fn label(self) -> &'static str {
        match self {
            CloseStatus::Completed => "completed",
            CloseStatus::Failed => "failed",
            CloseStatus::Canceled => "canceled",
            CloseStatus::Terminated => "terminated",
            CloseStatus::TimedOut => "timed_out",
        }
    }
}

/// Which kind of task a queue holds (`kind` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueKind {
    Activity,
    Workflow,
}

impl QueueKind {
    fn label(self) -> &'static str {
        match self {
            QueueKind::Activity => "activity",
            QueueKind::Workflow => "workflow",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Per-queue handles

/// The activity metrics of one namespace and task queue.
pub struct ActivityMetrics {
    schedule_to_start: Histogram,
    start_to_close: Histogram,
    end_to_end: Histogram,
    attempts: Counter,
    retries: Counter,
    failures: Counter,
    timeouts: [Counter; 4],
    closed: [Counter; 5],
}

impl ActivityMetrics {
    /// A worker took an attempt `schedule_to_start` after it became dispatchable.
    pub fn attempt_started(&self, schedule_to_start: Duration) {
        self.attempts.inc();
        self.schedule_to_start
            .observe(schedule_to_start.as_secs_f64());
    }

    /// A running attempt ended (completed, failed, canceled, timed out) `start_to_close` after
    /// it started.
    pub fn attempt_ended(&self, start_to_close: Duration) {
        self.start_to_close.observe(start_to_close.as_secs_f64());
    }

    /// A next attempt was scheduled after a failure or a timeout.
    pub fn retried(&self) {
        self.retries.inc();
    }

    /// A worker reported an attempt as failed.
    pub fn worker_failed(&self) {
        self.failures.inc();
    }

    /// A timeout took effect: an attempt or the activity ended by it.
    pub fn timed_out(&self, timeout: TimeoutType) {
        self.timeouts[timeout as usize].inc();
    }

    /// The activity closed `end_to_end` after it was scheduled.
    pub fn closed(&self, status: CloseStatus, end_to_end: Duration) {
        self.closed[status as usize].inc();
        self.end_to_end.observe(end_to_end.as_secs_f64());
    }
}

/// The metrics of one task queue of one kind.
pub struct TaskQueueMetrics {
    backlog: Gauge,
    /// Per priority level, 1 first.
    backlog_by_priority: [Gauge; 5],
    fairness_keys: Gauge,
    oldest_task_age: Gauge<f64, AtomicU64>,
    pollers_waiting: Gauge,
    added: Counter,
    dispatched: Counter,
    /// Activity queues only: they dispatch at a rate limit.
    rate_limit_wait: Option<Histogram>,
}

impl TaskQueueMetrics {
    /// A task was added to the queue.
    pub fn added(&self) {
        self.added.inc();
    }

    /// A task was handed to a worker (its start recorded).
    pub fn dispatched(&self) {
        self.dispatched.inc();
    }

    /// Counts a poller as waiting until the guard is dropped.
    pub fn poller_waiting(&self) -> PollerWaiting<'_> {
        self.pollers_waiting.inc();
        PollerWaiting(&self.pollers_waiting)
    }

    /// A popped task waited `waited` for a rate-limit token.
    pub fn rate_limit_waited(&self, waited: Duration) {
        if let Some(h) = &self.rate_limit_wait {
            h.observe(waited.as_secs_f64());
        }
    }

    /// What the queue's backend holds right now (sampled on scrape): in all, and per priority
    /// level.
    pub fn set_backlog(
        &self,
        tasks: usize,
        by_priority: [usize; 5],
        fairness_keys: usize,
        oldest_age: Option<Duration>,
    ) {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.backlog.set(count(tasks));
        self.fairness_keys.set(count(fairness_keys));
        for (gauge, n) in self.backlog_by_priority.iter().zip(by_priority) {
            gauge.set(count(n));
        }
        self.oldest_task_age
            .set(oldest_age.map_or(0.0, |a| a.as_secs_f64()));
    }
}

/// A poller counted in `waymark_task_queue_pollers_waiting` while this lives.
pub struct PollerWaiting<'a>(&'a Gauge);

impl Drop for PollerWaiting<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Handles made once per namespace and queue, found again without allocating.
struct PerQueue<T>(RwLock<HashMap<String, HashMap<String, Arc<T>>>>);

impl<T> Default for PerQueue<T> {
    fn default() -> Self {
        PerQueue(RwLock::default())
    }
}

impl<T> PerQueue<T> {
    fn get(&self, ns: &str, queue: &str, make: impl FnOnce() -> T) -> Arc<T> {
        if let Some(found) = self
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(ns)
            .and_then(|q| q.get(queue))
        {
            return found.clone();
        }
        let mut all = self.0.write().unwrap_or_else(PoisonError::into_inner);
        all.entry(ns.to_owned())
            .or_default()
            .entry(queue.to_owned())
            .or_insert_with(|| Arc::new(make()))
            .clone()
    }

    fn names(&self) -> Vec<(String, String)> {
        let all = self.0.read().unwrap_or_else(PoisonError::into_inner);
        all.iter()
            .flat_map(|(ns, queues)| queues.keys().map(|q| (ns.clone(), q.clone())))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The registry

struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily<HttpLabels>,

    schedule_to_start: HistogramFamily<QueueLabels>,
    start_to_close: HistogramFamily<QueueLabels>,
    end_to_end: HistogramFamily<QueueLabels>,
    attempts: Family<QueueLabels, Counter>,
    retries: Family<QueueLabels, Counter>,
    failures: Family<QueueLabels, Counter>,
    timeouts: Family<TimeoutLabels, Counter>,
    closed: Family<CloseLabels, Counter>,
    activities: PerQueue<ActivityMetrics>,

    backlog: Family<TaskQueueLabels, Gauge>,
    backlog_by_priority: Family<PriorityLabels, Gauge>,
    fairness_keys: Family<TaskQueueLabels, Gauge>,
    oldest_task_age: Family<TaskQueueLabels, Gauge<f64, AtomicU64>>,
    pollers_waiting: Family<TaskQueueLabels, Gauge>,
    added: Family<TaskQueueLabels, Counter>,
    dispatched: Family<TaskQueueLabels, Counter>,
    rate_limit_wait: HistogramFamily<TaskQueueLabels>,
    queues: [PerQueue<TaskQueueMetrics>; 2],

    timer_lag: HistogramFamily<TimerLabels>,
    outbox_depth: Gauge,
    long_polls_waiting: Gauge,
    outbox_oldest_age: Gauge<f64, AtomicU64>,
    store_duration: HistogramFamily<StoreLabels>,
    store_conflicts: Family<StoreLabels, Counter>,
    auth_failures: Family<AuthFailureLabels, Counter>,

    samplers: Mutex<Vec<Sampler>>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Metrics {
        fn latency<L: Clone + std::hash::Hash + Eq>() -> HistogramFamily<L> {
            Family::new_with_constructor(latency_histogram)
        }
        fn short<L: Clone + std::hash::Hash + Eq>() -> HistogramFamily<L> {
            Family::new_with_constructor(short_histogram)
        }
        let mut m = Metrics {
            registry: Registry::with_prefix("waymark"),
            http_requests: Family::default(),
            http_duration: latency(),
            schedule_to_start: latency(),
            start_to_close: latency(),
            end_to_end: latency(),
            attempts: Family::default(),
            retries: Family::default(),
            failures: Family::default(),
            timeouts: Family::default(),
            closed: Family::default(),
            activities: PerQueue::default(),
            backlog: Family::default(),
            backlog_by_priority: Family::default(),
            fairness_keys: Family::default(),
            oldest_task_age: Family::default(),
            pollers_waiting: Family::default(),
            added: Family::default(),
            dispatched: Family::default(),
            rate_limit_wait: short(),
            queues: [PerQueue::default(), PerQueue::default()],
            timer_lag: short(),
            outbox_depth: Gauge::default(),
            long_polls_waiting: Gauge::default(),
            outbox_oldest_age: Gauge::default(),
            store_duration: short(),
            store_conflicts: Family::default(),
            auth_failures: Family::default(),
            samplers: Mutex::default(),
        };
        let r = &mut m.registry;
        let s = Unit::Seconds;
        r.register(
            "http_requests",
            "HTTP requests answered, by matched route, method and status",
            m.http_requests.clone(),
        );
        r.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request (long polls included), by matched route, method and status",
            s.clone(),
            m.http_duration.clone(),
        );
        r.register_with_unit(
            "activity_schedule_to_start",
            "From an attempt becoming dispatchable to a worker taking it",
            s.clone(),
            m.schedule_to_start.clone(),
        );
        r.register_with_unit(
            "activity_start_to_close",
            "From a worker taking an attempt to the attempt ending (completed, failed, canceled or timed out)",
            s.clone(),
            m.start_to_close.clone(),
        );
        r.register_with_unit(
            "activity_end_to_end",
            "From an activity being scheduled to its close, over all its attempts",
            s.clone(),
            m.end_to_end.clone(),
        );
        r.register(
            "activity_attempts",
            "Attempts handed to a worker",
            m.attempts.clone(),
        );
        r.register(
            "activity_retries",
            "Attempts scheduled again after a failure or a timeout",
            m.retries.clone(),
        );
        r.register(
            "activity_failures",
            "Attempts a worker reported as failed",
            m.failures.clone(),
        );
        r.register(
            "activity_timeouts",
            "Timeouts that ended an attempt or an activity, by timeout type",
            m.timeouts.clone(),
        );
        r.register(
            "activity_closed",
            "Activities closed, by status",
            m.closed.clone(),
        );
        r.register(
            "task_queue_backlog",
            "Tasks waiting in a task queue (sampled on scrape)",
            m.backlog.clone(),
        );
        r.register(
            "task_queue_backlog_by_priority",
            "Tasks waiting in a task queue at each priority level, 1 dispatched first (sampled on scrape)",
            m.backlog_by_priority.clone(),
        );
        r.register(
            "task_queue_fairness_keys",
            "Fairness keys with tasks waiting in a task queue (sampled on scrape)",
            m.fairness_keys.clone(),
        );
        r.register_with_unit(
            "task_queue_oldest_task_age",
            "Age of the oldest task waiting in a task queue; 0 without a backlog (sampled on scrape)",
            s.clone(),
            m.oldest_task_age.clone(),
        );
        r.register(
            "task_queue_pollers_waiting",
            "Worker polls waiting on a task queue",
            m.pollers_waiting.clone(),
        );
        r.register(
            "task_queue_tasks_added",
            "Tasks added to a task queue",
            m.added.clone(),
        );
        r.register(
            "task_queue_tasks_dispatched",
            "Tasks handed to a worker; its rate is the dispatch rate",
            m.dispatched.clone(),
        );
        r.register_with_unit(
            "task_queue_rate_limit_wait",
            "Waits of a popped task for a token of its queue's rate limit (only waits that happened)",
            s.clone(),
            m.rate_limit_wait.clone(),
        );
        r.register_with_unit(
            "timer_lag",
            "How late a durable timer fired: fired time minus due time",
            s.clone(),
            m.timer_lag.clone(),
        );
        r.register(
            "outbox_depth",
            "Dispatches committed but not yet delivered to a task queue (sampled on scrape)",
            m.outbox_depth.clone(),
        );
        r.register(
            "long_polls_waiting",
            "Long polls of an execution's state (outcome, history) waiting for it to change",
            m.long_polls_waiting.clone(),
        );
        r.register_with_unit(
            "outbox_oldest_age",
            "Age of the oldest undelivered dispatch; 0 when the outbox is empty (sampled on scrape)",
            s.clone(),
            m.outbox_oldest_age.clone(),
        );
        r.register_with_unit(
            "store_transaction_duration",
            "Time of a state transition's store transaction, conflicts included, by operation",
            s,
            m.store_duration.clone(),
        );
        r.register(
            "store_conflicts",
            "Store transactions that lost an optimistic-concurrency race (the transition is retried)",
            m.store_conflicts.clone(),
        );
        r.register(
            "auth_failures",
            "Requests refused by authentication or authorization, by reason: missing (no key), \
             invalid (a key or token that is unknown, wrong, disabled or expired), denied (a role \
             without the operation), throttled (an address held after too many invalid keys)",
            m.auth_failures.clone(),
        );
        m
    }
}

/// The activity metrics of namespace `ns` and task queue `queue`.
pub fn activity(ns: &str, queue: &str) -> Arc<ActivityMetrics> {
    let m = &*METRICS;
    m.activities.get(ns, queue, || {
        let labels = QueueLabels {
            namespace: ns.to_owned(),
            task_queue: queue.to_owned(),
        };
        let timeout = |t: TimeoutType| {
            let l = TimeoutLabels {
                namespace: ns.to_owned(),
                task_queue: queue.to_owned(),
                timeout_type: t.label(),
            };
            m.timeouts.get_or_create_owned(&l)
        };
        let closed = |c: CloseStatus| {
            let l = CloseLabels {
                namespace: ns.to_owned(),
                task_queue: queue.to_owned(),
                status: c.label(),
            };
            m.closed.get_or_create_owned(&l)
        };
        ActivityMetrics {
            schedule_to_start: m.schedule_to_start.get_or_create_owned(&labels),
            start_to_close: m.start_to_close.get_or_create_owned(&labels),
            end_to_end: m.end_to_end.get_or_create_owned(&labels),
            attempts: m.attempts.get_or_create_owned(&labels),
            retries: m.retries.get_or_create_owned(&labels),
            failures: m.failures.get_or_create_owned(&labels),
            timeouts: TimeoutType::ALL.map(timeout),
            closed: CloseStatus::ALL.map(closed),
        }
    })
}

/// The metrics of task queue `queue` of namespace `ns` holding tasks of `kind`.
pub fn task_queue(kind: QueueKind, ns: &str, queue: &str) -> Arc<TaskQueueMetrics> {
    let m = &*METRICS;
    m.queues[kind as usize].get(ns, queue, || {
        let labels = TaskQueueLabels {
            namespace: ns.to_owned(),
            task_queue: queue.to_owned(),
            kind: kind.label(),
        };
        TaskQueueMetrics {
            backlog: m.backlog.get_or_create_owned(&labels),
            backlog_by_priority: PRIORITY_LEVELS.map(|priority| {
                m.backlog_by_priority.get_or_create_owned(&PriorityLabels {
                    namespace: ns.to_owned(),
                    task_queue: queue.to_owned(),
                    kind: kind.label(),
                    priority,
                })
            }),
            fairness_keys: m.fairness_keys.get_or_create_owned(&labels),
            oldest_task_age: m.oldest_task_age.get_or_create_owned(&labels),
            pollers_waiting: m.pollers_waiting.get_or_create_owned(&labels),
            added: m.added.get_or_create_owned(&labels),
            dispatched: m.dispatched.get_or_create_owned(&labels),
            rate_limit_wait: (kind == QueueKind::Activity)
                .then(|| m.rate_limit_wait.get_or_create_owned(&labels)),
        }
    })
}

/// The (namespace, queue) pairs of `kind` this process has recorded anything for.
pub fn task_queues(kind: QueueKind) -> Vec<(String, String)> {
    METRICS.queues[kind as usize].names()
}

/// A durable timer of `kind` fired `lag` after it was due. The label keeps only the kind's
/// name, not what follows a `:` (workflow timers name their event there).
pub fn timer_fired(kind: &str, lag: Duration) {
    let kind = kind.split(':').next().unwrap_or_default().to_owned();
    METRICS
        .timer_lag
        .get_or_create(&TimerLabels { kind })
        .observe(lag.as_secs_f64());
}

/// The outbox as sampled: `depth` undelivered dispatches, the oldest `oldest_age` old.
pub fn set_outbox(depth: u64, oldest_age: Option<Duration>) {
    METRICS
        .outbox_depth
        .set(i64::try_from(depth).unwrap_or(i64::MAX));
    METRICS
        .outbox_oldest_age
        .set(oldest_age.map_or(0.0, |a| a.as_secs_f64()));
}

/// A long poll of an execution's state, counted in `waymark_long_polls_waiting` while the
/// returned guard lives.
pub fn long_poll_waiting() -> LongPollWaiting {
    METRICS.long_polls_waiting.inc();
    LongPollWaiting(())
}

pub struct LongPollWaiting(());

impl Drop for LongPollWaiting {
    fn drop(&mut self) {
        METRICS.long_polls_waiting.dec();
    }
}

/// A store transaction of `operation` took `took`; `conflict`: it lost a concurrency race.
pub fn store_transaction(operation: &'static str, took: Duration, conflict: bool) {
    let labels = StoreLabels { operation };
    METRICS
        .store_duration
        .get_or_create(&labels)
        .observe(took.as_secs_f64());
    if conflict {
        METRICS.store_conflicts.get_or_create(&labels).inc();
    }
}

/// A request refused for `reason`: `missing`, `invalid`, `denied` or `throttled`.
pub fn auth_failed(reason: &'static str) {
    let labels = AuthFailureLabels { reason };
    METRICS.auth_failures.get_or_create(&labels).inc();
}

/// Runs `sample` before each scrape, to set gauges read from a store or a queue backend. It should
/// catch its own errors; one that takes longer than 2 s is left behind for that scrape.
pub fn sample_on_scrape<F, Fut>(sample: F)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let sampler: Sampler = Arc::new(move || Box::pin(sample()));
    METRICS
        .samplers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(sampler);
}

/// Samples the gauges, then encodes every metric of the process in the OpenMetrics text format.
pub async fn render() -> String {
    let samplers = METRICS
        .samplers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for sample in samplers {
        if tokio::time::timeout(SAMPLE_WITHIN, sample()).await.is_err() {
            tracing::warn!(
                "a metrics sampler took longer than {SAMPLE_WITHIN:?}; its gauges are stale"
            );
        }
    }
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &METRICS.registry)
        .expect("writing to a String");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample line of `name` whose labels contain all of `labels`, if any.
    pub(crate) fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
        text.lines()
            .filter(|l| l.split(['{', ' ']).next() == Some(name))
            .find(|l| labels.iter().all(|want| l.contains(want)))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    #[tokio::test]
    async fn activity_events_show_per_namespace_and_queue() {
        let m = activity("ns-a", "queue-a");
        m.attempt_started(Duration::from_millis(3));
        m.attempt_ended(Duration::from_millis(40));
        m.retried();
        m.timed_out(TimeoutType::Heartbeat);
        m.closed(CloseStatus::Completed, Duration::from_millis(50));
        let text = render().await;
        let at = [r#"namespace="ns-a""#, r#"task_queue="queue-a""#];
        assert_eq!(
            sample(
                &text,
                "waymark_activity_schedule_to_start_seconds_count",
                &at
            ),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            sample(&text, "waymark_activity_start_to_close_seconds_count", &at),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "waymark_activity_end_to_end_seconds_sum", &at),
            Some(0.05)
        );
        assert_eq!(
            sample(&text, "waymark_activity_attempts_total", &at),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "waymark_activity_retries_total", &at),
            Some(1.0)
        );
        let heartbeat = [at[0], at[1], r#"timeout_type="heartbeat""#];
        assert_eq!(
            sample(&text, "waymark_activity_timeouts_total", &heartbeat),
            Some(1.0)
        );
        let completed = [at[0], at[1], r#"status="completed""#];
        assert_eq!(
            sample(&text, "waymark_activity_closed_total", &completed),
            Some(1.0)
        );
        let failed = [at[0], at[1], r#"status="failed""#];
        assert_eq!(
            sample(&text, "waymark_activity_closed_total", &failed),
            Some(0.0),
            "every status shows, from 0"
        );
    }

    #[tokio::test]
    async fn a_queue_handle_is_made_once_and_counts_waiting_pollers_while_they_wait() {
        let q = task_queue(QueueKind::Workflow, "ns-q", "queue-q");
        assert!(Arc::ptr_eq(
            &q,
            &task_queue(QueueKind::Workflow, "ns-q", "queue-q")
        ));
        assert!(!Arc::ptr_eq(
            &q,
            &task_queue(QueueKind::Activity, "ns-q", "queue-q")
        ));
        let at = [
            r#"namespace="ns-q""#,
            r#"task_queue="queue-q""#,
            r#"kind="workflow""#,
        ];
        let waiting = q.poller_waiting();
        assert_eq!(
            sample(&render().await, "waymark_task_queue_pollers_waiting", &at),
            Some(1.0)
        );
        drop(waiting);
        q.set_backlog(3, [1, 0, 2, 0, 0], 2, Some(Duration::from_secs(2)));
        let text = render().await;
        assert_eq!(
            sample(&text, "waymark_task_queue_pollers_waiting", &at),
            Some(0.0)
        );
        assert_eq!(sample(&text, "waymark_task_queue_backlog", &at), Some(3.0));
        let level_3 = [at.as_slice(), &[r#"priority="3""#]].concat();
        assert_eq!(
            sample(&text, "waymark_task_queue_backlog_by_priority", &level_3),
            Some(2.0)
        );
        assert_eq!(
            sample(&text, "waymark_task_queue_fairness_keys", &at),
            Some(2.0)
        );
        assert_eq!(
            sample(&text, "waymark_task_queue_oldest_task_age_seconds", &at),
            Some(2.0)
        );
        assert!(task_queues(QueueKind::Workflow).contains(&("ns-q".into(), "queue-q".into())));
    }

    #[tokio::test]
    async fn timer_kinds_lose_their_per_execution_suffix() {
        timer_fired("timer:12:my-timer", Duration::from_millis(5));
        let text = render().await;
        assert!(
            text.contains(r#"waymark_timer_lag_seconds_count{kind="timer"}"#),
            "{text}"
        );
        assert!(!text.contains("my-timer"));
    }

    #[tokio::test]
    async fn samplers_run_before_each_scrape() {
        sample_on_scrape(|| async { set_outbox(7, Some(Duration::from_millis(1500))) });
        let text = render().await;
        assert_eq!(sample(&text, "waymark_outbox_depth", &[]), Some(7.0));
        assert_eq!(
            sample(&text, "waymark_outbox_oldest_age_seconds", &[]),
            Some(1.5)
        );
    }

    /// Every metric family the registry serves is in the README's `## Metrics` table, under the
    /// name its samples carry, and the table lists no other.
    #[tokio::test]
    async fn the_readme_lists_every_metric() {
        let readme = include_str!("../../../README.md");
        let section = readme
            .split("\n## Metrics")
            .nth(1)
            .expect("README has a `## Metrics` section");
        let section = section.split("\n## ").next().unwrap_or(section);
        // A family shows once it has a label set: give each one.
        activity("ns-readme", "queue-readme");
        task_queue(QueueKind::Activity, "ns-readme", "queue-readme");
        timer_fired("dispatch", Duration::ZERO);
        store_transaction("activity_update", Duration::ZERO, true);
        let labels = HttpLabels {
            route: "/readme".into(),
            method: "GET",
            status: 200,
        };
        METRICS.http_requests.get_or_create_owned(&labels);
        METRICS.http_duration.get_or_create_owned(&labels);
        let text = render().await;
        let served: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| match l.split_once(' ') {
                Some((name, "counter")) => format!("{name}_total"),
                Some((name, _)) => name.to_owned(),
                None => l.to_owned(),
            })
            .collect();
        assert!(served.len() >= 20, "{text}");
        for name in &served {
            assert!(
                section.contains(&format!("`{name}`")),
                "README's Metrics section does not list `{name}`"
            );
        }
        let listed = section
            .split('`')
            .filter(|w| w.starts_with("waymark_") && !w.contains(' '));
        for name in listed {
            assert!(
                served.iter().any(|s| s == name),
                "README lists `{name}`, which no registry serves"
            );
        }
    }
}
