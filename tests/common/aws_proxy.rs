//! tests/py/aws_proxy.py, the reverse proxy in front of moto, as the Rust tests drive it: start
//! it, count the AWS requests it forwarded, hold the response to call N.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// tests/py/aws_proxy.py in front of moto, killed when dropped.
pub struct AwsProxy {
    child: Child,
    /// Its URL: what AWS_ENDPOINT_URL should say.
    pub url: String,
}

impl AwsProxy {
    /// Starts the proxy in front of moto, logging each request to `log`.
    pub fn start(log: &Path) -> Self {
        Self::start_with(log, &[])
    }

    /// Starts it with extra command-line flags (`--latency-ms`, `--fault-rate`, ...).
    pub fn start_with(log: &Path, extra: &[&str]) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/aws_proxy.py");
        let mut child = Command::new(super::python())
            .arg(script)
            .args([
                "--upstream",
                &super::moto_endpoint(),
                "--max-seconds",
                "900",
            ])
            .arg("--log")
            .arg(log)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tests/py/aws_proxy.py");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("aws_proxy said {line:?}"))
            .to_string();
        // Keep draining its stdout ("held N ..." lines).
        std::thread::spawn(move || for _ in out.lines() {});
        Self { child, url }
    }

    /// A control request (plain HTTP/1.0 on loopback; the proxy closes after answering).
    pub fn control(&self, path: &str, body: Option<serde_json::Value>) -> serde_json::Value {
        use std::io::{Read, Write};
        let addr = self.url.strip_prefix("http://").unwrap();
        let mut s = std::net::TcpStream::connect(addr).expect("aws_proxy control");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let method = if body.is_empty() { "GET" } else { "POST" };
        write!(
            s,
            "{method} /__aws_proxy/{path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let (head, json) = resp.split_once("\r\n\r\n").expect("aws_proxy answer");
        assert!(head.starts_with("HTTP/1.1 200"), "aws_proxy: {resp}");
        serde_json::from_str(json).expect("aws_proxy control JSON")
    }

    /// Holds the response to call `n` (None: holds nothing); resets the count.
    pub fn hold(&self, n: Option<usize>) {
        self.control("config", Some(serde_json::json!({ "hold_response": n })));
    }

    /// Waits until call `n` is held; None if the child exits first (fewer calls this time).
    pub fn wait_held(&self, n: usize, child: &mut Child) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.control("status", None);
            if let Some(h) = s["held"].as_array() {
                assert_eq!(h[0], n);
                return Some(h[1].as_str().unwrap().to_string());
            }
            if child.try_wait().unwrap().is_some() {
                return None;
            }
            assert!(Instant::now() < deadline, "call {n} never arrived: {s}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for AwsProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AwsProxy {
    /// How many AWS requests it has seen since it started or was last configured.
    pub fn requests(&self) -> u64 {
        self.control("status", None)["requests"].as_u64().unwrap()
    }
}

/// The proxy's log: one JSON object per AWS request (n, method, path, service, action, fault,
/// status, ms, start).
pub fn log_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
