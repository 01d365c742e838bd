#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dcom_fuzzing::idl_rpcecho(data));
