//! Waymark's domain: the activity and workflow state machines, retry and timeout rules, task
//! tokens and the visibility query language. Pure code: no I/O, no clock (time comes in as an argument).

pub mod activity;
pub mod auth;
pub mod failed_attempts;
pub mod limits;
pub mod options;
pub mod retry;
pub mod task_token;
pub mod text;
pub mod visibility;
pub mod workflow;
