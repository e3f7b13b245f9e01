//! Temporal's gRPC API as Rust types: `WorkflowService`'s server trait and every message it
//! uses, generated at build time from the upstream protos (see `build.rs`). Each message also
//! has protojson serde impls, the JSON of Temporal's HTTP API.

#![allow(clippy::all, missing_docs, rustdoc::all)]

include!(concat!(env!("OUT_DIR"), "/packages.rs"));

/// The encoded descriptor set of these protos and their imports, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/temporal_descriptor.bin"));
