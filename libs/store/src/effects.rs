//! The side rows of a transition (timers and outbox dispatches), written in its
//! transaction, and the queries of the timer loop, the dispatcher and the sweeper.

use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Order, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, FromQueryResult,
    NotSet, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set,
};

use crate::entity::{activity, outbox, timer};
use crate::{OutboxEntry, Store, StoreError, TimerRecord};
use waymark_core::options::TaskPriority;

/// What a transition writes besides the execution row.
#[derive(Clone, Debug, Default)]
pub struct Effects {
    /// Timers to insert.
    pub timers: Vec<NewTimer>,
    /// Dispatches to insert into the outbox; returned with their ids.
    pub dispatches: Vec<NewDispatch>,
    /// The timer row this transition consumes: deleted.
    pub fired_timer: Option<i64>,
    /// The execution closed: delete all its timer rows (before inserting `timers`).
    pub clear_timers: bool,
    /// When the transition commits (unix ns): the outbox rows' creation time.
    pub now_ns: i64,
    /// Announce nothing: a transition that commits next announces the same execution (a run
    /// closing by continue-as-new, whose waiters must find the new run when they wake).
    pub quiet: bool,
}

#[derive(Clone, Debug)]
pub struct NewTimer {
    pub kind: String,
    pub attempt: i32,
    pub due_ns: i64,
}

#[derive(Clone, Debug)]
pub struct NewDispatch {
    pub task_queue: String,
    /// `activity` or `workflow` (see `OutboxEntry::kind`).
    pub kind: &'static str,
    pub scheduled_event_id: i64,
    pub attempt: i32,
    /// Its place in the queue: level, fairness key and weight.
    pub priority: TaskPriority,
}

/// The outbox kind of activity attempts (standalone, and of workflows).
pub const ACTIVITY_TASK: &str = "activity";
/// The outbox kind of workflow tasks.
pub const WORKFLOW_TASK: &str = "workflow";

/// The end of every transition, inside `txn`: writes its `effects` for run `run_id` and
/// announces the change of execution `id` of `namespace`; the new outbox rows.
pub(crate) async fn finish(
    txn: &DatabaseTransaction,
    (namespace, id, run_id): (&str, &str, &str),
    effects: &Effects,
) -> Result<Vec<OutboxEntry>, StoreError> {
    let outbox = apply(txn, namespace, run_id, effects).await?;
    if !effects.quiet {
        crate::changes::announce(txn, namespace, id).await?;
    }
    Ok(outbox)
}

/// Writes `effects` for the execution (namespace, run_id) inside `txn`.
async fn apply(
    txn: &DatabaseTransaction,
    namespace: &str,
    run_id: &str,
    effects: &Effects,
) -> Result<Vec<OutboxEntry>, StoreError> {
    let mut doomed = Condition::any();
    if effects.clear_timers {
        doomed = doomed.add(timer::Column::RunId.eq(run_id));
    }
    if let Some(id) = effects.fired_timer {
        doomed = doomed.add(timer::Column::Id.eq(id));
    }
    if !doomed.is_empty() {
        timer::Entity::delete_many()
            .filter(doomed)
            .exec(txn)
            .await?;
    }
    if !effects.timers.is_empty() {
        let rows = effects.timers.iter().map(|t| timer::ActiveModel {
            id: NotSet,
            namespace: Set(namespace.to_owned()),
            run_id: Set(run_id.to_owned()),
            kind: Set(t.kind.clone()),
            attempt: Set(t.attempt),
            due_ns: Set(t.due_ns),
            claimed_until_ns: Set(None),
        });
        timer::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    if effects.dispatches.is_empty() {
        return Ok(Vec::new());
    }
    let rows = effects.dispatches.iter().map(|d| outbox::ActiveModel {
        id: NotSet,
        namespace: Set(namespace.to_owned()),
        task_queue: Set(d.task_queue.clone()),
        run_id: Set(run_id.to_owned()),
        kind: Set(d.kind.to_owned()),
        scheduled_event_id: Set(d.scheduled_event_id),
        attempt: Set(d.attempt),
        created_ns: Set(effects.now_ns),
        priority: Set(d.priority.level),
        fairness_key: Set(d.priority.fairness_key.clone()),
        fairness_weight: Set(d.priority.fairness_weight),
    });
    // RETURNING works on both backends (SQLite >= 3.35); whole rows, as their order is unspecified.
    let mut insert = outbox::Entity::insert_many(rows).into_query();
    insert.returning_all();
    let mut entries = txn
        .query_all(&insert)
        .await?
        .iter()
        .map(|row| OutboxEntry::from_query_result(row, ""))
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.id);
    Ok(entries)
}

