//! Fuzz target `timestamp`: see `pirwatch::fuzzing::timestamp`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pirwatch::fuzzing::timestamp(data));
