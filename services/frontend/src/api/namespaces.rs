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
use crate::openapi::params::NamespaceParams;
use crate::openapi::{CreateErrors, Errors};

/// The query is checked but not used: history answers every namespace in one page.
#[utoipa::path(
    get,
    path = "/api/v1/namespaces",
    tag = "Namespaces",
    operation_id = "ListNamespaces",
    summary = "List the namespaces",
    params(ListNamespacesQuery),
    responses((status = 200, description = "OK", body = ListNamespacesResponse), Errors)
)]
pub async fn list(
    State(s): State<AppState>,
    _: ApiQuery<ListNamespacesQuery>,
) -> Reply<ListNamespacesResponse> {
    Ok(Json(s.history.list_namespaces().await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/namespaces",
    tag = "Namespaces",
    operation_id = "RegisterNamespace",
    summary = "Register a namespace",
    request_body = RegisterNamespaceRequest,
    responses((status = 200, description = "`{}`", body = Empty), CreateErrors)
)]
pub async fn register(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<RegisterNamespaceRequest>,
) -> Reply<Empty> {
    s.history.register_namespace(req).await?;
    empty()
}

#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}",
    tag = "Namespaces",
    operation_id = "DescribeNamespace",
    summary = "Describe a namespace",
    params(NamespaceParams),
    responses((status = 200, description = "OK", body = DescribeNamespaceResponse), Errors)
)]
pub async fn describe(
    State(s): State<AppState>,
    ApiPath(ns): ApiPath<String>,
) -> Reply<DescribeNamespaceResponse> {
    Ok(Json(s.history.describe_namespace(&ns).await?))
}
