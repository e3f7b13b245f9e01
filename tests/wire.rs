//! Wire conventions of the HTTP API (§1, §2.3). §12.10: the JSON details clients notice.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::lifecycle::activity_runs_to_completion;
use crate::support::*;

/// A `400 InvalidArgument` whose message contains `fragment`.
fn assert_invalid((status, body): Reply, fragment: &str) {
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(3)),
        "{body}"
    );
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(fragment),
        "message {message:?} does not mention {fragment:?}"
    );
}

#[tokio::test]
async fn every_route_also_works_without_the_api_v1_prefix() {
    let s = Server::start_in_memory().await;
    let c = s.at("/namespaces/default");
    // Start, describe, outcome, poll, heartbeat and complete by token.
    activity_runs_to_completion(&c, &unique("bare")).await;

    // Fail and resolve-as-canceled by token; cancel.
    let id = unique("bare-token");
    c.start_activity(&id, json!({"retryPolicy": {"initialInterval": "0.1s"}}))
        .await;
    let task = c.poll_task(&id).await;
    c.fail(&task, app_failure("once", "Boom")).await;
    let task = c.poll_task(&id).await;
    assert_eq!(
        c.by_id(&id, "cancel", json!({"requestId": "c1"})).await,
        ok(json!({}))
    );
    assert_eq!(
        c.worker_call("activity-resolve-as-canceled", &task, json!({}))
            .await,
        ok(json!({}))
    );

    // Operator commands, then every by-id worker call.
    let id = unique("bare-id");
    c.start_activity(&id, json!({"retryPolicy": {"initialInterval": "0.1s"}}))
        .await;
    let update = json!({"activityOptions": {"startToCloseTimeout": "20s"}, "updateMask": "startToCloseTimeout"});
    for (op, body) in [
        ("pause", json!({})),
        ("unpause", json!({})),
        ("reset", json!({})),
        ("update-options", update),
    ] {
        let (status, answer) = c.by_id(&id, op, body).await;
        assert_eq!(status, StatusCode::OK, "{op}: {answer}");
    }
    c.poll_task(&id).await;
    assert_eq!(
        c.by_id(&id, "heartbeat", json!({"details": ["x"]})).await,
        ok(json!({}))
    );
    assert_eq!(
        c.by_id(&id, "fail", json!({"failure": {"message": "by id"}}))
            .await,
        ok(json!({}))
    );
    c.poll_task(&id).await;
    assert_eq!(
        c.by_id(&id, "cancel", json!({"requestId": "c1"})).await,
        ok(json!({}))
    );
    assert_eq!(
        c.by_id(&id, "resolve-as-canceled", json!({})).await,
        ok(json!({}))
    );
    let id = unique("bare-complete");
    c.start_activity(&id, json!({})).await;
    assert_eq!(
        c.by_id(&id, "complete", json!({"result": [1]})).await,
        ok(json!({}))
    );
    let id = unique("bare-terminate");
    c.start_activity(&id, json!({})).await;
    assert_eq!(
        c.by_id(&id, "terminate", json!({"reason": "r"})).await,
        ok(json!({}))
    );

    let query = [("query", "ExecutionStatus = 'Terminated'")];
    let (status, list) = c.get_with("activities", &query, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        c.get_with("activity-count", &query, None).await.0,
        StatusCode::OK
    );
    let (status, namespaces) = s.at("").get("namespaces").await;
    assert_eq!(status, StatusCode::OK, "{namespaces}");
    assert_eq!(
        s.at("").get("namespaces/default").await.1["namespaceInfo"]["name"],
        "default"
    );
}

// §12.10
#[tokio::test]
async fn snake_case_input_is_accepted_and_output_is_camel_case() {
    let s = Server::start_in_memory().await;
    let id = unique("snake");
    let body = json!({
        "activity_type": {"name": "T"},
        "task_queue": {"name": id},
        "start_to_close_timeout": "5s",
        "retry_policy": {"maximum_attempts": 3},
    });
    assert_eq!(
        s.post(&format!("activities/{id}"), body).await.0,
        StatusCode::OK
    );
    let described = s.describe(&id).await;
    let info = &described["info"];
    assert_eq!(
        (
            info["startToCloseTimeout"].clone(),
            info["retryPolicy"]["maximumAttempts"].clone()
        ),
        (json!("5s"), json!(3))
    );
    assert_eq!(
        info["taskQueue"],
        json!(id),
        "describe's taskQueue is a plain string"
    );
    assert_eq!(snake_case_keys(&described), Vec::<String>::new());
}

fn snake_case_keys(v: &Value) -> Vec<String> {
    match v {
        Value::Object(m) => m
            .iter()
            .flat_map(|(k, v)| {
                let own = k.contains('_').then(|| k.clone());
                own.into_iter().chain(snake_case_keys(v))
            })
            .collect(),
        Value::Array(a) => a.iter().flat_map(snake_case_keys).collect(),
        _ => vec![],
    }
}

