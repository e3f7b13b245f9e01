//! Workflow executions (being written).
