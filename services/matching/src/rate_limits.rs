//! Task-queue rate limits (SEMANTICS §11.1): the limit set through the API, else the one the
//! most recent poll asked for, else none. Settings live in a `QueueConfigStore` shared by every
//! matching instance and tokens in a shared `RateLimiter`; each instance caches a queue's settings
//! for a second, so a poll costs no read of the store. Also `DescribeTaskQueue` and
//! `UpdateTaskQueueConfig`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;
use waymark_api::task_queue::PollerInfo;
use waymark_api::{Duration as ApiDuration, *};
use waymark_clients::{ApiResult, Clock};
use waymark_queue::{
    ActivityTask, InProcessQueueConfig, InProcessRateLimiter, QueueConfigStore, QueueLimits,
    RateLimiter, RedisQueue, TaskQueueBackend,
};
use waymark_telemetry::QueueKind;

use crate::{Matching, unavailable};

/// How long an instance uses a queue's settings before reading them again; a change made through
/// another instance applies within this.
const CACHE_FOR: Duration = Duration::from_secs(1);
/// A poller's own rate is written again at least this often, so that it outlives the poller
/// list's expiry only while the poller polls.
const RECORD_POLLER_EVERY: Duration = Duration::from_secs(60);
/// While a poll waits for a token it looks at the rate again this often: a paused queue resumes.
const RECHECK_EVERY: Duration = Duration::from_secs(1);
/// The system's own limit: Waymark has none.
pub const SYSTEM_RATE: f64 = f64::INFINITY;

/// Where the queues' rate limits are kept and enforced: in process for `start-dev`, in Redis when
/// several matching instances share them.
pub struct RateLimits {
    pub store: Arc<dyn QueueConfigStore>,
    pub limiter: Arc<dyn RateLimiter>,
    /// Stamps `updateTime` of a config change.
    pub clock: Arc<dyn Clock>,
}

impl RateLimits {
    pub fn in_process(clock: Arc<dyn Clock>) -> RateLimits {
        RateLimits {
            store: Arc::new(InProcessQueueConfig::new()),
            limiter: Arc::new(InProcessRateLimiter::new()),
            clock,
        }
    }

    /// In the Redis of `queue`, on its shared connection.
    pub fn redis(queue: &RedisQueue, clock: Arc<dyn Clock>) -> RateLimits {
        RateLimits {
            store: Arc::new(queue.config_store()),
            limiter: Arc::new(queue.rate_limiter()),
            clock,
        }
    }
}

/// The rate dispatch follows: the API limit if set, else the worker limit, else the system's. As
/// in Temporal, a chosen limit that is not below the system's counts as the system's.
pub fn effective_rate(api: Option<f32>, worker: Option<f64>) -> (f64, RateLimitSource) {
    let chosen = match (api, worker) {
        (Some(api), _) => Some((f64::from(api), RateLimitSource::Api)),
        (None, Some(worker)) => Some((worker, RateLimitSource::Worker)),
        (None, None) => None,
    };
    match chosen {
        Some((rps, source)) if rps < SYSTEM_RATE => (rps, source),
        _ => (SYSTEM_RATE, RateLimitSource::System),
    }
}

/// Most fairness weight overrides a queue (of one type) keeps, as Temporal's default.
pub const MAX_WEIGHT_OVERRIDES: usize = 1000;