// §12.10: unknown fields are rejected.
#[tokio::test]
async fn malformed_requests_are_invalid_arguments() {
    let s = Server::start_in_memory().await;
    let id = unique("malformed");
    assert_invalid(
        s.try_start(&id, json!({"bogusField": 1})).await,
        "bogusField",
    );
    assert_invalid(
        s.try_start(&id, json!({"idConflictPolicy": "X"})).await,
        "invalid value for enum type: \"X\"",
    );
    assert_invalid(
        s.try_start(&id, json!({"startToCloseTimeout": "10x"}))
            .await,
        "invalid google.protobuf.Duration value \"10x\"",
    );
    let url = s.url(&format!("activities/{id}"));
    let (status, body) = s
        .send(Method::POST, &url, Some("{bad json".into()), None)
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(3)),
        "{body}"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    // Nothing was started.
    assert_eq!(
        s.get(&format!("activities/{id}")).await,
        activity_not_found(&id)
    );
}

#[tokio::test]
async fn start_validation_errors_carry_temporals_messages() {
    let s = Server::start_in_memory().await;
    let id = unique("invalid");
    let big_input = json!(["x".repeat(2 * 1024 * 1024 + 1)]);
    let cases = [
        (
            json!({"startToCloseTimeout": null}),
            format!(
                "a valid StartToCloseTimeout or ScheduleToCloseTimeout must be set on the activity. ActivityId={id} ActivityType=T"
            ),
        ),
        (
            json!({"startToCloseTimeout": "-1s"}),
            "invalid StartToCloseTimeout: negative duration".into(),
        ),
        (
            json!({"heartbeatTimeout": "-1s"}),
            "invalid HeartbeatTimeout: negative duration".into(),
        ),
        (
            json!({"activityType": {"name": ""}}),
            "activityType is not set".into(),
        ),
        (
            json!({"activityType": null}),
            "activityType is not set".into(),
        ),
        (json!({"taskQueue": null}), "taskQueue is not set".into()),
        (
            json!({"retryPolicy": {"backoffCoefficient": 0.5}}),
            "BackoffCoefficient cannot be less than 1 on retry policy.".into(),
        ),
        (
            json!({"retryPolicy": {"initialInterval": "2s", "maximumInterval": "1s"}}),
            "MaximumInterval cannot be less than InitialInterval on retry policy.".into(),
        ),
        (
            json!({"input": big_input}),
            "input exceeds length limit. Length=2097155 Limit=2097152".into(),
        ),
    ];
    for (extra, message) in cases {
        let fields: Vec<&String> = extra.as_object().unwrap().keys().collect();
        assert_eq!(
            s.try_start(&id, extra.clone()).await,
            error(400, 3, &message),
            "start with {fields:?}"
        );
    }
    // §12.5: maximumAttempts 1 skips every other retry policy check.
    s.start_activity(
        &id,
        json!({"retryPolicy": {"maximumAttempts": 1, "backoffCoefficient": 0.5}}),
    )
    .await;
}

// §12.10: payload shorthand (and §14.1.2: empty arrays survive).
#[tokio::test]
async fn payloads_use_the_json_shorthand_and_keep_empty_arrays() {
    let s = Server::start_in_memory().await;
    let binary_null = json!({"metadata": {"encoding": "YmluYXJ5L251bGw="}});
    let raw = json!({"metadata": {"encoding": "YmluYXJ5L3BsYWlu"}, "data": "aGk="});
    let cases = [
        (
            json!([[], {"a": []}, "s", 1.5, null]),
            json!([[], {"a": []}, "s", 1.5, binary_null]),
        ),
        (json!({"payloads": ["a"]}), json!(["a"])),
        (
            json!({"payloads": ["a", raw]}),
            json!({"payloads": ["a", raw]}),
        ),
    ];
    for (input, printed) in cases {
        let id = unique("payloads");
        s.start_activity(&id, json!({"input": input})).await;
        assert_eq!(s.describe(&id).await["input"], printed, "input {input}");
        assert_eq!(
            s.poll_task(&id).await["input"],
            printed,
            "task input for {input}"
        );
    }
}

