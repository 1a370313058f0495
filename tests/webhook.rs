//! The pod-identity webhook: golden pods (tests/fixtures/webhook, written by hand from the
//! rules) through `webhook mutate` and through the served webhook over HTTPS with a real chain
//! (leaf + intermediate, private root), their patches applied by Python's `jsonpatch`; bad
//! reviews; the ServiceAccount file reloaded while serving; the Kubernetes API path against a
//! stand-in that speaks list and watch over TLS; `webhook install`'s certificate checked by
//! openssl; and the end-to-end path against moto: `role apply --service-account-manifest` → the
//! webhook → a mutated pod → `verify --pod`.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Helpers

/// Python's jsonpatch, fed one patch per line.
struct Patcher {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Patcher {
    fn start() -> Self {
        let py = python();
        let ok = Command::new(&py)
            .args(["-c", "import jsonpatch"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "Python's jsonpatch is missing from {py}: run the suite through scripts/test.sh, which installs tests/requirements.txt");
        let mut child = Command::new(py)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/apply_patch.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
        }
    }

    fn apply(&mut self, doc: &Value, patch: &Value) -> Result<Value, String> {
        writeln!(self.stdin, "{}", json!({"doc": doc, "patch": patch})).unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["ok"] == true {
            Ok(v["doc"].clone())
        } else {
            Err(v["error"].to_string())
        }
    }
}

impl Drop for Patcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn review_for(uid: &str, namespace: &str, pod: &Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "operation": "CREATE",
            "namespace": namespace,
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": pod,
            "oldObject": null,
            "dryRun": false,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
        }
    })
}

fn client_for(ca: &str, host: &str, addr: &str) -> reqwest::Client {
    irsa_issuer::serve::tls::install_default_provider();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap())
        .resolve(host, addr.parse().unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A served webhook and a client trusting its CA only.
struct Served {
    _server: Server,
    client: reqwest::Client,
    base: String,
}

impl Served {
    fn start(tls: &Tls, extra: &[&str]) -> Self {
        let mut args = vec![
            "webhook",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &tls.cert_path,
            "--tls-key",
            &tls.key_path,
        ];
        args.extend_from_slice(extra);
        let server = Server::start(&args);
        let port = server.addr.rsplit(':').next().unwrap().to_string();
        Self {
            client: client_for(&tls.ca_path, &tls.host, &server.addr),
            base: format!("https://{}:{port}", tls.host),
            _server: server,
        }
    }

    async fn post(&self, content_type: Option<&str>, body: Vec<u8>) -> (u16, String) {
        let mut r = self.client.post(format!("{}/mutate", self.base)).body(body);
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        let resp = r.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// Admits one pod; returns the response and the decoded patch (if any).
    async fn admit(&self, uid: &str, namespace: &str, pod: &Value) -> (Value, Option<Value>) {
        let (status, body) = self
            .post(
                Some("application/json"),
                review_for(uid, namespace, pod).to_string().into_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(v["kind"], "AdmissionReview");
        assert_eq!(v["response"]["uid"], uid, "{v}");
        assert_eq!(v["response"]["allowed"], true, "{v}");
        let patch = v["response"]["patch"].as_str().map(|p| {
            assert_eq!(v["response"]["patchType"], "JSONPatch");
            serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(p).unwrap())
                .unwrap()
        });
        (v, patch)
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    async fn metric(&self, line_start: &str) -> f64 {
        let (_, m) = self.get("/metrics").await;
        m.lines()
            .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {line_start} in\n{m}"))
    }
}

/// A serving chain (leaf + intermediate) for `host` from the throwaway CA, in files.
struct Tls {
    _dir: tempfile::TempDir,
    host: String,
    ca_path: String,
    cert_path: String,
    key_path: String,
}

impl Tls {
    fn new(host: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = irsa_issuer::serve::pki::generate(&[host, "127.0.0.1"]).unwrap();
        let write = |n: &str, s: &str| {
            let f = dir.path().join(n);
            std::fs::write(&f, s).unwrap();
            f.display().to_string()
        };
        Self {
            ca_path: write("ca.crt", &p.ca_cert_pem),
            cert_path: write("tls.crt", &p.chain_pem),
            key_path: write("tls.key", &p.leaf_key_pem),
            host: host.into(),
            _dir: dir,
        }
    }
}

fn sa_doc(namespace: &str, name: &str, annotations: &Value) -> String {
    json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace, "annotations": annotations}}).to_string()
}