/// Temporal's checks of an `UpdateTaskQueueConfig`, with its messages.
pub fn check_config_update(req: &UpdateTaskQueueConfigRequest) -> ApiResult<()> {
    let invalid = |msg: String| Err(ApiError::invalid_argument(msg));
    for (update, label, what) in [
        (
            &req.update_queue_rate_limit,
            "UpdateQueueRateLimit",
            "rate limit",
        ),
        (
            &req.update_fairness_key_rate_limit_default,
            "UpdateFairnessKeyRateLimitDefault",
            "fairness key rate limit",
        ),
    ] {
        // Removing a limit (no `rateLimit`) is allowed everywhere, as in Temporal.
        let Some(rate) = update.as_ref().and_then(|u| u.rate_limit) else {
            continue;
        };
        if req.task_queue_type == TaskQueueType::Workflow {
            return invalid(format!(
                "Setting {what} on workflow task queues is not allowed."
            ));
        }
        if rate.requests_per_second < 0.0 || rate.requests_per_second.is_nan() {
            return invalid(format!(
                "RequestsPerSecond for {label} rate limit must be non-negative."
            ));
        }
    }
    let (set, unset) = (
        &req.set_fairness_weight_overrides,
        &req.unset_fairness_weight_overrides,
    );
    let total = set.len() + unset.len();
    if total > MAX_WEIGHT_OVERRIDES {
        return invalid(format!(
            "too many fairness weight overrides in request: got {total}, maximum {MAX_WEIGHT_OVERRIDES}"
        ));
    }
    for key in set.keys().chain(unset) {
        if key.is_empty() {
            return invalid("fairness weight override key must not be empty".into());
        }
        if let Err(e) = waymark_core::options::validate_fairness_key(key) {
            return invalid(e);
        }
    }
    if let Some((key, _)) = set.iter().find(|(_, w)| w.is_nan() || **w <= 0.0) {
        return invalid(format!(
            "invalid fairness weight weight for key {key:?}: must be greater than zero"
        ));
    }
    if let Some(key) = unset.iter().find(|k| set.contains_key(*k)) {
        return invalid(format!(
            "fairness weight override key {key:?} present in both set and unset lists"
        ));
    }
    Ok(())
}

fn api_rate(limits: &QueueLimits) -> Option<f32> {
    limits
        .api
        .queue_rate_limit
        .as_ref()
        .and_then(|c| c.rate_limit)
        .map(|r| r.requests_per_second)
}

/// A queue's settings as this instance last read them.
#[derive(Default)]
struct Cached {
    api: Option<f32>,
    worker: Option<f64>,
    /// The fairness weight overrides.
    weights: Arc<BTreeMap<String, f32>>,
    /// `fairnessKeysRateLimitDefault`: each key's rate at weight 1.
    key_rate: Option<f32>,
    read_at: Option<Instant>,
    /// What this instance last wrote for each poller, and when.
    recorded: HashMap<String, (Option<f64>, Instant)>,
}

type CacheKey = (String, String, TaskQueueType);

/// The settings of queues as matching applies them: rate limits (activity queues) and fairness
/// weight overrides.
pub(crate) struct Rates {
    limits: RateLimits,
    cache: Mutex<HashMap<CacheKey, Cached>>,
}

impl Rates {
    pub(crate) fn new(limits: RateLimits) -> Rates {
        Rates {
            limits,
            cache: Mutex::default(),
        }
    }

    /// The cache stays usable after a panic elsewhere: each update leaves its entry whole.
    fn cache(&self) -> MutexGuard<'_, HashMap<CacheKey, Cached>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `f` of a queue's settings, read again once `CACHE_FOR` has passed.
    async fn settings<T>(
        &self,
        (ns, queue, kind): (&str, &str, TaskQueueType),
        f: impl Fn(&Cached) -> T,
    ) -> ApiResult<T> {
        let key = (ns.to_owned(), queue.to_owned(), kind);
        if let Some(c) = self.cache().get(&key)
            && c.read_at.is_some_and(|at| at.elapsed() < CACHE_FOR)
        {
            return Ok(f(c));
        }
        let limits = self
            .limits
            .store
            .limits(ns, queue, kind)
            .await
            .map_err(unavailable)?;
        let mut cache = self.cache();
        let c = cache.entry(key).or_default();
        (c.api, c.worker, c.read_at) = (api_rate(&limits), limits.worker, Some(Instant::now()));
        c.weights = Arc::new(limits.api.fairness_weight_overrides);
        c.key_rate = limits
            .api
            .fairness_keys_rate_limit_default
            .and_then(|c| c.rate_limit)
            .map(|r| r.requests_per_second);
        Ok(f(c))
    }

