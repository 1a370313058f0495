//! Rotation.

pub mod apiserver;
pub mod keydir;
pub mod state;
