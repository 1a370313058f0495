//! Two pipelines at once: runs that change one bucket, key directory or directory target take
//! turns. Against moto behind tests/py/aws_proxy.py (latency, and holding a call to kill a run
//! at a chosen moment).

mod common;
use common::aws_proxy::AwsProxy;
use common::{bin, stderr, stdout, Account};

use std::process::{Command, Stdio};

fn cluster_file(dir: &std::path::Path, name: &str, bucket: &str) -> std::path::PathBuf {
    let f = dir.join(format!("{name}.toml"));
    std::fs::write(
        &f,
        format!(
            "target = \"s3://{bucket}/{name}\"\n[aws]\nregion = \"us-east-1\"\n[keys]\ndir = \"keys-{name}\"\ngenerate = true\n[s3]\ncreate_bucket = true\n[provider]\nthumbprints = []\n[tags]\ncluster = \"{name}\"\n"
        ),
    )
    .unwrap();
    f
}

fn apply_cmd(a: &Account, proxy: &AwsProxy, f: &std::path::Path, extra: &[&str]) -> Command {
    let mut c = a.command(bin());
    c.env("AWS_ENDPOINT_URL", &proxy.url)
        .args(["apply", "-f", f.to_str().unwrap()])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// The bucket policy's statement IDs.
async fn sids(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let p = s3.get_bucket_policy().bucket(bucket).send().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(p.policy().unwrap()).unwrap();
    v["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap().to_string())
        .collect()
}

/// Four clusters sharing one bucket (prefixes c1..c4), eight `apply` runs started together
/// with 40 ms per call: without a lock, runs read the bucket policy, each added its statement,
/// and the last write won, so clusters lost theirs while every run said it succeeded. With the
/// lock they take turns: afterwards every cluster's statement is there, `--plan` is clean for
/// each, and every run exited 0.
#[tokio::test(flavor = "multi_thread")]
async fn runs_sharing_a_bucket_take_turns_and_keep_every_statement() {
    let a = Account::new("us-east-1").await;
    let d = tempfile::tempdir().unwrap();
    let proxy = AwsProxy::start_with(&d.path().join("proxy.log"), &["--latency-ms", "40"]);
    let bucket = common::bucket_name("shared");
    let files: Vec<_> = (1..=4)
        .map(|i| cluster_file(d.path(), &format!("c{i}"), &bucket))
        .collect();
    // The bucket exists (a first cluster made it): there is a bucket to lock.
    let o = apply_cmd(&a, &proxy, &files[0], &["--yes"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let runs: Vec<_> = files
        .iter()
        .chain(files.iter())
        .map(|f| apply_cmd(&a, &proxy, f, &["--yes"]).spawn().unwrap())
        .collect();
    let outs: Vec<_> = runs
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let waited = outs
        .iter()
        .filter(|o| stderr(o).contains("waiting for the lock on s3://"))
        .count();
    for o in &outs {
        assert!(o.status.success(), "{}{}", stdout(o), stderr(o));
    }
    assert!(waited > 0, "no run ever waited: the runs did not overlap");
    let s3 = a.s3().await;
    let have = sids(&s3, &bucket).await;
    assert_eq!(have.len(), 4, "a cluster's statement was lost: {have:?}");
    for f in &files {
        let o = apply_cmd(&a, &proxy, f, &["--plan"]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    }
    // Given back: no lock is left behind.
    assert!(s3
        .get_object()
        .bucket(&bucket)
        .key(".irsa-issuer/lock")
        .send()
        .await
        .is_err());
}

/// A holder killed with SIGKILL leaves its lock: a run with a short --lock-timeout fails naming
/// the holder and how to clear it; a run that waits takes it over once the lease ran out (with
/// a warning) and converges; `force-unlock` clears one by its ID.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_holder_is_taken_over_once_its_lease_runs_out() {
    let a = Account::new("us-east-1").await;
    let d = tempfile::tempdir().unwrap();
    let proxy = AwsProxy::start(&d.path().join("proxy.log"));
    let bucket = common::bucket_name("killed");
    let f = cluster_file(d.path(), "c1", &bucket);
    let o = apply_cmd(&a, &proxy, &f, &["--yes"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // Change something, then kill the run right after it took the lock (call 2: its create of
    // the lock object; call 1 looked for one).
    std::fs::write(
        &f,
        std::fs::read_to_string(&f)
            .unwrap()
            .replace("cluster = \"c1\"", "cluster = \"c1\"\nteam = \"x\""),
    )
    .unwrap();
    proxy.hold(Some(3));
    let mut child = apply_cmd(&a, &proxy, &f, &["--yes"])
        .env("IRSA_ISSUER_LOCK_LEASE", "4")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    proxy
        .wait_held(3, &mut child)
        .expect("the run stopped early");
    child.kill().unwrap();
    child.wait().unwrap();
    proxy.hold(None);
    let s3 = a.s3().await;
    let lock = s3
        .get_object()
        .bucket(&bucket)
        .key(".irsa-issuer/lock")
        .send()
        .await
        .expect("the killed run's lock is there");
    let record: serde_json::Value =
        serde_json::from_slice(&lock.body.collect().await.unwrap().into_bytes()).unwrap();
    let id = record["id"].as_str().unwrap().to_string();
    assert!(
        record["command"].as_str().unwrap().starts_with("apply -f "),
        "{record}"
    );

    // Not waiting long enough: refused, with the holder and the way out.
    let o = apply_cmd(&a, &proxy, &f, &["--yes", "--lock-timeout", "1s"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains(&format!("s3://{bucket} is locked by")), "{e}");
    assert!(e.contains(&format!("lock ID {id}")), "{e}");
    assert!(
        e.contains(&format!("irsa-issuer force-unlock {id} --to s3://{bucket}")),
        "{e}"
    );

    // Waiting: taken over once the 4 s lease ran out, and the change is made.
    let o = apply_cmd(&a, &proxy, &f, &["--yes", "--output", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("took over the lock"), "{}", stderr(&o));
    let o = apply_cmd(&a, &proxy, &f, &["--plan"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // force-unlock: only the lock of the ID given.
    s3.put_object()
        .bucket(&bucket)
        .key(".irsa-issuer/lock")
        .body(
            serde_json::json!({"id": "abc", "holder": "ci@runner pid 1", "command": "apply -f x.toml", "since": 1, "expires": 4_000_000_000u64})
                .to_string()
                .into_bytes()
                .into(),
        )
        .send()
        .await
        .unwrap();
    let unlock = |id: &str| {
        a.command(bin())
            .args(["force-unlock", id, "--to", &format!("s3://{bucket}")])
            .output()
            .unwrap()
    };
    let o = unlock("nope");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is locked under ID abc, not nope"),
        "{}",
        stderr(&o)
    );
    let o = unlock("abc");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("ci@runner pid 1"), "{}", stdout(&o));
    assert!(s3
        .get_object()
        .bucket(&bucket)
        .key(".irsa-issuer/lock")
        .send()
        .await
        .is_err());
}

/// Two `rotate stage` at once on one key directory: they take turns (a file lock), so exactly
/// one new key is staged and the other run is told one already is.
#[test]
fn two_stages_at_once_make_exactly_one_new_key() {
    let d = tempfile::tempdir().unwrap();
    let kd = d.path().join("keys");
    let k = kd.to_str().unwrap();
    let o = common::run(&["rotate", "init", "--key-dir", k, "--alg", "ES256"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let runs: Vec<_> = (0..2)
        .map(|_| {
            Command::new(bin())
                .args(["rotate", "stage", "--key-dir", k, "--bits", "4096"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<_> = runs
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let ok = outs.iter().filter(|o| o.status.success()).count();
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(kd.join("keyset.json")).unwrap()).unwrap();
    let next = state["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["state"] == "next")
        .count();
    assert_eq!((ok, next), (1, 1), "{state}");
    let pubs = std::fs::read_dir(&kd)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "pub")
        })
        .count();
    assert_eq!(pubs, 2, "a second new key file was written");
    let refused = outs.iter().find(|o| !o.status.success()).unwrap();
    assert!(
        stderr(refused).contains("already staged as next"),
        "{}",
        stderr(refused)
    );
}
