//! Who calls, and whether they may: the bearer key of each request (HTTP `Authorization`, gRPC
//! `authorization` metadata) checked against history, or with `--auth=jwt` the bearer JWT
//! checked against the JWKS file, then against the operation table of `waymark_core::auth`.
//! Both doors call `Auth::authorize` before anything else.

mod jwks;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use waymark_api::{ApiError, Code};
use waymark_clients::HistoryApi;
use waymark_core::auth::{ApiKey, Grant, Need, bearer_token, need_of};

pub use jwks::{JwksFile, JwksFileError};

/// What `/readyz` and the start's log say when requests need no key.
pub const OFF_WARNING: &str =
    "authentication is off: anyone who reaches the API may do anything (--auth=on)";

/// How long a key's lookup is trusted: a disabled, deleted or expired key is refused within
/// this (the issue allows a second).
const CACHE_TTL: Duration = Duration::from_millis(500);
/// The cache forgets everything when it grows past this, so that a flood of keys cannot grow it.
const CACHE_MAX: usize = 10_000;

/// The caller of a request, for the handlers that check their target themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Who calls, as histories record it when a request names no identity: `apikey:<key id>`,
    /// or `jwt:<sub>` of a JWT; empty when auth is off.
    pub identity: String,
    pub grant: Grant,
}

impl Caller {
    /// Everyone, when auth is off.
    fn anyone() -> Self {
        Caller {
            identity: String::new(),
            grant: Grant::SystemAdmin,
        }
    }
}

/// An authenticated caller and what its operation needs, awaiting the operation's namespace.
#[derive(Clone, Debug)]
pub struct Authorized {
    pub caller: Caller,
    need: Need,
}

impl Authorized {
    /// PermissionDenied unless the caller may do the operation in `namespace`.
    pub fn check(&self, namespace: &str) -> Result<&Caller, ApiError> {
        match self.caller.grant.permits(self.need, namespace) {
            true => Ok(&self.caller),
            false => Err(denied()),
        }
    }
}

/// Whether requests need a key or a JWT, and the keys' cache.
#[derive(Debug, Default)]
pub struct Auth {
    enforced: bool,
    bootstrap: Option<ApiKey>,
    /// `--auth=jwt`: bearer tokens are JWTs verified with these keys; API keys are not taken.
    jwks: Option<JwksFile>,
    /// Key id → (secret hash, grant, when looked up).
    keys: Mutex<HashMap<String, (String, Grant, Instant)>>,
    /// Whether a stored system:admin key retires the bootstrap key, and when that was asked.
    admin_stored: Mutex<Option<(bool, Instant)>>,
    /// Operations opened to everyone by flag (`Metrics`, `Docs`).
    opened: Vec<&'static str>,
}

impl Auth {
    /// No key needed: every caller may do everything.
    pub fn off() -> Self {
        Auth::default()
    }

    /// Every route but the open ones needs a key. `bootstrap` acts as system:admin while no
    /// system:admin key is stored.
    pub fn enforced(bootstrap: Option<ApiKey>) -> Self {
        Auth {
            enforced: true,
            bootstrap,
            ..Auth::default()
        }
    }

    /// Every route but the open ones needs a JWT that verifies with `jwks`; its `permissions`
    /// claim gives its roles.
    pub fn jwt(jwks: JwksFile) -> Self {
        Auth {
            enforced: true,
            jwks: Some(jwks),
            ..Auth::default()
        }
    }

    /// `operations` need no key (`--open-metrics`, `--open-docs`).
    pub fn opening(self, operations: Vec<&'static str>) -> Self {
        Auth {
            opened: operations,
            ..self
        }
    }

    pub fn is_enforced(&self) -> bool {
        self.enforced
    }

    /// The caller of `operation` on namespace `namespace` (empty when it names none), from the
    /// `authorization` header's value. Unauthenticated (16) without a usable key, PermissionDenied
    /// (7) when the key's role does not cover the operation; neither says whether the target exists.
    pub async fn authorize(
        &self,
        history: &dyn HistoryApi,
        operation: &str,
        namespace: &str,
        authorization: Option<&[u8]>,
    ) -> Result<Caller, ApiError> {
        let authorized = self
            .authenticate_for(history, operation, authorization)
            .await?;
        authorized.check(namespace).cloned()
    }

    /// The first half of `authorize`, for a door that learns the namespace later (gRPC: it is
    /// inside the message): the key is checked, and what `operation` needs is noted.
    pub async fn authenticate_for(
        &self,
        history: &dyn HistoryApi,
        operation: &str,
        authorization: Option<&[u8]>,
    ) -> Result<Authorized, ApiError> {
        let anyone = Authorized {
            caller: Caller::anyone(),
            need: Need::Open,
        };
        if !self.enforced {
            return Ok(anyone);
        }
        let Some(need) = need_of(operation) else {
            // An operation the table does not know stays closed (a test keeps the table complete).
            return Err(denied());
        };
        if need == Need::Open || self.opened.contains(&operation) {
            return Ok(anyone);
        }
        let caller = self.authenticate(history, authorization).await?;
        Ok(Authorized { caller, need })
    }

