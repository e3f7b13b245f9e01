//! OpenAPI schemas of the wire types whose JSON the `ToSchema` derive cannot see: durations,
//! timestamps, int64 and float fields, enums, payloads and gRPC codes (their serde is hand-written).
//! Each schema admits what the server writes and what it accepts on input.

use std::borrow::Cow;

use serde_json::json;
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder,
    Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::duration::Duration;
use crate::error::Code;
use crate::payload::{Payload, Payloads};
use crate::timestamp::Timestamp;

/// What `Duration::parse` accepts (seconds without leading zeros, up to 9 fraction digits); the
/// server writes `-?<seconds>[.ddd|.dddddd|.ddddddddd]s`.
const DURATION_PATTERN: &str = r"^-?((0|[1-9][0-9]{0,11})(\.[0-9]{1,9})?|\.[0-9]{1,9})s$";

/// int64 fields (`#[schema(schema_with = int64)]`): written as a decimal string, read from a
/// string or a number.
pub fn int64() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Integer]))
        .pattern(Some("^-?[0-9]+$"))
        .description(Some(
            "int64, written as a decimal string; a JSON number is accepted too",
        ))
        .into()
}

/// protojson `float` fields (`#[schema(schema_with = float)]`): a number, or one of the strings
/// protojson uses for the values JSON has no number for.
pub fn float() -> Schema {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Number))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["Infinity", "-Infinity", "NaN"])),
        )
        .into()
}

/// A `proto_enum!`: written by its full name, read by name or by number.
pub(crate) fn proto_enum(names: &[&str], numbers: &[i32], description: &str) -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(names.iter().copied())),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
                .enum_values(Some(numbers.iter().copied())),
        )
        .description(Some(description))
        .into()
}

impl PartialSchema for Duration {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(DURATION_PATTERN))
            .description(Some(
                "A duration (`google.protobuf.Duration`): decimal seconds with up to 9 fraction \
                 digits and an `s`, e.g. `\"10s\"`, `\"1.500s\"`, `\"0.250s\"` (no `m` or `h` \
                 units). The server writes 0, 3, 6 or 9 fraction digits. Timeouts must not be \
                 negative; `\"0s\"` or absent means unset (the default applies), and a timeout is \
                 capped at 100 years.",
            ))
            .examples([json!("10s")])
            .into()
    }
}

impl ToSchema for Duration {
    fn name() -> Cow<'static, str> {
        "Duration".into()
    }
}

impl PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some(
                "google.protobuf.Timestamp in RFC 3339, written in UTC (`Z`)",
            ))
            .examples([json!("2026-01-02T03:04:05.678Z")])
            .into()
    }
}

impl ToSchema for Timestamp {
    fn name() -> Cow<'static, str> {
        "Timestamp".into()
    }
}

/// How the document says "any JSON value" where it cannot list the types (`tests/openapi.rs`
/// accepts a schema that says this and nothing else).
pub const ANY_JSON_VALUE: &str = "Any JSON value";

/// A payload in its raw form: a component of its own, so that generators make one type of it.
struct RawPayload;

impl ToSchema for RawPayload {
    fn name() -> Cow<'static, str> {
        "RawPayload".into()
    }
}

impl PartialSchema for RawPayload {
    fn schema() -> RefOr<Schema> {
        let base64 = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .content_encoding("base64")
        };
        ObjectBuilder::new()
            .description(Some("A payload in full: base64 metadata and data"))
            .property(
                "metadata",
                ObjectBuilder::new()
                    .additional_properties(Some(base64()))
                    .description(Some(
                        "Metadata values in standard base64; `encoding` names the encoding, \
                         e.g. `anNvbi9wbGFpbg==` (`json/plain`) or `YmluYXJ5L3BsYWlu` \
                         (`binary/plain`)",
                    )),
            )
            .required("metadata")
            .property(
                "data",
                base64().description(Some("The payload's bytes in standard base64")),
            )
            .examples([json!({"metadata": {"encoding": "YmluYXJ5L3BsYWlu"}, "data": "aGk="})])
            .into()
    }
}

