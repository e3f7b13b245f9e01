//! Schema migrations: numbered steps recorded in `schema_migrations`, applied in one
//! transaction under a lock so that concurrent starts (or processes) apply each step once.

use sea_orm::sea_query::{
    Alias, ColumnDef, Expr, ExprTrait, Index, IndexCreateStatement, IntoIden, Query, Table,
    TableCreateStatement,
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::entity::{
    activity, activity_latest, activity_minute, api_key, history_event, meta, namespace, outbox,
    timer, workflow, workflow_latest,
};
use crate::{Store, StoreError};

/// Each step is a list of statements; append new steps, never edit applied ones.
const STEPS: &[fn(DbBackend) -> Vec<Statement>] = &[v1, v2, v3, v4, v5, v6, v7, v8];

/// What a migration did: the schema version before and after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migrated {
    pub from: i64,
    pub to: i64,
}

pub(crate) async fn run(store: &Store) -> Result<Migrated, StoreError> {
    let backend = store.db.get_database_backend();
    let txn = store.begin_write().await?;
    if backend == DbBackend::Postgres {
        // Per schema, so that tests migrating their own schemas do not wait on each other.
        txn.execute_unprepared(
            "SELECT pg_advisory_xact_lock(hashtext(coalesce(current_schema(), '')))",
        )
        .await?;
    }
    let versions = Alias::new("schema_migrations");
    let version = Alias::new("version");
    txn.execute(
        &Table::create()
            .table(versions.clone())
            .if_not_exists()
            .col(
                ColumnDef::new(version.clone())
                    .big_integer()
                    .not_null()
                    .primary_key(),
            )
            .to_owned(),
    )
    .await?;
    let current: i64 = txn
        .query_one(
            &Query::select()
                .expr(Expr::col(version.clone()).max())
                .from(versions.clone())
                .to_owned(),
        )
        .await?
        .and_then(|row| row.try_get_by_index::<Option<i64>>(0).ok().flatten())
        .unwrap_or(0);
    if current > STEPS.len() as i64 {
        return Err(StoreError::Corrupt(format!(
            "schema version {current} is newer than this binary knows ({})",
            STEPS.len()
        )));
    }
    for (n, step) in STEPS.iter().enumerate().skip(current as usize) {
        for stmt in step(backend) {
            txn.execute_raw(stmt).await?;
        }
        txn.execute(
            &Query::insert()
                .into_table(versions.clone())
                .columns([version.clone()])
                .values_panic([(n as i64 + 1).into()])
                .to_owned(),
        )
        .await?;
        tracing::info!(version = n + 1, "applied schema migration");
    }
    txn.commit().await?;
    Ok(Migrated {
        from: current,
        to: STEPS.len() as i64,
    })
}

