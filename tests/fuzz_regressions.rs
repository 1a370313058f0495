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
