//! The names given on the command line and in the file: `IssuerUrl` (strict and with
//! --allow-insecure-http) and everything derived from it, JWKS paths, S3 targets with the issuer
//! they imply, bucket names, thumbprints and service-account references.
//! (The body is in ../harness.rs, shared with tests/fuzz_regressions.rs.)
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::issuer_and_names(data));
