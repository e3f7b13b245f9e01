//! Conversion between Rust values and payload lists, the one rule used for activity inputs,
//! results, heartbeat details and failure details.
//!
//! A payload list is what Temporal's API carries in `input`, `result` and `details`: one JSON
//! value per element. A Rust value maps onto it as follows:
//!
//! | Rust value | payloads |
//! |---|---|
//! | `()` | none: `[]` |
//! | a tuple `(a, b, ..)` (or a fixed-size array) | one per element: `[a, b, ..]` |
//! | anything else (`"hello"`, a struct, a `Vec`) | exactly one: `["hello"]` |
//!
//! Reading goes the other way: no payloads read as `null` (so `()` and `Option` work), one
//! payload reads as that value (or as a one-element tuple), several read as a JSON array (a
//! tuple, a `Vec` or a struct in sequence form). A Rust `None` is sent as Temporal's
//! `binary/null` payload, which reads back as `null`.

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::ser::{self, Impossible, Serialize};
use serde_json::Value;
use waymark_api::payload::JSON_PLAIN_ENCODING;
use waymark_api::{Payload, Payloads};

/// A value could not be turned into payloads, or payloads into the requested type.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// `serde_json` refused to serialize the value (e.g. a map with non-string keys).
    #[error("could not encode {what} as JSON: {source}")]
    Encode {
        /// What was being encoded (`"activity input"`, `"heartbeat details"`, ...).
        what: &'static str,
        /// The serializer's error.
        source: serde_json::Error,
    },
    /// The payloads do not have the shape of the requested type.
    #[error("could not decode {what} {payloads} as {target}: {source}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// The Rust type asked for.
        target: &'static str,
        /// The payloads as JSON, shortened to 200 characters.
        payloads: String,
        /// The deserializer's error.
        source: serde_json::Error,
    },
    /// A payload in an encoding this SDK does not read (only `json/plain` and `binary/null`).
    #[error(
        "{what} has a payload in encoding {encoding:?}; this SDK reads json/plain and binary/null"
    )]
    UnsupportedEncoding {
        /// What was being decoded.
        what: &'static str,
        /// The payload's `encoding` metadata, decoded.
        encoding: String,
    },
}

/// Encodes `value` as a payload list (see the [module docs](self) for the rule).
pub fn to_payloads<T: Serialize + ?Sized>(
    value: &T,
    what: &'static str,
) -> Result<Payloads, PayloadError> {
    let encode = |source| PayloadError::Encode { what, source };
    let shape = shape_of(value);
    if shape == Shape::Unit {
        return Ok(Payloads::default());
    }
    let json = serde_json::to_value(value).map_err(encode)?;
    let values = match (shape, json) {
        (Shape::Tuple, Value::Array(items)) => items,
        (_, json) => vec![json],
    };
    Ok(Payloads(values.into_iter().map(payload_of).collect()))
}

/// Decodes a payload list into `T` (see the [module docs](self) for the rule). `None` (the
/// field was absent on the wire) reads like an empty list.
pub fn from_payloads<T: DeserializeOwned>(
    payloads: Option<&Payloads>,
    what: &'static str,
) -> Result<T, PayloadError> {
    let values = match payloads {
        Some(p) => {
            p.0.iter()
                .map(|p| value_of(p, what))
                .collect::<Result<Vec<_>, _>>()?
        }
        None => Vec::new(),
    };
    let decode_error = |source, values: &[Value]| {
        let mut payloads = Value::Array(values.to_vec()).to_string();
        if payloads.len() > 200 {
            let cut = (0..=200)
                .rev()
                .find(|&i| payloads.is_char_boundary(i))
                .unwrap_or(0);
            payloads.truncate(cut);
            payloads.push('…');
        }
        PayloadError::Decode {
            what,
            target: std::any::type_name::<T>(),
            payloads,
            source,
        }
    };
    // The direct reading first, then the alternative; the direct reading's error is the one
    // reported since it is the likelier intent.
    let (first, second) = match values.as_slice() {
        [] => (Value::Null, Value::Array(Vec::new())),
        [one] => (one.clone(), Value::Array(vec![one.clone()])),
        many => (Value::Array(many.to_vec()), Value::Null),
    };
    match T::deserialize(&first) {
        Ok(v) => Ok(v),
        Err(e) if values.len() > 1 => Err(decode_error(e, &values)),
        Err(e) => T::deserialize(&second).map_err(|_| decode_error(e, &values)),
    }
}

