//! The bad-input corpus: one table of wrong inputs a new user would plausibly give, across key
//! files, issuer URLs, bucket names, thumbprints, client IDs, tags, role names, service accounts,
//! durations, ARNs, inline policies and configuration files. Every case must exit 1 (64 for a
//! command line that does not parse) with an `error:` line that names the problem and says what
//! to do (the `must` fragments), never panic, and make no AWS call: the binary runs with moto
//! credentials but its SDK reaches moto only through tests/py/aws_proxy.py, whose request count
//! must not move. The issuer limit of 255 characters is checked wherever an issuer is given.

mod common;
use common::aws_proxy::AwsProxy;
use common::*;

use std::path::{Path, PathBuf};

struct Case {
    name: String,
    args: Vec<String>,
    /// 1 (bad input) or 64 (the command line does not parse).
    code: i32,
    /// Fragments the message must hold: the problem, then the fix.
    must: Vec<String>,
}

fn case(name: &str, args: &[&str], code: i32, must: &[&str]) -> Case {
    Case {
        name: name.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        code,
        must: must.iter().map(|s| s.to_string()).collect(),
    }
}

const ISSUER: &str = "https://oidc.example.com/c1";
const PRINT: &str = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";

/// The files the cases point at, in a temp dir.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let f = Self { dir };
        let rsa = std::fs::read_to_string(fixture("rsa2048.pub")).unwrap();
        let big = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{}", "a".repeat(12_000))}]});
        let ok_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let files: Vec<(&str, Vec<u8>)> = vec![
            ("empty.pem", Vec::new()),
            ("notes.txt", b"my signing key is in the vault\n".to_vec()),
            (
                "ssh.pub",
                b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq5 user@host\n".to_vec(),
            ),
            ("truncated.pem", rsa.as_bytes()[..200].to_vec()),
            (
                "garbage.pem",
                b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".to_vec(),
            ),
            (
                "csr.pem",
                b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
                    .to_vec(),
            ),
            ("notjson.json", b"Version: 2012-10-17\n".to_vec()),
            (
                "noversion.json",
                br#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#
                    .to_vec(),
            ),
            ("nostatement.json", br#"{"Version":"2012-10-17"}"#.to_vec()),
            ("array.json", b"[]".to_vec()),
            ("big.json", big.to_string().into_bytes()),
            ("ok.json", ok_policy.as_bytes().to_vec()),
            ("binary.toml", vec![0xff, 0xfe, 0x00, 0x41]),
        ];
        for (name, body) in files {
            std::fs::write(f.path(name), body).unwrap();
        }
        f
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// A configuration file `name` holding `body` after a valid start (S3 target, keys).
    fn config(&self, name: &str, body: &str) -> String {
        let text = format!(
            "target = \"s3://irsa-bad-input/c1\"\n[aws]\nregion = \"us-east-1\"\n[keys]\ndir = \"keys\"\ngenerate = true\n{body}"
        );
        std::fs::write(self.path(name), text).unwrap();
        self.p(name)
    }

    fn raw_config(&self, name: &str, text: &str) -> String {
        std::fs::write(self.path(name), text).unwrap();
        self.p(name)
    }
}

