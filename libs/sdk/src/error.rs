//! The SDK's errors: [`Error`] for calls to the server, [`ActivityFailure`] for an activity
//! that closed without a result, and [`ActivityError`], what an activity function returns.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use waymark_api::{
    ApiError, ApplicationFailureInfo, Code, Failure, Payloads, RetryState, TimeoutType,
};

use crate::payload::{self, PayloadError};

/// What a call to the server can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with its error body (`{"code","message","details"}`).
    #[error("{operation}: the server answered {status}: {message} (code {code:?})", message = .error.message, code = .error.code)]
    Api {
        /// What the SDK was doing, e.g. `start activity a1`.
        operation: String,
        /// The HTTP status.
        status: u16,
        /// The error body.
        error: ApiError,
    },
    /// The server answered something that is not the API's JSON (a proxy, a wrong URL, ...).
    #[error("{operation}: unexpected answer {status}: {body}")]
    UnexpectedResponse {
        /// What the SDK was doing.
        operation: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The request did not get an answer (connection refused, timeout, ...).
    #[error("{operation}: {source}")]
    Transport {
        /// What the SDK was doing.
        operation: String,
        /// reqwest's error.
        source: reqwest::Error,
    },
    /// A value could not be encoded, or an answer decoded into the requested type.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The activity closed without a result: failed, timed out, cancelled or terminated.
    #[error(transparent)]
    ActivityFailed(Box<ActivityFailure>),
    /// The URL or the options given to the SDK cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl Error {
    /// The gRPC code of a server error (`NotFound`, `AlreadyExists`, ...), if it was one.
    pub fn code(&self) -> Option<Code> {
        match self {
            Error::Api { error, .. } => Some(error.code),
            _ => None,
        }
    }

    /// The activity failure, if this is one.
    pub fn activity_failure(&self) -> Option<&ActivityFailure> {
        match self {
            Error::ActivityFailed(f) => Some(f),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: no answer, or the server said it was
    /// unavailable, overloaded or out of time.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Api { error, .. } => matches!(
                error.code,
                Code::Unavailable
                    | Code::ResourceExhausted
                    | Code::DeadlineExceeded
                    | Code::Aborted
                    | Code::Internal
                    | Code::Unknown
            ),
            Error::UnexpectedResponse { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// How an activity closed without a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Its last attempt failed (the activity's own error, or the server's).
    Failed,
    /// A timeout ended it (which one is in the value).
    TimedOut(TimeoutType),
    /// It was cancelled.
    Cancelled,
    /// It was terminated.
    Terminated,
}

/// An activity that closed without a result, as [`ActivityHandle::result`] reports it.
///
/// [`ActivityHandle::result`]: crate::ActivityHandle::result
#[derive(Clone, Debug, PartialEq)]
pub struct ActivityFailure {
    activity_id: String,
    run_id: String,
    failure: Failure,
    retry_state: RetryState,
}

impl ActivityFailure {
    pub(crate) fn new(
        activity_id: String,
        run_id: String,
        failure: Failure,
        retry_state: RetryState,
    ) -> Self {
        ActivityFailure {
            activity_id,
            run_id,
            failure,
            retry_state,
        }
    }

    /// The activity's id.
    pub fn activity_id(&self) -> &str {
        &self.activity_id
    }

    /// The run that closed.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Failed, timed out, cancelled or terminated.
    pub fn kind(&self) -> FailureKind {
        let f = &self.failure;
        if let Some(t) = &f.timeout_failure_info {
            FailureKind::TimedOut(t.timeout_type)
        } else if f.canceled_failure_info.is_some() {
            FailureKind::Cancelled
        } else if f.terminated_failure_info.is_some() {
            FailureKind::Terminated
        } else {
            FailureKind::Failed
        }
    }

    /// The failure's message.
    pub fn message(&self) -> &str {
        &self.failure.message
    }

    /// The application error type (`ActivityError::application`'s first argument), if the
    /// activity failed with one.
    pub fn error_type(&self) -> Option<&str> {
        self.failure
            .application_failure_info
            .as_ref()
            .map(|a| a.r#type.as_str())
    }

    /// Whether the activity said its error was not worth retrying.
    pub fn is_non_retryable(&self) -> bool {
        self.failure
            .application_failure_info
            .as_ref()
            .is_some_and(|a| a.non_retryable)
    }

    /// Why the server stopped retrying (`RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED`, ...);
    /// unspecified for cancellations and terminations.
    pub fn retry_state(&self) -> RetryState {
        self.retry_state
    }

    /// The details the failure carries, decoded: the application error's details, the
    /// cancellation's details, or a timeout's last heartbeat details. `Ok(None)` if none.
    pub fn details<T: DeserializeOwned>(&self) -> Result<Option<T>, PayloadError> {
        let f = &self.failure;
        let details = f
            .application_failure_info
            .as_ref()
            .and_then(|a| a.details.as_ref())
            .or_else(|| {
                f.canceled_failure_info
                    .as_ref()
                    .and_then(|c| c.details.as_ref())
            })
            .or_else(|| {
                f.timeout_failure_info
                    .as_ref()
                    .and_then(|t| t.last_heartbeat_details.as_ref())
            });
        payload::optional(details, "failure details")
    }

    /// The failure as the server sent it (with its `cause` chain).
    pub fn failure(&self) -> &Failure {
        &self.failure
    }
}

impl std::fmt::Display for ActivityFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind() {
            FailureKind::Failed => "failed".to_string(),
            FailureKind::TimedOut(t) => format!("timed out ({t})"),
            FailureKind::Cancelled => "was cancelled".to_string(),
            FailureKind::Terminated => "was terminated".to_string(),
        };
        write!(
            f,
            "activity {} {what}: {}",
            self.activity_id, self.failure.message
        )?;
        if let Some(t) = self.error_type().filter(|t| !t.is_empty()) {
            write!(f, " [{t}]")?;
        }
        if !self.retry_state.is_unspecified() {
            write!(f, " ({})", self.retry_state)?;
        }
        Ok(())
    }
}

impl std::error::Error for ActivityFailure {}

// ---------------------------------------------------------------------------------------------
// What activities return

/// The error an activity function returns.
///
/// Build an application error with [`ActivityError::application`]; any other error converts
/// with `?` into a retryable application error whose type is the Rust type's name. Return
/// [`ActivityError::ResultPending`] when another process will complete the activity by its
/// task token.
///
/// ```
/// use std::time::Duration;
/// use waymark_sdk::ActivityError;
///
/// fn charge(amount: u64) -> Result<(), ActivityError> {
///     if amount == 0 {
///         return Err(ActivityError::application("InvalidAmount", "amount must be positive")
///             .non_retryable()
///             .details(amount));
///     }
///     // Any std error works with `?`; the attempt fails and will be retried.
///     let _n: u32 = "12".parse()?;
///     Err(ActivityError::application("CardDeclined", "try again in a minute")
///         .next_retry_delay(Duration::from_secs(60)))
/// }
///
/// let err = charge(0).unwrap_err();
/// assert!(err.to_string().contains("InvalidAmount"));
/// ```
#[derive(Debug)]
pub enum ActivityError {
    /// The attempt failed with this error; the server retries it unless it is non-retryable
    /// or the retry policy says otherwise.
    Application(ApplicationError),
    /// The activity stopped because it was cancelled. Reported as cancelled when a cancel was
    /// requested; otherwise (worker shutdown, deadline) as a failure.
    Cancelled {
        /// Details reported with the cancellation.
        details: Option<Payloads>,
    },
    /// The activity's result will come from elsewhere: someone holding its task token (or
    /// knowing its id) completes, fails or cancels it. The worker reports nothing.
    ResultPending,
}

/// An application error: a type, a message, and how the server should treat it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApplicationError {
    /// Matched against the retry policy's `nonRetryableErrorTypes`.
    pub error_type: String,
    /// What went wrong.
    pub message: String,
    /// True: never retried.
    pub non_retryable: bool,
    /// Data for whoever reads the failure.
    pub details: Option<Payloads>,
    /// Overrides the retry policy's backoff for the next attempt.
    pub next_retry_delay: Option<Duration>,
    /// The error's source chain.
    pub cause: Option<Box<Failure>>,
}

