//! irsa-issuer: IAM Roles for Service Accounts for self-managed Kubernetes.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![warn(missing_docs)]

pub mod aws;
pub mod cli;
pub mod errors;
pub mod fsutil;
pub mod oidc;
pub mod publish;
pub mod reconcile;
pub mod rotation;
pub mod serve;
pub mod verify;
