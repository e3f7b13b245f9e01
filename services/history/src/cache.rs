//! The latest committed rows of runs, kept by a history that is its store's only writer
//! (start-dev), so that a transition starts without a read. Every commit through this history
//! refreshes its run's row, before it wakes the run's long polls; a row never replaces a newer
//! one (two commits of a run may refresh it in either order), and the update's version compare
//! guards the rest: a transition on a row some commit has not refreshed yet is a conflict, and
//! reads the run again.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use waymark_store::{ActivityRecord, WorkflowRecord};

use crate::RunRef;

/// A run's row: what a lookup checks besides the run id.
pub(crate) trait RunRow: Clone {
    fn namespace(&self) -> &str;
    /// The activity or workflow id.
    fn execution_id(&self) -> &str;
    fn run_id(&self) -> &str;
    fn version(&self) -> i64;
}

/// `RunRow` for a row type whose execution id is its field `$id`.
macro_rules! run_row {
    ($row:ty, $id:ident) => {
        impl RunRow for $row {
            fn namespace(&self) -> &str {
                &self.namespace
            }
            fn execution_id(&self) -> &str {
                &self.$id
            }
            fn run_id(&self) -> &str {
                &self.run_id
            }
            fn version(&self) -> i64 {
                self.version
            }
        }
    };
}

run_row!(ActivityRecord, activity_id);
run_row!(WorkflowRecord, workflow_id);
run_row!(std::sync::Arc<EventLog>, workflow_id);

/// The events of a run as of version `version` of its row, in order from event 1: the history
/// a workflow task's poll answers with.
pub(crate) struct EventLog {
    pub namespace: String,
    pub workflow_id: String,
    pub run_id: String,
    pub version: i64,
    pub events: Vec<String>,
}

/// The most events a kept log holds; a longer history is read from the store.
pub(crate) const EVENTS_KEPT: usize = 1000;

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

    /// Keeps `row`, just committed, unless a newer row of its run is kept already. When full,
    /// an arbitrary other run makes room (a miss only costs a read).
    pub(crate) fn committed(&self, row: R) {
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        if rows
            .get(row.run_id())
            .is_some_and(|kept| kept.version() >= row.version())
        {
            return;
        }
        if rows.len() >= self.capacity && !rows.contains_key(row.run_id()) {
            let evicted = rows.keys().next().cloned();
            if let Some(evicted) = evicted {
                rows.remove(&evicted);
            }
        }
        rows.insert(row.run_id().to_owned(), row);
    }

    /// Drops the run's row (it turned out stale): the next load reads the run.
    pub(crate) fn forget(&self, run_id: &str) {
        self.take(run_id);
    }

    /// Removes the run's row and hands it over (to be extended and kept again).
    pub(crate) fn take(&self, run_id: &str) -> Option<R> {
        self.rows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(run_id)
    }

    fn get(&self, run_id: &str) -> Option<R> {
        self.rows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(run_id)
            .cloned()
    }
}

impl<R> RunCache<R> {
    pub(crate) fn new(capacity: usize) -> Self {
        RunCache {
            rows: Mutex::new(HashMap::new()),
            capacity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(run_id: &str, version: i64) -> WorkflowRecord {
        WorkflowRecord {
            namespace: "ns".into(),
            workflow_id: "w".into(),
            run_id: run_id.into(),
            workflow_type: "T".into(),
            task_queue: "q".into(),
            status: "Running".into(),
            request_id: String::new(),
            start_time_ns: 0,
            close_time_ns: None,
            execution_time_ns: 0,
            attempt: 1,
            state: "{}".into(),
            version,
        }
    }

    fn kept(cache: &RunCache<WorkflowRecord>, run_id: &str) -> Option<i64> {
        cache
            .find("ns", &RunRef::ByRun { run_id })
            .map(|r| r.version)
    }

    #[test]
    fn a_row_never_replaces_a_newer_row_of_its_run() {
        let cache = RunCache::new(8);
        cache.committed(row("a", 3));
        cache.committed(row("a", 2));
        assert_eq!(kept(&cache, "a"), Some(3));
        cache.committed(row("a", 4));
        assert_eq!(kept(&cache, "a"), Some(4));
        cache.forget("a");
        assert_eq!(kept(&cache, "a"), None);
    }

    #[test]
    fn a_lookup_checks_the_namespace_and_id_and_never_answers_for_the_latest_run() {
        let cache = RunCache::new(8);
        cache.committed(row("a", 1));
        assert_eq!(cache.find("other", &RunRef::ByRun { run_id: "a" }), None);
        let run = |id| RunRef::Run { id, run_id: "a" };
        assert!(cache.find("ns", &run("w")).is_some());
        assert_eq!(cache.find("ns", &run("other")), None);
        assert_eq!(cache.find("ns", &RunRef::Latest { id: "w" }), None);
    }

    #[test]
    fn a_full_cache_makes_room_for_a_new_run() {
        let cache = RunCache::new(2);
        for (run, version) in [("b", 1), ("c", 1), ("d", 1)] {
            cache.committed(row(run, version));
        }
        assert_eq!(kept(&cache, "d"), Some(1), "the newest run is kept");
        let older = ["b", "c"]
            .iter()
            .filter(|r| kept(&cache, r).is_some())
            .count();
        assert_eq!(older, 1, "one older run made room");
    }
}
