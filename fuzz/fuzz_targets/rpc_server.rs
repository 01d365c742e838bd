#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dcom_fuzzing::rpc_server(data));
