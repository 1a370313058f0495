//! The webhook's HTTPS surface: `POST /mutate` (AdmissionReview in, AdmissionReview out),
//! `/healthz`, `/readyz` (ready once the ServiceAccount source has loaded) and `/metrics`, on
//! `serve`'s server loop (its limits and graceful shutdown) with a serving certificate reloaded
//! when its files change (a renewed Secret needs no restart).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, Response, StatusCode};
use axum::Router;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use super::accounts::Directory;
use super::mutate::{self, Settings};
use super::review::{self, Target, MAX_BODY_BYTES};
use super::source::{
    ApiOptions, ApiSource, FileSource, Lookup, SourceError, SourceMetrics, GET_OUTCOMES,
};
use crate::serve::server;
use crate::serve::tls::{self, TlsError};

/// Why the webhook could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// A TLS file cannot be read.
    #[error("cannot read {path} (the serving certificate: --tls-cert and --tls-key)")]
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
    /// The ServiceAccount source cannot start.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The server failed.
    #[error("the webhook server failed")]
    Server(#[source] std::io::Error),
}

/// The lowest TLS version offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMinVersion {
    /// TLS 1.2 and 1.3.
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// Where ServiceAccounts come from.
#[derive(Debug, Clone)]
pub enum SourceOptions {
    /// A file, reloaded on change.
    File(PathBuf),
    /// The Kubernetes API.
    Api(ApiOptions),
}

/// Everything `webhook` serves with.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// The mutation's settings.
    pub settings: Settings,
    /// The ServiceAccount source.
    pub source: SourceOptions,
    /// Serving certificate chain (PEM, leaf first).
    pub tls_cert: PathBuf,
    /// Its key.
    pub tls_key: PathBuf,
    /// Lowest TLS version.
    pub tls_min_version: TlsMinVersion,
    /// How often the certificate and the ServiceAccount file are checked for changes.
    pub reload_interval: Duration,
}

/// Results an admission is counted under (`/metrics`), in order.
const RESULTS: [&str; 9] = [
    "mutated",
    "unchanged",
    "no_role",
    "service_account_not_found",
    "lookup_timeout",
    "lookup_error",
    "invalid_pod",
    "ignored",
    "bad_request",
];

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Mutated = 0,
    Unchanged = 1,
    NoRole = 2,
    NotFound = 3,
    TimedOut = 4,
    LookupError = 5,
    InvalidPod = 6,
    Ignored = 7,
    BadRequest = 8,
}

/// Lookup latency histogram buckets, seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The webhook's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    admissions: [AtomicU64; RESULTS.len()],
    lookup_buckets: [AtomicU64; BUCKETS.len()],
    lookup_count: AtomicU64,
    lookup_nanos: AtomicU64,
    /// What the ServiceAccount source counts.
    pub source: Arc<SourceMetrics>,
}

