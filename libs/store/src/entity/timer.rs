//! `timers`: durable timers of executions, fired by the timer service.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "timers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub namespace: String,
    pub run_id: String,
    pub kind: String,
    pub attempt: i32,
    pub due_ns: i64,
    /// A timer instance that took the timer to fire it holds it until then (lease).
    pub claimed_until_ns: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
