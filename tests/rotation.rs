//! Key rotation end to end: stage → promote → retire while tokens are minted with whichever
//! key is active and verified, until they expire, by PyJWT against the served issuer.

mod common;
use common::*;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn active_kid(kd: &std::path::Path) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(kd.join("keyset.json")).unwrap()).unwrap();
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["state"] == "active")
        .unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string()
}

fn kids(kd: &std::path::Path) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(kd.join("keyset.json")).unwrap()).unwrap();
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

fn metrics(addr: &str, ca: &str) -> String {
    let o = std::process::Command::new("curl")
        .args([
            "-sS",
            "--cacert",
            ca,
            "--resolve",
            &format!("localhost:{}:127.0.0.1", addr.rsplit(':').next().unwrap()),
        ])
        .arg(format!(
            "https://localhost:{}/metrics",
            addr.rsplit(':').next().unwrap()
        ))
        .output()
        .expect("curl");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ok(o: &std::process::Output) {
    assert!(
        o.status.success(),
        "exit {:?}: {}{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

#[test]
fn rotation_under_load_breaks_no_live_token() {
    let tls = Tls::new();
    let work = tempfile::tempdir().unwrap();
    let kd = work.path().join("keys");
    let kd_s = kd.display().to_string();
    ok(&run(&[
        "rotate",
        "init",
        "--key-dir",
        &kd_s,
        "--alg",
        "ES256",
    ]));
    let first = active_kid(&kd);
    let port = free_port();
    let issuer = format!("https://localhost:{port}");
    let server = Server::start(&[
        "serve",
        "--issuer",
        &issuer,
        "--key-dir",
        &kd_s,
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--tls-cert",
        &tls.cert(),
        "--tls-key",
        &tls.key(),
        "--reload-interval",
        "1s",
        "--cache-max-age",
        "1",
    ]);

    // Minting and verifying in the background: each token is re-verified until it expires.
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Mutex::new((
        0u64,
        0u64,
        Vec::<String>::new(),
        std::collections::BTreeSet::<String>::new(),
    )));
    let minter = {
        let (stop, counts, kd, issuer, ca) = (
            stop.clone(),
            counts.clone(),
            kd.clone(),
            issuer.clone(),
            tls.ca(),
        );
        std::thread::spawn(move || {
            let mut py = PyVerifier::start(&issuer, "sts.amazonaws.com", std::path::Path::new(&ca));
            let mut live: Vec<(String, i64)> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let kid = active_kid(&kd);
                let key = std::fs::read(kd.join("private").join(format!("{kid}.key"))).unwrap();
                // Taken before signing: the token's own exp is this or a second later.
                let exp = now() + 3;
                let token = sign_token(
                    &key,
                    jsonwebtoken::Algorithm::ES256,
                    &kid,
                    &issuer,
                    "system:serviceaccount:default:app",
                    "sts.amazonaws.com",
                    3,
                );
                live.push((token, exp));
                live.retain(|(_, exp)| (*exp as f64) > now_f64());
                for (t, exp) in &live {
                    // Only a token that is live now (with a margin for the verification itself)
                    // may be counted: an expired one fails for a reason rotation has no part in.
                    if (*exp as f64) - now_f64() < 0.5 {
                        continue;
                    }
                    let r = py.verify(t);
                    let mut c = counts.lock().unwrap();
                    match r {
                        Ok(_) => c.0 += 1,
                        // A verification slower than the margin (a loaded machine) can see the
                        // token expire under it: that is not a key that went missing.
                        Err(e) if e.contains("expired") && (*exp as f64) <= now_f64() => {}
                        Err(e) => {
                            c.1 += 1;
                            c.2.push(e);
                        }
                    }
                    c.3.insert(kid.clone());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    std::thread::sleep(Duration::from_millis(1500));
    ok(&run(&[
        "rotate",
        "stage",
        "--key-dir",
        &kd_s,
        "--alg",
        "ES256",
    ]));
    let second = kids(&kd).into_iter().find(|k| *k != first).unwrap();
    // promote waits until the served issuer (which reloads the directory) has the next key.
    let o = run(&[
        "rotate",
        "promote",
        "--key-dir",
        &kd_s,
        "--issuer",
        &issuer,
        "--ca-file",
        &tls.ca(),
        "--wait",
        "--timeout",
        "30s",
        "--interval",
        "1s",
        "--cache-max-age",
        "2",
    ]);
    ok(&o);
    let promoted = o;
    // It said what it saw while waiting, and waited the JWKS cache time after the key appeared.
    assert!(
        stderr(&promoted).contains("waiting:"),
        "{}",
        stderr(&promoted)
    );
    assert!(
        stdout(&promoted).contains(&format!(
            "--service-account-signing-key-file={}",
            std::path::absolute(kd.join("private").join(format!("{second}.key")))
                .unwrap()
                .display()
        )),
        "{}",
        stdout(&promoted)
    );
    assert_eq!(active_kid(&kd), second);

    // Too early: tokens of the first key may still be live.
    let policy = ["--max-token-age", "3s", "--clock-skew", "1s"];
    let mut retire = vec!["rotate", "retire", "--key-dir", kd_s.as_str()];
    retire.extend(policy);
    let o = run(&retire);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("could break live tokens") && stderr(&o).contains("--force"),
        "{}",
        stderr(&o)
    );
    let mut status = vec![
        "rotate",
        "status",
        "--key-dir",
        kd_s.as_str(),
        "--output",
        "json",
    ];
    status.extend(policy);
    let st: serde_json::Value = serde_json::from_slice(&run(&status).stdout).unwrap();
    assert_eq!(
        st["next_step"]["command"], "rotate confirm",
        "the retire clock must not start before the cluster signs with the new key"
    );
    // A token the "cluster" (the minter, which signs with the active key) issued now.
    let token = sign_token(
        &std::fs::read(kd.join("private").join(format!("{second}.key"))).unwrap(),
        jsonwebtoken::Algorithm::ES256,
        &second,
        &issuer,
        "system:serviceaccount:default:default",
        "https://kubernetes.default.svc",
        600,
    );
    let token_file = work.path().join("token");
    std::fs::write(&token_file, &token).unwrap();
    ok(&run(&[
        "rotate",
        "confirm",
        "--key-dir",
        &kd_s,
        "--token",
        token_file.to_str().unwrap(),
    ]));
    let o = run(&retire);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let st: serde_json::Value = serde_json::from_slice(&run(&status).stdout).unwrap();
    assert_eq!(st["next_step"]["command"], "rotate retire");

    // The flags kube-apiserver runs with until its next restart: what promote printed.
    let running: Vec<String> = stdout(&promoted)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("--service-account-key-file="))
        .map(str::to_string)
        .collect();
    assert_eq!(running.len(), 2, "{}", stdout(&promoted));

    std::thread::sleep(Duration::from_secs(5));
    ok(&run(&retire));
    assert_eq!(kids(&kd), vec![second.clone()]);
    // Retire never deletes a file those flags name: kube-apiserver would not start again.
    for f in &running {
        assert!(
            std::path::Path::new(f).exists(),
            "{f} was deleted by retire"
        );
    }
    // prune refuses while a kube-apiserver configuration still names one...
    let manifest = work.path().join("kube-apiserver.yaml");
    let flags_yaml = |files: &[String]| {
        files
            .iter()
            .map(|f| format!("    - --service-account-key-file={f}\n"))
            .collect::<String>()
    };
    std::fs::write(&manifest, flags_yaml(&running)).unwrap();
    let prune = [
        "rotate",
        "prune",
        "--key-dir",
        kd_s.as_str(),
        "--apiserver-config",
        manifest.to_str().unwrap(),
    ];
    let o = run(&prune);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("still names"), "{}", stderr(&o));
    // ... and deletes once it is restarted with the flags apiserver-flags prints now.
    let now_flags: Vec<String> = stdout(&run(&[
        "apiserver-flags",
        "--key-dir",
        &kd_s,
        "--issuer",
        &issuer,
        "--format",
        "flags",
    ]))
    .lines()
    .filter_map(|l| l.strip_prefix("--service-account-key-file="))
    .map(str::to_string)
    .collect();
    assert_eq!(now_flags.len(), 1);
    std::fs::write(&manifest, flags_yaml(&now_flags)).unwrap();
    ok(&run(&prune));
    assert!(
        !kd.join(format!("{first}.pub")).exists()
            && !kd.join("private").join(format!("{first}.key")).exists()
    );
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    minter.join().unwrap();

    let c = counts.lock().unwrap();
    eprintln!(
        "rotation under load: {} verifications passed, {} failed, signed by {} keys",
        c.0,
        c.1,
        c.3.len()
    );
    assert_eq!(c.1, 0, "failed verifications: {:?}", c.2);
    assert!(c.0 > 100, "too few verifications to mean anything: {}", c.0);
    assert_eq!(
        c.3.len(),
        2,
        "tokens were not signed by both keys: {:?}",
        c.3
    );
    let m = metrics(&server.addr, &tls.ca());
    let reloads: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("irsa_issuer_reloads_total{result=\"success\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        reloads >= 3,
        "stage, promote and retire should each reload: {m}"
    );
    assert!(
        m.contains(&format!("kid=\"{second}\"")) && !m.contains(&format!("kid=\"{first}\"")),
        "{m}"
    );
}

#[test]
fn promote_refuses_while_the_issuer_does_not_serve_the_next_key() {
    let tls = Tls::new();
    let work = tempfile::tempdir().unwrap();
    let kd = work.path().join("keys");
    let kd_s = kd.display().to_string();
    let published = work.path().join("published");
    ok(&run(&[
        "rotate",
        "init",
        "--key-dir",
        &kd_s,
        "--alg",
        "ES256",
    ]));
    let first = active_kid(&kd);
    let port = free_port();
    let issuer = format!("https://localhost:{port}");
    // This issuer serves only the first key's file, never the directory.
    let _server = Server::start(&[
        "serve",
        "--issuer",
        &issuer,
        "--key",
        &kd.join(format!("{first}.pub")).display().to_string(),
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--tls-cert",
        &tls.cert(),
        "--tls-key",
        &tls.key(),
    ]);
    // Stage publishes to a directory as well: it holds both keys.
    ok(&run(&[
        "rotate",
        "stage",
        "--key-dir",
        &kd_s,
        "--alg",
        "ES256",
        "--issuer",
        &issuer,
        "--to",
        &published.display().to_string(),
    ]));
    let jwks: serde_json::Value =
        serde_json::from_slice(&std::fs::read(published.join("openid/v1/jwks")).unwrap()).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let second = kids(&kd).into_iter().find(|k| *k != first).unwrap();

    let o = run(&[
        "rotate",
        "promote",
        "--key-dir",
        &kd_s,
        "--issuer",
        &issuer,
        "--ca-file",
        &tls.ca(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("does not serve key {second}")),
        "{}",
        stderr(&o)
    );
    let started = Instant::now();
    let o = run(&[
        "rotate",
        "promote",
        "--key-dir",
        &kd_s,
        "--issuer",
        &issuer,
        "--ca-file",
        &tls.ca(),
        "--wait",
        "--timeout",
        "2s",
        "--interval",
        "1s",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "--wait did not wait"
    );
    assert_eq!(
        active_kid(&kd),
        first,
        "the state changed although promote refused"
    );
    // The same key twice is refused, and so is a second stage.
    let o = run(&["rotate", "stage", "--key-dir", &kd_s]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already staged"), "{}", stderr(&o));
}

#[test]
fn a_broken_file_in_the_key_directory_does_not_take_the_issuer_down() {
    let tls = Tls::new();
    let work = tempfile::tempdir().unwrap();
    let kd = work.path().join("keys");
    let kd_s = kd.display().to_string();
    ok(&run(&["rotate", "init", "--key-dir", &kd_s]));
    let server = Server::start(&[
        "serve",
        "--issuer",
        "https://localhost",
        "--key-dir",
        &kd_s,
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        &tls.cert(),
        "--tls-key",
        &tls.key(),
        "--reload-interval",
        "1s",
    ]);
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    let fetch = |path: &str| {
        let o = std::process::Command::new("curl")
            .args([
                "-sS",
                "-f",
                "--cacert",
                &tls.ca(),
                "--resolve",
                &format!("localhost:{port}:127.0.0.1"),
                &format!("https://localhost:{port}{path}"),
            ])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "GET {path} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    };
    let before = fetch("/openid/v1/jwks");
    let good = std::fs::read(kd.join("keyset.json")).unwrap();
    std::fs::write(
        kd.join("keyset.json"),
        b"{\"version\":1,\"keys\":[{\"kid\":",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(fetch("/openid/v1/jwks"), before);
    fetch("/.well-known/openid-configuration");
    let m = metrics(&server.addr, &tls.ca());
    assert!(
        m.contains("irsa_issuer_reloads_total{result=\"failure\"} 1"),
        "{m}"
    );
    // A public key file that does not hold its key.
    std::fs::write(kd.join("keyset.json"), &good).unwrap();
    let kid = active_kid(&kd);
    std::fs::write(
        kd.join(format!("{kid}.pub")),
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(fetch("/openid/v1/jwks"), before);
    let m = metrics(&server.addr, &tls.ca());
    assert!(
        m.contains("irsa_issuer_reloads_total{result=\"failure\"} 2"),
        "{m}"
    );
    assert!(m.contains(&format!("kid=\"{kid}\"")));
}

#[test]
fn key_dir_feeds_the_document_commands() {
    let work = tempfile::tempdir().unwrap();
    let kd = work.path().join("keys");
    let kd_s = kd.display().to_string();
    ok(&run(&[
        "rotate",
        "init",
        "--key-dir",
        &kd_s,
        "--alg",
        "ES384",
    ]));
    ok(&run(&[
        "rotate",
        "stage",
        "--key-dir",
        &kd_s,
        "--import",
        &fixture("rsa2048.pub").display().to_string(),
    ]));
    let o = run(&["jwks", "--key-dir", &kd_s]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut got: Vec<String> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    let mut want = kids(&kd);
    want.sort();
    assert_eq!(got, want);
    // The imported public key has no private half here.
    let o = run(&["rotate", "status", "--key-dir", &kd_s, "--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let imported = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["alg"] == "RS256")
        .unwrap();
    assert_eq!(imported["private_key"], false);
    assert_eq!(imported["state"], "next");
    let o = run(&[
        "jwks",
        "--key-dir",
        &work.path().join("nope").display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("rotate init"), "{}", stderr(&o));
}
