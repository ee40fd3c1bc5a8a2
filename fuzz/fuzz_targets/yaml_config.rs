#![no_main]
//! See `keyward_fuzz::yaml_config` for what this target asserts.

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyward_fuzz::yaml_config(data));
