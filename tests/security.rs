//! The security review's items, one test each (or more), run through the real binary: what a
//! stranger or a mistake could do before, and what irsa-issuer refuses now.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use common::{run, stderr};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// A kid read from keyset.json names files: `../victim/sa` made `rotate retire` delete a file
/// outside the key directory. It is refused on load, and nothing is deleted.
#[test]
fn a_kid_that_is_a_path_is_refused_and_deletes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let kd = d.path().join("keys");
    let victim = d.path().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("sa.pub"), "precious").unwrap();
    let o = run(&["rotate", "init", "--key-dir", kd.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A previous key whose kid walks out of the directory, demoted long ago.
    let state_path = kd.join("keyset.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    state["keys"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "kid": "../victim/sa", "alg": "RS256", "state": "previous",
            "created": 1, "promoted": 2, "demoted": 3
        }));
    std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
    let o = run(&["rotate", "retire", "--key-dir", kd.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("`../victim/sa` is not a key ID"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(victim.join("sa.pub")).unwrap(),
        "precious"
    );
}

/// A `private` entry that is a symbolic link was followed: its target chmod'ed 0700 and the
/// private key written there.
#[test]
fn a_symlinked_private_directory_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let kd = d.path().join("keys");
    let elsewhere = d.path().join("elsewhere");
    std::fs::create_dir_all(&kd).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, kd.join("private")).unwrap();
    let o = run(&["rotate", "init", "--key-dir", kd.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("is a symbolic link"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert_eq!(mode(&elsewhere), 0o755);
}

/// Directories were created with the process umask: 0777 under `umask 000`.
#[test]
fn key_directories_get_explicit_modes_whatever_the_umask() {
    let d = tempfile::tempdir().unwrap();
    let kd = d.path().join("a/b/keys");
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 000; exec '{}' rotate init --key-dir '{}'",
            common::bin(),
            kd.display()
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode(&kd), 0o755);
    assert_eq!(mode(&d.path().join("a")), 0o755);
    assert_eq!(mode(&kd.join("private")), 0o700);
    let key = std::fs::read_dir(kd.join("private"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(mode(&key), 0o600);
}

/// `--jwks-path '*'` wrote `"Resource": "arn:aws:s3:::shared-bkt/c1/*"`: the whole prefix
/// public. Wildcards are refused before any call (no credentials are even looked for).
#[test]
fn wildcards_never_reach_a_policy() {
    let d = tempfile::tempdir().unwrap();
    let key = common::fixture("rsa2048.pub");
    let k = key.to_str().unwrap();
    for (args, want) in [
        (
            vec!["publish", "--to", "s3://shared-bkt/c1", "--jwks-path", "*"],
            "may not contain '*', '?' or '$'",
        ),
        (
            vec!["publish", "--to", "s3://shared-bkt/c*"],
            "may not contain '*', '?' or '$'",
        ),
        (
            vec![
                "iam-policy",
                "--for",
                "publish",
                "--to",
                "s3://shared-bkt/*",
            ],
            "may not contain '*', '?' or '$'",
        ),
        (
            vec!["discovery", "--issuer", "https://oidc.example.com/c1/*"],
            "contains `*`",
        ),
    ] {
        let mut cmd = Command::new(common::bin());
        cmd.args(&args)
            .args(["--key", k])
            .current_dir(d.path())
            .env_remove("AWS_REGION")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        if args[0] == "iam-policy" {
            cmd = Command::new(common::bin());
            cmd.args(&args);
        }
        let o = cmd.output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
}
