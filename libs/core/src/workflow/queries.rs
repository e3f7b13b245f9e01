//! Queries of a run (Temporal's `QueryWorkflow`): whether a run's status lets a query through,
//! and the query task a worker receives. A query reads the run's state through a worker and
//! changes nothing, so it has no event, timer or transition of its own.

use super::state::{Status, Workflow};
use super::wire::*;

impl Workflow {
    /// The rejection a query of this run gets under `condition`, if any: `NOT_OPEN` rejects a
    /// closed run, `NOT_COMPLETED_CLEANLY` a run that closed other than by completing.
    pub fn query_rejected(&self, condition: QueryRejectCondition) -> Option<QueryRejected> {
        let rejected = match condition {
            QueryRejectCondition::Unspecified | QueryRejectCondition::None => false,
            QueryRejectCondition::NotOpen => self.status != Status::Running,
            QueryRejectCondition::NotCompletedCleanly => {
                !matches!(self.status, Status::Running | Status::Completed)
            }
        };
        rejected.then(|| QueryRejected {
            status: self.status.wire(),
        })
    }

    /// A run that closed before a worker ever completed one of its tasks has no state to query:
    /// Temporal refuses the query at once (`WorkflowNotReadyFailure`) rather than wait.
    pub fn closed_unseen(&self) -> bool {
        self.status != Status::Running && self.last_completed_started_event_id == 0
    }

    /// Whether a query may go to a worker now: not while a workflow task is outstanding, whose
    /// events (a signal just accepted) the answer must already reflect, as on Temporal.
    pub fn ready_for_query(&self) -> bool {
        self.task.is_none()
    }

    /// The poll answer of a query task (Temporal's "legacy query"): the run's history so far
    /// (`history`, the stored events) and the query. It starts no workflow task: no started
    /// event id, attempt 1.
    pub fn query_task(
        &self,
        task_token: String,
        query: WorkflowQuery,
        history: Vec<HistoryEvent>,
    ) -> PollWorkflowTaskQueueResponse {
        PollWorkflowTaskQueueResponse {
            task_token,
            workflow_execution: Some(self.execution()),
            workflow_type: Some(waymark_api::WorkflowType {
                name: self.workflow_type.clone(),
            }),
            previous_started_event_id: self.last_completed_started_event_id,
            attempt: 1,
            history: Some(History { events: history }),
            query: Some(query),
            workflow_execution_task_queue: Some(normal_queue(&self.task_queue)),
            ..Default::default()
        }
    }
}
