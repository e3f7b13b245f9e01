//! `task_token`: the task token decoder on arbitrary bytes. A token a worker presents either
//! verifies or is refused, never panics, and a token that verifies is the one the server signed:
//! it re-encodes to the same text. A token the server signs from any fields verifies to the same
//! fields, and changing any one byte of it, encoded or decoded, is refused.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use waymark_core::task_token::{TaskToken, TokenError, TokenSigner};

/// The key of the tokens in `seeds/task_token/`.
pub const SEED_KEY: &[u8] = b"waymark fuzz seed key";

/// Runs both checks on `bytes` and answers whether they verified as a token signed with
/// [`SEED_KEY`].
pub fn check(bytes: &[u8]) -> bool {
    check_signed(bytes);
    check_presented(bytes)
}

/// `bytes` as a token presented by a worker: whatever verifies re-encodes to the same text.
fn check_presented(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let signer = TokenSigner::new(SEED_KEY);
    let Ok(token) = signer.verify(&text) else {
        return false;
    };
    assert_eq!(
        signer.sign(&token),
        text.trim(),
        "a verified token re-encodes differently"
    );
    true
}

/// `bytes` as a key and the fields of a token the server signs with it.
fn check_signed(bytes: &[u8]) {
    let mut input = Input(bytes);
    let signer = TokenSigner::new(input.bytes());
    let token = TaskToken {
        namespace: input.string(),
        activity_id: input.string(),
        run_id: input.string(),
        attempt: i32::from_le_bytes(input.array()),
        workflow_id: input.string(),
        scheduled_event_id: i64::from_le_bytes(input.array()),
        started_event_id: i64::from_le_bytes(input.array()),
        query_id: input.string(),
        stamp: i32::from_le_bytes(input.array()),
    };
    let [flip] = input.array();
    let flip = flip.max(1);

    let encoded = signer.sign(&token);
    assert_eq!(
        signer.verify(&encoded),
        Ok(token),
        "{encoded} does not verify to the fields it was signed with"
    );

    let mut raw = STANDARD
        .decode(&encoded)
        .expect("tokens are standard base64");
    for i in 0..raw.len() {
        raw[i] ^= flip;
        assert_eq!(
            signer.verify(&STANDARD.encode(&raw)),
            Err(TokenError::BadSignature),
            "{encoded} with byte {i} xor {flip:#04x} verifies"
        );
        raw[i] ^= flip;
    }

    let mut text = encoded.clone().into_bytes();
    for i in 0..text.len() {
        let original = text[i];
        text[i] = other_base64_char(original, flip);
        let forged = std::str::from_utf8(&text).expect("base64 is ASCII");
        assert!(
            signer.verify(forged).is_err(),
            "{forged} ({encoded} with character {i} changed) verifies"
        );
        text[i] = original;
    }
}

/// A character of the base64 alphabet (padding included) other than `c`, chosen by `n`.
fn other_base64_char(c: u8, n: u8) -> u8 {
    const CHARS: &[u8; 65] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    let at = CHARS
        .iter()
        .position(|&x| x == c)
        .expect("tokens are standard base64");
    CHARS[(at + 1 + usize::from(n) % 64) % CHARS.len()]
}

/// Fuzz input read front to back; past its end it reads as zeros.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        let head = self.take(N);
        out[..head.len()].copy_from_slice(head);
        out
    }

    /// A length byte, then that many bytes.
    fn bytes(&mut self) -> &'a [u8] {
        let [len] = self.array();
        self.take(len.into())
    }

    fn string(&mut self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }
}
