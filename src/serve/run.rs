//! `serve` as a whole: bind, load the keys and the TLS files, render the documents once, watch
//! the key directory and swap in new documents when its published content changes, and serve
//! until SIGTERM. The command line only says where and prints the address once bound.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use super::router::{router, AppState, Snapshot};
use super::server;
use super::tls::{self, TlsError};
use crate::oidc::documents::{render, DocumentError, KeySet};
use crate::oidc::issuer::{IssuerUrl, JwksPath};
use crate::rotation::keydir::{load_public_keys, KeyDirError};

/// Why `serve` could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address cannot be bound.
    #[error("cannot listen on {listen}: is the address right and the port free? (choose another with --listen)")]
    Bind {
        /// The address.
        listen: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A TLS file cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The TLS files are unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The keys cannot be loaded.
    #[error(transparent)]
    Keys(#[from] KeyDirError),
    /// The documents cannot be built.
    #[error(transparent)]
    Documents(#[from] DocumentError),
    /// The server failed.
    #[error("the server failed")]
    Server(#[source] std::io::Error),
}

/// Where the keys come from: PEM files, and a key directory watched for changes.
#[derive(Debug, Clone)]
pub struct KeySource {
    /// PEM files.
    pub files: Vec<PathBuf>,
    /// A key directory.
    pub dir: Option<PathBuf>,
}

impl KeySource {
    /// The key set they hold now.
    pub fn load(&self) -> Result<KeySet, ServeError> {
        Ok(KeySet::new(load_public_keys(
            &self.files,
            self.dir.as_deref(),
        )?)?)
    }
}

/// What `serve` serves, and how.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The issuer.
    pub issuer: IssuerUrl,
    /// The JWKS path below it.
    pub jwks_path: JwksPath,
    /// The keys.
    pub keys: KeySource,
    /// `Cache-Control: max-age` of both documents.
    pub cache_max_age: u32,
    /// How often the key directory is checked.
    pub reload_interval: Duration,
    /// Connection limits and deadlines.
    pub limits: server::Limits,
}

/// Binds `listen`.
pub async fn bind(listen: &str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(listen)
        .await
        .map_err(|source| ServeError::Bind {
            listen: listen.to_string(),
            source,
        })
}

fn read(path: &Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|source| ServeError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// The TLS configuration of a chain file (server certificate first) and its key. A key file that
/// users other than its owner can read is served all the same (a mounted Secret may be 0644
/// and root-owned in a container of its own), with a warning that says how to close it.
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    warn_if_readable_by_others(key);
    let c = tls::server_config(
        &read(cert)?,
        &cert.display().to_string(),
        &read(key)?,
        &key.display().to_string(),
    )?;
    Ok(Arc::new(c))
}

/// The permission bits that let someone other than the file's owner read it.
const OTHERS_READ: u32 = 0o044;

fn warn_if_readable_by_others(key: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    // Follow symlinks: a Kubernetes Secret volume's file is a symlink to the real one.
    let Ok(meta) = std::fs::metadata(key) else {
        return; // reading it fails next, with its own error
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & OTHERS_READ != 0 {
        tracing::warn!(
            file = %key.display(),
            mode = format!("{mode:04o}"),
            "the TLS private key {} is readable by users other than its owner (mode {mode:04o}): anyone who reads it can impersonate this issuer; restrict it with `chmod 600 {}` (in Kubernetes: defaultMode: 0400 on the Secret volume)",
            key.display(),
            key.display()
        );
    }
}

/// Serves `set` (loaded from `o.keys`) on `listener` until SIGTERM or Ctrl-C; `listening` is
/// called once, with the address and scheme, when the server is ready.
pub async fn serve(
    listener: TcpListener,
    o: &ServeOptions,
    set: &KeySet,
    tls: Option<Arc<rustls::ServerConfig>>,
    listening: impl FnOnce(SocketAddr, &str),
) -> Result<(), ServeError> {
    let state = AppState::new(Snapshot::new(
        &render(set, &o.issuer, &o.jwks_path),
        &o.issuer,
        o.cache_max_age,
    ));
    if o.keys.dir.is_some() {
        spawn_reloader(state.clone(), o.clone());
    }
    let addr = listener.local_addr().map_err(ServeError::Server)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, issuer = %o.issuer, keys = set.keys().len(), "serving");
    listening(addr, scheme);
    server::run(
        listener,
        router(state),
        tls,
        o.limits,
        server::shutdown_signal(),
    )
    .await
    .map_err(ServeError::Server)
}

/// Watches the key directory and swaps in new documents when its published content changes. A
/// change that cannot be loaded (a half-written or broken file) is logged and counted, and the
/// previous documents keep being served until a later change loads.
fn spawn_reloader(state: Arc<AppState>, o: ServeOptions) {
    let Some(dir) = o.keys.dir.clone() else {
        return;
    };
    let kd = crate::rotation::keydir::KeyDir::new(dir);
    tokio::spawn(async move {
        let kd = Arc::new(kd);
        // Reading and parsing the directory is blocking file I/O: it runs on the blocking pool,
        // never on the threads that answer requests.
        let digest_of = |kd: Arc<crate::rotation::keydir::KeyDir>| async move {
            tokio::task::spawn_blocking(move || kd.digest()).await.ok()
        };
        let mut last = digest_of(kd.clone()).await;
        loop {
            tokio::time::sleep(o.reload_interval).await;
            let digest = digest_of(kd.clone()).await;
            if digest == last {
                continue;
            }
            last = digest;
            let keys = o.keys.clone();
            let Ok(loaded) = tokio::task::spawn_blocking(move || keys.load()).await else {
                state.metrics().reload_failed();
                continue;
            };
            match loaded {
                Ok(set) => {
                    let docs = render(&set, &o.issuer, &o.jwks_path);
                    state.replace(Snapshot::new(&docs, &o.issuer, o.cache_max_age));
                    state.metrics().reload_ok();
                    tracing::info!(keys = set.keys().len(), kids = ?set.kids().iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>(), "key directory changed: new documents served");
                }
                Err(e) => {
                    state.metrics().reload_failed();
                    tracing::warn!(error = %crate::errors::chain(&e), "key directory changed but cannot be loaded; still serving the previous documents");
                }
            }
        }
    });
}
