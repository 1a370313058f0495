//! S3 publishing and the IAM OIDC provider against moto's server (started by scripts/test.sh).
//!
//! Known moto gaps, tested elsewhere instead:
//! - an unauthenticated GET of a path ending in `.well-known/openid-configuration` reaches
//!   moto's Cognito emulation, not S3: objects are read back through the SDK here;
//! - AddClientIDToOpenIDConnectProvider / RemoveClientIDFromOpenIDConnectProvider are not
//!   implemented by moto: tests/py/moto_server.py adds them, as the IAM API reference describes;
//! - ACLs, Block Public Access and bucket policies are stored, not enforced: the tests check
//!   what is stored.

mod common;
use common::*;

use serde_json::Value;

fn json(o: &std::process::Output) -> Value {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        stderr(o)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn k(name: &str) -> String {
    fixture(name).display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_creates_the_bucket_and_a_second_run_makes_no_mutating_call() {
    let acct = Account::new("eu-west-1").await;
    let bucket = bucket_name("pub");
    let to = format!("s3://{bucket}/clusters/c1");
    let args = [
        "publish",
        "--to",
        &to,
        "--key",
        &k("rsa2048.pub"),
        "--key",
        &k("ec-p256.pub"),
        "--create-bucket",
        "--tag",
        "team=platform",
        "--output",
        "json",
    ];
    let first = json(&acct.run(&args));
    let issuer = format!("https://s3.eu-west-1.amazonaws.com/{bucket}/clusters/c1");
    assert_eq!(first["issuer"], issuer.as_str());
    let muts = mutating_calls(&first);
    for op in [
        "s3:CreateBucket",
        "s3:PutBucketTagging",
        "s3:PutPublicAccessBlock",
        "s3:PutBucketPolicy",
    ] {
        assert!(muts.contains(&op.to_string()), "{op} missing from {muts:?}");
    }
    // The JWKS is written before the discovery document.
    let puts: Vec<&String> = muts.iter().filter(|c| *c == "s3:PutObject").collect();
    assert_eq!(puts.len(), 2);
    assert_eq!(
        first["result"]["written"],
        serde_json::json!([
            "clusters/c1/openid/v1/jwks",
            "clusters/c1/.well-known/openid-configuration"
        ])
    );

    // Read back through the SDK (see the module comment for why not over plain HTTP).
    let s3 = acct.s3().await;
    let obj = s3
        .get_object()
        .bucket(&bucket)
        .key("clusters/c1/.well-known/openid-configuration")
        .send()
        .await
        .unwrap();
    assert_eq!(obj.content_type(), Some("application/json"));
    assert_eq!(obj.cache_control(), Some("public, max-age=300"));
    let disc: Value =
        serde_json::from_slice(&obj.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(disc["issuer"], issuer.as_str());
    assert_eq!(disc["jwks_uri"], format!("{issuer}/openid/v1/jwks"));
    let jwks = s3
        .get_object()
        .bucket(&bucket)
        .key("clusters/c1/openid/v1/jwks")
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.content_type(), Some("application/json"));
    let printed = run(&[
        "jwks",
        "--key",
        &k("rsa2048.pub"),
        "--key",
        &k("ec-p256.pub"),
    ]);
    assert_eq!(
        jwks.body.collect().await.unwrap().into_bytes().to_vec(),
        printed.stdout.trim_ascii_end()
    );

    // Exactly the two documents are public; ACL blocks stay on.
    let policy: Value = serde_json::from_str(
        s3.get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    )
    .unwrap();
    let st = &policy["Statement"][0];
    assert_eq!(st["Principal"], "*");
    assert_eq!(st["Action"], "s3:GetObject");
    assert_eq!(
        st["Resource"],
        serde_json::json!([
            format!("arn:aws:s3:::{bucket}/clusters/c1/openid/v1/jwks"),
            format!("arn:aws:s3:::{bucket}/clusters/c1/.well-known/openid-configuration")
        ])
    );
    let pab = s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (pab.block_public_acls(), pab.ignore_public_acls()),
        (Some(true), Some(true))
    );
    assert_eq!(
        (pab.block_public_policy(), pab.restrict_public_buckets()),
        (Some(false), Some(false))
    );
    let tags = s3
        .get_bucket_tagging()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let tags: Vec<(String, String)> = tags
        .tag_set()
        .iter()
        .map(|t| (t.key().into(), t.value().into()))
        .collect();
    assert!(
        tags.contains(&("managed-by".into(), "irsa-issuer".into()))
            && tags.contains(&("team".into(), "platform".into()))
    );

    // Second run: nothing to do, zero mutating calls by our recorder and by moto's own log.
    let puts_before = moto_log_count("PUT", &bucket);
    let mark = acct.moto_mark();
    let second = json(&acct.run(&args));
    assert_eq!(mutating_calls(&second), Vec::<String>::new());
    acct.assert_moto_unchanged_since(&mark);
    assert!(second.get("result").is_none());
    assert_eq!(
        moto_log_count("PUT", &bucket),
        puts_before,
        "moto saw a PUT on the no-change run"
    );

    // --plan on a key change: exit 2, nothing written. (The published key is dropped, which
    // must be said explicitly.)
    let o = acct.run(&[
        "publish",
        "--to",
        &to,
        "--key",
        &k("rsa2048.pub"),
        "--create-bucket",
        "--allow-key-removal",
        "--plan",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("~ clusters/c1/openid/v1/jwks"),
        "{}",
        stdout(&o)
    );
    assert_eq!(moto_log_count("PUT", &bucket), puts_before);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_bucket_policy_is_merged_and_objects_without_json_type_are_fixed() {
    let acct = Account::new("us-east-1").await;
    let bucket = bucket_name("merge");
    let s3 = acct.s3().await;
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let theirs = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Theirs","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::{bucket}"}}]}}"#,
        acct.id
    );
    s3.put_bucket_policy()
        .bucket(&bucket)
        .policy(&theirs)
        .send()
        .await
        .unwrap();
    // An object some other tool uploaded without a JSON content type.
    s3.put_object()
        .bucket(&bucket)
        .key("keys.json")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"{}"))
        .content_type("binary/octet-stream")
        .send()
        .await
        .unwrap();
    let v = json(&acct.run(&[
        "publish",
        "--to",
        &format!("s3://{bucket}"),
        "--jwks-path",
        "keys.json",
        "--key",
        &k("ec-p384.pub"),
        "--create-bucket",
        "--output",
        "json",
    ]));
    assert_eq!(
        v["issuer"],
        format!("https://s3.us-east-1.amazonaws.com/{bucket}")
    );
    assert_eq!(v["plan"]["steps"][0]["action"], "update");
    let policy: Value = serde_json::from_str(
        s3.get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    )
    .unwrap();
    let sids: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, vec!["Theirs", "IrsaIssuerPublicRead"]);
    let obj = s3
        .get_object()
        .bucket(&bucket)
        .key("keys.json")
        .send()
        .await
        .unwrap();
    assert_eq!(obj.content_type(), Some("application/json"));
}

