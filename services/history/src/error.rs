//! The history service's errors and the one table that maps them to API errors.

use waymark_api::{ApiError, Code};
use waymark_core::activity::ActivityError;
use waymark_core::workflow::WorkflowError;
use waymark_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("Namespace {0} is not found.")]
    NamespaceNotFound(String),
    #[error("Namespace {0} already exists.")]
    NamespaceExists(String),
    #[error("activity not found for ID: {0}")]
    ActivityNotFound(String),
    #[error("api key {0} not found")]
    ApiKeyNotFound(String),
    #[error("activity execution already started")]
    AlreadyStarted {
        start_request_id: String,
        run_id: String,
    },
    #[error("workflow not found for ID: {0}")]
    WorkflowNotFound(String),
    #[error(
        "workflow execution not found for workflow ID \"{workflow_id}\" and run ID \"{run_id}\""
    )]
    WorkflowRunNotFound { workflow_id: String, run_id: String },
    #[error("{message}")]
    WorkflowAlreadyStarted {
        message: String,
        start_request_id: String,
        run_id: String,
        first_execution_run_id: String,
    },
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    #[error("Error deserializing task token.")]
    BadTaskToken,
    #[error("{0}")]
    InvalidArgument(String),
    /// The run was terminated over a history limit instead of the call's write.
    #[error("{0}")]
    HistoryLimitExceeded(&'static str),
    #[error(transparent)]
    Activity(#[from] ActivityError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("corrupt execution state: {0}")]
    Corrupt(#[from] serde_json::Error),
}

impl From<HistoryError> for ApiError {
    fn from(e: HistoryError) -> ApiError {
        let message = e.to_string();
        match e {
            HistoryError::NamespaceNotFound(ns) => ApiError::namespace_not_found(&ns),
            HistoryError::NamespaceExists(_) => ApiError::already_exists(
                message,
                serde_json::json!({"@type": ApiError::type_url("NamespaceAlreadyExistsFailure")}),
            ),
            HistoryError::ActivityNotFound(_) | HistoryError::ApiKeyNotFound(_) => {
                ApiError::not_found(message)
            }
            HistoryError::AlreadyStarted {
                start_request_id,
                run_id,
            } => ApiError::already_exists(
                message,
                serde_json::json!({
                    "@type": ApiError::type_url("ActivityExecutionAlreadyStartedFailure"),
                    "startRequestId": start_request_id,
                    "runId": run_id,
                }),
            ),
            HistoryError::WorkflowNotFound(_) | HistoryError::WorkflowRunNotFound { .. } => {
                ApiError::not_found(message)
            }
            HistoryError::WorkflowAlreadyStarted {
                start_request_id,
                run_id,
                first_execution_run_id,
                ..
            } => ApiError::already_exists(
                message,
                serde_json::json!({
                    "@type": ApiError::type_url("WorkflowExecutionAlreadyStartedFailure"),
                    "startRequestId": start_request_id,
                    "runId": run_id,
                    "firstExecutionRunId": first_execution_run_id,
                }),
            ),
            HistoryError::Workflow(w) => by_code(w.code(), message),
            HistoryError::BadTaskToken
            | HistoryError::InvalidArgument(_)
            | HistoryError::HistoryLimitExceeded(_) => ApiError::invalid_argument(message),
            HistoryError::Activity(a) => by_code(a.code(), message),
            HistoryError::Store(StoreError::Conflict) => {
                ApiError::unavailable("too many concurrent updates, retry")
            }
            // A database that is down or restarting: retryable, as Temporal's Unavailable.
            HistoryError::Store(StoreError::Db(e)) if waymark_store::is_transient(&e) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::unavailable("database unavailable, retry")
            }
            HistoryError::Store(_) | HistoryError::Corrupt(_) => {
                tracing::error!(error = %message, "history internal error");
                ApiError::internal()
            }
        }
    }
}

/// NotFound answers carry Temporal's `NotFoundFailure` detail; other codes none.
fn by_code(code: Code, message: String) -> ApiError {
    match code {
        Code::NotFound => ApiError::not_found(message),
        code => ApiError::new(code, message),
    }
}
