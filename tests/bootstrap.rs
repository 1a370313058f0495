//! scripts/bootstrap-kubeadm.sh and scripts/bootstrap-k3s.sh against moto: keys created once in
//! the distribution's PKI directory, everything applied, the kube-apiserver settings printed
//! (and parsed back by PyYAML), and a second run changing nothing.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};

use common::{stderr, stdout, Account};

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

fn run_script(acct: &Account, name: &str, dir_var: &str, dir: &Path, config: &Path) -> Output {
    acct.command("bash")
        .arg(script(name))
        .arg(config)
        .env("IRSA_BIN", common::bin())
        .env(dir_var, dir)
        .output()
        .unwrap()
}

/// The printed YAML, parsed by PyYAML and re-emitted as JSON.
fn yaml_to_json(text: &str) -> serde_json::Value {
    let mut child = Command::new(common::python())
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "PyYAML refused:\n{text}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn config(dir: &Path, bucket: &str) -> std::path::PathBuf {
    let f = dir.join("cluster.toml");
    // keys.dir here is overridden by the script (IRSA_ISSUER_KEY_DIR).
    std::fs::write(
        &f,
        format!(
            "target = \"s3://{bucket}/cluster\"\n[aws]\nregion = \"us-east-1\"\n[keys]\ndir = \"unused\"\n[s3]\ncreate_bucket = true\n[provider]\nthumbprints = [\"{}\"]\n[[roles]]\nname = \"app-{bucket}\"\nservice_accounts = [\"default/app\"]\n",
            "d".repeat(40)
        ),
    )
    .unwrap();
    f
}

fn kid_in(dir: &Path) -> String {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("keyset.json")).unwrap()).unwrap();
    state["keys"][0]["kid"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn kubeadm_bootstrap_creates_keys_once_applies_and_prints_the_patch() {
    let acct = Account::new("us-east-1").await;
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("etc/kubernetes/pki");
    let bucket = common::bucket_name("kubeadm");
    let cfg = config(tmp.path(), &bucket);

    let o = run_script(&acct, "bootstrap-kubeadm.sh", "KUBEADM_PKI_DIR", &pki, &cfg);
    assert!(o.status.success(), "{}", stderr(&o));
    let keys = pki.join("irsa-issuer");
    let kid = kid_in(&keys);
    let private = keys.join("private").join(format!("{kid}.key"));
    assert_eq!(
        std::fs::metadata(&private).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        !tmp.path().join("unused").exists(),
        "the script's key dir wins over the file's"
    );

    let patch = yaml_to_json(&stdout(&o));
    assert_eq!(patch["kind"], "ClusterConfiguration");
    assert_eq!(patch["apiVersion"], "kubeadm.k8s.io/v1beta4");
    let args: Vec<(String, String)> = patch["apiServer"]["extraArgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let issuer = format!("https://s3.us-east-1.amazonaws.com/{bucket}/cluster");
    assert!(
        args.contains(&("service-account-issuer".into(), issuer.clone())),
        "{args:?}"
    );
    assert!(
        args.contains(&(
            "service-account-signing-key-file".into(),
            private.display().to_string()
        )),
        "{args:?}"
    );
    assert!(
        args.contains(&(
            "service-account-key-file".into(),
            keys.join(format!("{kid}.pub")).display().to_string()
        )),
        "{args:?}"
    );
    assert!(
        args.contains(&(
            "service-account-key-file".into(),
            pki.join("sa.pub").display().to_string()
        )),
        "{args:?}"
    );

    // The issuer is published in moto's S3 and the provider exists.
    let s3 = acct.s3().await;
    let disc = s3
        .get_object()
        .bucket(&bucket)
        .key("cluster/.well-known/openid-configuration")
        .send()
        .await
        .unwrap();
    let disc: serde_json::Value =
        serde_json::from_slice(&disc.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(disc["issuer"], issuer.as_str());
    let iam = acct.iam().await;
    iam.get_open_id_connect_provider()
        .open_id_connect_provider_arn(format!(
            "arn:aws:iam::{}:oidc-provider/s3.us-east-1.amazonaws.com/{bucket}/cluster",
            acct.id
        ))
        .send()
        .await
        .unwrap();

    // Re-run: the key is kept, nothing changes, the same patch comes out.
    let again = run_script(&acct, "bootstrap-kubeadm.sh", "KUBEADM_PKI_DIR", &pki, &cfg);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(kid_in(&keys), kid);
    assert!(stderr(&again).contains("No changes"), "{}", stderr(&again));
    assert_eq!(stdout(&again), stdout(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn k3s_bootstrap_prints_kube_apiserver_args() {
    let acct = Account::new("us-east-1").await;
    let tmp = tempfile::tempdir().unwrap();
    let tls = tmp.path().join("var/lib/rancher/k3s/server/tls");
    let bucket = common::bucket_name("k3s");
    let cfg = config(tmp.path(), &bucket);

    let o = run_script(&acct, "bootstrap-k3s.sh", "K3S_TLS_DIR", &tls, &cfg);
    assert!(o.status.success(), "{}", stderr(&o));
    let keys = tls.join("irsa-issuer");
    let kid = kid_in(&keys);
    let snippet = yaml_to_json(&stdout(&o));
    let args: Vec<&str> = snippet["kube-apiserver-arg"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let issuer = format!("https://s3.us-east-1.amazonaws.com/{bucket}/cluster");
    assert!(
        args.contains(&format!("service-account-issuer={issuer}").as_str()),
        "{args:?}"
    );
    assert!(
        args.contains(
            &format!(
                "service-account-key-file={}",
                keys.join(format!("{kid}.pub")).display()
            )
            .as_str()
        ),
        "{args:?}"
    );
    assert!(
        args.contains(
            &format!(
                "service-account-key-file={}",
                tls.join("service.key").display()
            )
            .as_str()
        ),
        "{args:?}"
    );
    assert!(
        args.contains(
            &format!(
                "service-account-signing-key-file={}",
                keys.join("private").join(format!("{kid}.key")).display()
            )
            .as_str()
        ),
        "{args:?}"
    );

    let again = run_script(&acct, "bootstrap-k3s.sh", "K3S_TLS_DIR", &tls, &cfg);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(kid_in(&keys), kid);
    assert!(stderr(&again).contains("No changes"), "{}", stderr(&again));
}