    /// The API and worker limits of an activity queue.
    async fn limits_of(&self, ns: &str, queue: &str) -> ApiResult<(Option<f32>, Option<f64>)> {
        self.settings((ns, queue, TaskQueueType::Activity), |c| (c.api, c.worker))
            .await
    }

    /// Gives `task` what its queue's config says of its fairness key: the weight an override
    /// sets, and the key's own rate (`fairnessKeysRateLimitDefault` times the weight).
    pub(crate) async fn weigh(
        &self,
        task: &mut ActivityTask,
        kind: TaskQueueType,
    ) -> ApiResult<()> {
        let (weights, key_rate) = self
            .settings((&task.namespace, &task.task_queue, kind), |c| {
                (c.weights.clone(), c.key_rate)
            })
            .await?;
        if let Some(w) = weights.get(&task.fairness_key) {
            task.fairness_weight = *w;
        }
        task.key_rate =
            key_rate.map(|rate| f64::from(rate) * waymark_queue::weight(task.fairness_weight));
        Ok(())
    }

    /// The rate an activity queue dispatches at now.
    pub(crate) async fn rate(&self, ns: &str, queue: &str) -> ApiResult<f64> {
        let (api, worker) = self.limits_of(ns, queue).await?;
        Ok(effective_rate(api, worker).0)
    }

    /// A poll of an activity queue with its `maxTasksPerSecond`: the queue's worker limit from
    /// now on. Written only when it changes what is stored (or the poller's own entry is due).
    pub(crate) async fn saw_poll(
        &self,
        ns: &str,
        queue: &str,
        identity: &str,
        rate: Option<f64>,
    ) -> ApiResult<()> {
        let (_, worker) = self.limits_of(ns, queue).await?;
        let now = Instant::now();
        let key = (ns.to_owned(), queue.to_owned(), TaskQueueType::Activity);
        let fresh = self
            .cache()
            .get(&key)
            .and_then(|c| c.recorded.get(identity))
            .is_some_and(|(recorded, at)| {
                *recorded == rate && now.duration_since(*at) < RECORD_POLLER_EVERY
            });
        if worker == rate && fresh {
            return Ok(());
        }
        self.limits
            .store
            .record_poll(ns, queue, identity, rate)
            .await
            .map_err(unavailable)?;
        let mut cache = self.cache();
        let c = cache.entry(key).or_default();
        c.worker = rate;
        c.recorded
            .retain(|_, (_, at)| now.duration_since(*at) < RECORD_POLLER_EVERY);
        c.recorded.insert(identity.to_owned(), (rate, now));
        Ok(())
    }

    /// Forgets what this instance read of a queue, so that a change made here applies at once.
    fn forget(&self, ns: &str, queue: &str, kind: TaskQueueType) {
        if let Some(c) = self
            .cache()
            .get_mut(&(ns.to_owned(), queue.to_owned(), kind))
        {
            c.read_at = None;
        }
    }

    /// Waits for a dispatch token of an activity queue; false if `deadline` passed or the poller
    /// left (`gone`) first.
    pub(crate) async fn take_token(
        &self,
        ns: &str,
        queue: &str,
        deadline: Instant,
        gone: oneshot::Receiver<()>,
    ) -> ApiResult<bool> {
        let token = async {
            let (asked, mut waited) = (Instant::now(), false);
            let waited_for = |waited: bool| {
                if waited {
                    waymark_telemetry::task_queue(QueueKind::Activity, ns, queue)
                        .rate_limit_waited(asked.elapsed());
                }
            };
            loop {
                let rate = self.rate(ns, queue).await?;
                let wait = self
                    .limits
                    .limiter
                    .acquire(ns, queue, rate)
                    .await
                    .map_err(unavailable)?;
                if wait.is_zero() {
                    waited_for(waited);
                    return Ok(true);
                }
                let now = Instant::now();
                if now >= deadline {
                    waited_for(waited);
                    return Ok(false);
                }
                waited = true;
                tokio::time::sleep(wait.min(deadline - now).min(RECHECK_EVERY)).await;
            }
        };
        tokio::select! {
            taken = token => taken,
            _ = gone => Ok(false),
        }
    }
}

