//! Authentication: with `WAYMARK_AUTH=on` every route but the health checks needs an API key,
//! each key's role bounds what it may do and where, keys are managed over the API, and a
//! disabled, deleted or expired key is refused within a second. The server starts with a
//! bootstrap key, as an operator would.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::support::{Client, Reply, Server, eventually, tool_installed, unique};

/// Refusals must take effect within this (the issue's bound on any key cache).
const REFUSED_WITHIN: Duration = Duration::from_secs(1);

/// The operator's bootstrap key: `wmk_<16 hex>_<43 base64url>` (32 zero bytes).
pub(crate) fn bootstrap_key() -> String {
    format!("wmk_b00757a9b00757a9_{}", "A".repeat(43))
}

/// A server requiring keys, and a system admin client of `/api/v1` (the bootstrap key).
pub(crate) async fn secured() -> (Server, Client) {
    let key = bootstrap_key();
    let server = Server::start_with_env(&[
        ("WAYMARK_AUTH", "on"),
        ("WAYMARK_BOOTSTRAP_ADMIN_KEY", &key),
    ])
    .await;
    let admin = server.at("/api/v1").with_key(&key);
    (server, admin)
}

/// RFC 3339 (UTC) of `secs` seconds from now.
fn in_secs(secs: u64) -> String {
    let at = SystemTime::now() + Duration::from_secs(secs);
    waymark_api::Timestamp::from_system_time(at).to_string()
}

/// `writer` starts an activity that `worker` polls and completes; its id.
pub(crate) async fn run_one_activity(writer: &Client, worker: &Client) -> String {
    let id = unique("act");
    let (status, body) = writer.try_start(&id, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let task = worker.poll_task(&id).await;
    worker.complete(&task, json!(["done"])).await;
    assert!(writer.outcome(&id).await.get("result").is_some());
    id
}

/// Creates a key as `by`; the answer.
async fn try_create(by: &Client, namespace: &str, role: &str) -> Reply {
    let body = json!({"namespace": namespace, "role": role, "expireTime": in_secs(3600),
        "description": format!("{role} of {namespace}")});
    by.post("api-keys", body).await
}

/// Creates a key as `by`; the key value.
pub(crate) async fn create(by: &Client, namespace: &str, role: &str) -> String {
    let (status, body) = try_create(by, namespace, role).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "create {role} of {namespace}: {body}"
    );
    body["key"].as_str().expect("the key").to_owned()
}

async fn register(admin: &Client, namespace: &str) {
    let (status, body) = admin
        .post("namespaces", json!({"namespace": namespace}))
        .await;
    assert_eq!(status, StatusCode::OK, "register {namespace}: {body}");
}

/// A client of namespace `ns` with `key`.
/// A client of namespace `ns` sending `key` (an API key or a JWT).
pub(crate) fn of(server: &Server, ns: &str, key: &str) -> Client {
    server.at(&format!("/api/v1/namespaces/{ns}")).with_key(key)
}

pub(crate) fn code(reply: &Reply) -> (StatusCode, i64) {
    (reply.0, reply.1["code"].as_i64().unwrap_or(0))
}

pub(crate) const UNAUTHENTICATED: (StatusCode, i64) = (StatusCode::UNAUTHORIZED, 16);
pub(crate) const DENIED: (StatusCode, i64) = (StatusCode::FORBIDDEN, 7);