/// Decodes an optional payload list: `Ok(None)` when the server sent none at all.
pub(crate) fn optional<T: DeserializeOwned>(
    payloads: Option<&Payloads>,
    what: &'static str,
) -> Result<Option<T>, PayloadError> {
    payloads.map(|p| from_payloads(Some(p), what)).transpose()
}

/// One JSON value as a payload: `null` becomes Temporal's `binary/null`.
fn payload_of(value: Value) -> Payload {
    if value.is_null() {
        Payload::null()
    } else {
        Payload::Json(value)
    }
}

/// The JSON value a payload stands for.
fn value_of(payload: &Payload, what: &'static str) -> Result<Value, PayloadError> {
    match payload {
        Payload::Json(v) => Ok(v.clone()),
        p if p.is_binary_null() => Ok(Value::Null),
        Payload::Raw { metadata, data } => {
            let encoding = metadata
                .get("encoding")
                .map(String::as_str)
                .unwrap_or_default();
            let b64 = base64::engine::general_purpose::STANDARD;
            let unsupported = || PayloadError::UnsupportedEncoding {
                what,
                encoding: b64
                    .decode(encoding)
                    .map(|e| String::from_utf8_lossy(&e).into_owned())
                    .unwrap_or_else(|_| encoding.to_owned()),
            };
            if encoding != JSON_PLAIN_ENCODING {
                return Err(unsupported());
            }
            // json/plain with extra metadata: the data is the JSON text.
            let bytes = b64
                .decode(data.as_deref().unwrap_or_default())
                .map_err(|_| unsupported())?;
            serde_json::from_slice(&bytes).map_err(|_| unsupported())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Telling a tuple from a list: serde calls `serialize_tuple` for tuples and arrays and
// `serialize_seq` for vectors, so a serializer that stops at the first call says which it is.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Unit,
    Tuple,
    Other,
}

fn shape_of<T: Serialize + ?Sized>(value: &T) -> Shape {
    match value.serialize(Probe) {
        Err(Found(shape)) => shape,
        Ok(()) => Shape::Other,
    }
}

/// The "error" that carries the answer out of the probe.
#[derive(Debug)]
struct Found(Shape);

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for Found {}

impl ser::Error for Found {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Found(Shape::Other)
    }
}

struct Probe;

macro_rules! other {
    ($($name:ident($($t:ty),*);)*) => {$(
        fn $name(self, $(_: $t),*) -> Result<(), Found> {
            Err(Found(Shape::Other))
        }
    )*};
}

impl ser::Serializer for Probe {
    type Ok = ();
    type Error = Found;
    type SerializeSeq = Impossible<(), Found>;
    type SerializeTuple = Impossible<(), Found>;
    type SerializeTupleStruct = Impossible<(), Found>;
    type SerializeTupleVariant = Impossible<(), Found>;
    type SerializeMap = Impossible<(), Found>;
    type SerializeStruct = Impossible<(), Found>;
    type SerializeStructVariant = Impossible<(), Found>;

    other! {
        serialize_bool(bool); serialize_i8(i8); serialize_i16(i16); serialize_i32(i32);
        serialize_i64(i64); serialize_i128(i128); serialize_u8(u8); serialize_u16(u16);
        serialize_u32(u32); serialize_u64(u64); serialize_u128(u128); serialize_f32(f32);
        serialize_f64(f64); serialize_char(char); serialize_str(&str); serialize_bytes(&[u8]);
        serialize_none(); serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_unit(self) -> Result<(), Found> {
        Err(Found(Shape::Unit))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Found> {
        Err(Found(Shape::Other))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), Found> {
        Err(Found(Shape::Other))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Found> {
        Err(Found(Shape::Other))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Found> {
        Err(Found(Shape::Other))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Found> {
        Err(Found(Shape::Tuple))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Found> {
        Err(Found(Shape::Other))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Found> {
        Err(Found(Shape::Other))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Found> {
        Err(Found(Shape::Other))
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Found> {
        Err(Found(Shape::Other))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Found> {
        Err(Found(Shape::Other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    fn wire<T: Serialize>(v: T) -> Value {
        serde_json::to_value(to_payloads(&v, "test").unwrap()).unwrap()
    }

    fn read<T: DeserializeOwned>(v: Value) -> Result<T, PayloadError> {
        let p: Payloads = serde_json::from_value(v).unwrap();
        from_payloads(Some(&p), "test")
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Order {
        id: u32,
        items: Vec<String>,
    }

    #[test]
    fn unit_is_no_payloads_tuples_are_one_per_element_and_the_rest_is_one() {
        assert_eq!(wire(()), json!([]));
        assert_eq!(wire(("a", 2, true)), json!(["a", 2, true]));
        assert_eq!(wire(("only",)), json!(["only"]));
        assert_eq!(wire("hello"), json!(["hello"]));
        assert_eq!(wire(vec![1, 2, 3]), json!([[1, 2, 3]]));
        assert_eq!(
            wire(Order {
                id: 7,
                items: vec![]
            }),
            json!([{"id": 7, "items": []}])
        );
        assert_eq!(
            wire(Option::<u8>::None),
            json!([{"metadata": {"encoding": "YmluYXJ5L251bGw="}}])
        );
    }

    #[test]
    fn every_shape_reads_back_as_it_was_written() {
        fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(v: T) {
            let back: T = read(wire(&v)).unwrap();
            assert_eq!(back, v);
        }
        round_trip(());
        round_trip("hello".to_string());
        round_trip(("a".to_string(), 2u8, Some(3.5f64)));
        round_trip((42u64,));
        round_trip(vec![1, 2, 3]);
        round_trip(Vec::<u8>::new());
        round_trip(Order {
            id: 1,
            items: vec!["x".into()],
        });
        round_trip(Option::<String>::None);
        round_trip(Some("x".to_string()));
    }

    #[test]
    fn a_single_payload_also_reads_as_a_one_element_tuple_and_none_as_an_option() {
        let (s,): (String,) = read(json!(["x"])).unwrap();
        assert_eq!(s, "x");
        let none: Option<u8> = read(json!([])).unwrap();
        assert_eq!(none, None);
        let order: Order = read(json!([3, ["a"]])).unwrap();
        assert_eq!(
            order,
            Order {
                id: 3,
                items: vec!["a".into()]
            }
        );
    }

    #[test]
    fn a_mismatch_names_the_type_and_shows_the_payloads() {
        let err = read::<(u32, u32)>(json!(["a", "b"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("(u32, u32)") && err.contains(r#"["a","b"]"#),
            "{err}"
        );
        let err = read::<u32>(json!([])).unwrap_err().to_string();
        assert!(err.contains("could not decode test [] as u32"), "{err}");
    }

    #[test]
    fn raw_json_payloads_are_read_and_other_encodings_refused() {
        let raw = json!({"payloads": [{"metadata": {"encoding": JSON_PLAIN_ENCODING, "type": "S2V5d29yZA=="}, "data": "IngiIA=="}]});
        assert_eq!(read::<String>(raw).unwrap(), "x");
        let binary =
            json!({"payloads": [{"metadata": {"encoding": "YmluYXJ5L3BsYWlu"}, "data": "AAEC"}]});
        let err = read::<Value>(binary).unwrap_err().to_string();
        assert!(err.contains("\"binary/plain\""), "{err}");
    }
}
