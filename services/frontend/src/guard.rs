//! What both doors do around a request's authorization when keys are required, besides the
//! check itself (`auth`):
//! - an address that keeps presenting invalid keys is held (429, code 8) before its key is even
//!   looked up, and every refusal is counted in `waymark_auth_failures` by reason;
//! - a call runs as its caller: a request it decodes that names no `identity` records the
//!   caller's (`apikey:<id>`), so that histories tell who did what;
//! - a call that changes what clients own goes to the audit log (target `waymark::audit`) with
//!   its caller, operation, target and outcome.

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use waymark_api::{ApiError, Code};
use waymark_core::auth::is_audited;
use waymark_core::failed_attempts::FailedAttempts;

use crate::auth::Caller;

/// Invalid keys an address may present at once before it is held.
const FAILURE_BURST: u32 = 20;
/// Then one more try per this.
const FAILURE_DRAIN: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Guard {
    failed: Mutex<FailedAttempts>,
}

impl Default for Guard {
    fn default() -> Self {
        Guard {
            failed: Mutex::new(FailedAttempts::new(FAILURE_BURST, FAILURE_DRAIN)),
        }
    }
}

impl Guard {
    /// ResourceExhausted while `client` is held for its invalid keys.
    pub fn admit(&self, client: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(client) = client else { return Ok(()) };
        let failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        match failed.wait(client, Instant::now()) {
            None => Ok(()),
            Some(wait) => {
                waymark_telemetry::auth_failed("throttled");
                Err(ApiError::new(
                    Code::ResourceExhausted,
                    format!(
                        "too many invalid API keys from this address (at most {FAILURE_BURST} at \
                         once, then one every {}s): retry in {} ms",
                        FAILURE_DRAIN.as_secs(),
                        wait.as_millis().max(1)
                    ),
                ))
            }
        }
    }

    /// Counts `refusal` of a request from `client`; `presented`: it carried a key, which counts
    /// towards holding the address when it was refused as invalid.
    pub fn refused(&self, client: Option<IpAddr>, presented: bool, refusal: &ApiError) {
        let reason = match (refusal.code, presented) {
            (Code::Unauthenticated, false) => "missing",
            (Code::Unauthenticated, true) => "invalid",
            _ => "denied",
        };
        waymark_telemetry::auth_failed(reason);
        if let (Some(client), "invalid") = (client, reason) {
            let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
            failed.failed(client, Instant::now());
        }
    }
}

/// The call being served: its caller's identity, and, when it is audited, its target once known.
struct Call {
    identity: String,
    target: Option<RefCell<String>>,
}

tokio::task_local! {
    static CALL: Call;
}

/// Serves `call` as `caller`'s, then writes it to the audit log when `operation` is audited:
/// `target` names what it acts on (a gRPC call's is learnt from its message: `note_target`),
/// `outcome` reads the answer's status. Neither is asked of a call that is not audited.
pub async fn serve_as<F: Future>(
    caller: &Caller,
    operation: &str,
    target: impl FnOnce() -> String,
    call: F,
    outcome: impl FnOnce(&F::Output) -> u16,
) -> F::Output {
    let scope = Call {
        identity: caller.identity.clone(),
        target: is_audited(operation).then(|| RefCell::new(target())),
    };
    let (answer, target) = CALL
        .scope(scope, async {
            let answer = call.await;
            (answer, CALL.with(|c| c.target.as_ref().map(RefCell::take)))
        })
        .await;
    if let Some(target) = target {
        tracing::info!(
            target: "waymark::audit",
            caller = %caller.identity,
            operation,
            target = %target,
            status = outcome(&answer),
            "audit"
        );
    }
    answer
}

/// Decodes a request of the call being served: a request that names no identity records its
/// caller's.
pub fn decode<T>(decode: impl FnOnce() -> T) -> T {
    let mut decode = Some(decode);
    let mut run = |identity: &str| {
        let decode = decode.take().expect("decoded once");
        waymark_api::identity::decoding_for(identity, decode)
    };
    match CALL.try_with(|c| run(&c.identity)) {
        Ok(decoded) => decoded,
        Err(_) => run(""),
    }
}

/// Notes what the call being served acts on, for its audit line (only an audited call asks).
pub fn note_target(target: impl FnOnce() -> String) {
    let _ = CALL.try_with(|c| {
        if let Some(noted) = &c.target {
            *noted.borrow_mut() = target();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use waymark_api::activity::StartActivityExecutionRequest;
    use waymark_core::auth::Grant;

    #[tokio::test]
    async fn a_callers_requests_record_its_identity_unless_they_name_one() {
        let caller = Caller {
            identity: "apikey:0123456789abcdef".into(),
            grant: Grant::SystemAdmin,
        };
        let decode_start = |json: &'static str| {
            decode(|| serde_json::from_str::<StartActivityExecutionRequest>(json).unwrap())
        };
        let (unnamed, named) = serve_as(
            &caller,
            "StartActivityExecution",
            || "default".into(),
            async { (decode_start("{}"), decode_start(r#"{"identity":"me"}"#)) },
            |_| 200,
        )
        .await;
        assert_eq!(unnamed.identity, "apikey:0123456789abcdef");
        assert_eq!(named.identity, "me");
        assert_eq!(decode_start("{}").identity, "", "outside a call");
    }

    #[test]
    fn an_address_presenting_invalid_keys_is_held_and_one_without_a_key_is_not() {
        let guard = Guard::default();
        let (a, b) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let invalid = ApiError::new(Code::Unauthenticated, "no");
        for _ in 0..FAILURE_BURST {
            assert!(guard.admit(Some(a)).is_ok());
            guard.refused(Some(a), true, &invalid);
            guard.refused(Some(b), false, &invalid);
        }
        let held = guard.admit(Some(a)).unwrap_err();
        assert_eq!(held.code, Code::ResourceExhausted);
        assert!(
            held.message.starts_with(
                "too many invalid API keys from this address (at most 20 at once, then one every \
                 1s): retry in "
            ),
            "{held:?}"
        );
        assert!(guard.admit(Some(b)).is_ok());
        assert!(guard.admit(None).is_ok());
    }
}
