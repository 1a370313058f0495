//! Where the webhook's ServiceAccounts come from, filling its [`Directory`]:
//! - [`FileSource`]: a YAML file (`--service-accounts`), loaded at start and reloaded when its
//!   content changes; a change that cannot be read is logged and counted, and the previous
//!   ServiceAccounts stay.
//! - [`ApiSource`]: the Kubernetes API through `kube`: a watch of every ServiceAccount into the
//!   directory (relisted whole on each restart of the watch), and on a miss one GET bounded by
//!   the lookup timeout, so that no admission waits longer than that however stuck the API is.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use k8s_openapi::api::core::v1::ServiceAccount as KubeServiceAccount;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt as _;
use sha2::{Digest, Sha256};
use tracing::{debug, info, instrument, warn};

use super::accounts::{parse_file, AccountsError, Directory, Entry, ServiceAccount};

/// Why a source could not start.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file cannot be read.
    #[error("cannot read the ServiceAccount file {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a ServiceAccount file.
    #[error(transparent)]
    Parse(#[from] AccountsError),
    /// No way to reach the API server.
    #[error("cannot configure the Kubernetes client ({0}): in a cluster, run the webhook in a pod with a ServiceAccount; elsewhere pass --kubeconfig FILE, --kube-api URL, or --service-accounts FILE")]
    Config(String),
}

/// Counters the sources keep for `/metrics`.
#[derive(Debug, Default)]
pub struct SourceMetrics {
    /// Successful (re)loads of the file, or completed (re)lists of the watch.
    pub loads: AtomicU64,
    /// File changes that could not be read, or watch errors.
    pub load_failures: AtomicU64,
    /// Watch events applied (adds, updates, deletes).
    pub watch_events: AtomicU64,
    /// GETs made on a miss, by outcome: found, not found, failed, timed out.
    pub gets: [AtomicU64; 4],
}

/// Index of [`SourceMetrics::gets`].
#[derive(Debug, Clone, Copy)]
pub enum GetOutcome {
    /// The ServiceAccount exists.
    Found = 0,
    /// The API says it does not.
    NotFound = 1,
    /// The API answered with an error.
    Failed = 2,
    /// No answer within the lookup timeout.
    TimedOut = 3,
}

/// Labels of [`GetOutcome`], in order.
pub const GET_OUTCOMES: [&str; 4] = ["found", "not_found", "error", "timeout"];

fn count(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// The ServiceAccount, from the directory or a GET.
    Known(Entry),
    /// It does not exist (or is not in the file).
    Missing,
    /// The API did not answer within the lookup timeout.
    TimedOut,
    /// The API answered with an error.
    Failed(String),
}

/// `--service-accounts FILE`.
#[derive(Debug, Clone)]
pub struct FileSource {
    path: PathBuf,
    interval: Duration,
}

