//! Arbitrary bytes as a task token and as the fields of one; see `src/task_token.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    waymark_fuzz::task_token::check(data);
});
