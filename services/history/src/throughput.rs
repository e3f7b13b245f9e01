//! Activity throughput per namespace and minute, for the UI's overview: counted as each
//! committed transition is observed (schedule-to-start of a taken attempt, a close), added to the
//! store by the sweeper (one upsert per namespace and minute, not one per task), and read back
//! with what this instance has not written yet. Every history instance adds to the same rows.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use waymark_api::{ActivityMinuteStats, ActivityThroughputResponse, Timestamp};
use waymark_store::ActivityMinute;

use crate::{History, HistoryError};

/// The overview's window.
pub(crate) const MINUTES_SHOWN: i64 = 60;
/// Rows older than this are deleted by the retention sweep.
const MINUTES_KEPT: i64 = 2 * MINUTES_SHOWN;
const NANOS_PER_MINUTE: i64 = 60_000_000_000;

/// Counts not yet in the store, by namespace, then minute.
#[derive(Default)]
pub(crate) struct Throughput {
    unwritten: Mutex<HashMap<String, BTreeMap<i64, ActivityMinute>>>,
}

pub(crate) fn minute_of(t: Timestamp) -> i64 {
    t.as_nanos().div_euclid(NANOS_PER_MINUTE)
}

impl Throughput {
    /// Counts an attempt a worker took after waiting `schedule_to_start`, and a close.
    pub(crate) fn count(
        &self,
        ns: &str,
        now: Timestamp,
        schedule_to_start: Option<Duration>,
        closed: Option<bool>,
    ) {
        let mut unwritten = self
            .unwritten
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let minutes = match unwritten.get_mut(ns) {
            Some(m) => m,
            None => unwritten.entry(ns.to_owned()).or_default(),
        };
        let minute = minute_of(now);
        let row = minutes.entry(minute).or_insert_with(|| ActivityMinute {
            namespace: ns.to_owned(),
            minute,
            ..Default::default()
        });
        if let Some(wait) = schedule_to_start {
            let us = i64::try_from(wait.as_micros()).unwrap_or(i64::MAX);
            row.started += 1;
            row.schedule_to_start_total_us = row.schedule_to_start_total_us.saturating_add(us);
            row.schedule_to_start_max_us = row.schedule_to_start_max_us.max(us);
        }
        match closed {
            Some(true) => row.completed += 1,
            Some(false) => row.not_completed += 1,
            None => {}
        }
    }

