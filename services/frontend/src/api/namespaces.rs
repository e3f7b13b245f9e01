//! `/namespaces`: register, describe, list.

use axum::Json;
use axum::extract::State;
use waymark_api::{
    DescribeNamespaceResponse, ListNamespacesQuery, ListNamespacesResponse,
    RegisterNamespaceRequest,
};

use super::{Empty, Reply, empty};
use crate::app::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery};

/// The query is checked but not used: history answers every namespace in one page.
pub async fn list(
    State(s): State<AppState>,
    _: ApiQuery<ListNamespacesQuery>,
) -> Reply<ListNamespacesResponse> {
    Ok(Json(s.history.list_namespaces().await?))
}

pub async fn register(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<RegisterNamespaceRequest>,
) -> Reply<Empty> {
    s.history.register_namespace(req).await?;
    empty()
}

pub async fn describe(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
) -> Reply<DescribeNamespaceResponse> {
    Ok(Json(s.history.describe_namespace(&ns).await?))
}
