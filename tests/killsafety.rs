//! Kill-safety: `apply` SIGKILLed right after each AWS call of a clean run, at every call index,
//! then run again. The SDK reaches moto through tests/py/aws_proxy.py, which forwards call N to
//! moto and holds its response; the test then reads moto's state directly (not through the
//! proxy), checks the invariant, and kills the child. Invariant, at every kill point and after
//! every re-run: a published discovery document never points to a JWKS that lacks the active
//! key (kube-apiserver signs with it; STS would refuse every new token). Every re-run converges:
//! `apply --yes` succeeds and `apply --plan` then exits 0.

mod common;
use common::aws_proxy::AwsProxy as Proxy;
use common::*;

use std::path::PathBuf;
use std::process::{Command, Stdio};

struct Cluster {
    acct: Account,
    bucket: String,
    dir: tempfile::TempDir,
    file: PathBuf,
}

impl Cluster {
    async fn new() -> Self {
        let acct = Account::new("us-east-1").await;
        let bucket = bucket_name("kill");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cluster.toml");
        std::fs::write(
            &file,
            format!(
                r#"target = "s3://{bucket}/c1"
[aws]
region = "us-east-1"
[keys]
dir = "keys"
generate = true
[s3]
create_bucket = true
[provider]
thumbprints = ["{}"]
[[roles]]
name = "app"
service_accounts = ["default/app"]
"#,
                "a".repeat(40)
            ),
        )
        .unwrap();
        Self {
            acct,
            bucket,
            dir,
            file,
        }
    }

    /// `apply -f` with `args`, its SDK sent through `proxy`.
    fn apply(&self, proxy: &Proxy, args: &[&str]) -> Command {
        let mut cmd = self.acct.command(bin());
        cmd.env("AWS_ENDPOINT_URL", &proxy.url)
            .args(["apply", "-f", self.file.to_str().unwrap()])
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    fn active_kid(&self) -> Option<String> {
        let text = std::fs::read(self.dir.path().join("keys/keyset.json")).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
        v["keys"]
            .as_array()?
            .iter()
            .find(|k| k["state"] == "active")
            .map(|k| k["kid"].as_str().unwrap().to_string())
    }

    /// The invariant, read from moto directly: no published discovery document points to a
    /// JWKS without the active key.
    async fn check_invariant(&self, s3: &aws_sdk_s3::Client, when: &str) {
        let get = |key: String| async move {
            match s3.get_object().bucket(&self.bucket).key(&key).send().await {
                Ok(o) => Some(o.body.collect().await.unwrap().into_bytes().to_vec()),
                Err(_) => None,
            }
        };
        let Some(disc) = get("c1/.well-known/openid-configuration".into()).await else {
            return; // nothing published yet: nothing for STS to read
        };
        let disc: serde_json::Value = serde_json::from_slice(&disc).unwrap_or_else(|e| {
            panic!("{when}: the published discovery document is not JSON: {e}")
        });
        let uri = disc["jwks_uri"].as_str().unwrap();
        let prefix = format!("https://s3.us-east-1.amazonaws.com/{}/", self.bucket);
        let key = uri
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{when}: jwks_uri {uri} is not in the bucket"));
        let jwks = get(key.to_string()).await.unwrap_or_else(|| {
            panic!("{when}: the discovery document points to {uri}, which is not published")
        });
        let jwks: serde_json::Value = serde_json::from_slice(&jwks).unwrap();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        let active = self.active_kid().unwrap_or_else(|| {
            panic!("{when}: documents are published but the key directory has no active key")
        });
        assert!(
            kids.contains(&active.as_str()),
            "{when}: the published JWKS {kids:?} lacks the active key {active}"
        );
    }
}

fn output_of(cmd: &mut Command) -> std::process::Output {
    cmd.output().expect("run irsa-issuer")
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_killed_after_any_aws_call_converges_on_rerun_and_never_serves_a_jwks_without_the_active_key(
) {
    let logs = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(&logs.path().join("proxy.log"));

    // A clean run through the proxy: how many AWS calls it makes.
    let clean = Cluster::new().await;
    proxy.hold(None);
    let o = output_of(&mut clean.apply(&proxy, &["--yes", "--output", "json"]));
    assert!(o.status.success(), "clean apply: {}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let calls = proxy.control("status", None)["requests"].as_u64().unwrap() as usize;
    let recorded = report["aws_calls"].as_array().unwrap().len();
    // The bucket lock's own requests are not in aws_calls (they change none of the issuer's
    // resources); the proxy sees them, and the kills below include them.
    let lock_calls = std::fs::read_to_string(logs.path().join("proxy.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("/.irsa-issuer/lock"))
        .count();
    assert!(lock_calls >= 1, "apply did not look for the bucket lock");
    assert_eq!(
        calls,
        recorded + lock_calls,
        "the proxy saw {calls} requests, the call recorder {recorded} and {lock_calls} for the lock: {report}"
    );
    assert!(calls >= 10, "a first apply makes more calls than {calls}");
    eprintln!("clean apply: {calls} AWS calls");

    let mut killed_at = Vec::new();
    for n in 1..=calls {
        let c = Cluster::new().await;
        let s3 = c.acct.s3().await;
        proxy.hold(Some(n));
        let mut child = c
            .apply(&proxy, &["--yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let when = match proxy.wait_held(n, &mut child) {
            Some(call) => format!("killed after call {n} ({call})"),
            None => panic!("apply made fewer than {n} calls this time (a clean run made {calls})"),
        };
        // The state the kill leaves behind, read while the child still waits for the answer.
        c.check_invariant(&s3, &when).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        c.check_invariant(&s3, &when).await;
        proxy.hold(None); // also drops the held connection

        let o = output_of(&mut c.apply(&proxy, &["--yes"]));
        assert!(
            o.status.success(),
            "{when}: the re-run failed: {}{}",
            stdout(&o),
            stderr(&o)
        );
        c.check_invariant(&s3, &format!("{when}, after the re-run"))
            .await;
        let o = output_of(&mut c.apply(&proxy, &["--plan"]));
        assert_eq!(
            o.status.code(),
            Some(0),
            "{when}: the re-run did not converge, --plan still has changes: {}{}",
            stdout(&o),
            stderr(&o)
        );
        killed_at.push(when);
    }
    eprintln!("{}", killed_at.join("\n"));
}
