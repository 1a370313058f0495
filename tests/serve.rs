//! `serve`: the router in-process (no port), then the real binary over TLS on loopback with a
//! throwaway CA, checked by two independent verifiers (PyJWT and the jsonwebtoken crate).

mod common;
use common::*;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use tower::ServiceExt as _;

use irsa_issuer::oidc::documents::{render, KeySet};
use irsa_issuer::oidc::issuer::{IssuerUrl, JwksPath};
use irsa_issuer::oidc::keys::parse_pem;
use irsa_issuer::serve::router::{router, AppState, Snapshot};

fn state() -> (std::sync::Arc<AppState>, Vec<u8>, Vec<u8>) {
    let keys: Vec<_> = ["rsa2048.pub", "ec-p256.pub"]
        .iter()
        .flat_map(|f| parse_pem(&std::fs::read(fixture(f)).unwrap(), f).unwrap())
        .map(|k| k.key)
        .collect();
    let issuer = IssuerUrl::parse("https://oidc.example.com/cluster-a", false).unwrap();
    let docs = render(&KeySet::new(keys).unwrap(), &issuer, &JwksPath::default());
    (
        AppState::new(Snapshot::new(&docs, &issuer, 120)),
        docs.discovery,
        docs.jwks,
    )
}

async fn call(
    state: &std::sync::Arc<AppState>,
    method: Method,
    path: &str,
    inm: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(v) = inm {
        req = req.header(header::IF_NONE_MATCH, v);
    }
    let resp = router(state.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap()
        .to_vec();
    (status, headers, body)
}

#[tokio::test]
async fn documents_are_served_under_the_issuer_path_with_their_headers() {
    let (st, discovery, jwks) = state();
    let (s, h, b) = call(
        &st,
        Method::GET,
        "/cluster-a/.well-known/openid-configuration",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, discovery);
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    assert_eq!(h[header::CACHE_CONTROL], "public, max-age=120");
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let etag = h[header::ETAG].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"),
        "{etag}"
    );

    let (s, h, b) = call(&st, Method::GET, "/cluster-a/openid/v1/jwks", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, jwks);
    assert_eq!(h[header::CONTENT_TYPE], "application/jwk-set+json");
    assert_ne!(
        h[header::ETAG].to_str().unwrap(),
        etag,
        "two bodies, one ETag"
    );

    // Conditional requests.
    let (s, h, b) = call(
        &st,
        Method::GET,
        "/cluster-a/.well-known/openid-configuration",
        Some(&etag),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_MODIFIED);
    assert!(b.is_empty());
    assert_eq!(h[header::ETAG].to_str().unwrap(), etag);
    let (s, ..) = call(
        &st,
        Method::GET,
        "/cluster-a/.well-known/openid-configuration",
        Some("\"stale\""),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // HEAD: headers, length, no body.
    let (s, h, b) = call(&st, Method::HEAD, "/cluster-a/openid/v1/jwks", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.is_empty());
    assert_eq!(
        h[header::CONTENT_LENGTH].to_str().unwrap(),
        jwks.len().to_string()
    );
}

#[tokio::test]
async fn other_paths_and_methods() {
    let (st, ..) = state();
    // Not under the issuer's path prefix.
    assert_eq!(
        call(&st, Method::GET, "/.well-known/openid-configuration", None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&st, Method::GET, "/cluster-a/keys.json", None).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, h, _) = call(&st, Method::POST, "/cluster-a/openid/v1/jwks", None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h[header::ALLOW], "GET, HEAD");
    assert_eq!(
        call(&st, Method::DELETE, "/healthz", None).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        call(&st, Method::GET, "/healthz", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&st, Method::GET, "/readyz", None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_list_kids() {
    let (st, ..) = state();
    for _ in 0..3 {
        call(&st, Method::GET, "/cluster-a/openid/v1/jwks", None).await;
    }
    call(&st, Method::GET, "/nope", None).await;
    let (s, h, b) = call(&st, Method::GET, "/metrics", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = String::from_utf8(b).unwrap();
    assert!(
        text.contains("irsa_issuer_http_requests_total{route=\"jwks\",status=\"200\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("irsa_issuer_http_requests_total{route=\"other\",status=\"404\"} 1"),
        "{text}"
    );
    let expected = std::fs::read_to_string(fixture("expected-kids.txt")).unwrap();
    for file in ["rsa2048.pub", "ec-p256.pub"] {
        let kid = expected
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{file} ")))
            .unwrap();
        assert!(
            text.contains(&format!("irsa_issuer_key_info{{kid=\"{kid}\"")),
            "{kid} not in {text}"
        );
    }
    assert!(text.contains("irsa_issuer_keys 2"));
}

/// The kid of a fixture as openssl derived it (tests/fixtures/expected-kids.txt), not as the
/// code under test computes it.
fn kid_of(file: &str) -> String {
    std::fs::read_to_string(fixture("expected-kids.txt"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{file} ")))
        .unwrap_or_else(|| panic!("{file} is not in expected-kids.txt"))
        .trim()
        .to_string()
}

/// A fresh RSA key from openssl (PKCS#8 PEM), unknown to the issuer.
fn openssl_rsa_key() -> Vec<u8> {
    let o = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

fn https_client(ca: &std::path::Path) -> reqwest::Client {
    irsa_issuer::serve::tls::install_default_provider();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap())
        .build()
        .unwrap()
}

/// jsonwebtoken (not the code that built the JWKS) verifies a token against the served issuer,
/// discovering the JWKS the way a relying party does.
async fn verify_with_jsonwebtoken(
    client: &reqwest::Client,
    issuer: &str,
    token: &str,
) -> Result<String, String> {
    let disc: serde_json::Value = client
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(disc["issuer"], issuer);
    let set: jsonwebtoken::jwk::JwkSet = client
        .get(disc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = set
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} not in the served JWKS"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&["sts.amazonaws.com"]);
    v.set_issuer(&[issuer]);
    v.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "sub", "aud"]);
    let data =
        jsonwebtoken::decode::<serde_json::Value>(token, &key, &v).map_err(|e| e.to_string())?;
    Ok(data.claims["sub"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_verify_end_to_end_over_tls_and_foreign_keys_fail() {
    let tls = Tls::new();
    let port = free_port();
    let issuer = format!("https://localhost:{port}/cluster-a");
    let server = Server::start(&[
        "serve",
        "--issuer",
        &issuer,
        "--key",
        fixture("rsa2048.pub").to_str().unwrap(),
        "--key",
        fixture("ec-p384.pub").to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--tls-cert",
        tls.path().join("tls.crt").to_str().unwrap(),
        "--tls-key",
        tls.path().join("tls.key").to_str().unwrap(),
    ]);
    assert_eq!(server.addr, format!("127.0.0.1:{port}"));
    let ca = tls.path().join("ca.crt");
    let client = https_client(&ca);
    let sub = "system:serviceaccount:payments:api";
    let aud = "sts.amazonaws.com";

    let rsa = sign_token(
        &std::fs::read(fixture("rsa2048.key")).unwrap(),
        jsonwebtoken::Algorithm::RS256,
        &kid_of("rsa2048.key"),
        &issuer,
        sub,
        aud,
        3600,
    );
    let ec = sign_token(
        &std::fs::read(fixture("ec-p384-pkcs8.key")).unwrap(),
        jsonwebtoken::Algorithm::ES384,
        &kid_of("ec-p384-pkcs8.key"),
        &issuer,
        sub,
        aud,
        3600,
    );
    // Signed by the published RSA key, under a kid that is not published.
    let unknown_kid = sign_token(
        &std::fs::read(fixture("rsa2048-pkcs8.key")).unwrap(),
        jsonwebtoken::Algorithm::RS256,
        "not-published",
        &issuer,
        sub,
        aud,
        3600,
    );
    // The case that matters: a published kid, signed by another RSA key (openssl's). Only the
    // signature can tell.
    let stolen_kid = sign_token(
        &openssl_rsa_key(),
        jsonwebtoken::Algorithm::RS256,
        &kid_of("rsa2048.key"),
        &issuer,
        sub,
        aud,
        3600,
    );
    let wrong_issuer = sign_token(
        &std::fs::read(fixture("rsa2048.key")).unwrap(),
        jsonwebtoken::Algorithm::RS256,
        &kid_of("rsa2048.key"),
        &format!("{issuer}/"),
        sub,
        aud,
        3600,
    );

    // Verifier 1: PyJWT, discovering jwks_uri from the served discovery document. Each
    // refusal for its own reason.
    let mut py = PyVerifier::start(&issuer, aud, &ca);
    assert_eq!(py.verify(&rsa), Ok(sub.to_string()));
    assert_eq!(py.verify(&ec), Ok(sub.to_string()));
    let refused = |r: Result<String, String>, why: &str| {
        let e = r.expect_err("accepted");
        assert!(e.contains(why), "refused for another reason: {e}");
    };
    refused(
        py.verify(&unknown_kid),
        "Unable to find a signing key that matches",
    );
    refused(py.verify(&stolen_kid), "InvalidSignatureError");
    refused(py.verify(&wrong_issuer), "InvalidIssuerError");

    // Verifier 2: the jsonwebtoken crate.
    assert_eq!(
        verify_with_jsonwebtoken(&client, &issuer, &rsa).await,
        Ok(sub.to_string())
    );
    assert_eq!(
        verify_with_jsonwebtoken(&client, &issuer, &ec).await,
        Ok(sub.to_string())
    );
    refused(
        verify_with_jsonwebtoken(&client, &issuer, &unknown_kid).await,
        "kid not-published not in the served JWKS",
    );
    refused(
        verify_with_jsonwebtoken(&client, &issuer, &stolen_kid).await,
        "InvalidSignature",
    );
    refused(
        verify_with_jsonwebtoken(&client, &issuer, &wrong_issuer).await,
        "InvalidIssuer",
    );
    drop(server);
}

#[test]
fn tls_presents_the_chain_as_given_and_sigterm_stops_gracefully() {
    let tls = Tls::new();
    let mut server = Server::start(&[
        "serve",
        "--issuer",
        "https://localhost",
        "--key",
        fixture("rsa2048.pub").to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        tls.path().join("tls.crt").to_str().unwrap(),
        "--tls-key",
        tls.path().join("tls.key").to_str().unwrap(),
    ]);
    let o = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &server.addr,
            "-servername",
            "localhost",
            "-showcerts",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl is needed for this check");
    let text = String::from_utf8_lossy(&o.stdout);
    let served: Vec<String> = text
        .split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .map(|b| {
            format!(
                "-----BEGIN CERTIFICATE-----{}-----END CERTIFICATE-----\n",
                b.split("-----END CERTIFICATE-----").next().unwrap()
            )
        })
        .collect();
    let chain = std::fs::read_to_string(tls.path().join("tls.crt")).unwrap();
    assert_eq!(served.len(), 2, "leaf + intermediate expected:\n{text}");
    assert_eq!(served.concat(), chain);
    assert_eq!(
        served[1],
        std::fs::read_to_string(tls.path().join("intermediate.crt")).unwrap()
    );

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = server.wait();
    assert_eq!(
        status.code(),
        Some(0),
        "serve did not exit cleanly on SIGTERM"
    );
}

#[test]
fn serve_refuses_bad_tls_files_and_half_tls_flags() {
    let tls = Tls::new();
    let k = fixture("rsa2048.pub");
    let o = run(&[
        "serve",
        "--issuer",
        "https://localhost",
        "--key",
        k.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        tls.path().join("tls.crt").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(64), "{}", stderr(&o));
    let o = run(&[
        "serve",
        "--issuer",
        "https://localhost",
        "--key",
        k.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        fixture("rsa2048.pub").to_str().unwrap(),
        "--tls-key",
        tls.path().join("tls.key").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no CERTIFICATE"), "{}", stderr(&o));
    let o = run(&[
        "serve",
        "--issuer",
        "https://localhost",
        "--key",
        k.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        tls.path().join("tls.crt").to_str().unwrap(),
        "--tls-key",
        fixture("rsa2048.key").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("do not make a usable TLS identity"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn quickstart_serves_a_working_issuer_and_reuses_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let qs = dir.path().join("qs");
    let mut first = Server::start(&[
        "quickstart",
        "--dir",
        qs.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    let port = first.addr.rsplit(':').next().unwrap().to_string();
    let issuer = format!("https://localhost:{port}");
    let key = std::fs::read(qs.join("sa.key")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["sa.key", "ca.key", "tls.key"] {
            assert_eq!(
                std::fs::metadata(qs.join(f)).unwrap().permissions().mode() & 0o777,
                0o600,
                "{f}"
            );
        }
    }
    let kid = openssl_kid(&qs.join("sa.key"));
    let token = sign_token(
        &key,
        jsonwebtoken::Algorithm::RS256,
        &kid,
        &issuer,
        "system:serviceaccount:default:app",
        "sts.amazonaws.com",
        600,
    );
    let mut py = PyVerifier::start(&issuer, "sts.amazonaws.com", &qs.join("ca.crt"));
    assert_eq!(
        py.verify(&token),
        Ok("system:serviceaccount:default:app".into())
    );
    drop(py);
    std::process::Command::new("kill")
        .args(["-TERM", &first.pid().to_string()])
        .status()
        .unwrap();
    assert!(first.wait().success());

    // Second run: same key, same CA.
    let before: Vec<Vec<u8>> = ["sa.key", "ca.crt", "tls.crt"]
        .iter()
        .map(|f| std::fs::read(qs.join(f)).unwrap())
        .collect();
    let o = std::process::Command::new(bin())
        .args([
            "quickstart",
            "--output",
            "json",
            "--dir",
            qs.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = o;
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut json = String::new();
    use std::io::BufRead as _;
    loop {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        if line.starts_with("listening on") || line.is_empty() {
            break;
        }
        json.push_str(&line);
    }
    let _ = child.kill();
    let _ = child.wait();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["kid"], kid.as_str());
    let flags: Vec<&str> = v["apiserver_flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(flags
        .iter()
        .any(|f| f.starts_with("--service-account-signing-key-file=") && f.ends_with("sa.key")));
    assert!(flags
        .iter()
        .any(|f| f.starts_with("--service-account-key-file=") && f.ends_with("sa.pub")));
    assert!(flags
        .iter()
        .any(|f| f.starts_with("--service-account-issuer=https://localhost:")));
    assert!(v["curl"].as_str().unwrap().contains("--cacert"));
    let after: Vec<Vec<u8>> = ["sa.key", "ca.crt", "tls.crt"]
        .iter()
        .map(|f| std::fs::read(qs.join(f)).unwrap())
        .collect();
    assert_eq!(before, after, "quickstart replaced files it should reuse");
}

/// The ETag is the body's SHA-256, not anything shorter: two JWKS of one P-256 key each have
/// the same length, and a client holding the first one's ETag must get the second one's body
/// (200), not a 304 that keeps the stale JWKS. The expected tag is openssl's digest.
#[tokio::test]
async fn the_etag_changes_with_the_bytes_not_only_the_length() {
    let issuer = IssuerUrl::parse("https://oidc.example.com/cluster-a", false).unwrap();
    let one = |pem: &[u8]| {
        let keys: Vec<_> = parse_pem(pem, "k")
            .unwrap()
            .into_iter()
            .map(|k| k.key)
            .collect();
        let docs = render(&KeySet::new(keys).unwrap(), &issuer, &JwksPath::default());
        (AppState::new(Snapshot::new(&docs, &issuer, 120)), docs.jwks)
    };
    let (a, jwks_a) = one(&std::fs::read(fixture("ec-p256.pub")).unwrap());
    let other = irsa_issuer::oidc::keys::generate(
        irsa_issuer::oidc::keys::KeySpec {
            alg: irsa_issuer::oidc::keys::Algorithm::ES256,
            rsa_bits: 2048,
        },
        &mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(7),
    )
    .unwrap();
    let (b, jwks_b) = one(other.public.to_pem().as_bytes());
    assert_eq!(
        jwks_a.len(),
        jwks_b.len(),
        "the case needs same-length bodies"
    );
    assert_ne!(jwks_a, jwks_b);
    let path = "/cluster-a/openid/v1/jwks";
    let (_, h, _) = call(&a, Method::GET, path, None).await;
    let tag_a = h[header::ETAG].to_str().unwrap().to_string();
    // openssl's SHA-256 of the body, base64url without padding, quoted.
    let dir = tempfile::tempdir().unwrap();
    let body_file = dir.path().join("jwks");
    std::fs::write(&body_file, &jwks_a).unwrap();
    let digest = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-binary"])
        .arg(&body_file)
        .output()
        .unwrap();
    assert!(digest.status.success());
    use base64::Engine as _;
    let want = format!(
        "\"{}\"",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.stdout)
    );
    assert_eq!(tag_a, want);
    let (s, h, body) = call(&b, Method::GET, path, Some(&tag_a)).await;
    assert_eq!(s, StatusCode::OK, "a stale ETag matched another body");
    assert_eq!(body, jwks_b);
    assert_ne!(h[header::ETAG].to_str().unwrap(), tag_a);
}
