//! The frontend's error response: the API error JSON under its HTTP status. The one place
//! that turns errors into HTTP.

use axum::Json;
use axum::http::StatusCode;
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
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    tracing::error!(panic = message, "a request panicked");
    Error::from(ApiError::internal()).into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        (self.status, Json(self.api)).into_response()
    }
}
