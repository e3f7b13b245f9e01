//! Task tokens: opaque to workers, signed so that nobody can forge one, bound to one attempt.
//! Layout: base64( JSON claims ‖ HMAC-SHA256(key, JSON claims) ).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const MAC_LEN: usize = 32;

/// What a task token identifies: an attempt of a standalone activity, of a workflow's
/// activity (`workflow_id` and `scheduled_event_id` set), of a workflow task
/// (`started_event_id` set, no activity id), or a query task (`query_id` set).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskToken {
    #[serde(rename = "n")]
    pub namespace: String,
    #[serde(rename = "a", default, skip_serializing_if = "String::is_empty")]
    pub activity_id: String,
    #[serde(rename = "r")]
    pub run_id: String,
    #[serde(rename = "t")]
    pub attempt: i32,
    /// The activity's stamp when the attempt started (see `Activity::stamp`).
    #[serde(rename = "p", default, skip_serializing_if = "is_zero")]
    pub stamp: i32,
    #[serde(rename = "w", default, skip_serializing_if = "String::is_empty")]
    pub workflow_id: String,
    #[serde(rename = "s", default, skip_serializing_if = "is_zero")]
    pub scheduled_event_id: i64,
    #[serde(rename = "e", default, skip_serializing_if = "is_zero")]
    pub started_event_id: i64,
    /// The query a query task asks (its waiter's id); empty for every other task.
    #[serde(rename = "q", default, skip_serializing_if = "String::is_empty")]
    pub query_id: String,
}

pub(crate) fn is_zero<N: Default + PartialEq>(n: &N) -> bool {
    *n == N::default()
}

impl TaskToken {
    /// A token of a workflow task (not of an activity).
    pub fn is_workflow_task(&self) -> bool {
        self.started_event_id != 0
    }

    /// A token of a query task.
    pub fn is_query(&self) -> bool {
        !self.query_id.is_empty()
    }
}

/// Why a token was refused. Both answer Temporal's "Error deserializing task token."
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("task token is not valid base64 or too short")]
    Malformed,
    #[error("task token signature does not match")]
    BadSignature,
}

/// Signs and verifies tokens with the server's key.
#[derive(Clone)]
pub struct TokenSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(..)") // never print the key
    }
}

impl TokenSigner {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self { key: key.into() }
    }

    fn mac(&self, claims: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(claims);
        mac
    }

    pub fn sign(&self, token: &TaskToken) -> String {
        let mut bytes = serde_json::to_vec(token).expect("claims serialize");
        let tag = self.mac(&bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag);
        STANDARD.encode(bytes)
    }

    pub fn verify(&self, encoded: &str) -> Result<TaskToken, TokenError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| TokenError::Malformed)?;
        if bytes.len() <= MAC_LEN {
            return Err(TokenError::Malformed);
        }
        let (claims, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        self.mac(claims)
            .verify_slice(tag)
            .map_err(|_| TokenError::BadSignature)?;
        serde_json::from_slice(claims).map_err(|_| TokenError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> TaskToken {
        TaskToken {
            namespace: "default".into(),
            activity_id: "a1".into(),
            run_id: "r1".into(),
            attempt: 2,
            ..Default::default()
        }
    }

    #[test]
    fn a_signed_token_verifies_to_the_same_claims() {
        let s = TokenSigner::new("k");
        assert_eq!(s.verify(&s.sign(&token())), Ok(token()));
    }

    #[test]
    fn workflow_task_tokens_carry_their_task() {
        let s = TokenSigner::new("k");
        let t = TaskToken {
            namespace: "default".into(),
            run_id: "r1".into(),
            attempt: 1,
            workflow_id: "w".into(),
            scheduled_event_id: 2,
            started_event_id: 3,
            ..Default::default()
        };
        let back = s.verify(&s.sign(&t)).unwrap();
        assert!(back.is_workflow_task());
        assert_eq!(back, t);
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let t = TokenSigner::new("other").sign(&token());
        assert_eq!(
            TokenSigner::new("k").verify(&t),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn an_edited_token_is_refused() {
        let s = TokenSigner::new("k");
        let mut bytes = STANDARD.decode(s.sign(&token())).unwrap();
        let forged =
            String::from_utf8_lossy(&bytes[..bytes.len() - MAC_LEN]).replace("\"t\":2", "\"t\":3");
        bytes.splice(..bytes.len() - MAC_LEN, forged.into_bytes());
        assert_eq!(
            s.verify(&STANDARD.encode(bytes)),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        let s = TokenSigner::new("k");
        assert_eq!(s.verify("not base64!"), Err(TokenError::Malformed));
        assert_eq!(s.verify("AAAA"), Err(TokenError::Malformed));
        assert_eq!(s.verify(""), Err(TokenError::Malformed));
    }
}
