//! OIDC.

pub mod documents;
pub mod issuer;
pub mod keys;
pub mod token;
