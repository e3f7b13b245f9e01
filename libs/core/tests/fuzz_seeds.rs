//! The `task_token` fuzz target's seeds, run through its checks on every `cargo test`:
//! `fuzz/seeds/task_token/*` are tokens signed with the seed key, which verify and re-encode to
//! the same text, and, read as token fields, sign and verify with every byte change refused.

#[path = "../../../fuzz/src/task_token.rs"]
mod task_token;

use std::path::Path;

#[test]
fn every_task_token_seed_verifies_and_re_encodes_unchanged() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/task_token");
    let mut seeds = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            task_token::check(&bytes),
            "{} does not verify with the seed key",
            path.display()
        );
        seeds += 1;
    }
    assert!(seeds > 0, "no seeds in {}", dir.display());
}
