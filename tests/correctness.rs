//! The correctness review's items (AWS's and kube-apiserver's rules), one test each, through the
//! real binary against moto: what broke before, and what holds now.

mod common;

use common::{stderr, stdout, Account};

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {} / {}", stdout(o), stderr(o)))
}

/// IAM verifies an S3-hosted JWKS through its own CA library and ignores thumbprints, and
/// `ThumbprintList` is optional. `thumbprints = ["auto"]` (the default) fetched the S3 host's
/// chain anyway, so `apply --plan` failed without network; now an S3 issuer needs no fetch and
/// its provider gets no thumbprint. `thumbprints = []` says the same explicitly for any issuer.
#[tokio::test(flavor = "multi_thread")]
async fn an_s3_issuer_needs_no_thumbprint_and_no_network() {
    let a = Account::new("us-east-1").await;
    let bucket = common::bucket_name("nothumb");
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("c.toml");
    std::fs::write(
        &file,
        format!("target = \"s3://{bucket}/c1\"\n[aws]\nregion = \"us-east-1\"\n[keys]\ndir = \"keys\"\ngenerate = true\n[s3]\ncreate_bucket = true\n"),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let o = a.run(&["apply", "-f", f, "--plan"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("No thumbprint needed: the JWKS is on S3"),
        "{}",
        stdout(&o)
    );
    let o = a.run(&["apply", "-f", f, "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p = a
        .iam()
        .await
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(format!(
            "arn:aws:iam::{}:oidc-provider/s3.us-east-1.amazonaws.com/{bucket}/c1",
            a.id
        ))
        .send()
        .await
        .unwrap();
    assert!(p.thumbprint_list().is_empty(), "{:?}", p.thumbprint_list());
    assert_eq!(a.run(&["apply", "-f", f, "--plan"]).status.code(), Some(0));

    // A hand-set thumbprint on it is left alone: IAM does not use it, and rewriting the list on
    // every CA change would only make noise.
    a.iam()
        .await
        .update_open_id_connect_provider_thumbprint()
        .open_id_connect_provider_arn(
            p.url()
                .map(|_| {
                    format!(
                        "arn:aws:iam::{}:oidc-provider/s3.us-east-1.amazonaws.com/{bucket}/c1",
                        a.id
                    )
                })
                .unwrap(),
        )
        .thumbprint_list("f".repeat(40))
        .send()
        .await
        .unwrap();
    assert_eq!(a.run(&["apply", "-f", f, "--plan"]).status.code(), Some(0));
}

/// In aws-cn the audience defaulted to sts.amazonaws.com.cn for roles while `init` wrote
/// client_ids = ["sts.amazonaws.com"] and the webhooks default to sts.amazonaws.com: every China
/// pod was refused. The default is sts.amazonaws.com everywhere, and a file whose role audience is
/// not one of the provider's client IDs is refused before any call.
#[tokio::test(flavor = "multi_thread")]
async fn china_defaults_agree_and_audiences_are_checked() {
    let a = Account::new("cn-north-1").await;
    let o = a.run(&[
        "trust-policy",
        "--issuer",
        "https://s3.cn-north-1.amazonaws.com.cn/b/c1",
        "--service-account",
        "ns/app",
        "--account",
        "111122223333",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let policy = json(&o);
    let cond = policy["Statement"][0]["Condition"]["StringEquals"].clone();
    assert_eq!(
        cond["s3.cn-north-1.amazonaws.com.cn/b/c1:aud"], "sts.amazonaws.com",
        "{policy:#}"
    );
    assert_eq!(
        policy["Statement"][0]["Principal"]["Federated"],
        "arn:aws-cn:iam::111122223333:oidc-provider/s3.cn-north-1.amazonaws.com.cn/b/c1",
        "the partition comes from the issuer"
    );
    // iam-policy infers the partition from the issuer too (it printed arn:aws: before).
    let o = common::run(&[
        "iam-policy",
        "--for",
        "provider",
        "--issuer",
        "https://s3.cn-north-1.amazonaws.com.cn/b/c1",
    ]);
    assert!(stdout(&o).contains("arn:aws-cn:iam::"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("arn:aws:iam::"), "{}", stdout(&o));

    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("c.toml");
    for (provider, role, bad) in [
        ("", "audience = \"sts.amazonaws.com.cn\"\n", true),
        ("client_ids = [\"sts.amazonaws.com.cn\"]\n", "", true),
        (
            "client_ids = [\"sts.amazonaws.com.cn\"]\n",
            "audience = \"sts.amazonaws.com.cn\"\n",
            false,
        ),
        ("", "", false),
    ] {
        std::fs::write(
            &file,
            format!("target = \"s3://b-cn/c1\"\n[keys]\ndir = \"k\"\ngenerate = true\n[aws]\nregion = \"cn-north-1\"\n[provider]\nthumbprints = []\n{provider}[[roles]]\nname = \"r\"\nservice_accounts = [\"ns/app\"]\n{role}"),
        )
        .unwrap();
        let o = common::run(&["iam-policy", "-f", file.to_str().unwrap()]);
        if bad {
            assert_eq!(o.status.code(), Some(1), "{provider}{role}");
            assert!(
                stderr(&o).contains("is not among the provider's client IDs"),
                "{}",
                stderr(&o)
            );
        } else {
            assert!(o.status.success(), "{provider}{role}: {}", stderr(&o));
        }
    }
}

/// A region irsa-issuer cannot build ARNs for, or an empty AWS_REGION (common in CI when a
/// variable is unset), fell back to the aws partition; now each is a one-line error.
#[test]
fn unknown_regions_and_an_empty_region_are_refused() {
    for (region, want) in [
        ("", "no AWS region"),
        ("us-iso-east-1", "isolated partition"),
        ("moon-base-1x", "not a region name"),
    ] {
        let o = std::process::Command::new(common::bin())
            .args([
                "provider",
                "show",
                "--issuer",
                "https://oidc.example.com/c1",
            ])
            .env("AWS_REGION", region)
            .env_remove("AWS_DEFAULT_REGION")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_ACCESS_KEY_ID", "x")
            .env("AWS_SECRET_ACCESS_KEY", "y")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{region}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{region}: {}", stderr(&o));
    }
}

/// The trust-policy size limit is IAM's default 2048 unless raised (up to 4096).
#[tokio::test(flavor = "multi_thread")]
async fn the_trust_policy_limit_follows_the_account_quota() {
    let mut args: Vec<String> = [
        "trust-policy",
        "--issuer",
        "https://oidc.example.com/c1",
        "--account",
        "111122223333",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for i in 0..40 {
        args.push("--service-account".into());
        args.push(format!("namespace-{i}/service-account-{i}"));
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = common::run(&a);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("over IAM's limit of 2048"),
        "{}",
        stderr(&o)
    );
    let mut raised = a.clone();
    raised.extend(["--max-trust-policy-size", "4096"]);
    assert!(common::run(&raised).status.success());
    let mut wrong = a.clone();
    wrong.extend(["--max-trust-policy-size", "8192"]);
    assert_eq!(common::run(&wrong).status.code(), Some(64));
}

/// --token-expiration outside 600 s .. max token age is refused (kube-apiserver would raise a
/// shorter one; a longer one would outlive the retire clock).
#[test]
fn token_expiration_must_fit_the_rotation() {
    for (secs, ok) in [
        ("599", false),
        ("600", true),
        ("86400", true),
        ("86401", false),
    ] {
        let o = std::process::Command::new(common::bin())
            .args([
                "role",
                "manifest",
                "--name",
                "r",
                "--service-account",
                "ns/app",
                "--token-expiration",
                secs,
            ])
            .env("AWS_REGION", "")
            .output()
            .unwrap();
        let refused = stderr(&o).contains("is not usable");
        assert_eq!(!refused, ok, "{secs}: {}", stderr(&o));
    }
}

fn state(kd: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(kd.join("keyset.json")).unwrap()).unwrap()
}

/// `retire` counted from `promote`, but kube-apiserver keeps signing with the old key until it is
/// restarted with the new flags, hours or days later: tokens signed in that window lost their
/// key. The clock now starts at `confirm`, which takes a token the cluster issued with the new
/// key (its signature checked); until then retire refuses, however long ago promote ran.
#[test]
fn the_retire_clock_starts_when_the_cluster_signs_with_the_new_key() {
    let d = tempfile::tempdir().unwrap();
    let kd = d.path().join("keys");
    let k = kd.to_str().unwrap();
    for step in ["init", "stage"] {
        let o = common::run(&["rotate", step, "--key-dir", k, "--alg", "ES256"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // Promoted a day ago (the state as promote leaves it; promote itself needs a served issuer).
    let mut st = state(&kd);
    let (mut old, mut new) = (String::new(), String::new());
    for key in st["keys"].as_array_mut().unwrap() {
        if key["state"] == "active" {
            key["state"] = "previous".into();
            key["demoted"] = 1_000.into();
            old = key["kid"].as_str().unwrap().to_string();
        } else {
            key["state"] = "active".into();
            key["promoted"] = 1_000.into();
            key["published"] = 500.into();
            new = key["kid"].as_str().unwrap().to_string();
        }
    }
    std::fs::write(kd.join("keyset.json"), st.to_string()).unwrap();
    let o = common::run(&["rotate", "retire", "--key-dir", k]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("rotate confirm"), "{}", stderr(&o));
    let o = common::run(&["rotate", "status", "--key-dir", k, "--output", "json"]);
    let v = json(&o);
    assert_eq!(v["next_step"]["command"], "rotate confirm");
    // Before confirm, status names no removal time (it counted from demoted before).
    let previous = |v: &serde_json::Value| {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["state"] == "previous")
            .cloned()
            .unwrap()
    };
    assert!(previous(&v).get("removable_from").is_none(), "{v}");
    let o = common::run(&["rotate", "status", "--key-dir", k]);
    assert!(stdout(&o).contains("after confirm"), "{}", stdout(&o));

    let sign = |kid: &str, with: &str| {
        let pem = std::fs::read(kd.join("private").join(format!("{with}.key"))).unwrap();
        let t = common::sign_token(
            &pem,
            jsonwebtoken::Algorithm::ES256,
            kid,
            "https://oidc.example.com/c1",
            "system:serviceaccount:default:default",
            "https://kubernetes.default.svc",
            600,
        );
        let f = d.path().join(format!("t-{kid}-{with}"));
        std::fs::write(&f, t).unwrap();
        f
    };
    let confirm = |f: &std::path::Path| {
        common::run(&[
            "rotate",
            "confirm",
            "--key-dir",
            k,
            "--token",
            f.to_str().unwrap(),
        ])
    };
    // A token still signed with the old key: the cluster has not switched.
    let o = confirm(&sign(&old, &old));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not with the active key"),
        "{}",
        stderr(&o)
    );
    // The new kid, signed by another key: not the cluster's token.
    let o = confirm(&sign(&new, &old));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("does not verify"), "{}", stderr(&o));
    assert!(state(&kd)["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k.get("signing_ended").is_none()));
    // The real thing starts the clock, from now: retire is still too early.
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let o = confirm(&sign(&new, &new));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = common::run(&["rotate", "status", "--key-dir", k, "--output", "json"]);
    let removable = previous(&json(&o))["removable_from"]
        .as_str()
        .unwrap()
        .to_string();
    // 24 h + 5 min after the confirm, not after the demotion at t=1000.
    let year = |t: u64| 1970 + t / 31_557_600;
    assert!(
        removable.starts_with(&year(before + 86_400 + 300).to_string()),
        "{removable}"
    );
    let o = common::run(&["rotate", "retire", "--key-dir", k]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("may be valid until 20"),
        "an RFC 3339 time: {}",
        stderr(&o)
    );
    let o = common::run(&[
        "rotate",
        "retire",
        "--key-dir",
        k,
        "--max-token-age",
        "1s",
        "--clock-skew",
        "0s",
    ]);
    // One second after confirming at the earliest.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let o2 = common::run(&[
        "rotate",
        "retire",
        "--key-dir",
        k,
        "--max-token-age",
        "1s",
        "--clock-skew",
        "0s",
    ]);
    assert!(o.status.success() || o2.status.success(), "{}", stderr(&o2));
}

/// `apiserver-flags` parsed --previous-issuer and --api-audiences and dropped both. Left out,
/// --api-audiences is kube-apiserver's default (every issuer); asked for, it lists every issuer
/// given, never the new one alone (in-cluster tokens of the old issuer would be refused).
#[test]
fn apiserver_flags_keep_every_issuer_and_leave_api_audiences_out_unless_asked() {
    let d = tempfile::tempdir().unwrap();
    let kd = d.path().join("keys");
    let k = kd.to_str().unwrap();
    let o = common::run(&["rotate", "init", "--key-dir", k, "--alg", "ES256"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let new = "https://s3.eu-west-1.amazonaws.com/acme/c1";
    let old = "https://oidc.old.example.com/c1";
    let flags = |extra: &[&str]| {
        let mut args = vec![
            "apiserver-flags",
            "--key-dir",
            k,
            "--issuer",
            new,
            "--format",
            "flags",
        ];
        args.extend_from_slice(extra);
        let o = common::run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o).lines().map(str::to_string).collect::<Vec<_>>()
    };
    let plain = flags(&["--previous-issuer", old]);
    let issuers: Vec<&String> = plain
        .iter()
        .filter(|l| l.starts_with("--service-account-issuer="))
        .collect();
    assert_eq!(
        issuers,
        [
            &format!("--service-account-issuer={new}"),
            &format!("--service-account-issuer={old}")
        ],
        "the new issuer signs (first), the old one is still accepted: {plain:?}"
    );
    assert!(
        !plain.iter().any(|l| l.starts_with("--api-audiences")),
        "{plain:?}"
    );
    let asked = flags(&["--previous-issuer", old, "--api-audiences"]);
    assert!(
        asked.contains(&format!("--api-audiences={new},{old}")),
        "{asked:?}"
    );
}
