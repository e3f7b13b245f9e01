//! The frontend's error response: the API error JSON under its HTTP status. The one place
//! that turns errors into HTTP.

use axum::Json;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use waymark_api::{ApiError, Code};

/// An [`ApiError`] on its way to the caller. The status follows the code, except for an
/// oversized body, which is 413 as in grpc-gateway.
#[derive(Debug)]
pub struct Error {
    pub api: ApiError,
    status: StatusCode,
}

impl Error {
    /// `size`: the body's length when it came with one.
    pub fn payload_too_large(limit: usize, size: Option<u64>) -> Self {
        let message = match size {
            Some(size) => {
                format!("request body of {size} bytes exceeds the limit of {limit} bytes")
            }
            None => format!("request body exceeds the limit of {limit} bytes"),
        };
        let api = ApiError::new(Code::ResourceExhausted, message);
        Error {
            api,
            status: StatusCode::PAYLOAD_TOO_LARGE,
        }
    }
}

impl From<ApiError> for Error {
    fn from(api: ApiError) -> Self {
        let status =
            StatusCode::from_u16(api.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Error { api, status }
    }
}

/// The answer to a request whose handler panicked: 500, code 13, and the panic in the log, never
/// in the answer. The process, and every other request, carry on.
pub fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!(panic = panic_message(&*panic), "a request panicked");
    Error::from(ApiError::internal()).into_response()
}

/// What a panic said, for the log.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

/// Middleware on every server (`serve_until`): an error that a layer below the handlers
/// answered in plain text (axum's 405, 413, 415 or 400 rejections, a timeout) gets the API error
/// body, with that text as its message.
pub async fn api_error_bodies(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error"),
        text => text,
    };
    let api = ApiError::new(Code::for_http_status(status.as_u16()), message);
    parts.headers.remove(CONTENT_TYPE);
    parts.headers.remove(CONTENT_LENGTH);
    (parts, Json(api)).into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let unauthenticated = self.api.code == Code::Unauthenticated;
        let mut response = (self.status, Json(self.api)).into_response();
        if unauthenticated {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