#[tokio::test]
async fn without_a_valid_key_routes_answer_401_and_health_checks_stay_open() {
    let (server, _) = secured().await;
    let id = unique("a");
    let ns = server.client();
    let replies = [
        server.at("/api/v1").get("namespaces").await,
        server.at("/api/v1/namespaces").get("default").await,
        ns.try_start(&id, json!({})).await,
        ns.poll(&id, "3S").await,
        ns.get_waiting(&format!("activities/{id}/outcome"), "3S")
            .await,
        ns.get("workflows").await,
        server.at("/api/v1").get("api-keys").await,
        server.at("/namespaces/default").get("activities").await,
        of(&server, "default", "wmk_0123456789abcdef_nope")
            .get("activities")
            .await,
        of(
            &server,
            "default",
            &format!("wmk_0123456789abcdef_{}", "B".repeat(43)),
        )
        .get("activities")
        .await,
    ];
    for reply in &replies {
        assert_eq!(code(reply), UNAUTHENTICATED, "{reply:?}");
        assert!(
            !reply.1.to_string().contains("wmk_0123"),
            "the key is echoed: {reply:?}"
        );
    }
    let answer = reqwest::get(format!("{}/api/v1/namespaces", server.origin()))
        .await
        .unwrap();
    assert_eq!(answer.headers()["www-authenticate"], "Bearer");
    for open in ["healthz", "readyz"] {
        let reply = server.at("").get(open).await;
        assert_eq!(reply, (StatusCode::OK, json!({"status": "ok"})), "/{open}");
    }
}

#[tokio::test]
async fn a_worker_key_works_its_namespace_and_nothing_else() {
    let (server, admin) = secured().await;
    let (a, b) = (unique("ns-a"), unique("ns-b"));
    register(&admin, &a).await;
    register(&admin, &b).await;
    let worker = of(&server, &a, &create(&admin, &a, "worker").await);
    let writer = of(&server, &a, &create(&admin, &a, "writer").await);
    let id = run_one_activity(&writer, &worker).await;

    let refused = [
        worker.try_start(&unique("act"), json!({})).await,
        worker
            .post(
                &format!("activities/{id}/terminate"),
                json!({"reason": "r"}),
            )
            .await,
        worker.get("activities").await,
        worker.get("workflows").await,
    ];
    for reply in &refused {
        assert_eq!(code(reply), DENIED, "{reply:?}");
    }
    // Another namespace, existing or not, answers the same.
    let key = create(&admin, &a, "worker").await;
    let elsewhere = of(&server, &b, &key).poll(&id, "3S").await;
    let nowhere = of(&server, "no-such-namespace", &key).poll(&id, "3S").await;
    assert_eq!(code(&elsewhere), DENIED);
    assert_eq!(elsewhere, nowhere);
}

#[tokio::test]
async fn a_reader_reads_but_cannot_write() {
    let (server, admin) = secured().await;
    let ns = unique("ns");
    register(&admin, &ns).await;
    let reader_key = &create(&admin, &ns, "reader").await;
    let reader = of(&server, &ns, reader_key);
    assert_eq!(reader.get("activities").await.0, StatusCode::OK);
    let namespaces = server.at("/api/v1/namespaces").with_key(reader_key);
    assert_eq!(namespaces.get(&ns).await.0, StatusCode::OK);
    let start = reader.try_start(&unique("act"), json!({})).await;
    assert_eq!(code(&start), DENIED, "{start:?}");
    let poll = reader.poll(&unique("q"), "3S").await;
    assert_eq!(code(&poll), DENIED, "{poll:?}");

    // A key describes itself (what the web UI shows depends on it), and no other key.
    let id = |key: &str| key.split('_').nth(1).expect("wmk_<id>_<secret>").to_owned();
    let keys = server.at("/api/v1/api-keys").with_key(reader_key);
    let (status, itself) = keys.get(&id(reader_key)).await;
    assert_eq!(status, StatusCode::OK, "{itself}");
    assert_eq!(
        (&itself["namespace"], &itself["role"]),
        (&json!(ns), &json!("reader"))
    );
    assert!(
        itself.get("key").is_none() && itself.get("hash").is_none(),
        "{itself}"
    );
    let other = create(&admin, &ns, "worker").await;
    assert_eq!(code(&keys.get(&id(&other)).await), DENIED);
    let (status, described) = admin.get(&format!("api-keys/{}", id(&other))).await;
    assert_eq!(
        (status, &described["role"]),
        (StatusCode::OK, &json!("worker")),
        "{described}"
    );
}

