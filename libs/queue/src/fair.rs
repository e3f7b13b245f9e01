//! Fair dispatch within one priority level: a FIFO line per fairness key, served by stride
//! scheduling. Each key's next task has a pass; the lowest pass goes first, and a dispatch moves its
//! key's pass on by the key's stride (`STRIDE_FACTOR / weight`). Keys that all have backlog are so
//! served in proportion to their weights; a key that had none starts one stride after the pass of
//! the last dispatch, so idle time earns no credit. A key may have a rate limit of its own: while it
//! has no token it is parked, out of turn, until it has one. The Redis backend runs the same rules
//! in Lua.

use std::collections::{BTreeSet, HashMap, VecDeque};

/// A weight's stride is `STRIDE_FACTOR / weight`: the lowest weight (0.001) steps 1,000,000, the
/// highest (1000) steps 1, all whole numbers (as Temporal's matching does).
const STRIDE_FACTOR: f64 = 1000.0;
/// Temporal's clamp of a fairness weight.
const MIN_WEIGHT: f32 = 0.001;
const MAX_WEIGHT: f32 = 1000.0;

/// The weight a key is served at: 0 (unset) and below count as 1, the rest clamped.
pub fn weight(weight: f32) -> f64 {
    f64::from(if weight > 0.0 {
        weight.clamp(MIN_WEIGHT, MAX_WEIGHT)
    } else {
        1.0
    })
}

/// How far a key's pass moves per dispatch at `weight`.
pub fn stride(w: f32) -> u64 {
    (STRIDE_FACTOR / weight(w)).round().max(1.0) as u64
}

/// A key's own dispatch rate (tasks a second; 0 holds its tasks), as a token bucket of
/// max(ceil(rate), 1) tokens that starts with one (as the queue's rate limit):
/// kept as the time its next token is due (GCRA).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KeyRate(pub f64);

impl KeyRate {
    /// Microseconds between tokens, and how far ahead of time the burst may go.
    fn interval_and_burst(self) -> Option<(u64, u64)> {
        (self.0 > 0.0).then(|| {
            let interval = (1e6 / self.0).ceil() as u64;
            (interval, (self.0.ceil().max(1.0) as u64 - 1) * interval)
        })
    }

    /// When the key may dispatch next (µs), given its token's due time `due` (None: a key new to
    /// the bucket); `NEVER` while its rate holds everything.
    pub(crate) fn ready_at(self, due: Option<u64>, now: u64) -> u64 {
        match self.interval_and_burst() {
            Some((_, burst)) => due.map_or(now, |due| due.saturating_sub(burst)),
            None => NEVER,
        }
    }

    /// The due time after one dispatch at `now` (µs).
    pub(crate) fn after_dispatch(self, due: Option<u64>, now: u64) -> u64 {
        let (interval, burst) = self.interval_and_burst().unwrap_or((0, 0));
        due.unwrap_or(now + burst).max(now) + interval
    }
}

/// A parked key's wake-up time when its rate is 0.
const NEVER: u64 = u64::MAX;

struct Line<T> {
    tasks: VecDeque<T>,
    /// The pass of its first task: its place in `order` (unless parked).
    pass: u64,
    stride: u64,
    rate: Option<KeyRate>,
    /// Out of turn until then (µs), its rate having no token for it.
    parked: Option<u64>,
}

/// One priority level's backlog.
pub(crate) struct FairLevel<T> {
    lines: HashMap<String, Line<T>>,
    /// The keys by the pass of their first task, lowest first (ties by key).
    order: BTreeSet<(u64, String)>,
    /// Parked keys by when they may dispatch again (µs; `NEVER` for a rate of 0).
    parked: BTreeSet<(u64, String)>,
    /// Each rate-limited key's next token due time (µs); kept a while after its line empties, so
    /// that a key cannot beat its rate by emptying its line.
    due: HashMap<String, u64>,
    /// The pass of the last task dispatched.
    now: u64,
    len: usize,
}

impl<T> Default for FairLevel<T> {
    fn default() -> Self {
        FairLevel {
            lines: HashMap::new(),
            order: BTreeSet::new(),
            parked: BTreeSet::new(),
            due: HashMap::new(),
            now: 0,
            len: 0,
        }
    }
}

impl<T> FairLevel<T> {
    /// Queues `task` last in `key`'s line; `stride` (of the task's weight) and `rate` become the
    /// key's. A parked key is looked at again at the next pop (its rate may have changed).
    pub(crate) fn push(&mut self, key: &str, stride: u64, rate: Option<KeyRate>, task: T) {
        self.len += 1;
        if let Some(line) = self.lines.get_mut(key) {
            line.stride = stride;
            line.rate = rate;
            line.tasks.push_back(task);
            if let Some(at) = line.parked {
                self.parked.remove(&(at, key.to_owned()));
                self.unpark(key.to_owned());
            }
            return;
        }
        let pass = self.now + stride;
        self.order.insert((pass, key.to_owned()));
        self.lines.insert(
            key.to_owned(),
            Line {
                tasks: VecDeque::from([task]),
                pass,
                stride,
                rate,
                parked: None,
            },
        );
    }

