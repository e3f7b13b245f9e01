//! The task queue contract, run against the in-process backend and a real Redis; then what only
//! the Redis backend and the rate limiters promise. Each Redis test has a key prefix of its own and
//! deletes its keys when done. Without a reachable Redis the Redis tests are skipped, unless
//! `CI=true`, where they fail.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use redis::AsyncCommands;
use tls_redis::{ClientAuth, TlsRedis};
use tokio::time::Instant;
use waymark_api::Duration as ConfigDuration;
use waymark_api::{ConfigMetadata, RateLimit, RateLimitConfig, TaskQueueConfig, TaskQueueType};
use waymark_queue::{
    ActivityTask, PAUSED_RECHECK, Popped, QueueConfigStore, QueueError, QueueLimits, RateLimiter,
    RedisConfig, RedisQueue, RedisRateLimiter, RedisTls, TaskQueueBackend,
};

mod tls_redis;

// ---------------------------------------------------------------------------------------------
// Harness

fn task(queue: &str, run: &str) -> ActivityTask {
    ActivityTask {
        namespace: "ns".into(),
        task_queue: queue.into(),
        run_id: run.into(),
        attempt: 1,
        ..Default::default()
    }
}

fn after(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms)
}

async fn pop(q: &dyn TaskQueueBackend, queue: &str, ms: u64) -> Option<Popped> {
    q.pop("ns", queue, "worker", after(ms)).await.unwrap()
}

/// Checks `cond` until it holds; fails after `within`.
async fn eventually<F: Future<Output = bool>>(within: Duration, mut cond: impl FnMut() -> F) {
    let deadline = Instant::now() + within;
    while !cond().await {
        assert!(
            Instant::now() < deadline,
            "condition not met within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Short enough waits for tests to notice what happens within a second.
fn test_config(url: &str, prefix: &str, consumer: &str) -> RedisConfig {
    RedisConfig {
        url: url.to_owned(),
        prefix: prefix.to_owned(),
        consumer: consumer.to_owned(),
        block: ConfigDuration::from_millis(200),
        claim_every: ConfigDuration::from_millis(100),
        reader_idle: ConfigDuration::from_secs(1),
        ..RedisConfig::default()
    }
}

/// A Redis key prefix of this test's own; its keys are deleted on drop, even after a panic.
struct TestRedis {
    url: String,
    prefix: String,
}

impl TestRedis {
    async fn start() -> Option<TestRedis> {
        let url = std::env::var("WAYMARK_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let reachable = async {
            let cfg = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(1)));
            let mut conn = redis::Client::open(url.as_str())?
                .get_multiplexed_async_connection_with_config(&cfg)
                .await?;
            redis::cmd("PING").exec_async(&mut conn).await
        };
        if let Err(e) = reachable.await {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "redis unreachable at {url}: {e}"
            );
            eprintln!("note: redis unreachable at {url} ({e}); skipping this test");
            return None;
        }
        let prefix = format!("wmtest-{}:", uuid::Uuid::new_v4().simple());
        Some(TestRedis { url, prefix })
    }

    fn config(&self, consumer: &str) -> RedisConfig {
        test_config(&self.url, &self.prefix, consumer)
    }

    async fn queue(&self, consumer: &str) -> RedisQueue {
        RedisQueue::connect(&self.config(consumer)).await.unwrap()
    }

    async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// Connections whose client name is `name`.
    async fn clients_named(&self, name: &str) -> usize {
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut self.conn().await)
            .await
            .unwrap();
        list.lines()
            .filter(|l| l.split(' ').any(|field| field == format!("name={name}")))
            .count()
    }

    async fn keys(&self) -> Vec<String> {
        let mut conn = self.conn().await;
        let mut keys: Vec<String> = Vec::new();
        let mut iter = conn
            .scan_match::<_, String>(format!("{}*", self.prefix))
            .await
            .unwrap();
        while let Some(key) = iter.next_item().await {
            keys.push(key.unwrap());
        }
        keys.sort();
        keys
    }

    /// Entries read by the group and not acknowledged.
    async fn pending(&self, key: &str) -> usize {
        let reply: redis::streams::StreamPendingReply =
            self.conn().await.xpending(key, "matching").await.unwrap();
        reply.count()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        use redis::Commands;
        let Ok(mut conn) = redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection())
        else {
            return;
        };
        let keys: Vec<String> = match conn.scan_match(format!("{}*", self.prefix)) {
            Ok(iter) => iter.filter_map(Result::ok).collect(),
            Err(_) => return,
        };
        if !keys.is_empty() {
            let _: redis::RedisResult<usize> = conn.del(keys);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The contract: every backend

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod in_process {
            $(#[tokio::test]
            async fn $name() {
                super::$name(std::sync::Arc::new(waymark_queue::InProcessQueue::new())).await;
            })*
        }
        mod redis_streams {
            $(#[tokio::test]
            async fn $name() {
                let Some(env) = super::TestRedis::start().await else { return };
                super::$name(std::sync::Arc::new(env.queue("contract").await)).await;
            })*
        }
        /// Over TLS, to a Redis that also verifies the client's certificate.
        mod redis_streams_over_mutual_tls {
            $(#[tokio::test]
            async fn $name() {
                let Some(redis) = super::TlsRedis::start(super::ClientAuth::Required).await else { return };
                super::$name(std::sync::Arc::new(super::tls_queue(&redis, redis.client_tls()).await.unwrap())).await;
            })*
        }
    };
}

