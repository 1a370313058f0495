//! irsa-issuer: IAM Roles for Service Accounts for self-managed Kubernetes.
//!
//! Rooms (each `mod.rs` says which of its files are pure and which do I/O; a pure module never
//! imports one that does I/O, and `tests/architecture.rs` keeps it so):
//! `oidc` (issuer URL, keys and kid, documents, tokens), `rotation` (key-set state machine, key
//! directory, kube-apiserver flags), `aws` (names, bucket, provider, role, trust and runner
//! policies; SDK adapters in `aws::sdk`), `publish` (document stores: directory, S3), `serve`
//! (router, server, TLS, throwaway PKI), `verify` (checks as STS makes them, fetching),
//! `reconcile` (config file, changeset, the read → plan → execute engine and the operations
//! every command calls), `webhook` (the pod-identity webhook: AdmissionReview in, JSONPatch out;
//! ServiceAccount sources). The command line is in the binary (`src/cli`), not here.
//!
//! Pure: `errors`.
//! I/O: `fsutil`.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![warn(missing_docs)]

pub mod aws;
pub mod errors;
pub mod fsutil;
pub mod oidc;
pub mod publish;
pub mod reconcile;
pub mod rotation;
pub mod serve;
pub mod verify;
pub mod webhook;
