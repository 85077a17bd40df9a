//! libFuzzer entry point of `herald_fuzz::segment_definition_target`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| herald_fuzz::segment_definition_target(data));
