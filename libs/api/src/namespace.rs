//! Namespace registration and description (`temporal.api.workflowservice.v1` namespace RPCs).

use crate::duration::Duration;
use crate::enums::NamespaceState;
use crate::protojson::{int64_as_string, is_default};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterNamespaceRequest {
    /// The new namespace's name. Required.
    #[serde(skip_serializing_if = "is_default")]
    #[schema(required = true)]
    pub namespace: String,
    #[serde(skip_serializing_if = "is_default")]
    pub description: String,
    #[serde(alias = "owner_email", skip_serializing_if = "is_default")]
    pub owner_email: String,
    /// How long closed executions are kept. Required, at least the server's minimum retention (1
    /// day by default).
    #[serde(
        alias = "workflow_execution_retention_period",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(required = true)]
    pub workflow_execution_retention_period: Option<Duration>,
    #[serde(skip_serializing_if = "is_default")]
    #[schema(schema_with = crate::schema::messages)]
    pub clusters: Vec<Value>,
    #[serde(alias = "active_cluster_name", skip_serializing_if = "is_default")]
    pub active_cluster_name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub data: BTreeMap<String, String>,
    #[serde(alias = "security_token", skip_serializing_if = "is_default")]
    pub security_token: String,
    #[serde(alias = "is_global_namespace", skip_serializing_if = "is_default")]
    pub is_global_namespace: bool,
    /// `ARCHIVAL_STATE_*`; archival is not supported, so these are stored as text.
    #[serde(alias = "history_archival_state", skip_serializing_if = "is_default")]
    pub history_archival_state: String,
    #[serde(alias = "history_archival_uri", skip_serializing_if = "is_default")]
    pub history_archival_uri: String,
    #[serde(
        alias = "visibility_archival_state",
        skip_serializing_if = "is_default"
    )]
    pub visibility_archival_state: String,
    #[serde(alias = "visibility_archival_uri", skip_serializing_if = "is_default")]
    pub visibility_archival_uri: String,
}

/// `POST /namespaces/{namespace}/update`: what is given changes, the rest stays (Temporal's
/// rule: an empty description or owner leaves it as it is; `data` entries are merged in).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateNamespaceRequest {
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    #[serde(alias = "update_info", skip_serializing_if = "Option::is_none")]
    pub update_info: Option<UpdateNamespaceInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<NamespaceConfig>,
    #[serde(alias = "replication_config", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub replication_config: Option<Value>,
    #[serde(alias = "security_token", skip_serializing_if = "is_default")]
    pub security_token: String,
    #[serde(alias = "delete_bad_binary", skip_serializing_if = "is_default")]
    pub delete_bad_binary: String,
    #[serde(alias = "promote_namespace", skip_serializing_if = "is_default")]
    pub promote_namespace: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateNamespaceInfo {
    #[serde(skip_serializing_if = "is_default")]
    pub description: String,
    #[serde(alias = "owner_email", skip_serializing_if = "is_default")]
    pub owner_email: String,
    #[serde(skip_serializing_if = "is_default")]
    pub data: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "is_default")]
    pub state: NamespaceState,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct NamespaceInfo {
    #[serde(skip_serializing_if = "is_default")]
    pub name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub state: NamespaceState,
    #[serde(skip_serializing_if = "is_default")]
    pub description: String,
    #[serde(skip_serializing_if = "is_default")]
    pub owner_email: String,
    #[serde(skip_serializing_if = "is_default")]
    pub data: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "is_default")]
    pub id: String,
    /// Capability flags such as `standaloneActivities`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub capabilities: Option<Value>,
    #[serde(skip_serializing_if = "is_default")]
    pub supports_schedules: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct NamespaceConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_execution_retention_ttl: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub bad_binaries: Option<Value>,
    #[serde(skip_serializing_if = "is_default")]
    pub history_archival_state: String,
    #[serde(skip_serializing_if = "is_default")]
    pub history_archival_uri: String,
    #[serde(skip_serializing_if = "is_default")]
    pub visibility_archival_state: String,
    #[serde(skip_serializing_if = "is_default")]
    pub visibility_archival_uri: String,
    #[serde(skip_serializing_if = "is_default")]
    pub custom_search_attribute_aliases: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct DescribeNamespaceResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_info: Option<NamespaceInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<NamespaceConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::message)]
    pub replication_config: Option<Value>,
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "int64_as_string", skip_serializing_if = "is_default")]
    pub failover_version: i64,
    #[serde(skip_serializing_if = "is_default")]
    pub is_global_namespace: bool,
    #[serde(skip_serializing_if = "is_default")]
    #[schema(schema_with = crate::schema::messages)]
    pub failover_history: Vec<Value>,
}

