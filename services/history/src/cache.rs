//! The latest committed rows of open runs, kept by a history that is its store's only writer
//! (start-dev), so that a transition starts without a read. Every commit through this history
//! refreshes its run's row; the update's version compare still guards the rest.

use std::collections::HashMap;
use std::sync::Mutex;

use waymark_store::{ActivityRecord, WorkflowRecord};

use crate::RunRef;

/// A run's row: what a lookup checks besides the run id.
pub(crate) trait RunRow: Clone {
    fn namespace(&self) -> &str;
    /// The activity or workflow id.
    fn execution_id(&self) -> &str;
    fn run_id(&self) -> &str;
}

impl RunRow for ActivityRecord {
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn execution_id(&self) -> &str {
        &self.activity_id
    }
    fn run_id(&self) -> &str {
        &self.run_id
    }
}

impl RunRow for WorkflowRecord {
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn execution_id(&self) -> &str {
        &self.workflow_id
    }
    fn run_id(&self) -> &str {
        &self.run_id
    }
}

/// Rows by run id, at most `capacity` of them.
pub(crate) struct RunCache<R> {
    rows: Mutex<HashMap<String, R>>,
    capacity: usize,
}

impl<R: RunRow> RunCache<R> {
    /// The kept row of the run `run` names in namespace `ns`. The latest run of an id is
    /// always read: which run that is can change without a commit of the run.
    pub(crate) fn find(&self, ns: &str, run: &RunRef<'_>) -> Option<R> {
        let (id, run_id) = match run {
            RunRef::Run { id, run_id } => (Some(*id), *run_id),
            RunRef::ByRun { run_id } => (None, *run_id),
            RunRef::Latest { .. } => return None,
        };
        self.get(run_id)
            .filter(|r| r.namespace() == ns && id.is_none_or(|id| r.execution_id() == id))
    }

    /// After `row` was committed: kept while its run is open, forgotten once it closed.
    pub(crate) fn committed(&self, row: R, closed: bool) {
        if closed {
            self.forget(row.run_id());
        } else {
            self.put(row.run_id().to_owned(), row);
        }
    }
}

impl<R: Clone> RunCache<R> {
    pub(crate) fn new(capacity: usize) -> Self {
        RunCache {
            rows: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    pub(crate) fn get(&self, run_id: &str) -> Option<R> {
        self.rows.lock().expect("run cache").get(run_id).cloned()
    }

    /// Keeps `row` as the run's latest; when full, an arbitrary other run makes room (a miss
    /// only costs a read).
    pub(crate) fn put(&self, run_id: String, row: R) {
        let mut rows = self.rows.lock().expect("run cache");
        if rows.len() >= self.capacity && !rows.contains_key(&run_id) {
            let evicted = rows.keys().next().cloned();
            if let Some(evicted) = evicted {
                rows.remove(&evicted);
            }
        }
        rows.insert(run_id, row);
    }

    pub(crate) fn forget(&self, run_id: &str) {
        self.rows.lock().expect("run cache").remove(run_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_kept_until_forgotten_and_a_full_cache_makes_room() {
        let cache = RunCache::new(2);
        cache.put("a".into(), 1);
        cache.put("a".into(), 2);
        assert_eq!(cache.get("a"), Some(2));
        cache.forget("a");
        assert_eq!(cache.get("a"), None);
        for (run, row) in [("b", 1), ("c", 2), ("d", 3)] {
            cache.put(run.into(), row);
        }
        assert_eq!(cache.get("d"), Some(3), "the newest row is kept");
        let kept = ["b", "c"].iter().filter(|r| cache.get(r).is_some()).count();
        assert_eq!(kept, 1, "one older row made room");
    }
}
