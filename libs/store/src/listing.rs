//! Listing and counting the runs of a namespace that match a visibility query: the same for
//! activities and workflows, over their tables' columns (`VisibilityColumns`).

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    Select,
};
use waymark_core::visibility::{self, Attr};

use crate::entity::{activity, workflow};
use crate::visibility::VisibilityColumns;
use crate::{PageCursor, Store, StoreError};

/// A table of runs, listed newest first by their start (an activity's schedule) time.
pub(crate) trait Runs:
    EntityTrait<Column: VisibilityColumns, Model: FromQueryResult + Send + Sync>
{
    fn namespace() -> Self::Column;
    /// Where the next page starts after `row`.
    fn cursor(row: &Self::Model) -> PageCursor;
}

impl Runs for activity::Entity {
    fn namespace() -> activity::Column {
        activity::Column::Namespace
    }
    fn cursor(row: &activity::Model) -> PageCursor {
        PageCursor {
            schedule_time_ns: row.schedule_time_ns,
            run_id: row.run_id.clone(),
        }
    }
}

impl Runs for workflow::Entity {
    fn namespace() -> workflow::Column {
        workflow::Column::Namespace
    }
    fn cursor(row: &workflow::Model) -> PageCursor {
        PageCursor {
            schedule_time_ns: row.start_time_ns,
            run_id: row.run_id.clone(),
        }
    }
}

impl Store {
    /// A page of runs of `namespace` matching `filter`, newest first, and the cursor of the
    /// next page if there is one.
    pub(crate) async fn list_runs<E: Runs>(
        &self,
        namespace: &str,
        filter: Option<&visibility::Expr>,
        page_size: u64,
        after: Option<&PageCursor>,
    ) -> Result<(Vec<E::Model>, Option<PageCursor>), StoreError> {
        let page_size = Ord::clamp(page_size, 1, i64::MAX as u64 - 1);
        let (time, run_id) = (E::Column::of(Attr::StartTime), E::Column::of(Attr::RunId));
        let mut query = matching::<E>(namespace, filter);
        if let Some(c) = after {
            // Row-value comparison: matches the listing index, so each page is one range scan.
            query = query.filter(Expr::tuple([Expr::col(time), Expr::col(run_id)]).lt(
                Expr::tuple([Expr::val(c.schedule_time_ns), Expr::val(&c.run_id)]),
            ));
        }
        // One row more than asked tells whether another page follows.
        let mut rows = query
            .order_by_desc(time)
            .order_by_desc(run_id)
            .limit(page_size + 1)
            .all(&self.db)
            .await?;
        let next = if rows.len() as u64 > page_size {
            rows.truncate(page_size as usize);
            rows.last().map(E::cursor)
        } else {
            None
        };
        Ok((rows, next))
    }

    pub(crate) async fn count_runs<E: Runs>(
        &self,
        namespace: &str,
        filter: Option<&visibility::Expr>,
    ) -> Result<i64, StoreError> {
        let count = matching::<E>(namespace, filter)
            .select_only()
            .expr(Expr::cust("COUNT(*)"))
            .into_tuple::<i64>()
            .one(&self.db)
            .await?;
        Ok(count.unwrap_or(0))
    }

    /// Counts of matching runs per status, ordered by status; statuses without runs are absent.
    pub(crate) async fn count_runs_by_status<E: Runs>(
        &self,
        namespace: &str,
        filter: Option<&visibility::Expr>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let status = E::Column::of(Attr::ExecutionStatus);
        Ok(matching::<E>(namespace, filter)
            .select_only()
            .column(status)
            .expr(Expr::cust("COUNT(*)"))
            .group_by(status)
            .order_by_asc(status)
            .into_tuple::<(String, i64)>()
            .all(&self.db)
            .await?)
    }
}

fn matching<E: Runs>(namespace: &str, filter: Option<&visibility::Expr>) -> Select<E> {
    let mut cond = Condition::all().add(E::namespace().eq(namespace));
    if let Some(filter) = filter {
        cond = cond.add(crate::visibility::condition::<E::Column>(filter));
    }
    E::find().filter(cond)
}
