//! `activity_minutes`: per namespace and minute, the activity attempts workers took (with their
//! total and longest schedule-to-start) and the activities that closed, completed or not. The
//! history service adds to these rows; the UI's overview reads the last hour of them.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, Default, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activity_minutes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub namespace: String,
    /// Minutes since the Unix epoch.
    #[sea_orm(primary_key, auto_increment = false)]
    pub minute: i64,
    pub started: i64,
    pub schedule_to_start_total_us: i64,
    pub schedule_to_start_max_us: i64,
    pub completed: i64,
    /// Closed otherwise: failed, timed out, canceled or terminated.
    pub not_completed: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
