//! Operating Waymark: the Prometheus metrics every process serves at `/metrics`, and the graceful
//! shutdown on SIGTERM (long polls answer empty at once, the process exits 0, nothing is lost).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::workflow::*;
use crate::support::*;

/// Every process's `/metrics` (start-dev: one; distributed: history, matching, timer and
/// frontend, each serving its own), one after the other.
async fn scrape(s: &Server) -> String {
    let mut all = String::new();
    for origin in s.origins() {
        let (status, body) = s
            .send(Method::GET, &format!("{origin}/metrics"), None, None)
            .await;
        assert_eq!(status, StatusCode::OK, "GET {origin}/metrics: {body}");
        let Value::String(text) = body else {
            panic!("GET {origin}/metrics answered JSON: {body}")
        };
        assert!(
            text.ends_with("# EOF\n"),
            "an OpenMetrics exposition ends with # EOF:\n{text}"
        );
        all.push_str(&text);
    }
    all
}

/// The value of sample `name` whose labels include every `labels` pair, summed over processes.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// The activity metrics of `queue` (namespace and task queue labels) count one activity that
/// completed at its first attempt.
fn assert_one_activity_completed(text: &str, queue: [(&str, &str); 2]) {
    for histogram in ["schedule_to_start", "start_to_close", "end_to_end"] {
        let count = format!("waymark_activity_{histogram}_seconds_count");
        assert_eq!(sample(text, &count, &queue), Some(1.0), "{count}:\n{text}");
    }
    assert_eq!(
        sample(text, "waymark_activity_attempts_total", &queue),
        Some(1.0),
        "{text}"
    );
    let completed = [queue[0], queue[1], ("status", "completed")];
    assert_eq!(
        sample(text, "waymark_activity_closed_total", &completed),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(text, "waymark_activity_retries_total", &queue),
        Some(0.0),
        "{text}"
    );
}

/// The README's walkthrough (start, poll, heartbeat, complete, outcome), then `/metrics`.
#[tokio::test]
async fn the_walkthrough_activity_is_counted_in_the_latency_histograms() {
    let s = Server::start_in_memory().await;
    let start = json!({
        "activityType": {"name": "SimpleActivity"},
        "taskQueue": {"name": "demo"},
        "input": ["hello"],
        "startToCloseTimeout": "60s",
        "heartbeatTimeout": "20s",
    });
    assert_eq!(s.start_activity("greet-1", start).await["started"], true);
    let task = s.poll_task("demo").await;
    assert_eq!(s.heartbeat(&task, json!(["halfway"])).await, json!({}));
    s.complete(&task, json!(["Processed: hello"])).await;
    assert_eq!(
        s.outcome("greet-1").await,
        json!({"result": ["Processed: hello"]})
    );

    let text = scrape(&s).await;
    let demo = [("namespace", "default"), ("task_queue", "demo")];
    assert_one_activity_completed(&text, demo);
    let activity_queue = [demo[0], demo[1], ("kind", "activity")];
    assert_eq!(
        sample(
            &text,
            "waymark_task_queue_tasks_added_total",
            &activity_queue
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "waymark_task_queue_tasks_dispatched_total",
            &activity_queue
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "waymark_task_queue_backlog", &activity_queue),
        Some(0.0)
    );
    assert!(
        sample(
            &text,
            "waymark_store_transaction_duration_seconds_count",
            &[("operation", "activity_update")]
        )
        .is_some()
    );

    // Requests are counted by their route pattern, never by the ids in the path.
    let ns = "/api/v1/namespaces/{namespace}";
    for (method, route) in [
        ("POST", format!("{ns}/activities/{{activityId}}")),
        ("POST", format!("{ns}/activity-tasks/poll")),
        ("POST", format!("{ns}/activity-heartbeat")),
        ("POST", format!("{ns}/activity-complete")),
        ("GET", format!("{ns}/activities/{{activityId}}/outcome")),
    ] {
        let labels = [
            ("route", route.as_str()),
            ("method", method),
            ("status", "200"),
        ];
        assert_eq!(
            sample(&text, "waymark_http_requests_total", &labels),
            Some(1.0),
            "{method} {route}:\n{text}"
        );
        assert_eq!(
            sample(
                &text,
                "waymark_http_request_duration_seconds_count",
                &labels
            ),
            Some(1.0)
        );
    }
    assert!(
        !text.contains("greet-1"),
        "an activity id became a label:\n{text}"
    );
}

