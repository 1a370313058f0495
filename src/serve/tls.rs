//! TLS plumbing: the one rustls crypto provider, server configurations from PEM files, and the
//! client side used to fetch an issuer's certificate chain.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// No certificate in the chain file.
    #[error("{file} holds no CERTIFICATE block: give the server certificate followed by its intermediates, as PEM")]
    NoCertificate {
        /// The file.
        file: String,
    },
    /// The chain file is malformed.
    #[error("{file}: cannot read the certificate chain ({reason})")]
    BadChain {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// The key file is malformed or missing a key.
    #[error("{file}: cannot read a private key ({reason}); give the server certificate's key as PEM (PKCS#8, PKCS#1 or SEC1, unencrypted)")]
    BadKey {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// A TLS connection to a server failed.
    #[error("TLS connection to {host} failed: {reason}. If the server uses a private CA, pass it with --ca-file")]
    Handshake {
        /// host:port.
        host: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the pair.
    #[error("the certificate in {cert} and the key in {key} do not make a usable TLS identity: {reason}")]
    Config {
        /// The chain file.
        cert: String,
        /// The key file.
        key: String,
        /// What rustls said.
        reason: String,
    },
}

/// The process's crypto provider: aws-lc-rs, which the AWS SDK brings anyway.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Installs [`provider`] as the process default, once, before anything builds a TLS config, so
/// that no two providers in the dependency tree race to be the default.
pub fn install_default_provider() {
    // Err means one is installed already (a second call): nothing to do.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A server configuration presenting the chain in `cert_pem` exactly in the order given (leaf
/// first, then intermediates), with HTTP/2 and HTTP/1.1 offered by ALPN.
pub fn server_config(
    cert_pem: &[u8],
    cert_file: &str,
    key_pem: &[u8],
    key_file: &str,
) -> Result<rustls::ServerConfig, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadChain {
            file: cert_file.into(),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            file: cert_file.into(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::BadKey {
        file: key_file.into(),
        reason: e.to_string(),
    })?;
    let config_err = |e: rustls::Error| TlsError::Config {
        cert: cert_file.into(),
        key: key_file.into(),
        reason: e.to_string(),
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(config_err)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(config_err)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A client configuration trusting the Mozilla root set (what public relying parties such as
/// STS trust) plus the certificates in `extra_ca_pem` (a private CA, a test CA).
pub fn client_config(
    extra_ca_pem: Option<(&[u8], &str)>,
) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some((pem, file)) = extra_ca_pem {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::BadChain {
                file: file.into(),
                reason: e.to_string(),
            })?;
        if certs.is_empty() {
            return Err(TlsError::NoCertificate { file: file.into() });
        }
        for c in certs {
            roots.add(c).map_err(|e| TlsError::BadChain {
                file: file.into(),
                reason: e.to_string(),
            })?;
        }
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Handshake {
            host: String::new(),
            reason: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Connects to `host:port` (or to `connect_to`, still naming `host` in SNI and verification),
/// completes a verified TLS handshake and returns the chain exactly as the server sent it.
#[tracing::instrument(skip_all, fields(host, port))]
pub async fn fetch_chain(
    host: &str,
    port: u16,
    connect_to: Option<std::net::SocketAddr>,
    config: Arc<rustls::ClientConfig>,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |reason: String| TlsError::Handshake {
        host: format!("{host}:{port}"),
        reason,
    };
    let name =
        rustls_pki_types::ServerName::try_from(host.to_string()).map_err(|e| err(e.to_string()))?;
    let connect = async {
        let tcp = match connect_to {
            Some(addr) => tokio::net::TcpStream::connect(addr).await,
            None => tokio::net::TcpStream::connect((host, port)).await,
        }
        .map_err(|e| err(format!("cannot connect: {e}")))?;
        tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| err(e.to_string()))
    };
    let tls = tokio::time::timeout(std::time::Duration::from_secs(15), connect)
        .await
        .map_err(|_| err("timed out after 15 s".into()))??;
    let chain = tls
        .get_ref()
        .1
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .map(|c| c.clone().into_owned())
        .collect::<Vec<_>>();
    if chain.is_empty() {
        return Err(err("the server presented no certificate".into()));
    }
    Ok(chain)
}

/// Whether `chain` (leaf first, as a server sends it) verifies for `host` against the Mozilla
/// root set alone: a chain AWS trusts through its own library of CAs, for which IAM does not use
/// a provider's thumbprint.
pub fn chains_to_public_root(chain: &[CertificateDer<'static>], host: &str) -> bool {
    let Some((leaf, intermediates)) = chain.split_first() else {
        return false;
    };
    let Ok(name) = rustls_pki_types::ServerName::try_from(host.to_string()) else {
        return false;
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let Ok(verifier) =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
    else {
        return false;
    };
    use rustls::client::danger::ServerCertVerifier as _;
    verifier
        .verify_server_cert(
            leaf,
            intermediates,
            &name,
            &[],
            rustls_pki_types::UnixTime::now(),
        )
        .is_ok()
}
