//! The fuzz targets' bodies, one function per target, shared by the libFuzzer entry points in
//! fuzz/fuzz_targets/ (nightly) and by tests/fuzz_regressions.rs (stable), which replays every
//! input that once crashed a target. A function panics only on a bug: a parser that panics, or
//! a property that does not hold.
#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use irsa_issuer::aws::names::{validate_bucket, Partition, S3Location, Thumbprint};
use irsa_issuer::aws::trust::ServiceAccountRef;
use irsa_issuer::oidc::issuer::{IssuerUrl, JwksPath};
use irsa_issuer::oidc::keys::{dedup, parse_pem};
use irsa_issuer::oidc::token::{lifetime, service_account_of, string_like, Token};
use irsa_issuer::verify::checks::{
    check_discovery, check_jwks, check_token, derived_kid, RoleTrust,
};

fn issuer() -> IssuerUrl {
    IssuerUrl::parse("https://oidc.example.com/c", false).expect("a valid issuer")
}

// ---- keys ------------------------------------------------------------------------------------

const LABELS: &[&str] = &[
    "PUBLIC KEY",
    "RSA PUBLIC KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "PRIVATE KEY",
    "CERTIFICATE",
    "EC PARAMETERS",
    "ENCRYPTED PRIVATE KEY",
    "DSA PRIVATE KEY",
    "OPENSSH PRIVATE KEY",
    "CERTIFICATE REQUEST",
    "X",
];

fn key_file(data: &[u8]) {
    if let Ok(keys) = parse_pem(data, "fuzz.pem") {
        for k in dedup(keys) {
            // What the callers do with a key: its kid, its JWK, its PEM (round trip).
            let _ = k.key.kid().as_str();
            let _ = irsa_issuer::oidc::documents::Jwk::from_key(&k.key);
            let again =
                parse_pem(k.key.to_pem().as_bytes(), "again.pem").expect("a key's own PEM parses");
            assert_eq!(
                again[0].key.kid(),
                k.key.kid(),
                "kid changes on a PEM round trip"
            );
        }
    }
}

/// Key files as `--key`, `keys kid`, `keys.files` and the key directory read them: any bytes
/// through `parse_pem`, and, so that the DER decoders behind every label are reached without
/// the fuzzer having to discover base64, the input's tail wrapped as the DER body of a PEM
/// block whose label the first byte picks.
pub fn keys(data: &[u8]) {
    key_file(data);
    if let Some((&selector, der)) = data.split_first() {
        let label = LABELS[usize::from(selector) % LABELS.len()];
        let block = pem::Pem::new(label, der.to_vec());
        key_file(pem::encode(&block).as_bytes());
    }
}

// ---- documents -------------------------------------------------------------------------------

// A token header and claims, with a signature that never verifies: enough to reach verify().
const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJpc3MiOiJodHRwczovL29pZGMuZXhhbXBsZS5jb20vYyIsImF1ZCI6WyJzdHMuYW1hem9uYXdzLmNvbSJdLCJleHAiOjIwMDAwMDAwMDAsInN1YiI6InN5c3RlbTpzZXJ2aWNlYWNjb3VudDpkZWZhdWx0OmFwcCJ9.AAAA";

/// Discovery and JWKS documents as `verify` reads them from a server it does not control: the
/// discovery checks, the JWKS checks, the kid each served key would have (what `rotate promote`
/// compares), and a token checked against the served keys. The first byte splits the input
/// between the two documents.
pub fn documents(data: &[u8]) {
    let issuer = issuer();
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (disc, jwks) = data.split_at(split);
    let (_, uri) = check_discovery(&issuer, disc, Some("application/json"), "republish");
    let url = uri.unwrap_or_else(|| "https://oidc.example.com/c/openid/v1/jwks".into());
    let (_, keys) = check_jwks(&url, jwks, Some("application/jwk-set+json"), "republish");
    for k in &keys {
        let _ = derived_kid(k);
    }
    let _ = check_token(
        TOKEN,
        &issuer,
        "sts.amazonaws.com",
        &keys,
        &[],
        1_700_000_000,
    );
}

// ---- token -----------------------------------------------------------------------------------

fn token_text(text: &str, now: i64, issuer: &IssuerUrl) {
    let Ok(t) = Token::decode(text) else {
        return;
    };
    let _ = t.kid();
    let _ = t.alg();
    let _ = t.audiences();
    let _ = lifetime(&t.claims, now);
    let sub = t.claims["sub"].as_str().unwrap_or("");
    let _ = service_account_of(sub);
    // A JWK taken from the token's own header and claims: the fuzzer controls kty/n/e/x/y/crv
    // as a hostile JWKS would.
    let jwk = t.header.clone();
    let _ = t.verify(&jwk);
    let mut jwk2 = t.claims.clone();
    if let Some(o) = jwk2.as_object_mut() {
        o.insert(
            "kid".into(),
            serde_json::Value::String(t.kid().unwrap_or("").into()),
        );
    }
    let roles = [RoleTrust {
        name: "r".into(),
        subjects: vec![
            sub.chars().rev().collect(),
            "system:serviceaccount:*:a?p".into(),
        ],
        audience: "sts.amazonaws.com".into(),
    }];
    let _ = check_token(text, issuer, "sts.amazonaws.com", &[jwk, jwk2], &roles, now);
    let _ = string_like(sub, text);
}