impl ActivityError {
    /// A retryable application error of type `error_type`.
    pub fn application(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        ActivityError::Application(ApplicationError {
            error_type: error_type.into(),
            message: message.into(),
            ..Default::default()
        })
    }

    /// A cancellation without details.
    pub fn cancelled() -> Self {
        ActivityError::Cancelled { details: None }
    }

    /// Marks an application error as not retryable (no effect on other variants).
    pub fn non_retryable(mut self) -> Self {
        if let ActivityError::Application(a) = &mut self {
            a.non_retryable = true;
        }
        self
    }

    /// Attaches details (encoded with the payload rule of [`crate::payload`]) to an
    /// application error or a cancellation. A value that cannot be encoded is replaced by its
    /// encoding error's text.
    pub fn details<T: Serialize>(mut self, details: T) -> Self {
        let encoded = payload::to_payloads(&details, "failure details").unwrap_or_else(|e| {
            tracing::warn!(error = %e, "activity error details could not be encoded");
            Payloads(vec![waymark_api::Payload::Json(e.to_string().into())])
        });
        match &mut self {
            ActivityError::Application(a) => a.details = Some(encoded),
            ActivityError::Cancelled { details } => *details = Some(encoded),
            ActivityError::ResultPending => {}
        }
        self
    }

    /// Asks the server to retry after `delay` instead of the retry policy's backoff.
    pub fn next_retry_delay(mut self, delay: Duration) -> Self {
        if let ActivityError::Application(a) = &mut self {
            a.next_retry_delay = Some(delay);
        }
        self
    }

