//! `outbox`: dispatches committed with a transition, deleted once pushed to matching.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub namespace: String,
    pub task_queue: String,
    pub run_id: String,
    /// `activity` (a standalone or workflow activity attempt) or `workflow` (a workflow task).
    pub kind: String,
    /// The Scheduled event the task is for (workflow runs); 0 for standalone activities.
    pub scheduled_event_id: i64,
    pub attempt: i32,
    /// When the transition that wrote the row committed (unix ns), for the outbox's age; 0 for
    /// rows written before schema version 2 and for dispatches not read from the outbox.
    pub created_ns: i64,
    /// The task's priority level (1 first, 5 last); 0 for rows written before schema version 7
    /// (dispatched at the default level).
    pub priority: i32,
    /// Its fairness key; "" for rows written before schema version 8.
    pub fairness_key: String,
    /// Its fairness weight (0: 1); 0 for rows written before schema version 8.
    pub fairness_weight: f32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
