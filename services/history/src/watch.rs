//! Wake-ups for long polls: a waiter subscribes to a run, a commit to that run wakes it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct Watchers {
    runs: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Watchers {
    /// Call before reading the state, then await `notified()` on the result: a commit between
    /// the read and the wait is not missed.
    pub(crate) fn subscribe(&self, run_id: &str) -> Arc<Notify> {
        let mut runs = self.runs.lock().expect("watchers lock");
        runs.entry(run_id.to_owned()).or_default().clone()
    }

    pub(crate) fn changed(&self, run_id: &str) {
        let notify = self.runs.lock().expect("watchers lock").remove(run_id);
        if let Some(n) = notify {
            n.notify_waiters();
        }
    }

    /// Drops the entry of a run nobody waits on any more.
    pub(crate) fn unsubscribe(&self, run_id: &str, notify: Arc<Notify>) {
        let mut runs = self.runs.lock().expect("watchers lock");
        // One reference in the map, one here: this was the last waiter.
        if runs.get(run_id).is_some_and(|n| Arc::ptr_eq(n, &notify)) && Arc::strong_count(&notify) == 2 {
            runs.remove(run_id);
        }
    }
}
