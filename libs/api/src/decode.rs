//! Request bodies decoded with the error messages Temporal's HTTP API gives for the same
//! mistakes: Go's `encoding/json` wording for malformed JSON, protojson's
//! (`temporalproto: (line L:C): unknown field "x"`) for JSON that does not fit the message.

use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::error::Category;

/// Decodes `text` as `T`; the error is the message Temporal answers, for an InvalidArgument.
pub fn from_slice<T: DeserializeOwned>(text: &[u8]) -> Result<T, String> {
    // Go reads the whole document before protojson looks at its fields: a syntax error wins.
    serde_json::from_slice::<IgnoredAny>(text).map_err(|e| describe(text, &e))?;
    // serde would read a struct from an array of its fields too; protojson wants an object.
    if let Some(start) = text.iter().position(|b| !b.is_ascii_whitespace())
        && text[start] == b'['
    {
        return Err(positioned(
            text,
            start,
            "syntax error ",
            "unexpected token [",
        ));
    }
    serde_json::from_slice(text).map_err(|e| describe(text, &e))
}

/// Temporal's wording of a serde_json error; `text` is the document, for the positions.
pub fn describe(text: &[u8], e: &serde_json::Error) -> String {
    let full = e.to_string();
    let message = full
        .strip_suffix(&format!(" at line {} column {}", e.line(), e.column()))
        .unwrap_or(&full);
    match e.classify() {
        Category::Eof => "unexpected EOF".into(),
        Category::Syntax => syntax(text, e, message),
        Category::Data | Category::Io => data(text, e, message),
    }
}

/// Byte offset of serde's 1-based `(line, column)`; serde counts bytes in a line.
fn offset(text: &[u8], line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive(|&b| b == b'\n')
        .take(line.saturating_sub(1))
        .map(<[u8]>::len)
        .sum();
    (start + column).min(text.len())
}

/// Go's `encoding/json` message for the character serde stopped at.
fn syntax(text: &[u8], e: &serde_json::Error, message: &str) -> String {
    let mut at = offset(text, e.line(), e.column()).saturating_sub(1);
    if message.starts_with("control character") {
        // serde points at the string, not at the character.
        at += text[at..].iter().position(|&b| b < 0x20).unwrap_or(0);
    }
    let Some(&c) = text.get(at) else {
        return "unexpected EOF".into();
    };
    let context = match message {
        "expected value" if c.is_ascii_digit() || c == b'-' => "in numeric literal".into(),
        "expected value" => "looking for beginning of value".into(),
        "invalid number" | "number out of range" => "in numeric literal".into(),
        "expected ident" => literal_context(text, at),
        "key must be a string" => "looking for beginning of object key string".into(),
        "trailing comma" if c == b'}' => "looking for beginning of object key string".into(),
        "trailing comma" => "looking for beginning of value".into(),
        "expected `:`" => "after object key".into(),
        "expected `,` or `}`" => "after object key:value pair".into(),
        "expected `,` or `]`" => "after array element".into(),
        "trailing characters" => "after top-level value".into(),
        "invalid escape" => "in string escape code".into(),
        m if m.starts_with("control character") => "in string literal".into(),
        m => return m.to_owned(),
    };
    format!("invalid character {} {context}", go_char(c))
}

/// `in literal true (expecting 'e')` for the literal that starts before `at`.
fn literal_context(text: &[u8], at: usize) -> String {
    let start = text[..at]
        .iter()
        .rposition(|b| !b.is_ascii_alphabetic())
        .map_or(0, |i| i + 1);
    let typed = &text[start..at];
    let literal = ["true", "false", "null"]
        .into_iter()
        .find(|l| l.as_bytes().first() == typed.first())
        .unwrap_or("null");
    let expecting = literal.as_bytes().get(typed.len()).copied().unwrap_or(b' ');
    format!("in literal {literal} (expecting {})", go_char(expecting))
}

/// A byte as Go's `%q` prints a character: `'x'`, `'\n'`, `'\x01'`.
fn go_char(c: u8) -> String {
    match c {
        b'\n' => r"'\n'".into(),
        b'\r' => r"'\r'".into(),
        b'\t' => r"'\t'".into(),
        b'\'' => r"'\''".into(),
        c if c.is_ascii_graphic() || c == b' ' => format!("'{}'", c as char),
        c => format!(r"'\x{c:02x}'"),
    }
}

