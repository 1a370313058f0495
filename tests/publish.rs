//! `publish --to DIR` and `discovery`: layout, write order, idempotence, plan exit codes, issuer errors.

mod common;
use common::*;

use std::os::unix::fs::MetadataExt;

fn key(name: &str) -> String {
    fixture(name).display().to_string()
}

#[test]
fn publish_writes_both_documents_and_a_second_run_rewrites_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().to_str().unwrap();
    let issuer = "https://oidc.example.com/cluster-a";
    let args = [
        "publish",
        "--issuer",
        issuer,
        "--key",
        &key("rsa2048.pub"),
        "--key",
        &key("ec-p256.pub"),
        "--to",
        to,
    ];
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("+ openid/v1/jwks"), "{}", stdout(&o));

    let jwks_file = dir.path().join("openid/v1/jwks");
    let disc_file = dir.path().join(".well-known/openid-configuration");
    let disc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&disc_file).unwrap()).unwrap();
    assert_eq!(disc["issuer"], issuer);
    assert_eq!(disc["jwks_uri"], format!("{issuer}/openid/v1/jwks"));
    assert_eq!(
        disc["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256", "RS256"])
    );
    // The published JWKS is byte for byte what `jwks` prints for the same keys.
    let printed = run(&[
        "jwks",
        "--key",
        &key("ec-p256.pub"),
        "--key",
        &key("rsa2048.pub"),
    ]);
    assert_eq!(
        std::fs::read(&jwks_file).unwrap(),
        printed.stdout.trim_ascii_end()
    );

    let (j, d) = (
        std::fs::metadata(&jwks_file).unwrap(),
        std::fs::metadata(&disc_file).unwrap(),
    );

    let o = run(&args);
    assert!(o.status.success());
    assert!(stdout(&o).contains("No changes"), "{}", stdout(&o));
    // Nothing rewritten: same inodes (a rewrite renames a new file into place).
    assert_eq!(std::fs::metadata(&jwks_file).unwrap().ino(), j.ino());
    assert_eq!(std::fs::metadata(&disc_file).unwrap().ino(), d.ino());

    // Argument order does not matter (keys are sorted by kid).
    let o = run(&[
        "publish",
        "--issuer",
        issuer,
        "--key",
        &key("ec-p256.key"),
        "--key",
        &key("rsa2048.key"),
        "--to",
        to,
        "--output",
        "json",
    ]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.get("result").is_none(), "{v}");
    assert_eq!(v["plan"]["steps"][0]["action"], "unchanged");
}

#[test]
fn plan_changes_nothing_and_uses_detailed_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().to_str().unwrap();
    let base = [
        "publish",
        "--issuer",
        "https://h.example.com",
        "--key",
        &key("rsa2048.pub"),
        "--to",
        to,
    ];
    let mut plan = base.to_vec();
    plan.push("--plan");
    let o = run(&plan);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "--plan wrote something"
    );
    assert!(run(&base).status.success());
    let o = run(&plan);
    assert_eq!(o.status.code(), Some(0));

    // A key change shows as an update of the JWKS and of discovery (its algorithm list changes).
    let p384 = key("ec-p384.pub");
    let mut changed = plan.clone();
    changed.extend(["--key", &p384]);
    let o = run(&changed);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("~ openid/v1/jwks"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("~ .well-known/openid-configuration"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn keys_json_layout_and_path_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "publish",
        "--issuer",
        "https://bucket.example.com/c1",
        "--jwks-path",
        "keys.json",
        "--key",
        &key("ec-p521.pub"),
        "--to",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("keys.json").is_file());
    let disc: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join(".well-known/openid-configuration")).unwrap(),
    )
    .unwrap();
    assert_eq!(disc["jwks_uri"], "https://bucket.example.com/c1/keys.json");
}

#[test]
fn bad_issuers_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().to_str().unwrap();
    let cases = [
        (
            "https://oidc.example.com/",
            "trailing slash",
            "write it as `https://oidc.example.com`",
        ),
        (
            "https://oidc.example.com/a/",
            "ends with '/'",
            "`https://oidc.example.com/a`",
        ),
        ("http://oidc.example.com", "uses `http`", "https"),
        ("http://127.0.0.1:8080", "--allow-insecure-http", "loopback"),
        ("https://oidc.example.com/a?x=1", "query", "remove it"),
        ("https://oidc.example.com/a#f", "fragment", "remove it"),
        (
            "https://u:p@oidc.example.com",
            "user information",
            "remove it",
        ),
        ("oidc.example.com", "not a URL", "https://"),
        (
            "https://OIDC.example.com",
            "canonical",
            "https://oidc.example.com",
        ),
    ];
    for (issuer, a, b) in cases {
        let o = run(&[
            "publish",
            "--issuer",
            issuer,
            "--key",
            &key("rsa2048.pub"),
            "--to",
            to,
        ]);
        assert_eq!(o.status.code(), Some(1), "{issuer}");
        let err = stderr(&o);
        assert!(
            err.contains(a) || err.contains(&a.replace(' ', "-")),
            "{issuer}: {a:?} not in {err}"
        );
        assert!(err.contains(b), "{issuer}: {b:?} not in {err}");
    }
    let o = run(&[
        "publish",
        "--issuer",
        "https://h.example.com",
        "--jwks-path",
        "/keys.json",
        "--key",
        &key("rsa2048.pub"),
        "--to",
        to,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("JWKS path"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // http on loopback is allowed with the explicit flag.
    let o = run(&[
        "discovery",
        "--issuer",
        "http://127.0.0.1:8080",
        "--allow-insecure-http",
        "--key",
        &key("rsa2048.pub"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn discovery_command_prints_compact_and_pretty_json() {
    let args = [
        "discovery",
        "--issuer",
        "https://oidc.example.com",
        "--key",
        &key("ec-p384.pub"),
        "--key",
        &key("ec-p256.pub"),
    ];
    let o = run(&args);
    assert!(o.status.success());
    assert_eq!(stdout(&o).lines().count(), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["response_types_supported"],
        serde_json::json!(["id_token"])
    );
    assert_eq!(v["subject_types_supported"], serde_json::json!(["public"]));
    assert_eq!(
        v["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256", "ES384"])
    );
    let mut pretty = args.to_vec();
    pretty.push("--pretty");
    let p = run(&pretty);
    assert!(stdout(&p).lines().count() > 5);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&p.stdout).unwrap(),
        v
    );
}

/// The JWKS goes out before the discovery document that points at it, observed: with the
/// discovery document's directory unwritable (`.well-known` a dangling link: reading through
/// it finds nothing, writing through it fails), the publish fails, and the JWKS is there while
/// no discovery document is. In the other order the JWKS would never have been written.
#[test]
fn the_jwks_is_written_before_the_discovery_document() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("nowhere", dir.path().join(".well-known")).unwrap();
    let o = run(&[
        "publish",
        "--issuer",
        "https://oidc.example.com/c1",
        "--key",
        &key("rsa2048.pub"),
        "--to",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains(".well-known/openid-configuration"),
        "{}",
        stderr(&o)
    );
    assert!(
        dir.path().join("openid/v1/jwks").is_file(),
        "the JWKS was not written first"
    );
    assert!(!dir.path().join("nowhere").exists());
}