impl Metrics {
    fn admitted(&self, o: Outcome) {
        self.admissions[o as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn lookup_took(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.lookup_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.lookup_count.fetch_add(1, Ordering::Relaxed);
        self.lookup_nanos.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// The state the handlers share.
pub struct AppState {
    dir: Arc<Directory>,
    api: Option<ApiSource>,
    metrics: Metrics,
}

impl AppState {
    /// State over `dir`, with `api` for GETs on a miss (none: a miss is a miss).
    pub fn new(
        dir: Arc<Directory>,
        api: Option<ApiSource>,
        source: Arc<SourceMetrics>,
    ) -> Arc<Self> {
        Arc::new(Self {
            dir,
            api,
            metrics: Metrics {
                source,
                ..Metrics::default()
            },
        })
    }
}

/// The router: `/mutate`, `/healthz`, `/readyz`, `/metrics`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .fallback(handle)
        .with_state(state)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(10),
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    let mut r = Response::new(Body::from(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The plain-HTTP router of `--metrics-port`: `/metrics`, `/healthz`, `/readyz`, no `/mutate`.
pub fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new().fallback(handle_plain).with_state(state)
}

async fn handle_plain(state: State<Arc<AppState>>, request: Request) -> Response<Body> {
    if request.uri().path() == "/mutate" {
        return text(
            StatusCode::NOT_FOUND,
            "not found: /mutate is served over HTTPS only\n",
        );
    }
    handle(state, request).await
}

async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response<Body> {
    let path = request.uri().path();
    let method = request.method().clone();
    match path {
        "/mutate" => {
            if method != Method::POST {
                let mut r = text(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "POST an AdmissionReview to /mutate\n",
                );
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
                state.metrics.admitted(Outcome::BadRequest);
                return r;
            }
            admit(&state, request).await
        }
        "/healthz" | "/readyz" | "/metrics" if method != Method::GET && method != Method::HEAD => {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            r
        }
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" if state.dir.is_ready() => text(StatusCode::OK, "ok\n"),
        "/readyz" => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the ServiceAccounts have not been loaded yet\n",
        ),
        "/metrics" => {
            let mut r = text(StatusCode::OK, render_metrics(&state));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// How much of an oversized body is read (and dropped) so that the client, still sending, gets
/// the 413 instead of a reset connection; past it the connection is simply closed.
const DRAIN_BYTES: usize = 64 * 1024 * 1024;

/// The body, or `None` when it is larger than [`MAX_BODY_BYTES`] (read no further than
/// [`DRAIN_BYTES`], and never kept).
async fn read_body(body: Body) -> Option<bytes::Bytes> {
    use futures_util::StreamExt as _;
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.ok()?;
        seen += chunk.len();
        if seen > DRAIN_BYTES {
            return None;
        }
        if seen <= MAX_BODY_BYTES {
            buf.extend_from_slice(&chunk);
        }
    }
    (seen <= MAX_BODY_BYTES).then(|| buf.freeze())
}

fn json(body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// One admission: check the request, read the review, look the ServiceAccount up, mutate.
async fn admit(state: &AppState, request: Request) -> Response<Body> {
    let bad = |status, message: String| {
        state.metrics.admitted(Outcome::BadRequest);
        debug!(%status, %message, "bad admission request");
        text(status, format!("{message}\n"))
    };
    let content_type = request.headers().get(header::CONTENT_TYPE);
    if !is_json(content_type) {
        let given = content_type
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(none)")
            .to_string();
        return bad(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type is {given}: the webhook takes an AdmissionReview as application/json"
            ),
        );
    }
    let too_large = || {
        format!("the body is larger than {MAX_BODY_BYTES} bytes: an AdmissionReview for one pod is far smaller")
    };
    let body = match read_body(request.into_body()).await {
        Some(b) => b,
        None => return bad(StatusCode::PAYLOAD_TOO_LARGE, too_large()),
    };
    let mut review = match review::parse(&body) {
        Ok(r) => r,
        Err(e) => return bad(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let (namespace, sa, pod_name) = match review.request.target() {
        Target::Pod {
            pod,
            namespace,
            service_account,
        } => (
            namespace.to_string(),
            service_account.to_string(),
            mutate::pod_name(pod).to_string(),
        ),
        Target::Ignore(why) => {
            state.metrics.admitted(Outcome::Ignored);
            debug!(uid = %review.request.uid, %why, "admitted unchanged");
            return json(review::respond(&review, &[], Some(&why)));
        }
    };
    let started = Instant::now();
    let lookup = match (state.dir.get(&namespace, &sa), &state.api) {
        (Some(entry), _) => Lookup::Known(entry),
        (None, Some(api)) => {
            api.fetch(&state.dir, &namespace, &sa, &state.metrics.source)
                .await
        }
        (None, None) => Lookup::Missing,
    };
    state.metrics.lookup_took(started.elapsed());
    let unchanged = |review: &review::Review, o: Outcome, why: String| {
        state.metrics.admitted(o);
        json(review::respond(review, &[], Some(&why)))
    };
    let identity = match lookup {
        Lookup::Known(Some(id)) => id,
        Lookup::Known(None) => {
            return unchanged(
                &review,
                Outcome::NoRole,
                format!("ServiceAccount {namespace}/{sa} names no role"),
            )
        }
        Lookup::Missing => {
            warn!(pod = %pod_name, %namespace, service_account = %sa, "ServiceAccount not found: pod admitted unchanged");
            return unchanged(
                &review,
                Outcome::NotFound,
                format!("ServiceAccount {namespace}/{sa} not found"),
            );
        }
        Lookup::TimedOut => {
            warn!(pod = %pod_name, %namespace, service_account = %sa, "ServiceAccount lookup timed out: pod admitted unchanged");
            return unchanged(
                &review,
                Outcome::TimedOut,
                format!("looking up ServiceAccount {namespace}/{sa} timed out"),
            );
        }
        Lookup::Failed(e) => {
            warn!(pod = %pod_name, %namespace, service_account = %sa, error = %e, "ServiceAccount lookup failed: pod admitted unchanged");
            return unchanged(
                &review,
                Outcome::LookupError,
                format!("looking up ServiceAccount {namespace}/{sa} failed"),
            );
        }
    };
    if !identity.role_arn_looks_valid() {
        warn!(service_account = %sa, %namespace, role_arn = %identity.role_arn, "the role-arn annotation does not look like an IAM role ARN; mutating anyway");
    }
    // The pod is the review's own: mutate it in place rather than copy it.
    let Some(mut pod) = review.request.object.take() else {
        return unchanged(
            &review,
            Outcome::Ignored,
            "the request carries no pod object".into(),
        );
    };
    match mutate::mutate_in_place(&mut pod, &identity, state.dir.settings()) {
        Ok(patch) if patch.is_empty() => {
            debug!(pod = %pod_name, %namespace, "already has its credentials");
            unchanged(&review, Outcome::Unchanged, "nothing to add".into())
        }
        Ok(patch) => {
            state.metrics.admitted(Outcome::Mutated);
            debug!(pod = %pod_name, %namespace, service_account = %sa, role_arn = %identity.role_arn, "mutated");
            json(review::respond(&review, &patch, None))
        }
        Err(e) => {
            warn!(pod = %pod_name, %namespace, error = %e, "pod cannot be read: admitted unchanged");
            unchanged(&review, Outcome::InvalidPod, e.to_string())
        }
    }
}

fn render_metrics(state: &AppState) -> String {
    let m = &state.metrics;
    let mut out = String::new();
    out.push_str("# HELP irsa_issuer_webhook_admissions_total Admission requests answered, by result.\n# TYPE irsa_issuer_webhook_admissions_total counter\n");
    for (i, r) in RESULTS.iter().enumerate() {
        let _ = writeln!(
            out,
            "irsa_issuer_webhook_admissions_total{{result=\"{r}\"}} {}",
            m.admissions[i].load(Ordering::Relaxed)
        );
    }
    out.push_str("# HELP irsa_issuer_webhook_lookup_duration_seconds Time to find a pod's ServiceAccount (the cache, or a GET on a miss).\n# TYPE irsa_issuer_webhook_lookup_duration_seconds histogram\n");
    for (i, b) in BUCKETS.iter().enumerate() {
        let _ = writeln!(
            out,
            "irsa_issuer_webhook_lookup_duration_seconds_bucket{{le=\"{b}\"}} {}",
            m.lookup_buckets[i].load(Ordering::Relaxed)
        );
    }
    let count = m.lookup_count.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "irsa_issuer_webhook_lookup_duration_seconds_bucket{{le=\"+Inf\"}} {count}\nirsa_issuer_webhook_lookup_duration_seconds_sum {}\nirsa_issuer_webhook_lookup_duration_seconds_count {count}",
        m.lookup_nanos.load(Ordering::Relaxed) as f64 / 1e9
    );
    let (known, with_role) = state.dir.counts();
    let s = &m.source;
    let _ = writeln!(
        out,
        "# HELP irsa_issuer_webhook_service_accounts ServiceAccounts known, and those naming a role.\n# TYPE irsa_issuer_webhook_service_accounts gauge\nirsa_issuer_webhook_service_accounts{{role=\"any\"}} {known}\nirsa_issuer_webhook_service_accounts{{role=\"named\"}} {with_role}\n# HELP irsa_issuer_webhook_source_loads_total Loads of the ServiceAccount file, or lists of the API, by result.\n# TYPE irsa_issuer_webhook_source_loads_total counter\nirsa_issuer_webhook_source_loads_total{{result=\"success\"}} {}\nirsa_issuer_webhook_source_loads_total{{result=\"failure\"}} {}\n# HELP irsa_issuer_webhook_watch_events_total ServiceAccount adds, updates and deletes seen by the watch.\n# TYPE irsa_issuer_webhook_watch_events_total counter\nirsa_issuer_webhook_watch_events_total {}",
        s.loads.load(Ordering::Relaxed),
        s.load_failures.load(Ordering::Relaxed),
        s.watch_events.load(Ordering::Relaxed),
    );
    out.push_str("# HELP irsa_issuer_webhook_api_gets_total GETs of a ServiceAccount missing from the cache, by result.\n# TYPE irsa_issuer_webhook_api_gets_total counter\n");
    for (i, r) in GET_OUTCOMES.iter().enumerate() {
        let _ = writeln!(
            out,
            "irsa_issuer_webhook_api_gets_total{{result=\"{r}\"}} {}",
            s.gets[i].load(Ordering::Relaxed)
        );
    }
    out
}

/// The serving certificate, swapped in whole when its files change.
#[derive(Debug)]
pub struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    current: ArcSwap<CertifiedKey>,
}

fn read(path: &Path) -> Result<Vec<u8>, WebhookError> {
    std::fs::read(path).map_err(|source| WebhookError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn certified_key(
    cert_pem: &[u8],
    cert: &Path,
    key_pem: &[u8],
    key: &Path,
) -> Result<CertifiedKey, TlsError> {
    let (cert_file, key_file) = (cert.display().to_string(), key.display().to_string());
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadChain {
            file: cert_file.clone(),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { file: cert_file });
    }
    let private = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::BadKey {
        file: key_file.clone(),
        reason: e.to_string(),
    })?;
    CertifiedKey::from_der(chain, private, &tls::provider()).map_err(|e| TlsError::Config {
        cert: cert_file,
        key: key_file,
        reason: e.to_string(),
    })
}

impl ReloadingCert {
    /// Loads the pair once; fails when it is unusable.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, WebhookError> {
        let ck = certified_key(&read(cert)?, cert, &read(key)?, key)?;
        Ok(Arc::new(Self {
            cert: cert.into(),
            key: key.into(),
            current: ArcSwap::from_pointee(ck),
        }))
    }

    fn digest(&self) -> Option<[u8; 32]> {
        let mut h = Sha256::new();
        h.update(std::fs::read(&self.cert).ok()?);
        h.update(std::fs::read(&self.key).ok()?);
        Some(h.finalize().into())
    }

    /// Checks the files every `interval` and swaps in a changed pair once it loads (a pair
    /// caught half-written is tried again at the next change).
    pub fn spawn_reloader(self: Arc<Self>, interval: Duration) {
        tokio::spawn(async move {
            let mut last = self.digest();
            loop {
                tokio::time::sleep(interval).await;
                let now = self.digest();
                if now.is_none() || now == last {
                    continue;
                }
                let loaded =
                    std::fs::read(&self.cert).and_then(|c| Ok((c, std::fs::read(&self.key)?)));
                match loaded.map_err(|e| e.to_string()).and_then(|(c, k)| {
                    certified_key(&c, &self.cert, &k, &self.key).map_err(|e| e.to_string())
                }) {
                    Ok(ck) => {
                        self.current.store(Arc::new(ck));
                        last = now;
                        info!("serving certificate changed: reloaded");
                    }
                    Err(e) => {
                        warn!(error = %e, "serving certificate changed but cannot be loaded; still serving the previous one")
                    }
                }
            }
        });
    }

    /// A server configuration presenting this certificate.
    pub fn server_config(
        self: &Arc<Self>,
        min: TlsMinVersion,
    ) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let versions: &[&rustls::SupportedProtocolVersion] = match min {
            TlsMinVersion::Tls12 => rustls::DEFAULT_VERSIONS,
            TlsMinVersion::Tls13 => &[&rustls::version::TLS13],
        };
        let mut config = rustls::ServerConfig::builder_with_provider(tls::provider())
            .with_protocol_versions(versions)
            .map_err(|e| TlsError::Config {
                cert: self.cert.display().to_string(),
                key: self.key.display().to_string(),
                reason: e.to_string(),
            })?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// A webhook ready to serve: certificate loaded, source started.
pub struct Prepared {
    state: Arc<AppState>,
    tls: Arc<rustls::ServerConfig>,
}

/// Loads the certificate and starts the ServiceAccount source (a file is read now and must be
/// valid; the API is listed in the background and `/readyz` says when it is done).
pub async fn prepare(o: &WebhookOptions) -> Result<Prepared, WebhookError> {
    let cert = ReloadingCert::load(&o.tls_cert, &o.tls_key)?;
    let tls = cert.server_config(o.tls_min_version)?;
    cert.spawn_reloader(o.reload_interval);
    let dir = Arc::new(Directory::new(Arc::new(o.settings.clone())));
    let source = Arc::new(SourceMetrics::default());
    let api = match &o.source {
        SourceOptions::File(path) => {
            let file = FileSource::new(path, o.reload_interval);
            let (n, digest) = file.load(&dir)?;
            source.loads.fetch_add(1, Ordering::Relaxed);
            info!(accounts = n, file = %path.display(), "ServiceAccounts loaded");
            file.spawn_reloader(dir.clone(), source.clone(), digest);
            None
        }
        SourceOptions::Api(options) => {
            let api = ApiSource::connect(options).await?;
            api.spawn_watch(dir.clone(), source.clone());
            Some(api)
        }
    };
    Ok(Prepared {
        state: AppState::new(dir, api, source),
        tls,
    })
}

/// Serves `p` on `listener` (and `/metrics`, `/healthz`, `/readyz` over plain HTTP on
/// `metrics`, when given) until SIGTERM or Ctrl-C; `listening` is called once bound.
pub async fn serve(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    p: Prepared,
    listening: impl FnOnce(SocketAddr),
) -> Result<(), WebhookError> {
    let addr = listener.local_addr().map_err(WebhookError::Server)?;
    if let Some(m) = metrics {
        let app = metrics_router(p.state.clone());
        tokio::spawn(async move {
            if let Err(e) = server::run(
                m,
                app,
                None,
                server::Limits::default(),
                server::shutdown_signal(),
            )
            .await
            {
                warn!(error = %e, "the metrics server failed");
            }
        });
    }
    info!(%addr, "webhook serving");
    listening(addr);
    server::run(
        listener,
        router(p.state),
        Some(p.tls),
        server::Limits::default(),
        server::shutdown_signal(),
    )
    .await
    .map_err(WebhookError::Server)
}
