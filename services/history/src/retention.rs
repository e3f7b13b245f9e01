//! Retention: closed runs, standalone activities and workflows alike, are deleted once their
//! namespace's retention has passed since they closed, in short batches off the hot path.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use waymark_core::limits::retention_cutoff;

use crate::{History, HistoryError, repeat_every};

/// Runs deleted per transaction: short enough never to hold up the transitions around it.
const RETENTION_BATCH: u64 = 200;

impl History {
    /// Deletes every run past its namespace's retention, a batch at a time; how many.
    pub async fn sweep_retention(&self) -> Result<usize, HistoryError> {
        let mut deleted = 0;
        for ns in self.store.list_namespaces().await? {
            let cutoff = retention_cutoff(self.now(), ns.retention_secs);
            loop {
                let workflows = self
                    .store
                    .delete_closed_workflows(&ns.name, cutoff, RETENTION_BATCH)
                    .await?;
                let activities = self
                    .store
                    .delete_closed_activities(&ns.name, cutoff, RETENTION_BATCH)
                    .await?;
                self.forget_runs(&workflows, &activities);
                deleted += workflows.len() + activities.len();
                let full = RETENTION_BATCH as usize;
                if (workflows.len() < full && activities.len() < full) || self.long_polls_ended() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        Ok(deleted)
    }

    /// A sole writer's kept rows of deleted runs go too, so that nothing answers from them.
    fn forget_runs(&self, workflows: &[String], activities: &[String]) {
        for run_id in workflows {
            if let Some(rows) = self.workflow_rows.get() {
                rows.forget(run_id);
            }
            if let Some(events) = self.workflow_events.get() {
                events.forget(run_id);
            }
        }
        if let Some(rows) = self.activity_rows.get() {
            activities.iter().for_each(|run_id| rows.forget(run_id));
        }
    }

    /// Runs `sweep_retention` every `every` until `shutdown`.
    pub async fn run_retention(
        self: Arc<Self>,
        every: std::time::Duration,
        shutdown: CancellationToken,
    ) {
        let this = &self;
        repeat_every(every, shutdown, || async move {
            match this.sweep_retention().await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "deleted runs past their retention"),
                Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
            }
            if let Err(e) = this.delete_old_throughput().await {
                tracing::warn!(error = %e, "deleting old activity throughput failed");
            }
        })
        .await;
    }
}
