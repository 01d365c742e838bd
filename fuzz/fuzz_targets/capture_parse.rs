#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dcom_fuzzing::capture_parse(data));
