//! The examples and the Python worker, run as the README's `## Rust SDK` section says.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use waymark_sdk::{ActivityOptions, Client, RetryPolicy};

use crate::support::{Server, example, unique};

/// The README's address, replaced by the test server's.
const README_URL: &str = "http://127.0.0.1:7243";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shell lines of the README's `## Rust SDK` section that start with `prefix`.
fn readme_lines(prefix: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let section = readme
        .split("\n## Rust SDK")
        .nth(1)
        .expect("README has a `## Rust SDK` section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn every_example_runs_as_its_readme_line_says() {
    let server = Server::start().await;
    let lines = readme_lines("cargo run -p waymark-sdk --example");
    let expected = [
        ("simple_activity", "Processed: hello"),
        ("file_processing", "resumed from line"),
        ("async_completion", "result: approved: expense #42"),
        ("parallel", "sum of squares = 40425"),
    ];
    for (name, output) in expected {
        let line = lines
            .iter()
            .find(|l| l.contains(&format!("--example {name} ")))
            .unwrap_or_else(|| panic!("no README line runs {name}"));
        let command = line.replace(README_URL, &server.url);
        assert_ne!(
            &command, line,
            "the README line of {name} passes --url {README_URL}"
        );
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &command])
            .current_dir(repo_root())
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "`{command}` failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(output), "`{command}` printed:\n{stdout}");
    }
}

/// The README's Python worker line, for `queue` on the test server.
fn python_worker(server: &Server, queue: &str) -> Child {
    let line = readme_lines("python3 examples/python-worker/worker.py")
        .into_iter()
        .next()
        .expect("a README line runs the Python worker");
    let command = line
        .replace(README_URL, &server.url)
        .replace("--task-queue simple", &format!("--task-queue {queue}"));
    assert!(
        command.contains(queue),
        "the README line passes --task-queue simple: {line}"
    );
    Command::new("bash")
        .args(["-c", &format!("exec {command}")])
        .current_dir(repo_root())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs")
}

fn rust_worker(server: &Server, queue: &str) -> Child {
    Command::new(example("simple_activity"))
        .args(["--url", &server.url, "--task-queue", queue, "--worker-only"])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("simple_activity runs")
}

fn once(queue: &str) -> ActivityOptions {
    ActivityOptions::new(queue)
        .start_to_close_timeout(Duration::from_secs(10))
        .heartbeat_timeout(Duration::from_secs(5))
        .retry_policy(RetryPolicy {
            maximum_attempts: 1,
            ..Default::default()
        })
}

/// What a worker made of `SimpleActivity(input)`: the outcome and the heartbeat details.
async fn serve(
    client: &Client,
    queue: &str,
    activity_type: &str,
    input: serde_json::Value,
) -> (serde_json::Value, serde_json::Value) {
    let handle = client
        .start_activity(activity_type, input, once(queue))
        .await
        .unwrap();
    let outcome = match handle.outcome().await.unwrap() {
        Ok(result) => serde_json::json!({"result": result}),
        Err(failure) => {
            let mut f = serde_json::to_value(failure.failure()).unwrap();
            f.as_object_mut().unwrap().remove("source");
            serde_json::json!({"failure": f, "retryState": failure.retry_state().as_str()})
        }
    };
    let details = handle
        .describe()
        .await
        .unwrap()
        .heartbeat_details::<serde_json::Value>()
        .unwrap();
    (outcome, details.unwrap_or_default())
}

#[tokio::test]
async fn the_python_worker_serves_simple_activity_exactly_like_the_rust_one() {
    let server = Server::start().await;
    let client = server.client().await;
    let (py_queue, rs_queue) = (unique("python"), unique("rust"));
    let _python = python_worker(&server, &py_queue);
    let _rust = rust_worker(&server, &rs_queue);

    let from_python = serve(&client, &py_queue, "SimpleActivity", "hello".into()).await;
    assert_eq!(
        from_python,
        (
            serde_json::json!({"result": ["Processed: hello"]}),
            serde_json::json!("processing")
        )
    );
    let from_rust = serve(&client, &rs_queue, "SimpleActivity", "hello".into()).await;
    assert_eq!(from_python, from_rust);

    // Both name an unknown type and list what they serve, in the same words.
    let (py, _) = serve(&client, &py_queue, "Transcode", "x".into()).await;
    let (rs, _) = serve(&client, &rs_queue, "Transcode", "x".into()).await;
    let message =
        |v: &serde_json::Value, q: &str| v["failure"]["message"].as_str().unwrap().replace(q, "Q");
    assert_eq!(
        py["failure"]["applicationFailureInfo"]["type"],
        "ActivityNotRegistered"
    );
    assert_eq!(
        py["failure"]["applicationFailureInfo"],
        rs["failure"]["applicationFailureInfo"]
    );
    assert_eq!(message(&py, &py_queue), message(&rs, &rs_queue));
    assert_eq!(
        message(&py, &py_queue),
        "activity type \"Transcode\" is not registered on the worker of task queue \"Q\"; registered types: SimpleActivity"
    );

    // An exception fails the attempt with the exception's type.
    let (py, _) = serve(&client, &py_queue, "SimpleActivity", 42.into()).await;
    assert_eq!(
        py,
        serde_json::json!({"failure": {"message": "SimpleActivity takes a string, got int", "applicationFailureInfo": {"type": "TypeError"}},
            "retryState": "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"})
    );
}
