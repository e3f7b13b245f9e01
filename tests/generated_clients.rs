//! Clients generated from `openapi/waymark.json`, as users in other languages make them: a
//! TypeScript client (openapi-typescript's types, checked by tsc, and openapi-fetch's calls,
//! `generated_clients/typescript`) and a Python client (openapi-python-client,
//! `generated_clients/python`), each generated afresh and run through one activity's round
//! trip: start, poll, complete by task token, outcome.

use std::path::{Path, PathBuf};
use std::process::Output;

use tokio::process::Command;

use crate::support::{Server, tool_installed, unique};

const TYPESCRIPT_INSTALL: &str = "npm ci --prefix tests/generated_clients/typescript";
const PYTHON_INSTALL: &str = "pip install -r tests/generated_clients/python/requirements.txt";

/// `tests/generated_clients/<name>`.
fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/generated_clients")
        .join(name)
}

fn text(out: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether a round-trip program ran to its end and said so.
fn passed(out: &Output) -> bool {
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("PASS roundtrip")
}

#[tokio::test]
async fn a_generated_typescript_client_builds_and_runs_an_activity_round_trip() {
    let dir = project("typescript");
    let bin = dir.join("node_modules/.bin");
    let found = bin.join("openapi-typescript").exists() && bin.join("tsx").exists();
    if !tool_installed(
        "openapi-typescript (with openapi-fetch)",
        found,
        TYPESCRIPT_INSTALL,
    ) {
        return;
    }
    let run = |program: PathBuf, args: &[&str]| {
        let mut command = Command::new(program);
        command.args(args).current_dir(&dir).kill_on_drop(true);
        async move { command.output().await.expect("run a TypeScript tool") }
    };

    let generated = run("node".into(), &["generate.mjs"]).await;
    assert!(generated.status.success(), "generate: {}", text(&generated));
    // The generated types build, and the round trip uses them as they are.
    let typechecked = run(bin.join("tsc"), &["--noEmit"]).await;
    assert!(typechecked.status.success(), "tsc: {}", text(&typechecked));

    let server = Server::start_in_memory().await;
    let base_url = format!("http://{}", server.authority());
    let prefix = unique("ts");
    let out = run(
        bin.join("tsx"),
        &[
            "src/roundtrip.ts",
            "--base-url",
            &base_url,
            "--prefix",
            &prefix,
        ],
    )
    .await;
    assert!(passed(&out), "{}", text(&out));
}

#[tokio::test]
async fn a_generated_python_client_runs_an_activity_round_trip() {
    let found = std::process::Command::new("python3")
        .args(["-c", "import openapi_python_client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !tool_installed("openapi-python-client", found, PYTHON_INSTALL) {
        return;
    }
    let server = Server::start_in_memory().await;
    let base_url = format!("http://{}", server.authority());
    let prefix = unique("py");
    // The program generates the client into a temporary directory of its own, then runs it.
    let out = Command::new("python3")
        .arg(project("python").join("roundtrip.py"))
        .args(["--base-url", &base_url, "--prefix", &prefix])
        .kill_on_drop(true)
        .output()
        .await
        .expect("run python3");
    assert!(passed(&out), "{}", text(&out));
}
