//! Golden output of `apply --plan` and `destroy --plan` (text and `--output json`) on a fixed
//! moto state: two accounts, a bucket with one stale document, a provider missing a client ID,
//! a role whose policy drifted, one unchanged, and one still to create. The goldens were recorded before the
//! apply engine moved out of `cli/` and read by hand; any change to them is a change of
//! behaviour and must be deliberate (`IRSA_UPDATE_GOLDEN=1` rewrites them).
//!
//! The random parts of the state (account IDs, bucket name, temporary directory) are replaced by
//! fixed placeholders before comparing.

mod common;

use std::path::{Path, PathBuf};

use common::{stderr, Account};

const PRINT: &str = "0123456789abcdef0123456789abcdef01234567";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// `aws_calls` sorted: the reads run side by side (accounts, roles, a role's policies), so
/// their order is not part of the output's contract; the set and the counts are. (Tests of
/// the order of effects check the mutating calls themselves.)
fn normalized(text: &str) -> String {
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(text) else {
        return text.to_string();
    };
    if let Some(calls) = v.get_mut("aws_calls").and_then(|c| c.as_array_mut()) {
        calls.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    serde_json::to_string_pretty(&v).unwrap() + "\n"
}

/// Compares `actual` with the golden file `name`, or rewrites it under IRSA_UPDATE_GOLDEN=1.
fn check_golden(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    let normalized_actual = if name.ends_with(".json") {
        normalized(actual)
    } else {
        actual.to_string()
    };
    let actual = normalized_actual.as_str();
    if std::env::var_os("IRSA_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the golden {}: {e}", path.display()));
    if name.ends_with(".json") {
        let w: serde_json::Value = serde_json::from_str(&want).unwrap();
        let a: serde_json::Value = serde_json::from_str(actual)
            .unwrap_or_else(|e| panic!("{name}: output is not JSON ({e}):\n{actual}"));
        assert_eq!(
            a,
            w,
            "{name} differs from its golden:\n--- actual\n{}\n",
            serde_json::to_string_pretty(&a).unwrap()
        );
    } else {
        assert_eq!(actual, want, "{name} differs from its golden");
    }
}

struct Placeholders(Vec<(String, &'static str)>);

impl Placeholders {
    fn apply(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (from, to) in &self.0 {
            out = out.replace(from.as_str(), to);
        }
        out
    }
}

fn write_config(path: &Path, bucket: &str, b_id: &str, a_id: &str, policy_a: &str, extra: &str) {
    std::fs::write(
        path,
        format!(
            r#"
target = "s3://{bucket}/c1"
[aws]
region = "us-east-1"
[keys]
files = ["{key}"]
[s3]
create_bucket = true
cache_control = "{cache}"
[provider]
client_ids = [{client_ids}]
thumbprints = ["{PRINT}"]
[tags]
cluster = "c1"
[[accounts]]
assume_role = "arn:aws:iam::{b_id}:role/irsa-admin"
external_id = "c1"
[[roles]]
name = "reader"
service_accounts = ["default/reader"]
policy_arns = ["{policy_a}"]
accounts = ["{a_id}"]
[[roles]]
name = "steady"
service_accounts = ["default/steady"]
accounts = ["{a_id}"]
{extra}
"#,
            key = common::fixture("rsa2048.pub").display(),
            cache = if extra.is_empty() {
                "public, max-age=300"
            } else {
                "public, max-age=60"
            },
            client_ids = if extra.is_empty() {
                r#""sts.amazonaws.com""#
            } else {
                r#""sts.amazonaws.com", "example-audience""#
            },
        ),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_and_destroy_plans_match_their_goldens() {
    let region = "us-east-1";
    let a = Account::new(region).await;
    let b_id = format!("{:012}", rand::random::<u64>() % 1_000_000_000_000);
    let b = Account::with_id(&b_id, region).await;
    let policy_a = common::customer_policy(&a, "golden-reader").await;
    let bucket = common::bucket_name("golden");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cluster.toml");
    let f = file.to_str().unwrap();

    // The starting state: everything applied from a first version of the file.
    write_config(&file, &bucket, &b_id, &a.id, &policy_a, "");
    let o = a.run(&["apply", "-f", f, "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Drift by hand: the role lost its policy.
    a.iam()
        .await
        .detach_role_policy()
        .role_name("reader")
        .policy_arn(&policy_a)
        .send()
        .await
        .unwrap();
    // The file changes: another client ID, another Cache-Control, a new role in account B.
    write_config(
        &file,
        &bucket,
        &b_id,
        &a.id,
        &policy_a,
        "[[roles]]\nname = \"writer\"\nservice_accounts = [\"team-b/*\"]\naccounts = [\"BID\"]\n"
            .replace("BID", &b_id)
            .as_str(),
    );
    // Let B's provider not exist yet either: deleted by hand.
    b.iam()
        .await
        .delete_open_id_connect_provider()
        .open_id_connect_provider_arn(format!(
            "arn:aws:iam::{b_id}:oidc-provider/s3.{region}.amazonaws.com/{bucket}/c1"
        ))
        .send()
        .await
        .unwrap();

    let ph = Placeholders(vec![
        (dir.path().display().to_string(), "/TMP"),
        (
            common::fixture("rsa2048.pub").display().to_string(),
            "/FIXTURES/rsa2048.pub",
        ),
        (bucket.clone(), "golden-bucket"),
        (a.id.clone(), "111111111111"),
        (b_id.clone(), "222222222222"),
    ]);

    for (cmd, name) in [("apply", "apply-plan"), ("destroy", "destroy-plan")] {
        let o = a.run(&[cmd, "-f", f, "--plan"]);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", stderr(&o));
        check_golden(
            &format!("{name}.txt"),
            &ph.apply(&String::from_utf8_lossy(&o.stdout)),
        );
        let o = a.run(&[cmd, "-f", f, "--plan", "--output", "json"]);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", stderr(&o));
        check_golden(
            &format!("{name}.json"),
            &ph.apply(&String::from_utf8_lossy(&o.stdout)),
        );
    }
}
