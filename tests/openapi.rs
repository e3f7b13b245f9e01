//! The OpenAPI document as a person and a generator use it: every schema typed, every operation
//! described and given an example, every example run as is against a live server (in the order
//! a person trying them would), and Swagger UI's "Try it out" in headless Chromium.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::browser::Browser;
use crate::support::*;

/// The extension naming the status an example answers where it is not 200
/// (`waymark_frontend::openapi::EXAMPLE_STATUS`).
const EXAMPLE_STATUS: &str = "x-example-status";

/// What a step of the run checks in the answer, besides its status.
#[derive(Clone, Copy)]
enum Answer {
    /// Nothing more.
    Any,
    /// The answer has this field: the step did what the next ones need (took a task, say).
    Has(&'static str),
    /// The answer is `{}`: a long poll that saw nothing in time.
    Empty,
}

use Answer::*;

/// Every operation's example, in the order they are run: each as is, each after the ones before
/// it, as a person trying them from the top would. The start examples come first and may come
/// again (they are idempotent: `USE_EXISTING`), so that each command finds the state it needs.
const RUN: &[(&str, Answer)] = &[
    ("Health", Has("status")),
    ("Ready", Has("status")),
    ("Metrics", Any),
    ("ListNamespaces", Has("namespaces")),
    ("DescribeNamespace", Has("namespaceInfo")),
    ("RegisterNamespace", Any),
    ("UpdateNamespace", Has("namespaceInfo")),
    ("GetActivityThroughput", Any),
    ("PollNamespaceChanges", Has("token")),
    ("CreateApiKey", Has("key")),
    ("ListApiKeys", Has("apiKeys")),
    ("DescribeApiKey", Any),
    ("DisableApiKey", Any),
    ("EnableApiKey", Any),
    ("DeleteApiKey", Any),
    // An activity: started, described, listed, waited on; a worker takes it, heartbeats,
    // fails it (retryable), and an operator reshapes it.
    ("StartActivityExecution", Has("runId")),
    ("DescribeActivityExecution", Has("info")),
    ("ListActivityExecutions", Any),
    ("CountActivityExecutions", Any),
    ("PollActivityExecution", Empty),
    ("PollActivityTaskQueue", Has("taskToken")),
    ("RecordActivityTaskHeartbeatById", Any),
    ("RecordActivityTaskHeartbeat", Any),
    ("UpdateActivityExecutionOptions", Any),
    ("PauseActivityExecution", Any),
    ("UnpauseActivityExecution", Any),
    ("RespondActivityTaskFailedById", Any),
    ("ResetActivityExecution", Any),
    // Canceled while a worker runs it.
    ("PollActivityTaskQueue", Has("taskToken")),
    ("RequestCancelActivityExecution", Any),
    ("RespondActivityTaskCanceledById", Any),
    // Started again (a new run), completed by id, its outcome read.
    ("StartActivityExecution", Has("runId")),
    ("PollActivityTaskQueue", Has("taskToken")),
    ("RespondActivityTaskCompletedById", Any),
    ("PollActivityExecution", Has("outcome")),
    // Started again and terminated.
    ("StartActivityExecution", Has("runId")),
    ("TerminateActivityExecution", Any),
    ("RespondActivityTaskCompleted", Any),
    ("RespondActivityTaskFailed", Any),
    ("RespondActivityTaskCanceled", Any),
    // A workflow.
    ("StartWorkflowExecution", Has("runId")),
    ("DescribeWorkflowExecution", Has("workflowExecutionInfo")),
    ("GetWorkflowExecutionHistory", Has("history")),
    ("ListWorkflowExecutions", Any),
    ("CountWorkflowExecutions", Any),
    ("SignalWorkflowExecution", Any),
    ("PollWorkflowTaskQueue", Has("taskToken")),
    ("QueryWorkflow", Any),
    ("RespondWorkflowTaskCompleted", Any),
    ("RespondWorkflowTaskFailed", Any),
    ("RespondQueryTaskCompleted", Any),
    ("RecordActivityTaskHeartbeatByIdInWorkflow", Any),
    ("RespondActivityTaskCompletedByIdInWorkflow", Any),
    ("RespondActivityTaskFailedByIdInWorkflow", Any),
    ("RespondActivityTaskCanceledByIdInWorkflow", Any),
    ("PauseActivityExecutionInWorkflow", Any),
    ("UnpauseActivityExecutionInWorkflow", Any),
    ("ResetActivityExecutionInWorkflow", Any),
    ("UpdateActivityExecutionOptionsInWorkflow", Any),
    ("RequestCancelWorkflowExecution", Any),
    ("TerminateWorkflowExecution", Any),
    ("SignalWithStartWorkflowExecution", Has("runId")),
    // The queues the examples used.
    ("ListTaskQueues", Has("taskQueues")),
    ("DescribeTaskQueue", Any),
    ("UpdateTaskQueueConfig", Has("config")),
];

/// One documented operation.
struct Operation {
    method: Method,
    path: String,
    op: Value,
}

/// The document's operations by id.
fn operations(doc: &Value) -> Vec<(String, Operation)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let id = op["operationId"]
                .as_str()
                .expect("an operationId")
                .to_owned();
            let op = Operation {
                method,
                path: path.clone(),
                op: op.clone(),
            };
            ops.push((id, op));
        }
    }
    ops
}

