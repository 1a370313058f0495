//! irsa-issuer: IAM Roles for Service Accounts for self-managed Kubernetes.
//!
//! The core (`issuer`, `keys`, `documents`, `plan`, `apiserver`, `aws_names`, `bucket`,
//! `provider`, `role`, `runner_policy`, `trust`) is pure: values in, values out,
//! no I/O, no clock. The adapters (`store`, `aws`, `server`, `serve`, `tls`, `fetch`, `pki`, `fsutil`) do the
//! I/O, and `cli` is the only place that wires the two together.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![warn(missing_docs)]

pub mod apiserver;
pub mod aws;
pub mod aws_names;
pub mod bucket;
pub mod changeset;
pub mod cli;
pub mod config;
pub mod documents;
pub mod fetch;
pub mod fsutil;
pub mod issuer;
pub mod keydir;
pub mod keys;
pub mod pki;
pub mod plan;
pub mod provider;
pub mod role;
pub mod rotation;
pub mod runner_policy;
pub mod serve;
pub mod server;
pub mod store;
pub mod tls;
pub mod token;
pub mod trust;
pub mod verify;
