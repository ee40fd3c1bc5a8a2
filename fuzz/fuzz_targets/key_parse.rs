#![no_main]
//! See `keyward_fuzz::key_parse` for what this target asserts.

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyward_fuzz::key_parse(data));
