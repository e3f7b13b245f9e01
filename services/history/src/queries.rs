//! Queries of workflows (`QueryWorkflow`): history checks the run and its reject condition,
//! sends the query to a worker of the run's task queue through matching and waits for the
//! answer, which the worker reports with `RespondQueryTaskCompleted`. Nothing is written.

use std::time::Duration as StdDuration;

use waymark_api::workflow::{self as wf, QueryResultType};
use waymark_api::{ApiError, Code, Failure};
use waymark_core::task_token::TaskToken;
use waymark_core::workflow::Workflow;
use waymark_queue::{ActivityTask, QueryTask};

use crate::{History, HistoryError, RunRef, check_run_id, run_ref};

impl History {
    pub(crate) async fn query_run(
        &self,
        ns: &str,
        workflow_id: &str,
        req: wf::QueryWorkflowRequest,
        wait: StdDuration,
    ) -> Result<wf::QueryWorkflowResponse, ApiError> {
        self.ensure_namespace(ns).await?;
        let Some(query) = req.query else {
            return Err(
                HistoryError::InvalidArgument("Query is not set on request.".into()).into(),
            );
        };
        if query.query_type.is_empty() {
            return Err(
                HistoryError::InvalidArgument("QueryType is not set on request.".into()).into(),
            );
        }
        let run_id = req.execution.map(|e| e.run_id).unwrap_or_default();
        check_run_id(&run_id, "RunId is not valid UUID.")?;
        let deadline = tokio::time::Instant::now() + wait;
        let (_, w) = self
            .load_workflow(ns, &run_ref(workflow_id, &run_id))
            .await?;
        if let Some(rejected) = w.query_rejected(req.query_reject_condition) {
            return Ok(wf::QueryWorkflowResponse {
                query_rejected: Some(rejected),
                ..Default::default()
            });
        }
        if w.closed_unseen() {
            let detail =
                serde_json::json!({"@type": ApiError::type_url("WorkflowNotReadyFailure")});
            let message = "Workflow execution closed before WorkflowTaskStarted event";
            return Err(ApiError::failed_precondition(message).with_detail(detail));
        }
        let (w, ready) = self
            .wait_workflow(ns, workflow_id, &w.run_id, wait, Workflow::ready_for_query)
            .await?;
        if !ready {
            return Err(query_timed_out());
        }
        let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
        let expires = self.now().as_nanos() + i64::try_from(wait.as_nanos()).unwrap_or(i64::MAX);
        let task = ActivityTask {
            namespace: ns.to_owned(),
            task_queue: w.task_queue.clone(),
            run_id: w.run_id.clone(),
            query: Some(QueryTask {
                id: uuid::Uuid::new_v4().to_string(),
                query,
                expires_ns: expires,
            }),
            ..Default::default()
        };
        let matching = self.matching()?;
        let answer = matching
            .query_workflow(task, wait)
            .await?
            .ok_or_else(query_timed_out)?;
        match answer.completed_type {
            QueryResultType::Failed => Err(query_failed(answer.error_message, answer.failure)),
            _ => Ok(wf::QueryWorkflowResponse {
                query_result: answer.query_result,
                ..Default::default()
            }),
        }
    }

    /// The poll answer of a query task; `None` (drop it) once its asker stopped waiting or
    /// the run is gone.
    pub(crate) async fn query_task_started(
        &self,
        task: &ActivityTask,
        query: &QueryTask,
    ) -> Result<Option<wf::PollWorkflowTaskQueueResponse>, HistoryError> {
        if self.now().as_nanos() > query.expires_ns {
            return Ok(None);
        }
        let run = RunRef::ByRun {
            run_id: &task.run_id,
        };
        let w = match self.load_workflow(&task.namespace, &run).await {
            Ok((_, w)) => w,
            Err(HistoryError::WorkflowNotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let token = TaskToken {
            namespace: w.namespace.clone(),
            run_id: w.run_id.clone(),
            workflow_id: w.workflow_id.clone(),
            query_id: query.id.clone(),
            ..Default::default()
        };
        let history = self.history_from(&w, 1).await?;
        Ok(Some(w.query_task(
            self.signer.sign(&token),
            query.query.clone(),
            history,
        )))
    }

    pub(crate) async fn query_answered(
        &self,
        ns: &str,
        mut req: wf::RespondQueryTaskCompletedRequest,
    ) -> Result<(), ApiError> {
        self.ensure_namespace(ns).await?;
        if req.task_token.is_empty() {
            return Err(
                HistoryError::InvalidArgument("Task token not set on request.".into()).into(),
            );
        }
        let token = self
            .signer
            .verify(&req.task_token)
            .ok()
            .filter(|t| t.is_query() && t.namespace == ns)
            .ok_or(HistoryError::BadTaskToken)?;
        req.task_token.clear();
        self.matching()?.answer_query(&token.query_id, req).await
    }
}

/// No worker answered before the caller's deadline: Temporal's DeadlineExceeded and message.
fn query_timed_out() -> ApiError {
    ApiError::new(
        Code::DeadlineExceeded,
        "query timed out before a worker could process it",
    )
}

/// Temporal's `QueryFailed`: InvalidArgument with the worker's message, and its failure in a
/// `QueryFailedFailure` detail, which the SDKs raise as a query error.
fn query_failed(message: String, failure: Option<Failure>) -> ApiError {
    let mut detail = serde_json::json!({"@type": ApiError::type_url("QueryFailedFailure")});
    if let Some(failure) = failure {
        detail["failure"] = serde_json::to_value(failure).unwrap_or_default();
    }
    ApiError::invalid_argument(message).with_detail(detail)
}