fn v1(backend: DbBackend) -> Vec<Statement> {
    use activity::Column as A;
    use activity_latest::Column as L;
    use timer::Column as T;
    use workflow::Column as W;
    fn text(c: impl IntoIden) -> ColumnDef {
        ColumnDef::new(c).text().not_null().to_owned()
    }
    fn bigint(c: impl IntoIden) -> ColumnDef {
        ColumnDef::new(c).big_integer().not_null().to_owned()
    }
    fn int(c: impl IntoIden) -> ColumnDef {
        ColumnDef::new(c).integer().not_null().to_owned()
    }
    fn serial(c: impl IntoIden) -> ColumnDef {
        ColumnDef::new(c)
            .big_integer()
            .not_null()
            .auto_increment()
            .primary_key()
            .to_owned()
    }
    // Byte order for the keys visibility queries compare and sort: the same answers as
    // SQLite and the core's evaluator, and cheaper comparisons than a locale's.
    let key = |mut c: ColumnDef| {
        if backend == DbBackend::Postgres {
            c.extra(r#"COLLATE "C""#);
        }
        c
    };

    let tables: Vec<TableCreateStatement> = vec![
        Table::create()
            .table(namespace::Entity)
            .if_not_exists()
            .col(text(namespace::Column::Name).primary_key())
            .col(text(namespace::Column::Id))
            .col(text(namespace::Column::Description))
            .col(text(namespace::Column::OwnerEmail))
            .col(bigint(namespace::Column::RetentionSecs))
            .col(text(namespace::Column::Data))
            .col(bigint(namespace::Column::CreatedNs))
            .to_owned(),
        Table::create()
            .table(meta::Entity)
            .if_not_exists()
            .col(text(meta::Column::Name).primary_key())
            .col(text(meta::Column::Value))
            .to_owned(),
        Table::create()
            .table(activity::Entity)
            .if_not_exists()
            .col(key(text(A::Namespace)))
            .col(key(text(A::ActivityId)))
            .col(key(text(A::RunId)).primary_key())
            .col(key(text(A::ActivityType)))
            .col(key(text(A::TaskQueue)))
            .col(key(text(A::Status)))
            .col(text(A::RequestId))
            .col(bigint(A::ScheduleTimeNs))
            .col(ColumnDef::new(A::CloseTimeNs).big_integer().null())
            .col(bigint(A::ExecutionTimeNs))
            .col(ColumnDef::new(A::DispatchAtNs).big_integer().null())
            .col(int(A::Attempt))
            .col(text(A::State))
            .col(bigint(A::Version))
            .to_owned(),
        Table::create()
            .table(activity_latest::Entity)
            .if_not_exists()
            .col(key(text(L::Namespace)))
            .col(key(text(L::ActivityId)))
            .col(key(text(L::RunId)))
            .primary_key(Index::create().col(L::Namespace).col(L::ActivityId))
            .to_owned(),
        Table::create()
            .table(timer::Entity)
            .if_not_exists()
            .col(serial(T::Id))
            .col(text(T::Namespace))
            .col(text(T::RunId))
            .col(text(T::Kind))
            .col(int(T::Attempt))
            .col(bigint(T::DueNs))
            .col(ColumnDef::new(T::ClaimedUntilNs).big_integer().null())
            .to_owned(),
        Table::create()
            .table(outbox::Entity)
            .if_not_exists()
            .col(serial(outbox::Column::Id))
            .col(text(outbox::Column::Namespace))
            .col(text(outbox::Column::TaskQueue))
            .col(text(outbox::Column::RunId))
            .col(text(outbox::Column::Kind))
            .col(bigint(outbox::Column::ScheduledEventId))
            .col(int(outbox::Column::Attempt))
            .to_owned(),
        Table::create()
            .table(workflow::Entity)
            .if_not_exists()
            .col(key(text(W::Namespace)))
            .col(key(text(W::WorkflowId)))
            .col(key(text(W::RunId)).primary_key())
            .col(key(text(W::WorkflowType)))
            .col(key(text(W::TaskQueue)))
            .col(key(text(W::Status)))
            .col(text(W::RequestId))
            .col(bigint(W::StartTimeNs))
            .col(ColumnDef::new(W::CloseTimeNs).big_integer().null())
            .col(bigint(W::ExecutionTimeNs))
            .col(text(W::State))
            .col(bigint(W::Version))
            .to_owned(),
        Table::create()
            .table(workflow_latest::Entity)
            .if_not_exists()
            .col(key(text(workflow_latest::Column::Namespace)))
            .col(key(text(workflow_latest::Column::WorkflowId)))
            .col(key(text(workflow_latest::Column::RunId)))
            .primary_key(
                Index::create()
                    .col(workflow_latest::Column::Namespace)
                    .col(workflow_latest::Column::WorkflowId),
            )
            .to_owned(),
        Table::create()
            .table(history_event::Entity)
            .if_not_exists()
            .col(key(text(history_event::Column::RunId)))
            .col(bigint(history_event::Column::EventId))
            .col(text(history_event::Column::Data))
            .primary_key(
                Index::create()
                    .col(history_event::Column::RunId)
                    .col(history_event::Column::EventId),
            )
            .to_owned(),
    ];
    let index = |name: &str| Index::create().name(name).if_not_exists().to_owned();
    let indexes: Vec<IndexCreateStatement> = vec![
        index("activities_by_id")
            .table(activity::Entity)
            .col(A::Namespace)
            .col(A::ActivityId)
            .col(A::ScheduleTimeNs)
            .to_owned(),
        index("activities_by_schedule_time")
            .table(activity::Entity)
            .col(A::Namespace)
            .col(A::ScheduleTimeNs)
            .col(A::RunId)
            .to_owned(),
        index("activities_by_dispatch_at")
            .table(activity::Entity)
            .col(A::DispatchAtNs)
            .to_owned(),
        index("workflows_by_id")
            .table(workflow::Entity)
            .col(W::Namespace)
            .col(W::WorkflowId)
            .col(W::StartTimeNs)
            .to_owned(),
        index("workflows_by_start_time")
            .table(workflow::Entity)
            .col(W::Namespace)
            .col(W::StartTimeNs)
            .col(W::RunId)
            .to_owned(),
        index("workflows_by_status")
            .table(workflow::Entity)
            .col(W::Status)
            .to_owned(),
        index("timers_by_due")
            .table(timer::Entity)
            .col(T::DueNs)
            .to_owned(),
        index("timers_by_run")
            .table(timer::Entity)
            .col(T::RunId)
            .to_owned(),
    ];
    let tables = tables.iter().map(|t| backend.build(t));
    tables
        .chain(indexes.iter().map(|i| backend.build(i)))
        .collect()
}

/// The outbox rows' creation time, for the age of the oldest undelivered dispatch.
fn v2(backend: DbBackend) -> Vec<Statement> {
    let add = Table::alter()
        .table(outbox::Entity)
        .add_column(
            ColumnDef::new(outbox::Column::CreatedNs)
                .big_integer()
                .not_null()
                .default(0),
        )
        .to_owned();
    vec![backend.build(&add)]
}

/// The retention sweep finds a namespace's oldest closed runs by these.
fn v3(backend: DbBackend) -> Vec<Statement> {
    let index = |name: &str| Index::create().name(name).if_not_exists().to_owned();
    let indexes = [
        index("activities_by_close_time")
            .table(activity::Entity)
            .col(activity::Column::Namespace)
            .col(activity::Column::CloseTimeNs)
            .to_owned(),
        index("workflows_by_close_time")
            .table(workflow::Entity)
            .col(workflow::Column::Namespace)
            .col(workflow::Column::CloseTimeNs)
            .to_owned(),
    ];
    indexes.iter().map(|i| backend.build(i)).collect()
}

/// API keys (see `waymark_core::auth`).
fn v4(backend: DbBackend) -> Vec<Statement> {
    use api_key::Column as K;
    let text = |c: K| ColumnDef::new(c).text().not_null().to_owned();
    let bigint = |c: K| ColumnDef::new(c).big_integer().not_null().to_owned();
    let table = Table::create()
        .table(api_key::Entity)
        .if_not_exists()
        .col(text(K::Id).primary_key())
        .col(text(K::Hash))
        .col(text(K::Namespace))
        .col(text(K::Role))
        .col(text(K::Description))
        .col(bigint(K::ExpireTimeNs))
        .col(ColumnDef::new(K::Disabled).boolean().not_null())
        .col(ColumnDef::new(K::LastUsedNs).big_integer().null())
        .col(bigint(K::CreateTimeNs))
        .to_owned();
    let index = Index::create()
        .name("api_keys_by_namespace")
        .if_not_exists()
        .table(api_key::Entity)
        .col(K::Namespace)
        .to_owned();
    vec![backend.build(&table), backend.build(&index)]
}

/// A workflow run's highest pending attempt, for the visibility attribute `Attempt`. Existing
/// runs read 1 until their next change.
fn v5(backend: DbBackend) -> Vec<Statement> {
    let column = Table::alter()
        .table(workflow::Entity)
        .add_column(
            ColumnDef::new(workflow::Column::Attempt)
                .integer()
                .not_null()
                .default(1),
        )
        .to_owned();
    vec![backend.build(&column)]
}

/// Activity throughput per namespace and minute (see `entity::activity_minute`).
fn v6(backend: DbBackend) -> Vec<Statement> {
    use activity_minute::Column as M;
    let bigint = |c: M| ColumnDef::new(c).big_integer().not_null().to_owned();
    let table = Table::create()
        .table(activity_minute::Entity)
        .if_not_exists()
        .col(ColumnDef::new(M::Namespace).text().not_null())
        .col(bigint(M::Minute))
        .col(bigint(M::Started))
        .col(bigint(M::ScheduleToStartTotalUs))
        .col(bigint(M::ScheduleToStartMaxUs))
        .col(bigint(M::Completed))
        .col(bigint(M::NotCompleted))
        .primary_key(Index::create().col(M::Namespace).col(M::Minute))
        .to_owned();
    vec![backend.build(&table)]
}

/// A dispatch's priority level. Rows already in the outbox read 0: the default level.
fn v7(backend: DbBackend) -> Vec<Statement> {
    let add = Table::alter()
        .table(outbox::Entity)
        .add_column(
            ColumnDef::new(outbox::Column::Priority)
                .integer()
                .not_null()
                .default(0),
        )
        .to_owned();
    vec![backend.build(&add)]
}

/// A dispatch's fairness key and weight. Rows already in the outbox read "" and 0: the default key
/// at weight 1.
fn v8(backend: DbBackend) -> Vec<Statement> {
    let key = Table::alter()
        .table(outbox::Entity)
        .add_column(
            ColumnDef::new(outbox::Column::FairnessKey)
                .text()
                .not_null()
                .default(""),
        )
        .to_owned();
    let weight = Table::alter()
        .table(outbox::Entity)
        .add_column(
            ColumnDef::new(outbox::Column::FairnessWeight)
                .float()
                .not_null()
                .default(0.0),
        )
        .to_owned();
    vec![backend.build(&key), backend.build(&weight)]
}
