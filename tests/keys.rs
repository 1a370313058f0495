//! Key import and key IDs, checked against kids that openssl computed (tests/fixtures).

mod common;
use common::*;

use irsa_issuer::oidc::keys::parse_pem;

fn expected_kids() -> Vec<(String, String)> {
    std::fs::read_to_string(fixture("expected-kids.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let (f, k) = l.split_once(' ').unwrap();
            (f.to_string(), k.to_string())
        })
        .collect()
}

#[test]
fn kid_equals_what_openssl_derives_for_every_encoding() {
    let expected = expected_kids();
    assert!(expected.len() >= 12, "fixture list too short");
    for (file, kid) in &expected {
        let keys = parse_pem(&std::fs::read(fixture(file)).unwrap(), file).unwrap();
        assert_eq!(keys.len(), 1, "{file}");
        assert_eq!(keys[0].key.kid().as_str(), kid, "{file}");
    }
}

#[test]
fn keys_kid_command_prints_the_same_kids_as_json() {
    let expected = expected_kids();
    let files: Vec<String> = expected
        .iter()
        .map(|(f, _)| fixture(f).display().to_string())
        .collect();
    let mut args = vec!["keys", "kid", "--output", "json"];
    args.extend(files.iter().map(String::as_str));
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let got: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = expected.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(got, want);
    let algs: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert!(
        algs.contains(&"ES256")
            && algs.contains(&"ES384")
            && algs.contains(&"ES512")
            && algs.contains(&"RS256")
    );
}

#[test]
fn text_output_has_kid_alg_and_source() {
    let o = run(&["keys", "kid", fixture("multi.pem").to_str().unwrap()]);
    assert!(o.status.success());
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains("RS256") && lines[0].contains("multi.pem#1"),
        "{out}"
    );
    assert!(
        lines[1].contains("ES256") && lines[1].contains("multi.pem#2"),
        "{out}"
    );
}

#[test]
fn jwks_rsa_parameters_equal_openssl_modulus() {
    let o = std::process::Command::new("openssl")
        .args(["rsa", "-pubin", "-noout", "-modulus", "-in"])
        .arg(fixture("rsa2048.pub"))
        .output()
        .expect("openssl is needed for this cross-check");
    let hex = String::from_utf8(o.stdout)
        .unwrap()
        .trim()
        .strip_prefix("Modulus=")
        .unwrap()
        .to_lowercase();
    let o = run(&["jwks", "--key", fixture("rsa2048.pub").to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    use base64::Engine as _;
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v["keys"][0]["n"].as_str().unwrap())
        .unwrap();
    let n_hex: String = n.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(n_hex, hex);
    assert_eq!(v["keys"][0]["e"], "AQAB");
}

#[test]
fn the_same_key_given_in_four_encodings_appears_once() {
    let o = run(&[
        "jwks",
        "--key",
        fixture("rsa2048.key").to_str().unwrap(),
        "--key",
        fixture("rsa2048.pub").to_str().unwrap(),
        "--key",
        fixture("rsa2048.crt").to_str().unwrap(),
        "--key",
        fixture("rsa2048-pkcs1.pub").to_str().unwrap(),
        "--key",
        fixture("ec-p256.key").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["keys"].as_array().unwrap().len(), 2);
}

#[test]
fn jwks_from_private_keys_holds_no_private_parameter() {
    let o = run(&[
        "jwks",
        "--pretty",
        "--key",
        fixture("rsa2048.key").to_str().unwrap(),
        "--key",
        fixture("ec-p384-pkcs8.key").to_str().unwrap(),
        "--key",
        fixture("ec-p521.key").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for k in v["keys"].as_array().unwrap() {
        for p in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(k.get(p).is_none(), "private parameter {p} in {k}");
        }
        assert_eq!(k["use"], "sig");
    }
}

/// Each bad input: non-zero exit and a message that names the problem (and the file).
#[test]
fn bad_key_files_are_refused_with_a_clear_message() {
    let cases = [
        ("rsa1024.key", "too small"),
        ("ed25519.key", "Ed25519"),
        ("ed25519.pub", "EdDSA"),
        ("ed448.key", "Ed448"),
        ("dsa.key", "DSA"),
        ("encrypted-pkcs8.key", "encrypted"),
        ("encrypted-legacy.key", "encrypted"),
        ("ec-secp256k1.key", "secp256k1"),
        ("ec-params-only.pem", "no key"),
        ("ec-p256.der", "DER"),
        ("empty.pem", "empty"),
        ("not-pem.txt", "not PEM"),
    ];
    for (file, needle) in cases {
        let path = fixture(file);
        let o = run(&["jwks", "--key", path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{file}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(needle), "{file}: expected {needle:?} in {err}");
        assert!(
            err.contains(file),
            "{file}: message does not name the file: {err}"
        );
        assert!(o.stdout.is_empty(), "{file}: printed a JWKS anyway");
    }
    let o = run(&["jwks", "--key", "/nonexistent/sa.pub"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/sa.pub"));
    let o = run(&["jwks"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--key"), "{}", stderr(&o));
}

#[test]
fn generate_writes_a_private_key_0600_and_refuses_to_overwrite() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (alg, sub) in [("RS256", "rsa"), ("ES256", "p256"), ("ES384", "p384")] {
        let out = format!("{d}/{sub}");
        let o = run(&[
            "keys", "generate", "--out", &out, "--alg", alg, "--output", "json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let key = std::path::Path::new(&out).join("sa.key");
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // openssl reads what we wrote, and derives the same kid.
        let der = std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-outform", "DER", "-in"])
            .arg(&key)
            .output()
            .unwrap()
            .stdout;
        use base64::Engine as _;
        use sha2::Digest as _;
        let kid =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der));
        assert_eq!(v["kid"], kid.as_str(), "{alg}");
        assert_eq!(v["alg"], alg);
        let before = std::fs::read(&key).unwrap();
        let o = run(&["keys", "generate", "--out", &out, "--alg", alg]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("already exists") && stderr(&o).contains("--force"));
        assert_eq!(std::fs::read(&key).unwrap(), before, "key was overwritten");
    }
    let rsa = format!("{d}/rsa");
    let o = run(&["keys", "generate", "--out", &rsa, "--force"]);
    assert!(o.status.success());
    let o = run(&[
        "keys",
        "generate",
        "--out",
        &format!("{d}/x"),
        "--bits",
        "1024",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("1024"), "{}", stderr(&o));
}

#[test]
fn usage_errors_exit_64_and_help_exits_0() {
    let o = run(&["keys", "generate"]);
    assert_eq!(o.status.code(), Some(64), "{}", stderr(&o));
    let o = run(&["no-such-command"]);
    assert_eq!(o.status.code(), Some(64));
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("quickstart"));
}
