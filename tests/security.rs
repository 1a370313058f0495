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

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {} / {}", common::stdout(o), stderr(o)))
}

/// With IRSA_ISSUER_KEY_DIR pointing at a new (mistyped) directory and `generate = true`,
/// `apply` published a JWKS holding only a fresh key: every live token stopped verifying, and
/// the plan said only "~ documents content". The published key is now shown as refused, and
/// nothing is written, until the key directory retires it or --allow-key-removal is given.
#[tokio::test(flavor = "multi_thread")]
async fn apply_never_drops_a_live_published_key() {
    let a = common::Account::new("us-east-1").await;
    let d = tempfile::tempdir().unwrap();
    let web = d.path().join("web");
    let file = d.path().join("c.toml");
    std::fs::write(
        &file,
        format!(
            "issuer = \"https://oidc.example.com/c1\"\ntarget = \"{}\"\n[keys]\ndir = \"keys\"\ngenerate = true\n[provider]\nthumbprints = [\"{}\"]\n",
            web.display(),
            "a".repeat(40)
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let o = a.run(&["apply", "-f", f, "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let jwks_path = web.join("openid/v1/jwks");
    let before = std::fs::read(&jwks_path).unwrap();
    let live: serde_json::Value = serde_json::from_slice(&before).unwrap();
    let live_kid = live["keys"][0]["kid"].as_str().unwrap().to_string();

    // The mistyped key directory: a fresh key would replace the live one.
    let typo = |args: &[&str]| {
        let mut cmd = a.command(common::bin());
        cmd.args(args)
            .env("IRSA_ISSUER_KEY_DIR", d.path().join("kyes"))
            .stdin(std::process::Stdio::null());
        cmd.output().unwrap()
    };
    let o = typo(&["apply", "-f", f, "--plan"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let plan = common::stdout(&o);
    assert!(
        plan.contains(&format!("! refused: keys key {live_kid}")),
        "{plan}"
    );
    assert!(stderr(&o).contains("refused"), "{}", stderr(&o));
    let o = typo(&["apply", "-f", f, "--yes", "--output", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = json(&o);
    assert_eq!(report["summary"]["refused"], 1, "{report:#}");
    assert_eq!(report["applied"], false);
    assert_eq!(
        std::fs::read(&jwks_path).unwrap(),
        before,
        "the JWKS was rewritten"
    );
    assert!(!d.path().join("kyes").exists(), "a key was written");

    // Said explicitly, the removal goes through and is shown as a deletion.
    let o = typo(&["apply", "-f", f, "--yes", "--allow-key-removal"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        common::stdout(&o).contains(&format!("- keys key {live_kid}")),
        "{}",
        common::stdout(&o)
    );
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&jwks_path).unwrap()).unwrap();
    assert_ne!(after["keys"][0]["kid"], live_kid.as_str());
}

/// `publish` refuses the same way, and `rotate retire --to` drops exactly the key it retired.
#[test]
fn publish_refuses_to_drop_a_key_and_retire_drops_only_what_it_retired() {
    let d = tempfile::tempdir().unwrap();
    let web = d.path().join("web");
    let kd = d.path().join("keys");
    let (w, k) = (web.to_str().unwrap(), kd.to_str().unwrap());
    let issuer = "https://oidc.example.com/c1";
    let ok = |args: &[&str]| {
        let o = run(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        o
    };
    ok(&[
        "rotate",
        "init",
        "--key-dir",
        k,
        "--to",
        w,
        "--issuer",
        issuer,
    ]);
    ok(&[
        "rotate",
        "stage",
        "--key-dir",
        k,
        "--to",
        w,
        "--issuer",
        issuer,
    ]);
    let kids = |p: &std::path::Path| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    let jwks = web.join("openid/v1/jwks");
    assert_eq!(kids(&jwks).len(), 2);
    // publish with one key file only would drop the other.
    let one = std::fs::read_dir(&kd)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "pub"))
        .unwrap();
    let o = run(&[
        "publish",
        "--issuer",
        issuer,
        "--to",
        w,
        "--key",
        one.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--allow-key-removal"), "{}", stderr(&o));
    assert_eq!(kids(&jwks).len(), 2);

    // Promote by hand in the state (the public issuer is not served here), then retire --force:
    // the previous key leaves the JWKS, the active one stays.
    let state_path = kd.join("keyset.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    let mut previous = String::new();
    for key in state["keys"].as_array_mut().unwrap() {
        if key["state"] == "active" {
            key["state"] = "previous".into();
            key["demoted"] = 1.into();
            key["signing_ended"] = 1.into();
            previous = key["kid"].as_str().unwrap().to_string();
        } else {
            key["state"] = "active".into();
            key["promoted"] = 1.into();
        }
    }
    std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
    ok(&[
        "rotate",
        "retire",
        "--key-dir",
        k,
        "--to",
        w,
        "--issuer",
        issuer,
    ]);
    let left = kids(&jwks);
    assert_eq!(left.len(), 1);
    assert_ne!(left[0], previous);
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    assert_eq!(state["retired"][0]["kid"], previous.as_str());
}

fn cluster_file(dir: &std::path::Path, name: &str, bucket: &str) -> std::path::PathBuf {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!(
            "target = \"s3://{bucket}/{name}\"\n[aws]\nregion = \"us-east-1\"\n[keys]\ndir = \"{name}-keys\"\ngenerate = true\n[s3]\ncreate_bucket = true\n[provider]\nthumbprints = [\"{}\"]\n[[roles]]\nname = \"team-reader\"\nservice_accounts = [\"team/reader\"]\n",
            "c".repeat(40)
        ),
    )
    .unwrap();
    file
}

/// Two clusters whose files both name role `team-reader`: the second `apply` rewrote the
/// first's trust policy to its own provider (and its `destroy` would delete the role). The owner
/// tag names the issuer now: the second cluster is refused, and leaves the role alone.
#[tokio::test(flavor = "multi_thread")]
async fn one_cluster_never_takes_over_another_clusters_role() {
    let a = common::Account::new("us-east-1").await;
    let bucket = common::bucket_name("owners");
    let d = tempfile::tempdir().unwrap();
    let c1 = cluster_file(d.path(), "c1", &bucket);
    let c2 = cluster_file(d.path(), "c2", &bucket);
    let o = a.run(&["apply", "-f", c1.to_str().unwrap(), "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let iam = a.iam().await;
    let trust = || async {
        let r = iam
            .get_role()
            .role_name("team-reader")
            .send()
            .await
            .unwrap();
        percent_encoding::percent_decode_str(
            r.role().unwrap().assume_role_policy_document().unwrap(),
        )
        .decode_utf8()
        .unwrap()
        .to_string()
    };
    let before = trust().await;
    assert!(before.contains(&format!("{bucket}/c1")), "{before}");

    let o = a.run(&["apply", "-f", c2.to_str().unwrap(), "--plan"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let plan = common::stdout(&o);
    assert!(plan.contains("! refused: role"), "{plan}");
    assert!(
        plan.contains(&format!(
            "owned by another issuer, https://s3.us-east-1.amazonaws.com/{bucket}/c1"
        )),
        "{plan}"
    );
    // The fix names a flag the command has (apply --force), and apply takes it.
    let text = format!("{plan}{}", stderr(&o));
    assert!(text.contains("`apply --force`"), "{text}");
    let help = common::stdout(&a.run(&["apply", "--help"]));
    assert!(help.contains("--force"), "{help}");
    let o = a.run(&["apply", "-f", c2.to_str().unwrap(), "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        trust().await,
        before,
        "the other cluster's trust policy was rewritten"
    );

    let o = a.run(&["destroy", "-f", c2.to_str().unwrap(), "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        common::stdout(&o).contains("owned by another issuer"),
        "{}",
        common::stdout(&o)
    );
    assert_eq!(
        trust().await,
        before,
        "the other cluster's role was touched"
    );
}

/// `provider apply` on an untagged provider made by another tool removed a client ID and tagged
/// it as its own; `provider delete` then deleted it without `--force`.
#[tokio::test(flavor = "multi_thread")]
async fn a_provider_made_by_another_tool_is_never_adopted_or_deleted_without_force() {
    let a = common::Account::new("us-east-1").await;
    let iam = a.iam().await;
    let host = format!("oidc-{:08x}.example.com", rand::random::<u32>());
    let issuer = format!("https://{host}");
    let arn = iam
        .create_open_id_connect_provider()
        .url(&issuer)
        .client_id_list("sts.amazonaws.com")
        .client_id_list("their-audience")
        .thumbprint_list("d".repeat(40))
        .send()
        .await
        .unwrap()
        .open_id_connect_provider_arn()
        .unwrap()
        .to_string();
    let o = a.run(&[
        "provider",
        "apply",
        "--issuer",
        &issuer,
        "--thumbprint",
        &"d".repeat(40),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not tagged managed-by=irsa-issuer"),
        "{}",
        stderr(&o)
    );
    let p = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(p.client_id_list().len(), 2, "a client ID was removed");
    assert!(p.tags().is_empty(), "it was tagged as irsa-issuer's");
    let o = a.run(&["provider", "delete", "--issuer", &issuer]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .is_ok());
}

async fn block_public_access(s3: &aws_sdk_s3::Client, bucket: &str) -> (bool, bool, bool, bool) {
    let c = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let c = c.public_access_block_configuration().unwrap();
    (
        c.block_public_acls().unwrap_or(false),
        c.ignore_public_acls().unwrap_or(false),
        c.block_public_policy().unwrap_or(false),
        c.restrict_public_buckets().unwrap_or(false),
    )
}

/// On a bucket with all Block Public Access switches on and an old `Principal: *` statement,
/// `publish --create-bucket` switched two of them off (making the old statement live), kept it,
/// and tagged the bucket as irsa-issuer's. Now it refuses and changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn create_bucket_never_revives_old_public_grants_or_claims_a_bucket() {
    let a = common::Account::new("us-east-1").await;
    let s3 = a.s3().await;
    let bucket = common::bucket_name("oldgrant");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    s3.put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let old = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"OldWebsite","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    s3.put_bucket_policy()
        .bucket(&bucket)
        .policy(&old)
        .send()
        .await
        .unwrap();
    let key = common::fixture("rsa2048.pub");
    let o = a.run(&[
        "publish",
        "--to",
        &format!("s3://{bucket}/c1"),
        "--key",
        key.to_str().unwrap(),
        "--create-bucket",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("OldWebsite"), "{}", stderr(&o));
    assert_eq!(
        block_public_access(&s3, &bucket).await,
        (true, true, true, true)
    );
    assert!(s3
        .get_bucket_tagging()
        .bucket(&bucket)
        .send()
        .await
        .is_err());
    // acl mode would revive old object ACLs: refused too.
    let o = a.run(&[
        "publish",
        "--to",
        &format!("s3://{bucket}/c1"),
        "--key",
        key.to_str().unwrap(),
        "--create-bucket",
        "--public-access",
        "acl",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("ACLs"), "{}", stderr(&o));
    let own = s3
        .get_bucket_ownership_controls()
        .bucket(&bucket)
        .send()
        .await;
    assert!(own
        .map(|o| format!("{:?}", o).contains("ObjectWriter"))
        .map(|w| !w)
        .unwrap_or(true));
}

/// A cluster applied in a fresh account: its bucket (created by the apply), the directory
/// holding its file and keys, and the file.
async fn applied_cluster(
    name: &str,
) -> (
    common::Account,
    String,
    tempfile::TempDir,
    std::path::PathBuf,
) {
    let a = common::Account::new("us-east-1").await;
    let bucket = common::bucket_name(name);
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("c.toml");
    std::fs::write(
        &file,
        format!(
            "target = \"s3://{bucket}/c1\"\n[aws]\nregion = \"us-east-1\"\n[keys]\ndir = \"keys\"\ngenerate = true\n[s3]\ncreate_bucket = true\n[provider]\nthumbprints = [\"{}\"]\n",
            "e".repeat(40)
        ),
    )
    .unwrap();
    let o = a.run(&["apply", "-f", file.to_str().unwrap(), "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    (a, bucket, d, file)
}

/// `destroy` deleted the bucket while a provider still trusted the issuer: S3 names are global,
/// so whoever re-creates it serves their own JWKS under the same issuer, and assumes every role
/// that trusts that provider. Now the bucket is kept unless --delete-bucket, which itself
/// refuses while a provider for the issuer remains; the switches it relaxed go back on.
#[tokio::test(flavor = "multi_thread")]
async fn destroy_keeps_the_bucket_while_anything_may_trust_it() {
    let (a, bucket, _d, file) = applied_cluster("keep").await;
    let f = file.to_str().unwrap();
    let s3 = a.s3().await;
    assert_eq!(
        block_public_access(&s3, &bucket).await,
        (true, true, false, false)
    );
    // The provider is taken out of irsa-issuer's hands (another tool now owns it).
    let iam = a.iam().await;
    let provider = format!(
        "arn:aws:iam::{}:oidc-provider/s3.us-east-1.amazonaws.com/{bucket}/c1",
        a.id
    );
    iam.untag_open_id_connect_provider()
        .open_id_connect_provider_arn(&provider)
        .tag_keys("managed-by")
        .tag_keys("irsa-issuer/issuer")
        .send()
        .await
        .unwrap();
    let o = a.run(&["destroy", "-f", f, "--yes", "--delete-bucket"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = common::stdout(&o);
    assert!(out.contains("still trusts this issuer"), "{out}");
    assert!(
        s3.head_bucket().bucket(&bucket).send().await.is_ok(),
        "the bucket was deleted while a provider trusts it"
    );
    assert!(iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&provider)
        .send()
        .await
        .is_ok());
    // Kept, the bucket is private again: the statement is gone and the switches are back on.
    assert_eq!(
        block_public_access(&s3, &bucket).await,
        (true, true, true, true)
    );
    let policy = s3.get_bucket_policy().bucket(&bucket).send().await;
    assert!(policy.is_err(), "{policy:?}");
    // Once no provider remains, --delete-bucket deletes it.
    iam.delete_open_id_connect_provider()
        .open_id_connect_provider_arn(&provider)
        .send()
        .await
        .unwrap();
    let o = a.run(&["destroy", "-f", f, "--yes", "--delete-bucket"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(s3.head_bucket().bucket(&bucket).send().await.is_err());
}

/// A provider for another spelling of the bucket's URL (virtual-hosted, or another prefix)
/// trusts whoever holds the bucket's name just as much: `--delete-bucket` keeps the bucket while
/// one remains in an account the file reaches, names it, and deletes the bucket once it is gone.
#[tokio::test(flavor = "multi_thread")]
async fn delete_bucket_waits_for_providers_of_any_spelling_of_the_bucket() {
    let (a, bucket, _d, file) = applied_cluster("spell").await;
    let f = file.to_str().unwrap();
    let iam = a.iam().await;
    let s3 = a.s3().await;
    let mut others = Vec::new();
    for url in [
        format!("https://{bucket}.s3.us-east-1.amazonaws.com/c1"),
        format!("https://s3.amazonaws.com/{bucket}/c9"),
    ] {
        let out = iam
            .create_open_id_connect_provider()
            .url(&url)
            .client_id_list("sts.amazonaws.com")
            .thumbprint_list("e".repeat(40))
            .send()
            .await
            .unwrap();
        others.push(out.open_id_connect_provider_arn().unwrap().to_string());
    }
    // An unrelated provider does not block.
    iam.create_open_id_connect_provider()
        .url(format!("https://oidc.example.com/{bucket}"))
        .client_id_list("sts.amazonaws.com")
        .thumbprint_list("e".repeat(40))
        .send()
        .await
        .unwrap();
    let o = a.run(&["destroy", "-f", f, "--yes", "--delete-bucket"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = common::stdout(&o);
    for arn in &others {
        assert!(out.contains(arn.as_str()), "{arn} not named: {out}");
    }
    assert!(out.contains("another prefix or spelling"), "{out}");
    assert!(!out.contains("oidc.example.com"), "{out}");
    assert!(
        s3.head_bucket().bucket(&bucket).send().await.is_ok(),
        "the bucket was deleted while a provider of another spelling trusts it"
    );
    for arn in &others {
        iam.delete_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .unwrap();
    }
    let o = a.run(&["destroy", "-f", f, "--yes", "--delete-bucket"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(s3.head_bucket().bucket(&bucket).send().await.is_err());
    // It says what it could not check, and counts resources and steps apart (the bucket is one
    // resource, deleted in one step).
    let out = common::stdout(&o);
    assert!(
        out.contains("accounts it does not list are not checked"),
        "{out}"
    );
    assert!(
        out.contains(
            "Destroy complete: 1 resource(s) deleted, 0 changed, 0 left alone, in 1 step(s)."
        ),
        "{out}"
    );
}

/// `rotate promote` followed a plain-http or other-host jwks_uri and compared only kid strings.
/// It now requires https on the issuer's host, and key material that is the key its kid names.
#[test]
fn promote_checks_the_served_key_not_only_its_kid() {
    let tls = common::Tls::new();
    let d = tempfile::tempdir().unwrap();
    let kd = d.path().join("keys");
    let k = kd.to_str().unwrap();
    let site = d.path().join("site");
    std::fs::create_dir_all(site.join(".well-known")).unwrap();
    std::fs::create_dir_all(site.join("openid/v1")).unwrap();
    let mut cmd = Command::new(common::python());
    cmd.arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/static_https.py"))
        .args(["--root", site.to_str().unwrap(), "--prefix", ""])
        .args(["--cert", &tls.cert(), "--key", &tls.key()]);
    let server = common::Server::spawn(cmd);
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    let issuer = format!("https://localhost:{port}");
    for step in ["init", "stage"] {
        let o = run(&["rotate", step, "--key-dir", k, "--alg", "ES256"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // The real JWKS of both keys, as irsa-issuer renders it.
    let o = run(&["jwks", "--key-dir", k]);
    let jwks: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(kd.join("keyset.json")).unwrap()).unwrap();
    let next = state["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["state"] == "next")
        .unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let write = |jwks_uri: &str, jwks: &serde_json::Value| {
        std::fs::write(
            site.join(".well-known/openid-configuration"),
            serde_json::json!({"issuer": issuer, "jwks_uri": jwks_uri}).to_string(),
        )
        .unwrap();
        std::fs::write(site.join("openid/v1/jwks"), jwks.to_string()).unwrap();
    };
    let promote = || {
        run(&[
            "rotate",
            "promote",
            "--key-dir",
            k,
            "--issuer",
            &issuer,
            "--ca-file",
            &tls.ca(),
            "--cache-max-age",
            "0",
        ])
    };
    let cases = [
        (
            format!("http://localhost:{port}/openid/v1/jwks"),
            jwks.clone(),
            "is not https",
        ),
        (
            format!("https://127.0.0.1:{port}/openid/v1/jwks"),
            jwks.clone(),
            "on another host",
        ),
    ];
    for (uri, doc, want) in cases {
        write(&uri, &doc);
        let o = promote();
        assert_eq!(o.status.code(), Some(1), "{uri}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{uri}: {}", stderr(&o));
    }
    // The next kid, with the active key's material.
    let mut forged = jwks.clone();
    let keys = forged["keys"].as_array_mut().unwrap();
    let active = keys
        .iter()
        .find(|j| j["kid"] != next.as_str())
        .unwrap()
        .clone();
    let mut fake = active.clone();
    fake["kid"] = next.as_str().into();
    *keys = vec![active, fake];
    let good_uri = format!("https://localhost:{port}/openid/v1/jwks");
    write(&good_uri, &forged);
    let o = promote();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("key material"), "{}", stderr(&o));
    let still: serde_json::Value =
        serde_json::from_slice(&std::fs::read(kd.join("keyset.json")).unwrap()).unwrap();
    assert_eq!(still, state, "the key set changed although promote refused");
    // The real documents: promote goes ahead.
    write(&good_uri, &jwks);
    let o = promote();
    assert!(o.status.success(), "{}", stderr(&o));
}
