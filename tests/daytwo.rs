//! Day two as a platform team lives it (the day-two issue), through the real binary: the file
//! pins the issuer, messages say true things, plans show what changes.

mod common;

use common::{stderr, stdout, Account};

/// With an s3:// target and neither `issuer` nor `aws.region` in the file, the issuer followed
/// the shell's AWS_REGION: in a shell with another region, `apply` planned a whole new issuer
/// with a new key. Now it refuses; `init` pins the region it is given.
#[tokio::test(flavor = "multi_thread")]
async fn the_issuer_never_follows_the_shell() {
    let a = Account::new("eu-west-1").await;
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("c.toml");
    let bucket = common::bucket_name("pinned");
    std::fs::write(
        &file,
        format!("target = \"s3://{bucket}/c1\"\n[keys]\ndir = \"keys\"\ngenerate = true\n[s3]\ncreate_bucket = true\n"),
    )
    .unwrap();
    let o = a.run(&["apply", "-f", file.to_str().unwrap(), "--plan"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("pins no issuer"), "{}", stderr(&o));
    assert!(stderr(&o).contains("set aws.region"), "{}", stderr(&o));
    assert!(!d.path().join("keys").exists());
    // verify and apiserver-flags read the same issuer: they refuse too, rather than check or
    // print one that follows the shell.
    for cmd in [&["verify", "--skip-aws"][..], &["apiserver-flags"][..]] {
        let mut args = vec![cmd[0], "-f", file.to_str().unwrap()];
        args.extend_from_slice(&cmd[1..]);
        let o = a.run(&args);
        assert_eq!(o.status.code(), Some(1), "{cmd:?}: {}", stdout(&o));
        assert!(
            stderr(&o).contains("pins no issuer"),
            "{cmd:?}: {}",
            stderr(&o)
        );
    }
    // --region on the command line pins it as well.
    let o = a.run(&[
        "apply",
        "-f",
        file.to_str().unwrap(),
        "--plan",
        "--region",
        "eu-west-1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // init writes the region it is given, and names the file it writes.
    let init = d.path().join("c2.toml");
    let o = common::run(&[
        "init",
        "-f",
        init.to_str().unwrap(),
        "--region",
        "eu-central-1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&init).unwrap();
    assert!(text.contains("\nregion = \"eu-central-1\"\n"), "{text}");
    assert!(
        text.starts_with("# c2.toml: one file per cluster"),
        "{text}"
    );
    assert!(!text.contains("irsa-issuer.toml"), "{text}");
}

/// A target that publishes another issuer is not overwritten unless said: every token of the
/// old issuer would stop verifying.
#[tokio::test(flavor = "multi_thread")]
async fn publishing_another_issuer_over_a_target_is_refused_unless_said() {
    let a = Account::new("us-east-1").await;
    let d = tempfile::tempdir().unwrap();
    let web = d.path().join("web");
    let file = d.path().join("c.toml");
    let write = |issuer: &str| {
        std::fs::write(
            &file,
            format!(
                "issuer = \"{issuer}\"\ntarget = \"{}\"\n[keys]\ndir = \"keys\"\ngenerate = true\n[provider]\nthumbprints = [\"{}\"]\n",
                web.display(),
                "a".repeat(40)
            ),
        )
        .unwrap()
    };
    write("https://oidc.example.com/c1");
    let f = file.to_str().unwrap();
    let o = a.run(&["apply", "-f", f, "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    write("https://oidc.example.com/other");
    let o = a.run(&["apply", "-f", f, "--plan"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("publishes https://oidc.example.com/c1 now"),
        "{}",
        stdout(&o)
    );
    let disc = web.join(".well-known/openid-configuration");
    let before = std::fs::read(&disc).unwrap();
    assert_eq!(a.run(&["apply", "-f", f, "--yes"]).status.code(), Some(1));
    assert_eq!(std::fs::read(&disc).unwrap(), before);
    let o = a.run(&["apply", "-f", f, "--yes", "--allow-issuer-change"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&disc).unwrap()).unwrap();
    assert_eq!(doc["issuer"], "https://oidc.example.com/other");
}

/// Logs carried ANSI colour codes even when stderr was a file or a pipe.
#[test]
fn logs_are_plain_when_stderr_is_not_a_terminal() {
    let tls = common::Tls::new();
    let o = std::process::Command::new("timeout")
        .args(["-s", "TERM", "2", common::bin()])
        .args([
            "serve",
            "--issuer",
            "https://localhost",
            "--key",
            common::fixture("rsa2048.pub").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &tls.cert(),
            "--tls-key",
            &tls.key(),
        ])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(err.contains("serving"), "no log line to look at: {err:?}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {} / {}", stdout(o), stderr(o)))
}

/// `~ trust policy` said that something changes, not what; `--plan` printed a new random kid
/// on every run, never the one applied. Now the plan shows the changed values (and JSON has the
/// documents before and after), and a key still to generate is "a new one".
#[tokio::test(flavor = "multi_thread")]
async fn plans_show_what_changes_and_no_kid_that_will_not_be_applied() {
    let a = Account::new("us-east-1").await;
    let d = tempfile::tempdir().unwrap();
    let bucket = common::bucket_name("diff");
    let file = d.path().join("c.toml");
    let write = |sa: &str, jwks: &str| {
        std::fs::write(
            &file,
            format!(
                "target = \"s3://{bucket}/c1\"\njwks_path = \"{jwks}\"\n[aws]\nregion = \"us-east-1\"\n[keys]\ndir = \"keys\"\ngenerate = true\n[s3]\ncreate_bucket = true\n[[roles]]\nname = \"app\"\nservice_accounts = [\"{sa}\"]\n"
            ),
        )
        .unwrap()
    };
    write("team/app", "openid/v1/jwks");
    let f = file.to_str().unwrap();
    let plans: Vec<String> = (0..2)
        .map(|_| stdout(&a.run(&["apply", "-f", f, "--plan"])))
        .collect();
    assert_eq!(plans[0], plans[1], "two plans of the same state differ");
    assert!(
        plans[0].contains("a new one: its kid is chosen when applied"),
        "{}",
        plans[0]
    );
    let o = a.run(&["apply", "-f", f, "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));

    write("team/*", "keys.json");
    let o = a.run(&["apply", "-f", f, "--plan"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("~ trust policy"), "{text}");
    assert!(
        text.contains(r#"- Statement[0].Condition.StringEquals["#)
            && text.contains(r#":sub"]: "system:serviceaccount:team:app""#),
        "{text}"
    );
    assert!(
        text.contains(r#"+ Statement[0].Condition.StringLike: "#)
            && text.contains("system:serviceaccount:team:*"),
        "{text}"
    );
    // The bucket statement now names keys.json instead of openid/v1/jwks (the merge replaces it).
    assert!(text.contains("~ bucket policy"), "{text}");
    assert!(
        text.contains("c1/openid/v1/jwks\" -> \"arn:aws:s3:::") && text.contains("c1/keys.json\""),
        "{text}"
    );
    let v = json(&a.run(&["apply", "-f", f, "--plan", "--output", "json"]));
    let role = v["plan"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["step"] == "role")
        .unwrap();
    let doc = &role["documents"][0];
    assert_eq!(doc["what"], "trust policy");
    assert!(doc["before"]
        .to_string()
        .contains("system:serviceaccount:team:app"));
    assert!(doc["after"]
        .to_string()
        .contains("system:serviceaccount:team:*"));
    // Applied, the statement was replaced, not appended: one statement for this prefix.
    let o = a.run(&["apply", "-f", f, "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let policy: serde_json::Value = serde_json::from_str(
        a.s3()
            .await
            .get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    )
    .unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{policy:#}");
    assert!(statements[0]["Resource"]
        .to_string()
        .contains("c1/keys.json"));
    assert!(!statements[0]["Resource"]
        .to_string()
        .contains("openid/v1/jwks"));
}

/// `rotate` ignored cluster.toml: --key-dir, --to and --issuer had to be retyped,
/// IRSA_ISSUER_KEY_DIR gave exit 64, and `rotate stage --to s3://…` reset the file's
/// cache_control. Now `-f FILE` (or the environment) drives it, with the file's settings.
#[tokio::test(flavor = "multi_thread")]
async fn rotate_reads_the_file_and_the_environment() {
    let a = Account::new("us-east-1").await;
    let d = tempfile::tempdir().unwrap();
    let bucket = common::bucket_name("rotf");
    let file = d.path().join("c.toml");
    std::fs::write(
        &file,
        format!(
            "target = \"s3://{bucket}/c1\"\n[aws]\nregion = \"us-east-1\"\n[keys]\ndir = \"keys\"\ngenerate = true\n[s3]\ncreate_bucket = true\ncache_control = \"public, max-age=60\"\n[provider]\nthumbprints = []\n[rotation]\nmax_token_age = \"1h\"\n"
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let o = a.run(&["apply", "-f", f, "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The environment alone names the key directory (exit 64 before).
    let o = a
        .command(common::bin())
        .args(["rotate", "status", "--output", "json"])
        .env("IRSA_ISSUER_KEY_DIR", d.path().join("keys"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // stage -f publishes where the file says, with the file's Cache-Control.
    let o = a.run(&["rotate", "stage", "-f", f]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s3 = a.s3().await;
    for key in ["c1/openid/v1/jwks", "c1/.well-known/openid-configuration"] {
        let obj = s3
            .get_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(obj.cache_control(), Some("public, max-age=60"), "{key}");
    }
    let jwks = s3
        .get_object()
        .bucket(&bucket)
        .key("c1/openid/v1/jwks")
        .send()
        .await
        .unwrap();
    let jwks: serde_json::Value =
        serde_json::from_slice(&jwks.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    // apply agrees: nothing to change after the stage.
    assert_eq!(a.run(&["apply", "-f", f, "--plan"]).status.code(), Some(0));
    // status -f uses the file's rotation settings.
    let o = a.run(&["rotate", "status", "-f", f, "--output", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Promoted and confirmed long ago (by hand in the state: this S3 issuer is not served over
    // https here): retire -f republishes to the file's bucket, with its Cache-Control, without
    // the retired key.
    let state_path = d.path().join("keys/keyset.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    let (mut previous, mut active) = (String::new(), String::new());
    for key in state["keys"].as_array_mut().unwrap() {
        if key["state"] == "active" {
            key["state"] = "previous".into();
            key["demoted"] = 1.into();
            key["signing_ended"] = 1.into();
            previous = key["kid"].as_str().unwrap().to_string();
        } else {
            key["state"] = "active".into();
            key["promoted"] = 1.into();
            active = key["kid"].as_str().unwrap().to_string();
        }
    }
    std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
    let o = a.run(&["rotate", "retire", "-f", f]);
    assert!(o.status.success(), "{}", stderr(&o));
    let obj = s3
        .get_object()
        .bucket(&bucket)
        .key("c1/openid/v1/jwks")
        .send()
        .await
        .unwrap();
    assert_eq!(obj.cache_control(), Some("public, max-age=60"));
    let jwks: serde_json::Value =
        serde_json::from_slice(&obj.body.collect().await.unwrap().into_bytes()).unwrap();
    let served: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        served,
        [active.as_str()],
        "retired {previous} is still published"
    );
    assert_eq!(a.run(&["apply", "-f", f, "--plan"]).status.code(), Some(0));
}

async fn role_exists(iam: &aws_sdk_iam::Client, name: &str) -> bool {
    iam.get_role().role_name(name).send().await.is_ok()
}

/// What leaves the file leaves AWS: a `[[roles]]` block deleted from the file gave "No
/// changes" and the role stayed, for apply and destroy alike. Now this issuer's roles that the
/// file no longer names are planned as `-` and deleted (policies first); `--no-prune` keeps
/// them as orphans; a role of another issuer under the same path is never touched.
#[tokio::test(flavor = "multi_thread")]
async fn roles_removed_from_the_file_are_pruned() {
    let a = Account::new("eu-west-1").await;
    let d = tempfile::tempdir().unwrap();
    let bucket = common::bucket_name("prune");
    let file = d.path().join("c.toml");
    let base = format!(
        "target = \"s3://{bucket}/c1\"\n[aws]\nregion = \"eu-west-1\"\n[keys]\ndir = \"keys\"\ngenerate = true\n[s3]\ncreate_bucket = true\n[provider]\nthumbprints = []\n"
    );
    let policy = common::customer_policy(&a, "prune-reader").await;
    let role = |name: &str| {
        format!("[[roles]]\nname = \"{name}\"\nservice_accounts = [\"ns/{name}\"]\npolicy_arns = [\"{policy}\"]\n")
    };
    let f = file.to_str().unwrap();
    std::fs::write(
        &file,
        format!("{base}{}{}{}", role("keep"), role("gone"), role("later")),
    )
    .unwrap();
    let o = a.run(&["apply", "-f", f, "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Another cluster's role under the same path: never this file's orphan.
    let other = d.path().join("other.toml");
    let other_bucket = common::bucket_name("prune-other");
    std::fs::write(
        &other,
        format!(
            "target = \"s3://{other_bucket}/c2\"\n[aws]\nregion = \"eu-west-1\"\n[keys]\ndir = \"keys2\"\ngenerate = true\n[s3]\ncreate_bucket = true\n[provider]\nthumbprints = []\n{}",
            role("theirs")
        ),
    )
    .unwrap();
    let o = a.run(&["apply", "-f", other.to_str().unwrap(), "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let iam = a.iam().await;

    // The "gone" block leaves the file.
    std::fs::write(&file, format!("{base}{}{}", role("keep"), role("later"))).unwrap();
    let o = a.run(&["apply", "-f", f, "--plan"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let gone_arn = format!("arn:aws:iam::{}:role/irsa/gone", a.id);
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.trim_start().starts_with("- ") && l.contains(&gone_arn)),
        "{}",
        stdout(&o)
    );
    assert!(!stdout(&o).contains("role/irsa/theirs"), "{}", stdout(&o));
    // --no-prune lists it as an orphan and changes nothing.
    let o = a.run(&["apply", "-f", f, "--plan", "--no-prune"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("orphan"), "{}", stdout(&o));
    // apply deletes it, its managed policy detached first.
    let o = a.run(&["apply", "-f", f, "--yes", "--output", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let calls = common::mutating_calls(&serde_json::from_slice(&o.stdout).unwrap());
    assert_eq!(
        calls,
        ["iam:DetachRolePolicy", "iam:DeleteRole"],
        "{calls:?}"
    );
    assert!(!role_exists(&iam, "gone").await);
    assert!(role_exists(&iam, "keep").await && role_exists(&iam, "theirs").await);
    assert_eq!(a.run(&["apply", "-f", f, "--plan"]).status.code(), Some(0));

    // destroy with a file that no longer names "later" finds it too.
    std::fs::write(&file, format!("{base}{}", role("keep"))).unwrap();
    let o = a.run(&["destroy", "-f", f, "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!role_exists(&iam, "keep").await);
    assert!(
        !role_exists(&iam, "later").await,
        "destroy skipped the orphan"
    );
    assert!(
        role_exists(&iam, "theirs").await,
        "another issuer's role was deleted"
    );
}

/// `apply` printed no ServiceAccount manifest although the README said it wrote them, and `role
/// manifest` could not reach the team account ("there is no role …: create it", though it
/// existed there). Now `apply --manifests DIR` writes one file per role and account, `--output
/// json` lists them, `role manifest -f FILE` covers every account of the file, and apply says
/// what comes next.
#[tokio::test(flavor = "multi_thread")]
async fn manifests_come_from_the_file_for_every_account() {
    let a = Account::new("eu-west-1").await;
    let team = format!("{:012}", rand::random::<u64>() % 1_000_000_000_000);
    let d = tempfile::tempdir().unwrap();
    let bucket = common::bucket_name("manifests");
    let file = d.path().join("c.toml");
    std::fs::write(
        &file,
        format!(
            "target = \"s3://{bucket}/c1\"\n[aws]\nregion = \"eu-west-1\"\n[keys]\ndir = \"keys\"\ngenerate = true\n[s3]\ncreate_bucket = true\n[provider]\nthumbprints = []\n[[accounts]]\nassume_role = \"arn:aws:iam::{team}:role/irsa-admin\"\n[[roles]]\nname = \"payments\"\nservice_accounts = [\"payments/api\", \"payments/*\"]\naccounts = [\"{team}\"]\nsts_regional_endpoints = true\ntoken_expiration = 3600\n[[roles]]\nname = \"reader\"\nservice_accounts = [\"default/reader\"]\n"
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let dir = d.path().join("sa");
    let o = a.run(&[
        "apply",
        "-f",
        f,
        "--yes",
        "--manifests",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("Next:"), "{text}");
    assert!(
        text.contains(&format!("irsa-issuer apiserver-flags -f {f}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("kubectl apply -R -f {}", dir.display())),
        "{text}"
    );
    let payments = std::fs::read_to_string(dir.join(&team).join("payments.yaml")).unwrap();
    // The manifest as kubectl reads it (PyYAML, an independent parser).
    let docs = common::yaml_documents(&payments);
    assert_eq!(
        docs.len(),
        1,
        "the wildcard names no ServiceAccount: {payments}"
    );
    let ann = &docs[0]["metadata"]["annotations"];
    assert_eq!(docs[0]["kind"], "ServiceAccount");
    assert_eq!(docs[0]["metadata"]["namespace"], "payments");
    assert_eq!(
        ann["eks.amazonaws.com/role-arn"],
        format!("arn:aws:iam::{team}:role/irsa/payments")
    );
    assert_eq!(ann["eks.amazonaws.com/sts-regional-endpoints"], "true");
    assert_eq!(ann["eks.amazonaws.com/token-expiration"], "3600");
    // reader is in both accounts: one manifest each, naming that account's role.
    for acct in [&a.id, &team] {
        let r = std::fs::read_to_string(dir.join(acct).join("reader.yaml")).unwrap();
        assert!(
            r.contains(&format!("arn:aws:iam::{acct}:role/irsa/reader")),
            "{r}"
        );
    }
    assert!(!dir.join(&a.id).join("payments.yaml").exists());
    // JSON lists them, also on a no-change run.
    let o = a.run(&["apply", "-f", f, "--yes", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let listed: Vec<(String, String)> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["account"].as_str().unwrap().into(),
                m["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    // In the plan's order: the current account, then the file's [[accounts]]; roles as listed.
    let want = vec![
        (a.id.clone(), "reader".to_string()),
        (team.clone(), "payments".to_string()),
        (team.clone(), "reader".to_string()),
    ];
    assert_eq!(listed, want);
    // role manifest -f reaches the team account.
    let o = a.run(&["role", "manifest", "-f", f, "--name", "payments"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n",
        payments
    );
    let o = a.run(&["role", "manifest", "-f", f, "--name", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the file has no role nope"),
        "{}",
        stderr(&o)
    );
    // A role of the file that does not exist yet is said so, not printed.
    std::fs::write(
        &file,
        std::fs::read_to_string(&file).unwrap()
            + "[[roles]]\nname = \"later\"\nservice_accounts = [\"x/y\"]\n",
    )
    .unwrap();
    let o = a.run(&["role", "manifest", "-f", f, "--name", "later"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("there is no role later in account"),
        "{}",
        stderr(&o)
    );
}

/// Every command that needs the issuer, target, keys or accounts takes `-f FILE` and publishes
/// with the file's settings: `rotate stage -f FILE --to s3://…` reset the file's Cache-Control,
/// and provider, role, trust-policy and publish had to be given everything again.
#[tokio::test(flavor = "multi_thread")]
async fn the_file_drives_the_single_resource_commands() {
    let a = Account::new("eu-west-1").await;
    let team = format!("{:012}", rand::random::<u64>() % 1_000_000_000_000);
    let d = tempfile::tempdir().unwrap();
    let bucket = common::bucket_name("filecmds");
    let file = d.path().join("c.toml");
    std::fs::write(
        &file,
        format!(
            "target = \"s3://{bucket}/c1\"\njwks_path = \"keys.json\"\n[aws]\nregion = \"eu-west-1\"\n[keys]\ndir = \"keys\"\ngenerate = true\n[s3]\ncreate_bucket = true\ncache_control = \"public, max-age=60\"\n[provider]\nclient_ids = [\"sts.amazonaws.com\", \"extra\"]\nthumbprints = []\n[tags]\ncluster = \"c1\"\n[[accounts]]\nassume_role = \"arn:aws:iam::{team}:role/irsa-admin\"\n[[roles]]\nname = \"team-reader\"\nservice_accounts = [\"apps/reader\"]\naudience = \"extra\"\naccounts = [\"{team}\"]\n"
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let issuer = format!("https://s3.eu-west-1.amazonaws.com/{bucket}/c1");
    // rotate init -f, then publish -f: the file's key directory, issuer, JWKS path and bucket.
    let o = a.run(&["rotate", "init", "-f", f, "--alg", "ES256"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = a.run(&["publish", "-f", f, "--output", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["issuer"], issuer.as_str());
    let s3 = a.s3().await;
    let jwks = s3
        .get_object()
        .bucket(&bucket)
        .key("c1/keys.json")
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.cache_control(), Some("public, max-age=60"));
    // provider apply -f: the file's client IDs and tags, in both of its accounts.
    let o = a.run(&["provider", "apply", "-f", f, "--output", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let accounts: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["account"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, [a.id.as_str(), team.as_str()], "{v}");
    let team_acct = Account::with_id(&team, "eu-west-1").await;
    let p = team_acct
        .iam()
        .await
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(format!(
            "arn:aws:iam::{team}:oidc-provider/s3.eu-west-1.amazonaws.com/{bucket}/c1"
        ))
        .send()
        .await
        .unwrap();
    let mut ids = p.client_id_list().to_vec();
    ids.sort();
    assert_eq!(ids, ["extra", "sts.amazonaws.com"]);
    assert!(p
        .tags()
        .iter()
        .any(|t| t.key() == "cluster" && t.value() == "c1"));
    // role apply -f --name: the file's role, only in the account it lists.
    let o = a.run(&[
        "role",
        "apply",
        "-f",
        f,
        "--name",
        "team-reader",
        "--output",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{v}");
    assert_eq!(
        results[0]["arn"],
        format!("arn:aws:iam::{team}:role/irsa/team-reader")
    );
    // trust-policy -f --name: the file's issuer, service account and audience.
    let o = a.run(&[
        "trust-policy",
        "-f",
        f,
        "--name",
        "team-reader",
        "--account",
        &team,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let host = format!("s3.eu-west-1.amazonaws.com/{bucket}/c1");
    assert_eq!(
        t["Statement"][0]["Condition"]["StringEquals"][format!("{host}:aud")],
        "extra",
        "{t}"
    );
    assert_eq!(
        t["Statement"][0]["Condition"]["StringEquals"][format!("{host}:sub")],
        "system:serviceaccount:apps/reader".replace('/', ":"),
        "{t}"
    );
    // apply agrees with what the single commands made.
    let o = a.run(&["apply", "-f", f, "--plan"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // rotate stage -f with --to naming the same target keeps the file's Cache-Control.
    let o = a.run(&[
        "rotate",
        "stage",
        "-f",
        f,
        "--to",
        &format!("s3://{bucket}/c1"),
        "--alg",
        "ES256",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("as a verification key"), "{text}");
    assert!(text.contains(&format!("apiserver-flags -f {f}")), "{text}");
    assert!(text.contains(&format!("rotate promote -f {f}")), "{text}");
    let jwks = s3
        .get_object()
        .bucket(&bucket)
        .key("c1/keys.json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        jwks.cache_control(),
        Some("public, max-age=60"),
        "--to reset the file's Cache-Control"
    );
    // role delete -f: the file's issuer and accounts.
    let o = a.run(&["role", "delete", "-f", f, "--name", "team-reader"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(team_acct
        .iam()
        .await
        .get_role()
        .role_name("team-reader")
        .send()
        .await
        .is_err());
}
