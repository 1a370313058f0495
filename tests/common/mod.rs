//! Helpers shared by the integration tests: run the binary, find fixtures, start `serve`, run
//! the independent Python verifier. Each test file uses a different subset.
#![allow(dead_code)]

pub mod aws_proxy;
pub mod iam;

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
        let mut cmd = Command::new(bin());
        cmd.args(args);
        Self::spawn(cmd)
    }

    /// Starts `cmd` (any server that prints "listening on SCHEME://ADDR") and waits for it.
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
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

/// moto's endpoint, started by scripts/test.sh. Missing moto fails the test, loudly.
pub fn moto_endpoint() -> String {
    std::env::var("IRSA_TEST_MOTO_ENDPOINT").unwrap_or_else(|_| {
        panic!("IRSA_TEST_MOTO_ENDPOINT is not set: the AWS tests need moto's server; run them through scripts/test.sh, which installs and starts it")
    })
}

/// Credentials for a fresh moto account of its own (STS AssumeRole into a random account ID:
/// moto files what these credentials create under that account).
pub struct Account {
    pub id: String,
    pub region: String,
    pub env: Vec<(String, String)>,
}

fn base_env(endpoint: &str, region: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", region),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent/aws-config"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

impl Account {
    pub async fn new(region: &str) -> Self {
        Self::with_id(
            &format!("{:012}", rand::random::<u64>() % 1_000_000_000_000),
            region,
        )
        .await
    }

    /// Credentials for the moto account `id`.
    pub async fn with_id(id: &str, region: &str) -> Self {
        let endpoint = moto_endpoint();
        let id = id.to_string();
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::Config::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .endpoint_url(&endpoint)
                .region(aws_config::Region::new(region.to_string()))
                .credentials_provider(aws_sdk_sts::config::Credentials::new(
                    "testing", "testing", None, None, "test",
                ))
                .build(),
        );
        let out = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{id}:role/irsa-issuer-test"))
            .role_session_name("test")
            .send()
            .await
            .unwrap_or_else(|e| panic!("moto at {endpoint} did not answer AssumeRole: {e:?}"));
        let c = out.credentials().unwrap();
        let mut env = base_env(&endpoint, region);
        env.push(("AWS_ACCESS_KEY_ID".into(), c.access_key_id().into()));
        env.push(("AWS_SECRET_ACCESS_KEY".into(), c.secret_access_key().into()));
        env.push(("AWS_SESSION_TOKEN".into(), c.session_token().into()));
        Self {
            id,
            region: region.into(),
            env,
        }
    }

    /// The binary with this account's credentials and nothing else from the environment's AWS set-up.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(bin())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run irsa-issuer")
    }

    /// `program` with this account's credentials and nothing else from the environment's AWS
    /// set-up.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        for k in [
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_DEFAULT_REGION",
        ] {
            cmd.env_remove(k);
        }
        cmd.envs(self.env.iter().cloned());
        cmd
    }

    /// SDK configuration for checks the test makes itself.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        let get = |k: &str| {
            self.env
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(moto_endpoint())
            .region(aws_config::Region::new(self.region.clone()))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                get("AWS_ACCESS_KEY_ID"),
                get("AWS_SECRET_ACCESS_KEY"),
                Some(get("AWS_SESSION_TOKEN")),
                None,
                "test",
            ))
            .load()
            .await
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.sdk().await)
                .force_path_style(true)
                .build(),
        )
    }

    pub async fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        aws_sdk_cloudfront::Client::new(&self.sdk().await)
    }

    pub async fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk().await)
    }
}

/// A customer-managed policy `name` in `acct` (moto has no AWS-managed ones to attach).
pub async fn customer_policy(acct: &Account, name: &str) -> String {
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#;
    acct.iam()
        .await
        .create_policy()
        .policy_name(name)
        .policy_document(doc)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_string()
}

/// The actions an IAM policy document (`irsa-issuer iam-policy` output) allows.
pub fn allowed_actions(policy: &serde_json::Value) -> Vec<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
        })
        .collect()
}

