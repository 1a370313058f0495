//! Serve: irsa-issuer as the issuer itself. The router answers from documents rendered once
//! per key set; the server loop adds TLS, limits and graceful shutdown; `run` wires them with
//! the key-directory reloader; `tls` holds the one rustls crypto provider and the TLS client
//! that fetches chains; `pki` and `quickstart` make a throwaway CA for local use and tests.
//!
//! Pure: none (the router is pure over its snapshot, but it is an HTTP service).
//! I/O: `router`, `server`, `run`, `tls`, `pki`, `quickstart`.

pub mod pki;
pub mod quickstart;
pub mod router;
pub mod run;
pub mod server;
pub mod tls;