impl Matching {
    /// `DescribeTaskQueue`: the recent pollers and backlog of an activity or workflow queue, its
    /// config (`reportConfig`) and the limit in force. As in Temporal, no type means the workflow
    /// queue. Nexus queues do not exist in Waymark: only their config is shown.
    pub(crate) async fn describe(
        &self,
        ns: &str,
        queue: &str,
        q: DescribeTaskQueueQuery,
    ) -> ApiResult<DescribeTaskQueueResponse> {
        let kind = match q.task_queue_type {
            TaskQueueType::Unspecified => TaskQueueType::Workflow,
            kind => kind,
        };
        let limits = self
            .rates
            .limits
            .store
            .limits(ns, queue, kind)
            .await
            .map_err(unavailable)?;
        let backend: Option<&Arc<dyn TaskQueueBackend>> = match kind {
            TaskQueueType::Activity => Some(&self.activities),
            TaskQueueType::Workflow => Some(&self.workflows),
            _ => None,
        };
        let mut pollers = Vec::new();
        let mut stats = TaskQueueStats {
            approximate_backlog_age: Some(ApiDuration::ZERO),
            ..TaskQueueStats::default()
        };
        let mut stats_by_priority_key = BTreeMap::new();
        if let Some(backend) = backend {
            for p in backend.pollers(ns, queue).await.map_err(unavailable)? {
                let rate_per_second = limits.pollers.get(&p.identity).copied().unwrap_or_default();
                let last_access_time = Some(Timestamp::from_system_time(p.last_access));
                pollers.push(PollerInfo {
                    last_access_time,
                    identity: p.identity,
                    rate_per_second,
                });
            }
            if q.report_stats {
                let s = backend.stats(ns, queue).await.map_err(unavailable)?;
                let now = self.rates.limits.clock.now();
                let stats_of =
                    |count: usize, keys: usize, oldest: Option<std::time::SystemTime>| {
                        let age = oldest.map_or(ApiDuration::ZERO, |at| {
                            now.since(Timestamp::from_system_time(at))
                        });
                        TaskQueueStats {
                            approximate_backlog_count: count as i64,
                            approximate_backlog_age: Some(age.max(ApiDuration::ZERO)),
                            fairness_keys_with_backlog: i32::try_from(keys).unwrap_or(i32::MAX),
                        }
                    };
                stats = stats_of(s.backlog, s.keys_by_priority.iter().sum(), s.oldest);
                stats_by_priority_key = (1..)
                    .zip(
                        s.by_priority
                            .into_iter()
                            .zip(s.keys_by_priority)
                            .zip(s.oldest_by_priority),
                    )
                    .filter(|(_, ((count, _), _))| *count > 0)
                    .map(|(key, ((count, keys), oldest))| (key, stats_of(count, keys, oldest)))
                    .collect();
            }
        }
        let (rps, source) = effective_rate(api_rate(&limits), limits.worker);
        Ok(DescribeTaskQueueResponse {
            pollers,
            stats: q.report_stats.then_some(stats),
            stats_by_priority_key,
            config: Some(limits.api)
                .filter(|api| q.report_config && *api != TaskQueueConfig::default()),
            effective_rate_limit: Some(EffectiveRateLimit {
                requests_per_second: rps as f32,
                rate_limit_source: source,
            }),
        })
    }