/// protojson's message for a document that is JSON but not the message.
fn data(text: &[u8], e: &serde_json::Error, message: &str) -> String {
    let message = if let Some(rest) = message.strip_prefix("unknown field `") {
        format!(
            "unknown field \"{}\"",
            rest.split('`').next().unwrap_or_default()
        )
    } else if let Some(rest) = message.strip_prefix("unknown variant `") {
        let value = rest.split('`').next().unwrap_or_default();
        format!("invalid value for enum type: \"{value}\"")
    } else if let Some(rest) = message.strip_prefix("invalid type: ") {
        let expected = rest.split(", expected ").nth(1).unwrap_or_default();
        let token = token_at(text, e).map_or("", |(_, t)| t);
        match scalar(expected) {
            Some(kind) => format!("invalid value for {kind} type: {token}"),
            None => {
                return at_position(
                    text,
                    e,
                    "syntax error ",
                    &format!("unexpected token {token}"),
                );
            }
        }
    } else {
        message.to_owned()
    };
    at_position(text, e, "", &message)
}

/// The protobuf scalar type serde's `expected ...` names, if it names one.
fn scalar(expected: &str) -> Option<&'static str> {
    let kinds = [
        ("string", "string"),
        ("a boolean", "bool"),
        ("i32", "int32"),
        ("int64", "int64"),
        ("u32", "uint32"),
        ("u64", "uint64"),
        ("f64", "double"),
        ("f32", "float"),
    ];
    kinds
        .into_iter()
        .find(|(word, _)| expected.contains(word))
        .map(|(_, kind)| kind)
}

/// `temporalproto: {kind}(line L:C): {message}`, at the token the error is about; just the
/// message for a value that was never text (the gRPC door's).
fn at_position(text: &[u8], e: &serde_json::Error, kind: &str, message: &str) -> String {
    match token_at(text, e) {
        Some((start, _)) => positioned(text, start, kind, message),
        None => message.to_owned(),
    }
}

/// `temporalproto: {kind}(line L:C): {message}` for the token at byte `start`.
fn positioned(text: &[u8], start: usize, kind: &str, message: &str) -> String {
    let before = &text[..start];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let column = start - line_start + 1;
    format!("temporalproto: {kind}(line {line}:{column}): {message}")
}

/// The JSON token a data error is about, with its offset: the token serde just read (a key, a
/// string, a number, a literal), or the `{` / `[` it stopped before.
fn token_at<'t>(text: &'t [u8], e: &serde_json::Error) -> Option<(usize, &'t str)> {
    if e.line() == 0 {
        return None;
    }
    let end = offset(text, e.line(), e.column());
    let before = text[..end].last().copied();
    let start = match before {
        Some(b'"') => {
            // The opening quote: the last quote before the closing one that is not escaped.
            let mut i = end - 1;
            loop {
                i = text[..i].iter().rposition(|&b| b == b'"')?;
                let slashes = text[..i].iter().rev().take_while(|&&b| b == b'\\').count();
                if slashes % 2 == 0 {
                    break i;
                }
            }
        }
        Some(b) if is_literal(b) => text[..end]
            .iter()
            .rposition(|&b| !is_literal(b))
            .map_or(0, |i| i + 1),
        _ => end + text[end..].iter().position(|b| !b.is_ascii_whitespace())?,
    };
    let len = match text.get(start)? {
        b'{' | b'[' => 1,
        b'"' => end.checked_sub(start).filter(|&n| n > 0)?,
        _ => text[start..].iter().take_while(|&&b| is_literal(b)).count(),
    };
    let token = std::str::from_utf8(&text[start..start + len]).ok()?;
    Some((start, token))
}

/// grpc-gateway's message for query parameter `field` whose `value` did not parse (serde said
/// `error`): `parsing field "snake_name": <Go's strconv error>`.
pub fn query_error(field: &str, value: &str, error: &str) -> String {
    let go = if error.contains("`true` or `false`") {
        format!("strconv.ParseBool: parsing {value:?}: invalid syntax")
    } else if error.contains("number too") {
        format!("strconv.ParseInt: parsing {value:?}: value out of range")
    } else if error.contains("invalid digit") || error.contains("empty string") {
        format!("strconv.ParseInt: parsing {value:?}: invalid syntax")
    } else if error.starts_with("invalid value for enum type") {
        format!("{value:?} is not a valid value")
    } else {
        error.to_owned()
    };
    let snake: String = field
        .chars()
        .flat_map(|c| {
            let lower = c.to_ascii_lowercase();
            (c.is_ascii_uppercase().then_some('_').into_iter()).chain([lower])
        })
        .collect();
    format!("parsing field \"{snake}\": {go}")
}

