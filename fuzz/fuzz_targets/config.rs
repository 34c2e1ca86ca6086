//! Fuzz target `config`: see `pirwatch::fuzzing::config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pirwatch::fuzzing::config(data));
