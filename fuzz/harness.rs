//! The fuzz targets' bodies, one function per target, shared by the libFuzzer entry points in
//! fuzz/fuzz_targets/ (nightly) and by tests/fuzz_regressions.rs (stable), which replays every
//! input that once crashed a target. A function panics only on a bug: a parser that panics, or
//! a property that does not hold.
#![allow(dead_code)]

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;

use irsa_issuer::aws::names::{validate_bucket, Partition, S3Location, Thumbprint};
use irsa_issuer::aws::trust::ServiceAccountRef;
use irsa_issuer::oidc::issuer::{IssuerUrl, JwksPath};
use irsa_issuer::oidc::keys::{dedup, parse_pem};
use irsa_issuer::oidc::token::{lifetime, service_account_of, string_like, Token};
use irsa_issuer::verify::checks::{
    check_discovery, check_jwks, check_token, derived_kid, RoleTrust,
};
use irsa_issuer::webhook::mutate::{self, Identity, Settings};
use irsa_issuer::webhook::review::{self, Review, Target};
use std::collections::BTreeMap;

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

// ---- admission_review ----------------------------------------------------------------------

/// The longest message the webhook may put in a 400 body or an answer's `status.message`: an
/// excerpt of what the client sent, never all of it.
const MAX_MESSAGE: usize = 1024;

/// The two sets of flags each pod is mutated under: the defaults with a fixed role, and every
/// option on (another prefix, an audience, a mount path Go's `path.Clean` has work to do on, a
/// region, regional STS) with the identity read from the pod's own annotations as if they were
/// its ServiceAccount's (so that the fuzzer reaches `Identity::from_annotations` too).
fn webhook_settings() -> [(Settings, Identity); 2] {
    let fixed = Identity {
        role_arn: "arn:aws:iam::111122223333:role/app".into(),
        audience: mutate::DEFAULT_AUDIENCE.into(),
        regional_sts: false,
        token_expiration: mutate::DEFAULT_TOKEN_EXPIRATION,
    };
    let all = Settings {
        annotation_prefix: "eks.amazonaws.com".into(),
        token_audience: "".into(),
        token_mount_path: "/var//run/./x/../secrets/".into(),
        token_expiration: mutate::MIN_TOKEN_EXPIRATION,
        aws_default_region: "eu-west-1".into(),
        sts_regional_endpoint: true,
    };
    let on = Identity {
        role_arn: "arn:aws-cn:iam::111122223333:role/p/app".into(),
        audience: "".into(),
        regional_sts: true,
        token_expiration: mutate::MIN_TOKEN_EXPIRATION,
    };
    [(Settings::default(), fixed), (all, on)]
}

/// The pod's string annotations, read as a ServiceAccount's would be.
fn annotations_of(pod: &serde_json::Value) -> BTreeMap<String, String> {
    pod["metadata"]["annotations"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// What the webhook answers, checked as the API server would read it: JSON, the review's
/// `apiVersion` and `uid` echoed, always allowed, the patch (base64 of the JSONPatch) exactly
/// the one made, and a message (when there is one) short.
fn check_answer(review: &Review, patch: &[mutate::PatchOp], message: Option<&str>) {
    if let Some(m) = message {
        assert!(!m.is_empty(), "an empty message");
        assert!(m.len() <= MAX_MESSAGE, "a message of {} bytes", m.len());
    }
    let out = review::respond(review, patch, message);
    let v: serde_json::Value = serde_json::from_slice(&out).expect("the answer is JSON");
    assert_eq!(v["apiVersion"], review.api_version.as_str());
    assert_eq!(v["kind"], "AdmissionReview");
    assert_eq!(v["response"]["uid"], review.request.uid.as_str());
    assert_eq!(v["response"]["allowed"], true);
    match v["response"]["patch"].as_str() {
        None => assert!(patch.is_empty(), "a patch made but not sent"),
        Some(b64) => {
            assert_eq!(v["response"]["patchType"], "JSONPatch");
            let sent = STANDARD.decode(b64).expect("the patch is base64");
            let sent: serde_json::Value = serde_json::from_slice(&sent).expect("the patch is JSON");
            assert_eq!(
                sent,
                serde_json::to_value(patch).expect("a patch serialises")
            );
        }
    }
}

/// AdmissionReviews as the webhook reads them from the network: `review::parse` (an error must
/// say what is wrong, briefly), then what the webhook does with what parses: the request's
/// target, and for a pod CREATE the mutation under each of [`webhook_settings`], in place as the
/// server does it. The patch, applied to the pod it was made for by an independent RFC 6902
/// implementation (`json-patch`), must give the mutated pod; mutating that pod again must add
/// nothing; the patch is bounded by the pod's containers (at most 6 operations each, plus the
/// volume); and the answer must echo the review.
pub fn admission_review(data: &[u8]) {
    let mut review = match review::parse(data) {
        Ok(r) => r,
        Err(e) => {
            let m = e.to_string();
            assert!(m.contains("AdmissionReview"), "{m}");
            assert!(m.len() <= MAX_MESSAGE, "a 400 body of {} bytes", m.len());
            return;
        }
    };
    assert!(!review.request.uid.is_empty());
    let pod = match review.request.target() {
        Target::Ignore(why) => {
            let why = why.clone();
            check_answer(&review, &[], Some(&why));
            return;
        }
        Target::Pod {
            pod,
            namespace,
            service_account,
        } => {
            assert!(!service_account.is_empty());
            let _ = (namespace, mutate::pod_name(pod), mutate::is_windows(pod));
            pod.clone()
        }
    };
    let containers: usize = ["containers", "initContainers"]
        .iter()
        .map(|k| pod["spec"][*k].as_array().map_or(0, Vec::len))
        .sum();
    for (settings, fallback) in webhook_settings() {
        let id = Identity::from_annotations(&annotations_of(&pod), &settings).unwrap_or(fallback);
        let _ = id.role_arn_looks_valid();
        let mut mutated = pod.clone();
        match mutate::mutate_in_place(&mut mutated, &id, &settings) {
            Err(e) => {
                let m = e.to_string();
                assert!(m.starts_with("the pod"), "{m}");
                check_answer(&review, &[], Some(&m));
            }
            Ok(patch) => {
                assert!(
                    patch.len() <= 1 + 6 * containers,
                    "{} operations for {containers} containers",
                    patch.len()
                );
                let ops: json_patch::Patch =
                    serde_json::from_value(serde_json::to_value(&patch).expect("serialises"))
                        .expect("the patch is RFC 6902");
                let mut applied = pod.clone();
                json_patch::patch(&mut applied, &ops).expect("the patch applies to its pod");
                assert_eq!(applied, mutated, "the patch does not make the mutated pod");
                let again = mutate::mutate(&mutated, &id, &settings).expect("a mutated pod reads");
                assert!(
                    again.patch.is_empty(),
                    "a mutated pod is mutated again: {:?}",
                    again.patch
                );
                check_answer(&review, &patch, None);
            }
        }
    }
    // As the server does: the pod is taken out of the review, which is then answered.
    let _ = review.request.object.take();
    check_answer(&review, &[], Some("nothing to add"));
}
