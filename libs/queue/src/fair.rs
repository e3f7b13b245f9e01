//! Fair dispatch within one priority level: a FIFO line per fairness key, served by stride
//! scheduling. Each key's next task has a pass; the lowest pass goes first, and a dispatch moves its
//! key's pass on by the key's stride (`STRIDE_FACTOR / weight`). Keys that all have backlog are so
//! served in proportion to their weights; a key that had none starts one stride after the pass of
//! the last dispatch, so idle time earns no credit. The Redis backend runs the same rule in Lua.

use std::collections::{BTreeSet, HashMap, VecDeque};

/// A weight's stride is `STRIDE_FACTOR / weight`: the lowest weight (0.001) steps 1,000,000, the
/// highest (1000) steps 1, all whole numbers (as Temporal's matching does).
const STRIDE_FACTOR: f64 = 1000.0;
/// Temporal's clamp of a fairness weight.
const MIN_WEIGHT: f32 = 0.001;
const MAX_WEIGHT: f32 = 1000.0;

/// How far a key's pass moves per dispatch at `weight`: 0 (unset) and below count as 1.
pub fn stride(weight: f32) -> u64 {
    let weight = if weight > 0.0 {
        weight.clamp(MIN_WEIGHT, MAX_WEIGHT)
    } else {
        1.0
    };
    (STRIDE_FACTOR / f64::from(weight)).round().max(1.0) as u64
}

struct Line<T> {
    tasks: VecDeque<T>,
    /// The pass of its first task.
    pass: u64,
    stride: u64,
}

/// One priority level's backlog.
pub(crate) struct FairLevel<T> {
    lines: HashMap<String, Line<T>>,
    /// The keys by the pass of their first task, lowest first (ties by key).
    order: BTreeSet<(u64, String)>,
    /// The pass of the last task dispatched.
    now: u64,
    len: usize,
}

impl<T> Default for FairLevel<T> {
    fn default() -> Self {
        FairLevel {
            lines: HashMap::new(),
            order: BTreeSet::new(),
            now: 0,
            len: 0,
        }
    }
}

impl<T> FairLevel<T> {
    /// Queues `task` last in `key`'s line; `stride` (of the task's weight) becomes the key's.
    pub(crate) fn push(&mut self, key: &str, stride: u64, task: T) {
        self.len += 1;
        if let Some(line) = self.lines.get_mut(key) {
            line.stride = stride;
            line.tasks.push_back(task);
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
            },
        );
    }

    /// The first task of the key with the lowest pass.
    pub(crate) fn pop(&mut self) -> Option<T> {
        let (pass, key) = self.order.pop_first()?;
        let line = self.lines.get_mut(&key).expect("an ordered key has a line");
        let task = line.tasks.pop_front().expect("a line is never empty");
        self.now = pass;
        self.len -= 1;
        if line.tasks.is_empty() {
            self.lines.remove(&key);
        } else {
            line.pass = pass + line.stride;
            self.order.insert((line.pass, key));
        }
        Some(task)
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
                level.push(key, stride(weight), (key, n));
            }
        }
        assert_eq!((level.len(), level.keys()), (900, 3));
        let first: Vec<_> = (0..300).map(|_| level.pop().unwrap()).collect();
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
        while level.pop().is_some() {}
        assert_eq!((level.len(), level.keys()), (0, 0));
    }

    #[test]
    fn a_key_that_comes_late_gets_no_credit_for_the_time_it_had_no_backlog() {
        let mut level = FairLevel::default();
        for n in 0..100 {
            level.push("busy", stride(1.0), ("busy", n));
        }
        for _ in 0..50 {
            level.pop();
        }
        for n in 0..10 {
            level.push("late", stride(1.0), ("late", n));
        }
        // From now on the two alternate instead of "late" taking ten in a row.
        let next: Vec<_> = (0..6).map(|_| level.pop().unwrap().0).collect();
        assert_eq!(next, ["busy", "late", "busy", "late", "busy", "late"]);
    }

    #[test]
    fn one_key_is_plain_fifo() {
        let mut level = FairLevel::default();
        for n in 0..5 {
            level.push("", stride(0.0), n);
        }
        let order: Vec<_> = std::iter::from_fn(|| level.pop()).collect();
        assert_eq!(order, [0, 1, 2, 3, 4]);
    }
}
