//! The issuer's HTTP surface: an axum router over documents rendered once per key set.
//!
//! Every response body, `ETag` and header value is built in [`Snapshot::new`] when a key set is
//! loaded; a request only looks the path up and clones reference-counted bytes. A reload swaps
//! the whole snapshot atomically, so a reader never sees a discovery document and a JWKS from two
//! different key sets.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::oidc::documents::Documents;
use crate::oidc::issuer::{IssuerUrl, DISCOVERY_PATH};
use crate::oidc::keys::{Algorithm, KeyId};
use crate::publish::objects::{JSON, JWK_SET_JSON};

/// Default `Cache-Control: max-age` (seconds): short enough that a rotation's new key reaches
/// relying parties quickly, long enough to absorb bursts.
pub const DEFAULT_CACHE_MAX_AGE: u32 = 300;

/// Which endpoint a request hit (the `route` label of the request counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Discovery,
    Jwks,
    Healthz,
    Readyz,
    Metrics,
    Other,
}

const ROUTES: [(Route, &str); 6] = [
    (Route::Discovery, "discovery"),
    (Route::Jwks, "jwks"),
    (Route::Healthz, "healthz"),
    (Route::Readyz, "readyz"),
    (Route::Metrics, "metrics"),
    (Route::Other, "other"),
];
const STATUSES: [u16; 7] = [200, 304, 404, 405, 408, 500, 0];

/// One pre-rendered document.
#[derive(Debug, Clone)]
struct Doc {
    route: Route,
    body: Bytes,
    etag: HeaderValue,
    content_type: HeaderValue,
    cache_control: HeaderValue,
}

/// Everything the server answers with for one key set.
#[derive(Debug)]
pub struct Snapshot {
    docs: HashMap<String, Doc>,
    kids: Vec<(KeyId, Algorithm)>,
}

impl Snapshot {
    /// Renders the responses for `documents` served below `issuer`'s path.
    pub fn new(documents: &Documents, issuer: &IssuerUrl, cache_max_age: u32) -> Self {
        let cache_control = HeaderValue::from_str(&format!("public, max-age={cache_max_age}"))
            .unwrap_or(HeaderValue::from_static("no-cache"));
        let doc = |route, body: &[u8], content_type: &'static str| Doc {
            route,
            etag: etag(body),
            body: Bytes::copy_from_slice(body),
            content_type: HeaderValue::from_static(content_type),
            cache_control: cache_control.clone(),
        };
        let mut docs = HashMap::new();
        docs.insert(
            issuer.server_path(DISCOVERY_PATH),
            doc(Route::Discovery, &documents.discovery, JSON),
        );
        docs.insert(
            issuer.server_path(documents.jwks_path.as_str()),
            doc(Route::Jwks, &documents.jwks, JWK_SET_JSON),
        );
        Self {
            docs,
            kids: documents.kids.clone(),
        }
    }
}

/// A strong validator: the body's SHA-256, so equal bodies on every replica share an ETag.
fn etag(body: &[u8]) -> HeaderValue {
    let tag = format!("\"{}\"", URL_SAFE_NO_PAD.encode(Sha256::digest(body)));
    HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\""))
}

/// Request and reload counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: [[AtomicU64; STATUSES.len()]; ROUTES.len()],
    reloads: AtomicU64,
    reload_failures: AtomicU64,
}