/// A bucket name of its own for one test.
pub fn bucket_name(test: &str) -> String {
    format!("irsa-{test}-{:08x}", rand::random::<u32>())
}

/// The mutating AWS calls in a command's `--output json` (everything but Get*, Head*, List*,
/// and sts:AssumeRole, which only hands out credentials).
pub fn mutating_calls(json: &serde_json::Value) -> Vec<String> {
    json["aws_calls"]
        .as_array()
        .unwrap_or_else(|| panic!("no aws_calls in {json}"))
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .filter(|c| {
            let op = c.split(':').nth(1).unwrap();
            !(op.starts_with("Get")
                || op.starts_with("Head")
                || op.starts_with("List")
                || c == "sts:AssumeRole")
        })
        .collect()
}

/// How many requests moto's own log shows with `method` on a path containing `needle`: an
/// observation independent of irsa-issuer's call recorder.
pub fn moto_log_count(method: &str, needle: &str) -> usize {
    let path =
        std::env::var("IRSA_TEST_MOTO_LOG").expect("IRSA_TEST_MOTO_LOG (set by scripts/test.sh)");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| l.contains(&format!("\"{method} ")) && l.contains(needle))
        // The bucket lock runs take turns with is written by every changing run.
        .filter(|l| !l.contains("/.irsa-issuer/lock"))
        .count()
}

/// A throwaway CA (root → intermediate → `localhost`/127.0.0.1 leaf) written to a temp dir:
/// `ca.crt`, `tls.crt` (leaf + intermediate, as a server sends it), `tls.key`,
/// `intermediate.crt`, `leaf.crt`.
pub struct Tls {
    dir: tempfile::TempDir,
}

impl Tls {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = irsa_issuer::serve::pki::generate(&["localhost", "127.0.0.1"]).unwrap();
        let files = [
            ("ca.crt", p.ca_cert_pem.as_str()),
            ("tls.crt", p.chain_pem.as_str()),
            ("tls.key", p.leaf_key_pem.as_str()),
            ("intermediate.crt", p.intermediate_cert_pem.as_str()),
            ("leaf.crt", p.leaf_cert_pem.as_str()),
        ];
        for (name, pem) in files {
            std::fs::write(dir.path().join(name), pem).unwrap();
        }
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    pub fn ca(&self) -> String {
        self.file("ca.crt")
    }

    pub fn cert(&self) -> String {
        self.file("tls.crt")
    }

    pub fn key(&self) -> String {
        self.file("tls.key")
    }
}

