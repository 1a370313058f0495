//! Reconcile.

pub mod changeset;
pub mod config;
