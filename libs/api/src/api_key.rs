//! API keys (`/api/v1/api-keys`): create (the key is answered once), list, disable, enable,
//! delete. Waymark's own routes: Temporal's open-source server has no such API.

use crate::protojson::is_default;
use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// The namespace the key acts in; empty for `system:admin`.
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    /// `reader`, `worker`, `writer`, `admin` (of `namespace`) or `system:admin`.
    #[schema(required = true)]
    pub role: String,
    /// When the key stops working; required.
    #[serde(alias = "expire_time", skip_serializing_if = "Option::is_none")]
    #[schema(required = true)]
    pub expire_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "is_default")]
    pub description: String,
}

/// A key as listed: everything but its secret.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ApiKeyInfo {
    pub id: String,
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
    pub role: String,
    #[serde(skip_serializing_if = "is_default")]
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "is_default")]
    pub disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_time: Option<Timestamp>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct CreateApiKeyResponse {
    /// The key value, `wmk_<id>_<secret>`: shown this once, never stored.
    pub key: String,
    pub api_key: ApiKeyInfo,
}

/// Query string of `GET /api-keys`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, rename_all = "camelCase")]
pub struct ListApiKeysQuery {
    /// Only this namespace's keys. A key that is not `system:admin` sees its own namespace's.
    #[serde(skip_serializing_if = "is_default")]
    pub namespace: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ListApiKeysResponse {
    pub api_keys: Vec<ApiKeyInfo>,
}
