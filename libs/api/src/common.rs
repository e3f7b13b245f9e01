//! Messages shared by many requests: task queues, retry policy, priority, header, memo, ...

use crate::duration::Duration;
use crate::enums::TaskQueueKind;
use crate::payload::Payload;
use crate::protojson::is_default;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Temporal links (`temporal.api.common.v1.Link`) are passed through untouched.
pub type Link = serde_json::Value;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskQueue {
    /// The queue's name (at most 1000 bytes), e.g. `demo`.
    #[serde(skip_serializing_if = "is_default")]
    pub name: String,
    /// `TASK_QUEUE_KIND_NORMAL` (default) or `TASK_QUEUE_KIND_STICKY`.
    #[serde(skip_serializing_if = "is_default")]
    pub kind: TaskQueueKind,
    #[serde(alias = "normal_name", skip_serializing_if = "is_default")]
    pub normal_name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ActivityType {
    /// The type's name (at most 1000 bytes), e.g. `SimpleActivity`.
    #[serde(skip_serializing_if = "is_default")]
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowType {
    /// The type's name (at most 1000 bytes), e.g. `OrderWorkflow`.
    #[serde(skip_serializing_if = "is_default")]
    pub name: String,
}

/// `{workflowId, runId}`; a standalone activity's poll response carries it empty (`{}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowExecution {
    #[serde(alias = "workflow_id", skip_serializing_if = "is_default")]
    pub workflow_id: String,
    #[serde(alias = "run_id", skip_serializing_if = "is_default")]
    pub run_id: String,
}

/// Zero or absent fields mean "use the default" (SEMANTICS §3.1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryPolicy {
    /// Backoff before the first retry. Default `1s`.
    #[serde(alias = "initial_interval", skip_serializing_if = "Option::is_none")]
    pub initial_interval: Option<Duration>,
    /// Each retry's backoff is the previous one times this, at least 1. Default 2.
    #[serde(
        alias = "backoff_coefficient",
        with = "crate::protojson::double",
        skip_serializing_if = "is_default"
    )]
    pub backoff_coefficient: f64,
    /// Cap on the backoff. Default: 100 times `initialInterval`.
    #[serde(alias = "maximum_interval", skip_serializing_if = "Option::is_none")]
    pub maximum_interval: Option<Duration>,
    /// Attempts in all, the first included; 1 means no retry. Default 0: unlimited (bounded by the
    /// schedule-to-close timeout).
    #[serde(alias = "maximum_attempts", skip_serializing_if = "is_default")]
    pub maximum_attempts: i32,
    /// Application failure `type`s that are not retried.
    #[serde(
        alias = "non_retryable_error_types",
        skip_serializing_if = "is_default"
    )]
    pub non_retryable_error_types: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Priority {
    #[serde(alias = "priority_key", skip_serializing_if = "is_default")]
    pub priority_key: i32,
    #[serde(alias = "fairness_key", skip_serializing_if = "is_default")]
    pub fairness_key: String,
    #[serde(alias = "fairness_weight", skip_serializing_if = "is_default")]
    pub fairness_weight: f32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Header {
    #[serde(skip_serializing_if = "is_default")]
    pub fields: BTreeMap<String, Payload>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Memo {
    #[serde(skip_serializing_if = "is_default")]
    pub fields: BTreeMap<String, Payload>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchAttributes {
    #[serde(alias = "indexed_fields", skip_serializing_if = "is_default")]
    pub indexed_fields: BTreeMap<String, Payload>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct UserMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Payload>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Payload>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn retry_policy_omits_zero_fields_and_accepts_snake_case() {
        let p: RetryPolicy = serde_json::from_value(json!({
            "initial_interval": "1s", "maximumAttempts": 4, "non_retryable_error_types": ["X"]
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"initialInterval": "1s", "maximumAttempts": 4, "nonRetryableErrorTypes": ["X"]})
        );
        assert_eq!(
            serde_json::to_string(&RetryPolicy::default()).unwrap(),
            "{}"
        );
    }

    #[test]
    fn task_queue_rejects_unknown_fields() {
        let err =
            serde_json::from_value::<TaskQueue>(json!({"name": "q", "bogusField": 1})).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `bogusField`"),
            "{err}"
        );
        let tq: TaskQueue =
            serde_json::from_value(json!({"name": "q", "kind": "TASK_QUEUE_KIND_NORMAL"})).unwrap();
        assert_eq!(tq.kind, TaskQueueKind::Normal);
    }

    #[test]
    fn header_fields_print_single_payloads() {
        let h: Header = serde_json::from_value(json!({"fields": {"a": "x", "b": null}})).unwrap();
        assert_eq!(h.fields["a"], Payload::Json(json!("x")));
        assert!(h.fields["b"].is_binary_null());
        assert_eq!(
            serde_json::to_value(&h).unwrap(),
            json!({"fields": {"a": "x", "b": {"metadata": {"encoding": "YmluYXJ5L251bGw="}}}})
        );
    }
}

#[cfg(test)]
mod double_tests {
    use super::*;

    #[test]
    fn integral_coefficients_print_without_a_fraction() {
        let p = RetryPolicy {
            backoff_coefficient: 2.0,
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"backoffCoefficient":2}"#
        );
        let p = RetryPolicy {
            backoff_coefficient: 1.5,
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"backoffCoefficient":1.5}"#
        );
    }
}