contract!(
    a_popped_task_round_trips_and_ack_empties_the_backlog,
    the_backlog_is_served_first_in_first_out,
    a_waiting_poll_is_served_within_50ms_of_a_push,
    an_empty_poll_answers_none_at_its_deadline,
    queues_are_separate_by_namespace_and_name,
    a_task_handed_to_a_poll_that_left_goes_to_the_next_poll,
    pollers_are_listed_by_identity,
    the_backlog_age_is_that_of_the_oldest_task,
    every_task_of_a_higher_priority_goes_before_any_of_a_lower_one,
    fairness_keys_share_a_level_by_weight_each_in_order,
    a_higher_level_goes_first_whatever_the_fairness_keys,
    a_key_at_its_rate_waits_for_its_next_token_while_other_keys_go,
    the_namespaces_queues_are_listed_most_recently_used_first,
);

async fn the_namespaces_queues_are_listed_most_recently_used_first(q: Arc<dyn TaskQueueBackend>) {
    q.push(task("pushed", "a")).await.unwrap();
    assert_eq!(pop(&*q, "polled", 10).await, None);
    let listed = q.queues("ns").await.unwrap();
    assert!(
        listed.windows(2).all(|w| w[0].1 >= w[1].1),
        "most recent first"
    );
    let mut names: Vec<&str> = listed.iter().map(|(name, _)| name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["polled", "pushed"]);
    assert!(q.queues("other").await.unwrap().is_empty());
}

fn at_priority(queue: &str, run: &str, priority: i32) -> ActivityTask {
    ActivityTask {
        priority,
        ..task(queue, run)
    }
}

fn keyed(run: &str, key: &str, weight: f32) -> ActivityTask {
    ActivityTask {
        fairness_key: key.into(),
        fairness_weight: weight,
        ..task("q", run)
    }
}

/// Issue 16's case, scaled down: three keys of weights 5, 3 and 2 with 30 tasks each; the first 30
/// dispatches are 15, 9 and 6, each key's first in order.
async fn fairness_keys_share_a_level_by_weight_each_in_order(q: Arc<dyn TaskQueueBackend>) {
    for i in 0..30 {
        for (key, weight) in [("a", 5.0), ("b", 3.0), ("c", 2.0)] {
            q.push(keyed(&format!("{key}-{i}"), key, weight))
                .await
                .unwrap();
        }
    }
    let stats = q.stats("ns", "q").await.unwrap();
    assert_eq!(
        (stats.backlog, stats.keys_by_priority),
        (90, [0, 0, 3, 0, 0])
    );
    let mut taken = Vec::new();
    for _ in 0..30 {
        let popped = pop(&*q, "q", 1_000).await.expect("a task");
        taken.push(popped.task.run_id.clone());
        q.ack("ns", "q", popped.receipt).await.unwrap();
    }
    for (key, share) in [("a", 15), ("b", 9), ("c", 6)] {
        let mine: Vec<&String> = taken
            .iter()
            .filter(|r| r.starts_with(&format!("{key}-")))
            .collect();
        let expected: Vec<String> = (0..share).map(|i| format!("{key}-{i}")).collect();
        assert_eq!(
            mine,
            expected.iter().collect::<Vec<_>>(),
            "key {key} in {taken:?}"
        );
    }
    assert_eq!(q.stats("ns", "q").await.unwrap().backlog, 60);
}

