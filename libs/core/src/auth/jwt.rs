//! JSON Web Tokens as Temporal's server takes them: an RS256 or ES256 signature checked against
//! a JWKS (RFC 7517), `exp` required, `nbf` and `iat` honoured with a leeway, and Temporal's
//! `permissions` claim mapped onto Waymark's roles. Pure: the time comes in as an argument.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Grant, Role};

/// How far the issuer's clock and ours may disagree, in seconds: a token is still taken this
/// long after its `exp`, and this long before its `nbf` or `iat`.
pub const LEEWAY_SECS: i64 = 60;
/// The namespaces whose `admin` permission makes a system admin: Temporal's, and ours.
pub const SYSTEM_NAMESPACES: [&str; 2] = ["temporal-system", "waymark-system"];
/// The smallest RSA modulus taken, in bytes (2048 bits, as ring's RS256 verifier requires).
const RSA_MIN_MODULUS_BYTES: usize = 256;

/// The two signature algorithms taken; `none`, HS* and the rest are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alg {
    Rs256,
    Es256,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PublicKey {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// The uncompressed P-256 point: 0x04, x, y.
    P256 {
        point: Vec<u8>,
    },
}

impl PublicKey {
    fn alg(&self) -> Alg {
        match self {
            PublicKey::Rsa { .. } => Alg::Rs256,
            PublicKey::P256 { .. } => Alg::Es256,
        }
    }

    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            PublicKey::P256 { point } => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Jwk {
    kid: Option<String>,
    key: PublicKey,
}

/// The verifying keys of a JWKS document: its RSA keys and its EC keys on P-256. Keys of other
/// kinds, or meant for encryption or for another algorithm, are skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

/// Why a JWKS document cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("not a JWKS document ({{\"keys\": [...]}}): {0}")]
    NotJwks(String),
    #[error("key {index} of the JWKS: {reason}")]
    BadKey { index: usize, reason: &'static str },
    #[error("the JWKS has no RS256 (RSA) or ES256 (EC P-256) key")]
    NoUsableKey,
}

/// One entry of `keys`, as written (RFC 7518 §6).
#[derive(Deserialize)]
struct JwkFields {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

impl JwkFields {
    /// The key, `Ok(None)` for one this server does not verify with.
    fn key(&self) -> Result<Option<PublicKey>, &'static str> {
        if self.usage.as_deref().is_some_and(|u| u != "sig") {
            return Ok(None);
        }
        let decode = |field: &Option<String>, missing: &'static str| {
            let text = field.as_deref().ok_or(missing)?;
            URL_SAFE_NO_PAD
                .decode(text)
                .map_err(|_| "a field is not unpadded base64url")
        };
        let alg = self.alg.as_deref();
        match self.kty.as_str() {
            "RSA" if alg.is_none_or(|a| a == "RS256") => {
                let n = decode(&self.n, "an RSA key needs n")?;
                let e = decode(&self.e, "an RSA key needs e")?;
                let modulus = n.iter().skip_while(|b| **b == 0).count();
                if modulus < RSA_MIN_MODULUS_BYTES {
                    return Err("an RSA modulus under 2048 bits");
                }
                Ok(Some(PublicKey::Rsa { n, e }))
            }
            "EC" if self.crv.as_deref() == Some("P-256") && alg.is_none_or(|a| a == "ES256") => {
                let x = decode(&self.x, "an EC key needs x")?;
                let y = decode(&self.y, "an EC key needs y")?;
                if x.len() != 32 || y.len() != 32 {
                    return Err("a P-256 coordinate is not 32 bytes");
                }
                let point = [&[0x04][..], &x[..], &y[..]].concat();
                Ok(Some(PublicKey::P256 { point }))
            }
            _ => Ok(None),
        }
    }
}

/// Why a token is refused. No message repeats any part of the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a JWT: three base64url parts, a JSON header and claims")]
    Malformed,
    #[error("the token's alg is not RS256 or ES256")]
    UnsupportedAlgorithm,
    #[error("the token's header lists critical extensions (crit), which are not supported")]
    CriticalExtension,
    #[error("no key of the JWKS matches the token's kid and alg")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has no exp claim")]
    NoExpiry,
    #[error("the token expired")]
    Expired,
    #[error("the token is not valid yet (nbf or iat in the future)")]
    NotYetValid,
    #[error("the token has no sub claim")]
    NoSubject,
}