/// Writes `text` to `path` atomically (as a ConfigMap update does: a rename).
fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn role_in(patch: &Option<Value>) -> Option<String> {
    patch.as_ref()?.as_array()?.iter().find_map(|op| {
        op["value"].as_array()?.iter().find_map(|e| {
            (e["name"] == "AWS_ROLE_ARN").then(|| e["value"].as_str().unwrap().to_string())
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Golden pods

struct Case {
    name: String,
    flags: Vec<String>,
    sa_namespace: String,
    sa_name: String,
    annotations: Value,
    pod: Value,
    want: Option<Value>,
}

fn cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/webhook");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let v: Value = serde_saphyr::from_str(&std::fs::read_to_string(&f).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let sa = &v["service_account"];
            Case {
                name: f.file_stem().unwrap().to_string_lossy().into_owned(),
                flags: v["flags"]
                    .as_array()
                    .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default(),
                sa_namespace: sa["namespace"].as_str().unwrap_or("default").into(),
                sa_name: sa["name"].as_str().unwrap_or("app").into(),
                annotations: sa["annotations"].clone(),
                pod: v["pod"].clone(),
                want: (!v["want"].is_null()).then(|| v["want"].clone()),
            }
        })
        .collect()
}

#[test]
fn golden_pods_through_webhook_mutate() {
    let cases = cases();
    assert!(cases.len() >= 30, "only {} golden cases", cases.len());
    let mut py = Patcher::start();
    for c in &cases {
        let dir = tempfile::tempdir().unwrap();
        let sa = dir.path().join("sa.yaml");
        std::fs::write(&sa, sa_doc(&c.sa_namespace, &c.sa_name, &c.annotations)).unwrap();
        let pod = dir.path().join("pod.json");
        std::fs::write(&pod, c.pod.to_string()).unwrap();
        let mut args = vec![
            "--output",
            "json",
            "webhook",
            "mutate",
            "--pod",
            pod.to_str().unwrap(),
            "--service-accounts",
            sa.to_str().unwrap(),
        ];
        args.extend(c.flags.iter().map(String::as_str));
        let o = run(&args);
        assert!(o.status.success(), "{}: {}", c.name, stderr(&o));
        let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
        let expected = c.want.clone().unwrap_or_else(|| c.pod.clone());
        assert_eq!(
            report["mutated"],
            c.want.is_some(),
            "{}: {report:#}",
            c.name
        );
        assert_eq!(report["pod"], expected, "{}: the mutated pod", c.name);
        let applied = py
            .apply(&c.pod, &report["patch"])
            .unwrap_or_else(|e| panic!("{}: jsonpatch refuses the patch: {e}", c.name));
        assert_eq!(
            applied, expected,
            "{}: the patch, applied by jsonpatch",
            c.name
        );
        if c.want.is_none() {
            assert_eq!(report["patch"], json!([]), "{}", c.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn golden_pods_through_the_served_webhook_over_https() {
    let cases = cases();
    let tls = Tls::new("webhook.test");
    let mut py = Patcher::start();
    // One server per set of flags; each case's ServiceAccount and pod in a namespace of its own.
    let mut groups: BTreeMap<Vec<String>, Vec<(usize, &Case)>> = BTreeMap::new();
    for (i, c) in cases.iter().enumerate() {
        groups.entry(c.flags.clone()).or_default().push((i, c));
    }
    assert!(groups.len() > 5);
    let dir = tempfile::tempdir().unwrap();
    for (g, (flags, group)) in groups.iter().enumerate() {
        let sa = dir.path().join(format!("sa-{g}.yaml"));
        let docs: Vec<String> = group
            .iter()
            .map(|(i, c)| {
                sa_doc(
                    &format!("c{i}-{}", c.sa_namespace),
                    &c.sa_name,
                    &c.annotations,
                )
            })
            .collect();
        std::fs::write(&sa, docs.join("\n---\n")).unwrap();
        let mut extra = vec!["--service-accounts", sa.to_str().unwrap()];
        extra.extend(flags.iter().map(String::as_str));
        let served = Served::start(&tls, &extra);
        for (i, c) in group {
            let ns = format!(
                "c{i}-{}",
                c.pod["metadata"]["namespace"].as_str().unwrap_or("default")
            );
            let (resp, patch) = served.admit(&c.name, &ns, &c.pod).await;
            match (&c.want, patch) {
                (None, None) => {}
                (None, Some(p)) => panic!("{}: patched though it should not be: {p}", c.name),
                (Some(_), None) => panic!("{}: no patch: {resp}", c.name),
                (Some(want), Some(p)) => {
                    let applied = py
                        .apply(&c.pod, &p)
                        .unwrap_or_else(|e| panic!("{}: jsonpatch refuses the patch: {e}", c.name));
                    assert_eq!(&applied, want, "{}: over HTTPS", c.name);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bad reviews

fn simple_pod(sa: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-"}, "spec": {"serviceAccountName": sa, "containers": [{"name": "c", "image": "x"}]}})
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_reviews_get_clear_errors_and_never_a_panic() {
    let tls = Tls::new("webhook.test");
    let dir = tempfile::tempdir().unwrap();
    let sa = dir.path().join("sa.yaml");
    std::fs::write(
        &sa,
        sa_doc(
            "default",
            "app",
            &json!({"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/app"}),
        ),
    )
    .unwrap();
    let w = Served::start(&tls, &["--service-accounts", sa.to_str().unwrap()]);
    let good = review_for("u1", "default", &simple_pod("app")).to_string();
    let cases: Vec<(Option<&str>, Vec<u8>, u16, &str)> = vec![
        (Some("text/plain"), good.clone().into_bytes(), 415, "Content-Type is text/plain: the webhook takes an AdmissionReview as application/json"),
        (None, good.clone().into_bytes(), 415, "Content-Type is (none)"),
        (Some("application/json"), b"{\"apiVersion\": ".to_vec(), 400, "the body is not JSON"),
        (Some("application/json"), b"<xml/>".to_vec(), 400, "the body is not JSON"),
        (Some("application/json"), br#"{"apiVersion":"v1","kind":"Pod","spec":{}}"#.to_vec(), 400, "the body is a v1/Pod, not an admission.k8s.io/v1 AdmissionReview"),
        (Some("application/json"), br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(), 400, "has no request"),
        (Some("application/json"), json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "object": simple_pod("app")}}).to_string().into_bytes(), 400, "has no uid"),
        (Some("application/json"), br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":["x"]}}"#.to_vec(), 400, "is not an AdmissionReview (invalid type"),
        (Some("application/json"), vec![b' '; 10 * 1024 * 1024], 413, "the body is larger than 4194304 bytes"),
    ];
    for (ct, body, status, want) in cases {
        let (s, text) = w.post(ct, body).await;
        assert_eq!(s, status, "{text}");
        assert!(text.contains(want), "wanted {want:?} in {text:?}");
    }
    let (s, _) = w.get("/mutate").await;
    assert_eq!(s, 405);
    // Requests the webhook is not for are admitted as they are, with the reason.
    let mut other = review_for("u2", "default", &simple_pod("app"));
    other["request"]["operation"] = json!("UPDATE");
    let (s, text) = w
        .post(Some("application/json"), other.to_string().into_bytes())
        .await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (
            v["response"]["allowed"].clone(),
            v["response"]["uid"].clone()
        ),
        (json!(true), json!("u2"))
    );
    assert!(v["response"]["patch"].is_null());
    assert!(v["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("CREATE only"));
    // A pod the webhook cannot read is admitted unchanged (the API server validates it).
    let mut broken = simple_pod("app");
    broken["spec"]["containers"] = json!("nope");
    let (resp, patch) = w.admit("u3", "default", &broken).await;
    assert!(patch.is_none());
    assert!(
        resp["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("/spec/containers is not a list"),
        "{resp}"
    );
    // The v1beta1 shape is answered in kind.
    let mut beta = review_for("u4", "default", &simple_pod("app"));
    beta["apiVersion"] = json!("admission.k8s.io/v1beta1");
    let (s, text) = w
        .post(
            Some("application/json; charset=utf-8"),
            beta.to_string().into_bytes(),
        )
        .await;
    assert_eq!(s, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["apiVersion"], "admission.k8s.io/v1beta1");
    assert_eq!(v["response"]["patchType"], "JSONPatch");
    // Still serving, and it all counted.
    let (_, patch) = w.admit("u5", "default", &simple_pod("app")).await;
    assert_eq!(
        role_in(&patch).as_deref(),
        Some("arn:aws:iam::111122223333:role/app")
    );
    assert_eq!(
        w.metric("irsa_issuer_webhook_admissions_total{result=\"bad_request\"}")
            .await,
        10.0
    );
    assert_eq!(
        w.metric("irsa_issuer_webhook_admissions_total{result=\"invalid_pod\"}")
            .await,
        1.0
    );
    assert_eq!(
        w.metric("irsa_issuer_webhook_admissions_total{result=\"ignored\"}")
            .await,
        1.0
    );
    assert_eq!(
        w.metric("irsa_issuer_webhook_admissions_total{result=\"mutated\"}")
            .await,
        2.0
    );
    assert_eq!(w.get("/healthz").await.0, 200);
    assert_eq!(w.get("/readyz").await.0, 200);
}

#[test]
fn bad_flags_and_files_are_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let sa = dir.path().join("sa.yaml");
    std::fs::write(&sa, "kind: ServiceAccount\nmetadata: {name: a}\n").unwrap();
    let pod = dir.path().join("pod.json");
    std::fs::write(&pod, simple_pod("a").to_string()).unwrap();
    let (p, s) = (pod.to_str().unwrap(), sa.to_str().unwrap());
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["webhook", "mutate", "--pod", p, "--service-accounts", s],
            1,
            "document 1: ServiceAccount a has no metadata.namespace",
        ),
        (
            vec!["webhook", "mutate", "--pod", s, "--service-accounts", s],
            1,
            "a ServiceAccount, not a Pod",
        ),
        (
            vec![
                "webhook",
                "mutate",
                "--pod",
                "/nonexistent",
                "--service-accounts",
                s,
            ],
            1,
            "cannot read /nonexistent",
        ),
        (
            vec![
                "webhook",
                "mutate",
                "--pod",
                p,
                "--service-accounts",
                s,
                "--token-mount-path",
                "rel",
            ],
            1,
            "--token-mount-path must be an absolute path",
        ),
        (
            vec![
                "webhook",
                "--service-accounts",
                s,
                "--tls-cert",
                "/nonexistent.crt",
            ],
            1,
            "cannot read /nonexistent.crt",
        ),
        (
            vec!["webhook", "--watch-config-map"],
            1,
            "--watch-config-map is not supported",
        ),
        (
            vec!["webhook", "--tls-min-version", "1.0"],
            1,
            "use 1.2 or 1.3",
        ),
        (
            vec!["webhook", "--service-account-lookup-grace-period", "soon"],
            64,
            "is not a duration",
        ),
        (
            vec!["webhook", "--sts-regional-endpoint=maybe"],
            64,
            "is not a boolean",
        ),
        (vec!["webhook", "--no-such-flag"], 64, "--no-such-flag"),
        (vec!["webhook", "install"], 64, "--namespace"),
        (
            vec!["webhook", "install", "--namespace", "Bad_NS"],
            1,
            "is not a DNS label",
        ),
        (
            vec!["verify", "--pod", s, "--skip-aws"],
            1,
            "a ServiceAccount, not a Pod",
        ),
    ];
    for (args, code, want) in cases {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(want),
            "{args:?}: wanted {want:?} in {}",
            stderr(&o)
        );
    }
}

#[test]
fn upstream_deployment_args_are_accepted() {
    // The upstream Deployment's own arguments (deploy/deployment-base.yaml there), checked by
    // the parser: --help after them prints help only when every one is known.
    let o = run(&[
        "webhook",
        "--in-cluster=false",
        "--namespace=default",
        "--service-name=pod-identity-webhook",
        "--annotation-prefix=eks.amazonaws.com",
        "--token-audience=sts.amazonaws.com",
        "--logtostderr",
        "--port=443",
        "--metrics-port=9999",
        "--token-expiration=86400",
        "--token-mount-path=/var/run/secrets/eks.amazonaws.com/serviceaccount",
        "--sts-regional-endpoint=false",
        "--aws-default-region=us-west-2",
        "--service-account-lookup-grace-period=100ms",
        "--resync-period=60s",
        "--tls-secret=pod-identity-webhook",
        "--help",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// The ServiceAccount file, reloaded while serving

#[tokio::test(flavor = "multi_thread")]
async fn the_service_account_file_is_reloaded_while_serving() {
    let tls = Tls::new("webhook.test");
    let dir = tempfile::tempdir().unwrap();
    let sa = dir.path().join("sa.yaml");
    write_atomic(&sa, &sa_doc("default", "app", &role_annotation("one")));
    let w = Served::start(
        &tls,
        &[
            "--service-accounts",
            sa.to_str().unwrap(),
            "--reload-interval",
            "100ms",
        ],
    );
    assert!(until_role(&w, "app", Some("one")).await < Duration::from_secs(1));
    write_atomic(&sa, &sa_doc("default", "app", &role_annotation("two")));
    let took = until_role(&w, "app", Some("two")).await;
    assert!(took < Duration::from_secs(1), "reload took {took:?}");
    // A broken file keeps the previous ServiceAccounts, and is counted.
    write_atomic(&sa, "kind: ServiceAccount\nmetadata: [broken\n");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(until_role(&w, "app", Some("two")).await < Duration::from_secs(1));
    assert_eq!(
        w.metric("irsa_issuer_webhook_source_loads_total{result=\"failure\"}")
            .await,
        1.0
    );
    assert_eq!(w.get("/readyz").await.0, 200);
    // A ServiceAccount removed from the file no longer mutates its pods.
    write_atomic(&sa, &sa_doc("default", "other", &role_annotation("three")));
    until_role(&w, "app", None).await;
    assert!(
        w.metric("irsa_issuer_webhook_admissions_total{result=\"service_account_not_found\"}")
            .await
            >= 1.0
    );
    assert!(until_role(&w, "other", Some("three")).await < Duration::from_secs(1));
}

// ---------------------------------------------------------------------------------------------
// The Kubernetes API path, against a stand-in that speaks list and watch

mod standin {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use axum::extract::{Request, State};
    use axum::http::{Response, StatusCode};
    use bytes::Bytes;
    use serde_json::{json, Value};
    use tokio::sync::mpsc;

    /// How the stand-in answers a GET of one ServiceAccount.
    pub const GET_NORMAL: u8 = 0;
    pub const GET_NOT_FOUND: u8 = 1;
    pub const GET_HANG: u8 = 2;

    #[derive(Default)]
    struct Inner {
        rv: u64,
        objects: BTreeMap<(String, String), Value>,
        log: Vec<(u64, Bytes)>,
        watchers: Vec<mpsc::UnboundedSender<Bytes>>,
    }

    /// A kube-apiserver stand-in for ServiceAccounts: list, watch (newline-delimited events,
    /// replayed from the resourceVersion asked for), and GET, behind a bearer token.
    #[derive(Default)]
    pub struct Api {
        inner: Mutex<Inner>,
        /// ServiceAccounts only a GET sees (a watch that lags).
        hidden: Mutex<BTreeMap<(String, String), Value>>,
        pub get_mode: AtomicU8,
        pub gets: AtomicUsize,
        pub lists: AtomicUsize,
        pub watches: AtomicUsize,
        pub bad_auth: AtomicBool,
    }

    fn object(ns: &str, name: &str, rv: u64, annotations: &Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
            "name": name, "namespace": ns, "resourceVersion": rv.to_string(),
            "uid": format!("uid-{ns}-{name}"), "annotations": annotations}})
    }

    impl Api {
        fn event(inner: &mut Inner, kind: &str, obj: Value) {
            let line = Bytes::from(format!("{}\n", json!({"type": kind, "object": obj})));
            inner.log.push((inner.rv, line.clone()));
            inner.watchers.retain(|w| w.send(line.clone()).is_ok());
        }

        /// Adds or updates a ServiceAccount (ADDED or MODIFIED on the watch).
        pub fn apply(&self, ns: &str, name: &str, annotations: Value) {
            let mut i = self.inner.lock().unwrap();
            i.rv += 1;
            let obj = object(ns, name, i.rv, &annotations);
            let kind = if i
                .objects
                .insert((ns.into(), name.into()), obj.clone())
                .is_some()
            {
                "MODIFIED"
            } else {
                "ADDED"
            };
            Self::event(&mut i, kind, obj);
        }

        /// Deletes one (DELETED on the watch).
        pub fn delete(&self, ns: &str, name: &str) {
            let mut i = self.inner.lock().unwrap();
            i.rv += 1;
            if let Some(mut obj) = i.objects.remove(&(ns.to_string(), name.to_string())) {
                obj["metadata"]["resourceVersion"] = json!(i.rv.to_string());
                Self::event(&mut i, "DELETED", obj);
            }
        }

        /// A ServiceAccount a GET finds but the watch has not delivered yet.
        pub fn hide(&self, ns: &str, name: &str, annotations: Value) {
            self.hidden
                .lock()
                .unwrap()
                .insert((ns.into(), name.into()), object(ns, name, 0, &annotations));
        }
    }

    fn json_response(status: StatusCode, v: Value) -> Response<Body> {
        let mut r = Response::new(Body::from(v.to_string()));
        *r.status_mut() = status;
        r.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        r
    }

    fn not_found(name: &str) -> Response<Body> {
        json_response(
            StatusCode::NOT_FOUND,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": format!("serviceaccounts \"{name}\" not found"), "reason": "NotFound",
                   "details": {"name": name, "kind": "serviceaccounts"}, "code": 404}),
        )
    }

    pub async fn handle(State(api): State<Arc<Api>>, req: Request) -> Response<Body> {
        if req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            != Some("Bearer test-token")
        {
            api.bad_auth.store(true, Ordering::SeqCst);
            return json_response(
                StatusCode::UNAUTHORIZED,
                json!({"kind": "Status", "code": 401}),
            );
        }
        let path = req.uri().path().to_string();
        let query: BTreeMap<String, String> = req
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match parts.as_slice() {
            ["api", "v1", "serviceaccounts"]
                if query.get("watch").is_some_and(|w| w == "true" || w == "1") =>
            {
                api.watches.fetch_add(1, Ordering::SeqCst);
                let since: u64 = query
                    .get("resourceVersion")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
                {
                    let mut i = api.inner.lock().unwrap();
                    for (rv, line) in &i.log {
                        if *rv > since {
                            let _ = tx.send(line.clone());
                        }
                    }
                    i.watchers.push(tx);
                }
                let body =
                    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
                        rx.recv()
                            .await
                            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
                    }));
                let mut r = Response::new(body);
                r.headers_mut()
                    .insert("content-type", "application/json".parse().unwrap());
                r
            }
            ["api", "v1", "serviceaccounts"] => {
                api.lists.fetch_add(1, Ordering::SeqCst);
                let i = api.inner.lock().unwrap();
                json_response(
                    StatusCode::OK,
                    json!({"kind": "ServiceAccountList", "apiVersion": "v1",
                           "metadata": {"resourceVersion": i.rv.to_string()},
                           "items": i.objects.values().cloned().collect::<Vec<_>>()}),
                )
            }
            ["api", "v1", "namespaces", ns, "serviceaccounts", name] => {
                api.gets.fetch_add(1, Ordering::SeqCst);
                match api.get_mode.load(Ordering::SeqCst) {
                    GET_HANG => {
                        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                        not_found(name)
                    }
                    GET_NOT_FOUND => not_found(name),
                    _ => {
                        let key = (ns.to_string(), name.to_string());
                        let found = api
                            .inner
                            .lock()
                            .unwrap()
                            .objects
                            .get(&key)
                            .cloned()
                            .or_else(|| api.hidden.lock().unwrap().get(&key).cloned());
                        match found {
                            Some(o) => json_response(StatusCode::OK, o),
                            None => not_found(name),
                        }
                    }
                }
            }
            _ => json_response(
                StatusCode::NOT_FOUND,
                json!({"kind": "Status", "code": 404}),
            ),
        }
    }
}

/// The stand-in, served over TLS (its own chain) on loopback, and a kubeconfig that reaches it
/// with a bearer token, written into `dir`.
struct StandIn {
    api: std::sync::Arc<standin::Api>,
    kubeconfig: std::path::PathBuf,
    task: tokio::task::JoinHandle<()>,
    _tls: Tls,
}

impl StandIn {
    async fn start(dir: &Path) -> Self {
        irsa_issuer::serve::tls::install_default_provider();
        let tls = Tls::new("localhost");
        let config = irsa_issuer::serve::run::tls_config(
            Path::new(&tls.cert_path),
            Path::new(&tls.key_path),
        )
        .unwrap();
        let api = std::sync::Arc::new(standin::Api::default());
        let app = axum::Router::new()
            .fallback(standin::handle)
            .with_state(api.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = irsa_issuer::serve::server::run(
                listener,
                app,
                Some(config),
                irsa_issuer::serve::server::Limits::default(),
                std::future::pending(),
            )
            .await;
        });
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority: {}\nusers:\n- name: u\n  user:\n    token: test-token\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n",
                addr.port(),
                tls.ca_path
            ),
        )
        .unwrap();
        Self {
            api,
            kubeconfig,
            task,
            _tls: tls,
        }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn role_annotation(r: &str) -> Value {
    json!({"eks.amazonaws.com/role-arn": format!("arn:aws:iam::111122223333:role/{r}")})
}

/// Polls the webhook until the pod of `sa` gets `want` (a role, or no patch at all); returns
/// how long that took.
async fn until_role(w: &Served, sa: &str, want: Option<&str>) -> Duration {
    let t0 = Instant::now();
    let want = want.map(|r| format!("arn:aws:iam::111122223333:role/{r}"));
    loop {
        let got = role_in(&w.admit("poll", "default", &simple_pod(sa)).await.1);
        if got == want {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "{sa}: still {got:?}, wanted {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_watch_sees_adds_updates_and_deletes_within_a_second_and_a_stuck_api_never_holds_an_admission(
) {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let s = StandIn::start(dir.path()).await;
    s.api.apply("default", "a", role_annotation("a1"));
    s.api.apply("default", "norole", json!({}));
    let tls = Tls::new("webhook.test");
    let w = Served::start(
        &tls,
        &[
            "--kubeconfig",
            s.kubeconfig.to_str().unwrap(),
            "--service-account-lookup-grace-period",
            "300ms",
        ],
    );
    let t0 = Instant::now();
    while w.get("/readyz").await.0 != 200 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "never ready: {}",
            w.get("/readyz").await.1
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(s.api.lists.load(Ordering::SeqCst) >= 1);
    assert!(
        !s.api.bad_auth.load(Ordering::SeqCst),
        "the client did not send the kubeconfig's token"
    );
    assert!(until_role(&w, "a", Some("a1")).await < Duration::from_secs(1));
    assert!(until_role(&w, "norole", None).await < Duration::from_secs(1));
    let gets = s.api.gets.load(Ordering::SeqCst);
    assert_eq!(gets, 0, "ServiceAccounts in the watch cache need no GET");

    // From here on a GET finds nothing: what changes, changes through the watch.
    s.api
        .get_mode
        .store(standin::GET_NOT_FOUND, Ordering::SeqCst);
    s.api.apply("default", "b", role_annotation("b1"));
    let took = until_role(&w, "b", Some("b1")).await;
    assert!(took < Duration::from_secs(1), "add seen after {took:?}");
    s.api.apply("default", "a", role_annotation("a2"));
    let took = until_role(&w, "a", Some("a2")).await;
    assert!(took < Duration::from_secs(1), "update seen after {took:?}");
    s.api.delete("default", "b");
    let took = until_role(&w, "b", None).await;
    assert!(took < Duration::from_secs(1), "delete seen after {took:?}");
    assert!(s.api.watches.load(Ordering::SeqCst) >= 1);
    assert!(w.metric("irsa_issuer_webhook_watch_events_total").await >= 3.0);

    // A ServiceAccount the watch has not delivered yet: one GET finds it.
    s.api.get_mode.store(standin::GET_NORMAL, Ordering::SeqCst);
    s.api.hide("default", "c", role_annotation("c1"));
    let before = s.api.gets.load(Ordering::SeqCst);
    let (_, patch) = w.admit("u", "default", &simple_pod("c")).await;
    assert_eq!(
        role_in(&patch).as_deref(),
        Some("arn:aws:iam::111122223333:role/c1")
    );
    assert_eq!(s.api.gets.load(Ordering::SeqCst), before + 1);
    // ...and is cached: no second GET.
    w.admit("u", "default", &simple_pod("c")).await;
    assert_eq!(s.api.gets.load(Ordering::SeqCst), before + 1);
    assert_eq!(
        w.metric("irsa_issuer_webhook_api_gets_total{result=\"found\"}")
            .await,
        1.0
    );

    // A stuck API: every admission of an unknown ServiceAccount is answered, unchanged, within
    // the lookup timeout (300 ms), 40 at once included.
    s.api.get_mode.store(standin::GET_HANG, Ordering::SeqCst);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (client, base) = (w.client.clone(), w.base.clone());
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let body = review_for(
                &format!("stuck-{i}"),
                "default",
                &simple_pod(&format!("stuck-{i}")),
            )
            .to_string();
            let r = client
                .post(format!("{base}/mutate"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let took = t0.elapsed();
            let v: Value = r.json().await.unwrap();
            (took, v)
        }));
    }
    for t in tasks {
        let (took, v) = t.await.unwrap();
        assert_eq!(v["response"]["allowed"], true);
        assert!(v["response"]["patch"].is_null(), "{v}");
        assert!(
            v["response"]["status"]["message"]
                .as_str()
                .unwrap()
                .contains("timed out"),
            "{v}"
        );
        assert!(
            took >= Duration::from_millis(290) && took < Duration::from_millis(1000),
            "a stuck lookup took {took:?}"
        );
    }
    assert_eq!(
        w.metric("irsa_issuer_webhook_admissions_total{result=\"lookup_timeout\"}")
            .await,
        40.0
    );
    // Known ServiceAccounts are unaffected by the stuck API.
    let t0 = Instant::now();
    assert_eq!(
        role_in(&w.admit("u", "default", &simple_pod("a")).await.1).as_deref(),
        Some("arn:aws:iam::111122223333:role/a2")
    );
    assert!(t0.elapsed() < Duration::from_millis(500));
}

#[tokio::test(flavor = "multi_thread")]
async fn not_ready_until_the_api_lists() {
    // An API that never answers: alive, not ready, and pods are still admitted (unchanged).
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://{}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n", dead.local_addr().unwrap())).unwrap();
    let tls = Tls::new("webhook.test");
    let w = Served::start(
        &tls,
        &[
            "--kubeconfig",
            kc.to_str().unwrap(),
            "--service-account-lookup-grace-period",
            "200ms",
        ],
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(w.get("/healthz").await.0, 200);
    let (s, body) = w.get("/readyz").await;
    assert_eq!(s, 503, "{body}");
    assert!(body.contains("not ready"), "{body}");
    let t0 = Instant::now();
    let (_, patch) = w.admit("u", "default", &simple_pod("a")).await;
    assert!(patch.is_none());
    assert!(t0.elapsed() < Duration::from_secs(1));
    drop(dead);
}

// ---------------------------------------------------------------------------------------------
// webhook install

fn install(dir: &Path, ns: &str) -> (Value, Value) {
    let o = run(&["webhook", "install", "--namespace", ns]);
    assert!(o.status.success(), "{}", stderr(&o));
    let docs: Vec<Value> = serde_saphyr::from_multiple(&stdout(&o)).unwrap();
    assert_eq!(docs.len(), 2, "{}", stdout(&o));
    let (secret, mwc) = (docs[0].clone(), docs[1].clone());
    for (k, f) in [
        ("tls.crt", "tls.crt"),
        ("tls.key", "tls.key"),
        ("ca.crt", "ca.crt"),
    ] {
        write_atomic(&dir.join(f), secret["stringData"][k].as_str().unwrap());
    }
    (secret, mwc)
}

#[tokio::test(flavor = "multi_thread")]
async fn install_makes_a_certificate_openssl_accepts_for_the_service_and_the_webhook_serves_and_reloads_it(
) {
    let dir = tempfile::tempdir().unwrap();
    let (secret, mwc) = install(dir.path(), "team-a");
    assert_eq!(secret["type"], "kubernetes.io/tls");
    assert_eq!(secret["metadata"]["namespace"], "team-a");
    let host = "irsa-issuer-webhook.team-a.svc";
    let f = |n: &str| dir.path().join(n).display().to_string();
    // openssl, not rustls, checks the chain and the name the API server dials.
    let o = Command::new("openssl")
        .args([
            "verify",
            "-CAfile",
            &f("ca.crt"),
            "-verify_hostname",
            host,
            "-purpose",
            "sslserver",
            &f("tls.crt"),
        ])
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let o = Command::new("openssl")
        .args([
            "verify",
            "-CAfile",
            &f("ca.crt"),
            "-verify_hostname",
            "other.team-a.svc",
            &f("tls.crt"),
        ])
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "the certificate must not cover other names"
    );
    let w = &mwc["webhooks"][0];
    let bundle = base64::engine::general_purpose::STANDARD
        .decode(w["clientConfig"]["caBundle"].as_str().unwrap())
        .unwrap();
    assert_eq!(bundle, std::fs::read(f("ca.crt")).unwrap());
    assert_eq!(
        w["clientConfig"]["service"],
        json!({"name": "irsa-issuer-webhook", "namespace": "team-a", "path": "/mutate", "port": 443})
    );
    assert_eq!(
        (w["failurePolicy"].as_str(), w["sideEffects"].as_str()),
        (Some("Ignore"), Some("None"))
    );
    assert!(w["timeoutSeconds"].as_u64().unwrap() <= 5);
    assert_eq!(w["admissionReviewVersions"], json!(["v1"]));
    assert_eq!(
        w["rules"],
        json!([{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "scope": "Namespaced"}])
    );
    assert_eq!(
        w["objectSelector"]["matchExpressions"],
        json!([{"key": "eks.amazonaws.com/skip-pod-identity-webhook", "operator": "DoesNotExist"}])
    );
    let excluded = &w["namespaceSelector"]["matchExpressions"][0];
    assert_eq!(
        (excluded["key"].as_str(), excluded["operator"].as_str()),
        (Some("kubernetes.io/metadata.name"), Some("NotIn"))
    );
    for ns in ["team-a", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            excluded["values"].as_array().unwrap().contains(&json!(ns)),
            "{ns} not excluded"
        );
    }

    // The webhook serves that certificate to a client that trusts only the CA in caBundle.
    let sa = dir.path().join("sa.yaml");
    std::fs::write(&sa, sa_doc("default", "app", &role_annotation("app"))).unwrap();
    let server = Server::start(&[
        "webhook",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        &f("tls.crt"),
        "--tls-key",
        &f("tls.key"),
        "--service-accounts",
        sa.to_str().unwrap(),
        "--reload-interval",
        "100ms",
    ]);
    let port = server.addr.rsplit(':').next().unwrap();
    let url = format!("https://{host}:{port}/healthz");
    let old = client_for(&f("ca.crt"), host, &server.addr);
    assert_eq!(old.get(&url).send().await.unwrap().status(), 200);
    // A renewed certificate (install again) is picked up without a restart.
    let old_ca = std::fs::read_to_string(f("ca.crt")).unwrap();
    std::fs::write(dir.path().join("old-ca.crt"), &old_ca).unwrap();
    install(dir.path(), "team-a");
    let new = client_for(&f("ca.crt"), host, &server.addr);
    let t0 = Instant::now();
    loop {
        // Fresh connections each time (a new client), so the handshake shows the current cert.
        let fresh = client_for(&f("ca.crt"), host, &server.addr);
        if fresh.get(&url).send().await.is_ok() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the renewed certificate was not served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(new.get(&url).send().await.unwrap().status(), 200);
    let stale = client_for(
        &dir.path().join("old-ca.crt").display().to_string(),
        host,
        &server.addr,
    );
    assert!(
        stale.get(&url).send().await.is_err(),
        "the old certificate is still served"
    );
}

// ---------------------------------------------------------------------------------------------
// End to end, against moto

#[tokio::test(flavor = "multi_thread")]
async fn role_manifest_to_webhook_to_mutated_pod_to_verify_pod_against_moto() {
    const ISSUER: &str = "https://oidc.example.com/e2e";
    let acct = Account::new("eu-west-1").await;
    let o = acct.run(&[
        "provider",
        "apply",
        "--issuer",
        ISSUER,
        "--thumbprint",
        &"a".repeat(40),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = acct.run(&[
        "role",
        "apply",
        "--name",
        "web-reader",
        "--issuer",
        ISSUER,
        "--service-account",
        "shop/web",
        "--service-account-manifest",
        "--sts-regional-endpoints",
        "--token-expiration",
        "3600",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = stdout(&o);
    let role_arn = format!("arn:aws:iam::{}:role/irsa/web-reader", acct.id);
    assert!(manifest.contains(&role_arn), "{manifest}");
    let dir = tempfile::tempdir().unwrap();
    let sa = dir.path().join("sa.yaml");
    std::fs::write(&sa, &manifest).unwrap();

    // The manifest, as it is, is the webhook's ServiceAccount source.
    let tls = Tls::new("webhook.test");
    let w = Served::start(
        &tls,
        &[
            "--service-accounts",
            sa.to_str().unwrap(),
            "--aws-default-region",
            "eu-west-1",
        ],
    );
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0", "namespace": "shop"},
                     "spec": {"serviceAccountName": "web", "containers": [{"name": "web", "image": "nginx"}]}});
    let (_, patch) = w.admit("e2e", "shop", &pod).await;
    let mut py = Patcher::start();
    let mutated = py
        .apply(&pod, &patch.expect("the pod was not mutated"))
        .unwrap();
    let env = &mutated["spec"]["containers"][0]["env"];
    assert_eq!(
        env[0],
        json!({"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"})
    );
    assert_eq!(env[3], json!({"name": "AWS_ROLE_ARN", "value": role_arn}));
    assert_eq!(
        mutated["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]
            ["expirationSeconds"],
        3600
    );
    let pod_file = dir.path().join("pod.json");
    std::fs::write(&pod_file, mutated.to_string()).unwrap();

    // verify --pod, with IAM (moto): every check passes.
    let o = acct.run(&[
        "verify",
        "--pod",
        pod_file.to_str().unwrap(),
        "--output",
        "json",
    ]);
    let report: Value = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|_| panic!("{}{}", stdout(&o), stderr(&o)));
    assert!(o.status.success(), "{report:#}\n{}", stderr(&o));
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for want in [
        "role and token variables",
        "token file is the projected token",
        "token expiration",
        "region variables",
        "role exists",
        "role trusts this pod",
        "audience is a provider client ID",
    ] {
        assert!(names.contains(&want), "no {want} in {names:?}");
    }
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "ok"),
        "{report:#}"
    );

    // The same with the cluster's file: its roles and rotation settings take part.
    let toml = dir.path().join("cluster.toml");
    let key = fixture("rsa2048.pub").display().to_string();
    let file = |max_age: &str| {
        format!("issuer = \"{ISSUER}\"\ntarget = \"site\"\n[keys]\nfiles = [\"{key}\"]\n[aws]\nregion = \"eu-west-1\"\n[rotation]\nmax_token_age = \"{max_age}\"\n[[roles]]\nname = \"web-reader\"\nservice_accounts = [\"shop/web\"]\n")
    };
    std::fs::write(&toml, file("24h")).unwrap();
    let o = acct.run(&[
        "verify",
        "--pod",
        pod_file.to_str().unwrap(),
        "-f",
        toml.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("ok    role web-reader in"),
        "{}",
        stdout(&o)
    );
    // Planted: a max token age shorter than the token's lifetime.
    std::fs::write(&toml, file("30m")).unwrap();
    let o = acct.run(&[
        "verify",
        "--pod",
        pod_file.to_str().unwrap(),
        "-f",
        toml.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("FAIL  token expiration: expirationSeconds 3600 is longer than the rotation's max token age (1800 s)"), "{}", stdout(&o));

    // Planted: a pod of another ServiceAccount claiming the role is refused by its trust policy.
    let mut other = mutated.clone();
    other["spec"]["serviceAccountName"] = json!("intruder");
    std::fs::write(&pod_file, other.to_string()).unwrap();
    let o = acct.run(&["verify", "--pod", pod_file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains(&format!("FAIL  role trusts this pod: {role_arn} does not let system:serviceaccount:shop:intruder with audience sts.amazonaws.com assume it")), "{}", stdout(&o));

    // Planted: an audience the provider does not list.
    let mut aud = mutated.clone();
    aud["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["audience"] =
        json!("other-aud");
    std::fs::write(&pod_file, aud.to_string()).unwrap();
    let o = acct.run(&["verify", "--pod", "-"]);
    assert_eq!(o.status.code(), Some(1), "stdin is empty: {}", stderr(&o));
    let o = acct
        .command(bin())
        .args(["verify", "--pod", "-"])
        .stdin(std::fs::File::open(&pod_file).unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("FAIL  role trusts this pod"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("other-aud"), "{}", stdout(&o));

    // Planted: a role that trusts the pod with an audience the provider does not list.
    let o = acct.run(&[
        "role",
        "apply",
        "--name",
        "aud-role",
        "--issuer",
        ISSUER,
        "--service-account",
        "shop/web",
        "--audience",
        "other-aud",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let aud_arn = format!("arn:aws:iam::{}:role/irsa/aud-role", acct.id);
    let mut aud_pod = aud.clone();
    aud_pod["spec"]["containers"][0]["env"][3]["value"] = json!(aud_arn);
    std::fs::write(&pod_file, aud_pod.to_string()).unwrap();
    let o = acct.run(&["verify", "--pod", pod_file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("ok    role trusts this pod"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("FAIL  audience is a provider client ID"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("not other-aud"), "{}", stdout(&o));

    // Planted: the role deleted.
    std::fs::write(&pod_file, mutated.to_string()).unwrap();
    let o = acct.run(&["role", "delete", "--name", "web-reader", "--issuer", ISSUER]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = acct.run(&["verify", "--pod", pod_file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("FAIL  role exists: there is no role web-reader"),
        "{}",
        stdout(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_webhook_cleanly() {
    let tls = Tls::new("webhook.test");
    let dir = tempfile::tempdir().unwrap();
    let sa = dir.path().join("sa.yaml");
    std::fs::write(&sa, sa_doc("default", "app", &role_annotation("app"))).unwrap();
    let mut w = Served::start(&tls, &["--service-accounts", sa.to_str().unwrap()]);
    assert_eq!(w.get("/healthz").await.0, 200);
    let pid = w._server.pid().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let t0 = Instant::now();
    let status = w._server.wait();
    assert!(status.success(), "{status:?}");
    assert!(t0.elapsed() < Duration::from_secs(5));
}