    /// The namespace's queues used within `POLLER_TTL`, each type apart, most recent first.
    pub(crate) async fn list(&self, ns: &str) -> ApiResult<ListTaskQueuesResponse> {
        let now = self.rates.limits.clock.now();
        let mut task_queues = Vec::new();
        for (task_queue_type, backend) in [
            (TaskQueueType::Workflow, &self.workflows),
            (TaskQueueType::Activity, &self.activities),
        ] {
            for (name, last) in backend.queues(ns).await.map_err(unavailable)? {
                let s = backend.stats(ns, &name).await.map_err(unavailable)?;
                let pollers = backend.pollers(ns, &name).await.map_err(unavailable)?;
                let age = s.oldest.map_or(ApiDuration::ZERO, |at| {
                    now.since(Timestamp::from_system_time(at))
                });
                task_queues.push(TaskQueueSummary {
                    name,
                    task_queue_type,
                    last_access_time: Some(Timestamp::from_system_time(last)),
                    stats: TaskQueueStats {
                        approximate_backlog_count: s.backlog as i64,
                        approximate_backlog_age: Some(age.max(ApiDuration::ZERO)),
                        fairness_keys_with_backlog: i32::try_from(
                            s.keys_by_priority.iter().sum::<usize>(),
                        )
                        .unwrap_or(i32::MAX),
                    },
                    poller_count: i32::try_from(pollers.len()).unwrap_or(i32::MAX),
                });
            }
        }
        task_queues.sort_by_key(|q| std::cmp::Reverse(q.last_access_time));
        Ok(ListTaskQueuesResponse { task_queues })
    }

