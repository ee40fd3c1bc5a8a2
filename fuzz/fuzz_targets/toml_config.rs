#![no_main]
//! See `keyward_fuzz::toml_config` for what this target asserts.

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyward_fuzz::toml_config(data));
