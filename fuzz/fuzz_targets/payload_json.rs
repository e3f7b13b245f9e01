//! Arbitrary bytes as the JSON body of requests that carry payloads; see `src/payload_json.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    waymark_fuzz::payload_json::check(data);
});
