//! Waymark's transactional store: sea-orm entities, migrations, and the queries of every
//! state transition, on SQLite (embedded) and PostgreSQL (distributed) alike.
//!
//! Storage only: an execution's domain state is an opaque JSON string kept next to a few
//! indexed columns. Each transition commits its row, timer rows and outbox rows in one
//! transaction guarded by a `version` compare.

mod activities;
mod activity_minutes;
mod api_keys;
mod changes;
mod effects;
pub mod entity;
mod group;
mod latest;
mod listing;
mod migration;
mod retention;
mod store;
pub mod visibility;
pub mod workflows;

pub use effects::{ACTIVITY_TASK, Effects, NewDispatch, NewTimer, WORKFLOW_TASK};
pub use store::Store;

/// An API key row (its secret only as a hash).
pub type ApiKeyRecord = entity::api_key::Model;
/// One namespace's activity counts of one minute.
pub type ActivityMinute = entity::activity_minute::Model;
/// A namespace row.
pub type NamespaceRecord = entity::namespace::Model;
/// One run of an activity execution.
pub type ActivityRecord = entity::activity::Model;
/// One run of a workflow execution.
pub type WorkflowRecord = entity::workflow::Model;
/// A durable timer of an execution.
pub type TimerRecord = entity::timer::Model;
/// A dispatch to push to a task queue; `id` is its outbox row (0 when not from the outbox).
pub type OutboxEntry = entity::outbox::Model;

/// Where the next page of `list_activities` starts. List order: schedule time, then
/// run id, both descending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageCursor {
    pub schedule_time_ns: i64,
    pub run_id: String,
}

#[derive(thiserror::Error, Debug)]
pub enum StoreError {
    /// Someone else changed the row first; reload and retry the transition.
    #[error("concurrent update conflict")]
    Conflict,
    #[error("already exists")]
    AlreadyExists,
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Whether a database error says the database is out of reach (down, restarting, pool
/// exhausted) rather than that a statement is wrong: callers may retry those.
pub fn is_transient(e: &sea_orm::DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{DbErr, RuntimeErr};
    let sqlx = match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(s)) | DbErr::Query(RuntimeErr::SqlxError(s)) => s,
        _ => return false,
    };
    match sqlx.as_ref() {
        Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed => true,
        // PostgreSQL shutting down or starting up (admin_shutdown, crash_shutdown, cannot_connect_now).
        Sqlx::Database(d) => d.code().is_some_and(|c| c.starts_with("57P")),
        _ => false,
    }
}
