//! AWS.

pub mod bucket;
pub mod names;
pub mod provider;
pub mod role;
pub mod runner_policy;
pub mod sdk;
pub mod trust;
