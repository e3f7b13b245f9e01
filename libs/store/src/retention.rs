//! Retention: deletes the runs closed longer ago than their namespace keeps them, with
//! everything of theirs (events, timers, latest-run slot, visibility row), a bounded batch per
//! transaction found through the `(namespace, close_time_ns)` index.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entity::{activity, activity_latest, history_event, timer, workflow, workflow_latest};
use crate::latest::LatestRuns;
use crate::listing::Runs;
use crate::{Store, StoreError};

/// A table of runs with the table of its latest-run slots.
trait Retained: Runs {
    type Latest: LatestRuns;
    fn execution_id() -> Self::Column;
    fn run_id() -> Self::Column;
    fn close_time() -> Self::Column;
    /// Whether the runs have event histories to delete too.
    const HAS_EVENTS: bool;
}

impl Retained for activity::Entity {
    type Latest = activity_latest::Entity;
    fn execution_id() -> activity::Column {
        activity::Column::ActivityId
    }
    fn run_id() -> activity::Column {
        activity::Column::RunId
    }
    fn close_time() -> activity::Column {
        activity::Column::CloseTimeNs
    }
    const HAS_EVENTS: bool = false;
}

impl Retained for workflow::Entity {
    type Latest = workflow_latest::Entity;
    fn execution_id() -> workflow::Column {
        workflow::Column::WorkflowId
    }
    fn run_id() -> workflow::Column {
        workflow::Column::RunId
    }
    fn close_time() -> workflow::Column {
        workflow::Column::CloseTimeNs
    }
    const HAS_EVENTS: bool = true;
}

impl Store {
    /// Deletes up to `limit` standalone activity runs of `namespace` closed before
    /// `closed_before_ns`; their run ids.
    pub async fn delete_closed_activities(
        &self,
        namespace: &str,
        closed_before_ns: i64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        self.delete_closed::<activity::Entity>(namespace, closed_before_ns, limit)
            .await
    }

    /// Deletes up to `limit` workflow runs of `namespace` closed before `closed_before_ns`,
    /// with their histories; their run ids.
    pub async fn delete_closed_workflows(
        &self,
        namespace: &str,
        closed_before_ns: i64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        self.delete_closed::<workflow::Entity>(namespace, closed_before_ns, limit)
            .await
    }

    async fn delete_closed<E: Retained>(
        &self,
        namespace: &str,
        closed_before_ns: i64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        // Found outside the write: a closed run never opens again, so the ids stay right.
        let found: Vec<(String, String)> = E::find()
            .select_only()
            .column(E::run_id())
            .column(E::execution_id())
            .filter(E::namespace().eq(namespace))
            .filter(E::close_time().lt(closed_before_ns))
            .order_by_asc(E::close_time())
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        let (runs, executions): (Vec<String>, Vec<String>) = found.into_iter().unzip();
        if runs.is_empty() {
            return Ok(runs);
        }
        let (ids, namespace) = (runs.clone(), namespace.to_owned());
        self.transact(move |txn| {
            Box::pin(async move {
                let latest = (
                    <E::Latest as LatestRuns>::namespace(),
                    <E::Latest as LatestRuns>::id(),
                    <E::Latest as LatestRuns>::run_id(),
                );
                if E::HAS_EVENTS {
                    history_event::Entity::delete_many()
                        .filter(history_event::Column::RunId.is_in(ids.iter().map(String::as_str)))
                        .exec(txn)
                        .await?;
                }
                timer::Entity::delete_many()
                    .filter(timer::Column::RunId.is_in(ids.iter().map(String::as_str)))
                    .exec(txn)
                    .await?;
                // Found by its key; it goes only if it still names a deleted run, not a newer run
                // of the id (run ids are unique, so the two lists cannot pair up wrongly).
                E::Latest::delete_many()
                    .filter(latest.0.eq(namespace.as_str()))
                    .filter(latest.1.is_in(executions.iter().map(String::as_str)))
                    .filter(latest.2.is_in(ids.iter().map(String::as_str)))
                    .exec(txn)
                    .await?;
                E::delete_many()
                    .filter(E::run_id().is_in(ids.iter().map(String::as_str)))
                    .exec(txn)
                    .await?;
                Ok(Vec::new())
            })
        })
        .await?;
        Ok(runs)
    }
}
