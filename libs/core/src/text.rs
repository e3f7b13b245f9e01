//! Rules for the text of every request, whichever field carries it, and namespace names.

use serde_json::Value;

use crate::options::MAX_ID_LENGTH;

/// PostgreSQL's text cannot hold the NUL character, so that the deployments answer alike no
/// request may carry one: `what` (a field or URL part) is refused with this message.
pub fn validate_no_nul(what: &str, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err(format!(
            "{what} must not contain the NUL character (\\u0000)"
        ));
    }
    Ok(())
}

/// Refuses a request body holding a NUL in any string or key, naming the first one found
/// (`workflowType.name`, `input[0]`).
pub fn validate_json_no_nul(json: &Value) -> Result<(), String> {
    match first_nul(json) {
        Some(path) if path.is_empty() => validate_no_nul("the request", "\0"),
        Some(path) => validate_no_nul(&path, "\0"),
        None => Ok(()),
    }
}

fn first_nul(json: &Value) -> Option<String> {
    match json {
        Value::String(s) => s.contains('\0').then(String::new),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| first_nul(item).map(|rest| format!("[{i}]{}", dotted(&rest)))),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                return Some(key.escape_default().to_string());
            }
            first_nul(item).map(|rest| format!("{key}{}", dotted(&rest)))
        }),
        _ => None,
    }
}

/// `rest` of a path after a parent: `.field` or `[i]`.
fn dotted(rest: &str) -> String {
    match rest.chars().next() {
        None | Some('[') => rest.to_owned(),
        Some(_) => format!(".{rest}"),
    }
}

/// A namespace name as Temporal checks it at registration (it has no rule on the characters).
pub fn validate_namespace_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Namespace not set on request.".into());
    }
    if name.len() > MAX_ID_LENGTH {
        return Err(format!(
            "Namespace length exceeds limit. Length={} Limit={MAX_ID_LENGTH}",
            name.len()
        ));
    }
    validate_no_nul("namespace", name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_nul_anywhere_in_a_request_is_refused_by_its_path() {
        let refused = |v: Value| validate_json_no_nul(&v).unwrap_err();
        assert_eq!(
            refused(json!({"workflowType": {"name": "a\u{0}b"}})),
            "workflowType.name must not contain the NUL character (\\u0000)"
        );
        assert_eq!(
            refused(json!({"input": ["ok", {"x": "\u{0}"}]})),
            "input[1].x must not contain the NUL character (\\u0000)"
        );
        assert_eq!(
            refused(json!("\u{0}")),
            "the request must not contain the NUL character (\\u0000)"
        );
        assert!(validate_json_no_nul(&json!({"a": ["b", 1, null, {"c": "\\u0000"}]})).is_ok());
        assert_eq!(
            validate_no_nul("workflowId", "a\u{0}"),
            Err("workflowId must not contain the NUL character (\\u0000)".into())
        );
        assert_eq!(validate_no_nul("workflowId", "a"), Ok(()));
    }

    #[test]
    fn namespace_names_follow_temporals_registration_rules() {
        assert_eq!(
            validate_namespace_name(""),
            Err("Namespace not set on request.".into())
        );
        assert_eq!(
            validate_namespace_name(&"n".repeat(1001)),
            Err("Namespace length exceeds limit. Length=1001 Limit=1000".into())
        );
        assert!(validate_namespace_name("bad\u{0}").is_err());
        // Temporal accepts any other characters, and so does Waymark.
        for name in ["n".repeat(1000).as_str(), "bad name/ü", "a", "x.y_z-1"] {
            assert_eq!(validate_namespace_name(name), Ok(()), "{name}");
        }
    }
}
