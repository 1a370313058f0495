//! Replays, on stable, every input that once crashed a fuzz target (tests/fixtures/fuzz/TARGET/)
//! and the fuzzers' seeds (fuzz/seeds/TARGET/) through the targets' own bodies (fuzz/harness.rs),
//! so that a fixed crash stays fixed without nightly. The fuzzing itself is scripts/fuzz.sh.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::Path;

fn inputs(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

/// Runs `body` on every regression input and seed of `target`; returns how many ran.
fn replay(target: &str, body: fn(&[u8])) -> usize {
    let mut all = inputs(&format!("tests/fixtures/fuzz/{target}"));
    all.extend(inputs(&format!("fuzz/seeds/{target}")));
    if target == "keys" {
        // The key fixtures are the keys target's seeds.
        all.extend(inputs("tests/fixtures"));
    }
    for (name, data) in &all {
        if std::panic::catch_unwind(|| body(data)).is_err() {
            panic!("fuzz target {target} panics on {name}");
        }
    }
    all.len()
}

#[test]
fn keys() {
    assert!(replay("keys", harness::keys) > 0);
}

#[test]
fn documents() {
    assert!(replay("documents", harness::documents) > 0);
}

#[test]
fn token() {
    assert!(replay("token", harness::token) > 0);
}

#[test]
fn config() {
    assert!(replay("config", harness::config) > 0);
}

#[test]
fn issuer() {
    assert!(replay("issuer", harness::issuer_and_names) > 0);
}

#[test]
fn admission_review() {
    assert!(replay("admission_review", harness::admission_review) > 0);
}

/// The golden pods of tests/fixtures/webhook (the seeds of the fuzz target were made from them,
/// see fuzz/seeds/README.md), each wrapped in the AdmissionReview the API server sends, so that
/// a new golden pod goes through the target's checks too.
#[test]
fn admission_review_of_every_golden_pod() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/webhook");
    let mut n = 0;
    for (name, text) in inputs("tests/fixtures/webhook") {
        if !name.ends_with(".yaml") {
            continue;
        }
        let case: serde_json::Value = serde_saphyr::from_str(std::str::from_utf8(&text).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let review = serde_json::json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "operation": "CREATE",
                "namespace": case["service_account"]["namespace"].as_str().unwrap_or("default"),
                "object": case["pod"],
            }
        });
        let bytes = review.to_string().into_bytes();
        if std::panic::catch_unwind(|| harness::admission_review(&bytes)).is_err() {
            panic!("fuzz target admission_review panics on {name}");
        }
        n += 1;
    }
    assert!(n >= 30, "{n} golden pods in {}", dir.display());
}
