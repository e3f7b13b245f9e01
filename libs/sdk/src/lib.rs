//! The Rust SDK of Waymark: a [`Client`] that starts standalone activities and awaits,
//! describes, cancels or terminates them, and a [`Worker`] that polls a task queue and runs
//! `async fn`s as activities, with throttled heartbeats, cancellation, retries by the server,
//! asynchronous completion and graceful shutdown.
//!
//! It speaks Waymark's REST/JSON API (Temporal's HTTP API plus plain-HTTP worker endpoints);
//! the wire types are those of [`waymark_api`], re-exported as [`api`].
//!
//! # A worker and a caller
//!
//! ```no_run
//! use std::time::Duration;
//! use waymark_sdk::{ActivityContext, ActivityError, ActivityOptions, Client, ClientOptions, Worker, WorkerOptions};
//!
//! async fn simple_activity(_ctx: ActivityContext, value: String) -> Result<String, ActivityError> {
//!     Ok(format!("Processed: {value}"))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let client = Client::connect("http://127.0.0.1:7243", ClientOptions::default()).await?;
//!
//!     let mut worker = Worker::new(client.clone(), "demo", WorkerOptions::default());
//!     worker.register_activity("SimpleActivity", simple_activity)?;
//!     let shutdown = worker.shutdown_handle();
//!     let running = tokio::spawn(worker.run());
//!
//!     let options = ActivityOptions::new("demo").start_to_close_timeout(Duration::from_secs(10));
//!     let handle = client.start_activity("SimpleActivity", "hello", options).await?;
//!     let result: String = handle.result().await?;
//!     assert_eq!(result, "Processed: hello");
//!
//!     shutdown.shutdown();
//!     running.await??;
//!     Ok(())
//! }
//! ```
//!
//! # Inputs and results
//!
//! Activity inputs, results and heartbeat details are lists of JSON payloads. A Rust value
//! maps onto such a list by one rule (see [`payload`]): `()` is no payload, a tuple is one
//! payload per element, anything else is one payload. So an activity registered with
//! `Args = (String, u32)` is started with `("file.csv", 3)`, and a worker in any language sees
//! the input `["file.csv", 3]`.
//!
//! # What the worker does for you
//!
//! - **Flow control**: it polls only while it has a free slot
//!   ([`WorkerOptions::max_concurrent_activities`]); the backlog stays on the server.
//! - **Rate limits**: per worker ([`WorkerOptions::max_activities_per_second`]) and per task
//!   queue ([`WorkerOptions::max_task_queue_activities_per_second`], enforced by the server).
//! - **Heartbeats**: [`ActivityContext::heartbeat`] never blocks; it is throttled to one
//!   request per 80 % of the heartbeat timeout and always sends the latest details.
//! - **Cancellation**: [`ActivityContext::cancelled`] resolves when a heartbeat answer says so,
//!   when the deadline passes, or when the worker shuts down; an activity that then returns an
//!   error is reported cancelled.
//! - **Failures**: [`ActivityError`] for application errors, any `std::error::Error` via `?`,
//!   and a panic fails the attempt with type `Panic` while the worker keeps running.

#![warn(missing_docs)]

mod client;
mod context;
mod error;
pub mod payload;
mod transport;
mod worker;

pub use client::{
    ActivityDescription, ActivityHandle, ActivityOptions, ActivityTarget, ApiRequest, Client,
    ClientOptions, HeartbeatResponse, RetryPolicy, TaskToken,
};
pub use context::{ActivityContext, ActivityInfo, CancelReason};
pub use error::{ActivityError, ActivityFailure, ApplicationError, Error, FailureKind};
pub use payload::PayloadError;
pub use reqwest::Method;
pub use waymark_api as api;
pub use waymark_api::{
    ActivityExecutionStatus, ActivityIdConflictPolicy, ActivityIdReusePolicy, PendingActivityState,
    RetryState, TimeoutType,
};
pub use worker::{ShutdownHandle, Worker, WorkerError, WorkerOptions};

/// The `source` of failures this SDK reports.
pub const SDK_NAME: &str = "waymark-sdk-rust";
