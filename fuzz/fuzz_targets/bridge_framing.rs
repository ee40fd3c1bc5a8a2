#![no_main]
//! See `keyward_fuzz::bridge_framing` for what this target asserts.

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyward_fuzz::bridge_framing(data));
