//! `payload_json`: request bodies that carry payloads, decoded from arbitrary bytes. Decoding never
//! panics, and whatever decodes encodes, decodes again to an equal value and encodes to the same
//! text (the payload shorthand must not drift between a worker's request and what we store).

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use waymark_api::workflow::RespondWorkflowTaskCompletedRequest;
use waymark_api::{
    Payload, Payloads, RecordActivityTaskHeartbeatRequest, RespondActivityTaskCompletedRequest,
    RespondActivityTaskFailedRequest, StartActivityExecutionRequest,
};

/// Decodes `bytes` as each payload-carrying type, checks the round trip of every type that
/// accepts them, and answers how many did.
pub fn check(bytes: &[u8]) -> usize {
    [
        round_trip::<Payload>(bytes),
        round_trip::<Payloads>(bytes),
        round_trip::<StartActivityExecutionRequest>(bytes),
        round_trip::<RecordActivityTaskHeartbeatRequest>(bytes),
        round_trip::<RespondActivityTaskCompletedRequest>(bytes),
        round_trip::<RespondActivityTaskFailedRequest>(bytes),
        round_trip::<RespondWorkflowTaskCompletedRequest>(bytes),
    ]
    .into_iter()
    .filter(|&decoded| decoded)
    .count()
}

/// Whether `bytes` decode as a `T`; panics if the decoded value does not survive a round trip.
fn round_trip<T>(bytes: &[u8]) -> bool
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let Ok(decoded) = serde_json::from_slice::<T>(bytes) else {
        return false;
    };
    let name = std::any::type_name::<T>();
    let text = serde_json::to_string(&decoded)
        .unwrap_or_else(|e| panic!("{name} {decoded:?} does not encode: {e}"));
    let again = serde_json::from_str::<T>(&text)
        .unwrap_or_else(|e| panic!("{name} encoded as {text} does not decode: {e}"));
    assert_eq!(again, decoded, "{name} changed through {text}");
    let text_again = serde_json::to_string(&again).expect("it encoded once");
    assert_eq!(
        text_again, text,
        "{name} encodes differently the second time"
    );
    true
}
