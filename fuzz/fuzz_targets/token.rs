//! Tokens as `verify --token` reads them: decode, then every check STS makes (kid lookup,
//! signature against a JWK, iss, aud, exp/nbf at an input-chosen `now`, sub shape, and the
//! trust policy's StringLike patterns). The first 8 bytes are `now`. The rest is used twice: as
//! the token text itself, and, so that the claims logic is reached without the fuzzer having to
//! find valid base64, split at NUL bytes into header JSON, claims JSON and signature, which are
//! encoded as a compact JWS.
//! (The body is in ../harness.rs, shared with tests/fuzz_regressions.rs.)
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::token(data));