/// The IAM action that authorises an SDK call (`service:Operation` as the call recorder
/// writes it); `None` for calls that need no permission.
pub fn iam_action(call: &str) -> Option<&'static str> {
    Some(match call {
        "s3:GetBucketLocation" => "s3:GetBucketLocation",
        "s3:GetPublicAccessBlock" => "s3:GetBucketPublicAccessBlock",
        "s3:PutPublicAccessBlock" => "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketPolicy" => "s3:GetBucketPolicy",
        "s3:PutBucketPolicy" => "s3:PutBucketPolicy",
        "s3:GetBucketTagging" => "s3:GetBucketTagging",
        "s3:PutBucketTagging" => "s3:PutBucketTagging",
        "s3:GetBucketOwnershipControls" => "s3:GetBucketOwnershipControls",
        "s3:PutBucketOwnershipControls" => "s3:PutBucketOwnershipControls",
        "s3:CreateBucket" => "s3:CreateBucket",
        "s3:GetObject" => "s3:GetObject",
        "s3:PutObject" => "s3:PutObject",
        "s3:DeleteObject" => "s3:DeleteObject",
        "s3:DeleteBucket" => "s3:DeleteBucket",
        "s3:DeleteBucketPolicy" => "s3:DeleteBucketPolicy",
        "s3:DeleteBucketTagging" => "s3:PutBucketTagging",
        "s3:ListObjectsV2" => "s3:ListBucket",
        "iam:GetOpenIDConnectProvider" => "iam:GetOpenIDConnectProvider",
        "iam:CreateOpenIDConnectProvider" => "iam:CreateOpenIDConnectProvider",
        "iam:UpdateOpenIDConnectProviderThumbprint" => "iam:UpdateOpenIDConnectProviderThumbprint",
        "iam:TagOpenIDConnectProvider" => "iam:TagOpenIDConnectProvider",
        "iam:DeleteOpenIDConnectProvider" => "iam:DeleteOpenIDConnectProvider",
        "iam:GetRole" => "iam:GetRole",
        "iam:CreateRole" => "iam:CreateRole",
        "iam:DeleteRole" => "iam:DeleteRole",
        "iam:UpdateRole" => "iam:UpdateRole",
        "iam:UpdateAssumeRolePolicy" => "iam:UpdateAssumeRolePolicy",
        "iam:TagRole" => "iam:TagRole",
        "iam:ListAttachedRolePolicies" => "iam:ListAttachedRolePolicies",
        "iam:AttachRolePolicy" => "iam:AttachRolePolicy",
        "iam:DetachRolePolicy" => "iam:DetachRolePolicy",
        "iam:ListRolePolicies" => "iam:ListRolePolicies",
        "iam:ListRoles" => "iam:ListRoles",
        "iam:GetRolePolicy" => "iam:GetRolePolicy",
        "iam:PutRolePolicy" => "iam:PutRolePolicy",
        "iam:DeleteRolePolicy" => "iam:DeleteRolePolicy",
        "iam:PutRolePermissionsBoundary" => "iam:PutRolePermissionsBoundary",
        "sts:AssumeRole" => "sts:AssumeRole",
        "cloudfront:ListDistributions" => "cloudfront:ListDistributions",
        "cloudfront:ListOriginAccessControls" => "cloudfront:ListOriginAccessControls",
        "cloudfront:ListCachePolicies" => "cloudfront:ListCachePolicies",
        "cloudfront:ListTagsForResource" => "cloudfront:ListTagsForResource",
        "cloudfront:GetDistribution" => "cloudfront:GetDistribution",
        "cloudfront:GetDistributionConfig" => "cloudfront:GetDistributionConfig",
        // CreateDistributionWithTags needs CreateDistribution and TagResource.
        "cloudfront:CreateDistributionWithTags" => "cloudfront:CreateDistribution",
        "cloudfront:UpdateDistribution" => "cloudfront:UpdateDistribution",
        "cloudfront:DeleteDistribution" => "cloudfront:DeleteDistribution",
        "cloudfront:TagResource" => "cloudfront:TagResource",
        "cloudfront:CreateInvalidation" => "cloudfront:CreateInvalidation",
        "cloudfront:CreateOriginAccessControl" => "cloudfront:CreateOriginAccessControl",
        "cloudfront:GetOriginAccessControl" => "cloudfront:GetOriginAccessControl",
        "cloudfront:UpdateOriginAccessControl" => "cloudfront:UpdateOriginAccessControl",
        "cloudfront:DeleteOriginAccessControl" => "cloudfront:DeleteOriginAccessControl",
        "cloudfront:CreateCachePolicy" => "cloudfront:CreateCachePolicy",
        "cloudfront:GetCachePolicy" => "cloudfront:GetCachePolicy",
        "cloudfront:UpdateCachePolicy" => "cloudfront:UpdateCachePolicy",
        "cloudfront:DeleteCachePolicy" => "cloudfront:DeleteCachePolicy",
        // GetCallerIdentity needs no permission (AWS: "No permissions are required").
        "sts:GetCallerIdentity" => return None,
        other => panic!("no action known for {other}: add it to this table and to the policy"),
    })
}