fn is_literal(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::StartWorkflowExecutionRequest;

    /// Each request body with the message Temporal 1.32's HTTP API answers for it (the
    /// `(in <Go source>)` suffix of its syntax errors left out).
    #[test]
    fn decode_errors_read_as_temporal_words_them() {
        let cases = [
            (
                r#"{"bogusField":1}"#,
                r#"temporalproto: (line 1:2): unknown field "bogusField""#,
            ),
            (
                r#"{"workflowType":{"name":"x","bogus":1}}"#,
                r#"temporalproto: (line 1:29): unknown field "bogus""#,
            ),
            (
                "{\n  \"workflowType\": {\"name\": \"x\"},\n  \"nope\": 1\n}",
                r#"temporalproto: (line 3:3): unknown field "nope""#,
            ),
            (
                r#"{"workflowType":5}"#,
                "temporalproto: syntax error (line 1:17): unexpected token 5",
            ),
            (
                r#"{"workflowType":"x"}"#,
                r#"temporalproto: syntax error (line 1:17): unexpected token "x""#,
            ),
            (
                r#"{"workflowType":{"name":true}}"#,
                "temporalproto: (line 1:25): invalid value for string type: true",
            ),
            (
                r#"{"workflowType": {"name":5.5}}"#,
                "temporalproto: (line 1:26): invalid value for string type: 5.5",
            ),
            (
                r#"{"workflowType":{"name":{"a":1}}}"#,
                "temporalproto: (line 1:25): invalid value for string type: {",
            ),
            (
                r#"{"identity":5}"#,
                "temporalproto: (line 1:13): invalid value for string type: 5",
            ),
            (
                r#"{"workflowIdReusePolicy":"NOPE"}"#,
                r#"temporalproto: (line 1:26): invalid value for enum type: "NOPE""#,
            ),
            (
                r#"{"workflowType":{"name":"x"},"taskQueue":{"name":"q"},"workflowRunTimeout":"abc"}"#,
                r#"temporalproto: (line 1:76): invalid google.protobuf.Duration value "abc" (a duration is seconds with an `s` suffix and at most 9 decimals, from -315576000000s to 315576000000s, e.g. "60s", "0.5s" or "3600s")"#,
            ),
            (r#"{"workflowType":{"name":"x"}"#, "unexpected EOF"),
            (
                "[1]",
                "temporalproto: syntax error (line 1:1): unexpected token [",
            ),
            (
                "nope",
                "invalid character 'o' in literal null (expecting 'u')",
            ),
            (
                "hello",
                "invalid character 'h' looking for beginning of value",
            ),
            (r#"{"a" 1}"#, "invalid character '1' after object key"),
            (
                r#"{"a":1,}"#,
                "invalid character '}' looking for beginning of object key string",
            ),
            (
                "{1:2}",
                "invalid character '1' looking for beginning of object key string",
            ),
            (
                r#"{"a":"\q"}"#,
                "invalid character 'q' in string escape code",
            ),
            (
                r#"{"a":tru}"#,
                "invalid character '}' in literal true (expecting 'e')",
            ),
            (r#"{"a":-}"#, "invalid character '}' in numeric literal"),
            (
                "{\"a\":\"\u{1}\"}",
                r"invalid character '\x01' in string literal",
            ),
        ];
        for (body, want) in cases {
            let got = from_slice::<StartWorkflowExecutionRequest>(body.as_bytes()).unwrap_err();
            assert_eq!(got, want, "{body}");
        }
    }

    /// As Temporal's HTTP API answers these query strings.
    #[test]
    fn query_parameters_that_do_not_parse_are_worded_as_grpc_gateway_words_them() {
        let cases = [
            (
                ("maximumPageSize", "abc", "invalid digit found in string"),
                r#"parsing field "maximum_page_size": strconv.ParseInt: parsing "abc": invalid syntax"#,
            ),
            (
                (
                    "waitNewEvent",
                    "maybe",
                    "provided string was not `true` or `false`",
                ),
                r#"parsing field "wait_new_event": strconv.ParseBool: parsing "maybe": invalid syntax"#,
            ),
            (
                (
                    "historyEventFilterType",
                    "NOPE",
                    r#"invalid value for enum type: "NOPE""#,
                ),
                r#"parsing field "history_event_filter_type": "NOPE" is not a valid value"#,
            ),
        ];
        for ((field, value, error), want) in cases {
            assert_eq!(query_error(field, value, error), want);
        }
    }

    #[test]
    fn a_value_that_was_never_text_is_described_without_a_position() {
        let value = serde_json::json!({"workflowIdReusePolicy": "NOPE"});
        let e = serde_json::from_value::<StartWorkflowExecutionRequest>(value).unwrap_err();
        assert_eq!(describe(&[], &e), r#"invalid value for enum type: "NOPE""#);
    }
}
