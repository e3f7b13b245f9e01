//! The `payload_json` fuzz target's seeds, run through its check on every `cargo test`:
//! `fuzz/seeds/payload_json/*` decode without panicking and survive a round trip.

#[path = "../../../fuzz/src/payload_json.rs"]
mod payload_json;

use std::path::Path;

#[test]
fn every_payload_seed_decodes_and_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/payload_json");
    let mut seeds = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            payload_json::check(&bytes) > 0,
            "{} decodes as none of the fuzzed types",
            path.display()
        );
        seeds += 1;
    }
    assert!(seeds > 0, "no seeds in {}", dir.display());
}
