//! Redis key names. Every key starts with the configured prefix and carries its task queue's
//! Redis Cluster hash tag `{ns/queue}`, so a queue's keys (and its Lua scripts) stay on one shard.

use crate::{PRIORITY_LEVELS, QueueError};

/// Which tasks a stream holds; part of the key so that each kind gets a stream of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskKind {
    Activity,
    Workflow,
}

impl TaskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Activity => "activity",
            TaskKind::Workflow => "workflow",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// A brace in the prefix would become the hash tag instead of the queue's.
    pub fn new(prefix: &str) -> Result<Keys, QueueError> {
        if prefix.contains(['{', '}']) {
            return Err(QueueError::InvalidConfig(format!(
                "redis prefix must not contain braces, got {prefix:?}"
            )));
        }
        Ok(Keys {
            prefix: prefix.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The pub/sub channel of query answers, shared by every matching process.
    pub fn query_answers(&self) -> String {
        format!("{}query-answers", self.prefix)
    }

    /// The namespace's queues (of one kind) by when a task was pushed or a poll came last (ms
    /// since the epoch).
    pub fn queues(&self, ns: &str, kind: TaskKind) -> String {
        format!("{}queues:{}:{}", self.prefix, escape(ns), kind.as_str())
    }

    /// The stream of tasks waiting in a queue at the default priority level.
    pub fn stream(&self, ns: &str, queue: &str, kind: TaskKind) -> String {
        format!("{}:{}", self.tagged(ns, queue), kind.as_str())
    }

    /// The streams of a queue, one per priority level, first first (the default level's is
    /// `stream`, so that tasks queued before levels existed are still read).
    pub fn streams(&self, ns: &str, queue: &str, kind: TaskKind) -> [String; PRIORITY_LEVELS] {
        let default = self.stream(ns, queue, kind);
        std::array::from_fn(|level| match level + 1 {
            3 => default.clone(),
            p => format!("{default}:p{p}"),
        })
    }

    /// The queue's entries read and not yet acknowledged, by when they were read (ms): what a
    /// reader takes over once its reader has been silent too long.
    pub fn inflight(&self, ns: &str, queue: &str, kind: TaskKind) -> String {
        format!("{}:{}:inflight", self.tagged(ns, queue), kind.as_str())
    }

    /// A stream of one entry, added to at every push: where an idle reader waits for work.
    pub fn bell(&self, ns: &str, queue: &str, kind: TaskKind) -> String {
        format!("{}:{}:bell", self.tagged(ns, queue), kind.as_str())
    }

    /// Who polled a queue lately: identity scored by last access (ms since the epoch).
    pub fn pollers(&self, ns: &str, queue: &str, kind: TaskKind) -> String {
        format!("{}:{}:pollers", self.tagged(ns, queue), kind.as_str())
    }

    /// The queue's dispatch token bucket.
    pub fn rate(&self, ns: &str, queue: &str, kind: TaskKind) -> String {
        format!("{}:{}:rate", self.tagged(ns, queue), kind.as_str())
    }

    /// The queue's settings: one hash field per setting (see `RedisQueueConfig`).
    pub fn config(&self, ns: &str, queue: &str) -> String {
        format!("{}:config", self.tagged(ns, queue))
    }

    /// Each recent poller's own rate limit: identity to tasks per second.
    pub fn poller_rates(&self, ns: &str, queue: &str, kind: TaskKind) -> String {
        format!("{}:{}:poller_rates", self.tagged(ns, queue), kind.as_str())
    }

    fn tagged(&self, ns: &str, queue: &str) -> String {
        format!("{}{{{}/{}}}", self.prefix, escape(ns), escape(queue))
    }
}

/// Keeps `ns/queue` unambiguous (`a/b` + `c` vs `a` + `b/c`) and the tag closed by our own brace.
fn escape(name: &str) -> std::borrow::Cow<'_, str> {
    if !name.contains(['%', '/', '{', '}']) {
        return name.into();
    }
    let mut out = String::with_capacity(name.len() + 6);
    for c in name.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            c => out.push(c),
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_queue_share_the_prefix_and_the_hash_tag() {
        let keys = Keys::new("wm:").unwrap();
        assert_eq!(
            keys.stream("ns", "q", TaskKind::Activity),
            "wm:{ns/q}:activity"
        );
        assert_eq!(
            keys.pollers("ns", "q", TaskKind::Activity),
            "wm:{ns/q}:activity:pollers"
        );
        assert_eq!(
            keys.rate("ns", "q", TaskKind::Activity),
            "wm:{ns/q}:activity:rate"
        );
        assert_eq!(keys.config("ns", "q"), "wm:{ns/q}:config");
        assert_eq!(
            keys.poller_rates("ns", "q", TaskKind::Activity),
            "wm:{ns/q}:activity:poller_rates"
        );
    }

    #[test]
    fn names_with_separators_or_braces_do_not_collide_or_break_the_tag() {
        let keys = Keys::new("").unwrap();
        assert_ne!(
            keys.stream("a/b", "c", TaskKind::Activity),
            keys.stream("a", "b/c", TaskKind::Activity)
        );
        assert_eq!(
            keys.stream("n}s", "{q%", TaskKind::Activity),
            "{n%7Ds/%7Bq%25}:activity"
        );
    }

    #[test]
    fn a_prefix_with_a_brace_is_rejected() {
        assert!(matches!(
            Keys::new("wm{x}:"),
            Err(QueueError::InvalidConfig(_))
        ));
    }
}
