//! The timer service: fires durable timer rows at history when they come due. It sleeps until
//! the earliest deadline, and is woken early when history writes an earlier one; a periodic
//! scan is only the safety net. Instances claim due timers with a lease, so several can run
//! side by side and none fires a timer another is firing.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use waymark_clients::{ApiResult, Clock, DueTimer, HistoryApi, TimerApi};
use waymark_store::Store;

/// Timers fired per store read.
const BATCH: u64 = 256;
/// Longest sleep without a look at the store (covers a nudge that got lost).
const SAFETY_SCAN: Duration = Duration::from_secs(1);
/// How long a claimed timer is ours to fire; an instance that dies holding it delays it by this.
const CLAIM_LEASE: Duration = Duration::from_secs(10);
/// `sleeping_until` while the loop is not asleep.
const AWAKE: i64 = i64::MAX;
/// Backoff after a store or history error.
const ERROR_BACKOFF: Duration = Duration::from_millis(200);

pub struct TimerService {
    store: Store,
    history: Arc<dyn HistoryApi>,
    clock: Arc<dyn Clock>,
    wake: Notify,
    /// The deadline the loop sleeps until (unix ns); a timer written earlier wakes it.
    sleeping_until: AtomicI64,
}

impl TimerService {
    pub fn new(
        store: Store,
        history: Arc<dyn HistoryApi>,
        clock: Arc<dyn Clock>,
    ) -> Arc<TimerService> {
        Arc::new(TimerService {
            store,
            history,
            clock,
            wake: Notify::new(),
            sleeping_until: AtomicI64::new(AWAKE),
        })
    }

    /// Fires due timers until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            // Awake: any timer written from now on may be earlier than what the loop will read,
            // so every nudge counts (a spare one only costs a loop).
            self.sleeping_until.store(AWAKE, Ordering::Release);
            let pause = match self.fire_due().await {
                Ok(fired) if fired.len() as u64 == BATCH => continue, // more may be due
                Ok(_) => self.until_next().await,
                Err(e) => {
                    tracing::warn!(error = %e, "timer loop error; retrying");
                    ERROR_BACKOFF
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Fires one batch of due timers (at most 256); answers the ids of those it fired.
    pub async fn fire_due(&self) -> Result<Vec<i64>, Box<dyn std::error::Error + Send + Sync>> {
        let now = self.clock.now().as_nanos();
        let due = self
            .store
            .claim_due_timers(now, CLAIM_LEASE.as_nanos() as i64, BATCH)
            .await?;
        let mut fired = Vec::with_capacity(due.len());
        for t in due {
            let (id, due_ns) = (t.id, t.due_ns);
            let timer = DueTimer {
                id,
                namespace: t.namespace,
                run_id: t.run_id,
                kind: t.kind,
                attempt: t.attempt,
            };
            let fired_at = self.clock.now().as_nanos();
            let kind = timer.kind.clone();
            if let Err(e) = self.history.fire_timer(timer).await {
                tracing::warn!(error = %e, timer = id, "timer not fired; will retry");
                return Err(Box::new(e));
            }
            waymark_telemetry::timer_fired(
                &kind,
                Duration::from_nanos(fired_at.saturating_sub(due_ns).max(0) as u64),
            );
            tracing::debug!(timer = id, "fired");
            fired.push(id);
        }
        Ok(fired)
    }

    /// How long to sleep: until the earliest timer, at most the safety scan interval.
    async fn until_next(&self) -> Duration {
        let now = self.clock.now().as_nanos();
        let next = self.store.next_timer_due().await.ok().flatten();
        let wait = next.map_or(SAFETY_SCAN, |due| {
            Duration::from_nanos(due.saturating_sub(now).max(0) as u64).min(SAFETY_SCAN)
        });
        self.sleeping_until.store(
            now.saturating_add(wait.as_nanos() as i64),
            Ordering::Release,
        );
        wait
    }
}

#[async_trait]
impl TimerApi for TimerService {
    async fn timer_written(&self, due_ns: i64) -> ApiResult<()> {
        if due_ns < self.sleeping_until.load(Ordering::Acquire) {
            self.wake.notify_one();
        }
        Ok(())
    }
}