/// A token that verified: who it names and what its permissions grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub subject: String,
    pub grant: Grant,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    crit: Option<Value>,
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    /// NumericDates: seconds since the epoch, which RFC 7519 allows to be fractional.
    exp: Option<f64>,
    nbf: Option<f64>,
    iat: Option<f64>,
    /// Temporal ignores a `permissions` claim that is not an array, and so do we.
    permissions: Option<Value>,
}

impl Jwks {
    pub fn parse(document: &[u8]) -> Result<Jwks, JwksError> {
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<JwkFields>,
        }
        let document: Document =
            serde_json::from_slice(document).map_err(|e| JwksError::NotJwks(e.to_string()))?;
        let mut keys = Vec::new();
        for (index, fields) in document.keys.iter().enumerate() {
            let key = fields
                .key()
                .map_err(|reason| JwksError::BadKey { index, reason })?;
            keys.extend(key.map(|key| Jwk {
                kid: fields.kid.clone(),
                key,
            }));
        }
        match keys.is_empty() {
            true => Err(JwksError::NoUsableKey),
            false => Ok(Jwks { keys }),
        }
    }

    /// The subject and grant of `token` at `now` (seconds since the epoch), once its signature,
    /// expiry and start verified.
    pub fn verify(&self, token: &str, now: i64) -> Result<Verified, TokenError> {
        let (signed, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (header, claims) = signed.split_once('.').ok_or(TokenError::Malformed)?;
        let header: Header = decode_json(header)?;
        let alg = match header.alg.as_str() {
            "RS256" => Alg::Rs256,
            "ES256" => Alg::Es256,
            _ => return Err(TokenError::UnsupportedAlgorithm),
        };
        if header.crit.is_some() {
            return Err(TokenError::CriticalExtension);
        }
        let key = self.key_for(header.kid.as_deref(), alg)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        if !key.verifies(signed.as_bytes(), &signature) {
            return Err(TokenError::BadSignature);
        }
        let claims: Claims = decode_json(claims)?;
        let now = now as f64;
        let leeway = LEEWAY_SECS as f64;
        let exp = claims.exp.ok_or(TokenError::NoExpiry)?;
        if now > exp + leeway {
            return Err(TokenError::Expired);
        }
        if [claims.nbf, claims.iat]
            .into_iter()
            .flatten()
            .any(|start| start > now + leeway)
        {
            return Err(TokenError::NotYetValid);
        }
        let subject = claims
            .sub
            .filter(|s| !s.is_empty())
            .ok_or(TokenError::NoSubject)?;
        let permissions = claims.permissions.unwrap_or_default();
        let permissions = permissions.as_array().into_iter().flatten();
        Ok(Verified {
            subject,
            grant: grant_of_permissions(permissions.filter_map(Value::as_str)),
        })
    }

    /// The key that `kid` names; without a kid, the only key of a one-key JWKS. Its algorithm
    /// must be the token's, so that no token picks how its key is used.
    fn key_for(&self, kid: Option<&str>, alg: Alg) -> Result<&PublicKey, TokenError> {
        let jwk = match kid {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None => match self.keys.as_slice() {
                [only] => Some(only),
                _ => None,
            },
        };
        jwk.map(|k| &k.key)
            .filter(|key| key.alg() == alg)
            .ok_or(TokenError::UnknownKey)
    }
}

