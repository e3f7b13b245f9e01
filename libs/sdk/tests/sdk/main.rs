//! The SDK against a real server: every test starts `waymark start-dev` (in memory) and runs a
//! client and workers of the SDK against it, in this process or as separate processes (the
//! examples, the Python worker).

#[path = "../../../../tests/support/otlp.rs"]
mod otlp;
mod support;

mod client;
mod completion;
mod examples;
mod heartbeats;
mod shutdown;
mod traces;
mod worker;
