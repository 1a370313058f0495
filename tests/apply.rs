//! `apply -f` / `destroy -f` against moto across two accounts: converge, converge again with no
//! mutating call, repair exactly the drift made by hand, tear down what carries the tag.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use common::{mutating_calls, run, stderr, stdout, Account};

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): stdout {} stderr {}", stdout(o), stderr(o)))
}

/// kube-apiserver's kid of a PEM public key, computed by openssl alone.
fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

const PRINT_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const PRINT_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

#[tokio::test(flavor = "multi_thread")]
async fn apply_converges_repairs_drift_and_destroy_removes_what_it_made() {
    let region = "us-east-1";
    let a = Account::new(region).await;
    let b_id = format!("{:012}", rand::random::<u64>() % 1_000_000_000_000);
    let b = Account::with_id(&b_id, region).await;
    let policy_a = common::customer_policy(&a, "reader-a").await;
    let policy_b = common::customer_policy(&b, "reader-b").await;
    let bucket = common::bucket_name("apply");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cluster.toml");
    std::fs::write(
        &file,
        format!(
            r#"
target = "s3://{bucket}/c1"
[aws]
region = "us-east-1"
[keys]
dir = "keys"
generate = true
[s3]
create_bucket = true
[provider]
thumbprints = ["{PRINT_A}"]
[tags]
cluster = "c1"
[[accounts]]
assume_role = "arn:aws:iam::{b_id}:role/irsa-admin"
external_id = "c1-bootstrap"
[[roles]]
name = "reader"
service_accounts = ["default/reader"]
policy_arns = ["{policy_a}"]
accounts = ["{}"]
[[roles]]
name = "reader"
service_accounts = ["team-b/*"]
policy_arns = ["{policy_b}"]
accounts = ["{b_id}"]
"#,
            a.id
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();

    // The same role name twice is a mistake in the file, caught before any call.
    let o = a.run(&["apply", "-f", f, "--plan"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(":23: roles[1].name: role reader is listed twice"),
        "{}",
        stderr(&o)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen(
            "name = \"reader\"\nservice_accounts = [\"team-b/*\"]",
            "name = \"reader-b\"\nservice_accounts = [\"team-b/*\"]",
            1,
        ),
    )
    .unwrap();

    // --plan: exit 2, nothing written anywhere (no key, no bucket).
    let mark = a.moto_mark();
    let o = a.run(&["apply", "-f", f, "--plan", "--output", "json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let plan = json(&o);
    assert_eq!(plan["summary"]["add"], 8, "{plan:#}");
    assert_eq!(mutating_calls(&plan), Vec::<String>::new());
    a.assert_moto_unchanged_since(&mark);
    assert!(!dir.path().join("keys").exists());

    // Without --yes and without a terminal, apply refuses.
    let o = a.run(&["apply", "-f", f]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("pass --yes"), "{}", stderr(&o));

    // 1. The first apply creates everything, in order.
    let mark = a.moto_mark();
    let o = a.run(&["apply", "-f", f, "--yes", "--output", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // moto saw the creations too (so its recording can show their absence later).
    let seen = a.moto_calls_since(&mark);
    for want in [
        "iam:CreateOpenIDConnectProvider",
        "iam:CreateRole",
        &format!("s3:PUT /{bucket}"),
    ] {
        assert!(
            seen.iter().any(|c| c.starts_with(want)),
            "moto did not see {want}: {seen:?}"
        );
    }
    let first = json(&o);
    assert_eq!(first["applied"], true);
    let muts = mutating_calls(&first);
    let pos = |op: &str| {
        muts.iter()
            .position(|m| m == op)
            .unwrap_or_else(|| panic!("{op} not in {muts:?}"))
    };
    assert!(pos("s3:CreateBucket") < pos("s3:PutObject"));
    assert!(pos("s3:PutObject") < pos("iam:CreateOpenIDConnectProvider"));
    assert!(pos("iam:CreateOpenIDConnectProvider") < pos("iam:CreateRole"));
    assert_eq!(
        muts.iter()
            .filter(|m| *m == "iam:CreateOpenIDConnectProvider")
            .count(),
        2
    );
    assert_eq!(muts.iter().filter(|m| *m == "iam:CreateRole").count(), 2);
    assert_eq!(muts.iter().filter(|m| *m == "s3:PutObject").count(), 2);
    // The progress lines go to stderr, one per step, plainly (not a terminal).
    assert!(stderr(&o).contains("[1/"), "{}", stderr(&o));
    assert!(!stderr(&o).contains('\r'));

    // The key: private 0600, and the published kid is what openssl derives from the .pub.
    let keys = dir.path().join("keys");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(keys.join("keyset.json")).unwrap()).unwrap();
    let kid = state["keys"][0]["kid"].as_str().unwrap().to_string();
    assert_eq!(common::openssl_kid(&keys.join(format!("{kid}.pub"))), kid);
    let mode = std::fs::metadata(keys.join("private").join(format!("{kid}.key")))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let s3 = a.s3().await;
    let jwks = s3
        .get_object()
        .bucket(&bucket)
        .key("c1/openid/v1/jwks")
        .send()
        .await
        .unwrap();
    let jwks: serde_json::Value =
        serde_json::from_slice(&jwks.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], kid.as_str());
    assert!(jwks["keys"][0].get("d").is_none());
    let issuer = format!("https://s3.{region}.amazonaws.com/{bucket}/c1");
    let disc = s3
        .get_object()
        .bucket(&bucket)
        .key("c1/.well-known/openid-configuration")
        .send()
        .await
        .unwrap();
    let disc: serde_json::Value =
        serde_json::from_slice(&disc.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(disc["issuer"], issuer.as_str());
    let provider_arn = |acct: &str| {
        format!("arn:aws:iam::{acct}:oidc-provider/s3.{region}.amazonaws.com/{bucket}/c1")
    };
    let iam_a = a.iam().await;
    let iam_b = b.iam().await;
    for (iam, acct) in [(&iam_a, &a.id), (&iam_b, &b_id)] {
        let p = iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(provider_arn(acct))
            .send()
            .await
            .unwrap_or_else(|e| panic!("no provider in {acct}: {e:?}"));
        assert_eq!(p.client_id_list(), ["sts.amazonaws.com"]);
        assert_eq!(p.thumbprint_list(), [PRINT_A]);
    }
    let role_b = iam_b.get_role().role_name("reader-b").send().await.unwrap();
    let trust = percent_encoding::percent_decode_str(
        role_b
            .role()
            .unwrap()
            .assume_role_policy_document()
            .unwrap(),
    )
    .decode_utf8()
    .unwrap()
    .to_string();
    assert!(trust.contains(&provider_arn(&b_id)), "{trust}");
    assert!(trust.contains("system:serviceaccount:team-b:*"), "{trust}");
    // reader-b lives only in B, reader only in A.
    assert!(iam_a.get_role().role_name("reader-b").send().await.is_err());
    assert!(iam_b.get_role().role_name("reader").send().await.is_err());

    // 2. A second apply: no changes, no mutating call.
    let o = a.run(&["apply", "-f", f, "--yes", "--output", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let second = json(&o);
    assert_eq!(mutating_calls(&second), Vec::<String>::new());
    assert_eq!(second["summary"]["add"], 0);
    assert_eq!(second["summary"]["change"], 0);
    assert_eq!(run_plan_code(&a, f), 0);

    // 3. Drift by hand: B's thumbprint changed, A's role policy detached, the JWKS deleted.
    iam_b
        .update_open_id_connect_provider_thumbprint()
        .open_id_connect_provider_arn(provider_arn(&b_id))
        .thumbprint_list(PRINT_B)
        .send()
        .await
        .unwrap();
    iam_a
        .detach_role_policy()
        .role_name("reader")
        .policy_arn(&policy_a)
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket(&bucket)
        .key("c1/openid/v1/jwks")
        .send()
        .await
        .unwrap();
    assert_eq!(run_plan_code(&a, f), 2);
    let o = a.run(&["apply", "-f", f, "--yes", "--output", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let repair = json(&o);
    assert_eq!(
        sorted(mutating_calls(&repair)),
        sorted(vec![
            "s3:PutObject".to_string(),
            "iam:UpdateOpenIDConnectProviderThumbprint".to_string(),
            "iam:AttachRolePolicy".to_string(),
        ]),
        "{repair:#}"
    );
    assert_eq!(repair["summary"]["add"], 1, "the JWKS");
    assert_eq!(repair["summary"]["change"], 2, "provider in B, role in A");
    let p = iam_b
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(provider_arn(&b_id))
        .send()
        .await
        .unwrap();
    assert_eq!(p.thumbprint_list(), [PRINT_A]);
    let attached = iam_a
        .list_attached_role_policies()
        .role_name("reader")
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached.attached_policies()[0].policy_arn(),
        Some(policy_a.as_str())
    );
    assert!(s3
        .get_object()
        .bucket(&bucket)
        .key("c1/openid/v1/jwks")
        .send()
        .await
        .is_ok());
    assert_eq!(run_plan_code(&a, f), 0);

    // 4. An unmanaged provider for another issuer and an unmanaged object are left alone.
    s3.put_object()
        .bucket(&bucket)
        .key("other/keep.txt")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();

    // ... and so is someone else's statement in the bucket policy.
    let current = s3.get_bucket_policy().bucket(&bucket).send().await.unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(current.policy().unwrap()).unwrap();
    let theirs = serde_json::json!({"Sid": "Theirs", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/other/*")});
    doc["Statement"]
        .as_array_mut()
        .unwrap()
        .push(theirs.clone());
    s3.put_bucket_policy()
        .bucket(&bucket)
        .policy(doc.to_string())
        .send()
        .await
        .unwrap();

    // destroy: --plan first (exit 2, nothing deleted), then for real.
    let o = a.run(&["destroy", "-f", f, "--plan"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = a.run(&["destroy", "-f", f, "--yes", "--output", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let gone = json(&o);
    let muts = mutating_calls(&gone);
    let pos = |op: &str| {
        muts.iter()
            .position(|m| m == op)
            .unwrap_or_else(|| panic!("{op} not in {muts:?}"))
    };
    assert!(pos("iam:DeleteRole") < pos("iam:DeleteOpenIDConnectProvider"));
    assert!(pos("iam:DeleteOpenIDConnectProvider") < pos("s3:DeleteObject"));
    // Every deletion is allowed by the policy `iam-policy` prints for destroy.
    let o = run(&[
        "iam-policy",
        "-f",
        f,
        "--for",
        "publish,bucket,provider,role,assume-role,destroy",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let policy: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let allowed = common::allowed_actions(&policy);
    for m in &muts {
        let action = common::iam_action(m).unwrap_or(m);
        assert!(
            allowed.iter().any(|a| a == action),
            "{m} ({action}) is not in iam-policy's destroy policy"
        );
    }
    // Nothing tagged managed-by=irsa-issuer is left in either account.
    for iam in [&iam_a, &iam_b] {
        let providers = iam.list_open_id_connect_providers().send().await.unwrap();
        for p in providers.open_id_connect_provider_list() {
            let tags = iam
                .list_open_id_connect_provider_tags()
                .open_id_connect_provider_arn(p.arn().unwrap())
                .send()
                .await
                .unwrap();
            assert!(
                !tags
                    .tags()
                    .iter()
                    .any(|t| t.key() == "managed-by" && t.value() == "irsa-issuer"),
                "{:?} is still there",
                p.arn()
            );
        }
        let roles = iam.list_roles().send().await.unwrap();
        for r in roles.roles() {
            let tags = iam
                .list_role_tags()
                .role_name(r.role_name())
                .send()
                .await
                .unwrap();
            assert!(
                !tags
                    .tags()
                    .iter()
                    .any(|t| t.key() == "managed-by" && t.value() == "irsa-issuer"),
                "role {} is still there",
                r.role_name()
            );
        }
    }
    // The documents are gone; the bucket holds someone else's object, so it stays, without
    // this prefix's public-read statement.
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let left: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(left, ["other/keep.txt"]);
    // Only this prefix's statement left the policy: someone else's is still there, unchanged.
    let policy = s3.get_bucket_policy().bucket(&bucket).send().await.unwrap();
    let left: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    assert_eq!(left["Statement"], serde_json::json!([theirs]), "{left}");
    // Keys stay without --delete-keys.
    assert!(keys.join(format!("{kid}.pub")).exists());
    // A second destroy has nothing to do; with the other object gone, --delete-keys then
    // removes the bucket and the keys.
    s3.delete_object()
        .bucket(&bucket)
        .key("other/keep.txt")
        .send()
        .await
        .unwrap();
    let o = a.run(&[
        "destroy",
        "-f",
        f,
        "--yes",
        "--delete-keys",
        "--delete-bucket",
        "--output",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let last = json(&o);
    assert_eq!(
        mutating_calls(&last),
        vec!["s3:DeleteBucket".to_string()],
        "{last:#}"
    );
    assert!(s3.head_bucket().bucket(&bucket).send().await.is_err());
    assert!(!keys.exists());
}

fn run_plan_code(a: &Account, f: &str) -> i32 {
    let o = a.run(&["apply", "-f", f, "--plan"]);
    o.status.code().unwrap_or(-1)
}

#[test]
fn malformed_config_names_field_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    let cases = [
        ("target = \"s3://bucket-x/c\"\n[keys]\ndir = \"k\"\ngenerate = true\nalgoritm = \"RS256\"\n", "c.toml:5: keys.algoritm: unknown field"),
        ("target = \"s3://bucket-x/c\"\n[keys]\ndir = \"k\"\n[[roles]]\nname = \"r\"\nservice_accounts = [\"nope\"]\n", "c.toml:6: roles[0].service_accounts:"),
        ("target = \"s3://bucket-x/c\"\n[keys]\ndir = 3\n", "c.toml:3: keys.dir: invalid type"),
        ("target = \"s3://bucket-x/c\"\n[keys]\ndir = \"k\"\n[provider]\nthumbprints = [\"abc\"]\n", "c.toml:5: provider.thumbprints:"),
    ];
    for (text, want) in cases {
        std::fs::write(&file, text).unwrap();
        let o = Command::new(common::bin())
            .current_dir(dir.path())
            .args(["apply", "-f", "c.toml", "--plan"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert!(stderr(&o).contains(want), "{text}: {}", stderr(&o));
    }
    // An environment override that is wrong names the variable.
    std::fs::write(&file, "target = \"s3://bucket-x/c\"\n[keys]\ndir = \"k\"\n").unwrap();
    let o = Command::new(common::bin())
        .current_dir(dir.path())
        .env("IRSA_ISSUER_TARGET", "ftp://x")
        .args(["apply", "-f", "c.toml", "--plan"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("IRSA_ISSUER_TARGET"), "{}", stderr(&o));
}

/// The example `init` writes is a file `apply` plans from as it is: a bucket, the documents,
/// a provider and a role to create, and not a single mutating call.
#[tokio::test(flavor = "multi_thread")]
async fn init_writes_an_example_that_plans() {
    let acct = Account::new("us-east-1").await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("irsa-issuer.toml");
    let o = run(&["init", "-f", f.to_str().unwrap(), "--region", "us-east-1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.contains("[[roles]]"));
    // Its key directory is relative to the file: beside it here.
    let keys = dir.path().join("keys");
    let mark = acct.moto_mark();
    let o = acct.run(&[
        "apply",
        "-f",
        f.to_str().unwrap(),
        "--plan",
        "--output",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    acct.assert_moto_unchanged_since(&mark);
    let v = json(&o);
    let creates: Vec<(&str, &str)> = v["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["action"] == "create")
        .map(|i| (i["step"].as_str().unwrap(), i["resource"].as_str().unwrap()))
        .collect();
    for step in ["bucket", "documents", "provider", "role"] {
        assert!(
            creates.iter().any(|(s, _)| *s == step),
            "no {step} to create: {creates:?}"
        );
    }
    assert!(
        creates
            .iter()
            .any(|(_, r)| r.ends_with(":role/irsa/cluster-a-s3-reader")),
        "{creates:?}"
    );
    assert!(mutating_calls(&v).is_empty(), "{v}");
    assert!(!keys.exists(), "--plan wrote the key");
    // A second init does not overwrite.
    let o = run(&["init", "-f", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--force"));
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef irsa-issuer"),
        ("fish", "complete -c irsa-issuer"),
    ] {
        let o = run(&["completions", shell]);
        assert!(o.status.success());
        let s = stdout(&o);
        assert!(s.contains(marker), "{shell}");
        assert!(s.contains("apply") && s.contains("verify"), "{shell}");
    }
    // bash can source it.
    let o = run(&["completions", "bash"]);
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!("{}\ncomplete -p irsa-issuer", stdout(&o)))
        .status()
        .unwrap();
    assert!(status.success());
}