/// A key of 5 tasks a second gets one at once and the next 200 ms later; a key without a rate
/// is not held back meanwhile, and a poll waiting for the slow key is served when its token comes.
async fn a_key_at_its_rate_waits_for_its_next_token_while_other_keys_go(
    q: Arc<dyn TaskQueueBackend>,
) {
    for i in 0..3 {
        q.push(ActivityTask {
            key_rate: Some(5.0),
            ..keyed(&format!("slow-{i}"), "slow", 1.0)
        })
        .await
        .unwrap();
        q.push(keyed(&format!("free-{i}"), "free", 1.0))
            .await
            .unwrap();
    }
    let began = Instant::now();
    let mut taken = Vec::new();
    for _ in 0..4 {
        let popped = pop(&*q, "q", 100).await.expect("a task at once");
        taken.push(popped.task.run_id.clone());
        q.ack("ns", "q", popped.receipt).await.unwrap();
    }
    assert_eq!(taken, ["free-0", "slow-0", "free-1", "free-2"]);
    assert!(
        began.elapsed() < Duration::from_millis(150),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(
        q.stats("ns", "q").await.unwrap().keys_by_priority,
        [0, 0, 1, 0, 0]
    );
    let next = pop(&*q, "q", 2_000)
        .await
        .expect("the slow key's next task");
    let waited = began.elapsed();
    assert_eq!(next.task.run_id, "slow-1");
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_millis(700),
        "served after {waited:?}"
    );
    q.ack("ns", "q", next.receipt).await.unwrap();
}

async fn a_higher_level_goes_first_whatever_the_fairness_keys(q: Arc<dyn TaskQueueBackend>) {
    for i in 0..5 {
        q.push(ActivityTask {
            priority: 4,
            ..keyed(&format!("heavy-{i}"), "heavy", 1000.0)
        })
        .await
        .unwrap();
    }
    q.push(ActivityTask {
        priority: 2,
        ..keyed("light", "light", 0.001)
    })
    .await
    .unwrap();
    let first = pop(&*q, "q", 1_000).await.expect("a task");
    assert_eq!(first.task.run_id, "light");
    assert_eq!(first.task.fairness_key, "light", "the key round-trips");
    q.ack("ns", "q", first.receipt).await.unwrap();
    let stats = q.stats("ns", "q").await.unwrap();
    assert_eq!(
        (stats.by_priority, stats.keys_by_priority),
        ([0, 0, 0, 5, 0], [0, 0, 0, 1, 0])
    );
}

/// Issue 16's case: 50 priority-5 tasks, then 5 priority-1 tasks; the next 5 polls get the
/// priority-1 tasks, and each level is first in, first out.
async fn every_task_of_a_higher_priority_goes_before_any_of_a_lower_one(
    q: Arc<dyn TaskQueueBackend>,
) {
    for i in 0..50 {
        q.push(at_priority("q", &format!("low-{i}"), 5))
            .await
            .unwrap();
    }
    q.push(at_priority("q", "default", 0)).await.unwrap();
    for i in 0..5 {
        q.push(at_priority("q", &format!("high-{i}"), 1))
            .await
            .unwrap();
    }
    let stats = q.stats("ns", "q").await.unwrap();
    assert_eq!((stats.backlog, stats.by_priority), (56, [5, 0, 1, 0, 50]));
    let mut order = Vec::new();
    for _ in 0..7 {
        let popped = pop(&*q, "q", 1_000).await.expect("a task");
        order.push(popped.task.run_id.clone());
        q.ack("ns", "q", popped.receipt).await.unwrap();
    }
    assert_eq!(
        order,
        [
            "high-0", "high-1", "high-2", "high-3", "high-4", "default", "low-0"
        ]
    );
    assert_eq!(
        q.stats("ns", "q").await.unwrap().by_priority,
        [0, 0, 0, 0, 49]
    );
}

async fn a_popped_task_round_trips_and_ack_empties_the_backlog(q: Arc<dyn TaskQueueBackend>) {
    q.push(task("q", "a")).await.unwrap();
    assert_eq!(q.stats("ns", "q").await.unwrap().backlog, 1);
    let popped = pop(&*q, "q", 1_000).await.expect("a task");
    assert_eq!(popped.task, task("q", "a"));
    q.ack("ns", "q", popped.receipt).await.unwrap();
    assert_eq!(q.stats("ns", "q").await.unwrap().backlog, 0);
}

async fn the_backlog_is_served_first_in_first_out(q: Arc<dyn TaskQueueBackend>) {
    for run in ["a", "b", "c"] {
        q.push(task("q", run)).await.unwrap();
    }
    for run in ["a", "b", "c"] {
        let popped = pop(&*q, "q", 1_000).await.expect("a task");
        assert_eq!(popped.task.run_id, run);
        q.ack("ns", "q", popped.receipt).await.unwrap();
    }
}

