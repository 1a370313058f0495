//! Verify: checking an issuer as STS would. The checks take what was fetched or read (the
//! documents, the provider, a token) and say ok or fail with the fix; the fetcher gets
//! documents and certificate chains over HTTPS like a relying party. The orchestration that
//! runs them is `reconcile::verify`.
//!
//! `pod` checks one pod as `verify --pod` reads it (its orchestration is `reconcile::pod`).
//!
//! Pure: `checks`, `pod`.
//! I/O: `fetch`.

pub mod checks;
pub mod fetch;
pub mod pod;
