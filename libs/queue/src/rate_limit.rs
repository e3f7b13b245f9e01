//! Dispatch rate limits per task queue: a token bucket refilled at the queue's rate, holding at
//! most max(ceil(rate), 1) tokens (the burst after a quiet spell). A new bucket starts with one
//! token, not full: a limit just set, or a queue that just got busy, ramps up at its rate instead
//! of letting a second's worth through at once. In process for `start-dev`; in Redis (one atomic
//! Lua script, Redis's clock) when several matching instances share the limit.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::time::Instant;

use crate::{Keys, QueueError, RedisConfig, TaskKind};

/// What `acquire` answers while a queue's rate is 0 (dispatch paused): ask again then, the rate
/// may have changed.
pub const PAUSED_RECHECK: Duration = Duration::from_secs(1);

#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Takes a token from the queue's bucket, refilled at `rate` tokens per second. Answers zero
    /// when it took one; otherwise nothing was taken and the answer is how long until a token
    /// may be there. A rate of 0 (or below) pauses dispatch; an infinite rate never waits.
    async fn acquire(
        &self,
        namespace: &str,
        task_queue: &str,
        rate: f64,
    ) -> Result<Duration, QueueError>;

    /// Waits for a token until `deadline`; false if the deadline came first.
    async fn acquire_until(
        &self,
        namespace: &str,
        task_queue: &str,
        rate: f64,
        deadline: Instant,
    ) -> Result<bool, QueueError> {
        loop {
            let wait = self.acquire(namespace, task_queue, rate).await?;
            if wait.is_zero() {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(wait.min(deadline - now)).await;
        }
    }
}

/// `Some(zero)` or `Some(paused)` when the bucket need not be looked at.
fn shortcut(rate: f64) -> Option<Duration> {
    if rate.is_nan() || rate <= 0.0 {
        Some(PAUSED_RECHECK)
    } else if rate.is_infinite() {
        Some(Duration::ZERO)
    } else {
        None
    }
}

fn burst(rate: f64) -> f64 {
    rate.ceil().max(1.0)
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Default)]
pub struct InProcessRateLimiter {
    buckets: Mutex<HashMap<(String, String), Bucket>>,
}

impl InProcessRateLimiter {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl RateLimiter for InProcessRateLimiter {
    async fn acquire(
        &self,
        namespace: &str,
        task_queue: &str,
        rate: f64,
    ) -> Result<Duration, QueueError> {
        if let Some(wait) = shortcut(rate) {
            return Ok(wait);
        }
        let (burst, now) = (burst(rate), Instant::now());
        // Every update leaves a bucket whole: a panic elsewhere cannot leave one half-written.
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let b = buckets
            .entry((namespace.to_owned(), task_queue.to_owned()))
            .or_insert(Bucket {
                tokens: 1.0,
                at: now,
            });
        b.tokens = burst.min(b.tokens + (now - b.at).as_secs_f64() * rate);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(Duration::ZERO);
        }
        // A tiny rate (1e-20 a second is a valid limit) waits longer than a Duration holds.
        Ok(Duration::try_from_secs_f64((1.0 - b.tokens) / rate).unwrap_or(Duration::MAX))
    }
}

/// KEYS[1]: the bucket. ARGV: rate (tokens per second), burst. Answers 0 when it took a token,
/// else the microseconds until one will be there. Redis's clock, so instances' clocks don't matter.
/// A tiny rate's wait is capped at an hour (the caller checks again well before), and its bucket
/// lives a day at most: a queue limited below one task a day gets one a day.
const TOKEN_BUCKET: &str = r#"
local MAX_WAIT_US, MAX_TTL_MS = 3600000000, 86400000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(b[1]), tonumber(b[2])
if tokens == nil or at == nil then tokens, at = 1, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000000)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.min(math.ceil((1 - tokens) * 1000000 / rate), MAX_WAIT_US) end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.min(math.ceil(burst * 1000 / rate) + 1000, MAX_TTL_MS))
return wait
"#;

/// One bucket per queue in Redis, shared by every matching instance. An expired bucket is a full
/// one, so the key only lives as long as it takes to refill.
#[derive(Clone)]
pub struct RedisRateLimiter {
    conn: ConnectionManager,
    keys: Keys,
    script: redis::Script,
}

