//! Activity executions: creating runs, versioned updates, lookups, listing and counting.

use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, Set, SqlErr,
};
use waymark_core::visibility;

use crate::entity::{activity, activity_latest};
use crate::latest;
use crate::{ActivityRecord, Effects, OutboxEntry, PageCursor, Store, StoreError, effects};

use activity::Column as A;

impl Store {
    /// The latest run of an activity id.
    pub async fn latest_activity(
        &self,
        namespace: &str,
        activity_id: &str,
    ) -> Result<Option<ActivityRecord>, StoreError> {
        let latest = Query::select()
            .column(activity_latest::Column::RunId)
            .from(activity_latest::Entity)
            .and_where(activity_latest::Column::Namespace.eq(namespace))
            .and_where(activity_latest::Column::ActivityId.eq(activity_id))
            .to_owned();
        Ok(activity::Entity::find()
            .filter(A::RunId.in_subquery(latest))
            .one(&self.db)
            .await?)
    }

    pub async fn get_activity(
        &self,
        namespace: &str,
        activity_id: &str,
        run_id: &str,
    ) -> Result<Option<ActivityRecord>, StoreError> {
        Ok(activity::Entity::find_by_id(run_id)
            .filter(A::Namespace.eq(namespace))
            .filter(A::ActivityId.eq(activity_id))
            .one(&self.db)
            .await?)
    }

    pub async fn get_activity_by_run(
        &self,
        run_id: &str,
    ) -> Result<Option<ActivityRecord>, StoreError> {
        Ok(activity::Entity::find_by_id(run_id).one(&self.db).await?)
    }

    /// Inserts a new run and makes it the latest run of its activity id, with `effects`.
    /// `previous_run` is the latest run the caller saw (None: none); if the latest run is
    /// another one now, Conflict. A run id that exists already is AlreadyExists.
    pub async fn create_activity(
        &self,
        rec: &ActivityRecord,
        previous_run: Option<&str>,
        effects: &Effects,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let row = rec.clone().into_active_model();
        let (namespace, id, run_id) = execution(rec);
        let (previous_run, effects) = (previous_run.map(str::to_owned), effects.clone());
        self.transact(move |txn| {
            Box::pin(async move {
                let execution = (namespace.as_str(), id.as_str(), run_id.as_str());
                // Claim the latest-run slot first: on PostgreSQL a concurrent creator blocks on it
                // until we commit, then finds the slot taken.
                let previous_run = previous_run.as_deref();
                latest::claim::<activity_latest::Entity>(txn, execution, previous_run).await?;
                activity::Entity::insert(row)
                    .exec_without_returning(txn)
                    .await
                    .map_err(already_exists)?;
                effects::finish(txn, execution, &effects).await
            })
        })
        .await
    }

    /// Replaces the run's row if its version is still `expected_version` (`rec.version` is
    /// the new one), else Conflict; applies `effects` in the same transaction.
    pub async fn update_activity(
        &self,
        rec: &ActivityRecord,
        expected_version: i64,
        effects: &Effects,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        // The identity columns never change; everything else is replaced.
        let row = activity::ActiveModel {
            namespace: NotSet,
            activity_id: NotSet,
            run_id: NotSet,
            activity_type: Set(rec.activity_type.clone()),
            task_queue: Set(rec.task_queue.clone()),
            status: Set(rec.status.clone()),
            request_id: Set(rec.request_id.clone()),
            schedule_time_ns: Set(rec.schedule_time_ns),
            close_time_ns: Set(rec.close_time_ns),
            execution_time_ns: Set(rec.execution_time_ns),
            dispatch_at_ns: Set(rec.dispatch_at_ns),
            attempt: Set(rec.attempt),
            state: Set(rec.state.clone()),
            version: Set(rec.version),
        };
        let (namespace, id, run_id) = execution(rec);
        let effects = effects.clone();
        self.transact(move |txn| {
            Box::pin(async move {
                let updated = activity::Entity::update_many()
                    .set(row)
                    .filter(A::RunId.eq(&run_id))
                    .filter(A::Version.eq(expected_version))
                    .exec(txn)
                    .await?;
                if updated.rows_affected == 0 {
                    return Err(StoreError::Conflict);
                }
                effects::finish(txn, (&namespace, &id, &run_id), &effects).await
            })
        })
        .await
    }

    /// A page of runs of `namespace` matching `filter`, newest schedule time first, and
    /// the cursor of the next page if there is one.
    pub async fn list_activities(
        &self,
        namespace: &str,
        filter: Option<&visibility::Expr>,
        page_size: u64,
        after: Option<&PageCursor>,
    ) -> Result<(Vec<ActivityRecord>, Option<PageCursor>), StoreError> {
        self.list_runs::<activity::Entity>(namespace, filter, page_size, after)
            .await
    }

    pub async fn count_activities(
        &self,
        namespace: &str,
        filter: Option<&visibility::Expr>,
    ) -> Result<i64, StoreError> {
        self.count_runs::<activity::Entity>(namespace, filter).await
    }

    /// Counts of matching runs per status, ordered by status; statuses without runs are absent.
    pub async fn count_activities_by_status(
        &self,
        namespace: &str,
        filter: Option<&visibility::Expr>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        self.count_runs_by_status::<activity::Entity>(namespace, filter)
            .await
    }
}

/// The namespace, activity id and run id of `rec`, owned by a transition's writes.
fn execution(rec: &ActivityRecord) -> (String, String, String) {
    (
        rec.namespace.clone(),
        rec.activity_id.clone(),
        rec.run_id.clone(),
    )
}

fn already_exists(err: DbErr) -> StoreError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::AlreadyExists,
        _ => err.into(),
    }
}
