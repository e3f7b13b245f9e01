//! `activities`: one row per run of a standalone activity execution.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activities")]
pub struct Model {
    pub namespace: String,
    pub activity_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub run_id: String,
    pub activity_type: String,
    pub task_queue: String,
    /// Visibility status: Running, Completed, Failed, Canceled, Terminated, TimedOut, Paused.
    pub status: String,
    pub request_id: String,
    pub schedule_time_ns: i64,
    pub close_time_ns: Option<i64>,
    pub execution_time_ns: i64,
    /// Set while the current attempt waits for a worker and is (or will be) dispatchable.
    pub dispatch_at_ns: Option<i64>,
    /// The current attempt: what a re-dispatch of this run targets.
    pub attempt: i32,
    /// Opaque JSON of the domain state.
    #[sea_orm(column_type = "Text")]
    pub state: String,
    /// Optimistic-concurrency version, compared on every update.
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
