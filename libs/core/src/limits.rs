//! Limits an operator sets: the largest payload, how long and large a workflow history may
//! grow (Temporal's `limit.blobSize.error`, `limit.historyCount.*`, `limit.historySize.*`),
//! and the shortest namespace retention.

use serde::{Deserialize, Serialize};
use waymark_api::{Duration, Timestamp};

/// Temporal's `limit.blobSize.error`.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 2 * 1024 * 1024;
/// Temporal's `namespace.minRetention`: one day.
pub const DEFAULT_MIN_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// The reasons Temporal records when it terminates a run over a history limit.
pub const HISTORY_COUNT_EXCEEDED: &str = "Workflow history count exceeds limit.";
pub const HISTORY_SIZE_EXCEEDED: &str = "Workflow history size exceeds limit.";

/// The limits history enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload (input, result, details, failure) in bytes.
    pub max_payload_bytes: usize,
    pub history: HistoryLimits,
    /// Shortest retention a namespace may be registered with.
    pub min_retention: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            history: HistoryLimits::default(),
            min_retention: DEFAULT_MIN_RETENTION,
        }
    }
}

impl Limits {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_payload_bytes == 0 {
            return Err("the payload size limit must be positive".into());
        }
        if self.min_retention.is_negative() {
            return Err(format!(
                "the minimum retention must not be negative, got {}",
                self.min_retention
            ));
        }
        self.history.validate()
    }

    /// A namespace's retention as registered: Temporal refuses one under the minimum.
    pub fn check_retention(&self, retention: Duration) -> Result<(), String> {
        if retention < self.min_retention {
            return Err("A valid retention period is not set on request.".into());
        }
        Ok(())
    }
}

/// Runs closed before this instant (nanoseconds) are past a retention of `retention_secs`.
pub fn retention_cutoff(now: Timestamp, retention_secs: i64) -> i64 {
    now.as_nanos()
        .saturating_sub(retention_secs.saturating_mul(1_000_000_000))
}

/// History limits: from `*_suggest` a started workflow task suggests continue-as-new
/// (Temporal's `limit.history*.suggestContinueAsNew`), past `*_error` the run is terminated.
/// Temporal's `*.warn` levels only log, so they have no counterpart here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryLimits {
    pub count_suggest: i64,
    pub count_error: i64,
    pub size_suggest: i64,
    pub size_error: i64,
}

impl Default for HistoryLimits {
    /// Temporal's defaults: 4,096 / 51,200 events, 4 MiB / 50 MiB.
    fn default() -> Self {
        HistoryLimits {
            count_suggest: 4 * 1024,
            count_error: 51_200,
            size_suggest: 4 * 1024 * 1024,
            size_error: 50 * 1024 * 1024,
        }
    }
}

impl HistoryLimits {
    pub fn validate(&self) -> Result<(), String> {
        for (name, suggest, error) in [
            ("history count", self.count_suggest, self.count_error),
            ("history size", self.size_suggest, self.size_error),
        ] {
            if suggest <= 0 || suggest > error {
                return Err(format!(
                    "{name} limits must be 0 < suggest <= error, got suggest {suggest} and error {error}"
                ));
            }
        }
        Ok(())
    }

    /// Whether a workflow task whose Started event gets id `started_event_id`, on a history of
    /// `size` bytes, suggests continue-as-new (Temporal counts the Started event, not its size).
    pub fn suggest_continue_as_new(&self, started_event_id: i64, size: i64) -> bool {
        started_event_id >= self.count_suggest || size >= self.size_suggest
    }

    /// Why a write to a run whose stored history has `count` events of `size` bytes must
    /// terminate the run instead, as Temporal does: the history is already past a limit. So the
    /// write that crosses a limit is made, and the next one terminates the run (Temporal 1.32
    /// with `limit.historyCount.error=5` takes a signal as event 6 and terminates at event 7).
    pub fn breached(&self, count: i64, size: i64) -> Option<&'static str> {
        if size > self.size_error {
            Some(HISTORY_SIZE_EXCEEDED)
        } else if count > self.count_error {
            Some(HISTORY_COUNT_EXCEEDED)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporal_defaults_are_valid_and_the_suggestion_cannot_come_after_the_error() {
        let limits = HistoryLimits::default();
        limits.validate().unwrap();
        let inverted = HistoryLimits {
            count_suggest: 10,
            count_error: 5,
            ..limits
        };
        assert_eq!(
            inverted.validate(),
            Err(
                "history count limits must be 0 < suggest <= error, got suggest 10 and error 5"
                    .into()
            )
        );
    }

    #[test]
    fn retention_under_the_minimum_is_refused_and_runs_expire_after_it() {
        let limits = Limits::default();
        assert_eq!(
            limits.check_retention(Duration::from_secs(3599)),
            Err("A valid retention period is not set on request.".into())
        );
        limits.check_retention(Duration::from_secs(86_400)).unwrap();
        let now = Timestamp::from_nanos(10_000_000_000);
        assert_eq!(retention_cutoff(now, 3), 7_000_000_000);
        assert!(retention_cutoff(now, i64::MAX) < 0);
    }

    #[test]
    fn continue_as_new_is_suggested_from_either_threshold() {
        let l = HistoryLimits::default();
        assert!(!l.suggest_continue_as_new(4095, 4 * 1024 * 1024 - 1));
        assert!(l.suggest_continue_as_new(4096, 0));
        assert!(l.suggest_continue_as_new(3, 4 * 1024 * 1024));
    }

    #[test]
    fn a_run_is_terminated_once_its_history_is_past_the_count_or_the_size() {
        let l = HistoryLimits::default();
        assert_eq!(l.breached(51_200, 0), None);
        assert_eq!(l.breached(51_201, 0), Some(HISTORY_COUNT_EXCEEDED));
        assert_eq!(l.breached(10, 50 * 1024 * 1024), None);
        assert_eq!(
            l.breached(51_201, 50 * 1024 * 1024 + 1),
            Some(HISTORY_SIZE_EXCEEDED)
        );
    }
}