fn read(path: &Path) -> Result<Vec<u8>, SourceError> {
    std::fs::read(path).map_err(|source| SourceError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Reads the ServiceAccounts of a file.
pub fn read_file(path: &Path) -> Result<Vec<ServiceAccount>, SourceError> {
    let bytes = read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let parsed = parse_file(&text, &path.display().to_string())?;
    Ok(parsed.accounts)
}

impl FileSource {
    /// The file at `path`, checked for changes every `interval`.
    pub fn new(path: impl Into<PathBuf>, interval: Duration) -> Self {
        Self {
            path: path.into(),
            interval,
        }
    }

    /// Loads the file into `dir` (replacing what it held); returns how many ServiceAccounts it
    /// holds and the content's digest.
    #[instrument(skip_all, fields(path = %self.path.display()))]
    pub fn load(&self, dir: &Directory) -> Result<(usize, [u8; 32]), SourceError> {
        let bytes = read(&self.path)?;
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        let text = String::from_utf8_lossy(&bytes);
        let parsed = parse_file(&text, &self.path.display().to_string())?;
        dir.replace_all(&parsed.accounts);
        Ok((parsed.accounts.len(), digest))
    }

    /// Checks the file every interval and reloads it when its content changed.
    pub fn spawn_reloader(self, dir: Arc<Directory>, metrics: Arc<SourceMetrics>, first: [u8; 32]) {
        tokio::spawn(async move {
            let mut last = first;
            loop {
                tokio::time::sleep(self.interval).await;
                let Ok(bytes) = std::fs::read(&self.path) else {
                    // Missing for a moment (a ConfigMap's symlink swap): try again next time.
                    continue;
                };
                let digest: [u8; 32] = Sha256::digest(&bytes).into();
                if digest == last {
                    continue;
                }
                last = digest;
                let text = String::from_utf8_lossy(&bytes);
                match parse_file(&text, &self.path.display().to_string()) {
                    Ok(parsed) => {
                        dir.replace_all(&parsed.accounts);
                        count(&metrics.loads);
                        info!(
                            accounts = parsed.accounts.len(),
                            "ServiceAccount file changed: reloaded"
                        );
                    }
                    Err(e) => {
                        count(&metrics.load_failures);
                        warn!(error = %e, "ServiceAccount file changed but cannot be read; keeping the previous ServiceAccounts");
                    }
                }
            }
        });
    }
}

/// How to reach the Kubernetes API.
#[derive(Debug, Clone, Default)]
pub struct ApiOptions {
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--kube-api`: the API server's URL (overrides the kubeconfig's).
    pub api_url: Option<String>,
    /// How long a GET on a miss may take.
    pub lookup_timeout: Duration,
    /// How many GETs may be in flight at once (more wait, within the same timeout).
    pub max_concurrent_gets: usize,
}

/// The Kubernetes API as a ServiceAccount source.
#[derive(Clone)]
pub struct ApiSource {
    client: kube::Client,
    timeout: Duration,
    permits: Arc<tokio::sync::Semaphore>,
}

fn from_kube(sa: &KubeServiceAccount) -> Option<ServiceAccount> {
    let m = &sa.metadata;
    Some(ServiceAccount {
        namespace: m.namespace.clone().filter(|n| !n.is_empty())?,
        name: m.name.clone().filter(|n| !n.is_empty())?,
        annotations: m.annotations.clone().unwrap_or_default(),
    })
}

impl ApiSource {
    /// A client from `o`: `--kubeconfig` (with `--kube-api` overriding its server), `--kube-api`
    /// alone (no credentials: a local proxy or a test), else the in-cluster ServiceAccount (or
    /// `$KUBECONFIG`, `~/.kube/config`).
    pub async fn connect(o: &ApiOptions) -> Result<Self, SourceError> {
        let e = |e: &dyn std::fmt::Display| SourceError::Config(e.to_string());
        let mut config = match (&o.kubeconfig, &o.api_url) {
            (Some(path), _) => {
                let kc = kube::config::Kubeconfig::read_from(path)
                    .map_err(|x| SourceError::Config(format!("{}: {x}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kc, &Default::default())
                    .await
                    .map_err(|x| e(&x))?
            }
            (None, Some(url)) => kube::Config::new(
                url.parse()
                    .map_err(|x| SourceError::Config(format!("--kube-api {url}: {x}")))?,
            ),
            (None, None) => kube::Config::infer().await.map_err(|x| e(&x))?,
        };
        if let (Some(_), Some(url)) = (&o.kubeconfig, &o.api_url) {
            config.cluster_url = url
                .parse()
                .map_err(|x| SourceError::Config(format!("--kube-api {url}: {x}")))?;
        }
        let client = kube::Client::try_from(config).map_err(|x| e(&x))?;
        Ok(Self {
            client,
            timeout: o.lookup_timeout,
            permits: Arc::new(tokio::sync::Semaphore::new(o.max_concurrent_gets.max(1))),
        })
    }

    /// Watches every ServiceAccount into `dir`: each (re)list replaces the directory whole and
    /// marks it ready; adds, updates and deletes are applied as they come. Errors are logged,
    /// counted and retried with backoff.
    pub fn spawn_watch(&self, dir: Arc<Directory>, metrics: Arc<SourceMetrics>) {
        let api = kube::Api::<KubeServiceAccount>::all(self.client.clone());
        tokio::spawn(async move {
            let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
            futures_util::pin_mut!(stream);
            let mut listing: Vec<ServiceAccount> = Vec::new();
            while let Some(event) = stream.next().await {
                match event {
                    Ok(Event::Init) => listing.clear(),
                    Ok(Event::InitApply(sa)) => listing.extend(from_kube(&sa)),
                    Ok(Event::InitDone) => {
                        dir.replace_all(&listing);
                        count(&metrics.loads);
                        info!(accounts = listing.len(), "ServiceAccounts listed; watching");
                        listing = Vec::new();
                    }
                    Ok(Event::Apply(sa)) => {
                        if let Some(sa) = from_kube(&sa) {
                            dir.insert(&sa);
                            count(&metrics.watch_events);
                            debug!(namespace = %sa.namespace, name = %sa.name, "ServiceAccount added or changed");
                        }
                    }
                    Ok(Event::Delete(sa)) => {
                        if let Some(sa) = from_kube(&sa) {
                            dir.remove(&sa.namespace, &sa.name);
                            count(&metrics.watch_events);
                            debug!(namespace = %sa.namespace, name = %sa.name, "ServiceAccount deleted");
                        }
                    }
                    Err(e) => {
                        count(&metrics.load_failures);
                        warn!(error = %e, "watching ServiceAccounts failed; retrying");
                    }
                }
            }
        });
    }

    /// One GET for a ServiceAccount the directory does not know, bounded by the lookup timeout
    /// (waiting for a free slot included); what it finds goes into `dir`.
    #[instrument(skip_all, fields(namespace, name))]
    pub async fn fetch(
        &self,
        dir: &Directory,
        namespace: &str,
        name: &str,
        metrics: &SourceMetrics,
    ) -> Lookup {
        let api = kube::Api::<KubeServiceAccount>::namespaced(self.client.clone(), namespace);
        let get = async {
            let _permit = self.permits.acquire().await;
            api.get_opt(name).await
        };
        match tokio::time::timeout(self.timeout, get).await {
            Err(_) => {
                count(&metrics.gets[GetOutcome::TimedOut as usize]);
                Lookup::TimedOut
            }
            Ok(Err(e)) => {
                count(&metrics.gets[GetOutcome::Failed as usize]);
                Lookup::Failed(e.to_string())
            }
            Ok(Ok(None)) => {
                count(&metrics.gets[GetOutcome::NotFound as usize]);
                Lookup::Missing
            }
            Ok(Ok(Some(sa))) => {
                count(&metrics.gets[GetOutcome::Found as usize]);
                match from_kube(&sa) {
                    Some(sa) => Lookup::Known(dir.insert(&sa)),
                    None => Lookup::Missing,
                }
            }
        }
    }
}
