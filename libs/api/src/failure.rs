//! `temporal.api.failure.v1.Failure`: the error chain reported by workers and the server.

use crate::duration::Duration;
use crate::enums::TimeoutType;
use crate::payload::Payloads;
use crate::protojson::is_default;
use serde::{Deserialize, Deserializer, Serialize, de};
use serde_json::Value;
use std::cell::Cell;

/// Deepest `cause` chain accepted on input; deeper input is an error rather than a stack overflow.
pub const MAX_CAUSE_DEPTH: usize = 64;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Failure {
    /// What went wrong, for people.
    #[serde(skip_serializing_if = "is_default")]
    pub message: String,
    /// What produced the failure, e.g. an SDK's name.
    #[serde(skip_serializing_if = "is_default")]
    pub source: String,
    /// The worker's stack trace, as text.
    #[serde(alias = "stack_trace", skip_serializing_if = "is_default")]
    pub stack_trace: String,
    #[serde(alias = "encoded_attributes", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub encoded_attributes: Option<Value>,
    /// The failure that caused this one, if any (at most 64 levels deep).
    #[schema(no_recursion)]
    #[serde(
        deserialize_with = "deserialize_cause",
        skip_serializing_if = "Option::is_none"
    )]
    pub cause: Option<Box<Failure>>,
    /// Set on a failure the worker reports: its `type`, whether it is `nonRetryable`, its
    /// `details`, an optional `nextRetryDelay`.
    #[serde(
        alias = "application_failure_info",
        skip_serializing_if = "Option::is_none"
    )]
    pub application_failure_info: Option<ApplicationFailureInfo>,
    /// Set by the server on a timeout: which timeout (`timeoutType`) and the last heartbeat
    /// details.
    #[serde(
        alias = "timeout_failure_info",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout_failure_info: Option<TimeoutFailureInfo>,
    /// Set on a cancellation: its details.
    #[serde(
        alias = "canceled_failure_info",
        skip_serializing_if = "Option::is_none"
    )]
    pub canceled_failure_info: Option<CanceledFailureInfo>,
    /// Set on a termination.
    #[serde(
        alias = "terminated_failure_info",
        skip_serializing_if = "Option::is_none"
    )]
    pub terminated_failure_info: Option<TerminatedFailureInfo>,
    /// Set on a failure of the server's own making.
    #[serde(alias = "server_failure_info", skip_serializing_if = "Option::is_none")]
    pub server_failure_info: Option<ServerFailureInfo>,
    #[serde(
        alias = "reset_workflow_failure_info",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = crate::schema::message)]
    pub reset_workflow_failure_info: Option<Value>,
    #[serde(
        alias = "activity_failure_info",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = crate::schema::message)]
    pub activity_failure_info: Option<Value>,
    #[serde(
        alias = "child_workflow_execution_failure_info",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = crate::schema::message)]
    pub child_workflow_execution_failure_info: Option<Value>,
    #[serde(
        alias = "nexus_operation_execution_failure_info",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = crate::schema::message)]
    pub nexus_operation_execution_failure_info: Option<Value>,
    #[serde(
        alias = "nexus_handler_failure_info",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = crate::schema::message)]
    pub nexus_handler_failure_info: Option<Value>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            ..Default::default()
        }
    }
}

thread_local! {
    /// `cause` nesting of the Failure being deserialized on this thread.
    static CAUSE_DEPTH: Cell<usize> = const { Cell::new(0) };
}

fn deserialize_cause<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<Failure>>, D::Error> {
    struct Level;
    impl Drop for Level {
        fn drop(&mut self) {
            CAUSE_DEPTH.with(|c| c.set(c.get() - 1));
        }
    }
    let depth = CAUSE_DEPTH.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    let _level = Level;
    if depth > MAX_CAUSE_DEPTH {
        return Err(de::Error::custom(format!(
            "failure cause chain exceeds the maximum depth of {MAX_CAUSE_DEPTH}"
        )));
    }
    Option::<Box<Failure>>::deserialize(d)
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationFailureInfo {
    #[serde(skip_serializing_if = "is_default")]
    pub r#type: String,
    #[serde(alias = "non_retryable", skip_serializing_if = "is_default")]
    pub non_retryable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Payloads>,
    #[serde(alias = "next_retry_delay", skip_serializing_if = "Option::is_none")]
    pub next_retry_delay: Option<Duration>,
    /// `APPLICATION_ERROR_CATEGORY_*`; only affects SDK logging, so kept as text.
    #[serde(skip_serializing_if = "is_default")]
    pub category: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeoutFailureInfo {
    #[serde(alias = "timeout_type", skip_serializing_if = "is_default")]
    pub timeout_type: TimeoutType,
    #[serde(
        alias = "last_heartbeat_details",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_heartbeat_details: Option<Payloads>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct CanceledFailureInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Payloads>,
    #[serde(skip_serializing_if = "is_default")]
    pub identity: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TerminatedFailureInfo {
    #[serde(skip_serializing_if = "is_default")]
    pub identity: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerFailureInfo {
    #[serde(alias = "non_retryable", skip_serializing_if = "is_default")]
    pub non_retryable: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(depth: usize) -> String {
        let mut s = r#"{"message":"leaf"}"#.to_string();
        for _ in 0..depth {
            s = format!(r#"{{"message":"m","cause":{s}}}"#);
        }
        s
    }

    #[test]
    fn failure_round_trip_is_byte_identical() {
        let text = r#"{"message":"fatal!","source":"GoSDK","stackTrace":"st","cause":{"message":"inner","applicationFailureInfo":{"type":"X"}},"applicationFailureInfo":{"type":"Fatal","details":["d"]}}"#;
        let f: Failure = serde_json::from_str(text).unwrap();
        assert_eq!(f.application_failure_info.as_ref().unwrap().r#type, "Fatal");
        assert_eq!(serde_json::to_string(&f).unwrap(), text);
    }

    #[test]
    fn failure_accepts_snake_case_and_rejects_unknown_fields() {
        let f: Failure = serde_json::from_value(json!({
            "message": "t",
            "timeout_failure_info": {"timeout_type": "TIMEOUT_TYPE_HEARTBEAT", "last_heartbeat_details": ["p1"]}
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            json!({"message": "t", "timeoutFailureInfo": {"timeoutType": "TIMEOUT_TYPE_HEARTBEAT", "lastHeartbeatDetails": ["p1"]}})
        );
        let err =
            serde_json::from_value::<Failure>(json!({"message": "x", "bogus": 1})).unwrap_err();
        assert!(err.to_string().contains("unknown field `bogus`"), "{err}");
    }

    #[test]
    fn cause_chains_deeper_than_the_limit_are_rejected() {
        assert!(serde_json::from_str::<Failure>(&chain(MAX_CAUSE_DEPTH)).is_ok());
        let err = serde_json::from_str::<Failure>(&chain(MAX_CAUSE_DEPTH + 1)).unwrap_err();
        assert!(err.to_string().contains("maximum depth"), "{err}");
        assert!(serde_json::from_str::<Failure>(&chain(10_000)).is_err());
        // The depth counter is balanced again after an error.
        assert!(serde_json::from_str::<Failure>(&chain(MAX_CAUSE_DEPTH)).is_ok());
    }
}