    /// The failure reported to the server for an application error (`None` for the other
    /// variants, which are not reported as failures).
    pub fn to_failure(&self) -> Option<Failure> {
        match self {
            ActivityError::Application(a) => Some(a.to_failure()),
            _ => None,
        }
    }
}

impl ApplicationError {
    /// The wire form: `{message, source, applicationFailureInfo: {type, nonRetryable, ..}}`.
    pub fn to_failure(&self) -> Failure {
        Failure {
            message: self.message.clone(),
            source: crate::SDK_NAME.to_string(),
            cause: self.cause.clone(),
            application_failure_info: Some(ApplicationFailureInfo {
                r#type: self.error_type.clone(),
                non_retryable: self.non_retryable,
                details: self.details.clone(),
                next_retry_delay: self.next_retry_delay.map(waymark_api::Duration::from_std),
                category: String::new(),
            }),
            ..Default::default()
        }
    }
}

impl std::fmt::Display for ActivityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActivityError::Application(a) => {
                write!(f, "{}: {}", a.error_type, a.message)?;
                if a.non_retryable {
                    f.write_str(" (non-retryable)")?;
                }
                Ok(())
            }
            ActivityError::Cancelled { .. } => f.write_str("activity cancelled"),
            ActivityError::ResultPending => {
                f.write_str("activity result pending (completed asynchronously)")
            }
        }
    }
}

/// Any error fails the attempt as retryable, typed with the error's Rust type name and with its
/// `source()` chain as the failure's causes.
impl<E: std::error::Error + Send + Sync + 'static> From<E> for ActivityError {
    fn from(e: E) -> Self {
        let mut cause = None;
        let mut chain = Vec::new();
        let mut next = e.source();
        while let Some(s) = next {
            chain.push(s.to_string());
            next = s.source();
        }
        for message in chain.into_iter().rev() {
            cause = Some(Box::new(Failure {
                message,
                cause,
                ..Default::default()
            }));
        }
        ActivityError::Application(ApplicationError {
            error_type: std::any::type_name::<E>().to_string(),
            message: e.to_string(),
            cause,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_application_error_carries_its_options_on_the_wire() {
        let err = ActivityError::application("Declined", "no funds")
            .non_retryable()
            .details(("card", 42))
            .next_retry_delay(Duration::from_millis(2500));
        assert_eq!(
            serde_json::to_value(err.to_failure().unwrap()).unwrap(),
            json!({"message": "no funds", "source": "waymark-sdk-rust", "applicationFailureInfo": {
                "type": "Declined", "nonRetryable": true, "details": ["card", 42], "nextRetryDelay": "2.500s"}})
        );
    }

    #[test]
    fn any_std_error_becomes_a_retryable_failure_named_after_its_type() {
        fn parse() -> Result<u32, ActivityError> {
            Ok("x".parse::<u32>()?)
        }
        let f = parse().unwrap_err().to_failure().unwrap();
        let info = f.application_failure_info.unwrap();
        assert_eq!(info.r#type, "core::num::error::ParseIntError");
        assert!(!info.non_retryable);
        assert_eq!(f.message, "invalid digit found in string");
    }

    #[test]
    fn an_error_source_chain_becomes_the_failure_cause() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let err = ActivityError::from(Outer(std::io::Error::other("inner")));
        let f = err.to_failure().unwrap();
        assert_eq!(f.cause.unwrap().message, "inner");
    }

    #[test]
    fn activity_failure_reads_its_kind_and_details() {
        let f: Failure = serde_json::from_value(json!({"message": "activity StartToClose timeout",
            "timeoutFailureInfo": {"timeoutType": "TIMEOUT_TYPE_START_TO_CLOSE", "lastHeartbeatDetails": [7]}}))
        .unwrap();
        let af = ActivityFailure::new(
            "a1".into(),
            "r1".into(),
            f,
            RetryState::MaximumAttemptsReached,
        );
        assert_eq!(af.kind(), FailureKind::TimedOut(TimeoutType::StartToClose));
        assert_eq!(af.details::<u32>().unwrap(), Some(7));
        assert_eq!(
            af.to_string(),
            "activity a1 timed out (TIMEOUT_TYPE_START_TO_CLOSE): activity StartToClose timeout (RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED)"
        );
    }
}
