//! TLS plumbing: the one rustls crypto provider, and server configurations from PEM files.

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
