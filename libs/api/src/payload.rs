//! Payloads with Temporal's JSON shorthand: plain JSON values stand for `json/plain` payloads,
//! `null` for `binary/null`, and anything else is a raw `{metadata, data}` object.

use crate::protojson::{decode_base64, encode_base64};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::{Map, Value};
use std::cell::Cell;
use std::collections::BTreeMap;

/// base64("binary/null")
pub const BINARY_NULL_ENCODING: &str = "YmluYXJ5L251bGw=";
/// base64("json/plain")
pub const JSON_PLAIN_ENCODING: &str = "anNvbi9wbGFpbg==";

#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// A `json/plain` payload whose only metadata is its encoding.
    Json(Value),
    /// Any other payload, metadata values and data as standard base64 (as on the wire).
    Raw {
        metadata: BTreeMap<String, String>,
        data: Option<String>,
    },
}

impl Payload {
    /// The `binary/null` payload.
    pub fn null() -> Self {
        Payload::Raw {
            metadata: BTreeMap::from([("encoding".to_string(), BINARY_NULL_ENCODING.to_string())]),
            data: None,
        }
    }

    pub fn is_binary_null(&self) -> bool {
        matches!(self, Payload::Raw { metadata, .. }
            if metadata.get("encoding").map(String::as_str) == Some(BINARY_NULL_ENCODING))
    }

    /// Bytes of payload data: the JSON text for `Json`, the decoded data for `Raw`.
    pub fn encoded_size(&self) -> usize {
        match self {
            Payload::Json(v) => serde_json::to_vec(v).map_or(0, |b| b.len()),
            Payload::Raw { data: None, .. } => 0,
            Payload::Raw { data: Some(d), .. } => {
                let padding = d.bytes().rev().take_while(|&b| b == b'=').count();
                (d.len() / 4 * 3 + d.len() % 4 * 3 / 4).saturating_sub(padding)
            }
        }
    }

    /// Reads one element of the shorthand, following Temporal's rules: a value is a raw payload
    /// only if it is `{"metadata":{"encoding":..,..},"data":".."}` with valid base64 throughout,
    /// or `{"metadata":{"encoding":"YmluYXJ5L251bGw="}}`; `null` is `binary/null`; anything else
    /// is a JSON value.
    pub fn from_json(value: Value) -> Self {
        match value {
            Value::Null => Payload::null(),
            Value::Object(ref obj) => match raw_from_object(obj) {
                Some(raw) => raw.normalized(),
                None => Payload::Json(value),
            },
            value => Payload::Json(value),
        }
    }

    /// A raw `json/plain` payload becomes `Json`, so it prints as shorthand again.
    fn normalized(self) -> Self {
        if let Payload::Raw {
            metadata,
            data: Some(data),
        } = &self
            && metadata.len() == 1
            && metadata.get("encoding").map(String::as_str) == Some(JSON_PLAIN_ENCODING)
            && let Some(value) = decode_base64(data).and_then(|b| serde_json::from_slice(&b).ok())
        {
            return Payload::Json(value);
        }
        self
    }

    /// Whether it prints as a shorthand element (a bare value or the binary/null object).
    fn is_shorthand(&self) -> bool {
        matches!(self, Payload::Json(_)) || self.is_binary_null()
    }

    /// Whether the bare value reads back as this payload: `null` and raw-looking objects do not.
    fn json_is_unambiguous(v: &Value) -> bool {
        !v.is_null() && v.as_object().is_none_or(|o| raw_from_object(o).is_none())
    }
}

thread_local! {
    static CANONICAL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with payloads serializing in protojson's canonical form (`{"payloads":[{metadata,
/// data}]}`, never the shorthand): the JSON that protobuf messages read, for the gRPC door.
/// Serialization is synchronous, so a thread-local flag scopes it exactly.
pub fn canonical<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            CANONICAL.set(self.0);
        }
    }
    let _restore = Restore(CANONICAL.replace(true));
    f()
}

fn is_canonical() -> bool {
    CANONICAL.get()
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        Payload::Json(value)
    }
}

fn raw_object(metadata: &BTreeMap<String, String>, data: Option<&str>) -> Value {
    let mut obj = Map::new();
    let md = metadata
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())));
    obj.insert("metadata".into(), Value::Object(md.collect()));
    // Only binary/null may drop `data`: any other raw object without it would read back as JSON.
    if data.is_some_and(|d| !d.is_empty())
        || metadata.get("encoding").map(String::as_str) != Some(BINARY_NULL_ENCODING)
    {
        obj.insert(
            "data".into(),
            Value::String(data.unwrap_or_default().into()),
        );
    }
    Value::Object(obj)
}