/// Query string of `GET /namespaces`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, rename_all = "camelCase")]
pub struct ListNamespacesQuery {
    #[serde(alias = "page_size", skip_serializing_if = "is_default")]
    pub page_size: i32,
    #[serde(alias = "next_page_token", skip_serializing_if = "is_default")]
    pub next_page_token: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ListNamespacesResponse {
    #[serde(skip_serializing_if = "is_default")]
    pub namespaces: Vec<DescribeNamespaceResponse>,
    /// base64
    #[serde(skip_serializing_if = "is_default")]
    pub next_page_token: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn register_accepts_snake_case_and_rejects_unknown_fields() {
        let r: RegisterNamespaceRequest = serde_json::from_value(json!({
            "namespace": "ns", "workflow_execution_retention_period": "86400s", "isGlobalNamespace": false
        }))
        .unwrap();
        assert_eq!(
            r.workflow_execution_retention_period,
            Some(Duration::from_secs(86_400))
        );
        assert!(serde_json::from_value::<RegisterNamespaceRequest>(json!({"nope": 1})).is_err());
    }

    #[test]
    fn describe_prints_state_and_retention() {
        let d = DescribeNamespaceResponse {
            namespace_info: Some(NamespaceInfo {
                name: "default".into(),
                state: NamespaceState::Registered,
                ..Default::default()
            }),
            config: Some(NamespaceConfig {
                workflow_execution_retention_ttl: Some(Duration::from_secs(86_400)),
                ..Default::default()
            }),
            failover_version: 1,
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({
                "namespaceInfo": {"name": "default", "state": "NAMESPACE_STATE_REGISTERED"},
                "config": {"workflowExecutionRetentionTtl": "86400s"},
                "failoverVersion": "1"
            })
        );
    }
}

/// `GET /namespaces/{ns}/activity-throughput`: the namespace's activities over the last hour,
/// a minute at a time (minutes without any are left out), standalone and workflow activities
/// alike. A Waymark addition; Temporal has no such call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ActivityThroughputResponse {
    #[serde(skip_serializing_if = "is_default")]
    pub minutes: Vec<ActivityMinuteStats>,
}

/// One minute of a namespace's activities.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ActivityMinuteStats {
    /// The minute's start.
    #[serde(skip_serializing_if = "is_default")]
    pub start_time: Option<crate::Timestamp>,
    /// Attempts workers took in this minute.
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "int64_as_string", skip_serializing_if = "is_default")]
    pub started: i64,
    /// How long those attempts waited for a worker, on average and at most.
    #[serde(skip_serializing_if = "is_default")]
    pub schedule_to_start_average: Option<Duration>,
    #[serde(skip_serializing_if = "is_default")]
    pub schedule_to_start_max: Option<Duration>,
    /// Activities that completed in this minute.
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "int64_as_string", skip_serializing_if = "is_default")]
    pub completed: i64,
    /// Activities that closed otherwise: failed, timed out, canceled or terminated.
    #[schema(schema_with = crate::schema::int64)]
    #[serde(with = "int64_as_string", skip_serializing_if = "is_default")]
    pub not_completed: i64,
}

/// `GET /namespaces/{ns}/changes?after=<token>`: a long poll on the namespace's executions, for
/// pages that list them. A Waymark addition.
#[derive(
    Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams,
)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NamespaceChangesQuery {
    /// The token of the last answer; empty: answer the current token at once.
    pub after: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct NamespaceChangesResponse {
    /// Differs from `after` when an execution of the namespace changed (started, progressed,
    /// closed) since; the same when the wait passed without a change.
    pub token: String,
}
