//! One `apply` through transient faults: with 20% of AWS calls failing (HTTP 500, 503,
//! throttling, a connection reset before the call, and a reset after moto applied it, so that
//! the client cannot know a CreateRole or CreateBucket succeeded), a three-account bootstrap
//! converges in one run, and `--plan` against AWS directly then finds nothing to do. The faults
//! come from tests/py/aws_proxy.py with fixed seeds, so a failure is reproducible.

mod common;
use common::aws_proxy::{log_lines, AwsProxy};
use common::{bin, stderr, stdout, Account};

use std::process::Stdio;

const ROLES: usize = 3;

fn cluster_file(dir: &std::path::Path, bucket: &str, others: &[&str]) -> std::path::PathBuf {
    let mut text = format!(
        "target = \"s3://{bucket}/c1\"\n[aws]\nregion = \"us-east-1\"\n[keys]\ndir = \"keys\"\ngenerate = true\n[s3]\ncreate_bucket = true\n[provider]\nthumbprints = [\"{}\"]\n[tags]\ncluster = \"c1\"\n",
        "a".repeat(40)
    );
    for id in others {
        text.push_str(&format!(
            "[[accounts]]\nassume_role = \"arn:aws:iam::{id}:role/irsa-admin\"\n"
        ));
    }
    std::fs::write(dir.join("read.json"), r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*"}]}"#).unwrap();
    for r in 0..ROLES {
        text.push_str(&format!(
            "[[roles]]\nname = \"app{r}\"\nservice_accounts = [\"team{r}/app\"]\ninline_policies = {{ read = \"read.json\" }}\n"
        ));
    }
    let f = dir.join("cluster.toml");
    std::fs::write(&f, text).unwrap();
    f
}

async fn converges_through_faults(seed: u64) {
    let a = Account::new("us-east-1").await;
    let others: Vec<String> = (0..2)
        .map(|_| format!("{:012}", rand::random::<u64>() % 1_000_000_000_000))
        .collect();
    let d = tempfile::tempdir().unwrap();
    let bucket = common::bucket_name(&format!("faults{seed}"));
    let f = cluster_file(
        d.path(),
        &bucket,
        &others.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let f = f.to_str().unwrap();
    let log = d.path().join("proxy.log");
    let proxy = AwsProxy::start_with(
        &log,
        &[
            "--fault-rate",
            "0.2",
            "--faults",
            "500,503,throttle,reset,reset-after",
            "--seed",
            &seed.to_string(),
        ],
    );
    let o = a
        .command(bin())
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .args(["apply", "-f", f, "--yes"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(
        o.status.success(),
        "seed {seed}: apply did not converge in one run:\n{out}{err}"
    );
    for dump in ["DispatchFailure(", "ConnectorError {", "{ source:"] {
        assert!(!err.contains(dump), "seed {seed}: a debug dump in {err}");
    }
    // The faults were real: about a fifth of the calls, of every kind asked for, including a
    // reset after moto applied the call.
    let lines = log_lines(&log);
    let faults: Vec<&str> = lines.iter().filter_map(|l| l["fault"].as_str()).collect();
    assert!(
        faults.len() * 10 >= lines.len(),
        "seed {seed}: only {} faults in {} calls",
        faults.len(),
        lines.len()
    );
    for kind in ["500", "503", "throttle", "reset", "reset-after"] {
        assert!(
            faults.contains(&kind),
            "seed {seed}: no {kind} among {} faults",
            faults.len()
        );
    }
    // Straight to moto now: nothing left to do, in any of the three accounts.
    let o = a.run(&["apply", "-f", f, "--plan"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "seed {seed}: changes left after the faulty run:\n{}{}",
        stdout(&o),
        stderr(&o)
    );
    // And the state is the file's: every role in every account, one provider each.
    for id in std::iter::once(&a.id).chain(others.iter()) {
        let acct = Account::with_id(id, "us-east-1").await;
        let iam = acct.iam().await;
        let providers = iam.list_open_id_connect_providers().send().await.unwrap();
        assert_eq!(
            providers.open_id_connect_provider_list().len(),
            1,
            "seed {seed}: account {id}"
        );
        for r in 0..ROLES {
            let role = iam
                .get_role()
                .role_name(format!("app{r}"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("seed {seed}: app{r} in {id}: {e}"));
            assert!(role
                .role()
                .unwrap()
                .assume_role_policy_document()
                .unwrap()
                .contains(&format!("team{r}")));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_apply_converges_through_a_fifth_of_calls_failing() {
    for seed in [7, 21, 1234] {
        converges_through_faults(seed).await;
    }
}