async fn a_waiting_poll_is_served_within_50ms_of_a_push(q: Arc<dyn TaskQueueBackend>) {
    let poll = tokio::spawn({
        let q = q.clone();
        async move {
            let popped = pop(&*q, "q", 5_000).await;
            (popped, Instant::now())
        }
    });
    eventually(Duration::from_secs(2), || async {
        q.stats("ns", "q").await.unwrap().pollers == 1
    })
    .await;
    let pushed = Instant::now();
    q.push(task("q", "a")).await.unwrap();
    let (popped, served) = poll.await.unwrap();
    assert_eq!(popped.expect("a task").task, task("q", "a"));
    let latency = served - pushed;
    assert!(
        latency < Duration::from_millis(50),
        "served {latency:?} after the push"
    );
}

async fn an_empty_poll_answers_none_at_its_deadline(q: Arc<dyn TaskQueueBackend>) {
    let start = Instant::now();
    assert_eq!(pop(&*q, "q", 100).await, None);
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert_eq!(q.stats("ns", "q").await.unwrap().pollers, 0);
}

async fn queues_are_separate_by_namespace_and_name(q: Arc<dyn TaskQueueBackend>) {
    q.push(task("q", "a")).await.unwrap();
    assert_eq!(
        q.pop("other", "q", "worker", after(50)).await.unwrap(),
        None
    );
    assert_eq!(pop(&*q, "q2", 50).await, None);
    assert_eq!(
        pop(&*q, "q", 1_000).await.expect("a task").task,
        task("q", "a")
    );
}

async fn a_task_handed_to_a_poll_that_left_goes_to_the_next_poll(q: Arc<dyn TaskQueueBackend>) {
    let mut stalled = Box::pin(q.pop("ns", "q", "worker", after(5_000)));
    tokio::select! {
        biased;
        _ = &mut stalled => panic!("nothing was pushed yet"),
        _ = eventually(Duration::from_secs(2), || async { q.stats("ns", "q").await.unwrap().pollers == 1 }) => {}
    }
    q.push(task("q", "a")).await.unwrap();
    // Handed over (the poll left the line) but never taken: the client went away.
    eventually(Duration::from_secs(2), || async {
        q.stats("ns", "q").await.unwrap().pollers == 0
    })
    .await;
    drop(stalled);
    assert_eq!(
        pop(&*q, "q", 1_000).await.expect("the task, again").task,
        task("q", "a")
    );
}

async fn pollers_are_listed_by_identity(q: Arc<dyn TaskQueueBackend>) {
    for who in ["w1", "w2", "w1"] {
        q.pop("ns", "q", who, Instant::now()).await.unwrap();
    }
    let seen: HashSet<_> = q
        .pollers("ns", "q")
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.identity)
        .collect();
    assert_eq!(seen, HashSet::from(["w1".to_owned(), "w2".to_owned()]));
    assert!(q.pollers("ns", "other").await.unwrap().is_empty());
}

async fn the_backlog_age_is_that_of_the_oldest_task(q: Arc<dyn TaskQueueBackend>) {
    assert_eq!(q.stats("ns", "q").await.unwrap().oldest, None);
    let before = SystemTime::now() - Duration::from_millis(5); // Redis's clock rounds to the ms
    q.push(task("q", "a")).await.unwrap();
    q.push(task("q", "b")).await.unwrap();
    let after_push = SystemTime::now() + Duration::from_millis(5);
    let oldest = q
        .stats("ns", "q")
        .await
        .unwrap()
        .oldest
        .expect("a backlog has an oldest task");
    assert!(
        before <= oldest && oldest <= after_push,
        "{oldest:?} not between {before:?} and {after_push:?}"
    );
    for _ in 0..2 {
        let popped = pop(&*q, "q", 1_000).await.expect("a task");
        q.ack("ns", "q", popped.receipt).await.unwrap();
    }
    assert_eq!(q.stats("ns", "q").await.unwrap().oldest, None);
}

// ---------------------------------------------------------------------------------------------
// Redis only

