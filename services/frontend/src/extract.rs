//! Our extractors: JSON bodies, query strings and path parameters that reject with the API
//! error body, and the caller's deadline from the `Grpc-Timeout` header.

use std::time::Duration;

use axum::body::{Bytes, HttpBody};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, RawPathParams, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;
use waymark_api::*;

use crate::app::AppState;
use crate::error::Error;

/// A JSON request body. Like Temporal, any Content-Type is accepted and an empty body is `{}`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Error> {
        // The limit itself is the router's `DefaultBodyLimit`; this only words the rejection.
        let declared = HttpBody::size_hint(req.body()).exact();
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| match r.status() {
                StatusCode::PAYLOAD_TOO_LARGE => {
                    Error::payload_too_large(state.cfg.max_body_bytes, declared)
                }
                _ => ApiError::invalid_argument(r.body_text()).into(),
            })?;
        let text = match bytes.trim_ascii() {
            b"" => b"{}",
            _ => &bytes[..],
        };
        let decoded = crate::guard::decode(|| waymark_api::decode::from_slice(text))
            .map_err(ApiError::invalid_argument)?;
        // JSON writes a NUL only as this escape: the whole body is read again only then.
        if text.windows(6).any(|w| w == br"\u0000")
            && let Ok(json) = serde_json::from_slice(text)
        {
            waymark_core::text::validate_json_no_nul(&json).map_err(ApiError::invalid_argument)?;
        }
        Ok(ApiJson(decoded))
    }
}

/// A query string (`?runId=..&includeInput=true`).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|r| ApiError::invalid_argument(r.body_text()))?;
        for (name, value) in &pairs {
            validate_no_nul(name, value)?;
        }
        Query::try_from_uri(&parts.uri)
            .map(|Query(q)| ApiQuery(q))
            .map_err(|r| {
                // axum says `Failed to deserialize query string: <field>: <error>`.
                let text = r.body_text();
                let worded = text
                    .split_once(": ")
                    .and_then(|(_, rest)| rest.split_once(": "))
                    .and_then(|(field, error)| {
                        let (_, value) = pairs.iter().find(|(name, _)| name == field)?;
                        Some(waymark_api::decode::query_error(field, value, error))
                    });
                ApiError::invalid_argument(worded.unwrap_or(text)).into()
            })
    }
}

/// Path parameters (percent-decoded).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|r| ApiError::invalid_argument(r.body_text()))?;
        for (name, value) in &raw {
            validate_no_nul(name, value)?;
        }
        Path::from_request_parts(parts, state)
            .await
            .map(|Path(p)| ApiPath(p))
            .map_err(|r| ApiError::invalid_argument(r.body_text()).into())
    }
}

/// A NUL in a URL part is refused as in a body (`waymark_core::text`).
fn validate_no_nul(name: &str, value: &str) -> Result<(), ApiError> {
    waymark_core::text::validate_no_nul(name, value).map_err(ApiError::invalid_argument)
}

/// Requests that repeat the URL's namespace and activity id (and workflow id, for the
/// operator commands that also act on a workflow's activity) in their body.
pub trait Addressed {
    fn address(&mut self, namespace: &str, activity_id: &str);

    /// The body's workflow id, for requests that may name a workflow's activity.
    fn workflow_id(&mut self) -> Option<&mut String> {
        None
    }
}

macro_rules! addressed {
    ($($t:ty),* ; in_workflow: $($w:ty),* $(,)?) => {
        $(addressed!(@impl $t {});)*
        $(addressed!(@impl $w {
            fn workflow_id(&mut self) -> Option<&mut String> {
                Some(&mut self.workflow_id)
            }
        });)*
    };
    (@impl $t:ty { $($workflow:item)? }) => {
        impl Addressed for $t {
            fn address(&mut self, namespace: &str, activity_id: &str) {
                namespace.clone_into(&mut self.namespace);
                activity_id.clone_into(&mut self.activity_id);
            }
            $($workflow)?
        }
    };
}

addressed!(
    StartActivityExecutionRequest,
    RequestCancelActivityExecutionRequest,
    TerminateActivityExecutionRequest;
    in_workflow:
    PauseActivityExecutionRequest,
    UnpauseActivityExecutionRequest,
    ResetActivityExecutionRequest,
    UpdateActivityExecutionOptionsRequest,
);

/// The path of an activity's URL, `/activities/{activityId}` alone or below
/// `/workflows/{workflowId}`.
#[derive(serde::Deserialize)]
struct ActivityPath {
    namespace: String,
    #[serde(rename = "workflowId")]
    workflow_id: Option<String>,
    #[serde(rename = "activityId")]
    activity_id: String,
}

