//! Workflow executions: runs with their event histories, versioned updates that append events,
//! lookups, listing and counting.

use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use waymark_core::visibility;

use crate::entity::{history_event, workflow, workflow_latest};
use crate::latest;
use crate::{Effects, OutboxEntry, PageCursor, Store, StoreError, WorkflowRecord, effects};

use workflow::Column as W;

/// A history event to append: its id and its JSON.
pub type NewEvent = (i64, String);

impl Store {
    /// The latest run of a workflow id.
    pub async fn latest_workflow(
        &self,
        namespace: &str,
        workflow_id: &str,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        let latest = Query::select()
            .column(workflow_latest::Column::RunId)
            .from(workflow_latest::Entity)
            .and_where(workflow_latest::Column::Namespace.eq(namespace))
            .and_where(workflow_latest::Column::WorkflowId.eq(workflow_id))
            .to_owned();
        Ok(workflow::Entity::find()
            .filter(W::RunId.in_subquery(latest))
            .one(&self.db)
            .await?)
    }

    pub async fn get_workflow(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        Ok(workflow::Entity::find_by_id(run_id)
            .filter(W::Namespace.eq(namespace))
            .filter(W::WorkflowId.eq(workflow_id))
            .one(&self.db)
            .await?)
    }

    pub async fn get_workflow_by_run(
        &self,
        run_id: &str,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        Ok(workflow::Entity::find_by_id(run_id).one(&self.db).await?)
    }

    /// Inserts a new run with its first events and makes it the latest run of its workflow id.
    /// `previous_run` is the latest run the caller saw; if the latest run is another one now,
    /// Conflict.
    pub async fn create_workflow(
        &self,
        rec: &WorkflowRecord,
        previous_run: Option<&str>,
        events: &[NewEvent],
        effects: &Effects,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let row = rec.clone().into_active_model();
        let (namespace, id, run_id) = execution(rec);
        let (previous_run, events, effects) = (
            previous_run.map(str::to_owned),
            events.to_vec(),
            effects.clone(),
        );
        self.transact(move |txn| {
            Box::pin(async move {
                let execution = (namespace.as_str(), id.as_str(), run_id.as_str());
                let previous_run = previous_run.as_deref();
                latest::claim::<workflow_latest::Entity>(txn, execution, previous_run).await?;
                workflow::Entity::insert(row)
                    .exec_without_returning(txn)
                    .await?;
                append_events(txn, &run_id, &events).await?;
                effects::finish(txn, execution, &effects).await
            })
        })
        .await
    }

    /// Replaces the run's row if its version is still `expected_version` and appends `events`,
    /// else Conflict; applies `effects` in the same transaction.
    pub async fn update_workflow(
        &self,
        rec: &WorkflowRecord,
        expected_version: i64,
        events: &[NewEvent],
        effects: &Effects,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let row = workflow::ActiveModel {
            namespace: NotSet,
            workflow_id: NotSet,
            run_id: NotSet,
            workflow_type: Set(rec.workflow_type.clone()),
            task_queue: Set(rec.task_queue.clone()),
            status: Set(rec.status.clone()),
            request_id: Set(rec.request_id.clone()),
            start_time_ns: Set(rec.start_time_ns),
            close_time_ns: Set(rec.close_time_ns),
            execution_time_ns: Set(rec.execution_time_ns),
            attempt: Set(rec.attempt),
            state: Set(rec.state.clone()),
            version: Set(rec.version),
        };
        let (namespace, id, run_id) = execution(rec);
        let (events, effects) = (events.to_vec(), effects.clone());
        self.transact(move |txn| {
            Box::pin(async move {
                let updated = workflow::Entity::update_many()
                    .set(row)
                    .filter(W::RunId.eq(&run_id))
                    .filter(W::Version.eq(expected_version))
                    .exec(txn)
                    .await?;
                if updated.rows_affected == 0 {
                    return Err(StoreError::Conflict);
                }
                append_events(txn, &run_id, &events).await?;
                effects::finish(txn, (&namespace, &id, &run_id), &effects).await
            })
        })
        .await
    }

    /// Events of a run with ids `from..`, in order, at most `limit`.
    pub async fn workflow_events(
        &self,
        run_id: &str,
        from: i64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        use history_event::Column as H;
        Ok(history_event::Entity::find()
            .select_only()
            .column(H::Data)
            .filter(H::RunId.eq(run_id))
            .filter(H::EventId.gte(from))
            .order_by_asc(H::EventId)
            .limit(limit)
            .into_tuple::<String>()
            .all(&self.db)
            .await?)
    }

    /// Runs still open, for the start-up re-dispatch of their waiting tasks.
    pub async fn running_workflows(&self, limit: u64) -> Result<Vec<WorkflowRecord>, StoreError> {
        Ok(workflow::Entity::find()
            .filter(W::CloseTimeNs.is_null())
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// A page of runs of `namespace` matching `filter`, newest first, and the next cursor.
    pub async fn list_workflows(
        &self,
        namespace: &str,
        filter: Option<&visibility::Expr>,
        page_size: u64,
        after: Option<&PageCursor>,
    ) -> Result<(Vec<WorkflowRecord>, Option<PageCursor>), StoreError> {
        self.list_runs::<workflow::Entity>(namespace, filter, page_size, after)
            .await
    }

    pub async fn count_workflows(
        &self,
        namespace: &str,
        filter: Option<&visibility::Expr>,
    ) -> Result<i64, StoreError> {
        self.count_runs::<workflow::Entity>(namespace, filter).await
    }

    pub async fn count_workflows_by_status(
        &self,
        namespace: &str,
        filter: Option<&visibility::Expr>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        self.count_runs_by_status::<workflow::Entity>(namespace, filter)
            .await
    }
}

/// The namespace, workflow id and run id of `rec`, owned by a transition's writes.
fn execution(rec: &WorkflowRecord) -> (String, String, String) {
    (
        rec.namespace.clone(),
        rec.workflow_id.clone(),
        rec.run_id.clone(),
    )
}

async fn append_events(
    txn: &sea_orm::DatabaseTransaction,
    run_id: &str,
    events: &[NewEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let rows = events
        .iter()
        .map(|(event_id, data)| history_event::ActiveModel {
            run_id: Set(run_id.to_owned()),
            event_id: Set(*event_id),
            data: Set(data.clone()),
        });
    history_event::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}