/// A workflow that runs one activity to completion: the activity is counted like a standalone
/// one, under its own namespace and task queue (not the workflow's).
/// The UI overview's "last hour": per minute, the attempts taken (with their wait for a worker)
/// and the activities closed, completed or not; standalone and workflow activities alike.
#[tokio::test]
async fn activity_throughput_counts_each_minutes_attempts_and_closes() {
    let s = Server::start_in_memory().await;
    let (status, empty) = s.get("activity-throughput").await;
    assert_eq!((status, empty), (StatusCode::OK, json!({})));

    let once = json!({"retryPolicy": {"maximumAttempts": 1}});
    s.start_activity("ok", once.clone()).await;
    s.start_activity("bad", once).await;
    let ok = s.poll_task("ok").await;
    s.complete(&ok, json!(["done"])).await;
    let bad = s.poll_task("bad").await;
    s.fail(&bad, app_failure("no", "Refused")).await;
    let (wid, queue, aq) = (unique("wf"), unique("wq"), unique("aq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    s.run_first_task(&queue, json!([schedule_activity("a1", &aq, json!({}))]))
        .await;
    let task = s.poll_task(&aq).await;
    s.complete(&task, json!(["done"])).await;

    let (status, body) = s.get("activity-throughput").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let minutes = body["minutes"].as_array().expect("minutes");
    // The calls above may straddle a minute's end.
    let total = |key: &str| -> i64 {
        minutes
            .iter()
            .map(|m| m[key].as_str().map_or(0, |n| n.parse::<i64>().unwrap()))
            .sum()
    };
    assert_eq!(
        (total("started"), total("completed"), total("notCompleted")),
        (3, 2, 1),
        "{body}"
    );
    for m in minutes {
        let start = m["startTime"].as_str().expect("startTime");
        assert!(
            start.ends_with(":00Z"),
            "a minute starts on the minute: {start}"
        );
        assert!(
            m["scheduleToStartAverage"]
                .as_str()
                .is_some_and(|d| d.ends_with('s')),
            "{m}"
        );
        assert!(
            m["scheduleToStartMax"]
                .as_str()
                .is_some_and(|d| d.ends_with('s')),
            "{m}"
        );
    }
    let (status, body) = s
        .at("/api/v1/namespaces/nope")
        .get("activity-throughput")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "Namespace nope is not found.");
}

#[tokio::test]
async fn a_workflow_activity_is_counted_under_its_own_task_queue() {
    let s = Server::start_in_memory().await;
    let (wid, queue, activity_queue) = (unique("wf"), unique("wq"), unique("aq"));
    s.start_workflow(&wid, &queue, json!({})).await;
    let schedule = schedule_activity("a1", &activity_queue, json!({}));
    s.run_first_task(&queue, json!([schedule])).await;
    let activity = s.poll_task(&activity_queue).await;
    s.complete(&activity, json!(["done"])).await;
    let task = s.poll_workflow_task(&queue).await;
    s.complete_workflow_task(&task, json!([complete_workflow(json!(["done"]))]))
        .await;

    let text = scrape(&s).await;
    let aq = [
        ("namespace", "default"),
        ("task_queue", activity_queue.as_str()),
    ];
    assert_one_activity_completed(&text, aq);
    let wq = [("task_queue", queue.as_str())];
    assert_eq!(
        sample(&text, "waymark_activity_closed_total", &wq),
        None,
        "the workflow's queue counts no activity:\n{text}"
    );
}

/// SIGTERM to every process of the server while an `/outcome` long poll and a worker's task
/// poll wait 30 s: both answer `{}` within a second, every process exits 0, and the activity is
/// there after a restart on the same data, its task still handed out once.
#[tokio::test]
async fn sigterm_ends_long_polls_at_once_and_exits_0_losing_nothing() {
    let mut s = Server::start().await;
    let id = unique("drained");
    s.start_activity(&id, json!({"input": ["kept"]})).await;

    let client = s.client();
    let outcome_path = format!("activities/{id}/outcome");
    let outcome =
        tokio::spawn(async move { finished_at(client.get_waiting(&outcome_path, "30S")).await });
    let idle = unique("idle");
    let worker = s.client();
    let poll = tokio::spawn({
        let idle = idle.clone();
        async move { finished_at(worker.poll(&idle, "30S")).await }
    });
    // The task poll, sent after the outcome poll, waits: both are in flight.
    let waiting = [("task_queue", idle.as_str()), ("kind", "activity")];
    eventually(Duration::from_secs(5), || async {
        (sample(
            &scrape(&s).await,
            "waymark_task_queue_pollers_waiting",
            &waiting,
        ) == Some(1.0))
        .then_some(())
    })
    .await;

    let signalled = Instant::now();
    for pid in s.pids() {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
    }
    let (answer, at) = outcome.await.expect("outcome poll");
    assert_eq!(answer, ok(json!({})), "the outcome poll answers empty");
    assert!(
        at - signalled < Duration::from_secs(3),
        "the outcome poll answered {:?} after SIGTERM",
        at - signalled
    );
    let (answer, at) = poll.await.expect("task poll");
    assert_eq!(answer, ok(json!({})), "the task poll answers empty");
    assert!(
        at - signalled < Duration::from_secs(3),
        "the task poll answered {:?} after SIGTERM",
        at - signalled
    );
    for status in s.wait_exited(Duration::from_secs(5)).await {
        assert!(status.success(), "waymark exited with {status}");
    }

    s.relaunch().await;
    let waiting_for_a_worker = json!({
        "status": "ACTIVITY_EXECUTION_STATUS_RUNNING",
        "runState": "PENDING_ACTIVITY_STATE_SCHEDULED",
        "attempt": 1,
    });
    assert_eq!(s.state(&id).await, waiting_for_a_worker);
    let task = s.poll_task(&id).await;
    assert_eq!(task["input"], json!(["kept"]));
    s.complete(&task, json!(["done"])).await;
    assert_eq!(s.outcome(&id).await, json!({"result": ["done"]}));
}

// Issue 12: a log file gets no colour codes, and PostgreSQL's "already exists" notices at every
// start stay out of it.
#[tokio::test]
async fn logs_to_a_file_carry_no_colour_codes_nor_postgres_notices() {
    let server = Server::start().await;
    server.get("").await;
    let logs = server.logs();
    assert!(logs.contains("INFO"), "the server logged: {logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "colour codes in a log file: {logs:?}"
    );
    assert!(!logs.contains("already exists"), "{logs}");
}

// Issue 12: `waymark openapi | head -2` is not a crash.
#[tokio::test]
async fn printing_the_openapi_document_into_a_closed_pipe_exits_0() {
    use tokio::io::AsyncReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_waymark"))
        .arg("openapi")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn waymark openapi");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 2];
    stdout
        .read_exact(&mut first)
        .await
        .expect("the document starts");
    drop(stdout);
    let out = child
        .wait_with_output()
        .await
        .expect("waymark openapi ends");
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

// Issue 12, finding 4: a service refuses to start on a short internal secret.
#[tokio::test]
async fn a_service_refuses_an_internal_secret_shorter_than_32_bytes() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(["serve", "history"])
        .env("WAYMARK_INTERNAL_SECRET", "change-me")
        .env("WAYMARK_SIGNING_KEY", "a-signing-key")
        .output()
        .await
        .expect("run waymark serve");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("WAYMARK_INTERNAL_SECRET must be at least 32 bytes, got 9"),
        "{said}"
    );
}

