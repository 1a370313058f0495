//! Serve.

pub mod pki;
pub mod quickstart;
pub mod router;
pub mod run;
pub mod server;
pub mod tls;