    /// `UpdateTaskQueueConfig`: sets or removes limits, each stamped with who, why and when, and
    /// sets or removes fairness weight overrides.
    pub(crate) async fn update_config(
        &self,
        ns: &str,
        queue: &str,
        req: UpdateTaskQueueConfigRequest,
    ) -> ApiResult<UpdateTaskQueueConfigResponse> {
        check_config_update(&req)?;
        let store = &self.rates.limits.store;
        let kind = req.task_queue_type;
        let mut config = store
            .limits(ns, queue, kind)
            .await
            .map_err(unavailable)?
            .api;
        let stamped = |update: RateLimitUpdate| RateLimitConfig {
            rate_limit: update.rate_limit,
            metadata: Some(ConfigMetadata {
                reason: update.reason,
                update_identity: req.identity.clone(),
                update_time: Some(self.rates.limits.clock.now()),
            }),
        };
        let before = config.clone();
        if let Some(update) = req.update_queue_rate_limit.clone() {
            config.queue_rate_limit = Some(stamped(update));
        }
        if let Some(update) = req.update_fairness_key_rate_limit_default.clone() {
            config.fairness_keys_rate_limit_default = Some(stamped(update));
        }
        let weights = &mut config.fairness_weight_overrides;
        for key in &req.unset_fairness_weight_overrides {
            weights.remove(key);
        }
        weights.extend(req.set_fairness_weight_overrides.clone());
        if weights.len() > MAX_WEIGHT_OVERRIDES
            && weights.len() > before.fairness_weight_overrides.len()
        {
            return Err(ApiError::invalid_argument(format!(
                "fairness weight overrides update rejected: exceeding maximum key size: {} keys, at most {MAX_WEIGHT_OVERRIDES}",
                weights.len()
            )));
        }
        if config != before {
            store
                .set_api(ns, queue, kind, config.clone())
                .await
                .map_err(unavailable)?;
            self.rates.forget(ns, queue, kind);
        }
        Ok(UpdateTaskQueueConfigResponse {
            config: Some(config),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use RateLimitSource::{Api, System, Worker};

    struct FixedClock;

    impl Clock for FixedClock {
        fn now(&self) -> Timestamp {
            Timestamp::from_unix_millis(1_000)
        }
    }

    fn rates() -> Rates {
        Rates::new(RateLimits::in_process(Arc::new(FixedClock)))
    }

    pub(crate) fn queue_limit(limit: RateLimitConfig) -> TaskQueueConfig {
        TaskQueueConfig {
            queue_rate_limit: Some(limit),
            ..TaskQueueConfig::default()
        }
    }

    fn update(json: serde_json::Value) -> UpdateTaskQueueConfigRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_api_limit_beats_the_worker_limit_which_beats_the_system() {
        assert_eq!(effective_rate(Some(2.0), Some(5.0)), (2.0, Api));
        assert_eq!(
            effective_rate(Some(0.0), Some(5.0)),
            (0.0, Api),
            "0 pauses, it is not unset"
        );
        assert_eq!(effective_rate(None, Some(2.5)), (2.5, Worker));
        assert_eq!(effective_rate(None, None), (SYSTEM_RATE, System));
        assert_eq!(
            effective_rate(Some(f32::INFINITY), Some(5.0)),
            (SYSTEM_RATE, System),
            "not below the system's"
        );
    }

    #[test]
    fn config_updates_are_checked_with_temporals_messages() {
        let negative = update(serde_json::json!({
            "taskQueueType": "TASK_QUEUE_TYPE_ACTIVITY", "updateQueueRateLimit": {"rateLimit": {"requestsPerSecond": -1}}
        }));
        let err = check_config_update(&negative).unwrap_err();
        assert_eq!(
            err.message,
            "RequestsPerSecond for UpdateQueueRateLimit rate limit must be non-negative."
        );
        let workflow = update(
            serde_json::json!({"taskQueueType": "TASK_QUEUE_TYPE_WORKFLOW", "updateQueueRateLimit": {"rateLimit": {"requestsPerSecond": 1}}}),
        );
        let err = check_config_update(&workflow).unwrap_err();
        assert_eq!(
            err.message,
            "Setting rate limit on workflow task queues is not allowed."
        );
        let refused =
            |json: serde_json::Value| check_config_update(&update(json)).unwrap_err().message;
        assert_eq!(
            refused(
                serde_json::json!({"taskQueueType": "TASK_QUEUE_TYPE_WORKFLOW",
                "updateFairnessKeyRateLimitDefault": {"rateLimit": {"requestsPerSecond": 1}}})
            ),
            "Setting fairness key rate limit on workflow task queues is not allowed."
        );
        assert_eq!(
            refused(
                serde_json::json!({"taskQueueType": "TASK_QUEUE_TYPE_ACTIVITY",
                "updateFairnessKeyRateLimitDefault": {"rateLimit": {"requestsPerSecond": -2}}})
            ),
            "RequestsPerSecond for UpdateFairnessKeyRateLimitDefault rate limit must be non-negative."
        );
        assert_eq!(
            refused(serde_json::json!({"setFairnessWeightOverrides": {"": 2.0}})),
            "fairness weight override key must not be empty"
        );
        assert_eq!(
            refused(serde_json::json!({"unsetFairnessWeightOverrides": ["k".repeat(65)]})),
            "fairness key length exceeds limit: 65 bytes, at most 64"
        );
        assert_eq!(
            refused(serde_json::json!({"setFairnessWeightOverrides": {"k": 0}})),
            r#"invalid fairness weight weight for key "k": must be greater than zero"#
        );
        assert_eq!(
            refused(
                serde_json::json!({"setFairnessWeightOverrides": {"k": 2}, "unsetFairnessWeightOverrides": ["k"]})
            ),
            r#"fairness weight override key "k" present in both set and unset lists"#
        );
        let many: serde_json::Map<_, _> = (0..1001).map(|i| (format!("k{i}"), 1.into())).collect();
        assert_eq!(
            refused(serde_json::json!({"setFairnessWeightOverrides": many})),
            "too many fairness weight overrides in request: got 1001, maximum 1000"
        );
        for ok in [
            serde_json::json!({"setFairnessWeightOverrides": {"k": 2.0}, "unsetFairnessWeightOverrides": ["j"]}),
            serde_json::json!({"taskQueueType": "TASK_QUEUE_TYPE_WORKFLOW", "setFairnessWeightOverrides": {"k": 2.0}}),
            serde_json::json!({"taskQueueType": "TASK_QUEUE_TYPE_ACTIVITY", "updateQueueRateLimit": {"rateLimit": {}}}),
            serde_json::json!({"taskQueueType": "TASK_QUEUE_TYPE_ACTIVITY", "updateQueueRateLimit": {}}),
            serde_json::json!({"taskQueueType": "TASK_QUEUE_TYPE_WORKFLOW"}),
            // Temporal 1.32 answers these removals on a workflow queue with the config.
            serde_json::json!({"taskQueueType": "TASK_QUEUE_TYPE_WORKFLOW", "updateQueueRateLimit": {}}),
            serde_json::json!({"taskQueueType": "TASK_QUEUE_TYPE_WORKFLOW", "updateFairnessKeyRateLimitDefault": {}}),
        ] {
            check_config_update(&update(ok.clone())).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_most_recent_poll_sets_or_removes_the_worker_limit() {
        let r = rates();
        assert_eq!(r.rate("ns", "q").await.unwrap(), SYSTEM_RATE);
        r.saw_poll("ns", "q", "w1", Some(2.5)).await.unwrap();
        assert_eq!(r.rate("ns", "q").await.unwrap(), 2.5);
        r.saw_poll("ns", "q", "w2", Some(4.0)).await.unwrap();
        assert_eq!(r.rate("ns", "q").await.unwrap(), 4.0);
        r.saw_poll("ns", "q", "w1", Some(2.5)).await.unwrap();
        assert_eq!(r.rate("ns", "q").await.unwrap(), 2.5);
        r.saw_poll("ns", "q", "w1", None).await.unwrap();
        assert_eq!(r.rate("ns", "q").await.unwrap(), SYSTEM_RATE);
        let stored = r
            .limits
            .store
            .limits("ns", "q", TaskQueueType::Activity)
            .await
            .unwrap();
        assert_eq!(
            (stored.worker, stored.pollers),
            (None, [("w2".to_owned(), 4.0)].into())
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_made_elsewhere_applies_within_a_second() {
        let r = rates();
        r.saw_poll("ns", "q", "w", Some(5.0)).await.unwrap();
        let limit = RateLimitConfig {
            rate_limit: Some(RateLimit {
                requests_per_second: 1.0,
            }),
            metadata: None,
        };
        r.limits
            .store
            .set_api("ns", "q", TaskQueueType::Activity, queue_limit(limit))
            .await
            .unwrap();
        assert_eq!(r.rate("ns", "q").await.unwrap(), 5.0, "cached");
        tokio::time::advance(CACHE_FOR).await;
        assert_eq!(r.rate("ns", "q").await.unwrap(), 1.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_queue_holds_tokens_until_the_deadline_and_resumes_when_unpaused() {
        let r = rates();
        let paused = RateLimitConfig {
            rate_limit: Some(RateLimit::default()),
            metadata: None,
        };
        r.limits
            .store
            .set_api("ns", "q", TaskQueueType::Activity, queue_limit(paused))
            .await
            .unwrap();
        let (_alive, gone) = oneshot::channel();
        let start = Instant::now();
        assert!(
            !r.take_token("ns", "q", start + Duration::from_secs(3), gone)
                .await
                .unwrap()
        );
        assert_eq!(start.elapsed(), Duration::from_secs(3));

        let (_alive, gone) = oneshot::channel();
        let waiting = r.take_token("ns", "q", Instant::now() + Duration::from_secs(30), gone);
        let unpause = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let limit = RateLimitConfig {
                rate_limit: Some(RateLimit {
                    requests_per_second: 1.0,
                }),
                metadata: None,
            };
            r.limits
                .store
                .set_api("ns", "q", TaskQueueType::Activity, queue_limit(limit))
                .await
                .unwrap();
        };
        let start = Instant::now();
        let (taken, ()) = tokio::join!(waiting, unpause);
        assert!(taken.unwrap());
        assert!(
            start.elapsed() <= Duration::from_secs(5) + CACHE_FOR + RECHECK_EVERY,
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_poller_that_leaves_stops_waiting_for_a_token() {
        let r = rates();
        let paused = RateLimitConfig {
            rate_limit: Some(RateLimit::default()),
            metadata: None,
        };
        r.limits
            .store
            .set_api("ns", "q", TaskQueueType::Activity, queue_limit(paused))
            .await
            .unwrap();
        let (alive, gone) = oneshot::channel::<()>();
        drop(alive);
        let start = Instant::now();
        assert!(
            !r.take_token("ns", "q", start + Duration::from_secs(30), gone)
                .await
                .unwrap()
        );
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