impl Metrics {
    fn count(&self, route: Route, status: StatusCode) {
        let r = ROUTES
            .iter()
            .position(|(x, _)| *x == route)
            .unwrap_or(ROUTES.len() - 1);
        let s = STATUSES
            .iter()
            .position(|x| *x == status.as_u16())
            .unwrap_or(STATUSES.len() - 1);
        self.requests[r][s].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a successful reload of the key set.
    pub fn reload_ok(&self) {
        self.reloads.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a reload that failed (the previous documents stay).
    pub fn reload_failed(&self) {
        self.reload_failures.fetch_add(1, Ordering::Relaxed);
    }
}

/// The server's shared state: the current snapshot and the counters.
#[derive(Debug)]
pub struct AppState {
    snapshot: ArcSwap<Snapshot>,
    metrics: Metrics,
    timeout: Duration,
}

impl AppState {
    /// State serving `snapshot`.
    pub fn new(snapshot: Snapshot) -> Arc<Self> {
        Arc::new(Self {
            snapshot: ArcSwap::from_pointee(snapshot),
            metrics: Metrics::default(),
            timeout: Duration::from_secs(10),
        })
    }

    /// Replaces the served documents in one step.
    pub fn replace(&self, snapshot: Snapshot) {
        self.snapshot.store(Arc::new(snapshot));
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// The router: the two documents under the issuer's path, `/healthz`, `/readyz`, `/metrics`.
pub fn router(state: Arc<AppState>) -> Router {
    let timeout = state.timeout;
    Router::new()
        .fallback(handle)
        .with_state(state)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response<Body> {
    let snapshot = state.snapshot.load();
    let path = request.uri().path();
    let (route, response) = match snapshot.docs.get(path) {
        Some(doc) => (
            doc.route,
            document(doc, request.method(), request.headers()),
        ),
        None => {
            let route = match path {
                "/healthz" => Route::Healthz,
                "/readyz" => Route::Readyz,
                "/metrics" => Route::Metrics,
                _ => Route::Other,
            };
            let response = match (route, request.method()) {
                (Route::Other, _) => plain(StatusCode::NOT_FOUND, "not found\n"),
                (_, m) if m != Method::GET && m != Method::HEAD => method_not_allowed(),
                (Route::Metrics, m) => {
                    let mut r = plain(StatusCode::OK, "");
                    let body = render_metrics(&state.metrics, &snapshot);
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                    );
                    if m == Method::GET {
                        *r.body_mut() = Body::from(body);
                    }
                    r
                }
                // A loaded snapshot is the only state there is: once serving, ready.
                _ => plain(StatusCode::OK, "ok\n"),
            };
            (route, response)
        }
    };
    state.metrics.count(route, response.status());
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn method_not_allowed() -> Response<Body> {
    let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    r
}

fn document(doc: &Doc, method: &Method, headers: &HeaderMap) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed();
    }
    let not_modified = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .any(|v| etag_matches(v.as_bytes(), doc.etag.as_bytes()));
    let (status, body) = if not_modified {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else if method == Method::HEAD {
        (StatusCode::OK, Body::empty())
    } else {
        (StatusCode::OK, Body::from(doc.body.clone()))
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::ETAG, doc.etag.clone());
    h.insert(header::CACHE_CONTROL, doc.cache_control.clone());
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if status == StatusCode::OK {
        h.insert(header::CONTENT_TYPE, doc.content_type.clone());
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(doc.body.len()));
    }
    r
}

/// `If-None-Match` uses the weak comparison (RFC 9110 13.1.2): `W/"x"` matches `"x"`.
fn etag_matches(if_none_match: &[u8], etag: &[u8]) -> bool {
    if_none_match.split(|b| *b == b',').any(|candidate| {
        let c = candidate.trim_ascii();
        c == b"*" || c.strip_prefix(b"W/").unwrap_or(c) == etag
    })
}

fn render_metrics(m: &Metrics, snapshot: &Snapshot) -> String {
    let mut out = String::new();
    out.push_str(
        "# HELP irsa_issuer_http_requests_total HTTP requests answered, by route and status.\n",
    );
    out.push_str("# TYPE irsa_issuer_http_requests_total counter\n");
    for (r, (_, route)) in ROUTES.iter().enumerate() {
        for (s, status) in STATUSES.iter().enumerate() {
            let n = m.requests[r][s].load(Ordering::Relaxed);
            if n > 0 {
                let status = if *status == 0 {
                    "other".to_string()
                } else {
                    status.to_string()
                };
                let _ = writeln!(
                    out,
                    "irsa_issuer_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
    }
    out.push_str(
        "# HELP irsa_issuer_key_info Keys in the served JWKS.\n# TYPE irsa_issuer_key_info gauge\n",
    );
    for (kid, alg) in &snapshot.kids {
        let _ = writeln!(out, "irsa_issuer_key_info{{kid=\"{kid}\",alg=\"{alg}\"}} 1");
    }
    let _ = writeln!(out, "# HELP irsa_issuer_keys Number of keys in the served JWKS.\n# TYPE irsa_issuer_keys gauge\nirsa_issuer_keys {}", snapshot.kids.len());
    let _ = writeln!(
        out,
        "# HELP irsa_issuer_reloads_total Key-set reloads, by result.\n# TYPE irsa_issuer_reloads_total counter\nirsa_issuer_reloads_total{{result=\"success\"}} {}\nirsa_issuer_reloads_total{{result=\"failure\"}} {}",
        m.reloads.load(Ordering::Relaxed),
        m.reload_failures.load(Ordering::Relaxed)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_comparison() {
        assert!(etag_matches(b"\"abc\"", b"\"abc\""));
        assert!(etag_matches(b"W/\"abc\"", b"\"abc\""));
        assert!(etag_matches(b"\"x\", \"abc\"", b"\"abc\""));
        assert!(etag_matches(b"*", b"\"abc\""));
        assert!(!etag_matches(b"\"abd\"", b"\"abc\""));
        assert!(!etag_matches(b"abc", b"\"abc\""));
    }
}