    async fn authenticate(
        &self,
        history: &dyn HistoryApi,
        authorization: Option<&[u8]>,
    ) -> Result<Caller, ApiError> {
        let token = authorization
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(bearer_token);
        if let Some(jwks) = &self.jwks {
            return token
                .ok_or_else(invalid_token)
                .and_then(|token| jwt_caller(jwks, token));
        }
        let key = token
            .and_then(|v| ApiKey::parse(v).ok())
            .ok_or_else(unauthenticated)?;
        let hash = key.hash();
        if let Some(bootstrap) = &self.bootstrap
            && bootstrap.id == key.id
            && bootstrap.matches(&hash)
        {
            return match self.admin_stored(history).await? {
                false => Ok(Caller {
                    identity: format!("apikey:{}", key.id),
                    grant: Grant::SystemAdmin,
                }),
                true => Err(unauthenticated()),
            };
        }
        if let Some(grant) = self.cached(&key.id, &hash) {
            return Ok(Caller {
                identity: format!("apikey:{}", key.id),
                grant,
            });
        }
        let info = history
            .authenticate_api_key(&key.id, &hash)
            .await?
            .ok_or_else(unauthenticated)?;
        let grant = Grant::new(&info.namespace, &info.role).map_err(|e| {
            tracing::error!(key_id = info.id, error = %e, "a stored api key has no valid role");
            unauthenticated()
        })?;
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.len() >= CACHE_MAX {
            keys.clear();
        }
        keys.insert(key.id.clone(), (hash, grant.clone(), Instant::now()));
        Ok(Caller {
            identity: format!("apikey:{}", key.id),
            grant,
        })
    }

    fn cached(&self, id: &str, hash: &str) -> Option<Grant> {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        let (stored, grant, at) = keys.get(id)?;
        (at.elapsed() < CACHE_TTL && ApiKey::hash_matches(hash, stored)).then(|| grant.clone())
    }

    async fn admin_stored(&self, history: &dyn HistoryApi) -> Result<bool, ApiError> {
        let cached = *self
            .admin_stored
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((stored, at)) = cached
            && at.elapsed() < CACHE_TTL
        {
            return Ok(stored);
        }
        let stored = history.has_system_admin_key().await?;
        *self
            .admin_stored
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((stored, Instant::now()));
        Ok(stored)
    }
}

/// The caller a JWT names, if it verifies now.
fn jwt_caller(jwks: &JwksFile, token: &str) -> Result<Caller, ApiError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    match jwks.current().verify(token, now) {
        Ok(verified) => Ok(Caller {
            identity: format!("jwt:{}", verified.subject),
            grant: verified.grant,
        }),
        Err(e) => {
            // Why, for the operator; the caller learns only that it was refused.
            tracing::debug!(error = %e, "a bearer token was refused");
            Err(invalid_token())
        }
    }
}

/// 401 of `--auth=jwt`: no token, or one that does not verify or expired (the answer says not
/// which).
fn invalid_token() -> ApiError {
    ApiError::new(
        Code::Unauthenticated,
        "a valid JWT is required: Authorization: Bearer <token>",
    )
}

/// 401: no key, or one that is unknown, wrong, disabled or expired (the answer says not which).
fn unauthenticated() -> ApiError {
    ApiError::new(
        Code::Unauthenticated,
        "a valid API key is required: Authorization: Bearer wmk_...",
    )
}

/// 403, the same whether the target exists or not.
pub fn denied() -> ApiError {
    ApiError::new(
        Code::PermissionDenied,
        "the API key's role does not allow this request",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn every_operation_of_both_doors_is_in_the_table() {
        let set = prost_types::FileDescriptorSet::decode(waymark_proto::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set decodes");
        let service = set
            .file
            .iter()
            .flat_map(|f| &f.service)
            .find(|s| s.name() == "WorkflowService")
            .expect("WorkflowService is described");
        let grpc = service.method.iter().map(|m| m.name().to_owned());
        let http = crate::openapi::operation_ids().into_values();
        let all: Vec<String> = grpc.chain(http).collect();
        assert!(all.len() > 150, "both doors are walked: {}", all.len());
        let missing: Vec<&String> = all.iter().filter(|op| need_of(op).is_none()).collect();
        assert!(missing.is_empty(), "operations without a role: {missing:?}");
    }
}
