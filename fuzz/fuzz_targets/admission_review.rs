//! AdmissionReviews as the webhook reads them from the network: `review::parse`, the request's
//! target, and for a pod CREATE the mutation the webhook makes, under two sets of flags; the
//! patch must apply (by an independent RFC 6902 implementation) to give the mutated pod, a
//! mutated pod must not be mutated again, the patch and every message are bounded, and the
//! answer echoes the review.
//! (The body is in ../harness.rs, shared with tests/fuzz_regressions.rs.)
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::admission_review(data));
