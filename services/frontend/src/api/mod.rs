//! The public API's handlers, one module per resource. Each extracts, calls history or
//! matching, and maps the answer.

pub mod activities;
pub mod api_keys;
pub mod namespaces;
pub mod task_queues;
pub mod worker;
pub mod workflows;

use axum::Json;
use serde::Serialize;

use crate::error::Error;

pub type Reply<T> = Result<Json<T>, Error>;

/// The `{}` answer of operations that return nothing.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Empty {}

pub fn empty() -> Reply<Empty> {
    Ok(Json(Empty {}))
}
