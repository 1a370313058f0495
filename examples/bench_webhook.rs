//! Open-loop load generator for `scripts/bench-webhook.sh`: sends AdmissionReviews over HTTPS
//! at a fixed rate and measures each latency from when the request was due (not from when it
//! could be sent), so a slow server cannot hide its queueing (no coordinated omission).
//!
//! Usage: bench_webhook --url https://HOST:PORT/mutate --ca CA.pem --connect 127.0.0.1:PORT
//!        --rate REQ_PER_S --seconds N [--connections C] [--service-account NAME]
//!        [--expect mutated|unchanged]
//!
//! Prints one line of JSON: rate asked and achieved, counts, and latency percentiles in ms.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A pod as a Deployment's ReplicaSet creates it: three containers, some env, a few volumes.
fn review(i: u64, service_account: &str) -> String {
    let container = |name: &str| {
        serde_json::json!({
            "name": name, "image": format!("registry.example.com/team/{name}:1.2.3"),
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}, {"name": "kube-api-access-abcde", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}],
            "terminationMessagePath": "/dev/termination-log", "imagePullPolicy": "IfNotPresent",
        })
    };
    serde_json::json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": format!("00000000-0000-0000-0000-{i:012}"),
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "CREATE", "namespace": "bench",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller", "groups": ["system:serviceaccounts", "system:authenticated"]},
            "object": {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"generateName": "web-7d9f8c6b5-", "namespace": "bench", "labels": {"app": "web", "pod-template-hash": "7d9f8c6b5"}, "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f8c6b5", "uid": "11111111-2222-3333-4444-555555555555", "controller": true, "blockOwnerDeletion": true}]},
                "spec": {
                    "serviceAccountName": service_account, "serviceAccount": service_account,
                    "containers": [container("web"), container("sidecar"), container("metrics")],
                    "initContainers": [container("migrate")],
                    "volumes": [{"name": "config", "configMap": {"name": "web-config"}}, {"name": "kube-api-access-abcde", "projected": {"sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}}],
                    "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
                    "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
                }
            },
            "dryRun": false,
        }
    })
    .to_string()
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let need = |n: &str| arg(&args, n).unwrap_or_else(|| panic!("missing {n}"));
    let url = need("--url");
    let ca = std::fs::read(need("--ca")).expect("read --ca");
    let connect: std::net::SocketAddr = need("--connect").parse().expect("--connect ADDR:PORT");
    let rate: f64 = need("--rate").parse().expect("--rate");
    let seconds: f64 = need("--seconds").parse().expect("--seconds");
    let connections: usize =
        arg(&args, "--connections").map_or(64, |c| c.parse().expect("--connections"));
    let sa = arg(&args, "--service-account").unwrap_or_else(|| "web".into());
    let expect = arg(&args, "--expect").unwrap_or_else(|| "mutated".into());
    let host = url::Url::parse(&url)
        .expect("--url")
        .host_str()
        .expect("a host")
        .to_string();

    irsa_issuer::serve::tls::install_default_provider();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA"))
        .resolve(&host, connect)
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    // Warm the pool: open the connections (TLS handshakes) before measuring.
    let warm: Vec<_> = (0..connections)
        .map(|i| {
            let (c, u, b) = (client.clone(), url.clone(), review(i as u64, &sa));
            tokio::spawn(async move {
                c.post(u)
                    .header("content-type", "application/json")
                    .body(b)
                    .send()
                    .await
                    .map(|r| r.status())
            })
        })
        .collect();
    for w in warm {
        let _ = w.await;
    }

    let total = (rate * seconds) as u64;
    let bodies: Arc<Vec<String>> = Arc::new((0..1024).map(|i| review(i, &sa)).collect());
    let permits = Arc::new(tokio::sync::Semaphore::new(connections));
    let (ok, wrong, errors) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let latencies = Arc::new(std::sync::Mutex::new(Vec::with_capacity(total as usize)));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let (c, u) = (client.clone(), url.clone());
        let body = bodies[(i % 1024) as usize].clone();
        let (permits, ok, wrong, errors, lat, expect) = (
            permits.clone(),
            ok.clone(),
            wrong.clone(),
            errors.clone(),
            latencies.clone(),
            expect.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _p = permits.acquire().await;
            let r = c
                .post(u)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            let result = match r {
                Ok(resp) if resp.status() == 200 => resp.bytes().await.ok(),
                _ => None,
            };
            let took = due.elapsed();
            match result {
                None => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                Some(b) => {
                    let v: serde_json::Value = serde_json::from_slice(&b).unwrap_or_default();
                    let patched = v["response"]["patch"]
                        .as_str()
                        .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
                        .is_some();
                    if v["response"]["allowed"] == true && patched == (expect == "mutated") {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        wrong.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            lat.lock()
                .unwrap()
                .push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
        }));
    }
    let sent_in = start.elapsed();
    for t in tasks {
        let _ = t.await;
    }
    let mut l = latencies.lock().unwrap().clone();
    l.sort_unstable();
    println!(
        "{}",
        serde_json::json!({
            "rate": rate, "achieved": (total as f64 / sent_in.as_secs_f64()).round(),
            "requests": total, "ok": ok.load(Ordering::Relaxed), "wrong": wrong.load(Ordering::Relaxed), "errors": errors.load(Ordering::Relaxed),
            "p50_ms": percentile(&l, 0.50), "p90_ms": percentile(&l, 0.90), "p99_ms": percentile(&l, 0.99), "p999_ms": percentile(&l, 0.999),
            "max_ms": l.last().map_or(0.0, |m| *m as f64 / 1000.0),
        })
    );
}
