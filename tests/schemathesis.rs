//! Hostile input, generated: schemathesis (from PyPI) derives requests from the served OpenAPI
//! document, valid and invalid, for every operation, and checks that none gets a 5xx and that
//! every response matches its documented status, content type and schema.

use std::process::Stdio;

use crate::support::*;

/// What the run asserts (`st run --checks`).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_schema_conformance,response_headers_conformance";

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_schema_mismatch() {
    if distributed() {
        skip("one run, against start-dev, covers the API");
        return;
    }
    let Some(st) = schemathesis() else { return };
    let s = Server::start_in_memory().await;
    let origin = format!("http://{}", s.authority());
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/schemathesis.toml");
    let out = tokio::process::Command::new(st)
        .args(["--no-color", "--config-file", config, "run"])
        .arg(format!("{origin}/api/v1/openapi.json"))
        .args(["--url", &origin, "--checks", CHECKS])
        // One worker: hypothesis's code generation is not thread safe on Python 3.11.
        .args(["--max-examples", "20", "--workers", "1"])
        // Its cache of crashes stays out of the source tree.
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `st` command, or `None` where it is not installed (see `tool_installed`).
fn schemathesis() -> Option<&'static str> {
    let found = std::process::Command::new("st")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    tool_installed("schemathesis", found, "pip install schemathesis").then_some("st")
}
