//! Reconcile: the configuration file and the one engine that turns it into AWS and published
//! state, shared by `apply`, `destroy` and `verify`, plus the single-resource operations
//! (`publish`, `provider …`, `role …`, `rotate …`) that the other commands call.
//!
//! The engine runs in three phases: [`read`] observes every resource (keys, the document
//! target and its bucket, the provider and roles of every account), [`plan`] turns what was
//! observed into a [`plan::Plan`] (steps with the steps they depend on), and [`execute`] runs a
//! plan step by step, recording timings and AWS calls and stopping a chain at its first failure.
//! Nothing here prints: the command line renders what these functions return.
//!
//! Pure: `config`, `changeset`, `plan`, `manifests`.
//! I/O: `mod` and `error` (the error of the operations, which wraps the adapters' errors), `read`, `execute`, `documents`, `cdn`, `verify`, `iam`, `rotate`.

pub mod cdn;
pub mod changeset;
pub mod config;
pub mod documents;
mod error;
pub mod execute;
pub mod iam;
pub mod manifests;
pub mod plan;
pub mod read;
pub mod rotate;
pub mod verify;

pub use crate::errors::chain;
pub(crate) use error::refuse;
pub use error::Error;
