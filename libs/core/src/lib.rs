//! Waymark's domain: the activity state machine, retry and timeout rules, task tokens and
//! the visibility query language. Pure code: no I/O, no clock (time comes in as an argument).

pub mod activity;
pub mod options;
pub mod retry;
pub mod task_token;
pub mod visibility;
// Built only in core's own tests until the workflow machine is finished and wired into history.
#[cfg(test)]
pub mod workflow;
