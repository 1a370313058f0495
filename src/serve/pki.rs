//! A throwaway certificate authority for the local quickstart and for tests: root CA, an
//! intermediate, and a server certificate, so the chain a server presents is leaf +
//! intermediate like a real public one (and "last certificate in the chain" is not the leaf).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use zeroize::Zeroizing;

/// A generated CA and server identity, all PEM.
pub struct LocalPki {
    /// The root certificate clients trust (`--cacert`).
    pub ca_cert_pem: String,
    /// The root's private key.
    pub ca_key_pem: Zeroizing<String>,
    /// The intermediate certificate on its own.
    pub intermediate_cert_pem: String,
    /// The server certificate on its own.
    pub leaf_cert_pem: String,
    /// What the server presents: leaf, then intermediate (the root is not sent).
    pub chain_pem: String,
    /// The server certificate's private key.
    pub leaf_key_pem: Zeroizing<String>,
}

/// Why the CA could not be made.
#[derive(Debug, thiserror::Error)]
#[error("could not create the local certificate authority: {0}")]
pub struct PkiError(#[from] rcgen::Error);

fn ca_params(name: &str) -> Result<CertificateParams, PkiError> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name.push(DnType::CommonName, name);
    p.distinguished_name
        .push(DnType::OrganizationName, "irsa-issuer local");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

/// Makes a root CA, an intermediate and a server certificate for `hosts` (DNS names or IP
/// literals), valid from now for about ten years.
pub fn generate(hosts: &[&str]) -> Result<LocalPki, PkiError> {
    let root_key = KeyPair::generate()?;
    let root_params = ca_params("irsa-issuer local root CA")?;
    let root_cert = root_params.self_signed(&root_key)?;
    let root_pem = root_cert.pem();
    let root_key_pem = Zeroizing::new(root_key.serialize_pem());
    let root = Issuer::new(root_params, root_key);

    let int_key = KeyPair::generate()?;
    let int_params = ca_params("irsa-issuer local intermediate CA")?;
    let int_cert = int_params.signed_by(&int_key, &root)?;
    let intermediate = Issuer::new(int_params, int_key);

    let leaf_key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())?;
    leaf.distinguished_name.push(
        DnType::CommonName,
        hosts.first().copied().unwrap_or("localhost"),
    );
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let leaf_cert = leaf.signed_by(&leaf_key, &intermediate)?;

    Ok(LocalPki {
        ca_cert_pem: root_pem,
        ca_key_pem: root_key_pem,
        intermediate_cert_pem: int_cert.pem(),
        chain_pem: format!("{}{}", leaf_cert.pem(), int_cert.pem()),
        leaf_cert_pem: leaf_cert.pem(),
        leaf_key_pem: Zeroizing::new(leaf_key.serialize_pem()),
    })
}