/// The document the server serves.
async fn document(s: &Server) -> Value {
    let url = format!("{}/api/v1/openapi.json", s.origin());
    let (status, doc) = s.send(Method::GET, &url, None, None).await;
    assert_eq!(status, 200, "{doc}");
    doc
}

/// Schema keywords that say what a value is.
const TYPED: [&str; 10] = [
    "type",
    "$ref",
    "allOf",
    "oneOf",
    "anyOf",
    "enum",
    "const",
    "properties",
    "items",
    "not",
];

/// Where `node` holds a schema that says nothing of its value (`{}`, or only a description other
/// than "any JSON value", which deep inside a payload's JSON form cannot list its types), each as
/// a JSON pointer.
fn untyped_schemas(node: &Value, at: &str, is_schema: bool, found: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            let any_json_value = map.get("description").and_then(Value::as_str)
                == Some(waymark_api::schema::ANY_JSON_VALUE);
            if is_schema && !any_json_value && !TYPED.iter().any(|k| map.contains_key(*k)) {
                found.push(at.to_owned());
            }
            for (key, child) in map {
                // Which children are schemas: those under the schema keywords of a schema, the
                // components' schemas, and each `schema` of a parameter or media type.
                let child_is_schema = match key.as_str() {
                    "schema" | "items" | "not" => child.is_object(),
                    "additionalProperties" => child.is_object(),
                    _ => false,
                };
                let path = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                match key.as_str() {
                    "properties" if is_schema => {
                        for (name, schema) in child.as_object().into_iter().flatten() {
                            untyped_schemas(schema, &format!("{path}/{name}"), true, found);
                        }
                    }
                    "schemas" if at == "/components" => {
                        for (name, schema) in child.as_object().into_iter().flatten() {
                            untyped_schemas(schema, &format!("{path}/{name}"), true, found);
                        }
                    }
                    "oneOf" | "anyOf" | "allOf" if is_schema => {
                        for (i, schema) in child.as_array().into_iter().flatten().enumerate() {
                            untyped_schemas(schema, &format!("{path}/{i}"), true, found);
                        }
                    }
                    // Examples are values, not schemas.
                    "example" | "examples" => {}
                    _ => untyped_schemas(child, &path, child_is_schema, found),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                untyped_schemas(item, &format!("{at}/{i}"), false, found);
            }
        }
        _ => {}
    }
}