fn raw_from_object(obj: &Map<String, Value>) -> Option<Payload> {
    let metadata = obj.get("metadata")?.as_object()?;
    let encoding = metadata.get("encoding")?;
    match obj.get("data") {
        None if encoding == BINARY_NULL_ENCODING => Some(Payload::null()),
        Some(Value::String(data)) if obj.len() == 2 => {
            // Re-encode so that the stored form is canonical standard base64.
            let canonical = |s: &Value| {
                s.as_str()
                    .and_then(decode_base64)
                    .map(|b| encode_base64(&b))
            };
            let metadata = metadata
                .iter()
                .map(|(k, v)| Some((k.clone(), canonical(v)?)))
                .collect::<Option<_>>()?;
            let data = decode_base64(data)?;
            let data = (!data.is_empty()).then(|| encode_base64(&data));
            Some(Payload::Raw { metadata, data })
        }
        _ => None,
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Payload::Json(v) if !is_canonical() && Payload::json_is_unambiguous(v) => {
                v.serialize(s)
            }
            Payload::Json(v) => raw_object(
                &BTreeMap::from([("encoding".to_string(), JSON_PLAIN_ENCODING.to_string())]),
                Some(&encode_base64(v.to_string().as_bytes())),
            )
            .serialize(s),
            Payload::Raw { metadata, data } => raw_object(metadata, data.as_deref()).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(Payload::from_json)
    }
}

/// A list of payloads: a bare array on the wire when every element has a shorthand form,
/// `{"payloads":[...]}` otherwise.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Payloads(pub Vec<Payload>);

impl Payloads {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Total data bytes, for the blob size limit.
    pub fn encoded_size(&self) -> usize {
        self.0.iter().map(Payload::encoded_size).sum()
    }
}

impl From<Vec<Payload>> for Payloads {
    fn from(v: Vec<Payload>) -> Self {
        Payloads(v)
    }
}

impl Serialize for Payloads {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Elements<'a>(&'a [Payload]);

        impl Serialize for Elements<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for p in self.0 {
                    seq.serialize_element(p)?;
                }
                seq.end()
            }
        }

        if !is_canonical() && self.0.iter().all(Payload::is_shorthand) {
            Elements(&self.0).serialize(s)
        } else {
            #[derive(Serialize)]
            struct Wrapped<'a> {
                payloads: Elements<'a>,
            }
            Wrapped {
                payloads: Elements(&self.0),
            }
            .serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Payloads {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wrapped {
            #[serde(default)]
            payloads: Vec<Payload>,
        }

        match Value::deserialize(d)? {
            Value::Array(items) => Ok(Payloads(
                items.into_iter().map(Payload::from_json).collect(),
            )),
            obj @ Value::Object(_) => Wrapped::deserialize(obj)
                .map(|w| Payloads(w.payloads))
                .map_err(de::Error::custom),
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a Payloads array or object",
            )),
        }
    }
}

