//! Documents fetched from servers irsa-issuer does not control are read up to 1 MiB and no
//! further: `verify`, `thumbprint` and `rotate promote` against a real HTTPS server (Python's
//! http.server with a throwaway CA chain) that answers with an endless body refuse with a clear
//! error, and the server's own count of what it sent shows the client stopped reading early
//! (without the cap, the whole 256 MiB the server sends before giving up is read).

mod common;
use common::*;

use std::path::Path;
use std::process::Command;

const ISSUER: &str = "https://localhost/c1";

struct Site {
    _server: Server,
    addr: String,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// Serves `files` (path below /c1, content) and endless documents at `endless`.
fn site(tls: &Tls, files: &[(&str, &str)], endless: &[&str]) -> Site {
    site_with(tls, files, endless, &[])
}

/// The same, with more flags for tests/py/static_https.py.
fn site_with(tls: &Tls, files: &[(&str, &str)], endless: &[&str], extra: &[&str]) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    for (rel, body) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    std::fs::create_dir_all(&root).unwrap();
    let log = dir.path().join("server.log");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/static_https.py");
    let mut args = vec![
        script.display().to_string(),
        "--root".into(),
        root.display().to_string(),
        "--prefix".into(),
        "/c1".into(),
        "--cert".into(),
        tls.cert(),
        "--key".into(),
        tls.key(),
    ];
    for e in endless {
        args.push("--endless".into());
        args.push((*e).into());
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    // The server's stderr (where it logs the bytes each endless response sent) goes to a file.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("exec \"$0\" \"$@\" 2>>'{}'", log.display()))
        .arg(python())
        .args(&args);
    let server = Server::spawn(cmd);
    Site {
        addr: server.addr.clone(),
        _server: server,
        log,
        _dir: dir,
    }
}

/// The bytes the server sent in each endless response (waiting for it to log them).
fn endless_sent(site: &Site, count: usize) -> Vec<u64> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&site.log).unwrap_or_default();
        let sent: Vec<u64> = text
            .lines()
            .filter_map(|l| {
                l.split(": ")
                    .nth(1)?
                    .strip_suffix(" bytes sent")?
                    .parse()
                    .ok()
            })
            .collect();
        if sent.len() >= count || std::time::Instant::now() > deadline {
            return sent;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn assert_capped(site: &Site, count: usize) {
    let sent = endless_sent(site, count);
    assert_eq!(sent.len(), count, "the server logged {sent:?}");
    for s in sent {
        // 1 MiB read, plus what sat in the socket buffers and TLS records when it hung up.
        assert!(
            s < 16 * 1024 * 1024,
            "the client read {s} bytes of an endless document before hanging up: no size cap"
        );
    }
}

fn assert_too_large(o: &std::process::Output, what: &str) {
    let text = format!("{}{}", stdout(o), stderr(o));
    assert_eq!(o.status.code(), Some(1), "{what}: {text}");
    assert!(
        text.contains("larger than 1024 KiB") && text.contains("endless stream"),
        "{what}: the error does not say the document is too large: {text}"
    );
    assert!(!text.contains("panicked"), "{what}: {text}");
}

#[test]
fn verify_and_thumbprint_stop_reading_an_endless_discovery_document() {
    let tls = Tls::new();
    let s = site(&tls, &[], &[".well-known/openid-configuration"]);
    let o = run(&[
        "verify",
        "--issuer",
        ISSUER,
        "--skip-aws",
        "--ca-file",
        &tls.ca(),
        "--connect-to",
        &s.addr,
    ]);
    assert_too_large(&o, "verify");
    let o = run(&[
        "thumbprint",
        ISSUER,
        "--ca-file",
        &tls.ca(),
        "--connect-to",
        &s.addr,
    ]);
    assert_too_large(&o, "thumbprint");
    assert_capped(&s, 2);
}

#[test]
fn verify_and_rotate_promote_stop_reading_an_endless_jwks() {
    let tls = Tls::new();
    let discovery = serde_json::json!({
        "issuer": ISSUER,
        "jwks_uri": format!("{ISSUER}/openid/v1/jwks"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    })
    .to_string();
    let s = site(
        &tls,
        &[(".well-known/openid-configuration", &discovery)],
        &["openid/v1/jwks"],
    );
    let o = run(&[
        "verify",
        "--issuer",
        ISSUER,
        "--skip-aws",
        "--ca-file",
        &tls.ca(),
        "--connect-to",
        &s.addr,
    ]);
    assert_too_large(&o, "verify");

    // rotate promote reads the served JWKS to see whether the next key is published.
    let work = tempfile::tempdir().unwrap();
    let kd = work.path().join("keys").display().to_string();
    let published = work.path().join("published").display().to_string();
    for args in [
        vec!["rotate", "init", "--key-dir", &kd, "--alg", "ES256"],
        vec![
            "rotate",
            "stage",
            "--key-dir",
            &kd,
            "--alg",
            "ES256",
            "--issuer",
            ISSUER,
            "--to",
            &published,
        ],
    ] {
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    let o = run(&[
        "rotate",
        "promote",
        "--key-dir",
        &kd,
        "--issuer",
        ISSUER,
        "--ca-file",
        &tls.ca(),
        "--connect-to",
        &s.addr,
    ]);
    assert_too_large(&o, "rotate promote");
    assert_capped(&s, 2);
}

/// One `Fetcher`, one connection: every GET after the first reuses it (`verify` and `rotate
/// promote --wait` make several, the wait one per poll), where a client built per GET opened a
/// new TCP and TLS connection each time. Counted by the server.
#[tokio::test]
async fn a_fetcher_reuses_its_connection_from_get_to_get() {
    let tls = Tls::new();
    let s = site_with(
        &tls,
        &[("a.json", "{}"), ("b.json", "[]")],
        &[],
        &["--keep-alive"],
    );
    let ca = std::fs::read(tls.ca()).unwrap();
    let f = irsa_issuer::verify::fetch::Fetcher::new(
        Some((ca.as_slice(), "the test CA")),
        Some(s.addr.parse().unwrap()),
    )
    .unwrap();
    for _ in 0..3 {
        for (path, body) in [("a.json", "{}"), ("b.json", "[]")] {
            let (got, _) = f.get(&format!("{ISSUER}/{path}")).await.unwrap();
            assert_eq!(got, body.as_bytes());
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let connections = loop {
        let text = std::fs::read_to_string(&s.log).unwrap_or_default();
        let n = text
            .lines()
            .filter(|l| l.starts_with("connection "))
            .count();
        if n > 0 || std::time::Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(connections, 1, "six GETs opened {connections} connections");
}