    fn take(&self) -> Vec<ActivityMinute> {
        let taken = std::mem::take(
            &mut *self
                .unwritten
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        taken
            .into_values()
            .flat_map(BTreeMap::into_values)
            .collect()
    }

    /// Puts back rows the store did not take, to be written with the next batch.
    fn restore(&self, rows: Vec<ActivityMinute>) {
        let mut unwritten = self
            .unwritten
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for row in rows {
            let minutes = unwritten.entry(row.namespace.clone()).or_default();
            match minutes.get_mut(&row.minute) {
                Some(kept) => add(kept, &row),
                None => {
                    minutes.insert(row.minute, row);
                }
            }
        }
    }

    fn unwritten(&self, ns: &str) -> Vec<ActivityMinute> {
        let unwritten = self
            .unwritten
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        unwritten
            .get(ns)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}

fn add(into: &mut ActivityMinute, row: &ActivityMinute) {
    into.started += row.started;
    into.schedule_to_start_total_us += row.schedule_to_start_total_us;
    into.schedule_to_start_max_us = into
        .schedule_to_start_max_us
        .max(row.schedule_to_start_max_us);
    into.completed += row.completed;
    into.not_completed += row.not_completed;
}

/// The stored rows with the unwritten ones added, as the API shows them (oldest first).
fn merged(
    stored: Vec<ActivityMinute>,
    unwritten: Vec<ActivityMinute>,
) -> ActivityThroughputResponse {
    let mut minutes: BTreeMap<i64, ActivityMinute> =
        stored.into_iter().map(|r| (r.minute, r)).collect();
    for row in unwritten {
        match minutes.get_mut(&row.minute) {
            Some(kept) => add(kept, &row),
            None => {
                minutes.insert(row.minute, row);
            }
        }
    }
    let duration = |us: i64| waymark_api::Duration::from_nanos(us.saturating_mul(1000));
    ActivityThroughputResponse {
        minutes: minutes
            .into_values()
            .map(|r| ActivityMinuteStats {
                start_time: Some(Timestamp::from_nanos(r.minute * NANOS_PER_MINUTE)),
                started: r.started,
                schedule_to_start_average: (r.started > 0)
                    .then(|| duration(r.schedule_to_start_total_us / r.started)),
                schedule_to_start_max: (r.started > 0)
                    .then(|| duration(r.schedule_to_start_max_us)),
                completed: r.completed,
                not_completed: r.not_completed,
            })
            .collect(),
    }
}

impl History {
    /// Writes the counts taken since the last call; kept for the next call if the store fails.
    pub(crate) async fn write_throughput(&self) -> Result<(), HistoryError> {
        let rows = self.throughput.take();
        if let Err(e) = self.store.add_activity_minutes(rows.clone()).await {
            self.throughput.restore(rows);
            return Err(e.into());
        }
        Ok(())
    }

    pub(crate) async fn delete_old_throughput(&self) -> Result<u64, HistoryError> {
        let before = minute_of(self.now()) - MINUTES_KEPT;
        Ok(self.store.delete_activity_minutes(before).await?)
    }

    pub(crate) async fn activity_throughput(
        &self,
        ns: &str,
    ) -> Result<ActivityThroughputResponse, HistoryError> {
        self.ensure_namespace(ns).await?;
        let since = minute_of(self.now()) - (MINUTES_SHOWN - 1);
        let stored = self.store.activity_minutes(ns, since).await?;
        let unwritten = self.throughput.unwritten(ns);
        let mut answer = merged(stored, unwritten);
        answer
            .minutes
            .retain(|m| m.start_time.is_some_and(|t| minute_of(t) >= since));
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_minute(m: i64, plus_secs: i64) -> Timestamp {
        Timestamp::from_nanos(m * NANOS_PER_MINUTE + plus_secs * 1_000_000_000)
    }

    #[test]
    fn counts_land_in_their_minute_and_add_to_the_stored_ones() {
        let t = Throughput::default();
        let ms = Duration::from_millis;
        t.count("ns", at_minute(10, 1), Some(ms(20)), None);
        t.count("ns", at_minute(10, 59), Some(ms(40)), Some(true));
        t.count("ns", at_minute(11, 0), None, Some(false));
        t.count("other", at_minute(10, 0), Some(ms(1)), None);
        assert_eq!(t.unwritten("ns").len(), 2);
        let stored = vec![ActivityMinute {
            namespace: "ns".into(),
            minute: 10,
            started: 2,
            schedule_to_start_total_us: 100_000,
            schedule_to_start_max_us: 90_000,
            completed: 2,
            not_completed: 0,
        }];
        let answer = serde_json::to_value(merged(stored, t.unwritten("ns"))).unwrap();
        assert_eq!(
            answer,
            serde_json::json!({"minutes": [
                {"startTime": "1970-01-01T00:10:00Z", "started": "4", "scheduleToStartAverage": "0.040s",
                 "scheduleToStartMax": "0.090s", "completed": "3"},
                {"startTime": "1970-01-01T00:11:00Z", "notCompleted": "1"},
            ]})
        );
    }

    #[test]
    fn taken_rows_are_gone_until_put_back() {
        let t = Throughput::default();
        t.count(
            "ns",
            at_minute(3, 0),
            Some(Duration::from_millis(5)),
            Some(true),
        );
        let rows = t.take();
        assert_eq!(rows.len(), 1);
        assert!(t.unwritten("ns").is_empty());
        t.count("ns", at_minute(3, 1), None, Some(true));
        t.restore(rows);
        let back = t.unwritten("ns");
        assert_eq!((back[0].started, back[0].completed), (1, 2));
    }
}
