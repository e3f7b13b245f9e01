//! Bad input, whatever layer meets it, answers a clear API error body with Temporal's words
//! where Temporal has some, alike in both deployments (issue 12, finding 3).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

/// A workflow start that passes validation.
fn workflow_start(id: &str) -> Value {
    json!({"workflowType": {"name": "W"}, "taskQueue": {"name": id}})
}

// Each body with the message Temporal's HTTP API answers for it on the same route (its syntax
// errors end with a Go source location, left out here).
const UNDECODABLE_STARTS: [(&str, &str); 9] = [
    (
        r#"{"activityType":{"name":"x","bogus":1}}"#,
        r#"temporalproto: (line 1:29): unknown field "bogus""#,
    ),
    (
        r#"{"activityType":5}"#,
        "temporalproto: syntax error (line 1:17): unexpected token 5",
    ),
    (
        r#"{"taskQueue":{"name":true}}"#,
        "temporalproto: (line 1:22): invalid value for string type: true",
    ),
    (
        r#"{"idReusePolicy":"NOPE"}"#,
        r#"temporalproto: (line 1:18): invalid value for enum type: "NOPE""#,
    ),
    (
        r#"{"startToCloseTimeout":"abc"}"#,
        r#"temporalproto: (line 1:24): invalid google.protobuf.Duration value "abc" (a duration is seconds with an `s` suffix and at most 9 decimals, from -315576000000s to 315576000000s, e.g. "60s", "0.5s" or "3600s")"#,
    ),
    (r#"{"activityType":{"name":"x"}"#, "unexpected EOF"),
    (
        "nope",
        "invalid character 'o' in literal null (expecting 'u')",
    ),
    (
        "[{}]",
        "temporalproto: syntax error (line 1:1): unexpected token [",
    ),
    (
        r#"{"input":[1],}"#,
        "invalid character '}' looking for beginning of object key string",
    ),
];

#[tokio::test]
async fn request_bodies_that_do_not_decode_are_worded_as_temporal_words_them() {
    let s = Server::start_in_memory().await;
    let url = s.url(&format!("activities/{}", unique("decode")));
    for (body, message) in UNDECODABLE_STARTS {
        let reply = s.send(Method::POST, &url, Some(body.into()), None).await;
        assert_eq!(reply, error(400, 3, message), "{body}");
    }
}

// As Temporal's HTTP API words them (grpc-gateway's query parser).
#[tokio::test]
async fn query_parameters_that_do_not_parse_are_worded_as_temporal_words_them() {
    let s = Server::start_in_memory().await;
    let history = format!("workflows/{}/history", unique("query"));
    let cases = [
        (
            ("maximumPageSize", "abc"),
            r#"parsing field "maximum_page_size": strconv.ParseInt: parsing "abc": invalid syntax"#,
        ),
        (
            ("waitNewEvent", "maybe"),
            r#"parsing field "wait_new_event": strconv.ParseBool: parsing "maybe": invalid syntax"#,
        ),
        (
            ("historyEventFilterType", "NOPE"),
            r#"parsing field "history_event_filter_type": "NOPE" is not a valid value"#,
        ),
    ];
    for (param, message) in cases {
        assert_eq!(
            s.get_with(&history, &[param], None).await,
            error(400, 3, message),
            "{param:?}"
        );
    }
}

#[tokio::test]
async fn a_nul_character_is_refused_wherever_it_comes() {
    let s = Server::start().await;
    let id = unique("nul");
    let refused = |what: &str| {
        error(
            400,
            3,
            &format!("{what} must not contain the NUL character (\\u0000)"),
        )
    };
    // In the URL: an id, a namespace, a signal name, a query parameter.
    assert_eq!(
        s.post("workflows/a%00b", workflow_start(&id)).await,
        refused("workflowId")
    );
    assert_eq!(
        s.post("activities/a%00b", json!({})).await,
        refused("activityId")
    );
    assert_eq!(
        s.at("/api/v1/namespaces/de%00f")
            .post(&format!("workflows/{id}"), workflow_start(&id))
            .await,
        refused("namespace")
    );
    s.post(&format!("workflows/{id}"), workflow_start(&id))
        .await;
    assert_eq!(
        s.post(&format!("workflows/{id}/signal/s%00g"), json!({}))
            .await,
        refused("signalName")
    );
    assert_eq!(
        s.get_with("workflows", &[("query", "WorkflowId = 'a\0'")], None)
            .await,
        refused("query")
    );
    // In a body: a type, a task queue, a namespace to register.
    let mut start = workflow_start(&id);
    start["workflowType"]["name"] = json!("W\0");
    assert_eq!(
        s.post(&format!("workflows/{}", unique("nul")), start).await,
        refused("workflowType.name")
    );
    let mut start = workflow_start(&id);
    start["taskQueue"]["name"] = json!("q\0");
    assert_eq!(
        s.post(&format!("workflows/{}", unique("nul")), start).await,
        refused("taskQueue.name")
    );
    assert_eq!(
        s.at("/api/v1")
            .post("namespaces", json!({"namespace": "team\0"}))
            .await,
        refused("namespace")
    );
}

#[tokio::test]
async fn namespace_names_are_checked_as_temporal_checks_them() {
    let s = Server::start_in_memory().await;
    let api = s.at("/api/v1");
    let register = |name: String| api.post("namespaces", json!({"namespace": name}));
    assert_eq!(
        register(String::new()).await,
        error(400, 3, "Namespace not set on request.")
    );
    assert_eq!(
        register("n".repeat(1001)).await,
        error(
            400,
            3,
            "Namespace length exceeds limit. Length=1001 Limit=1000"
        )
    );
    // Temporal has no rule on the characters: a name a URL path must escape is served too.
    let odd = format!("{} name/ü", unique("odd"));
    assert_eq!(register(odd.clone()).await, ok(json!({})));
    let path = format!("namespaces/{}", odd.replace(' ', "%20").replace('/', "%2F"));
    let (status, described) = api.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{described}");
    assert_eq!(described["namespaceInfo"]["name"], json!(odd));
    assert_eq!(register("n".repeat(1000)).await, ok(json!({})));
}

#[tokio::test]
async fn errors_below_the_handlers_carry_the_api_error_body() {
    let s = Server::start_in_memory().await;
    let prefix = "/api/v1/namespaces/default";
    // A URI longer than the HTTP layer reads: a long id, a long visibility query.
    let long_id = format!("GET {prefix}/workflows/{} HTTP/1.1", "a".repeat(100_000));
    let items: Vec<String> = (0..5000).map(|i| format!("%27wf-{i:05}%27")).collect();
    let long_query = format!(
        "GET {prefix}/workflows?query=WorkflowId%20IN%20({}) HTTP/1.1",
        items.join(",")
    );
    let too_long = (
        StatusCode::URI_TOO_LONG,
        json!({"code": 3, "message": "the request URI is too long (at most 65534 bytes)"}),
    );
    for request_line in [long_id, long_query] {
        assert_eq!(s.raw_exchange(&request_line, "").await, too_long);
    }
    let big_header = format!("X-Big: {}\r\n", "a".repeat(600_000));
    let (status, body) = s
        .raw_exchange(&format!("GET {prefix}/workflows HTTP/1.1"), &big_header)
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, json!(3)),
        "{body}"
    );
    let (status, body) = s.raw_exchange("NOT A REQUEST", "").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 3, "message": "malformed HTTP request"})
        )
    );
}

#[tokio::test]
async fn client_mistakes_are_not_logged_as_errors() {
    let s = Server::start_in_memory().await;
    let id = unique("mistakes");
    let url = s.url(&format!("workflows/{id}"));
    let answers = [
        s.send(Method::DELETE, &url, None, None).await,
        s.send(Method::POST, &url, Some("{bad".into()), None).await,
        s.get("no-such-route").await,
        s.get(&format!("workflows/{id}")).await,
    ];
    for (status, body) in answers {
        assert!(body["code"].is_i64(), "{status} {body}");
    }
    let logs = s.logs();
    let errors: Vec<&str> = logs.lines().filter(|l| l.contains("ERROR")).collect();
    assert!(
        errors.is_empty(),
        "client mistakes logged as errors: {errors:#?}"
    );
}
