//! Serve.

pub mod pki;
pub mod router;
pub mod server;
pub mod tls;