    /// The first task of the key with the lowest pass among those their rate lets dispatch at
    /// `now` (µs); keys it does not are parked on the way.
    pub(crate) fn pop(&mut self, now: u64) -> Option<T> {
        while let Some((at, _)) = self.parked.first()
            && *at <= now
        {
            let (_, key) = self.parked.pop_first().expect("a first");
            self.unpark(key);
        }
        loop {
            let (pass, key) = self.order.pop_first()?;
            let line = self.lines.get_mut(&key).expect("an ordered key has a line");
            if let Some(rate) = line.rate {
                let due = self.due.get(&key).copied();
                let at = rate.ready_at(due, now);
                if at > now {
                    line.parked = Some(at);
                    self.parked.insert((at, key));
                    continue;
                }
                self.due.insert(key.clone(), rate.after_dispatch(due, now));
            }
            let task = line.tasks.pop_front().expect("a line is never empty");
            self.now = pass;
            self.len -= 1;
            if line.tasks.is_empty() {
                self.lines.remove(&key);
            } else {
                line.pass = pass + line.stride;
                self.order.insert((line.pass, key));
            }
            // Due times in the past say nothing a new bucket would not: forgotten now and then.
            if self.due.len() > 2 * self.lines.len() + 64 {
                self.due.retain(|_, due| *due > now);
            }
            return Some(task);
        }
    }

    /// Puts a parked key back in turn, no earlier than the last dispatch (its wait earns no credit).
    fn unpark(&mut self, key: String) {
        let line = self.lines.get_mut(&key).expect("a parked key has a line");
        line.parked = None;
        line.pass = line.pass.max(self.now);
        self.order.insert((line.pass, key));
    }

    /// When the first parked key may dispatch (µs), if one will.
    pub(crate) fn next_ready(&self) -> Option<u64> {
        self.parked
            .first()
            .map(|(at, _)| *at)
            .filter(|at| *at != NEVER)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// How many fairness keys have backlog.
    pub(crate) fn keys(&self) -> usize {
        self.lines.len()
    }

    /// The first (oldest) task of each key.
    pub(crate) fn fronts(&self) -> impl Iterator<Item = &T> {
        self.lines.values().filter_map(|line| line.tasks.front())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_follow_the_weight_clamped_as_temporal_clamps_it() {
        assert_eq!(stride(1.0), 1000);
        assert_eq!(stride(0.0), 1000, "unset is weight 1");
        assert_eq!(stride(-3.0), 1000);
        assert_eq!(stride(5.0), 200);
        assert_eq!(stride(3.0), 333);
        assert_eq!(stride(0.0001), 1_000_000, "clamped to 0.001");
        assert_eq!(stride(5000.0), 1, "clamped to 1000");
    }

    #[test]
    fn keys_with_backlog_share_dispatches_by_weight_and_each_key_stays_in_order() {
        let mut level = FairLevel::default();
        for (key, weight) in [("a", 5.0), ("b", 3.0), ("c", 2.0)] {
            for n in 0..300 {
                level.push(key, stride(weight), None, (key, n));
            }
        }
        assert_eq!((level.len(), level.keys()), (900, 3));
        let first: Vec<_> = (0..300).map(|_| level.pop(0).unwrap()).collect();
        let count = |key| first.iter().filter(|(k, _)| *k == key).count();
        assert_eq!((count("a"), count("b"), count("c")), (150, 90, 60));
        for key in ["a", "b", "c"] {
            let ns: Vec<_> = first
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|t| t.1)
                .collect();
            assert!(ns.windows(2).all(|w| w[0] < w[1]), "{key} out of order");
        }
        while level.pop(0).is_some() {}
        assert_eq!((level.len(), level.keys()), (0, 0));
    }

    #[test]
    fn a_key_that_comes_late_gets_no_credit_for_the_time_it_had_no_backlog() {
        let mut level = FairLevel::default();
        for n in 0..100 {
            level.push("busy", stride(1.0), None, ("busy", n));
        }
        for _ in 0..50 {
            level.pop(0);
        }
        for n in 0..10 {
            level.push("late", stride(1.0), None, ("late", n));
        }
        // From now on the two alternate instead of "late" taking ten in a row.
        let next: Vec<_> = (0..6).map(|_| level.pop(0).unwrap().0).collect();
        assert_eq!(next, ["busy", "late", "busy", "late", "busy", "late"]);
    }

    #[test]
    fn one_key_is_plain_fifo() {
        let mut level = FairLevel::default();
        for n in 0..5 {
            level.push("", stride(0.0), None, n);
        }
        let order: Vec<_> = std::iter::from_fn(|| level.pop(0)).collect();
        assert_eq!(order, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_rate_limited_key_waits_for_its_tokens_while_the_others_go_on() {
        let mut level = FairLevel::default();
        let two_a_second = Some(KeyRate(2.0));
        for n in 0..10 {
            level.push("slow", stride(1.0), two_a_second, ("slow", n));
            level.push("free", stride(1.0), None, ("free", n));
        }
        // At t=0 "slow" has its first token (a bucket starts with one), then none until 0.5 s.
        let at_zero: Vec<_> = std::iter::from_fn(|| level.pop(0)).collect();
        assert_eq!(at_zero.iter().filter(|t| t.0 == "slow").count(), 1);
        assert_eq!(at_zero.iter().filter(|t| t.0 == "free").count(), 10);
        assert_eq!(level.next_ready(), Some(500_000));
        assert_eq!(level.pop(499_999), None);
        assert_eq!(level.pop(500_000), Some(("slow", 1)));
        assert_eq!(level.pop(500_000), None);
        // Two tokens (its burst) after a quiet spell, in order.
        assert_eq!(level.pop(10_000_000), Some(("slow", 2)));
        assert_eq!(level.pop(10_000_000), Some(("slow", 3)));
        assert_eq!(level.pop(10_000_000), None);
        assert_eq!(level.keys(), 1);
    }

    #[test]
    fn a_rate_of_zero_holds_a_key_until_a_push_brings_another_rate() {
        let mut level = FairLevel::default();
        level.push("held", stride(1.0), Some(KeyRate(0.0)), 1);
        assert_eq!((level.pop(0), level.next_ready()), (None, None));
        level.push("held", stride(1.0), None, 2);
        assert_eq!(level.pop(0), Some(1));
    }
}
