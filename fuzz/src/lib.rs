//! The checks behind the fuzz targets, one module per target. The main workspace's tests include
//! these modules by path and run them on `seeds/<target>/`, so every `cargo test` applies the same
//! assertions without libFuzzer.

pub mod payload_json;
pub mod task_token;