/// The walk itself: it finds an untyped property, item, parameter schema and component, and
/// not a typed one or an example.
#[test]
fn the_schema_walk_finds_what_says_nothing_of_its_value() {
    let doc = json!({
        "paths": {"/x": {"get": {
            "parameters": [{"name": "a", "in": "query", "schema": {"description": "a"}}],
            "requestBody": {"content": {"application/json": {
                "schema": {"type": "object", "properties": {
                    "typed": {"type": "string"},
                    "untyped": {},
                    "list": {"type": "array", "items": {}},
                    "either": {"oneOf": [{"type": "null"}, {"description": "b"}]},
                }},
                "example": {"untyped": {}},
            }}},
        }}},
        "components": {"schemas": {"Value": {}, "Typed": {"$ref": "#/components/schemas/X"}}},
    });
    let mut found = Vec::new();
    untyped_schemas(&doc, "", false, &mut found);
    found.sort();
    let rb = "/paths/~1x/get/requestBody/content/application~1json/schema";
    assert_eq!(
        found,
        [
            "/components/schemas/Value".to_owned(),
            "/paths/~1x/get/parameters/0/schema".to_owned(),
            format!("{rb}/properties/either/oneOf/1"),
            format!("{rb}/properties/list/items"),
            format!("{rb}/properties/untyped"),
        ]
    );
}

