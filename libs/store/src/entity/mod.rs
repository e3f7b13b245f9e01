//! sea-orm entities: one module per table. The public records are these models.

pub mod activity;
pub mod activity_latest;
pub mod activity_minute;
pub mod api_key;
pub mod history_event;
pub mod meta;
pub mod namespace;
pub mod outbox;
pub mod timer;
pub mod workflow;
pub mod workflow_latest;