#[tokio::test]
async fn fifty_waiting_polls_share_one_reader_connection() {
    let Some(env) = TestRedis::start().await else {
        return;
    };
    let consumer = format!("share-{}", uuid::Uuid::new_v4().simple());
    let q = Arc::new(env.queue(&consumer).await);
    let before = env.clients_named(&consumer).await;
    let polls: Vec<_> = (0..50)
        .map(|_| {
            let q = q.clone();
            tokio::spawn(async move { pop(&*q, "q", 10_000).await })
        })
        .collect();
    eventually(Duration::from_secs(5), || async {
        q.stats("ns", "q").await.unwrap().pollers == 50
    })
    .await;
    // The reader connects on its own time: wait for it, then make sure it is the only one.
    eventually(Duration::from_secs(5), || async {
        env.clients_named(&consumer).await > before
    })
    .await;
    assert_eq!(
        env.clients_named(&consumer).await,
        before + 1,
        "one reader connection for 50 polls"
    );
    for i in 0..50 {
        q.push(task("q", &i.to_string())).await.unwrap();
    }
    let mut runs = HashSet::new();
    for poll in polls {
        let popped = poll.await.unwrap().expect("every poll served");
        runs.insert(popped.task.run_id);
        q.ack("ns", "q", popped.receipt).await.unwrap();
    }
    assert_eq!(runs.len(), 50);
    assert_eq!(env.clients_named(&consumer).await, before + 1);
}

#[tokio::test]
async fn ack_removes_the_entry_from_pending_and_from_the_stream() {
    let Some(env) = TestRedis::start().await else {
        return;
    };
    let q = env.queue("acker").await;
    let stream = q
        .keys()
        .stream("ns", "q", waymark_queue::TaskKind::Activity);
    q.push(task("q", "a")).await.unwrap();
    let popped = pop(&q, "q", 1_000).await.expect("a task");
    assert_eq!(env.pending(&stream).await, 1);
    q.ack("ns", "q", popped.receipt).await.unwrap();
    assert_eq!(env.pending(&stream).await, 0);
    let len: usize = env.conn().await.xlen(&stream).await.unwrap();
    assert_eq!(len, 0);
}

#[tokio::test]
async fn entries_a_dead_instance_read_are_reclaimed_by_another_after_min_idle() {
    let Some(env) = TestRedis::start().await else {
        return;
    };
    let dead = env.queue("dead").await;
    let stream = dead
        .keys()
        .stream("ns", "q", waymark_queue::TaskKind::Activity);
    dead.push(task("q", "a")).await.unwrap();
    let lost = pop(&dead, "q", 1_000).await.expect("a task");
    let read_at = Instant::now();
    drop(dead); // read, never acknowledged

    let live = RedisQueue::connect(&RedisConfig {
        claim_min_idle: ConfigDuration::from_millis(300),
        ..env.config("live")
    })
    .await
    .unwrap();
    let again = pop(&live, "q", 5_000).await.expect("the reclaimed task");
    let waited = read_at.elapsed();
    assert_eq!(again, lost, "the same entry, same receipt");
    assert!(
        waited >= Duration::from_millis(300),
        "reclaimed after {waited:?}, before min idle"
    );
    assert!(
        waited < Duration::from_secs(2),
        "reclaimed only after {waited:?}"
    );
    assert_eq!(env.pending(&stream).await, 1);
    live.ack("ns", "q", again.receipt).await.unwrap();
    assert_eq!(env.pending(&stream).await, 0);
}

/// Fair order lives in Redis: instances take turns on one queue and the shares still hold, and a
/// key's stream goes once its tasks are acknowledged.
#[tokio::test]
async fn fair_order_holds_across_instances_and_a_keys_stream_goes_when_empty() {
    let Some(env) = TestRedis::start().await else {
        return;
    };
    let before = env.queue("before-restart").await;
    for i in 0..20 {
        for (key, weight) in [("a", 3.0), ("b", 1.0)] {
            before
                .push(keyed(&format!("{key}-{i}"), key, weight))
                .await
                .unwrap();
        }
    }
    drop(before);
    let instances = [env.queue("a").await, env.queue("b").await];
    let mut taken = Vec::new();
    for n in 0..20 {
        let q = &instances[n % 2];
        let popped = pop(q, "q", 1_000).await.expect("a task");
        taken.push(popped.task.fairness_key.clone());
        q.ack("ns", "q", popped.receipt).await.unwrap();
    }
    let a = taken.iter().filter(|k| *k == "a").count();
    assert_eq!((a, 20 - a), (15, 5), "{taken:?}");
    let b_stream = format!(
        "{}:f:b",
        instances[0]
            .keys()
            .stream("ns", "q", waymark_queue::TaskKind::Activity)
    );
    assert!(env.keys().await.contains(&b_stream));
    for _ in 0..20 {
        let popped = pop(&instances[0], "q", 1_000).await.expect("a task");
        instances[0].ack("ns", "q", popped.receipt).await.unwrap();
    }
    let left = env.keys().await;
    assert!(!left.iter().any(|k| k.contains(":f:")), "{left:?}");
}