#[tokio::test]
async fn every_schema_is_typed_and_every_operation_is_described_with_an_example() {
    let s = Server::start_in_memory().await;
    let doc = document(&s).await;
    let mut untyped = Vec::new();
    untyped_schemas(&doc, "", false, &mut untyped);
    assert!(untyped.is_empty(), "schemas without a type: {untyped:#?}");
    let mut missing = Vec::new();
    for (id, Operation { op, .. }) in operations(&doc) {
        for field in ["summary", "description"] {
            if op[field].as_str().is_none_or(|t| t.trim().is_empty()) {
                missing.push(format!("{id}: no {field}"));
            }
        }
        if !op["requestBody"].is_null() {
            let media = &op["requestBody"]["content"]["application/json"];
            if media["example"].is_null() {
                missing.push(format!("{id}: no request example"));
            }
        }
        for param in op["parameters"].as_array().into_iter().flatten() {
            let name = &param["name"];
            // Every path parameter and header needs an example; a query parameter is optional.
            if param["in"] != "query" && param["example"].is_null() {
                missing.push(format!("{id}: no example of parameter {name}"));
            }
            if param["schema"].is_null() {
                missing.push(format!("{id}: parameter {name} has no schema"));
            }
        }
        let status = op[EXAMPLE_STATUS].as_u64().unwrap_or(200).to_string();
        if op["responses"][&status].is_null() {
            missing.push(format!(
                "{id}: its example's status {status} is not documented"
            ));
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

/// The request an operation's example makes: its method, its URL (path parameters, query
/// parameters and headers from their examples) and its body.
fn example_request(
    origin: &str,
    op: &Operation,
) -> (
    reqwest::Method,
    String,
    Vec<(String, String)>,
    Option<Value>,
) {
    let mut path = op.path.clone();
    let mut query = Vec::new();
    let mut headers = Vec::new();
    for param in op.op["parameters"].as_array().into_iter().flatten() {
        let name = param["name"].as_str().expect("a parameter name");
        let Some(example) = param.get("example").filter(|e| !e.is_null()) else {
            continue;
        };
        let value = match example {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match param["in"].as_str() {
            Some("path") => path = path.replace(&format!("{{{name}}}"), &value),
            Some("query") => query.push(format!("{name}={}", urlencoding(&value))),
            Some("header") => headers.push((name.to_owned(), value)),
            other => panic!("parameter {name} in {other:?}"),
        }
    }
    let mut url = format!("{origin}{path}");
    if !query.is_empty() {
        url = format!("{url}?{}", query.join("&"));
    }
    let body = op.op["requestBody"]["content"]["application/json"]["example"].clone();
    let body = (!body.is_null()).then_some(body);
    (op.method.clone(), url, headers, body)
}

/// Percent-encodes a query value.
fn urlencoding(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn every_operation_example_answers_its_documented_status_on_a_fresh_server() {
    let s = Server::start_in_memory().await;
    let doc = document(&s).await;
    let ops = operations(&doc);
    let documented: BTreeSet<&str> = ops.iter().map(|(id, _)| id.as_str()).collect();
    let run: BTreeSet<&str> = RUN.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        documented, run,
        "RUN must run every documented operation's example, and only those"
    );
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(90))
        .build()
        .expect("http client");
    for &(id, answer) in RUN {
        let (_, op) = ops.iter().find(|(op, _)| op == id).expect("documented");
        let (method, url, headers, body) = example_request(s.origin(), op);
        let mut request = http.request(method.clone(), &url);
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        if let Some(body) = &body {
            request = request.json(body);
        }
        let reply = request.send().await.expect("the server answers");
        let status = reply.status().as_u16();
        let text = reply.text().await.expect("a body");
        let expected = op.op[EXAMPLE_STATUS].as_u64().unwrap_or(200);
        let shown = format!(
            "{id}: {method} {url} {}\nanswered {status}: {text}",
            body.as_ref().map(Value::to_string).unwrap_or_default()
        );
        assert_eq!(u64::from(status), expected, "{shown}");
        if id == "Metrics" {
            assert!(text.contains("# EOF"), "{shown}");
            continue;
        }
        let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {shown}"));
        match answer {
            Any => {}
            Has(field) => assert!(!json[field].is_null(), "no {field}: {shown}"),
            Empty => assert_eq!(json, json!({}), "{shown}"),
        }
    }
}

/// Swagger UI's "Try it out" and "Execute" on one operation, with the page's prefilled values;
/// the status the page then shows.
async fn try_it_out(browser: &Browser, operation_id: &str) -> String {
    let block = format!("document.querySelector('.opblock[id$=\"-{operation_id}\"]')");
    // Open the operation, then press its buttons as they appear.
    let steps = [
        (
            "the operation",
            "!!BLOCK",
            "(BLOCK.querySelector('button.opblock-summary-control') || \
             BLOCK.querySelector('.opblock-summary')).click()",
        ),
        (
            "Try it out",
            "!!BLOCK.querySelector('button.try-out__btn')",
            "BLOCK.querySelector('button.try-out__btn').click()",
        ),
        (
            "Execute",
            "!!BLOCK.querySelector('button.execute')",
            "BLOCK.querySelector('button.execute').click()",
        ),
    ];
    for (what, ready, act) in steps {
        let ready = format!("return {}", ready.replace("BLOCK", &block));
        wait_in(browser, &ready, &format!("{operation_id}: {what}")).await;
        browser.eval(&act.replace("BLOCK", &block)).await;
    }
    let status = format!(
        "const s = {block}.querySelector('.live-responses-table tr.response .response-col_status'); \
         return s ? s.textContent.trim() : null"
    );
    let shown = wait_in(browser, &status, &format!("{operation_id}: the response")).await;
    shown.as_str().expect("a status").to_owned()
}

/// Waits up to 30 s until `script` answers neither `null` nor `false` in the page; its answer.
async fn wait_in(browser: &Browser, script: &str, what: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let answer = browser.eval(script).await;
        if !answer.is_null() && answer != false {
            return answer;
        }
        if std::time::Instant::now() > deadline {
            browser.screenshot("swagger-try-it-out").await;
            panic!("{what} did not show within 30 s:\n{}", browser.text().await);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn swagger_try_it_out_succeeds_with_the_prefilled_examples_in_a_browser() {
    if distributed() {
        skip("the same router serves the page in both deployments: the start-dev run covers it");
        return;
    }
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let s = Server::start_in_memory().await;
    browser.goto(&format!("{}/docs", s.origin())).await;
    browser
        .wait_for_text("StartActivityExecution", Duration::from_secs(20))
        .await;
    for id in [
        "StartActivityExecution",
        "PollActivityTaskQueue",
        "RespondActivityTaskCompletedById",
        "DescribeActivityExecution",
    ] {
        let status = try_it_out(&browser, id).await;
        if status != "200" {
            browser.screenshot(&format!("swagger-{id}")).await;
        }
        assert_eq!(status, "200", "{id}: {}", browser.text().await);
    }
    // What the page did, seen from the API: the activity completed with the example's result.
    let info = s.describe("greet-1").await;
    assert_eq!(
        info["info"]["status"], "ACTIVITY_EXECUTION_STATUS_COMPLETED",
        "{info}"
    );
}