impl RedisRateLimiter {
    pub(crate) fn new(conn: ConnectionManager, keys: Keys) -> Self {
        RedisRateLimiter {
            conn,
            keys,
            script: redis::Script::new(TOKEN_BUCKET),
        }
    }

    pub async fn connect(cfg: &RedisConfig) -> Result<Self, QueueError> {
        cfg.validate()?;
        let conn = ConnectionManager::new(cfg.client()?).await?;
        Ok(Self::new(conn, Keys::new(&cfg.prefix)?))
    }
}

#[async_trait::async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn acquire(
        &self,
        namespace: &str,
        task_queue: &str,
        rate: f64,
    ) -> Result<Duration, QueueError> {
        if let Some(wait) = shortcut(rate) {
            return Ok(wait);
        }
        let key = self.keys.rate(namespace, task_queue, TaskKind::Activity);
        let micros: u64 = self
            .script
            .key(key)
            .arg(rate)
            .arg(burst(rate))
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(Duration::from_micros(micros))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_in_process_bucket_starts_with_one_token_and_refills_up_to_the_burst() {
        let limiter = InProcessRateLimiter::new();
        assert_eq!(
            limiter.acquire("ns", "q", 2.5).await.unwrap(),
            Duration::ZERO
        );
        let wait = limiter.acquire("ns", "q", 2.5).await.unwrap();
        assert!(
            wait.abs_diff(Duration::from_millis(400)) < Duration::from_micros(1),
            "{wait:?}"
        );
        tokio::time::advance(wait + Duration::from_micros(1)).await;
        assert_eq!(
            limiter.acquire("ns", "q", 2.5).await.unwrap(),
            Duration::ZERO
        );
        assert_eq!(
            limiter.acquire("ns", "other", 2.5).await.unwrap(),
            Duration::ZERO
        );
        // After a quiet spell the bucket holds the burst, ceil(2.5) = 3, and no more.
        tokio::time::advance(Duration::from_secs(10)).await;
        for _ in 0..3 {
            assert_eq!(
                limiter.acquire("ns", "q", 2.5).await.unwrap(),
                Duration::ZERO
            );
        }
        assert!(limiter.acquire("ns", "q", 2.5).await.unwrap() > Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_rate_pauses_and_an_infinite_rate_never_waits() {
        let limiter = InProcessRateLimiter::new();
        assert_eq!(
            limiter.acquire("ns", "q", 0.0).await.unwrap(),
            PAUSED_RECHECK
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        assert!(
            !limiter
                .acquire_until("ns", "q", 0.0, deadline)
                .await
                .unwrap()
        );
        assert_eq!(Instant::now(), deadline);
        assert_eq!(
            limiter.acquire("ns", "q", f64::INFINITY).await.unwrap(),
            Duration::ZERO
        );
    }

    /// 1e-20 a second is a limit Temporal accepts: the wait it gives is past what a Duration
    /// holds, and must neither panic nor poison the limiter for the other queues.
    #[tokio::test(start_paused = true)]
    async fn a_tiny_rate_waits_as_long_as_a_duration_holds_and_harms_no_other_queue() {
        let limiter = InProcessRateLimiter::new();
        for rate in [1e-20, 1e-300, f64::MIN_POSITIVE] {
            let queue = format!("tiny{rate}");
            assert_eq!(
                limiter.acquire("ns", &queue, rate).await.unwrap(),
                Duration::ZERO
            );
            assert_eq!(
                limiter.acquire("ns", &queue, rate).await.unwrap(),
                Duration::MAX
            );
            let deadline = Instant::now() + Duration::from_millis(50);
            assert!(
                !limiter
                    .acquire_until("ns", &queue, rate, deadline)
                    .await
                    .unwrap()
            );
        }
        assert_eq!(
            limiter.acquire("ns", "q", 2.0).await.unwrap(),
            Duration::ZERO
        );
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_until_lets_twenty_per_second_through() {
        let limiter = InProcessRateLimiter::new();
        let (start, mut n) = (Instant::now(), 0);
        while limiter
            .acquire_until("ns", "q", 20.0, start + Duration::from_millis(2_010))
            .await
            .unwrap()
        {
            n += 1;
        }
        assert_eq!(n, 1 + 40); // the first token, then 20 per second
    }
}