fn decode_json<T: DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// What Temporal's `permissions` claim grants: each `"<namespace>:<read|write|worker|admin>"`
/// the role reader, writer, worker or admin in the namespace (the role's case does not matter,
/// the namespace's does, as in Temporal's default claim mapper), `"temporal-system:admin"`
/// everything. Anything else is ignored, Temporal's system-wide read, write and worker too:
/// Waymark has no role for them.
pub fn grant_of_permissions<'a>(permissions: impl IntoIterator<Item = &'a str>) -> Grant {
    let mut roles = BTreeSet::new();
    for permission in permissions {
        let Some((namespace, role)) = permission.split_once(':') else {
            continue;
        };
        let role = match role.to_ascii_lowercase().as_str() {
            "read" => Role::Reader,
            "write" => Role::Writer,
            "worker" => Role::Worker,
            "admin" => Role::Admin,
            _ => continue,
        };
        match SYSTEM_NAMESPACES.contains(&namespace) {
            true if role == Role::Admin => return Grant::SystemAdmin,
            true => {}
            false if !namespace.is_empty() => {
                roles.insert((namespace.to_owned(), role));
            }
            false => {}
        }
    }
    Grant::Namespaces(roles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RsaKeyPair};
    use serde_json::json;

    const NOW: i64 = 1_750_000_000;

    /// The black-box suite's RSA key (ring cannot generate RSA keys).
    const RSA_PEM: &str = include_str!("../../../../tests/fixtures/jwt-rsa-2048.pk8.pem");

    fn rsa_key() -> RsaKeyPair {
        let body: String = RSA_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        RsaKeyPair::from_pkcs8(&STANDARD.decode(body).unwrap()).unwrap()
    }

    fn ec_key() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn rsa_jwk(key: &RsaKeyPair, kid: &str) -> Value {
        let public = RsaPublicKeyComponents::<Vec<u8>>::from(key.public());
        json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": b64(&public.n), "e": b64(&public.e)})
    }

    fn ec_jwk(key: &EcdsaKeyPair, kid: &str) -> Value {
        let point = key.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": kid,
            "x": b64(&point[1..33]), "y": b64(&point[33..])})
    }

    fn jwks(keys: &[Value]) -> Jwks {
        Jwks::parse(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
    }

    /// `header.claims` signed by `sign`.
    fn token(header: Value, claims: Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
        let signed = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = sign(signed.as_bytes());
        format!("{signed}.{}", b64(&signature))
    }

    fn rs256(key: &RsaKeyPair, kid: Option<&str>, claims: Value) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
        token(header, claims, |msg| {
            let mut signature = vec![0; key.public().modulus_len()];
            let rng = SystemRandom::new();
            key.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut signature)
                .unwrap();
            signature
        })
    }

    fn es256(key: &EcdsaKeyPair, kid: Option<&str>, claims: Value) -> String {
        let header = json!({"alg": "ES256", "kid": kid});
        token(header, claims, |msg| {
            let rng = SystemRandom::new();
            key.sign(&rng, msg).unwrap().as_ref().to_vec()
        })
    }

    fn claims(permissions: Value) -> Value {
        json!({"sub": "alice", "exp": NOW + 300, "iat": NOW, "permissions": permissions})
    }

    fn worker_of(ns: &str) -> Grant {
        Grant::new(ns, "worker").unwrap()
    }

    #[test]
    fn an_rs256_token_verifies_and_grants_its_permissions() {
        let key = rsa_key();
        let set = jwks(&[rsa_jwk(&key, "r1")]);
        let t = rs256(&key, Some("r1"), claims(json!(["default:worker"])));
        let verified = set.verify(&t, NOW).unwrap();
        assert_eq!(verified.subject, "alice");
        assert_eq!(verified.grant, worker_of("default"));
    }

    #[test]
    fn an_es256_token_verifies_and_its_kid_picks_the_key() {
        let (a, b) = (ec_key(), ec_key());
        let set = jwks(&[ec_jwk(&a, "a"), ec_jwk(&b, "b"), rsa_jwk(&rsa_key(), "r")]);
        let t = es256(&b, Some("b"), claims(json!(["default:worker"])));
        assert_eq!(set.verify(&t, NOW).unwrap().grant, worker_of("default"));
        let signed_by_a_as_b = es256(&a, Some("b"), claims(json!([])));
        assert_eq!(
            set.verify(&signed_by_a_as_b, NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_one_key_jwks_needs_no_kid_and_a_larger_one_does() {
        let key = ec_key();
        let t = es256(&key, None, claims(json!([])));
        assert!(jwks(&[ec_jwk(&key, "k")]).verify(&t, NOW).is_ok());
        let two = jwks(&[ec_jwk(&key, "k"), ec_jwk(&ec_key(), "l")]);
        assert_eq!(two.verify(&t, NOW), Err(TokenError::UnknownKey));
    }

    #[test]
    fn an_unknown_kid_or_a_key_of_another_algorithm_is_refused() {
        let (ec, rsa) = (ec_key(), rsa_key());
        let set = jwks(&[ec_jwk(&ec, "e"), rsa_jwk(&rsa, "r")]);
        let unknown = es256(&ec, Some("nope"), claims(json!([])));
        assert_eq!(set.verify(&unknown, NOW), Err(TokenError::UnknownKey));
        let wrong_alg = rs256(&rsa, Some("e"), claims(json!([])));
        assert_eq!(set.verify(&wrong_alg, NOW), Err(TokenError::UnknownKey));
    }

    #[test]
    fn a_tampered_token_does_not_verify() {
        let key = rsa_key();
        let set = jwks(&[rsa_jwk(&key, "r")]);
        let t = rs256(&key, Some("r"), claims(json!(["default:read"])));
        let (signed, signature) = t.rsplit_once('.').unwrap();
        let (header, _) = signed.split_once('.').unwrap();
        let forged = b64(claims(json!(["temporal-system:admin"]))
            .to_string()
            .as_bytes());
        let tampered = format!("{header}.{forged}.{signature}");
        assert_eq!(set.verify(&tampered, NOW), Err(TokenError::BadSignature));
        let other = rs256(&key, Some("r"), claims(json!([])));
        let swapped = format!("{signed}.{}", other.rsplit_once('.').unwrap().1);
        assert_eq!(set.verify(&swapped, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn alg_none_hmac_and_other_algorithms_are_refused() {
        let key = ec_key();
        let set = jwks(&[ec_jwk(&key, "k")]);
        for alg in ["none", "None", "HS256", "RS384", "PS256", "ES384", "EdDSA"] {
            let header = json!({"alg": alg, "kid": "k"});
            let t = token(header, claims(json!([])), |_| Vec::new());
            assert_eq!(
                set.verify(&t, NOW),
                Err(TokenError::UnsupportedAlgorithm),
                "{alg}"
            );
        }
        let crit = token(
            json!({"alg": "ES256", "crit": ["b64"]}),
            claims(json!([])),
            |_| Vec::new(),
        );
        assert_eq!(set.verify(&crit, NOW), Err(TokenError::CriticalExtension));
    }

    #[test]
    fn exp_is_required_and_checked_with_a_leeway() {
        let key = ec_key();
        let set = jwks(&[ec_jwk(&key, "k")]);
        let with = |fields: Value| es256(&key, None, fields);
        let expired = with(json!({"sub": "a", "exp": NOW - LEEWAY_SECS - 1}));
        assert_eq!(set.verify(&expired, NOW), Err(TokenError::Expired));
        let within_leeway = with(json!({"sub": "a", "exp": NOW - LEEWAY_SECS + 1}));
        assert!(set.verify(&within_leeway, NOW).is_ok());
        let forever = with(json!({"sub": "a"}));
        assert_eq!(set.verify(&forever, NOW), Err(TokenError::NoExpiry));
        let fractional = with(json!({"sub": "a", "exp": NOW as f64 + 0.5}));
        assert!(set.verify(&fractional, NOW).is_ok());
    }

    #[test]
    fn a_token_from_the_future_is_refused_beyond_the_leeway() {
        let key = ec_key();
        let set = jwks(&[ec_jwk(&key, "k")]);
        let exp = NOW + 3600;
        for start in ["nbf", "iat"] {
            let early = es256(
                &key,
                None,
                json!({"sub": "a", "exp": exp, start: NOW + 120}),
            );
            assert_eq!(
                set.verify(&early, NOW),
                Err(TokenError::NotYetValid),
                "{start}"
            );
            let skewed = es256(&key, None, json!({"sub": "a", "exp": exp, start: NOW + 30}));
            assert!(set.verify(&skewed, NOW).is_ok(), "{start}");
        }
    }

    #[test]
    fn a_token_needs_a_subject() {
        let key = ec_key();
        let set = jwks(&[ec_jwk(&key, "k")]);
        for sub in [json!(null), json!("")] {
            let t = es256(&key, None, json!({"sub": sub, "exp": NOW + 60}));
            assert_eq!(set.verify(&t, NOW), Err(TokenError::NoSubject), "{sub}");
        }
    }

    #[test]
    fn malformed_tokens_are_refused_without_being_repeated() {
        let set = jwks(&[ec_jwk(&ec_key(), "k")]);
        for bad in [
            "",
            "a.b",
            "a.b.c",
            "wmk_0123456789abcdef_x",
            "..",
            "e30.e30.e30.e30",
        ] {
            let err = set.verify(bad, NOW).unwrap_err();
            assert_eq!(err, TokenError::Malformed, "{bad}");
        }
        let err = TokenError::Malformed.to_string();
        assert!(!err.contains("e30"));
    }

    #[test]
    fn permissions_map_onto_roles_as_temporal_reads_them() {
        let grant = grant_of_permissions([
            "a:read",
            "a:WORKER",
            "b:write",
            "c:admin",
            "d:owner",
            "no-role",
            ":read",
            "temporal-system:read",
        ]);
        let expected = [
            ("a", Role::Reader),
            ("a", Role::Worker),
            ("b", Role::Writer),
            ("c", Role::Admin),
        ];
        let expected = expected.map(|(ns, role)| (ns.to_owned(), role));
        assert_eq!(grant, Grant::Namespaces(BTreeSet::from(expected)));
        assert_eq!(
            grant_of_permissions(["a:read", "temporal-system:admin"]),
            Grant::SystemAdmin
        );
        assert_eq!(
            grant_of_permissions(["waymark-system:Admin"]),
            Grant::SystemAdmin
        );
        // The namespace keeps its case: `Default` is not `default`.
        assert!(!grant_of_permissions(["Default:read"]).sees("default"));
        assert_eq!(grant_of_permissions([]), Grant::Namespaces(BTreeSet::new()));
    }

    #[test]
    fn permissions_that_are_no_strings_or_no_array_are_ignored() {
        let key = ec_key();
        let set = jwks(&[ec_jwk(&key, "k")]);
        for permissions in [json!([1, null, "a:read"]), json!("a:read")] {
            let t = es256(&key, None, claims(permissions.clone()));
            let grant = set.verify(&t, NOW).unwrap().grant;
            assert_eq!(grant.sees("a"), permissions.is_array(), "{permissions}");
        }
    }

    #[test]
    fn a_jwks_keeps_its_verifying_keys_and_refuses_broken_ones() {
        let ec = ec_jwk(&ec_key(), "e");
        let skipped = [
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}),
            json!({"kty": "RSA", "alg": "RS512", "n": "AA", "e": "AQAB"}),
            json!({"kty": "RSA", "use": "enc", "n": "AA", "e": "AQAB"}),
        ];
        let mut keys = skipped.to_vec();
        keys.push(ec.clone());
        assert_eq!(jwks(&keys).keys.len(), 1);
        let parse = |keys: Value| Jwks::parse(json!({ "keys": keys }).to_string().as_bytes());
        assert_eq!(parse(json!(skipped)), Err(JwksError::NoUsableKey));
        let short_rsa = json!({"kty": "RSA", "n": b64(&[0xff; 128]), "e": "AQAB"});
        assert!(matches!(
            parse(json!([ec, short_rsa])),
            Err(JwksError::BadKey { index: 1, .. })
        ));
        let no_y = json!({"kty": "EC", "crv": "P-256", "x": b64(&[1; 32])});
        assert!(matches!(
            parse(json!([no_y])),
            Err(JwksError::BadKey { index: 0, .. })
        ));
        assert!(matches!(Jwks::parse(b"[]"), Err(JwksError::NotJwks(_))));
    }
}
