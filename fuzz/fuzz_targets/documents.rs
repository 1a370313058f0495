//! Discovery and JWKS documents as `verify` reads them from a server it does not control: the
//! discovery checks, the JWKS checks, the kid each served key would have (what `rotate promote`
//! compares), and a token checked against the served keys. The first byte splits the input
//! between the two documents.
//! (The body is in ../harness.rs, shared with tests/fuzz_regressions.rs.)
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::documents(data));