fn unexpected(v: &Value) -> de::Unexpected<'_> {
    match v {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(_) => de::Unexpected::Other("number"),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Payloads {
        serde_json::from_value(v).unwrap()
    }

    fn raw(encoding: &str, data: &str) -> Payload {
        Payload::Raw {
            metadata: BTreeMap::from([(
                "encoding".to_string(),
                encode_base64(encoding.as_bytes()),
            )]),
            data: Some(encode_base64(data.as_bytes())),
        }
    }

    #[test]
    fn bare_array_and_wrapped_forms_read_the_same() {
        let bare = read(json!(["done", 1, {"a": [1, []]}]));
        assert_eq!(bare, read(json!({"payloads": ["done", 1, {"a": [1, []]}]})));
        assert_eq!(bare.0[2], Payload::Json(json!({"a": [1, []]})));
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            json!(["done", 1, {"a": [1, []]}])
        );
        assert_eq!(read(json!({})), Payloads::default());
    }

    #[test]
    fn empty_arrays_are_kept_as_json_values() {
        let p = read(json!([[], {"a": []}]));
        assert_eq!(
            p.0,
            vec![Payload::Json(json!([])), Payload::Json(json!({"a": []}))]
        );
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"[[],{"a":[]}]"#);
        assert_eq!(serde_json::to_string(&Payloads::default()).unwrap(), "[]");
    }

    #[test]
    fn null_is_binary_null() {
        let p = read(json!([null, "x"]));
        assert!(p.0[0].is_binary_null());
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!([{"metadata": {"encoding": "YmluYXJ5L251bGw="}}, "x"])
        );
        assert_eq!(
            read(json!([{"metadata": {"encoding": "YmluYXJ5L251bGw="}}])).0,
            vec![Payload::null()]
        );
    }

    #[test]
    fn raw_json_plain_payloads_become_shorthand() {
        let p = read(
            json!({"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "eyJhIjoxfQ=="}]}),
        );
        assert_eq!(p.0, vec![Payload::Json(json!({"a": 1}))]);
        assert_eq!(serde_json::to_value(&p).unwrap(), json!([{"a": 1}]));
    }

    #[test]
    fn a_non_json_payload_forces_the_wrapped_form() {
        let p = read(
            json!([{"metadata": {"encoding": "YmluYXJ5L3BsYWlu"}, "data": "AAEC"}, "x", null]),
        );
        assert_eq!(
            p.0[0],
            Payload::Raw {
                metadata: BTreeMap::from([(
                    "encoding".to_string(),
                    "YmluYXJ5L3BsYWlu".to_string()
                )]),
                data: Some("AAEC".to_string()),
            }
        );
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"payloads": [
                {"metadata": {"encoding": "YmluYXJ5L3BsYWlu"}, "data": "AAEC"},
                "x",
                {"metadata": {"encoding": "YmluYXJ5L251bGw="}}
            ]})
        );
        // Extra metadata on a json/plain payload also forces it.
        let mut typed = raw("json/plain", "\"Keyword\"");
        if let Payload::Raw { metadata, .. } = &mut typed {
            metadata.insert("type".into(), encode_base64(b"Keyword"));
        }
        let text = serde_json::to_value(&typed).unwrap();
        assert_eq!(Payload::from_json(text.clone()), typed);
        assert!(
            serde_json::to_value(Payloads(vec![typed]))
                .unwrap()
                .get("payloads")
                .is_some()
        );
    }

    #[test]
    fn objects_that_are_not_valid_raw_payloads_are_json() {
        for v in [
            json!({"metadata": {"encoding": "anNvbi9wbGFpbg=="}}),
            json!({"metadata": {"x": "YQ=="}, "data": "YQ=="}),
            json!({"metadata": {"encoding": "YQ=="}, "data": "not base64!"}),
            json!({"metadata": {"encoding": "YQ=="}, "data": "YQ==", "extra": 1}),
            json!({"metadata": {"encoding": 1}, "data": "YQ=="}),
            json!({"data": "YQ=="}),
        ] {
            assert_eq!(Payload::from_json(v.clone()), Payload::Json(v));
        }
    }

    #[test]
    fn json_values_that_look_raw_print_in_raw_form() {
        let tricky = Payload::Json(json!({"metadata": {"encoding": "YQ=="}, "data": "YQ=="}));
        let text = serde_json::to_value(&tricky).unwrap();
        assert_eq!(text["metadata"]["encoding"], JSON_PLAIN_ENCODING);
        assert_eq!(Payload::from_json(text), tricky);
        let null = Payload::Json(Value::Null);
        assert_eq!(
            Payload::from_json(serde_json::to_value(&null).unwrap()),
            null
        );
    }

    #[test]
    fn raw_payloads_without_data_round_trip() {
        let empty = Payload::Raw {
            metadata: BTreeMap::from([("encoding".to_string(), "YmluYXJ5L3BsYWlu".to_string())]),
            data: None,
        };
        let text = serde_json::to_value(&empty).unwrap();
        assert_eq!(
            text,
            json!({"metadata": {"encoding": "YmluYXJ5L3BsYWlu"}, "data": ""})
        );
        assert_eq!(Payload::from_json(text), empty);
    }

    #[test]
    fn payloads_reject_other_shapes() {
        assert!(serde_json::from_value::<Payloads>(json!("x")).is_err());
        assert!(serde_json::from_value::<Payloads>(json!({"payloads": [], "x": 1})).is_err());
    }

    #[test]
    fn encoded_size_counts_data_bytes() {
        let p = Payloads(vec![
            Payload::Json(json!("abc")),
            raw("binary/plain", "12345"),
            Payload::null(),
        ]);
        assert_eq!(p.encoded_size(), 5 + 5);
        assert!(!p.is_empty());
    }

    #[test]
    fn canonical_form_prints_every_payload_whole_and_reads_back() {
        let p = Payloads(vec![Payload::Json(json!("abc")), Payload::null()]);
        let text = canonical(|| serde_json::to_value(&p).unwrap());
        assert_eq!(
            text,
            json!({"payloads": [
                {"metadata": {"encoding": JSON_PLAIN_ENCODING}, "data": encode_base64(b"\"abc\"")},
                {"metadata": {"encoding": BINARY_NULL_ENCODING}},
            ]})
        );
        assert_eq!(read(text), p);
        // The flag ends with the call: the shorthand again.
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!(["abc", {"metadata": {"encoding": BINARY_NULL_ENCODING}}])
        );
    }
}
