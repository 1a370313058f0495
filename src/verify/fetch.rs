//! Fetching an issuer's documents over HTTPS the way a relying party (AWS STS) does, and the
//! thumbprints IAM wants for it.

use std::net::SocketAddr;
use std::sync::Arc;

use serde::Serialize;
use tracing::instrument;

use crate::aws::names::Thumbprint;
use crate::oidc::issuer::IssuerUrl;
use crate::serve::tls::{self, TlsError};

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// TLS failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// HTTP failed: no answer, or not a success.
    #[error("GET {url} failed: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// Why, in words (the cause's own message included, with what to do).
        reason: String,
        /// The HTTP client's error, when there is one.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// The answer is not JSON.
    #[error("GET {url}: the answer is not JSON: {source}")]
    NotJson {
        /// The URL.
        url: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A URL in a document is unusable.
    #[error("{0}")]
    Url(String),
    /// The response is larger than any discovery document or JWKS can be.
    #[error("GET {url}: the response is larger than {} KiB, more than any discovery document or JWKS (100 RSA-4096 keys take about 90 KiB); reading stopped there. Check that the URL serves the issuer's documents and not a large file or an endless stream", .limit / 1024)]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap, in bytes.
        limit: usize,
    },
}

/// The most bytes read from one fetched document (discovery or JWKS). A JWKS at its 100-key cap
/// of RSA-4096 keys is about 90 KiB; a server sending more is broken or hostile, and an endless
/// body must not grow this process's memory until the timeout.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// How to reach the issuer: one HTTP client (its connections are reused from GET to GET).
#[derive(Debug, Clone)]
pub struct Fetcher {
    config: Arc<rustls::ClientConfig>,
    connect_to: Option<SocketAddr>,
    client: reqwest::Client,
}

/// Resolves every host name to one address (`--connect-to`); the port stays the URL's.
struct ConnectTo(SocketAddr);

impl reqwest::dns::Resolve for ConnectTo {
    fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let addr = self.0;
        Box::pin(async move { Ok(Box::new(std::iter::once(addr)) as reqwest::dns::Addrs) })
    }
}

/// The thumbprint of one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostThumbprint {
    /// host:port.
    pub host: String,
    /// SHA-1 of the last certificate the host presented.
    pub thumbprint: Thumbprint,
    /// How many certificates it presented.
    pub chain_length: usize,
    /// Which URL led here (`issuer` or `jwks_uri`).
    pub role: &'static str,
    /// Whether the chain verifies against the public (Mozilla) roots alone: then AWS trusts it
    /// through its own CA library and IAM does not use the thumbprint.
    pub public_ca: bool,
}

impl Fetcher {
    /// A fetcher trusting public roots plus `ca_pem`, connecting to `connect_to` instead of
    /// resolving host names when given (SNI and verification still use the URL's host).
    pub fn new(
        ca_pem: Option<(&[u8], &str)>,
        connect_to: Option<SocketAddr>,
    ) -> Result<Self, FetchError> {
        let config = Arc::new(tls::client_config(ca_pem)?);
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls((*config).clone())
            .timeout(std::time::Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(addr) = connect_to {
            builder = builder.dns_resolver(Arc::new(ConnectTo(addr)));
        }
        let client = builder.build().map_err(|e| FetchError::Http {
            url: String::new(),
            reason: format!("the HTTP client cannot be set up: {e}"),
            source: Some(e),
        })?;
        Ok(Self {
            config,
            connect_to,
            client,
        })
    }

    /// GETs `url` and returns the body and `Content-Type`.
    #[instrument(skip_all, fields(url))]
    pub async fn get(&self, url: &str) -> Result<(Vec<u8>, Option<String>), FetchError> {
        let http = |reason: String, source: Option<reqwest::Error>| FetchError::Http {
            url: url.to_string(),
            reason,
            source,
        };
        url::Url::parse(url).map_err(|e| http(e.to_string(), None))?;
        let mut resp = self.client.get(url).send().await.map_err(|e| {
            let chain = crate::errors::chain(&e);
            if chain.contains("certificate") {
                http(
                    format!("{chain}; if the issuer uses a private CA, pass it with --ca-file"),
                    Some(e),
                )
            } else {
                http(chain, Some(e))
            }
        })?;
        let status = resp.status();
        if !status.is_success() {
            return Err(http(format!("HTTP {status}"), None));
        }
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let too_large = || FetchError::TooLarge {
            url: url.to_string(),
            limit: MAX_DOCUMENT_BYTES,
        };
        // A declared length over the cap is refused before reading; an undeclared (chunked or
        // endless) body is read chunk by chunk and abandoned as soon as it passes the cap.
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| http(crate::errors::chain(&e), Some(e)))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, ct))
    }

    /// The discovery document of `issuer`, parsed as JSON.
    pub async fn discovery(&self, issuer: &IssuerUrl) -> Result<serde_json::Value, FetchError> {
        let url = issuer.discovery_url();
        let (body, _) = self.get(&url).await?;
        serde_json::from_slice(&body).map_err(|source| FetchError::NotJson { url, source })
    }

    /// The thumbprint of `host:port`: SHA-1 of the last certificate of the chain it presents,
    /// following AWS's procedure for OIDC providers.
    pub async fn thumbprint(
        &self,
        host: &str,
        port: u16,
        role: &'static str,
    ) -> Result<HostThumbprint, FetchError> {
        let chain = tls::fetch_chain(host, port, self.connect_to, self.config.clone()).await?;
        let last = chain
            .last()
            .ok_or_else(|| FetchError::Url(format!("{host}:{port} presented no certificate")))?;
        Ok(HostThumbprint {
            host: format!("{host}:{port}"),
            thumbprint: Thumbprint::of_der(last),
            chain_length: chain.len(),
            role,
            public_ca: tls::chains_to_public_root(&chain, host),
        })
    }

    /// Thumbprints for an issuer: its `jwks_uri` host (what IAM uses), and the issuer's own host
    /// when it differs.
    pub async fn issuer_thumbprints(
        &self,
        issuer: &IssuerUrl,
    ) -> Result<Vec<HostThumbprint>, FetchError> {
        let disc = self.discovery(issuer).await?;
        let jwks_uri = disc["jwks_uri"].as_str().ok_or_else(|| {
            FetchError::Url(format!(
                "the discovery document of {issuer} has no jwks_uri"
            ))
        })?;
        let j = url::Url::parse(jwks_uri)
            .map_err(|e| FetchError::Url(format!("jwks_uri {jwks_uri} is not a URL: {e}")))?;
        if j.scheme() != "https" {
            return Err(FetchError::Url(format!(
                "jwks_uri {jwks_uri} is not https: STS only fetches keys over https"
            )));
        }
        let jhost = j.host_str().unwrap_or_default().to_string();
        let jport = j.port_or_known_default().unwrap_or(443);
        let mut out = vec![self.thumbprint(&jhost, jport, "jwks_uri").await?];
        if (jhost.as_str(), jport) != (issuer.host(), issuer.port_or_default()) {
            out.push(
                self.thumbprint(issuer.host(), issuer.port_or_default(), "issuer")
                    .await?,
            );
        }
        Ok(out)
    }
}
