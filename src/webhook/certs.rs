//! The webhook's serving certificate for `webhook install`: a CA made for this one certificate
//! (its key is dropped once it has signed, so nothing else can ever be signed by it) and a
//! server certificate for the Service's names. Key generation uses the OS's randomness, so this
//! is an adapter; the time is a parameter.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use zeroize::Zeroizing;

use super::install::Issued;

/// Why the certificates could not be made.
#[derive(Debug, thiserror::Error)]
#[error("could not create the webhook's certificates: {0}")]
pub struct CertError(#[from] rcgen::Error);

/// A CA and a serving certificate for `dns_names` (the first is the subject's CN), valid from
/// an hour before `now` (clock skew between nodes) for `days`.
pub fn issue(
    dns_names: &[String],
    now: time::OffsetDateTime,
    days: u32,
) -> Result<Issued, CertError> {
    let not_before = now - time::Duration::hours(1);
    let not_after = now + time::Duration::days(i64::from(days));
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "irsa-issuer webhook CA");
    ca.distinguished_name
        .push(DnType::OrganizationName, "irsa-issuer");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_cert = ca.self_signed(&ca_key)?;
    let ca_issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(dns_names.to_vec())?;
    leaf.distinguished_name.push(
        DnType::CommonName,
        dns_names.first().map(String::as_str).unwrap_or("webhook"),
    );
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let cert = leaf.signed_by(&key, &ca_issuer)?;
    Ok(Issued {
        ca_cert_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: Zeroizing::new(key.serialize_pem()),
    })
}