#[tokio::test]
async fn an_unknown_namespace_is_not_found() {
    let s = Server::start_in_memory().await;
    let c = s.at("/api/v1/namespaces/nonexistent-ns");
    let not_found = (
        StatusCode::NOT_FOUND,
        json!({
            "code": 5,
            "message": "Namespace nonexistent-ns is not found.",
            "details": [{
                "@type": "type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure",
                "namespace": "nonexistent-ns",
            }],
        }),
    );
    let id = unique("lost");
    assert_eq!(c.try_start(&id, json!({})).await, not_found, "start");
    assert_eq!(
        c.get(&format!("activities/{id}")).await,
        not_found,
        "describe"
    );
    assert_eq!(
        s.at("/api/v1").get("namespaces/nonexistent-ns").await,
        not_found,
        "describe namespace"
    );
    assert_eq!(c.poll(&id, "5S").await, not_found, "poll");
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_as_grpc_gateway_does() {
    let s = Server::start_in_memory().await;
    let not_found = error(404, 5, "Not Found");
    assert_eq!(s.at("").get("api/v1/nope").await, not_found);
    assert_eq!(s.get("no-such-resource").await, not_found);
    let id = unique("method");
    s.start_activity(&id, json!({})).await;
    let not_allowed = error(501, 12, "Method Not Allowed");
    assert_eq!(
        s.send(
            Method::DELETE,
            &s.url(&format!("activities/{id}")),
            None,
            None
        )
        .await,
        not_allowed,
        "DELETE"
    );
    assert_eq!(
        s.get("activity-tasks/poll").await,
        not_allowed,
        "GET of the poll route"
    );
}

#[tokio::test]
async fn an_expired_deadline_is_deadline_exceeded() {
    let s = Server::start_in_memory().await;
    let id = unique("deadline");
    s.start_activity(&id, json!({})).await;
    let expired = error(504, 4, "context deadline exceeded");
    assert_eq!(
        s.get_waiting(&format!("activities/{id}/outcome"), "1n")
            .await,
        expired,
        "outcome"
    );
    assert_eq!(
        s.get_waiting(&format!("activities/{id}"), "1n").await,
        expired,
        "describe"
    );
}

/// Hostile input gets a client error, never a 5xx or a dropped connection: deep nesting, invalid
/// UTF-8 in a body or a path, and headers too large to read.
#[tokio::test]
async fn hostile_input_gets_a_client_error() {
    let s = Server::start_in_memory().await;
    let deep = format!("{{\"input\": {}{}}}", "[".repeat(5000), "]".repeat(5000));
    let (status, body) = s
        .send(Method::POST, &s.url("activities/deep"), Some(deep), None)
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(3)),
        "{body}"
    );
    let invalid_utf8 = b"{\"activityType\":{\"name\":\"\xff\xfe\"}}".to_vec();
    let answer = reqwest::Client::new()
        .post(s.url("activities/utf8"))
        .body(invalid_utf8)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["code"], 3, "{body}");
    let (status, body) = s
        .send(Method::GET, &s.url("activities/%FF%FE"), None, None)
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(3)),
        "{body}"
    );
    // 600 KB of headers: refused by the HTTP layer with 431 before any handler runs.
    let origin = s.url("activities");
    let authority = origin
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let status_line = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(&authority).expect("connect");
        let head = format!(
            "GET /api/v1/namespaces/default/activities HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(600_000)
        );
        let _ = conn.write_all(head.as_bytes());
        let mut answer = [0u8; 64];
        let n = conn.read(&mut answer).unwrap_or(0);
        String::from_utf8_lossy(&answer[..n]).into_owned()
    })
    .await
    .unwrap();
    assert!(status_line.starts_with("HTTP/1.1 431"), "{status_line}");
}

/// `--cors-origin`: pages of that origin may call the API from a browser (the preflight is
/// answered before any key is asked for); other origins get no CORS headers.
#[tokio::test]
async fn cors_lets_the_configured_origin_call_the_api_from_a_browser() {
    let app = "https://app.example.com";
    let s = Server::start_with_env(&[("WAYMARK_CORS_ORIGIN", app)]).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let preflight = http
        .request(Method::OPTIONS, s.url("activities/a1"))
        .header("Origin", app)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type,grpc-timeout",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let allowed = |name: &str| {
        preflight.headers()[name]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
    };
    assert_eq!(allowed("access-control-allow-origin"), app);
    assert!(allowed("access-control-allow-methods").contains("post"));
    assert!(allowed("access-control-allow-headers").contains("grpc-timeout"));

    let call = |origin: &'static str| {
        http.get(s.url("activities/nope"))
            .header("Origin", origin)
            .send()
    };
    let answer = call(app).await.unwrap();
    assert_eq!(
        answer.status(),
        StatusCode::NOT_FOUND,
        "errors are readable too"
    );
    assert_eq!(answer.headers()["access-control-allow-origin"], app);
    let other = call("https://elsewhere.example").await.unwrap();
    assert_eq!(other.headers().get("access-control-allow-origin"), None);
}

/// A CORS origin that is no origin is refused at start.
#[tokio::test]
async fn a_cors_origin_with_a_path_is_refused_at_start() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(["start-dev", "--port", "0", "--grpc-port", "0"])
        .args(["--cors-origin", "https://app.example.com/path"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a CORS origin is `*` or scheme://host[:port]"),
        "{stderr}"
    );
}
