//! The in-process backend: a backlog per priority level (fair across fairness keys, `fair`) and a
//! line of waiting pollers per queue, under one mutex held only for a push or a pop.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::fair::{FairLevel, KeyRate, stride};
use crate::{
    ActivityTask, POLLER_TTL, PRIORITY_LEVELS, PollerSeen, Popped, QueueError, QueueStats, Receipt,
    TaskQueueBackend,
};

type Key = (String, String);

#[derive(Default)]
struct Queue {
    /// Per priority level, first first: each task with when it was queued, for the backlog's age.
    backlog: [FairLevel<(ActivityTask, SystemTime)>; PRIORITY_LEVELS],
    waiters: VecDeque<oneshot::Sender<ActivityTask>>,
    pollers: HashMap<String, SystemTime>,
    /// The last push or poll.
    seen: Option<SystemTime>,
}

#[derive(Clone, Default)]
pub struct InProcessQueue {
    queues: Arc<Mutex<HashMap<Key, Queue>>>,
}

impl InProcessQueue {
    pub fn new() -> Self {
        Self::default()
    }

    fn push_now(&self, mut task: ActivityTask) {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        let q = queues
            .entry((task.namespace.clone(), task.task_queue.clone()))
            .or_default();
        q.seen = Some(SystemTime::now());
        // Polls wait only while nothing can dispatch, so a task without a rate of its own goes
        // straight to one; a rate-limited one queues and may then be handed out.
        if task.key_rate.is_none() {
            while let Some(waiter) = q.waiters.pop_front() {
                match waiter.send(task) {
                    Ok(()) => return,
                    Err(back) => task = back, // that poller left; try the next one
                }
            }
        }
        q.enqueue(task);
        while !q.waiters.is_empty() {
            let Some((task, _)) = q.pop_first() else {
                break;
            };
            q.hand(task);
        }
    }
}

/// Microseconds on a monotonic clock: what key rates are measured in.
fn now_us() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_micros() as u64
}

impl Queue {
    /// The first task of the first level that has one its key's rate lets go now.
    fn pop_first(&mut self) -> Option<(ActivityTask, SystemTime)> {
        let now = now_us();
        self.backlog.iter_mut().find_map(|level| level.pop(now))
    }

    /// When a key parked by its rate may dispatch, if one will.
    fn next_ready(&self) -> Option<Instant> {
        let at = self
            .backlog
            .iter()
            .filter_map(FairLevel::next_ready)
            .min()?;
        let wait = Duration::from_micros(at.saturating_sub(now_us()));
        Some(Instant::now() + wait)
    }

    fn enqueue(&mut self, task: ActivityTask) {
        let (level, stride) = (task.level(), stride(task.fairness_weight));
        let (key, rate) = (task.fairness_key.clone(), task.key_rate.map(KeyRate));
        self.backlog[level].push(&key, stride, rate, (task, SystemTime::now()));
    }

    /// To the first poll still waiting; back in line when every poll left.
    fn hand(&mut self, mut task: ActivityTask) {
        while let Some(waiter) = self.waiters.pop_front() {
            match waiter.send(task) {
                Ok(()) => return,
                Err(back) => task = back,
            }
        }
        self.enqueue(task);
    }
}

/// A poller's place in line. If the poll is dropped (client gone) after a task was handed to it,
/// the task goes back to the queue instead of being lost.
struct Waiter {
    rx: oneshot::Receiver<ActivityTask>,
    queue: InProcessQueue,
}

impl Waiter {
    fn take_late_task(&mut self) -> Option<ActivityTask> {
        self.rx.close();
        self.rx.try_recv().ok()
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(task) = self.take_late_task() {
            self.queue.push_now(task);
        }
    }
}

#[async_trait::async_trait]
impl TaskQueueBackend for InProcessQueue {
    async fn push(&self, task: ActivityTask) -> Result<(), QueueError> {
        self.push_now(task);
        Ok(())
    }