#[tokio::test]
async fn a_disabled_deleted_or_expired_key_is_refused_within_a_second() {
    let (server, admin) = secured().await;
    let (status, created) = try_create(&admin, "default", "reader").await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["apiKey"]["id"].as_str().unwrap().to_owned();
    let reader = of(&server, "default", created["key"].as_str().unwrap());
    let refused_soon = || async {
        eventually(REFUSED_WITHIN, || async {
            (code(&reader.get("activities").await) == UNAUTHENTICATED).then_some(())
        })
        .await
    };
    assert_eq!(reader.get("activities").await.0, StatusCode::OK);

    let disabled = admin
        .post(&format!("api-keys/{id}/disable"), json!({}))
        .await;
    assert_eq!(disabled.0, StatusCode::OK, "{disabled:?}");
    refused_soon().await;
    assert_eq!(
        admin
            .post(&format!("api-keys/{id}/enable"), json!({}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(reader.get("activities").await.0, StatusCode::OK);

    let url = admin.url(&format!("api-keys/{id}"));
    let deleted = admin.send(reqwest::Method::DELETE, &url, None, None).await;
    assert_eq!(deleted.0, StatusCode::OK, "{deleted:?}");
    refused_soon().await;

    let body = json!({"namespace": "default", "role": "reader", "expireTime": in_secs(2)});
    let (status, short) = admin.post("api-keys", body).await;
    assert_eq!(status, StatusCode::OK, "{short}");
    let short_lived = of(&server, "default", short["key"].as_str().unwrap());
    eventually(Duration::from_secs(4), || async {
        (code(&short_lived.get("activities").await) == UNAUTHENTICATED).then_some(())
    })
    .await;

    let listed = admin.get("api-keys").await.1;
    let listed = listed["apiKeys"].as_array().unwrap();
    assert!(
        listed.iter().all(|k| k["id"] != id.as_str()),
        "deleted: {listed:?}"
    );
    assert!(!listed.is_empty());
    assert!(
        listed
            .iter()
            .all(|k| k.get("key").is_none() && k.get("hash").is_none())
    );
}

#[tokio::test]
async fn a_key_cannot_mint_a_stronger_key_nor_manage_another_namespace() {
    let (server, admin) = secured().await;
    let (a, b) = (unique("ns-a"), unique("ns-b"));
    register(&admin, &a).await;
    register(&admin, &b).await;
    let a_admin = server
        .at("/api/v1")
        .with_key(&create(&admin, &a, "admin").await);
    let a_writer = server
        .at("/api/v1")
        .with_key(&create(&admin, &a, "writer").await);
    create(&admin, &b, "reader").await;

    assert_eq!(try_create(&a_admin, &a, "worker").await.0, StatusCode::OK);
    for (by, ns, role) in [
        (&a_admin, "", "system:admin"),
        (&a_admin, b.as_str(), "reader"),
        (&a_writer, a.as_str(), "reader"),
        (&a_writer, a.as_str(), "admin"),
    ] {
        let reply = try_create(by, ns, role).await;
        assert_eq!(code(&reply), DENIED, "{role} of {ns:?}: {reply:?}");
    }
    let bad = try_create(&admin, &a, "owner").await;
    assert_eq!(code(&bad), (StatusCode::BAD_REQUEST, 3), "{bad:?}");

    let mine = a_admin.get("api-keys").await;
    let keys = mine.1["apiKeys"].as_array().unwrap();
    assert!(
        keys.len() >= 3 && keys.iter().all(|k| k["namespace"] == a.as_str()),
        "{mine:?}"
    );
    let theirs = a_admin
        .get_with("api-keys", &[("namespace", &b)], None)
        .await;
    assert_eq!(code(&theirs), DENIED);
    assert_eq!(code(&a_writer.get("api-keys").await), DENIED);
    let namespaces = a_admin.get("namespaces").await.1;
    let names: Vec<&Value> = namespaces["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["namespaceInfo"]["name"])
        .collect();
    assert_eq!(
        names,
        [&json!(a)],
        "a namespace's key sees its own namespace only"
    );
}

#[tokio::test]
async fn the_bootstrap_key_retires_once_a_system_admin_key_exists() {
    let (server, admin) = secured().await;
    let system = server
        .at("/api/v1")
        .with_key(&create(&admin, "", "system:admin").await);
    eventually(REFUSED_WITHIN, || async {
        (code(&admin.get("api-keys").await) == UNAUTHENTICATED).then_some(())
    })
    .await;
    assert_eq!(system.get("api-keys").await.0, StatusCode::OK);
}

/// The gRPC door: the same keys, the same answers, as Temporal's status codes.
#[tokio::test]
async fn the_grpc_api_takes_the_same_keys() {
    if !temporalio_installed() {
        return;
    }
    let (server, admin) = secured().await;
    let (a, b) = (unique("ns-a"), unique("ns-b"));
    register(&admin, &a).await;
    register(&admin, &b).await;
    let worker = create(&admin, &a, "worker").await;
    let writer = create(&admin, &a, "writer").await;
    let program = r#"
import sys, grpc
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr, service_pb2_grpc as svc
address, a, b, worker, writer = sys.argv[1:]
stub = svc.WorkflowServiceStub(grpc.insecure_channel(address))
def call(rpc, request, key):
    metadata = [("authorization", "Bearer " + key)] if key else []
    try:
        rpc(request, metadata=metadata, timeout=10)
        return "OK"
    except grpc.RpcError as e:
        return e.code().name
start = rr.StartWorkflowExecutionRequest(namespace=a, workflow_id="w", request_id="r")
start.workflow_type.name = "T"
start.task_queue.name = "q"
print(call(stub.DescribeNamespace, rr.DescribeNamespaceRequest(namespace=a), ""))
print(call(stub.DescribeNamespace, rr.DescribeNamespaceRequest(namespace=a), worker))
print(call(stub.DescribeNamespace, rr.DescribeNamespaceRequest(namespace=b), worker))
print(call(stub.StartWorkflowExecution, start, worker))
print(call(stub.ListWorkflowExecutions, rr.ListWorkflowExecutionsRequest(namespace=a), worker))
print(call(stub.RegisterNamespace, rr.RegisterNamespaceRequest(namespace="x"), worker))
print(call(stub.StartWorkflowExecution, start, writer))
# The health service needs no key (the answer's bytes: status = SERVING).
check = grpc.insecure_channel(address).unary_unary("/grpc.health.v1.Health/Check")
print("SERVING" if check(b"") == b"\x08\x01" else "NOT SERVING")
"#;
    let lines = python_lines(program, &[&server.grpc_address(), &a, &b, &worker, &writer]).await;
    assert_eq!(
        lines,
        [
            "UNAUTHENTICATED",
            "OK",
            "PERMISSION_DENIED",
            "PERMISSION_DENIED",
            "PERMISSION_DENIED",
            "PERMISSION_DENIED",
            "OK",
            "SERVING"
        ]
    );
    // The writer's start records its key as identity and is audited, as over HTTP.
    let writer_id = writer.split('_').nth(1).expect("wmk_<id>_<secret>");
    let (_, history) = of(&server, &a, &writer).get("workflows/w/history").await;
    let started = &history["history"]["events"][0]["workflowExecutionStartedEventAttributes"];
    assert_eq!(
        started["identity"],
        json!(format!("apikey:{writer_id}")),
        "{history}"
    );
    let audited = eventually(Duration::from_secs(5), || async {
        let logs = server.logs();
        logs.lines()
            .find(|l| l.contains("waymark::audit") && l.contains(writer_id))
            .map(str::to_owned)
    })
    .await;
    assert!(audited.contains("StartWorkflowExecution"), "{audited}");
    assert!(audited.contains(&format!("{a}/w")), "{audited}");
    assert!(!server.logs().contains(&worker), "a key reached the logs");
}

/// Whether Temporal's Python SDK is there, for the gRPC tests (a test that needs it fails
/// without it when `CI=true`).
pub(crate) fn temporalio_installed() -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", "import temporalio.api.workflowservice.v1"])
        .output()
        .is_ok_and(|o| o.status.success());
    tool_installed(
        "temporalio (Python)",
        found,
        "pip install temporalio==1.35.0",
    )
}

/// The lines the Python `program` printed, run with `args`; it must succeed.
pub(crate) async fn python_lines(program: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(program)
        .args(args)
        .output()
        .await
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

/// `waymark serve frontend` as an operator starts it, with `extra` in its environment; its
/// origin once it listens, or its log if it exited first. No key reaches history here, so none
/// is needed.
async fn serve_frontend(extra: &[(&str, &str)]) -> (tokio::process::Child, Result<String, String>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let listen = format!("127.0.0.1:{}", crate::support::free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(["serve", "frontend"])
        .env_remove("WAYMARK_AUTH")
        .env("WAYMARK_INTERNAL_SECRET", "x".repeat(32))
        .env("WAYMARK_SIGNING_KEY", "a-signing-key")
        .env("WAYMARK_LISTEN", &listen)
        .env("WAYMARK_GRPC_LISTEN", "127.0.0.1:0")
        .envs(extra.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn waymark serve frontend");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains("listening on") {
            return (child, Ok(format!("http://{listen}")));
        }
    }
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .await
        .unwrap();
    (child, Err(log))
}

#[tokio::test]
async fn serve_requires_keys_unless_started_with_auth_off() {
    let (_on, origin) = serve_frontend(&[]).await;
    let origin = origin.expect("serve frontend starts");
    let reply = reqwest::get(format!("{origin}/api/v1/namespaces"))
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    let ready: Value = reqwest::get(format!("{origin}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready, json!({"status": "ok"}));

    let (_off, origin) = serve_frontend(&[("WAYMARK_AUTH", "off")]).await;
    let origin = origin.expect("serve frontend starts");
    let ready: Value = reqwest::get(format!("{origin}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        ready["warning"]
            .as_str()
            .is_some_and(|w| w.contains("authentication is off")),
        "{ready}"
    );
}

#[tokio::test]
async fn a_bootstrap_key_that_is_no_key_is_refused_without_being_repeated() {
    let (_child, started) = serve_frontend(&[(
        "WAYMARK_BOOTSTRAP_ADMIN_KEY",
        "CHANGE-ME-bootstrap-admin-key",
    )])
    .await;
    let log = started.expect_err("a frontend with a malformed bootstrap key must not start");
    assert!(
        log.contains("WAYMARK_BOOTSTRAP_ADMIN_KEY is not an API key"),
        "{log}"
    );
    assert!(!log.contains("CHANGE-ME"), "{log}");
}

#[tokio::test]
async fn a_keys_requests_record_it_as_identity_and_its_writes_are_audited() {
    let (server, admin) = secured().await;
    let ns = unique("ns");
    register(&admin, &ns).await;
    let key = create(&admin, &ns, "writer").await;
    let key_id = key.split('_').nth(1).expect("wmk_<id>_<secret>").to_owned();
    let writer = of(&server, &ns, &key);
    let id = unique("wf");
    let start = json!({"workflowType": {"name": "W"}, "taskQueue": {"name": id}});
    let (status, body) = writer.post(&format!("workflows/{id}"), start).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let signal = json!({"identity": "named-by-the-caller"});
    let (status, body) = writer
        .post(&format!("workflows/{id}/signal/go"), signal)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, history) = writer.get(&format!("workflows/{id}/history")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let identity = |event_type: &str| {
        let events = history["history"]["events"].as_array().expect("events");
        let event = events.iter().find(|e| e["eventType"] == event_type);
        let event = event.unwrap_or_else(|| panic!("no {event_type} in {history}"));
        let attributes = event
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| k.ends_with("Attributes"));
        attributes.expect("attributes").1["identity"].clone()
    };
    assert_eq!(
        identity("EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"),
        json!(format!("apikey:{key_id}"))
    );
    assert_eq!(
        identity("EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED"),
        json!("named-by-the-caller")
    );
    // One audit line per write, none for the read; the key itself is never logged.
    let audit = eventually(Duration::from_secs(5), || async {
        let logs = server.logs();
        let lines: Vec<String> = logs
            .lines()
            .filter(|l| l.contains("waymark::audit") && l.contains(&key_id))
            .map(str::to_owned)
            .collect();
        (lines.len() >= 2).then_some((lines, logs))
    })
    .await;
    let (lines, logs) = audit;
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].contains("StartWorkflowExecution"), "{}", lines[0]);
    assert!(
        lines[0].contains(&id) && lines[0].contains("status=200"),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains("SignalWorkflowExecution"), "{}", lines[1]);
    assert!(!logs.contains(&key), "a key is in the log");
}

#[tokio::test]
async fn an_address_presenting_invalid_keys_is_held_then_let_through_again() {
    let (server, admin) = secured().await;
    let forged = of(
        &server,
        "default",
        &format!("wmk_0123456789abcdef_{}", "C".repeat(43)),
    );
    for _ in 0..20 {
        assert_eq!(code(&forged.get("activities").await), UNAUTHENTICATED);
    }
    // Held: even the right key is turned away, before any lookup.
    let held = admin.get("namespaces").await;
    assert_eq!(code(&held), (StatusCode::TOO_MANY_REQUESTS, 8), "{held:?}");
    assert!(
        held.1["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("too many invalid API keys from this address")),
        "{held:?}"
    );
    // One more try a second later.
    let reply = eventually(Duration::from_secs(3), || async {
        let reply = admin.get("namespaces").await;
        (reply.0 == StatusCode::OK).then_some(reply)
    })
    .await;
    assert_eq!(reply.0, StatusCode::OK);
    let metrics = server
        .at("")
        .with_key(&bootstrap_key())
        .get("metrics")
        .await;
    assert_eq!(metrics.0, StatusCode::OK, "{metrics:?}");
    let text = metrics.1.as_str().expect("the exposition").to_owned();
    let count = |reason: &str| {
        let prefix = format!("waymark_auth_failures_total{{reason=\"{reason}\"}} ");
        let line = text.lines().find(|l| l.starts_with(&prefix));
        line.and_then(|l| l[prefix.len()..].parse::<f64>().ok())
    };
    assert_eq!(count("invalid"), Some(20.0), "{text}");
    assert!(count("throttled").is_some_and(|n| n >= 1.0), "{text}");
}

#[tokio::test]
async fn metrics_need_a_system_admin_key_and_the_docs_stay_open_unless_flags_say_otherwise() {
    let (server, admin) = secured().await;
    let root = server.at("");
    let worker = create(&admin, "default", "worker").await;
    assert_eq!(code(&root.get("metrics").await), UNAUTHENTICATED);
    assert_eq!(code(&root.with_key(&worker).get("metrics").await), DENIED);
    assert_eq!(
        root.with_key(&bootstrap_key()).get("metrics").await.0,
        StatusCode::OK
    );
    assert_eq!(root.get("docs/").await.0, StatusCode::OK);
    let (status, document) = server.at("/api/v1").get("openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer",
        "the Swagger page's Authorize button"
    );

    let key = bootstrap_key();
    let flipped = Server::start_with_env(&[
        ("WAYMARK_AUTH", "on"),
        ("WAYMARK_BOOTSTRAP_ADMIN_KEY", &key),
        ("WAYMARK_OPEN_METRICS", "true"),
        ("WAYMARK_OPEN_DOCS", "false"),
    ])
    .await;
    let root = flipped.at("");
    assert_eq!(root.get("metrics").await.0, StatusCode::OK);
    assert_eq!(code(&root.get("docs/").await), UNAUTHENTICATED);
    assert_eq!(
        code(&flipped.at("/api/v1").get("openapi.json").await),
        UNAUTHENTICATED
    );
    assert_eq!(root.with_key(&key).get("docs/").await.0, StatusCode::OK);
}
