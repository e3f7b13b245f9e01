//! Wake-ups for long polls: a waiter subscribes to an execution (namespace and id, any run), a
//! commit to it wakes the waiter. A namespace's list pages follow its changes as a whole: a
//! counter per watched namespace, bumped by every commit to one of its executions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct Watchers {
    runs: Mutex<HashMap<String, Arc<Notify>>>,
    /// Only namespaces somebody has followed have an entry: a commit elsewhere costs a lookup.
    namespaces: RwLock<HashMap<String, Arc<NamespaceChanges>>>,
}

/// How many commits a namespace has seen since it was first followed, and who waits for more.
#[derive(Default)]
pub(crate) struct NamespaceChanges {
    pub(crate) count: AtomicU64,
    pub(crate) notify: Notify,
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
        let namespaces = self
            .namespaces
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(changes) = namespaces.get(namespace) {
            changes.count.fetch_add(1, Ordering::Relaxed);
            changes.notify.notify_waiters();
        }
    }

    /// The changes of `namespace`, followed from now on if they were not yet.
    pub(crate) fn namespace(&self, namespace: &str) -> Arc<NamespaceChanges> {
        if let Some(changes) = self
            .namespaces
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(namespace)
        {
            return changes.clone();
        }
        let mut namespaces = self
            .namespaces
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        namespaces.entry(namespace.to_owned()).or_default().clone()
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