/// `/namespaces/{ns}[/workflows/{workflowId}]/activities/{activityId}` with its body; where the
/// body names another namespace, workflow or activity, the URL wins.
pub struct ActivityCall<T> {
    pub ns: String,
    pub id: String,
    pub req: T,
}

impl<T: DeserializeOwned + Addressed> FromRequest<AppState> for ActivityCall<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Error> {
        let (mut parts, body) = req.into_parts();
        let ApiPath(path) = ApiPath::<ActivityPath>::from_request_parts(&mut parts, state).await?;
        let ApiJson(mut req) =
            ApiJson::<T>::from_request(Request::from_parts(parts, body), state).await?;
        req.address(&path.namespace, &path.activity_id);
        if let (Some(workflow_id), Some(body)) = (path.workflow_id, req.workflow_id()) {
            *body = workflow_id;
        }
        Ok(ActivityCall {
            ns: path.namespace,
            id: path.activity_id,
            req,
        })
    }
}

/// The caller's deadline, from the `Grpc-Timeout` header; `None` without the header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deadline(pub Option<Duration>);

/// The margin a long poll keeps before the caller's deadline, as Temporal does.
const LONG_POLL_MARGIN: Duration = Duration::from_secs(1);

impl Deadline {
    /// gRPC's format: at most 8 digits, then one of `H M S m u n`.
    pub fn parse(value: &str) -> Option<Duration> {
        let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
        if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u64 = digits.parse().ok()?;
        Some(match unit {
            "H" => Duration::from_secs(n * 3600),
            "M" => Duration::from_secs(n * 60),
            "S" => Duration::from_secs(n),
            "m" => Duration::from_millis(n),
            "u" => Duration::from_micros(n),
            "n" => Duration::from_nanos(n),
            _ => return None,
        })
    }

    /// How long a long poll may wait: up to 1 s before the deadline, and never past `cap`.
    /// The deadline a `grpc-timeout` header (HTTP) or metadata entry (gRPC) sets, if any.
    pub fn from_header(value: Option<&[u8]>) -> Result<Deadline, ApiError> {
        let Some(value) = value else {
            return Ok(Deadline(None));
        };
        std::str::from_utf8(value)
            .ok()
            .and_then(Deadline::parse)
            .map(|t| Deadline(Some(t)))
            .ok_or_else(|| ApiError::invalid_argument("invalid grpc-timeout header"))
    }

    pub fn long_poll_wait(self, cap: Duration) -> Duration {
        self.0
            .map_or(cap, |t| t.saturating_sub(LONG_POLL_MARGIN).min(cap))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Deadline {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let value = parts.headers.get("grpc-timeout").map(|v| v.as_bytes());
        Ok(Deadline::from_header(value)?)
    }
}

/// Middleware on every route: a malformed deadline is refused, and one that has as good as
/// passed (under 1 ms) answers `DeadlineExceeded` without doing the work.
pub async fn enforce_deadline(
    deadline: Deadline,
    req: Request,
    next: Next,
) -> Result<Response, Error> {
    if deadline.0.is_some_and(|t| t < Duration::from_millis(1)) {
        return Err(ApiError::deadline_exceeded().into());
    }
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_follows_the_grpc_format() {
        let ok = [
            ("5S", Duration::from_secs(5)),
            ("1H", Duration::from_secs(3600)),
            ("2M", Duration::from_secs(120)),
            ("100m", Duration::from_millis(100)),
            ("10u", Duration::from_micros(10)),
            ("1n", Duration::from_nanos(1)),
            ("0S", Duration::ZERO),
            ("99999999S", Duration::from_secs(99_999_999)),
            ("00000001m", Duration::from_millis(1)),
        ];
        for (text, want) in ok {
            assert_eq!(Deadline::parse(text), Some(want), "{text}");
        }
        let bad = [
            "",
            "S",
            "5",
            "5s",
            "5x",
            "-1S",
            "+1S",
            " 5S",
            "5S ",
            "1.5S",
            "123456789S",
            "5SS",
            "é",
        ];
        for text in bad {
            assert_eq!(Deadline::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn long_polls_stop_a_second_before_the_deadline_and_at_the_cap() {
        let cap = Duration::from_secs(60);
        let wait = |t: Option<Duration>| Deadline(t).long_poll_wait(cap);
        assert_eq!(wait(None), cap);
        assert_eq!(wait(Some(Duration::from_secs(5))), Duration::from_secs(4));
        assert_eq!(wait(Some(Duration::from_millis(500))), Duration::ZERO);
        assert_eq!(wait(Some(Duration::from_secs(3600))), cap);
    }
}
