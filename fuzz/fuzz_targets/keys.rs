//! Key files as `--key`, `keys kid`, `keys.files` and the key directory read them: any bytes
//! through `parse_pem`, and, so that the DER decoders behind every label are reached without
//! the fuzzer having to discover base64, the input's tail wrapped as the DER body of a PEM
//! block whose label the first byte picks.
//! (The body is in ../harness.rs, shared with tests/fuzz_regressions.rs.)
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::keys(data));
