//! libFuzzer entry point of `herald_fuzz::validate_v2_target`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| herald_fuzz::validate_v2_target(data));
