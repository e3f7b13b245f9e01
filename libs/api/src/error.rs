//! The API error body (`{"code","message","details"}`), gRPC codes and their HTTP statuses.

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::{Value, json};

/// gRPC status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Code {
    Ok = 0,
    Canceled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

impl Code {
    const ALL: [Code; 17] = [
        Code::Ok,
        Code::Canceled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    pub const fn as_i32(self) -> i32 {
        self as i32
    }

    pub fn from_i32(n: i32) -> Option<Code> {
        usize::try_from(n)
            .ok()
            .and_then(|i| Code::ALL.get(i).copied())
    }

    /// grpc-gateway v2's `HTTPStatusFromCode` (FailedPrecondition is 400, not v1's 412).
    pub const fn http_status(self) -> u16 {
        match self {
            Code::Ok => 200,
            Code::Canceled => 499,
            Code::Unknown | Code::Internal | Code::DataLoss => 500,
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
            Code::DeadlineExceeded => 504,
            Code::NotFound => 404,
            Code::AlreadyExists | Code::Aborted => 409,
            Code::PermissionDenied => 403,
            Code::ResourceExhausted => 429,
            Code::Unimplemented => 501,
            Code::Unavailable => 503,
            Code::Unauthenticated => 401,
        }
    }
}

impl Code {
    /// The code of an HTTP error status a layer below the API answered (routing, body limits,
    /// the HTTP parser): the inverse of `http_status` where one exists.
    pub const fn for_http_status(status: u16) -> Code {
        match status {
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::NotFound,
            405 | 501 => Code::Unimplemented,
            408 | 504 => Code::DeadlineExceeded,
            409 => Code::AlreadyExists,
            413 | 429 => Code::ResourceExhausted,
            499 => Code::Canceled,
            503 => Code::Unavailable,
            400..=499 => Code::InvalidArgument,
            _ => Code::Internal,
        }
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(self.as_i32())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i32::deserialize(d)?;
        Code::from_i32(n).ok_or_else(|| de::Error::custom(format!("invalid gRPC code {n}")))
    }
}

/// The error body every endpoint answers with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error, utoipa::ToSchema)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: Code,
    /// Always written.
    #[schema(required = true)]
    #[serde(default)]
    pub message: String,
    /// Temporal's error details, each an object with an `@type`, e.g.
    /// `type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(schema_with = crate::schema::error_details)]
    pub details: Vec<Value>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// `type.googleapis.com/temporal.api.errordetails.v1.<name>`
    pub fn type_url(name: &str) -> String {
        format!("type.googleapis.com/temporal.api.errordetails.v1.{name}")
    }

    pub fn with_detail(mut self, detail: Value) -> Self {
        self.details.push(detail);
        self
    }

    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidArgument, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, message)
            .with_detail(json!({"@type": Self::type_url("NotFoundFailure")}))
    }

    pub fn namespace_not_found(namespace: &str) -> Self {
        Self::new(
            Code::NotFound,
            format!("Namespace {namespace} is not found."),
        )
        .with_detail(json!({
            "@type": Self::type_url("NamespaceNotFoundFailure"),
            "namespace": namespace,
        }))
    }

    /// `detail` is the full detail object, e.g. an `ActivityExecutionAlreadyStartedFailure`.
    pub fn already_exists(message: impl Into<String>, detail: Value) -> Self {
        Self::new(Code::AlreadyExists, message).with_detail(detail)
    }

    pub fn failed_precondition(message: impl Into<String>) -> Self {
        Self::new(Code::FailedPrecondition, message)
    }

    pub fn resource_exhausted(message: impl Into<String>) -> Self {
        Self::new(Code::ResourceExhausted, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Code::Unavailable, message)
    }

    /// Internal errors never expose their cause to the caller.
    pub fn internal() -> Self {
        Self::new(Code::Internal, "internal error")
    }

    pub fn unimplemented(message: impl Into<String>) -> Self {
        Self::new(Code::Unimplemented, message)
    }

    pub fn deadline_exceeded() -> Self {
        Self::new(Code::DeadlineExceeded, "context deadline exceeded")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_status_follows_grpc_gateway_v2() {
        let table = [
            (0, 200),
            (1, 499),
            (2, 500),
            (3, 400),
            (4, 504),
            (5, 404),
            (6, 409),
            (7, 403),
            (8, 429),
            (9, 400),
            (10, 409),
            (11, 400),
            (12, 501),
            (13, 500),
            (14, 503),
            (15, 500),
            (16, 401),
        ];
        for (code, status) in table {
            assert_eq!(
                Code::from_i32(code).unwrap().http_status(),
                status,
                "code {code}"
            );
        }
        assert_eq!(Code::from_i32(17), None);
        for (code, status) in table.into_iter().skip(3).filter(|(_, s)| *s != 409) {
            let code = Code::from_i32(code).unwrap();
            assert_eq!(
                Code::for_http_status(status).http_status(),
                status,
                "{code:?}"
            );
        }
        assert_eq!(Code::for_http_status(414), Code::InvalidArgument);
        assert_eq!(Code::for_http_status(415), Code::InvalidArgument);
        assert_eq!(Code::for_http_status(413), Code::ResourceExhausted);
    }

    #[test]
    fn error_body_has_integer_code_and_omits_empty_details() {
        let e = ApiError::invalid_argument("activityType is not set");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":3,"message":"activityType is not set"}"#
        );

        let e = ApiError::namespace_not_found("nonexistent-ns");
        let text = r#"{"code":5,"message":"Namespace nonexistent-ns is not found.","details":[{"@type":"type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure","namespace":"nonexistent-ns"}]}"#;
        assert_eq!(serde_json::to_string(&e).unwrap(), text);
        assert_eq!(serde_json::from_str::<ApiError>(text).unwrap(), e);
        assert_eq!(e.http_status(), 404);
    }

    #[test]
    fn not_found_carries_its_detail_type() {
        let e = ApiError::not_found("activity not found for ID: X");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"code": 5, "message": "activity not found for ID: X", "details": [{"@type": "type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure"}]})
        );
        assert_eq!(e.to_string(), "NotFound: activity not found for ID: X");
        assert_eq!(ApiError::internal().message, "internal error");
        assert_eq!(ApiError::deadline_exceeded().code.http_status(), 504);
    }
}
