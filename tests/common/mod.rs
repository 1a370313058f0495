//! Helpers shared by the integration tests: run the binary, find fixtures, start `serve`, run
//! the independent Python verifier. Each test file uses a different subset.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_irsa-issuer")
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs the binary with `args` and no stdin.
pub fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run irsa-issuer")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A free loopback port (bound, then released for the process under test to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `irsa-issuer serve`, killed when dropped.
pub struct Server {
    child: Child,
    pub addr: String,
}

impl Server {
    /// Starts the binary with `args` and waits for its "listening on" line.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn irsa-issuer serve");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut line = String::new();
        let addr = loop {
            line.clear();
            if Instant::now() > deadline || out.read_line(&mut line).unwrap_or(0) == 0 {
                break None;
            }
            if let Some(rest) = line.trim().strip_prefix("listening on ") {
                break rest.split("://").nth(1).map(str::to_string);
            }
        };
        match addr {
            Some(addr) => {
                // Keep draining stdout so the child never blocks on a full pipe.
                std::thread::spawn(move || for _ in out.lines() {});
                Self { child, addr }
            }
            None => {
                let _ = child.kill();
                let status = child.wait();
                panic!("serve did not start listening: {status:?}");
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python interpreter of the test venv that scripts/test.sh builds. Fails loudly when the
/// venv or PyJWT is missing: a cross-check that silently does not run proves nothing.
pub fn python() -> String {
    let py = std::env::var("IRSA_TEST_PYTHON")
        .unwrap_or_else(|_| format!("{}/.venv-test/bin/python", env!("CARGO_MANIFEST_DIR")));
    let ok = Command::new(&py)
        .args(["-c", "import jwt, cryptography"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "the independent verifier needs Python with PyJWT[crypto] at {py}: run the suite through scripts/test.sh, which installs it (or set IRSA_TEST_PYTHON)"
    );
    py
}

/// The PyJWT verifier (tests/py/verify_tokens.py), fed tokens one line at a time.
pub struct PyVerifier {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl PyVerifier {
    pub fn start(issuer: &str, audience: &str, cafile: &Path) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/verify_tokens.py");
        let mut child = Command::new(python())
            .arg(script)
            .args(["--issuer", issuer, "--audience", audience, "--cafile"])
            .arg(cafile)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the PyJWT verifier");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&first).unwrap_or_else(|_| panic!("verifier said {first:?}"));
        assert_eq!(v["ready"], true, "verifier refused the issuer: {first}");
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// Verifies one token; Ok(sub) or Err(reason).
    pub fn verify(&mut self, token: &str) -> Result<String, String> {
        writeln!(self.stdin, "{token}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("verifier said {line:?}"));
        if v["ok"] == true {
            Ok(v["sub"].as_str().unwrap().to_string())
        } else {
            Err(v["error"].as_str().unwrap_or("?").to_string())
        }
    }
}

impl Drop for PyVerifier {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A token shaped like a projected service-account token, signed with `key_pem`.
pub fn sign_token(
    key_pem: &[u8],
    alg: jsonwebtoken::Algorithm,
    kid: &str,
    issuer: &str,
    sub: &str,
    aud: &str,
    ttl: i64,
) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = serde_json::json!({
        "aud": [aud],
        "exp": now + ttl,
        "iat": now,
        "iss": issuer,
        "nbf": now,
        "sub": sub,
        "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "app", "uid": "00000000-0000-0000-0000-000000000001"}},
    });
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = Some(kid.to_string());
    let key = match alg {
        jsonwebtoken::Algorithm::RS256 => jsonwebtoken::EncodingKey::from_rsa_pem(key_pem).unwrap(),
        _ => jsonwebtoken::EncodingKey::from_ec_pem(key_pem).unwrap(),
    };
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}
