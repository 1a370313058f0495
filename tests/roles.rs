//! Roles, trust policies, ServiceAccount manifests and cross-account runs, against moto.

mod common;
use common::*;

use serde_json::Value;

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: stdout {} stderr {}", stdout(o), stderr(o)))
}

fn ok_json(o: &std::process::Output) -> Value {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        stderr(o)
    );
    json(o)
}

const ISSUER: &str = "https://oidc.example.com/c1";

fn decode(doc: &str) -> Value {
    serde_json::from_str(doc).unwrap_or_else(|_| {
        serde_json::from_str(&percent_encoding::percent_decode_str(doc).decode_utf8_lossy())
            .unwrap()
    })
}

#[test]
fn trust_policy_command_needs_no_aws_with_an_account() {
    let o = run(&[
        "trust-policy",
        "--issuer",
        ISSUER,
        "--service-account",
        "payments/api",
        "--service-account",
        "batch/*",
        "--account",
        "444455556666",
    ]);
    let v = ok_json(&o);
    let st = &v["Statement"][0];
    assert_eq!(
        st["Principal"]["Federated"],
        "arn:aws:iam::444455556666:oidc-provider/oidc.example.com/c1"
    );
    assert_eq!(
        st["Condition"]["StringEquals"]["oidc.example.com/c1:aud"],
        "sts.amazonaws.com"
    );
    assert_eq!(
        st["Condition"]["StringLike"]["oidc.example.com/c1:sub"],
        serde_json::json!([
            "system:serviceaccount:payments:api",
            "system:serviceaccount:batch:*"
        ])
    );
    let o = run(&[
        "trust-policy",
        "--issuer",
        ISSUER,
        "--service-account",
        "Payments/api",
        "--account",
        "444455556666",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("Payments/api"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn role_create_reconcile_after_drift_manifest_and_delete() {
    let acct = Account::new("eu-west-1").await;
    let policy = common::customer_policy(&acct, "list-buckets").await;
    let dir = tempfile::tempdir().unwrap();
    let inline = dir.path().join("inline.json");
    std::fs::write(&inline, r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*"}]}"#).unwrap();
    let inline_arg = format!("read-data={}", inline.display());
    let apply: Vec<&str> = vec![
        "role",
        "apply",
        "--name",
        "payments-api",
        "--issuer",
        ISSUER,
        "--service-account",
        "payments/api",
        "--policy-arn",
        &policy,
        "--inline-policy",
        &inline_arg,
        "--max-session-duration",
        "7200",
        "--tag",
        "team=payments",
        "--output",
        "json",
    ];
    let first = ok_json(&acct.run(&apply));
    let r = &first["results"][0];
    assert_eq!(r["action"], "create");
    let muts = mutating_calls(&first);
    assert_eq!(
        muts,
        vec![
            "iam:CreateRole",
            "iam:AttachRolePolicy",
            "iam:PutRolePolicy"
        ]
    );

    let iam = acct.iam().await;
    let role = iam
        .get_role()
        .role_name("payments-api")
        .send()
        .await
        .unwrap();
    let role = role.role().unwrap();
    assert_eq!(r["arn"], role.arn());
    assert_eq!(role.max_session_duration(), Some(7200));
    // The trust policy IAM holds is what `trust-policy` prints for this account.
    let expected = ok_json(&run(&[
        "trust-policy",
        "--issuer",
        ISSUER,
        "--service-account",
        "payments/api",
        "--account",
        &acct.id,
    ]));
    assert_eq!(
        decode(role.assume_role_policy_document().unwrap()),
        expected
    );
    let tags: Vec<(String, String)> = role
        .tags()
        .iter()
        .map(|t| (t.key().into(), t.value().into()))
        .collect();
    assert!(
        tags.contains(&("managed-by".into(), "irsa-issuer".into()))
            && tags.contains(&("team".into(), "payments".into()))
    );

    let mark = acct.moto_mark();
    let second = ok_json(&acct.run(&apply));
    assert_eq!(second["results"][0]["action"], "unchanged");
    assert_eq!(mutating_calls(&second), Vec::<String>::new());
    acct.assert_moto_unchanged_since(&mark);

    // Drift by hand: policy detached, trust policy edited. Apply repairs exactly that.
    iam.detach_role_policy()
        .role_name("payments-api")
        .policy_arn(&policy)
        .send()
        .await
        .unwrap();
    let edited = expected
        .to_string()
        .replace("payments:api", "payments:other");
    iam.update_assume_role_policy()
        .role_name("payments-api")
        .policy_document(edited)
        .send()
        .await
        .unwrap();
    let repaired = ok_json(&acct.run(&apply));
    assert_eq!(
        mutating_calls(&repaired),
        vec!["iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy"]
    );
    let role = iam
        .get_role()
        .role_name("payments-api")
        .send()
        .await
        .unwrap();
    assert_eq!(
        decode(role.role().unwrap().assume_role_policy_document().unwrap()),
        expected
    );

    // Manifests: stdout is YAML only, annotated with the ARN IAM holds.
    let mut with_manifest = apply.clone();
    with_manifest.retain(|a| *a != "--output" && *a != "json");
    with_manifest.extend(["--service-account-manifest", "--sts-regional-endpoints"]);
    let o = acct.run(&with_manifest);
    assert!(o.status.success(), "{}", stderr(&o));
    let yaml = stdout(&o);
    assert!(
        yaml.starts_with("---\napiVersion: v1\nkind: ServiceAccount\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains(&format!(
            "eks.amazonaws.com/role-arn: \"{}\"",
            role.role().unwrap().arn()
        )),
        "{yaml}"
    );
    assert!(yaml.contains("eks.amazonaws.com/sts-regional-endpoints: \"true\""));
    assert!(
        !yaml.contains("Role payments-api"),
        "plan lines leaked into the manifest: {yaml}"
    );
    let o = acct.run(&[
        "role",
        "manifest",
        "--name",
        "payments-api",
        "--service-account",
        "payments/api",
    ]);
    assert!(stdout(&o).contains(role.role().unwrap().arn()));

    // Delete detaches and deletes.
    let deleted = ok_json(&acct.run(&[
        "role",
        "delete",
        "--name",
        "payments-api",
        "--issuer",
        ISSUER,
        "--output",
        "json",
    ]));
    let muts = mutating_calls(&deleted);
    assert_eq!(
        muts,
        vec![
            "iam:DetachRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:DeleteRole"
        ]
    );
    assert!(iam
        .get_role()
        .role_name("payments-api")
        .send()
        .await
        .is_err());

    // A role made by hand is neither taken over nor deleted without --force.
    iam.create_role()
        .role_name("by-hand")
        .assume_role_policy_document(expected.to_string())
        .send()
        .await
        .unwrap();
    let o = acct.run(&[
        "role",
        "apply",
        "--name",
        "by-hand",
        "--issuer",
        ISSUER,
        "--service-account",
        "payments/api",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not tagged managed-by=irsa-issuer"),
        "{}",
        stderr(&o)
    );
    let o = acct.run(&["role", "delete", "--name", "by-hand", "--issuer", ISSUER]);
    assert_eq!(o.status.code(), Some(1));
    assert!(acct
        .run(&["role", "delete", "--name", "by-hand", "--issuer", ISSUER, "--force"])
        .status
        .success());
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_apply_across_three_accounts_with_one_failing() {
    let cluster = Account::new("eu-west-1").await;
    let targets: Vec<String> = (0..3)
        .map(|_| format!("{:012}", rand::random::<u64>() % 1_000_000_000_000))
        .collect();
    // The third account already has a provider for this issuer that another tool made (tagged
    // by Terraform, not by irsa-issuer): it is not this issuer's, so changing it is refused
    // there without --force, and that account fails on purpose.
    let third = Account::with_id(&targets[2], "eu-west-1").await;
    let tag = |k: &str, v: &str| {
        aws_sdk_iam::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    third
        .iam()
        .await
        .create_open_id_connect_provider()
        .url(ISSUER)
        .client_id_list("legacy")
        .thumbprint_list("a".repeat(40))
        .tags(tag("managed-by", "terraform"))
        .send()
        .await
        .unwrap();
    let roles: Vec<String> = targets
        .iter()
        .map(|id| format!("arn:aws:iam::{id}:role/irsa-admin"))
        .collect();
    let t = "a".repeat(40);
    let mut args = vec![
        "provider",
        "apply",
        "--issuer",
        ISSUER,
        "--thumbprint",
        &t,
        "--client-id",
        "sts.amazonaws.com",
        "--output",
        "json",
    ];
    for r in &roles {
        args.extend(["--assume-role", r.as_str()]);
    }
    args.extend(["--external-id", "cluster-c1"]);
    let o = cluster.run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{v}");
    let by_account = |id: &str| {
        results
            .iter()
            .find(|r| r["account"] == id)
            .unwrap_or_else(|| panic!("no result for {id}: {v}"))
    };
    for id in [&cluster.id, &targets[0], &targets[1]] {
        let r = by_account(id);
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["action"], "create");
        assert_eq!(
            r["arn"],
            format!("arn:aws:iam::{id}:oidc-provider/oidc.example.com/c1")
        );
    }
    let failed = by_account(&targets[2]);
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("irsa-issuer will not change or delete a provider that is not this issuer's"),
        "{failed}"
    );
    assert!(
        stderr(&o).contains(&targets[2]) && stderr(&o).contains("1 of 4 account(s) failed"),
        "{}",
        stderr(&o)
    );

    // The providers really are in those accounts, with the cluster account's settings.
    for id in [&targets[0], &targets[1]] {
        let acct = Account::with_id(id, "eu-west-1").await;
        let p = acct
            .iam()
            .await
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(format!(
                "arn:aws:iam::{id}:oidc-provider/oidc.example.com/c1"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(p.client_id_list(), ["sts.amazonaws.com"]);
        assert_eq!(p.thumbprint_list(), std::slice::from_ref(&t));
    }

    // Bad --assume-role input is refused before any call.
    let o = cluster.run(&[
        "provider",
        "apply",
        "--issuer",
        ISSUER,
        "--thumbprint",
        &t,
        "--assume-role",
        "arn:aws:iam::123:role/x",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not an IAM role ARN"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_account_role_names_the_target_accounts_provider() {
    let cluster = Account::new("eu-west-1").await;
    let target = format!("{:012}", rand::random::<u64>() % 1_000_000_000_000);
    let role_arn = format!("arn:aws:iam::{target}:role/irsa-admin");
    let o = cluster.run(&[
        "role",
        "apply",
        "--name",
        "reader",
        "--issuer",
        ISSUER,
        "--service-account",
        "payments/api",
        "--assume-role",
        &role_arn,
        "--no-current-account",
        "--service-account-manifest",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let yaml = stdout(&o);
    assert!(
        yaml.contains(&format!(
            "eks.amazonaws.com/role-arn: \"arn:aws:iam::{target}:role/irsa/reader\""
        )),
        "{yaml}"
    );
    let acct = Account::with_id(&target, "eu-west-1").await;
    let role = acct
        .iam()
        .await
        .get_role()
        .role_name("reader")
        .send()
        .await
        .unwrap();
    let trust = decode(role.role().unwrap().assume_role_policy_document().unwrap());
    assert_eq!(
        trust["Statement"][0]["Principal"]["Federated"],
        format!("arn:aws:iam::{target}:oidc-provider/oidc.example.com/c1")
    );
    // Nothing was created in the cluster's own account.
    assert!(cluster
        .iam()
        .await
        .get_role()
        .role_name("reader")
        .send()
        .await
        .is_err());
    // Several target accounts and one manifest do not go together.
    let o = cluster.run(&[
        "role",
        "apply",
        "--name",
        "reader",
        "--issuer",
        ISSUER,
        "--service-account",
        "payments/api",
        "--assume-role",
        &role_arn,
        "--service-account-manifest",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("exactly one target account"),
        "{}",
        stderr(&o)
    );
}