// Issue 12, finding 4: an internal call without the secret is refused before its body is read
// (here a body of 60 MB that never comes).
#[tokio::test]
async fn an_internal_call_without_the_secret_is_refused_before_its_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if !distributed() {
        skip("start-dev has no internal listener: the distributed run covers this");
        return;
    }
    let server = Server::start().await;
    let history = server.origins()[0].trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&history).await.unwrap();
    let head = format!(
        "POST /internal/v1/history HTTP/1.1\r\nHost: {history}\r\nContent-Type: application/json\r\n\
         Content-Length: 60000000\r\nx-waymark-internal-secret: {}\r\n\r\n",
        "x".repeat(INTERNAL_SECRET.len())
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut answer))
        .await
        .expect("an answer without the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains(r#""code":7"#), "{answer}");
}

/// `waymark <args> --help`.
fn help(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(args)
        .arg("--help")
        .output()
        .expect("waymark runs");
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The flags a `--help` lists, each asserted to have help text: on the option's line after the
/// spacing (`--log <LOG>  Log filter ...`), or on the next line, indented; not directly its
/// `[env: ...]` or `[default: ...]`.
fn flags_with_help(help: &str) -> Vec<&str> {
    let lines: Vec<&str> = help.lines().collect();
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut flags = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let text = line.trim_start();
        // Option lines are indented at most 6 columns (`  -h, --help`, `      --listen <..>`);
        // help text on lines of its own, 10.
        if !text.starts_with('-') || indent(line) > 6 {
            continue;
        }
        let (spec, same_line) = text.split_once("  ").unwrap_or((text, ""));
        let flag = spec
            .split_whitespace()
            .find(|w| w.starts_with("--"))
            .unwrap_or_else(|| panic!("no long flag on {line:?}"));
        let next = lines.get(i + 1).copied().unwrap_or("");
        let said = match same_line.trim_start() {
            "" => indent(next) >= 10 && !next.trim_start().starts_with('['),
            same_line => !same_line.starts_with('['),
        };
        assert!(said, "{flag} has no help text:\n{help}");
        flags.push(flag.trim_end_matches(','));
    }
    flags
}

