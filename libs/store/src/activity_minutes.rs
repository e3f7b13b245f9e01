//! Activity throughput per namespace and minute: added to in batches, read an hour at a time.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};

use crate::entity::activity_minute::{Column as M, Entity};
use crate::{ActivityMinute, Store, StoreError};

impl Store {
    /// Adds each row's counts to the stored row of its namespace and minute (the longest
    /// schedule-to-start is the larger of the two).
    pub async fn add_activity_minutes(&self, rows: Vec<ActivityMinute>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let greatest = match self.db.get_database_backend() {
            DbBackend::Postgres => "GREATEST",
            _ => "MAX",
        };
        let sum = |c: &str| Expr::cust(format!("activity_minutes.{c} + excluded.{c}"));
        let upsert = OnConflict::columns([M::Namespace, M::Minute])
            .values([
                (M::Started, sum("started")),
                (M::ScheduleToStartTotalUs, sum("schedule_to_start_total_us")),
                (
                    M::ScheduleToStartMaxUs,
                    Expr::cust(format!(
                        "{greatest}(activity_minutes.schedule_to_start_max_us, excluded.schedule_to_start_max_us)"
                    )),
                ),
                (M::Completed, sum("completed")),
                (M::NotCompleted, sum("not_completed")),
            ])
            .to_owned();
        Entity::insert_many(rows.into_iter().map(IntoActiveModel::into_active_model))
            .on_conflict(upsert)
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// The namespace's rows from `since_minute` on, oldest first.
    pub async fn activity_minutes(
        &self,
        namespace: &str,
        since_minute: i64,
    ) -> Result<Vec<ActivityMinute>, StoreError> {
        Ok(Entity::find()
            .filter(M::Namespace.eq(namespace))
            .filter(M::Minute.gte(since_minute))
            .order_by_asc(M::Minute)
            .all(&self.db)
            .await?)
    }

    /// Deletes every namespace's rows older than `before_minute`.
    pub async fn delete_activity_minutes(&self, before_minute: i64) -> Result<u64, StoreError> {
        let deleted = Entity::delete_many()
            .filter(M::Minute.lt(before_minute))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected)
    }
}
