//! `/api-keys`: create (the key is answered once), list, disable, enable, delete. Who may
//! manage which key is `waymark_core::auth::Grant::may_manage`: a key never manages a key with
//! more power than its own.

use axum::Json;
use axum::extract::{Extension, State};
use waymark_api::{
    ApiError, ApiKeyInfo, CreateApiKeyRequest, CreateApiKeyResponse, ListApiKeysQuery,
    ListApiKeysResponse,
};
use waymark_clients::NewApiKey;
use waymark_core::auth::{Action, ApiKey, Grant, ID_BYTES, SECRET_BYTES};

use super::{Empty, Reply, empty};
use crate::app::AppState;
use crate::auth::{Caller, denied};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::params::ApiKeyParams;
use crate::openapi::{BodyErrors, CreateErrors, Errors};

#[utoipa::path(
    post,
    path = "/api/v1/api-keys",
    tag = "API keys",
    operation_id = "CreateApiKey",
    summary = "Create an API key; the answer holds the key, shown this once",
    description = "Creates a key for `Authorization: Bearer <key>` with a role in one namespace (`reader`, \
        `worker`, `writer`, `admin`), or `system:admin` with no namespace. The answer carries \
        the key itself, `wmk_<id>_<secret>`, this once: the server keeps only its hash. \
        `expireTime` is required. A caller may only create keys with no more power than its own; \
        on a server without keys, anyone may.",
    request_body(content = CreateApiKeyRequest, example = json!({"namespace": "default", "role": "worker", "expireTime": "2030-01-01T00:00:00Z", "description": "demo worker"})),
    responses((status = 200, description = "OK", body = CreateApiKeyResponse), CreateErrors)
)]
pub async fn create(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(req): ApiJson<CreateApiKeyRequest>,
) -> Reply<CreateApiKeyResponse> {
    let grant = Grant::new(&req.namespace, &req.role)
        .map_err(|e| ApiError::invalid_argument(e.to_string()))?;
    if !caller.grant.may_manage(&grant) {
        return Err(denied().into());
    }
    let expire_time = req
        .expire_time
        .ok_or_else(|| ApiError::invalid_argument("expireTime is required"))?;
    let key = new_key()?;
    let new = NewApiKey {
        id: key.id.clone(),
        hash: key.hash(),
        namespace: req.namespace,
        role: req.role,
        description: req.description,
        expire_time,
    };
    let api_key = s.history.create_api_key(new).await?;
    tracing::info!(
        key_id = api_key.id,
        by = caller.identity,
        namespace = api_key.namespace,
        role = api_key.role,
        "api key created"
    );
    Ok(Json(CreateApiKeyResponse {
        key: key.value(),
        api_key,
    }))
}

/// A key from the operating system's randomness.
fn new_key() -> Result<ApiKey, ApiError> {
    let mut id = [0; ID_BYTES];
    let mut secret = [0; SECRET_BYTES];
    getrandom::fill(&mut id)
        .and_then(|()| getrandom::fill(&mut secret))
        .map_err(|e| {
            tracing::error!(error = %e, "no randomness for an api key");
            ApiError::internal()
        })?;
    Ok(ApiKey::from_random(id, secret))
}

/// A system administrator sees every key (or `namespace`'s); a namespace's admin, its own.
#[utoipa::path(
    get,
    path = "/api/v1/api-keys",
    tag = "API keys",
    operation_id = "ListApiKeys",
    summary = "List API keys, without their secrets",
    description = "Lists the keys the caller may manage, without their secrets: a system administrator sees \
        every key (or one namespace's, with `namespace`), a namespace's admin that namespace's.",
    params(ListApiKeysQuery),
    responses((status = 200, description = "OK", body = ListApiKeysResponse), Errors)
)]
pub async fn list(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<ListApiKeysQuery>,
) -> Reply<ListApiKeysResponse> {
    let namespace = match &caller.grant {
        Grant::SystemAdmin => Some(query.namespace).filter(|ns| !ns.is_empty()),
        grant => {
            let target = match query.namespace.as_str() {
                "" => grant.sole_namespace(),
                named => Some(named),
            };
            match target {
                Some(ns) if grant.allows(ns, Action::Admin) => Some(ns.to_owned()),
                _ => return Err(denied().into()),
            }
        }
    };
    Ok(Json(s.history.list_api_keys(namespace).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/api-keys/{id}/disable",
    tag = "API keys",
    operation_id = "DisableApiKey",
    summary = "Disable an API key: refused within a second",
    description = "Disables a key: requests with it answer 401 until it is enabled again. Use it to suspend \
        a key without losing it. The prefilled id names no key, so as is the example answers \
        404; use the `apiKey.id` of a CreateApiKey answer.",
    params(ApiKeyParams),
    responses((status = 200, description = "`{}`", body = Empty), BodyErrors)
)]
pub async fn disable(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
) -> Reply<Empty> {
    manageable(&s, &caller, &id).await?;
    s.history.set_api_key_disabled(&id, true).await?;
    empty()
}

#[utoipa::path(
    post,
    path = "/api/v1/api-keys/{id}/enable",
    tag = "API keys",
    operation_id = "EnableApiKey",
    summary = "Enable a disabled API key",
    description = "Enables a disabled key again. The prefilled id names no key, so as is the example \
        answers 404; use the `apiKey.id` of a CreateApiKey answer.",
    params(ApiKeyParams),
    responses((status = 200, description = "`{}`", body = Empty), BodyErrors)
)]
pub async fn enable(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
) -> Reply<Empty> {
    manageable(&s, &caller, &id).await?;
    s.history.set_api_key_disabled(&id, false).await?;
    empty()
}

#[utoipa::path(
    get,
    path = "/api/v1/api-keys/{id}",
    tag = "API keys",
    operation_id = "DescribeApiKey",
    summary = "Describe an API key, without its secret",
    description = "A key may describe itself (the web UI learns so what its key may do); an \
        administrator, the keys it manages. The prefilled id names no key, so as is the example \
        answers 404; use the `apiKey.id` of a CreateApiKey answer.",
    params(ApiKeyParams),
    responses((status = 200, description = "OK", body = ApiKeyInfo), Errors)
)]
pub async fn describe(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
) -> Reply<ApiKeyInfo> {
    if caller.identity == format!("apikey:{id}") {
        return Ok(Json(s.history.describe_api_key(&id).await?));
    }
    Ok(Json(manageable(&s, &caller, &id).await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/api-keys/{id}",
    tag = "API keys",
    operation_id = "DeleteApiKey",
    summary = "Delete an API key: refused within a second",
    description = "Deletes a key for good: requests with it answer 401. The prefilled id names no key, so \
        as is the example answers 404; use the `apiKey.id` of a CreateApiKey answer.",
    params(ApiKeyParams),
    responses((status = 200, description = "`{}`", body = Empty), Errors)
)]
pub async fn delete(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
) -> Reply<Empty> {
    manageable(&s, &caller, &id).await?;
    s.history.delete_api_key(&id).await?;
    empty()
}

/// Ok when `caller` may manage key `id`. A key that is no admin is refused (403); an admin
/// is told "not found" of a key it may not manage, so that it learns nothing of other namespaces.
async fn manageable(s: &AppState, caller: &Caller, id: &str) -> Result<ApiKeyInfo, ApiError> {
    if !caller.grant.administers_any() {
        return Err(denied());
    }
    let info = s.history.describe_api_key(id).await?;
    let target = Grant::new(&info.namespace, &info.role).ok();
    match target {
        Some(target) if caller.grant.may_manage(&target) => Ok(info),
        _ => Err(ApiError::not_found(format!("api key {id} not found"))),
    }
}