/// `migrate` takes the database and nothing else.
#[tokio::test]
async fn migrate_lists_only_its_flags() {
    let migrate = help(&["migrate"]);
    assert_eq!(
        flags_with_help(&migrate),
        ["--database-url", "--database-schema", "--help"],
        "{migrate}"
    );
}

/// Issue 17: each `serve <service>` lists only the flags (and variables) the service reads, each
/// with help text; `serve all` those of the four in one process.
#[tokio::test]
async fn each_serve_service_lists_only_the_flags_it_reads_each_with_help() {
    let serve = help(&["serve"]);
    for service in ["frontend", "history", "matching", "timer", "all"] {
        assert!(
            serve
                .lines()
                .any(|l| l.trim_start().starts_with(service) && l.trim() != service),
            "serve --help names {service} with what it is:\n{serve}"
        );
    }
    let (everywhere, public) = (
        &["--listen", "--log", "--log-format", "--help"][..],
        &[
            "--grpc-listen",
            "--tls-cert",
            "--tls-key",
            "--auth",
            "--bootstrap-admin-key",
            "--jwks-file",
            "--open-metrics",
            "--open-docs",
            "--max-request-bytes",
            "--long-poll-max",
            "--ui",
            "--cors-origin",
        ][..],
    );
    let database = &["--database-url", "--database-schema"][..];
    let redis = &[
        "--redis-url",
        "--redis-tls-ca",
        "--redis-tls-cert",
        "--redis-tls-key",
        "--redis-prefix",
    ][..];
    let internal = &[
        "--internal-secret",
        "--internal-tls-cert",
        "--internal-tls-key",
        "--internal-tls-ca",
    ][..];
    let history_only = &[
        "--signing-key",
        "--max-payload-bytes",
        "--history-count-suggest",
        "--history-count-error",
        "--history-size-suggest",
        "--history-size-error",
        "--min-retention",
        "--retention-sweep-every",
    ][..];
    let (history_url, matching_url, timer_url) = (
        &["--history-url"][..],
        &["--matching-url"][..],
        &["--timer-url"][..],
    );
    // Each service: the groups of flags it reads, and those it must not list.
    let services = [
        (
            "frontend",
            vec![public, history_url, matching_url, internal],
            vec![database, redis, history_only, timer_url],
        ),
        (
            "history",
            vec![database, history_only, matching_url, timer_url, internal],
            vec![public, redis, history_url],
        ),
        (
            "matching",
            vec![redis, history_url, internal],
            vec![public, database, history_only, matching_url, timer_url],
        ),
        (
            "timer",
            vec![database, history_url, internal],
            vec![public, redis, history_only, matching_url, timer_url],
        ),
        (
            "all",
            vec![public, database, redis, history_only],
            vec![internal, history_url, matching_url, timer_url],
        ),
    ];
    for (service, reads, ignores) in services {
        let text = help(&["serve", service]);
        let flags = flags_with_help(&text);
        let mut expected: Vec<&str> = reads.concat();
        expected.extend(everywhere);
        let mut listed = flags.clone();
        listed.sort_unstable();
        expected.sort_unstable();
        assert_eq!(listed, expected, "serve {service} --help:\n{text}");
        for flag in ignores.concat() {
            // Nor its variable (`[env: WAYMARK_REDIS_URL]`, `[env: WAYMARK_LISTEN=]`).
            let var = format!(
                "env: WAYMARK_{}",
                flag[2..].replace('-', "_").to_uppercase()
            );
            assert!(
                !text.contains(&format!("{var}]")) && !text.contains(&format!("{var}=")),
                "serve {service} --help lists {flag}:\n{text}"
            );
        }
    }
}

// Issue 17: the deployments give every service one environment; a variable of a flag the service
// does not read is ignored, even one that its flag would refuse (a certificate without its key,
// a value that is no `--auth` mode).
#[tokio::test]
async fn a_service_ignores_the_variables_of_flags_it_does_not_read() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(["serve", "matching"])
        .env("WAYMARK_INTERNAL_SECRET", "change-me")
        .env("WAYMARK_TLS_CERT", "/nonexistent/cert.pem")
        .env("WAYMARK_AUTH", "neither-on-nor-off")
        .env("WAYMARK_DATABASE_URL", "not a url")
        .env("WAYMARK_MAX_PAYLOAD_BYTES", "many")
        .output()
        .await
        .expect("run waymark serve");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("WAYMARK_INTERNAL_SECRET must be at least 32 bytes, got 9"),
        "{said}"
    );
}
