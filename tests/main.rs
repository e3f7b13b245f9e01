//! Waymark's black-box suite: every test starts the `waymark` binary (`start-dev` on a fresh
//! database) and speaks the public HTTP/JSON API to it, as a client and as a worker would.
//!
//! Where SEMANTICS.md §12 (the behaviours most often implemented wrong) is covered:
//! - §12.1 transient Started event: workflow histories only; Waymark serves no workflow API yet.
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

mod cancel;
mod durability;
mod ids;
mod lifecycle;
mod long_poll;
mod namespaces;
mod operator;
mod readme;
mod retries;
mod timeouts;
mod visibility;
mod wire;
