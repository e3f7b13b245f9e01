//! `workflows`: one row per run of a workflow execution; its events are in `history_events`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workflows")]
pub struct Model {
    pub namespace: String,
    pub workflow_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub run_id: String,
    pub workflow_type: String,
    pub task_queue: String,
    /// Visibility status: Running, Completed, Failed, Canceled, Terminated, TimedOut, ContinuedAsNew.
    pub status: String,
    pub request_id: String,
    pub start_time_ns: i64,
    pub close_time_ns: Option<i64>,
    pub execution_time_ns: i64,
    /// The highest attempt among the run's pending activities (1 without any), for the
    /// visibility attribute `Attempt`.
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
