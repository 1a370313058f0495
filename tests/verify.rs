//! `verify` against a real HTTPS issuer (Python's http.server with a throwaway CA chain) and
//! moto's IAM: a healthy setup passes every check; each broken setup fails the right check
//! with the right message and exit code 1.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{sign_token, stderr, stdout, Account, Server, Tls};

const ISSUER: &str = "https://localhost/c1";
const AUD: &str = "sts.amazonaws.com";

struct Setup {
    acct: Account,
    dir: tempfile::TempDir,
    _server: Server,
    _tls: Tls,
    config: PathBuf,
    key_pem: Vec<u8>,
    kid: String,
}

impl Setup {
    fn site(&self, rel: &str) -> PathBuf {
        self.dir.path().join("site").join(rel)
    }

    fn token(&self, iss: &str, sub: &str, aud: &str, ttl: i64) -> PathBuf {
        let t = sign_token(
            &self.key_pem,
            jsonwebtoken::Algorithm::RS256,
            &self.kid,
            iss,
            sub,
            aud,
            ttl,
        );
        let path = self
            .dir
            .path()
            .join(format!("token-{}", rand::random::<u32>()));
        std::fs::write(&path, t).unwrap();
        path
    }

    fn good_token(&self) -> PathBuf {
        self.token(ISSUER, "system:serviceaccount:default:app", AUD, 600)
    }

    /// `verify -f` with a token; returns the exit code and the JSON report.
    fn verify(&self, token: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
        let mut args = vec![
            "verify",
            "-f",
            self.config.to_str().unwrap(),
            "--token",
            token.to_str().unwrap(),
            "--output",
            "json",
        ];
        args.extend(extra);
        let o = self.acct.run(&args);
        let v = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", stdout(&o), stderr(&o)));
        (o.status.code().unwrap_or(-1), v)
    }

    fn apply(&self) {
        let o = self
            .acct
            .run(&["apply", "-f", self.config.to_str().unwrap(), "--yes"]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    }
}

/// The one failed check named `name`; every other check must pass (or only warn).
fn only_failure<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let checks = report["checks"].as_array().unwrap();
    let failed: Vec<&serde_json::Value> = checks.iter().filter(|c| c["status"] == "fail").collect();
    assert!(
        failed.len() == 1 && failed[0]["name"] == name,
        "expected only {name} to fail, got {:#}",
        serde_json::Value::Array(failed.into_iter().cloned().collect())
    );
    assert_eq!(report["ok"], false);
    failed[0]
}

async fn setup() -> Setup {
    let acct = Account::new("us-east-1").await;
    let dir = tempfile::tempdir().unwrap();
    let tls = Tls::new();
    std::fs::create_dir_all(dir.path().join("site")).unwrap();
    let mut cmd = Command::new(common::python());
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/static_https.py"))
        .args([
            "--root",
            dir.path().join("site").to_str().unwrap(),
            "--prefix",
            "/c1",
        ])
        .args(["--cert", &tls.cert(), "--key", &tls.key()]);
    let server = Server::spawn(cmd);
    let config = dir.path().join("cluster.toml");
    std::fs::write(
        &config,
        format!(
            r#"issuer = "{ISSUER}"
target = "site"
[keys]
dir = "keys"
generate = true
algorithm = "RS256"
[provider]
thumbprints = ["auto"]
[tls]
ca_file = "{}"
connect_to = "{}"
[[roles]]
name = "app"
service_accounts = ["default/app"]
"#,
            tls.ca(),
            server.addr
        ),
    )
    .unwrap();
    let mut s = Setup {
        acct,
        dir,
        _server: server,
        _tls: tls,
        config,
        key_pem: Vec::new(),
        kid: String::new(),
    };
    s.apply();
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.dir.path().join("keys/keyset.json")).unwrap())
            .unwrap();
    s.kid = state["keys"][0]["kid"].as_str().unwrap().to_string();
    s.key_pem = std::fs::read(s.dir.path().join(format!("keys/private/{}.key", s.kid))).unwrap();
    s
}