/// The documents of a YAML stream as PyYAML reads them (an independent parser), as JSON.
pub fn yaml_documents(yaml: &str) -> Vec<serde_json::Value> {
    let mut child = Command::new(python())
        .args([
            "-c",
            "import json,sys,yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d is not None]))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "PyYAML refused: {yaml}");
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The kid kube-apiserver would compute for a PEM key file, as openssl derives it (an
/// independent implementation): base64url(SHA-256(DER SubjectPublicKeyInfo)). `pem` may hold a
/// public key or a private key.
pub fn openssl_kid(pem: &Path) -> String {
    let text = std::fs::read_to_string(pem).unwrap();
    let input = if text.contains("PRIVATE KEY") {
        ""
    } else {
        "-pubin"
    };
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl pkey {input} -in '{}' -pubout -outform DER | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\\n'",
            pem.display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Where moto's own recording of every request it served lands (scripts/test.sh turns it on).
fn moto_recording() -> PathBuf {
    PathBuf::from(std::env::var("IRSA_TEST_MOTO_RECORDING").expect(
        "IRSA_TEST_MOTO_RECORDING is not set: run the tests through scripts/test.sh, which records moto's requests",
    ))
}

/// A point in moto's recording, to look at the requests made after it.
pub struct MotoMark(usize);

impl Account {
    /// The access key these credentials sign with (moto's recording names it).
    pub fn access_key(&self) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == "AWS_ACCESS_KEY_ID")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    /// Now, in moto's recording.
    pub fn moto_mark(&self) -> MotoMark {
        let text = std::fs::read_to_string(moto_recording()).unwrap_or_default();
        MotoMark(text.lines().count())
    }

    /// The requests moto served for these credentials since `mark`, as moto saw them: IAM and
    /// STS as `service:Action` (from the form body), S3 as `s3:METHOD /path` (its REST API).
    /// Requests signed with credentials the binary assumed in other accounts are not these.
    pub fn moto_calls_since(&self, mark: &MotoMark) -> Vec<String> {
        use base64::Engine as _;
        let text = std::fs::read_to_string(moto_recording()).unwrap();
        let needle = format!("Credential={}/", self.access_key());
        let mut out = Vec::new();
        for line in text.lines().skip(mark.0) {
            let Ok(e) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let auth = e["headers"]["Authorization"].as_str().unwrap_or_default();
            if !auth.contains(&needle) {
                continue;
            }
            let service = auth.split('/').nth(3).unwrap_or("?").to_string();
            let body = match (e["body"].as_str(), e["body_encoded"].as_bool()) {
                (Some(b), Some(true)) => String::from_utf8_lossy(
                    &base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .unwrap_or_default(),
                )
                .into_owned(),
                (Some(b), _) => b.to_string(),
                _ => String::new(),
            };
            let action = body
                .split('&')
                .find_map(|kv| kv.strip_prefix("Action="))
                .map(str::to_string);
            let method = e["method"].as_str().unwrap_or("?");
            let path = e["url"]
                .as_str()
                .and_then(|u| u.splitn(4, '/').nth(3))
                .unwrap_or_default();
            out.push(match action {
                Some(a) if service != "s3" => format!("{service}:{a}"),
                _ => format!("{service}:{method} /{path}"),
            });
        }
        out
    }

    /// Asserts that moto saw no request that changes anything from these credentials since
    /// `mark`: no IAM/STS action but Get*/List*/AssumeRole/GetCallerIdentity, no S3 request but
    /// GET and HEAD. An observation of the server, beside the binary's own call recorder.
    pub fn assert_moto_unchanged_since(&self, mark: &MotoMark) {
        let calls = self.moto_calls_since(mark);
        assert!(
            !calls.is_empty(),
            "moto recorded no request at all: is the recording on?"
        );
        let changing: Vec<&String> = calls
            .iter()
            .filter(|c| {
                let (service, op) = c.split_once(':').unwrap();
                match service {
                    // The bucket lock runs take turns with is written by every changing run.
                    "s3" if op.contains("/.irsa-issuer/lock") => false,
                    "s3" => !(op.starts_with("GET ") || op.starts_with("HEAD ")),
                    _ => !(op.starts_with("Get") || op.starts_with("List") || op == "AssumeRole"),
                }
            })
            .collect();
        assert!(
            changing.is_empty(),
            "moto saw changing requests: {changing:?}"
        );
    }
}