/// Priority holds across instances and over a restart: the streams keep each level's tasks,
/// and every instance reads the levels first first.
#[tokio::test]
async fn priority_order_holds_across_instances_and_a_restart() {
    let Some(env) = TestRedis::start().await else {
        return;
    };
    let before = env.queue("before-restart").await;
    for i in 0..10 {
        before
            .push(at_priority("q", &format!("low-{i}"), 4))
            .await
            .unwrap();
    }
    before.push(at_priority("q", "high", 2)).await.unwrap();
    drop(before);
    let (a, b) = (env.queue("a").await, env.queue("b").await);
    let first = pop(&a, "q", 1_000).await.expect("a task");
    assert_eq!(first.task.run_id, "high");
    a.ack("ns", "q", first.receipt).await.unwrap();
    b.push(at_priority("q", "urgent", 1)).await.unwrap();
    let next = pop(&b, "q", 1_000).await.expect("a task");
    assert_eq!(
        next.task.run_id, "urgent",
        "read by the other instance, first all the same"
    );
    b.ack("ns", "q", next.receipt).await.unwrap();
    let then = pop(&a, "q", 1_000).await.expect("a task");
    assert_eq!(then.task.run_id, "low-0");
}

#[tokio::test]
async fn pollers_seen_by_one_instance_are_listed_by_another() {
    let Some(env) = TestRedis::start().await else {
        return;
    };
    let (a, b) = (env.queue("a").await, env.queue("b").await);
    a.pop("ns", "q", "worker-on-a", Instant::now())
        .await
        .unwrap();
    let seen = b.pollers("ns", "q").await.unwrap();
    assert_eq!(
        seen.iter().map(|p| p.identity.as_str()).collect::<Vec<_>>(),
        ["worker-on-a"]
    );
    let age = std::time::SystemTime::now()
        .duration_since(seen[0].last_access)
        .unwrap_or_default();
    assert!(age < Duration::from_secs(5), "last access {age:?} ago");
}

#[tokio::test]
async fn every_key_starts_with_the_prefix_and_carries_the_queue_hash_tag() {
    let Some(env) = TestRedis::start().await else {
        return;
    };
    let q = env.queue("keys").await;
    q.push(task("q/x", "a")).await.unwrap();
    let popped = pop(&q, "q/x", 1_000).await.expect("a task");
    q.ack("ns", "q/x", popped.receipt).await.unwrap();
    q.rate_limiter().acquire("ns", "q/x", 5.0).await.unwrap();
    let mut keys = env.keys().await;
    let index = format!("{}queues:ns:activity", env.prefix);
    assert!(keys.contains(&index), "the namespace's queues: {keys:?}");
    keys.retain(|k| *k != index);
    assert_eq!(
        keys.len(),
        5,
        "the level's stream and its fairness hash, the bell, pollers, rate bucket: {keys:?}"
    );
    for key in &keys {
        let tag = format!("{}{{ns/q%2Fx}}:", env.prefix);
        assert!(key.starts_with(&tag), "{key} does not start with {tag}");
    }
}