fn cases(f: &Files) -> Vec<Case> {
    let key = fixture("rsa2048.pub").display().to_string();
    let k = key.as_str();
    let long = format!("https://oidc.example.com/{}", "a".repeat(300));
    let l = long.as_str();
    let over = format!("https://oidc.example.com/{}", "b".repeat(256 - 25));
    assert_eq!(over.len(), 256);
    let kd = f.p("keydir");
    let site = f.p("site");
    let fx = |n: &str| fixture(n).display().to_string();
    let (der, enc8, encl, ed, dsa, r1024, k1, params) = (
        fx("ec-p256.der"),
        fx("encrypted-pkcs8.key"),
        fx("encrypted-legacy.key"),
        fx("ed25519.key"),
        fx("dsa.key"),
        fx("rsa1024.key"),
        fx("ec-secp256k1.key"),
        fx("ec-params-only.pem"),
    );
    let role = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "role",
            "apply",
            "--name",
            "app",
            "--issuer",
            ISSUER,
            "--service-account",
            "default/app",
            "--plan",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let provider = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "provider",
            "apply",
            "--issuer",
            ISSUER,
            "--thumbprint",
            PRINT,
            "--plan",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let with = |name: &str, args: Vec<String>, code: i32, must: &[&str]| Case {
        name: name.into(),
        args,
        code,
        must: must.iter().map(|s| s.to_string()).collect(),
    };
    let too_long = ["characters long", "255", "use a shorter host or path"];
    let long_cfg = f.raw_config(
        "long-issuer.toml",
        &format!(
            "issuer = \"{long}\"\ntarget = \"{site}\"\n[keys]\ndir = \"keys\"\ngenerate = true\n"
        ),
    );
    let thumbs: Vec<String> = "abcdef".chars().map(|c| c.to_string().repeat(40)).collect();
    let mut six = vec![];
    for t in &thumbs {
        six.push("--thumbprint");
        six.push(t.as_str());
    }
    let mut six_args: Vec<String> = ["provider", "apply", "--issuer", ISSUER, "--plan"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    six_args.extend(six.iter().map(|s| s.to_string()));
    let long_client = "a".repeat(256);
    let long_tag_key = format!("{}=v", "k".repeat(129));
    let long_tag_value = format!("k={}", "v".repeat(257));
    let long_role = "r".repeat(65);

    vec![
        // Key files: every form --key accepts, broken.
        case("empty key file", &["jwks", "--key", &f.p("empty.pem")], 1, &["is empty", "keys generate"]),
        case("text file as key", &["jwks", "--key", &f.p("notes.txt")], 1, &["is not PEM", "-----BEGIN"]),
        case("DER key", &["jwks", "--key", &der], 1, &["looks like DER", "openssl pkey -inform DER"]),
        case("OpenSSH public key", &["jwks", "--key", &f.p("ssh.pub")], 1, &["OpenSSH public key", "ssh-keygen -e -m PKCS8"]),
        case("truncated PEM", &["jwks", "--key", &f.p("truncated.pem")], 1, &["without its matching -----END", "copied whole"]),
        case("garbage in a PEM block", &["jwks", "--key", &f.p("garbage.pem")], 1, &["not a SubjectPublicKeyInfo", "openssl pkey -in FILE -noout -text"]),
        case("encrypted PKCS#8 key", &["jwks", "--key", &enc8], 1, &["encrypted", "openssl pkey -in KEY -pubout"]),
        case("encrypted legacy key", &["jwks", "--key", &encl], 1, &["encrypted", "openssl pkey -in KEY -out sa.key"]),
        case("Ed25519 key", &["jwks", "--key", &ed], 1, &["Ed25519 keys are not supported", "use RSA"]),
        case("DSA key", &["jwks", "--key", &dsa], 1, &["DSA keys are not supported", "use RSA"]),
        case("RSA 1024 key", &["jwks", "--key", &r1024], 1, &["1024 bits is too small", "keys generate"]),
        case("secp256k1 key", &["jwks", "--key", &k1], 1, &["secp256k1 is not supported", "P-256"]),
        case("CSR as key", &["jwks", "--key", &f.p("csr.pem")], 1, &["CERTIFICATE REQUEST", "give the key or the signed certificate"]),
        case("EC parameters only", &["jwks", "--key", &params], 1, &["holds no key", "add the key itself"]),
        case("missing key file", &["discovery", "--issuer", ISSUER, "--key", &f.p("nope.pem")], 1, &["cannot read key file", "give the path of a PEM key file"]),
        case("directory as key", &["keys", "kid", &f.p("")], 1, &["cannot read", &f.p("")]),
        // Issuer URLs.
        case("http issuer", &["discovery", "--issuer", "http://oidc.example.com", "--key", k], 1, &["uses `http`", "use an https URL"]),
        case("trailing slash", &["discovery", "--issuer", "https://oidc.example.com/c1/", "--key", k], 1, &["ends with '/'", "write it as `https://oidc.example.com/c1`"]),
        case("query string", &["discovery", "--issuer", "https://oidc.example.com/c1?x=1", "--key", k], 1, &["has a query string", "remove it"]),
        case("fragment", &["discovery", "--issuer", "https://oidc.example.com/c1#a", "--key", k], 1, &["has a fragment", "remove it"]),
        case("userinfo", &["discovery", "--issuer", "https://u:p@oidc.example.com", "--key", k], 1, &["user information", "remove it"]),
        case("not a URL", &["discovery", "--issuer", "oidc.example.com", "--key", k], 1, &["is not a URL", "give an absolute https URL"]),
        case("wildcard in issuer", &["discovery", "--issuer", "https://oidc.example.com/a*b", "--key", k], 1, &["contains `*`", "remove it"]),
        case("non-canonical issuer", &["discovery", "--issuer", "https://OIDC.example.com", "--key", k], 1, &["not in canonical form", "write it as `https://oidc.example.com`"]),
        case("issuer of 256 characters", &["discovery", "--issuer", &over, "--key", k], 1, &["is 256 characters long", "use a shorter host or path"]),
        // The 255-character limit, wherever an issuer is given.
        case("long issuer: discovery", &["discovery", "--issuer", l, "--key", k], 1, &too_long),
        case("long issuer: publish", &["publish", "--issuer", l, "--key", k, "--to", &site], 1, &too_long),
        case("long issuer: publish to S3", &["publish", "--issuer", l, "--key", k, "--to", "s3://irsa-bad-input/c1"], 1, &too_long),
        case("long issuer: serve", &["serve", "--issuer", l, "--key", k, "--listen", "127.0.0.1:0"], 1, &too_long),
        case("long issuer: provider apply", &["provider", "apply", "--issuer", l, "--thumbprint", PRINT], 1, &too_long),
        case("long issuer: provider show", &["provider", "show", "--issuer", l], 1, &too_long),
        case("long issuer: provider delete", &["provider", "delete", "--issuer", l], 1, &too_long),
        case("long issuer: role apply", &["role", "apply", "--name", "app", "--issuer", l, "--service-account", "default/app"], 1, &too_long),
        case("long issuer: role delete", &["role", "delete", "--name", "app", "--issuer", l], 1, &too_long),
        case("long issuer: trust-policy", &["trust-policy", "--issuer", l, "--service-account", "default/app", "--account", "123456789012"], 1, &too_long),
        case("long issuer: apply -f", &["apply", "-f", &long_cfg, "--plan"], 1, &too_long),
        case("long issuer: destroy -f", &["destroy", "-f", &long_cfg, "--plan"], 1, &too_long),
        case("long issuer: verify -f", &["verify", "-f", &long_cfg, "--skip-aws"], 1, &too_long),
        case("long issuer: verify --issuer", &["verify", "--issuer", l, "--skip-aws"], 1, &too_long),
        case("long issuer: thumbprint", &["thumbprint", l], 1, &too_long),
        case("long issuer: rotate stage", &["rotate", "stage", "--key-dir", &kd, "--issuer", l, "--to", &site], 1, &too_long),
        case("long issuer: apiserver-flags", &["apiserver-flags", "--key-dir", &kd, "--issuer", l], 1, &too_long),
        case("long previous issuer: apiserver-flags", &["apiserver-flags", "--key-dir", &kd, "--issuer", ISSUER, "--previous-issuer", l], 1, &too_long),
        case("long issuer: rotate promote", &["rotate", "promote", "--key-dir", &kd, "--issuer", l], 1, &too_long),
        // Bucket names.
        case("uppercase bucket", &["publish", "--issuer", ISSUER, "--key", k, "--to", "s3://Upper-Bucket/c1"], 1, &["`Upper-Bucket` is not a valid S3 bucket name", "only lowercase letters"]),
        case("underscore bucket", &["publish", "--issuer", ISSUER, "--key", k, "--to", "s3://under_score/c1"], 1, &["`under_score` is not a valid S3 bucket name", "only lowercase letters"]),
        case("short bucket", &["publish", "--issuer", ISSUER, "--key", k, "--to", "s3://ab/c1"], 1, &["`ab` is not a valid S3 bucket name", "3 to 63 characters"]),
        case("IP-address bucket", &["publish", "--issuer", ISSUER, "--key", k, "--to", "s3://192.168.1.1/c1"], 1, &["`192.168.1.1`", "formatted as an IP address"]),
        case("reserved bucket prefix", &["publish", "--issuer", ISSUER, "--key", k, "--to", "s3://xn--abc/c1"], 1, &["`xn--abc`", "may not start with xn--"]),
        case("bucket in the file", &["apply", "-f", &f.raw_config("bucket.toml", "target = \"s3://Bad_Bucket/c1\"\n[keys]\ndir = \"keys\"\ngenerate = true\n"), "--plan"], 1, &[":1: target", "`Bad_Bucket` is not a valid S3 bucket name"]),
        // Thumbprints.
        case("short thumbprint", &["provider", "apply", "--issuer", ISSUER, "--thumbprint", "abc", "--plan"], 1, &["`abc` is not a certificate thumbprint", "irsa-issuer thumbprint URL"]),
        case("non-hex thumbprint", &["provider", "apply", "--issuer", ISSUER, "--thumbprint", &"z".repeat(40), "--plan"], 1, &["is not a certificate thumbprint", "40 hexadecimal digits"]),
        with("six thumbprints", six_args, 1, &["at most 5 thumbprints, not 6", "keep the one of the JWKS host's current chain"]),
        case("thumbprint in the file", &["apply", "-f", &f.config("thumb.toml", "[provider]\nthumbprints = [\"xyz\"]\n"), "--plan"], 1, &[":8: provider.thumbprints", "`xyz` is not a certificate thumbprint"]),
        // Client IDs.
        with("empty client ID", provider(&["--client-id", ""]), 1, &["client ID `` must be 1 to 255 characters", "sts.amazonaws.com"]),
        with("client ID of 256 characters", provider(&["--client-id", &long_client]), 1, &["must be 1 to 255 characters", "give the audience the tokens carry"]),
        case("empty client ID in the file", &["apply", "-f", &f.config("client.toml", "[provider]\nclient_ids = [\"\"]\n"), "--plan"], 1, &[":8: provider.client_ids", "1 to 255 characters"]),
        // Tags.
        with("tag without =", provider(&["--tag", "cluster"]), 64, &["`cluster` is not KEY=VALUE"]),
        with("aws: tag", provider(&["--tag", "aws:x=y"]), 1, &["tag `aws:x=y`", "reserved by AWS", "use a key of 1 to 128"]),
        with("tag key of 129", provider(&["--tag", &long_tag_key]), 1, &["129 characters long", "use a key of 1 to 128"]),
        with("tag value of 257", provider(&["--tag", &long_tag_value]), 1, &["257 characters long", "a value of at most 256"]),
        with("managed-by tag on a provider", provider(&["--tag", "managed-by=terraform"]), 1, &["managed-by is irsa-issuer's own tag", "not starting with aws:, managed-by"]),
        with("managed-by tag on a role", role(&["--tag", "managed-by=terraform"]), 1, &["managed-by is irsa-issuer's own tag"]),
        with("owner tag on a role", role(&["--tag", "irsa-issuer/issuer=https://x"]), 1, &["irsa-issuer/issuer is irsa-issuer's own tag"]),
        case("aws: tag in the file", &["apply", "-f", &f.config("tag.toml", "[tags]\n\"aws:x\" = \"y\"\n"), "--plan"], 1, &["tags.aws:x", "may not start with aws:"]),
        case("managed-by tag in the file", &["apply", "-f", &f.config("tag2.toml", "[tags]\n\"managed-by\" = \"me\"\n"), "--plan"], 1, &["tags.managed-by", "irsa-issuer's ownership tag"]),
        // Role names and paths.
        case("wildcard role name", &["role", "apply", "--name", "a*b", "--issuer", ISSUER, "--service-account", "default/app", "--plan"], 1, &["`a*b` is not a valid role name", "`*` is not allowed", "1-64 letters"]),
        case("role name of 65", &["role", "apply", "--name", &long_role, "--issuer", ISSUER, "--service-account", "default/app", "--plan"], 1, &["is 65 characters long", "1-64 letters"]),
        case("empty role name", &["role", "apply", "--name", "", "--issuer", ISSUER, "--service-account", "default/app", "--plan"], 1, &["`` is not a valid role name", "1-64 letters"]),
        case("role name in the file", &["apply", "-f", &f.config("rname.toml", "[[roles]]\nname = \"a b\"\nservice_accounts = [\"default/app\"]\n"), "--plan"], 1, &[":8: roles[0].name", "1-64 letters"]),
        with("role path without slashes", role(&["--path", "irsa"]), 1, &["`irsa` is not an IAM path", "e.g. /irsa/"]),
        // Service accounts.
        case("service account without namespace", &["role", "apply", "--name", "app", "--issuer", ISSUER, "--service-account", "default", "--plan"], 1, &["`default` is not a service account", "write it as NAMESPACE/NAME"]),
        case("uppercase service account", &["role", "apply", "--name", "app", "--issuer", ISSUER, "--service-account", "Default/App", "--plan"], 1, &["the namespace must be 1-63 lowercase", "write it as NAMESPACE/NAME"]),
        case("service account without name", &["role", "apply", "--name", "app", "--issuer", ISSUER, "--service-account", "ns/", "--plan"], 1, &["the name must be 1-253", "write it as NAMESPACE/NAME"]),
        case("service account with two slashes", &["trust-policy", "--issuer", ISSUER, "--service-account", "a/b/c", "--account", "123456789012"], 1, &["`a/b/c` is not a service account", "write it as NAMESPACE/NAME"]),
        case("service account in the file", &["apply", "-f", &f.config("sa.toml", "[[roles]]\nname = \"app\"\nservice_accounts = [\"Default/App\"]\n"), "--plan"], 1, &[":9: roles[0].service_accounts", "write it as NAMESPACE/NAME"]),
        // Session durations and token lifetimes.
        with("session of 10 s", role(&["--max-session-duration", "10"]), 1, &["--max-session-duration 10", "3600 to 43200"]),
        with("session of 50000 s", role(&["--max-session-duration", "50000"]), 1, &["--max-session-duration 50000", "3600 to 43200"]),
        with("session not a number", role(&["--max-session-duration", "1h"]), 64, &["invalid value '1h' for '--max-session-duration"]),
        case("session in the file", &["apply", "-f", &f.config("sess.toml", "[[roles]]\nname = \"app\"\nservice_accounts = [\"default/app\"]\nmax_session_duration = 10\n"), "--plan"], 1, &[":10: roles[0].max_session_duration", "3600 to 43200"]),
        with("token expiration of 100 s", role(&["--token-expiration", "100"]), 1, &["token expiration of 100 s", "use 600 to 86400"]),
        with("max token age overflowing", role(&["--max-token-age", "99999999999999999d"]), 64, &["too long a duration", "use e.g. 90s"]),
        with("max token age not a duration", role(&["--max-token-age", "5x"]), 64, &["`5x` is not a duration", "use e.g. 90s"]),
        case("max token age in the file", &["apply", "-f", &f.config("age.toml", "[rotation]\nmax_token_age = \"99999999999999999d\"\n"), "--plan"], 1, &[":8: rotation.max_token_age", "too long a duration"]),
        // ARNs.
        with("policy ARN with a short account", role(&["--policy-arn", "arn:aws:iam::123:policy/x"]), 1, &["`arn:aws:iam::123:policy/x` is not a managed policy ARN", "the account must be 12 digits", "arn:aws:iam::123456789012:policy/NAME"]),
        with("policy ARN that is no ARN", role(&["--policy-arn", "ReadOnlyAccess"]), 1, &["`ReadOnlyAccess` is not a managed policy ARN", "arn:aws:iam::aws:policy/NAME"]),
        with("role ARN as policy ARN", role(&["--policy-arn", "arn:aws:iam::123456789012:role/x"]), 1, &["is not a managed policy ARN", "TYPE role or policy"]),
        with("permissions boundary", role(&["--permissions-boundary", "boundary"]), 1, &["`boundary` is not a managed policy ARN", "arn:aws:iam::123456789012:policy/NAME"]),
        with("assume-role of a user", role(&["--assume-role", "arn:aws:iam::123456789012:user/bob"]), 1, &["is not an IAM role ARN", "arn:aws:iam::123456789012:role/NAME"]),
        with("external ID without a role", role(&["--external-id", "abc"]), 1, &["--external-id is given without --assume-role", "add --assume-role"]),
        with("external ID of one character", role(&["--assume-role", "arn:aws:iam::123456789012:role/x", "--external-id", "x"]), 1, &["--external-id `x`", "2 to 1224"]),
        case("account ID of 3 digits", &["trust-policy", "--issuer", ISSUER, "--service-account", "default/app", "--account", "123"], 1, &["`123` is not an AWS account ID", "12 digits"]),
        case("policy ARN in the file", &["apply", "-f", &f.config("parn.toml", "[[roles]]\nname = \"app\"\nservice_accounts = [\"default/app\"]\npolicy_arns = [\"arn:aws:iam::12:policy/x\"]\n"), "--plan"], 1, &[":10: roles[0].policy_arns", "arn:aws:iam::123456789012:policy/NAME"]),
        case("boundary in the file", &["apply", "-f", &f.config("pb.toml", "[[roles]]\nname = \"app\"\nservice_accounts = [\"default/app\"]\npermissions_boundary = \"foo\"\n"), "--plan"], 1, &[":10: roles[0].permissions_boundary", "arn:aws:iam::123456789012:policy/NAME"]),
        case("assume_role of a user in the file", &["apply", "-f", &f.config("acct.toml", "[[accounts]]\nassume_role = \"arn:aws:iam::123456789012:user/x\"\n"), "--plan"], 1, &[":8: accounts[0].assume_role", "arn:aws:iam::123456789012:role/NAME"]),
        // Inline policies.
        with("inline policy without =", role(&["--inline-policy", "s3read"]), 64, &["`s3read` is not KEY=VALUE"]),
        with("inline policy file missing", role(&["--inline-policy", &format!("p={}", f.p("missing.json"))]), 1, &["cannot read inline policy p", "missing.json"]),
        with("inline policy not JSON", role(&["--inline-policy", &format!("p={}", f.p("notjson.json"))]), 1, &["inline policy p", "is not JSON"]),
        with("inline policy without Version", role(&["--inline-policy", &format!("p={}", f.p("noversion.json"))]), 1, &["inline policy p: it has no Version", "\"Version\": \"2012-10-17\""]),
        with("inline policy without Statement", role(&["--inline-policy", &format!("p={}", f.p("nostatement.json"))]), 1, &["inline policy p: it has no Statement", "write an IAM policy document"]),
        with("inline policy that is an array", role(&["--inline-policy", &format!("p={}", f.p("array.json"))]), 1, &["not a JSON object", "write an IAM policy document"]),
        with("inline policy too large", role(&["--inline-policy", &format!("p={}", f.p("big.json"))]), 1, &["more than the 10240 IAM allows", "managed policy"]),
        with("inline policy name with a space", role(&["--inline-policy", &format!("a b={}", f.p("ok.json"))]), 1, &["`a b` is not a valid inline policy name", "1-128 letters"]),
        case("inline policy not JSON in the file", &["apply", "-f", &f.config("inl.toml", &format!("[[roles]]\nname = \"app\"\nservice_accounts = [\"default/app\"]\ninline_policies = {{ p = \"{}\" }}\n", f.p("notjson.json"))), "--plan"], 1, &["inline policy p", "is not JSON"]),
        case("inline policy without Version in the file", &["apply", "-f", &f.config("inl2.toml", &format!("[[roles]]\nname = \"app\"\nservice_accounts = [\"default/app\"]\ninline_policies = {{ p = \"{}\" }}\n", f.p("noversion.json"))), "--plan"], 1, &["it has no Version", "2012-10-17"]),
        // Configuration files.
        case("config missing", &["apply", "-f", &f.p("nope.toml"), "--plan"], 1, &["cannot read the configuration", "irsa-issuer init -f"]),
        case("config not UTF-8", &["apply", "-f", &f.p("binary.toml"), "--plan"], 1, &["is not UTF-8 text", "write it as TOML"]),
        case("config not TOML", &["apply", "-f", &f.raw_config("prose.toml", "this is not toml\n"), "--plan"], 1, &["prose.toml:1", "expected `=`"]),
        case("config empty", &["apply", "-f", &f.raw_config("empty.toml", ""), "--plan"], 1, &["target: missing", "set target = \"s3://BUCKET/PREFIX\""]),
        case("config unknown field", &["apply", "-f", &f.config("unknown.toml", "bogus = 1\n"), "--plan"], 1, &[":7: keys.bogus: unknown field `bogus`", "check the spelling"]),
        case("config unknown table", &["apply", "-f", &f.config("table.toml", "[providers]\nthumbprints = []\n"), "--plan"], 1, &["unknown field `providers`", "check the spelling"]),
        case("config wrong type", &["apply", "-f", &f.raw_config("type.toml", "target = \"s3://irsa-bad-input/c1\"\n[keys]\ndir = \"keys\"\ngenerate = \"yes\"\n"), "--plan"], 1, &[":4: keys.generate", "expected a boolean"]),
        case("config role twice", &["apply", "-f", &f.config("twice.toml", "[[roles]]\nname = \"app\"\nservice_accounts = [\"default/app\"]\n[[roles]]\nname = \"app\"\nservice_accounts = [\"default/web\"]\n"), "--plan"], 1, &["role app is listed twice"]),
        case("config http issuer", &["verify", "-f", &f.raw_config("http.toml", &format!("issuer = \"http://oidc.example.com\"\ntarget = \"{site}\"\n[keys]\ndir = \"keys\"\ngenerate = true\n")), "--skip-aws"], 1, &[":1: issuer", "use an https URL"]),
        case("config override variable", &["apply", "-f", &f.config("env.toml", ""), "--plan"], 1, &["IRSA_ISSUER_TARGET", "`Bad_Bucket` is not a valid S3 bucket name"]),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_input_fails_with_what_and_how_to_fix_and_no_aws_call() {
    let acct = Account::new("us-east-1").await;
    let logs = tempfile::tempdir().unwrap();
    let proxy = AwsProxy::start(&logs.path().join("proxy.log"));
    let files = Files::new();
    std::fs::create_dir_all(files.path("site")).unwrap();
    let cases = cases(&files);
    assert!(cases.len() >= 60, "{} cases", cases.len());

    // The same environment works for a good input (so that the failures below are the input's):
    // an issuer of exactly 255 characters is accepted.
    let at_limit = format!("https://oidc.example.com/{}", "a".repeat(255 - 25));
    let o = run_case(
        &acct,
        &proxy,
        files.dir.path(),
        &[
            "discovery",
            "--issuer",
            &at_limit,
            "--key",
            fixture("rsa2048.pub").to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "a 255-character issuer: {}", stderr(&o));
    // And the proxy does see the AWS calls of a command that makes them.
    let before = proxy.requests();
    let o = run_case(
        &acct,
        &proxy,
        files.dir.path(),
        &["provider", "show", "--issuer", ISSUER],
    );
    assert!(
        proxy.requests() > before,
        "provider show made no call through the proxy: {}",
        stderr(&o)
    );

    let mut failures = Vec::new();
    for c in &cases {
        let before = proxy.requests();
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let o = run_case(&acct, &proxy, files.dir.path(), &args);
        let calls = proxy.requests() - before;
        let err = stderr(&o);
        let mut problems = Vec::new();
        if o.status.code() != Some(c.code) {
            problems.push(format!("exit {:?}, expected {}", o.status.code(), c.code));
        }
        if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
            problems.push("panicked".into());
        }
        if !err.starts_with("error: ") {
            problems.push("stderr does not start with `error: `".into());
        }
        for m in &c.must {
            if !err.contains(m.as_str()) {
                problems.push(format!("no `{m}`"));
            }
        }
        if calls != 0 {
            problems.push(format!("{calls} AWS call(s) made"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n    args: {:?}\n    stderr: {}",
                c.name,
                problems.join("; "),
                c.args,
                err.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs failed the bar:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Runs the binary in `dir` with moto credentials, its SDK pointed at the proxy.
fn run_case(acct: &Account, proxy: &AwsProxy, dir: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = acct.command(bin());
    cmd.env("AWS_ENDPOINT_URL", &proxy.url)
        .current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::null());
    if args.iter().any(|a| a.ends_with("env.toml")) {
        cmd.env("IRSA_ISSUER_TARGET", "s3://Bad_Bucket/c1");
    }
    cmd.output().expect("run irsa-issuer")
}

/// `apiserver-flags --previous-issuer` was accepted and silently dropped: it is printed now, as
/// a second --service-account-issuer, and checked like the issuer (the case above).
#[test]
fn previous_issuer_is_printed_after_the_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let kd = dir.path().join("keys").display().to_string();
    let o = run(&["rotate", "init", "--key-dir", &kd]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        "apiserver-flags",
        "--key-dir",
        &kd,
        "--issuer",
        ISSUER,
        "--previous-issuer",
        "https://old.example.com/c1",
        "--format",
        "flags",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let issuers: Vec<String> = stdout(&o)
        .lines()
        .filter(|l| l.starts_with("--service-account-issuer="))
        .map(str::to_string)
        .collect();
    assert_eq!(
        issuers,
        [
            format!("--service-account-issuer={ISSUER}"),
            "--service-account-issuer=https://old.example.com/c1".to_string()
        ]
    );
}