/// Edits a served JSON document, runs `check`, and puts the original back.
fn with_edit(path: &Path, edit: impl FnOnce(&mut serde_json::Value), check: impl FnOnce()) {
    let original = std::fs::read(path).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&original).unwrap();
    edit(&mut v);
    std::fs::write(path, v.to_string()).unwrap();
    check();
    std::fs::write(path, original).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn healthy_setup_passes_and_each_broken_setup_fails_with_its_fix() {
    let s = setup().await;
    let iam = s.acct.iam().await;
    let arn = format!("arn:aws:iam::{}:oidc-provider/localhost/c1", s.acct.id);

    // Healthy: every check passes, exit 0.
    let (code, v) = s.verify(&s.good_token(), &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["ok"], true);
    let names: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for want in [
        "discovery reachable",
        "discovery issuer",
        "jwks_uri scheme",
        "JWKS reachable",
        "served keys = local keys",
        &format!("provider thumbprint ({})", s.acct.id),
        &format!("provider client IDs ({})", s.acct.id),
        &format!("role app ({})", s.acct.id),
        "token signature",
        "token iss",
        "token aud",
        "token exp/nbf",
        "token sub",
        "roles accepting the token",
    ] {
        assert!(names.contains(&want), "{want} not checked: {names:?}");
    }
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "ok"),
        "{v:#}"
    );
    // The roles that would accept the token are named by ARN, in their account.
    let accepting = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "roles accepting the token")
        .unwrap();
    assert_eq!(
        accepting["detail"],
        format!("arn:aws:iam::{}:role/irsa/app", s.acct.id),
        "{accepting}"
    );

    // 1. Trailing slash: kube-apiserver's issuer has one, so the tokens do.
    let (code, v) = s.verify(
        &s.token(
            &format!("{ISSUER}/"),
            "system:serviceaccount:default:app",
            AUD,
            600,
        ),
        &[],
    );
    assert_eq!(code, 1);
    let f = only_failure(&v, "token iss");
    assert!(
        f["detail"].as_str().unwrap().contains("trailing slash"),
        "{f}"
    );
    assert!(
        f["fix"]
            .as_str()
            .unwrap()
            .contains("--service-account-issuer=https://localhost/c1"),
        "{f}"
    );
    // ... and a trailing slash in the URL given to verify is itself a failure.
    let tls_args = {
        let text = std::fs::read_to_string(&s.config).unwrap();
        let ca = text
            .lines()
            .find_map(|l| l.strip_prefix("ca_file = "))
            .unwrap()
            .trim_matches('"')
            .to_string();
        let to = text
            .lines()
            .find_map(|l| l.strip_prefix("connect_to = "))
            .unwrap()
            .trim_matches('"')
            .to_string();
        (ca, to)
    };
    let o = s.acct.run(&[
        "verify",
        "--issuer",
        "https://localhost/c1/",
        "--skip-aws",
        "--ca-file",
        &tls_args.0,
        "--connect-to",
        &tls_args.1,
        "--output",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    only_failure(&v, "issuer URL");

    // 2. Issuer string mismatch in the discovery document.
    with_edit(
        &s.site(".well-known/openid-configuration"),
        |d| d["issuer"] = "https://localhost/c2".into(),
        || {
            let (code, v) = s.verify(&s.good_token(), &[]);
            assert_eq!(code, 1);
            let f = only_failure(&v, "discovery issuer");
            assert!(
                f["detail"]
                    .as_str()
                    .unwrap()
                    .contains("says https://localhost/c2, not https://localhost/c1"),
                "{f}"
            );
        },
    );

    // 3. Missing kid: a token from a key that is not published.
    let other = std::fs::read(common::fixture("rsa2048.key")).unwrap();
    let t = sign_token(
        &other,
        jsonwebtoken::Algorithm::RS256,
        "jDGcjm5gFm-v1Nu-CGasfo2dkV-wEJhXnJ520vlpD4Q",
        ISSUER,
        "system:serviceaccount:default:app",
        AUD,
        600,
    );
    let path = s.dir.path().join("other-token");
    std::fs::write(&path, t).unwrap();
    let (code, v) = s.verify(&path, &[]);
    assert_eq!(code, 1);
    let f = only_failure(&v, "token kid");
    assert!(
        f["detail"]
            .as_str()
            .unwrap()
            .contains("Couldn't retrieve verification key"),
        "{f}"
    );

    // 3b. The served kid, signed by another key: only the signature can tell.
    let t = sign_token(
        &other,
        jsonwebtoken::Algorithm::RS256,
        &s.kid,
        ISSUER,
        "system:serviceaccount:default:app",
        AUD,
        600,
    );
    let path = s.dir.path().join("forged-token");
    std::fs::write(&path, t).unwrap();
    let (code, v) = s.verify(&path, &[]);
    assert_eq!(code, 1, "{v:#}");
    let f = only_failure(&v, "token signature");
    assert!(
        f["detail"].as_str().unwrap().contains("does not verify"),
        "{f}"
    );

    // 4. JWKS on http.
    with_edit(
        &s.site(".well-known/openid-configuration"),
        |d| d["jwks_uri"] = "http://localhost/c1/openid/v1/jwks".into(),
        || {
            let (code, v) = s.verify(&s.good_token(), &["--skip-aws"]);
            assert_eq!(code, 1);
            let checks = v["checks"].as_array().unwrap();
            let f = checks
                .iter()
                .find(|c| c["name"] == "jwks_uri scheme")
                .unwrap();
            assert_eq!(f["status"], "fail");
            assert!(
                f["detail"]
                    .as_str()
                    .unwrap()
                    .contains("only fetches keys over https"),
                "{f}"
            );
        },
    );

    // 5. Stale thumbprint: the provider lists one the server no longer presents.
    iam.update_open_id_connect_provider_thumbprint()
        .open_id_connect_provider_arn(&arn)
        .thumbprint_list("cccccccccccccccccccccccccccccccccccccccc")
        .send()
        .await
        .unwrap();
    let (code, v) = s.verify(&s.good_token(), &[]);
    assert_eq!(code, 1);
    let f = only_failure(&v, &format!("provider thumbprint ({})", s.acct.id));
    assert!(
        f["detail"].as_str().unwrap().contains("presents now"),
        "{f}"
    );
    assert!(
        f["fix"].as_str().unwrap().contains("irsa-issuer apply -f"),
        "{f}"
    );
    s.apply();
    assert_eq!(
        s.verify(&s.good_token(), &[]).0,
        0,
        "apply repairs the thumbprint"
    );

    // 6. Expired token (beyond the 5 minutes of skew).
    let (code, v) = s.verify(
        &s.token(ISSUER, "system:serviceaccount:default:app", AUD, -400),
        &[],
    );
    assert_eq!(code, 1);
    let f = only_failure(&v, "token exp/nbf");
    assert!(f["detail"].as_str().unwrap().contains("expired"), "{f}");
    // Within the skew it still passes.
    assert_eq!(
        s.verify(
            &s.token(ISSUER, "system:serviceaccount:default:app", AUD, -200),
            &[]
        )
        .0,
        0
    );

    // 7. Wrong audience on the token.
    let (code, v) = s.verify(
        &s.token(
            ISSUER,
            "system:serviceaccount:default:app",
            "api.example.com",
            600,
        ),
        &[],
    );
    assert_eq!(code, 1);
    let checks = v["checks"].as_array().unwrap();
    let f = checks.iter().find(|c| c["name"] == "token aud").unwrap();
    assert_eq!(f["status"], "fail");
    assert!(
        f["detail"]
            .as_str()
            .unwrap()
            .contains("does not include sts.amazonaws.com"),
        "{f}"
    );

    // 8. Private key material in the JWKS.
    with_edit(
        &s.site("openid/v1/jwks"),
        |j| j["keys"][0]["d"] = "AQAB".into(),
        || {
            let (code, v) = s.verify(&s.good_token(), &["--skip-aws"]);
            assert_eq!(code, 1);
            let f = only_failure(&v, &format!("JWKS key {}", s.kid));
            assert!(f["detail"].as_str().unwrap().contains("PRIVATE"), "{f}");
        },
    );

    // 9. A service account no configured role trusts.
    let (code, v) = s.verify(
        &s.token(ISSUER, "system:serviceaccount:default:other", AUD, 600),
        &[],
    );
    assert_eq!(code, 1);
    only_failure(&v, "roles accepting the token");

    // 10. Served keys differ from the key directory (a staged key not yet published).
    let o = s.acct.run(&[
        "rotate",
        "stage",
        "--key-dir",
        s.dir.path().join("keys").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (code, v) = s.verify(&s.good_token(), &["--skip-aws"]);
    assert_eq!(code, 1);
    let f = only_failure(&v, "served keys = local keys");
    assert!(f["detail"].as_str().unwrap().contains("not served"), "{f}");
    s.apply();

    // 11. Missing client ID: the provider does not list the audience (recreated by hand).
    iam.delete_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    iam.create_open_id_connect_provider()
        .url(ISSUER)
        .client_id_list("some-other-audience")
        .thumbprint_list("cccccccccccccccccccccccccccccccccccccccc")
        .send()
        .await
        .unwrap();
    let (code, v) = s.verify(&s.good_token(), &[]);
    assert_eq!(code, 1);
    let checks = v["checks"].as_array().unwrap();
    let f = checks
        .iter()
        .find(|c| c["name"] == format!("provider client IDs ({})", s.acct.id).as_str())
        .unwrap();
    assert_eq!(f["status"], "fail");
    assert!(
        f["detail"]
            .as_str()
            .unwrap()
            .contains("Incorrect token audience"),
        "{f}"
    );

    // 12. No provider at all; and the text output shows FAIL with the fix.
    iam.delete_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    let o = s.acct.run(&["verify", "-f", s.config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains(&format!("FAIL  provider exists ({})", s.acct.id)),
        "{text}"
    );
    assert!(
        text.contains("      fix: run `irsa-issuer apply -f"),
        "{text}"
    );
    assert!(stderr(&o).contains("check(s) failed"), "{}", stderr(&o));
}

/// STS gives up on an issuer after about 5 s; verify waited 15 s, so a JWKS served in 6 s
/// passed although STS refuses every token. It is now checked against 5 s, and one served in
/// 2 s still passes.
#[tokio::test(flavor = "multi_thread")]
async fn a_jwks_slower_than_sts_waits_fails() {
    let s = setup().await;
    let delay = s.site("openid/v1/jwks.delay");
    std::fs::write(&delay, "2").unwrap();
    let (code, v) = s.verify(&s.good_token(), &[]);
    assert_eq!(code, 0, "2 s is within STS's limit: {v:#}");
    std::fs::write(&delay, "6").unwrap();
    let started = std::time::Instant::now();
    let (code, v) = s.verify(&s.good_token(), &["--skip-aws"]);
    assert_eq!(code, 1, "{v:#}");
    let f = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "JWKS reachable")
        .unwrap();
    assert_eq!(f["status"], "fail", "{f}");
    assert!(f["detail"].as_str().unwrap().contains("within 5 s"), "{f}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "verify waited for the whole answer"
    );
}

/// With a pinned thumbprint that no longer matches (a private CA), verify said "fix: run
/// irsa-issuer apply" and apply then said "No changes": a loop. The fix now says what is true:
/// add the presented one to provider.thumbprints, after which apply updates the provider and
/// verify passes.
#[tokio::test(flavor = "multi_thread")]
async fn a_pinned_stale_thumbprint_gets_a_fix_that_works() {
    let s = setup().await;
    let text = std::fs::read_to_string(&s.config).unwrap();
    let stale = "0".repeat(40);
    std::fs::write(
        &s.config,
        text.replace(
            "thumbprints = [\"auto\"]",
            &format!("thumbprints = [\"{stale}\"]"),
        ),
    )
    .unwrap();
    s.apply();
    let name = format!("provider thumbprint ({})", s.acct.id);
    let (code, v) = s.verify(&s.good_token(), &[]);
    assert_eq!(code, 1, "{v:#}");
    let f = only_failure(&v, &name);
    let fix = f["fix"].as_str().unwrap();
    assert!(
        fix.contains("the file pins provider.thumbprints: add"),
        "{f}"
    );
    // The presented thumbprint, as the fix names it, added to the file: apply, then verify.
    let presented = fix
        .split_whitespace()
        .find(|w| w.len() == 40 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap()
        .to_string();
    std::fs::write(
        &s.config,
        text.replace(
            "thumbprints = [\"auto\"]",
            &format!("thumbprints = [\"{stale}\", \"{presented}\"]"),
        ),
    )
    .unwrap();
    let o = s
        .acct
        .run(&["apply", "-f", s.config.to_str().unwrap(), "--plan"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "the fix must lead to a change: {}",
        stdout(&o)
    );
    s.apply();
    let (code, v) = s.verify(&s.good_token(), &[]);
    assert_eq!(code, 0, "{v:#}");
}