/// Tokens as `verify --token` reads them: decode, then every check STS makes (kid lookup,
/// signature against a JWK, iss, aud, exp/nbf at an input-chosen `now`, sub shape, and the
/// trust policy's StringLike patterns). The first 8 bytes are `now`. The rest is used twice: as
/// the token text itself, and, so that the claims logic is reached without the fuzzer having to
/// find valid base64, split at NUL bytes into header JSON, claims JSON and signature, which are
/// encoded as a compact JWS.
pub fn token(data: &[u8]) {
    let (now, rest) = match data.split_first_chunk::<8>() {
        Some((n, rest)) => (i64::from_le_bytes(*n), rest),
        None => (0, data),
    };
    let issuer = issuer();
    if let Ok(text) = std::str::from_utf8(rest) {
        token_text(text, now, &issuer);
    }
    let mut parts = rest.splitn(3, |b| *b == 0);
    if let (Some(h), Some(c), s) = (parts.next(), parts.next(), parts.next()) {
        let text = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(h),
            URL_SAFE_NO_PAD.encode(c),
            URL_SAFE_NO_PAD.encode(s.unwrap_or_default())
        );
        token_text(&text, now, &issuer);
    }
}

// ---- config ----------------------------------------------------------------------------------

/// The configuration file (`apply -f`, `destroy -f`, `verify -f`, `rotate -f`) as text, with and
/// without the documented environment overrides set (each override's value taken from the
/// input's last line, so that the overrides' own checks are reached too).
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let base = std::path::Path::new("/etc/irsa");
    let _ = irsa_issuer::reconcile::config::parse(text, "irsa-issuer.toml", base, &|_| None);
    if let Some(last) = text.lines().last() {
        let value = last.to_string();
        let _ = irsa_issuer::reconcile::config::parse(text, "irsa-issuer.toml", base, &|_| {
            Some(value.clone())
        });
    }
}

// ---- issuer and names ------------------------------------------------------------------------

/// The names given on the command line and in the file: `IssuerUrl` (strict and with
/// --allow-insecure-http) and everything derived from it, JWKS paths, S3 targets with the issuer
/// they imply, bucket names, thumbprints and service-account references.
pub fn issuer_and_names(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for insecure in [false, true] {
        if let Ok(i) = IssuerUrl::parse(s, insecure) {
            // A parsed issuer is canonical: it parses again to itself, within IAM's limit.
            let again = IssuerUrl::parse(i.as_str(), insecure).expect("an issuer re-parses");
            assert_eq!(again, i);
            assert!(
                i.as_str().len() <= 255,
                "an issuer over IAM's 255 characters"
            );
            let _ = (i.host(), i.port(), i.port_or_default(), i.path_prefix());
            let _ = (
                i.discovery_url(),
                i.server_path("openid/v1/jwks"),
                i.provider_id(),
            );
            let _ = Partition::of_issuer(&i);
            let _ = irsa_issuer::aws::names::is_s3_issuer(&i);
            for account in ["123456789012", ""] {
                let _ = irsa_issuer::aws::names::provider_arn(Partition::Aws, account, &i);
            }
        }
    }
    let _ = JwksPath::parse(s);
    if let Ok(loc) = S3Location::parse(s) {
        for region in ["us-east-1", "cn-north-1", "us-gov-west-1", "x"] {
            if let Ok(i) = loc.issuer(region) {
                let _ = loc.check_issuer(&i, region);
            }
        }
    }
    let _ = validate_bucket(s);
    let _ = Thumbprint::parse(s);
    let _ = ServiceAccountRef::parse(s);
    let _ = Partition::for_region(s);
    let _ = Partition::of_region(s);
    let _ = Partition::of_arn(s);
}

// ---- admission_review (slot) -----------------------------------------------------------------
//
// Once src/webhook/ lands: `pub fn admission_review(data: &[u8])` feeding the bytes to the
// webhook's pure AdmissionReview-in, JSONPatch-out function (and checking that any patch it
// returns applies to the pod it was given), a fuzz_targets/admission_review.rs calling it, a
// [[bin]] in fuzz/Cargo.toml, its name in scripts/fuzz.sh's TARGETS_ALL, and a test in
// tests/fuzz_regressions.rs.