    async fn pop(
        &self,
        namespace: &str,
        task_queue: &str,
        identity: &str,
        deadline: Instant,
    ) -> Result<Option<Popped>, QueueError> {
        let popped = |task, queued_at| {
            Some(Popped {
                task,
                receipt: Receipt::default(),
                queued_at,
            })
        };
        loop {
            let (rx, ready) = {
                let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
                let q = queues
                    .entry((namespace.to_owned(), task_queue.to_owned()))
                    .or_default();
                let now = SystemTime::now();
                q.pollers
                    .retain(|_, seen| now.duration_since(*seen).unwrap_or_default() < POLLER_TTL);
                q.pollers.insert(identity.to_owned(), now);
                q.seen = Some(now);
                if let Some((task, queued_at)) = q.pop_first() {
                    return Ok(popped(task, queued_at));
                }
                // A poll that may not wait (a zero timeout) answers at once, not at a timer's tick.
                if deadline <= Instant::now() {
                    return Ok(None);
                }
                let (tx, rx) = oneshot::channel();
                q.waiters.retain(|w| !w.is_closed());
                q.waiters.push_back(tx);
                (rx, q.next_ready())
            };
            let mut waiter = Waiter {
                rx,
                queue: self.clone(),
            };
            // Until the deadline, or until a key its rate parked may go (then look again).
            let until = ready.map_or(deadline, |at| at.min(deadline));
            tokio::select! {
                task = &mut waiter.rx => return Ok(task.ok().and_then(|t| popped(t, SystemTime::now()))),
                _ = tokio::time::sleep_until(until) => {
                    if let Some(t) = waiter.take_late_task() {
                        return Ok(popped(t, SystemTime::now()));
                    }
                    if until >= deadline {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Nothing to do: a popped task has left the process's memory already.
    async fn ack(
        &self,
        _namespace: &str,
        _task_queue: &str,
        _receipt: Receipt,
    ) -> Result<(), QueueError> {
        Ok(())
    }

    async fn stats(&self, namespace: &str, task_queue: &str) -> Result<QueueStats, QueueError> {
        let queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(queues
            .get(&(namespace.to_owned(), task_queue.to_owned()))
            .map_or_else(QueueStats::default, |q| {
                let oldest_by_priority = q
                    .backlog
                    .each_ref()
                    .map(|b| b.fronts().map(|(_, at)| *at).min());
                QueueStats {
                    backlog: q.backlog.iter().map(FairLevel::len).sum(),
                    by_priority: q.backlog.each_ref().map(FairLevel::len),
                    keys_by_priority: q.backlog.each_ref().map(FairLevel::keys),
                    oldest: oldest_by_priority.iter().flatten().min().copied(),
                    oldest_by_priority,
                    pollers: q.waiters.iter().filter(|w| !w.is_closed()).count(),
                }
            }))
    }

    async fn queues(&self, namespace: &str) -> Result<Vec<(String, SystemTime)>, QueueError> {
        let queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        let now = SystemTime::now();
        let mut seen: Vec<_> = queues
            .iter()
            .filter(|((ns, _), _)| ns == namespace)
            .filter_map(|((_, name), q)| Some((name.clone(), q.seen?)))
            .filter(|(_, at)| now.duration_since(*at).unwrap_or_default() < POLLER_TTL)
            .collect();
        seen.sort_by_key(|(_, at)| std::cmp::Reverse(*at));
        Ok(seen)
    }

    async fn pollers(
        &self,
        namespace: &str,
        task_queue: &str,
    ) -> Result<Vec<PollerSeen>, QueueError> {
        let queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        let now = SystemTime::now();
        let mut seen: Vec<_> = queues
            .get(&(namespace.to_owned(), task_queue.to_owned()))
            .into_iter()
            .flat_map(|q| &q.pollers)
            .filter(|(_, at)| now.duration_since(**at).unwrap_or_default() < POLLER_TTL)
            .map(|(identity, at)| PollerSeen {
                identity: identity.clone(),
                last_access: *at,
            })
            .collect();
        seen.sort_by_key(|p| std::cmp::Reverse(p.last_access));
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn task(run: &str) -> ActivityTask {
        ActivityTask {
            namespace: "ns".into(),
            task_queue: "q".into(),
            run_id: run.into(),
            attempt: 1,
            ..Default::default()
        }
    }
    async fn pop(q: &InProcessQueue, ns: &str, queue: &str, ms: u64) -> Option<ActivityTask> {
        let popped = q
            .pop(
                ns,
                queue,
                "worker",
                Instant::now() + Duration::from_millis(ms),
            )
            .await
            .unwrap();
        popped.map(|p| p.task)
    }

    #[tokio::test]
    async fn backlog_is_served_in_order() {
        let q = InProcessQueue::new();
        q.push(task("a")).await.unwrap();
        q.push(task("b")).await.unwrap();
        let stats = q.stats("ns", "q").await.unwrap();
        assert_eq!(stats.backlog, 2);
        assert!(stats.oldest.is_some_and(|at| at <= SystemTime::now()));
        assert_eq!(pop(&q, "ns", "q", 10).await, Some(task("a")));
        assert_eq!(pop(&q, "ns", "q", 10).await, Some(task("b")));
    }

    #[tokio::test]
    async fn a_waiting_poller_gets_a_pushed_task_directly() {
        let q = InProcessQueue::new();
        let poll = tokio::spawn({
            let q = q.clone();
            async move { pop(&q, "ns", "q", 5_000).await }
        });
        while q.stats("ns", "q").await.unwrap().pollers == 0 {
            tokio::task::yield_now().await;
        }
        q.push(task("a")).await.unwrap();
        assert_eq!(poll.await.unwrap(), Some(task("a")));
        assert_eq!(q.stats("ns", "q").await.unwrap().backlog, 0);
    }

    #[tokio::test]
    async fn a_higher_priority_goes_first_and_each_level_in_order() {
        let q = InProcessQueue::new();
        let at = |run: &str, priority| ActivityTask {
            priority,
            ..task(run)
        };
        for t in [
            at("low", 5),
            at("default-1", 0),
            at("high", 1),
            at("default-2", 3),
        ] {
            q.push(t).await.unwrap();
        }
        assert_eq!(
            q.stats("ns", "q").await.unwrap().by_priority,
            [1, 0, 2, 0, 1]
        );
        let mut order = Vec::new();
        while let Some(t) = pop(&q, "ns", "q", 10).await {
            order.push(t.run_id);
        }
        assert_eq!(order, ["high", "default-1", "default-2", "low"]);
    }

    #[tokio::test]
    async fn an_empty_poll_answers_none_at_its_deadline() {
        let q = InProcessQueue::new();
        assert_eq!(pop(&q, "ns", "q", 20).await, None);
        assert_eq!(q.stats("ns", "q").await.unwrap().pollers, 0);
    }

    #[tokio::test]
    async fn queues_are_separate_by_namespace_and_name() {
        let q = InProcessQueue::new();
        q.push(task("a")).await.unwrap();
        assert_eq!(pop(&q, "other", "q", 10).await, None);
        assert_eq!(pop(&q, "ns", "q2", 10).await, None);
    }

    #[tokio::test]
    async fn a_task_handed_to_an_abandoned_poll_goes_back_to_the_queue() {
        let q = InProcessQueue::new();
        let (tx, rx) = oneshot::channel();
        let waiter = Waiter {
            rx,
            queue: q.clone(),
        };
        tx.send(task("b")).unwrap();
        drop(waiter);
        assert_eq!(pop(&q, "ns", "q", 10).await, Some(task("b")));
    }
}
