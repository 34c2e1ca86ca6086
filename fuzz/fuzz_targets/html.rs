//! Fuzz target `html`: see `pirwatch::fuzzing::html`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pirwatch::fuzzing::html(data));