#[tokio::test]
async fn twenty_per_second_shared_by_two_redis_limiters_lets_twenty_per_second_through() {
    let Some(env) = TestRedis::start().await else {
        return;
    };
    let limiters = [
        Arc::new(RedisRateLimiter::connect(&env.config("l1")).await.unwrap()),
        Arc::new(RedisRateLimiter::connect(&env.config("l2")).await.unwrap()),
    ];
    let taken = Arc::new(AtomicUsize::new(0));
    let deadline = after(2_000);
    let workers: Vec<_> = (0..8)
        .map(|i| {
            let (limiter, taken) = (limiters[i % 2].clone(), taken.clone());
            tokio::spawn(async move {
                while limiter
                    .acquire_until("ns", "q", 20.0, deadline)
                    .await
                    .unwrap()
                {
                    taken.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    // One token at once, then 20 per second for 2 s, shared by both limiters.
    let n = taken.load(Ordering::Relaxed);
    assert!(
        (36..=41).contains(&n),
        "{n} tokens in 2 s at 20/s from a new bucket"
    );
}

#[tokio::test]
async fn a_zero_rate_holds_dispatch_until_the_deadline() {
    let Some(env) = TestRedis::start().await else {
        return;
    };
    let limiter = env.queue("paused").await.rate_limiter();
    assert_eq!(
        limiter.acquire("ns", "q", 0.0).await.unwrap(),
        PAUSED_RECHECK
    );
    let start = Instant::now();
    assert!(
        !limiter
            .acquire_until("ns", "q", 0.0, after(300))
            .await
            .unwrap()
    );
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(
        limiter
            .acquire_until("ns", "q", 20.0, after(300))
            .await
            .unwrap(),
        "a positive rate lets through again"
    );
}

// ---------------------------------------------------------------------------------------------
// Queue settings: every store

macro_rules! config_contract {
    ($($name:ident),* $(,)?) => {
        mod config_in_process {
            $(#[tokio::test]
            async fn $name() {
                super::$name(std::sync::Arc::new(waymark_queue::InProcessQueueConfig::new())).await;
            })*
        }
        mod config_redis {
            $(#[tokio::test]
            async fn $name() {
                let Some(env) = super::TestRedis::start().await else { return };
                super::$name(std::sync::Arc::new(env.queue("config").await.config_store())).await;
            })*
        }
    };
}

config_contract!(
    an_api_limit_is_stored_per_queue_and_type,
    the_most_recent_poll_sets_or_removes_the_worker_limit,
);

fn rate_limit(rps: Option<f32>, reason: &str) -> RateLimitConfig {
    RateLimitConfig {
        rate_limit: rps.map(|requests_per_second| RateLimit {
            requests_per_second,
        }),
        metadata: Some(ConfigMetadata {
            reason: reason.into(),
            update_identity: "op".into(),
            update_time: None,
        }),
    }
}

fn api_limit(rps: Option<f32>, reason: &str) -> TaskQueueConfig {
    TaskQueueConfig {
        queue_rate_limit: Some(rate_limit(rps, reason)),
        ..TaskQueueConfig::default()
    }
}

async fn an_api_limit_is_stored_per_queue_and_type(store: Arc<dyn QueueConfigStore>) {
    use TaskQueueType::{Activity, Nexus, Unspecified};
    assert_eq!(
        store.limits("ns", "q", Activity).await.unwrap(),
        QueueLimits::default()
    );
    store
        .set_api("ns", "q", Activity, api_limit(Some(2.5), "slow"))
        .await
        .unwrap();
    store
        .set_api("ns", "q", Unspecified, api_limit(Some(0.0), "paused"))
        .await
        .unwrap();
    assert_eq!(
        store.limits("ns", "q", Activity).await.unwrap().api,
        api_limit(Some(2.5), "slow")
    );
    assert_eq!(
        store.limits("ns", "q", Unspecified).await.unwrap().api,
        api_limit(Some(0.0), "paused")
    );
    let unset = TaskQueueConfig::default();
    assert_eq!(store.limits("ns", "q", Nexus).await.unwrap().api, unset);
    assert_eq!(store.limits("ns", "q2", Activity).await.unwrap().api, unset);
    assert_eq!(
        store.limits("other", "q", Activity).await.unwrap().api,
        unset
    );
    // A removal keeps who removed it.
    store
        .set_api("ns", "q", Activity, api_limit(None, "done"))
        .await
        .unwrap();
    assert_eq!(
        store.limits("ns", "q", Activity).await.unwrap().api,
        api_limit(None, "done")
    );
    // Fairness settings are kept with it.
    let fair = TaskQueueConfig {
        fairness_keys_rate_limit_default: Some(rate_limit(Some(3.0), "per tenant")),
        fairness_weight_overrides: [("vip".to_owned(), 10.0)].into(),
        ..api_limit(None, "done")
    };
    store
        .set_api("ns", "q", Activity, fair.clone())
        .await
        .unwrap();
    assert_eq!(store.limits("ns", "q", Activity).await.unwrap().api, fair);
}

async fn the_most_recent_poll_sets_or_removes_the_worker_limit(store: Arc<dyn QueueConfigStore>) {
    use TaskQueueType::{Activity, Workflow};
    store.record_poll("ns", "q", "w1", Some(2.5)).await.unwrap();
    store.record_poll("ns", "q", "w2", Some(4.0)).await.unwrap();
    let limits = store.limits("ns", "q", Activity).await.unwrap();
    assert_eq!(limits.worker, Some(4.0));
    assert_eq!(
        limits.pollers,
        [("w1".to_owned(), 2.5), ("w2".to_owned(), 4.0)].into()
    );
    store.record_poll("ns", "q", "w2", None).await.unwrap();
    let limits = store.limits("ns", "q", Activity).await.unwrap();
    assert_eq!(
        (limits.worker, limits.pollers),
        (None, [("w1".to_owned(), 2.5)].into())
    );
    // Worker limits belong to activity queues.
    store.record_poll("ns", "q", "w1", Some(1.0)).await.unwrap();
    assert_eq!(
        store.limits("ns", "q", Workflow).await.unwrap(),
        QueueLimits::default()
    );
}

#[tokio::test]
async fn queue_settings_keys_start_with_the_prefix_and_carry_the_queue_hash_tag() {
    let Some(env) = TestRedis::start().await else {
        return;
    };
    let store = env.queue("config-keys").await.config_store();
    store
        .set_api(
            "ns",
            "q/x",
            TaskQueueType::Activity,
            api_limit(Some(1.0), ""),
        )
        .await
        .unwrap();
    store
        .record_poll("ns", "q/x", "w", Some(1.0))
        .await
        .unwrap();
    let keys = env.keys().await;
    assert_eq!(keys.len(), 2, "config, poller rates: {keys:?}");
    for key in &keys {
        assert!(
            key.starts_with(&format!("{}{{ns/q%2Fx}}:", env.prefix)),
            "{key}"
        );
    }
}

/// A limit of 1e-20 a second (Temporal accepts it) in Redis: the first task goes, the next waits
/// at most the capped wait, and the script never fails on the huge numbers.
#[tokio::test]
async fn a_tiny_rate_in_redis_waits_capped_and_never_errs() {
    let Some(env) = TestRedis::start().await else {
        return;
    };
    let limiter = env.queue("tiny").await.rate_limiter();
    assert_eq!(
        limiter.acquire("ns", "q", 1e-20).await.unwrap(),
        Duration::ZERO
    );
    assert_eq!(
        limiter.acquire("ns", "q", 1e-20).await.unwrap(),
        Duration::from_secs(3600)
    );
    assert!(
        !limiter
            .acquire_until("ns", "q", 1e-300, after(100))
            .await
            .unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// TLS (`rediss://`), on a private Redis that speaks nothing else

/// A queue of the TLS Redis (the test's own server: the default prefix is the test's own too).
async fn tls_queue(redis: &TlsRedis, tls: RedisTls) -> Result<RedisQueue, QueueError> {
    RedisQueue::connect(&RedisConfig {
        tls,
        ..test_config(&redis.url(), "waymark:", "tls")
    })
    .await
}

#[tokio::test]
async fn a_rediss_url_trusting_the_servers_ca_carries_tasks_and_rate_limits() {
    let Some(redis) = TlsRedis::start(ClientAuth::None).await else {
        return;
    };
    let tls = RedisTls {
        ca: Some(redis.files().ca),
        ..RedisTls::default()
    };
    let q = tls_queue(&redis, tls.clone()).await.unwrap();
    q.push(task("q", "a")).await.unwrap();
    assert_eq!(
        pop(&q, "q", 1_000).await.expect("a task").task,
        task("q", "a")
    );
    let limiter = RedisRateLimiter::connect(&RedisConfig {
        tls,
        ..test_config(&redis.url(), "waymark:", "tls")
    })
    .await
    .unwrap();
    assert_eq!(
        limiter.acquire("ns", "q", 10.0).await.unwrap(),
        Duration::ZERO
    );
}

#[tokio::test]
async fn a_server_certificate_of_an_untrusted_ca_is_refused() {
    let Some(redis) = TlsRedis::start(ClientAuth::None).await else {
        return;
    };
    let other_ca = RedisTls {
        ca: Some(redis.files().other_ca),
        ..RedisTls::default()
    };
    // Without a CA file, only Mozilla's roots are trusted.
    for tls in [other_ca, RedisTls::default()] {
        let refused = tls_queue(&redis, tls).await.err().expect("refused");
        assert!(refused.to_string().contains("UnknownIssuer"), "{refused}");
    }
}

#[tokio::test]
async fn a_redis_that_verifies_clients_refuses_one_without_a_certificate() {
    let Some(redis) = TlsRedis::start(ClientAuth::Required).await else {
        return;
    };
    let ca_only = RedisTls {
        ca: Some(redis.files().ca),
        ..RedisTls::default()
    };
    assert!(tls_queue(&redis, ca_only).await.is_err());
    assert!(tls_queue(&redis, redis.client_tls()).await.is_ok());
}
