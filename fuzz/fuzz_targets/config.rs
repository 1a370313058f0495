//! The configuration file (`apply -f`, `destroy -f`, `verify -f`, `rotate -f`) as text, with and
//! without the documented environment overrides set (each override's value taken from the
//! input's last line, so that the overrides' own checks are reached too).
//! (The body is in ../harness.rs, shared with tests/fuzz_regressions.rs.)
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::config(data));
