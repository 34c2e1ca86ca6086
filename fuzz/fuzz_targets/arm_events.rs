//! Fuzz target `arm_events`: see `pirwatch::fuzzing::arm_events`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pirwatch::fuzzing::arm_events(data));
