//! OIDC: what an issuer is and publishes. The issuer URL and the paths below it, the signing
//! keys and their kid (kube-apiserver's), the JWKS and discovery documents byte for byte as
//! kube-apiserver renders them, and service-account tokens checked as STS checks them.
//!
//! Pure: `issuer`, `keys`, `documents`, `token`.
//! I/O: none.

pub mod documents;
pub mod issuer;
pub mod keys;
pub mod token;