impl PartialSchema for Payload {
    fn schema() -> RefOr<Schema> {
        // A type per branch, not `type: [..]`, and no recursion: generators
        // (openapi-python-client) take neither. Arrays say what their elements are two levels
        // deep; deeper, any JSON value, said in words.
        let of_types = |types: &[Type]| {
            types.iter().fold(AnyOfBuilder::new(), |any, t| {
                any.item(ObjectBuilder::new().schema_type(t.clone()))
            })
        };
        let scalars_and_objects = [
            Type::String,
            Type::Number,
            Type::Boolean,
            Type::Object,
            Type::Null,
        ];
        let deeper = ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .description(Some(ANY_JSON_VALUE));
        let element = of_types(&scalars_and_objects).item(ArrayBuilder::new().items(deeper));
        let shorthand = of_types(&scalars_and_objects)
            .item(ArrayBuilder::new().items(element))
            .description(Some(
                "JSON value: any other JSON value is a `json/plain` payload holding it; `null` \
                 is `binary/null`",
            ))
            .examples([json!("hello")]);
        // anyOf, not oneOf: a raw payload is a JSON object too.
        AnyOfBuilder::new()
            .item(Ref::from_schema_name(RawPayload::name()))
            .item(shorthand)
            .description(Some(
                "A payload (Temporal's `Payload`). Any JSON value stands for a `json/plain` \
                 payload; `null` for `binary/null`, written as \
                 `{\"metadata\":{\"encoding\":\"YmluYXJ5L251bGw=\"}}`; any other payload is \
                 `{\"metadata\":{..},\"data\":\"<base64>\"}` with base64 metadata values. An \
                 object of exactly that raw shape with valid base64 is read as a raw payload, any \
                 other object as a JSON value.",
            ))
            .into()
    }
}

impl ToSchema for Payload {
    fn name() -> Cow<'static, str> {
        "Payload".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((RawPayload::name().into(), RawPayload::schema()));
    }
}

impl PartialSchema for Payloads {
    fn schema() -> RefOr<Schema> {
        let items = || ArrayBuilder::new().items(Ref::from_schema_name(Payload::name()));
        OneOfBuilder::new()
            .item(items())
            .item(
                ObjectBuilder::new()
                    .property("payloads", items())
                    .additional_properties(Some(AdditionalProperties::FreeForm(false))),
            )
            .description(Some(
                "A list of payloads: a bare array when every element has a shorthand form (a \
                 JSON value or `binary/null`), `{\"payloads\":[..]}` otherwise",
            ))
            .examples([json!(["hello", {"n": 1}])])
            .into()
    }
}

impl ToSchema for Payloads {
    fn name() -> Cow<'static, str> {
        "Payloads".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Payload::name().into(), Payload::schema()));
        schemas.push((RawPayload::name().into(), RawPayload::schema()));
    }
}

impl PartialSchema for Code {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
            .enum_values(Some(0..=16))
            .description(Some(
                "gRPC status code: 3 InvalidArgument and 9 FailedPrecondition (400), 5 NotFound \
                 (404), 6 AlreadyExists (409), 8 ResourceExhausted (429, or 413 for a body over \
                 the limit), 13 Internal (500), 12 Unimplemented (501), 14 Unavailable (503), \
                 4 DeadlineExceeded (504)",
            ))
            .into()
    }
}

impl ToSchema for Code {
    fn name() -> Cow<'static, str> {
        "Code".into()
    }
}

/// A Temporal message that Waymark accepts for compatibility but does not interpret
/// (`#[schema(schema_with = message)]` on a `serde_json::Value` field).
pub fn message() -> Schema {
    message_object().into()
}

fn message_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "A Temporal message of this field's name, in protojson (see Temporal's API). \
             Waymark accepts it for compatibility and does not interpret it: it is ignored, or \
             kept and answered as given.",
        ))
}

/// A list of `message`s.
pub fn messages() -> Schema {
    ArrayBuilder::new().items(message_object()).into()
}

/// A map of `message`s by name.
pub fn message_map() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(message_object()))
        .into()
}

/// A Temporal `Link` (`temporal.api.common.v1.Link`), passed through as given.
pub fn link() -> Schema {
    link_object().into()
}

fn link_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "A Temporal `Link`, e.g. `{\"workflowEvent\":{\"namespace\":..,\"workflowId\":..,\
             \"runId\":..}}`: where this came from or what it started; kept and answered as \
             given",
        ))
}

/// A list of `link`s.
pub fn links() -> Schema {
    ArrayBuilder::new().items(link_object()).into()
}

/// One of an error's `details`: a `google.protobuf.Any`.
pub fn error_detail() -> Schema {
    error_detail_object().into()
}

fn error_detail_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "@type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .examples([json!(
                    "type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure"
                )]),
        )
        .required("@type")
        .description(Some(
            "Temporal's error details (a `google.protobuf.Any`): `@type` names the message, its \
             other fields are the message's",
        ))
}

/// A list of `error_detail`s.
pub fn error_details() -> Schema {
    ArrayBuilder::new().items(error_detail_object()).into()
}