impl Store {
    /// Deletes a timer row that turned out to be a no-op (stale).
    pub async fn delete_timer(&self, id: i64) -> Result<(), StoreError> {
        timer::Entity::delete_by_id(id).exec(&self.db).await?;
        Ok(())
    }

    /// Timers with `due_ns <= now_ns`, earliest first.
    pub async fn due_timers(
        &self,
        now_ns: i64,
        limit: u64,
    ) -> Result<Vec<TimerRecord>, StoreError> {
        Ok(timer::Entity::find()
            .filter(timer::Column::DueNs.lte(now_ns))
            .order_by_asc(timer::Column::DueNs)
            .order_by_asc(timer::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// Takes up to `limit` due timers that no other timer instance holds, for `lease_ns`: each
    /// is fired by one instance at a time, and a dead instance's claims expire. PostgreSQL skips
    /// rows another instance is claiming right now instead of waiting for them.
    pub async fn claim_due_timers(
        &self,
        now_ns: i64,
        lease_ns: i64,
        limit: u64,
    ) -> Result<Vec<TimerRecord>, StoreError> {
        use timer::Column as T;
        let mut due = Query::select();
        due.column(T::Id)
            .from(timer::Entity)
            .and_where(Expr::col(T::DueNs).lte(now_ns))
            .and_where(
                Expr::col(T::ClaimedUntilNs)
                    .is_null()
                    .or(Expr::col(T::ClaimedUntilNs).lt(now_ns)),
            )
            .order_by(T::DueNs, Order::Asc)
            .limit(limit);
        if self.is_postgres() {
            due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let mut claim = Query::update();
        claim
            .table(timer::Entity)
            .value(T::ClaimedUntilNs, now_ns.saturating_add(lease_ns))
            .and_where(Expr::col(T::Id).in_subquery(due))
            .returning_all();
        let txn = self.begin_write().await?;
        let rows = txn.query_all(&claim).await?;
        txn.commit().await?;
        let mut timers = rows
            .iter()
            .map(|row| timer::Model::from_query_result(row, ""))
            .collect::<Result<Vec<_>, _>>()?;
        timers.sort_by_key(|t| (t.due_ns, t.id));
        Ok(timers)
    }

    /// The earliest deadline of all timers, if any.
    pub async fn next_timer_due(&self) -> Result<Option<i64>, StoreError> {
        let due = timer::Entity::find()
            .select_only()
            .expr(Expr::col(timer::Column::DueNs).min())
            .into_tuple::<Option<i64>>()
            .one(&self.db)
            .await?;
        Ok(due.flatten())
    }

    /// Outbox rows not yet delivered, oldest first.
    pub async fn pending_outbox(&self, limit: u64) -> Result<Vec<OutboxEntry>, StoreError> {
        Ok(outbox::Entity::find()
            .order_by_asc(outbox::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// How many dispatches wait in the outbox, and when the oldest was written (unix ns; `None`
    /// when empty or only rows older than schema version 2 wait).
    pub async fn outbox_stats(&self) -> Result<(u64, Option<i64>), StoreError> {
        use outbox::Column as O;
        let (count, oldest) = outbox::Entity::find()
            .select_only()
            .expr(Expr::col(O::Id).count())
            .expr(Expr::col(O::CreatedNs).min())
            .into_tuple::<(i64, Option<i64>)>()
            .one(&self.db)
            .await?
            .unwrap_or_default();
        Ok((
            u64::try_from(count).unwrap_or(0),
            oldest.filter(|&ns| ns > 0),
        ))
    }

    pub async fn delete_outbox(&self, ids: &[i64]) -> Result<(), StoreError> {
        if !ids.is_empty() {
            outbox::Entity::delete_many()
                .filter(outbox::Column::Id.is_in(ids.iter().copied()))
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }

    /// Runs waiting for a worker whose dispatch time is at or before `older_than_ns`,
    /// longest-waiting first, as dispatches of their current attempt (with `id` 0).
    pub async fn dispatchable_activities(
        &self,
        older_than_ns: i64,
        limit: u64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        use activity::Column as A;
        let rows = activity::Entity::find()
            .select_only()
            .columns([A::Namespace, A::TaskQueue, A::RunId, A::Attempt])
            .filter(A::DispatchAtNs.lte(older_than_ns))
            .order_by_asc(A::DispatchAtNs)
            .order_by_asc(A::RunId)
            .limit(limit)
            .into_tuple::<(String, String, String, i32)>()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(namespace, task_queue, run_id, attempt)| OutboxEntry {
                id: 0,
                namespace,
                task_queue,
                run_id,
                kind: ACTIVITY_TASK.to_owned(),
                scheduled_event_id: 0,
                attempt,
                created_ns: 0,
                // The safety net re-pushes at the default level and key: the row does not keep it.
                priority: 0,
                fairness_key: String::new(),
                fairness_weight: 0.0,
            })
            .collect())
    }
}
