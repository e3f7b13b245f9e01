//! The latest-run slot of an execution id (`activity_latest`, `workflow_latest`): the row that
//! says which run an id names, claimed by the transaction that creates a run.

use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait};

use crate::StoreError;
use crate::entity::{activity_latest, workflow_latest};

/// A table of latest-run slots, keyed by namespace and execution id.
pub(crate) trait LatestRuns: EntityTrait {
    fn namespace() -> Self::Column;
    fn id() -> Self::Column;
    fn run_id() -> Self::Column;
}

impl LatestRuns for activity_latest::Entity {
    fn namespace() -> Self::Column {
        activity_latest::Column::Namespace
    }
    fn id() -> Self::Column {
        activity_latest::Column::ActivityId
    }
    fn run_id() -> Self::Column {
        activity_latest::Column::RunId
    }
}

impl LatestRuns for workflow_latest::Entity {
    fn namespace() -> Self::Column {
        workflow_latest::Column::Namespace
    }
    fn id() -> Self::Column {
        workflow_latest::Column::WorkflowId
    }
    fn run_id() -> Self::Column {
        workflow_latest::Column::RunId
    }
}

/// Makes `run_id` the latest run of execution `id`, in `txn`: a new slot when `previous` is
/// None (there was no run), else the slot if it still names `previous`. Conflict when someone
/// else claimed it first. Claimed first in a creating transaction: on PostgreSQL a concurrent
/// creator then blocks on the slot until this one commits, and finds it taken.
pub(crate) async fn claim<E: LatestRuns>(
    txn: &DatabaseTransaction,
    (namespace, id, run_id): (&str, &str, &str),
    previous: Option<&str>,
) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let statement = match previous {
        None => backend.build(
            Query::insert()
                .into_table(E::default())
                .columns([E::namespace(), E::id(), E::run_id()])
                .values_panic([namespace.into(), id.into(), run_id.into()])
                .on_conflict(
                    OnConflict::columns([E::namespace(), E::id()])
                        .do_nothing()
                        .to_owned(),
                ),
        ),
        Some(previous) => backend.build(
            Query::update()
                .table(E::default())
                .value(E::run_id(), run_id)
                .and_where(E::namespace().eq(namespace))
                .and_where(E::id().eq(id))
                .and_where(E::run_id().eq(previous)),
        ),
    };
    match txn.execute_raw(statement).await?.rows_affected() {
        0 => Err(StoreError::Conflict),
        _ => Ok(()),
    }
}
