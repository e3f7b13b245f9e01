//! Waymark's black-box suite: every test starts the `waymark` binary (`start-dev` on a fresh
//! database, or with `WAYMARK_TEST_DEPLOYMENT=distributed` the four services on PostgreSQL and
//! Redis; `faults` a cluster of its own) and speaks the public HTTP/JSON API to it, as a client
//! and as a worker would; `temporal_sdk` drives its gRPC API with Temporal's own Python and
//! TypeScript SDKs and CLI, `generated_clients` its HTTP API with TypeScript and Python clients
//! generated from its OpenAPI document. A test that cannot run here prints
//! `SKIPPED <test>: <why>`.
//!
//! Where SEMANTICS.md §12 (the behaviours most often implemented wrong) is covered:
//! - §12.1 transient Started event: `workflows::*`
//! - §12.2 timeout defaulting: `timeouts::*`
//! - §12.3 retry budget: `retries::*schedule_to_close*`, `retries::a_retry_that_would_pass_*`
//! - §12.4 backoff math: `retries::a_retryable_failure_is_retried_after_the_policy_backoff`,
//!   `retries::maximum_attempts_counts_the_first_attempt`
//! - §12.5 non-retryable classification: `retries::non_retryable_failures_close_the_activity_at_once`,
//!   `timeouts::only_the_short_timeout_name_makes_a_timeout_non_retryable`, `wire::start_validation_*`
//! - §12.6 cancellation: `cancel::*`
//! - §12.7 heartbeat details: `timeouts::heartbeat_details_*`, `timeouts::a_missed_heartbeat_*`
//! - §12.8 token / id matrix: `lifecycle::*`
//! - §12.9 idempotency and conflicts: `ids::*`, `retries::a_retryable_failure_*` (next attempt shown)
//! - §12.10 wire and long polls: `wire::*`, `visibility::*`, `long_poll::*`

mod support;

mod auth;
mod backend_tls;
mod bad_input;
mod cancel;
mod cli;
mod docs;
mod durability;
mod fairness;
mod faults;
mod generated_clients;
mod ids;
mod jwt;
mod lifecycle;
mod limits;
mod long_poll;
mod namespaces;
mod openapi;
mod operability;
mod operator;
mod priority;
mod rate_limit;
mod readme;
mod retries;
mod schemathesis;
mod temporal_sdk;
mod timeouts;
mod tls;
mod traces;
mod ui;
mod visibility;
mod wire;
mod workflows;

/// The whole suite once more against the distributed deployment (four `waymark serve`
/// processes on PostgreSQL and Redis), so one `cargo test` covers both deployments.
#[test]
fn the_suite_passes_on_the_distributed_deployment() {
    if support::distributed() {
        return; // this is that run
    }
    let exe = std::env::current_exe().expect("test binary path");
    let out = std::process::Command::new(exe)
        .env("WAYMARK_TEST_DEPLOYMENT", "distributed")
        .args([
            "--skip",
            "the_suite_passes_on_the_distributed_deployment",
            "--skip",
            "faults::",
        ])
        .output()
        .expect("run the suite again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The tests skipped in that run, said where this run's own skips are.
    for line in stdout.lines().filter(|l| l.starts_with(support::SKIPPED)) {
        support::skip(&format!(
            "(distributed) {}",
            &line[support::SKIPPED.len()..]
        ));
    }
    let failures: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("FAILED") || l.contains("panicked"))
        .collect();
    assert!(
        out.status.success(),
        "the distributed run failed:\n{}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
        failures.join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
}
