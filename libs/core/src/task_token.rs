//! Task tokens: opaque to workers, signed so that nobody can forge one, bound to one attempt.
//! Layout: base64( JSON claims ‖ HMAC-SHA256(key, JSON claims) ).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const MAC_LEN: usize = 32;

/// What a task token identifies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskToken {
    #[serde(rename = "n")]
    pub namespace: String,
    #[serde(rename = "a")]
    pub activity_id: String,
    #[serde(rename = "r")]
    pub run_id: String,
    #[serde(rename = "t")]
    pub attempt: i32,
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
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
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
        let bytes = STANDARD.decode(encoded.trim()).map_err(|_| TokenError::Malformed)?;
        if bytes.len() <= MAC_LEN {
            return Err(TokenError::Malformed);
        }
        let (claims, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        self.mac(claims).verify_slice(tag).map_err(|_| TokenError::BadSignature)?;
        serde_json::from_slice(claims).map_err(|_| TokenError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> TaskToken {
        TaskToken { namespace: "default".into(), activity_id: "a1".into(), run_id: "r1".into(), attempt: 2 }
    }

    #[test]
    fn a_signed_token_verifies_to_the_same_claims() {
        let s = TokenSigner::new("k");
        assert_eq!(s.verify(&s.sign(&token())), Ok(token()));
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let t = TokenSigner::new("other").sign(&token());
        assert_eq!(TokenSigner::new("k").verify(&t), Err(TokenError::BadSignature));
    }

    #[test]
    fn an_edited_token_is_refused() {
        let s = TokenSigner::new("k");
        let mut bytes = STANDARD.decode(s.sign(&token())).unwrap();
        let forged = String::from_utf8_lossy(&bytes[..bytes.len() - MAC_LEN]).replace("\"t\":2", "\"t\":3");
        bytes.splice(..bytes.len() - MAC_LEN, forged.into_bytes());
        assert_eq!(s.verify(&STANDARD.encode(bytes)), Err(TokenError::BadSignature));
    }

    #[test]
    fn garbage_is_malformed() {
        let s = TokenSigner::new("k");
        assert_eq!(s.verify("not base64!"), Err(TokenError::Malformed));
        assert_eq!(s.verify("AAAA"), Err(TokenError::Malformed));
        assert_eq!(s.verify(""), Err(TokenError::Malformed));
    }
}
