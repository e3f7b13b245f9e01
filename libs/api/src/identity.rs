//! The `identity` a request records when it names none: its caller's (the API key's, when keys
//! are required), so that a history tells who did what. The frontend decodes each request inside
//! `decoding_for`; decoding is synchronous, so a thread-local scopes the caller exactly.

use std::cell::RefCell;

use serde::{Deserialize, Deserializer};

thread_local! {
    static CALLER: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Runs `decode` with `caller` as the identity of a request that names none (empty: no default).
pub fn decoding_for<T>(caller: &str, decode: impl FnOnce() -> T) -> T {
    struct Restore(String);
    impl Drop for Restore {
        fn drop(&mut self) {
            CALLER.with_borrow_mut(|c| std::mem::swap(c, &mut self.0));
        }
    }
    let previous = CALLER.with_borrow_mut(|c| std::mem::replace(c, caller.to_owned()));
    let _restore = Restore(previous);
    decode()
}

/// The `default` of a request's `identity`: the caller's while decoding for one, else empty.
pub fn caller() -> String {
    CALLER.with_borrow(String::clone)
}

/// The `deserialize_with` of a request's `identity`: an empty one is the caller's.
pub fn or_caller<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let named = String::deserialize(d)?;
    Ok(match named.is_empty() {
        true => caller(),
        false => named,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::{PollActivityTaskQueueRequest, RespondActivityTaskCompletedRequest};
    use crate::workflow::SignalWorkflowExecutionRequest;

    #[test]
    fn a_request_without_identity_records_its_callers() {
        let decode = |json: &str| {
            decoding_for("apikey:0123456789abcdef", || {
                serde_json::from_str::<RespondActivityTaskCompletedRequest>(json).unwrap()
            })
        };
        assert_eq!(decode("{}").identity, "apikey:0123456789abcdef");
        assert_eq!(
            decode(r#"{"identity":""}"#).identity,
            "apikey:0123456789abcdef"
        );
        assert_eq!(decode(r#"{"identity":"w1"}"#).identity, "w1");
        let signal: SignalWorkflowExecutionRequest =
            decoding_for("apikey:1", || serde_json::from_str("{}").unwrap());
        assert_eq!(signal.identity, "apikey:1");
    }

    #[test]
    fn outside_a_callers_decoding_identity_stays_as_sent() {
        let poll: PollActivityTaskQueueRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(poll.identity, "");
        let poll: PollActivityTaskQueueRequest =
            decoding_for("", || serde_json::from_str("{}").unwrap());
        assert_eq!(poll.identity, "");
        decoding_for("apikey:1", || {
            decoding_for("apikey:2", || assert_eq!(caller(), "apikey:2"));
            assert_eq!(caller(), "apikey:1");
        });
        assert_eq!(caller(), "");
    }
}
