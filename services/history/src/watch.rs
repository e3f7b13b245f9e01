//! Wake-ups for long polls: a waiter subscribes to an execution (namespace and id, any run), a
//! commit to it wakes the waiter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct Watchers {
    runs: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Watchers {
    /// Call before reading the state, then await `notified()` on the result: a commit between
    /// the read and the wait is not missed.
    pub(crate) fn subscribe(&self, namespace: &str, id: &str) -> Arc<Notify> {
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        runs.entry(key(namespace, id)).or_default().clone()
    }

    pub(crate) fn changed(&self, namespace: &str, id: &str) {
        let notify = self
            .runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key(namespace, id));
        if let Some(n) = notify {
            n.notify_waiters();
        }
    }

    /// Drops the entry of a run nobody waits on any more.
    pub(crate) fn unsubscribe(&self, namespace: &str, id: &str, notify: Arc<Notify>) {
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        let key = key(namespace, id);
        // One reference in the map, one here: this was the last waiter.
        if runs.get(&key).is_some_and(|n| Arc::ptr_eq(n, &notify))
            && Arc::strong_count(&notify) == 2
        {
            runs.remove(&key);
        }
    }
}

fn key(namespace: &str, id: &str) -> String {
    format!("{namespace}\n{id}")
}
