//! Verify.

pub mod checks;
pub mod fetch;