#[tokio::test(flavor = "multi_thread")]
async fn acl_mode_uses_object_acls_instead_of_a_policy() {
    let acct = Account::new("eu-central-1").await;
    let bucket = bucket_name("acl");
    let v = json(&acct.run(&[
        "publish",
        "--to",
        &format!("s3://{bucket}"),
        "--key",
        &k("rsa2048.pub"),
        "--create-bucket",
        "--public-access",
        "acl",
        "--output",
        "json",
    ]));
    let muts = mutating_calls(&v);
    assert!(
        muts.contains(&"s3:PutBucketOwnershipControls".to_string()),
        "{muts:?}"
    );
    assert!(
        !muts.contains(&"s3:PutBucketPolicy".to_string()),
        "{muts:?}"
    );
    let s3 = acct.s3().await;
    let acl = s3
        .get_object_acl()
        .bucket(&bucket)
        .key("openid/v1/jwks")
        .send()
        .await
        .unwrap();
    let public = acl.grants().iter().any(|g| {
        g.grantee().and_then(|e| e.uri()) == Some("http://acs.amazonaws.com/groups/global/AllUsers")
            && g.permission().map(|p| p.as_str()) == Some("READ")
    });
    assert!(public, "no public-read grant: {:?}", acl.grants());
    let again = json(&acct.run(&[
        "publish",
        "--to",
        &format!("s3://{bucket}"),
        "--key",
        &k("rsa2048.pub"),
        "--create-bucket",
        "--public-access",
        "acl",
        "--output",
        "json",
    ]));
    assert_eq!(mutating_calls(&again), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_s3_inputs_fail_clearly_and_change_nothing() {
    let acct = Account::new("eu-west-1").await;
    let key = k("rsa2048.pub");
    // Bucket name rules are checked before any call: an unreachable endpoint proves it.
    let mut offline = Account {
        id: acct.id.clone(),
        region: acct.region.clone(),
        env: acct.env.clone(),
    };
    for (n, v) in offline.env.iter_mut() {
        if n == "AWS_ENDPOINT_URL" {
            *v = format!("http://127.0.0.1:{}", free_port());
        }
    }
    for (target, needle) in [
        ("s3://Bad_Bucket", "not a valid S3 bucket name"),
        ("s3://ab", "3 to 63"),
        ("s3://192.168.0.1", "IP address"),
        ("s3://b..b", "adjacent dots"),
    ] {
        let o = offline.run(&["publish", "--to", target, "--key", &key, "--create-bucket"]);
        assert_eq!(o.status.code(), Some(1), "{target}");
        assert!(stderr(&o).contains(needle), "{target}: {}", stderr(&o));
    }
    let o = offline.run(&[
        "publish",
        "--to",
        "s3://good-bucket",
        "--issuer",
        "https://s3.eu-west-1.amazonaws.com/other-bucket",
        "--key",
        &key,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("points at s3://other-bucket") && stderr(&o).contains("Drop --issuer"),
        "{}",
        stderr(&o)
    );

    // Missing bucket without --create-bucket.
    let missing = bucket_name("missing");
    let o = acct.run(&["publish", "--to", &format!("s3://{missing}"), "--key", &key]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("does not exist") && stderr(&o).contains("--create-bucket"),
        "{}",
        stderr(&o)
    );

    // A bucket in another region than the one in use.
    let elsewhere = bucket_name("region");
    let west = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&acct.sdk().await)
            .region(aws_config::Region::new("us-west-2"))
            .force_path_style(true)
            .build(),
    );
    west.create_bucket()
        .bucket(&elsewhere)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint("us-west-2".into())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let o = acct.run(&[
        "publish",
        "--to",
        &format!("s3://{elsewhere}"),
        "--key",
        &key,
        "--create-bucket",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is in us-west-2") && stderr(&o).contains("--region us-west-2"),
        "{}",
        stderr(&o)
    );
    let listed = west
        .list_objects_v2()
        .bucket(&elsewhere)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(0), "something was written");
}

/// A TLS issuer on loopback (throwaway CA, leaf + intermediate) for thumbprint tests.
struct TlsIssuer {
    _server: Server,
    dir: Tls,
    addr: String,
}

fn tls_issuer(issuer: &str) -> TlsIssuer {
    let dir = Tls::new();
    let server = Server::start(&[
        "serve",
        "--issuer",
        issuer,
        "--key",
        &k("rsa2048.pub"),
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        dir.path().join("tls.crt").to_str().unwrap(),
        "--tls-key",
        dir.path().join("tls.key").to_str().unwrap(),
    ]);
    let addr = server.addr.clone();
    TlsIssuer {
        _server: server,
        dir,
        addr,
    }
}

/// What openssl says the SHA-1 fingerprint of the last certificate the server sends is.
fn openssl_last_cert_sha1(addr: &str) -> String {
    let o = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            addr,
            "-servername",
            "localhost",
            "-showcerts",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let last = text
        .rsplit("-----BEGIN CERTIFICATE-----")
        .next()
        .unwrap()
        .split("-----END CERTIFICATE-----")
        .next()
        .unwrap();
    let pem = format!("-----BEGIN CERTIFICATE-----{last}-----END CERTIFICATE-----\n");
    let mut child = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(pem.as_bytes())
        .unwrap();
    let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    out.trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_lowercase()
}

#[test]
fn thumbprint_is_the_last_certificate_in_the_chain_as_openssl_sees_it() {
    let port = free_port();
    let issuer = format!("https://localhost:{port}");
    let dir = Tls::new();
    let server = Server::start(&[
        "serve",
        "--issuer",
        &issuer,
        "--key",
        &k("rsa2048.pub"),
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--tls-cert",
        dir.path().join("tls.crt").to_str().unwrap(),
        "--tls-key",
        dir.path().join("tls.key").to_str().unwrap(),
    ]);
    let expected = openssl_last_cert_sha1(&server.addr);
    // The leaf is not what IAM wants: make sure the two differ here.
    let leaf = irsa_issuer::aws::names::Thumbprint::of_der(
        pem::parse(std::fs::read(dir.path().join("leaf.crt")).unwrap())
            .unwrap()
            .contents(),
    );
    assert_ne!(leaf.as_str(), expected);
    let o = run(&[
        "thumbprint",
        &issuer,
        "--ca-file",
        dir.path().join("ca.crt").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first = stdout(&o).split_whitespace().next().unwrap().to_string();
    assert_eq!(first, expected);
    assert_eq!(first.len(), 40);
    let o = run(&[
        "thumbprint",
        &issuer,
        "--ca-file",
        dir.path().join("ca.crt").to_str().unwrap(),
        "--output",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["thumbprint"], expected.as_str());
    assert_eq!(v[0]["chain_length"], 2);
    // Without the CA the chain does not verify, and nothing is printed.
    let o = run(&["thumbprint", &issuer]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--ca-file"), "{}", stderr(&o));
    drop(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_apply_is_idempotent_repairs_drift_and_deletes_only_its_own() {
    let acct = Account::new("eu-west-1").await;
    // The provider URL may not carry a port, so the issuer is https://localhost and the TLS
    // connection is pointed at the test server with --connect-to.
    let srv = tls_issuer("https://localhost");
    let ca = srv.dir.path().join("ca.crt");
    let apply = [
        "provider",
        "apply",
        "--issuer",
        "https://localhost",
        "--thumbprint",
        "auto",
        "--ca-file",
        ca.to_str().unwrap(),
        "--connect-to",
        &srv.addr,
        "--tag",
        "cluster=c1",
        "--output",
        "json",
    ];
    let first = json(&acct.run(&apply));
    let arn = format!("arn:aws:iam::{}:oidc-provider/localhost", acct.id);
    assert_eq!(first["results"][0]["arn"], arn.as_str());
    assert_eq!(first["results"][0]["action"], "create");
    assert_eq!(
        mutating_calls(&first),
        vec!["iam:CreateOpenIDConnectProvider"]
    );

    let iam = acct.iam().await;
    let got = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    let expected = openssl_last_cert_sha1(&srv.addr);
    assert_eq!(got.thumbprint_list(), std::slice::from_ref(&expected));
    assert_eq!(got.client_id_list(), ["sts.amazonaws.com"]);

    let mark = acct.moto_mark();
    let second = json(&acct.run(&apply));
    assert_eq!(second["results"][0]["action"], "unchanged");
    assert_eq!(mutating_calls(&second), Vec::<String>::new());
    acct.assert_moto_unchanged_since(&mark);

    // Drift by hand: a stale thumbprint. Apply repairs exactly that.
    iam.update_open_id_connect_provider_thumbprint()
        .open_id_connect_provider_arn(&arn)
        .thumbprint_list("0".repeat(40))
        .send()
        .await
        .unwrap();
    let repaired = json(&acct.run(&apply));
    assert_eq!(repaired["results"][0]["action"], "update");
    assert_eq!(
        mutating_calls(&repaired),
        vec!["iam:UpdateOpenIDConnectProviderThumbprint"]
    );
    let got = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.thumbprint_list(), [expected]);

    let shown = json(&acct.run(&[
        "provider",
        "show",
        "--issuer",
        "https://localhost",
        "--output",
        "json",
    ]));
    assert_eq!(
        shown["results"][0]["detail"]["tags"]["managed-by"],
        "irsa-issuer"
    );
    assert_eq!(shown["results"][0]["detail"]["tags"]["cluster"], "c1");

    let o = acct.run(&[
        "provider",
        "delete",
        "--issuer",
        "https://localhost",
        "--plan",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let deleted = json(&acct.run(&[
        "provider",
        "delete",
        "--issuer",
        "https://localhost",
        "--output",
        "json",
    ]));
    assert_eq!(
        mutating_calls(&deleted),
        vec!["iam:DeleteOpenIDConnectProvider"]
    );
    assert!(iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .is_err());

    // One created by hand (no managed-by tag) is refused unless --force.
    iam.create_open_id_connect_provider()
        .url("https://oidc.example.com/hand")
        .client_id_list("sts.amazonaws.com")
        .thumbprint_list("a".repeat(40))
        .send()
        .await
        .unwrap();
    let o = acct.run(&[
        "provider",
        "delete",
        "--issuer",
        "https://oidc.example.com/hand",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not tagged managed-by=irsa-issuer") && stderr(&o).contains("--force"),
        "{}",
        stderr(&o)
    );
    let o = acct.run(&[
        "provider",
        "delete",
        "--issuer",
        "https://oidc.example.com/hand",
        "--force",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_limits_are_checked_before_any_call() {
    let acct = Account::new("eu-west-1").await;
    let mut offline = Account {
        id: acct.id.clone(),
        region: acct.region.clone(),
        env: acct.env.clone(),
    };
    for (n, v) in offline.env.iter_mut() {
        if n == "AWS_ENDPOINT_URL" {
            *v = format!("http://127.0.0.1:{}", free_port());
        }
    }
    let t = "a".repeat(40);
    let many: Vec<String> = (0..101).map(|i| format!("aud{i}")).collect();
    let mut too_many_ids = vec![
        "provider",
        "apply",
        "--issuer",
        "https://oidc.example.com",
        "--thumbprint",
        &t,
    ];
    for id in &many {
        too_many_ids.extend(["--client-id", id.as_str()]);
    }
    let six: Vec<String> = "abcdef".chars().map(|c| c.to_string().repeat(40)).collect();
    let mut too_many_thumbs = vec!["provider", "apply", "--issuer", "https://oidc.example.com"];
    for x in &six {
        too_many_thumbs.extend(["--thumbprint", x.as_str()]);
    }
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "provider",
                "apply",
                "--issuer",
                "https://oidc.example.com:8443",
                "--thumbprint",
                &t,
            ],
            "port",
        ),
        (
            vec![
                "provider",
                "apply",
                "--issuer",
                "http://oidc.example.com",
                "--thumbprint",
                &t,
            ],
            "https",
        ),
        (
            vec![
                "provider",
                "apply",
                "--issuer",
                "https://oidc.example.com",
                "--thumbprint",
                "xyz",
            ],
            "40 hexadecimal",
        ),
        (too_many_ids, "1 to 100 client IDs"),
        (too_many_thumbs, "at most 5 thumbprints"),
    ];
    for (args, needle) in cases {
        let o = offline.run(&args);
        assert_eq!(o.status.code(), Some(1), "{needle}");
        assert!(stderr(&o).contains(needle), "{needle}: {}", stderr(&o));
    }
}

/// Every AWS operation the code performs maps to an action the printed policy grants. The
/// operation → action table is written here, from the AWS service authorization reference,
/// independently of the policy code.
#[tokio::test(flavor = "multi_thread")]
async fn iam_policy_covers_every_call_the_commands_make() {
    let acct = Account::new("eu-west-1").await;
    let bucket = bucket_name("pol");
    let mut calls: Vec<String> = Vec::new();
    let mut take = |o: std::process::Output| {
        calls.extend(
            json(&o)["aws_calls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string()),
        )
    };
    take(acct.run(&[
        "publish",
        "--to",
        &format!("s3://{bucket}/c"),
        "--key",
        &k("rsa2048.pub"),
        "--create-bucket",
        "--output",
        "json",
    ]));
    take(acct.run(&[
        "publish",
        "--to",
        &format!("s3://{bucket}/c"),
        "--key",
        &k("ec-p256.pub"),
        "--create-bucket",
        "--allow-key-removal",
        "--output",
        "json",
    ]));
    take(acct.run(&[
        "publish",
        "--to",
        &format!("s3://{bucket}/c"),
        "--key",
        &k("ec-p256.pub"),
        "--create-bucket",
        "--public-access",
        "acl",
        "--output",
        "json",
    ]));
    let t = "a".repeat(40);
    let u = "b".repeat(40);
    let issuer = format!("https://s3.eu-west-1.amazonaws.com/{bucket}/c");
    take(acct.run(&[
        "provider",
        "apply",
        "--issuer",
        &issuer,
        "--thumbprint",
        &t,
        "--output",
        "json",
    ]));
    take(acct.run(&[
        "provider",
        "apply",
        "--issuer",
        &issuer,
        "--thumbprint",
        &u,
        "--tag",
        "x=y",
        "--output",
        "json",
    ]));
    take(acct.run(&[
        "provider",
        "show",
        "--issuer",
        &issuer,
        "--assume-role",
        &format!("arn:aws:iam::{}:role/admin", acct.id),
        "--no-current-account",
        "--output",
        "json",
    ]));
    take(acct.run(&[
        "provider", "delete", "--issuer", &issuer, "--output", "json",
    ]));
    let dir = tempfile::tempdir().unwrap();
    let inline = dir.path().join("p.json");
    std::fs::write(&inline, r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#).unwrap();
    let inline_arg = format!("p={}", inline.display());
    let boundary = acct
        .iam()
        .await
        .create_policy()
        .policy_name("boundary")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let role = |sa: &str, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "role",
            "apply",
            "--name",
            "r1",
            "--issuer",
            &issuer,
            "--service-account",
            sa,
            "--output",
            "json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let first = role(
        "a/b",
        &["--policy-arn", &boundary, "--inline-policy", &inline_arg],
    );
    take(acct.run(&first.iter().map(String::as_str).collect::<Vec<_>>()));
    let second = role(
        "a/c",
        &[
            "--permissions-boundary",
            &boundary,
            "--max-session-duration",
            "7200",
            "--tag",
            "k=v",
        ],
    );
    take(acct.run(&second.iter().map(String::as_str).collect::<Vec<_>>()));
    take(acct.run(&[
        "role", "delete", "--name", "r1", "--issuer", &issuer, "--output", "json",
    ]));
    calls.sort();
    calls.dedup();
    let o = run(&[
        "iam-policy",
        "--for",
        "publish,bucket,provider,role,assume-role",
        "--to",
        &format!("s3://{bucket}/c"),
        "--issuer",
        &issuer,
        "--policy-arn",
        &boundary,
        "--permissions-boundary",
        &boundary,
        "--assume-role",
        &format!("arn:aws:iam::{}:role/admin", acct.id),
    ]);
    let policy = json(&o);
    let granted = common::allowed_actions(&policy);
    assert!(calls.len() >= 30, "too few calls observed: {calls:?}");
    for c in &calls {
        if let Some(a) = common::iam_action(c) {
            assert!(
                granted.contains(&a.to_string()),
                "{c} needs {a}, which the policy does not grant"
            );
        }
    }
    // PutObjectAcl is only implied by PutObject with an ACL header: granted for acl mode.
    assert!(granted.contains(&"s3:PutObjectAcl".to_string()));
}

/// Client IDs are reconciled to exactly the ones given, against IAM (the launcher implements
/// Add/RemoveClientIDToOpenIDConnectProvider, which moto lacks): a provider that stopped adding
/// or removing them would keep trusting an audience the file dropped.
#[tokio::test(flavor = "multi_thread")]
async fn provider_client_ids_are_added_and_removed_to_match() {
    let acct = Account::new("eu-west-1").await;
    let issuer = "https://oidc.clients.example.com/c1";
    let t = "a".repeat(40);
    let apply = |ids: &[&str]| {
        let mut args = vec![
            "provider",
            "apply",
            "--issuer",
            issuer,
            "--thumbprint",
            &t,
            "--output",
            "json",
        ];
        for id in ids {
            args.extend(["--client-id", id]);
        }
        json(&acct.run(&args))
    };
    apply(&["sts.amazonaws.com", "old-audience"]);
    let v = apply(&["sts.amazonaws.com", "new-audience"]);
    let calls: Vec<&str> = v["aws_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        calls.contains(&"iam:AddClientIDToOpenIDConnectProvider"),
        "{calls:?}"
    );
    assert!(
        calls.contains(&"iam:RemoveClientIDFromOpenIDConnectProvider"),
        "{calls:?}"
    );
    let p = acct
        .iam()
        .await
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(format!(
            "arn:aws:iam::{}:oidc-provider/oidc.clients.example.com/c1",
            acct.id
        ))
        .send()
        .await
        .unwrap();
    let mut ids = p.client_id_list().to_vec();
    ids.sort();
    assert_eq!(ids, ["new-audience", "sts.amazonaws.com"]);
    // Now as wanted: nothing to do.
    let v = apply(&["new-audience", "sts.amazonaws.com"]);
    assert!(common::mutating_calls(&v).is_empty(), "{v}");
}
