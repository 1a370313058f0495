//! What a user reads when AWS fails: one sentence per failure with AWS's code and HTTP status,
//! or what happened on the wire and how often it was tried; never the SDK's debug dump; and the
//! cause kept for `caused by:`.

mod common;
use common::{bin, stderr, Account};

use std::process::Command;

/// No Rust debug formatting of the SDK's types in a message.
fn assert_no_debug_dump(text: &str) {
    for dump in [
        "DispatchFailure(",
        "ConnectorError {",
        "{ source:",
        "Some(\"",
        "ErrorMetadata {",
        "InvalidParams {",
    ] {
        assert!(!text.contains(dump), "a debug dump ({dump}) in: {text}");
    }
}

fn bare(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(bin());
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", "/nonexistent");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn missing_credentials_say_so_in_one_sentence() {
    let o = bare(
        &[
            "provider",
            "show",
            "--issuer",
            "https://oidc.example.com/c1",
        ],
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_ENDPOINT_URL", &common::moto_endpoint()),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("no usable AWS credentials for sts:GetCallerIdentity: set AWS_PROFILE"),
        "{e}"
    );
    assert_no_debug_dump(&e);
}

#[test]
fn an_unreachable_endpoint_is_one_sentence_with_the_attempts() {
    // A loopback port nobody listens on.
    let port = common::free_port();
    let o = bare(
        &[
            "--max-attempts",
            "2",
            "provider",
            "show",
            "--issuer",
            "https://oidc.example.com/c1",
        ],
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_ENDPOINT_URL", &format!("http://127.0.0.1:{port}")),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("connection refused while calling sts:GetCallerIdentity; tried 2 time(s)"),
        "{e}"
    );
    assert_no_debug_dump(&e);
}

#[test]
fn an_empty_region_is_a_missing_region() {
    for region in ["", "  "] {
        let o = bare(
            &[
                "provider",
                "show",
                "--issuer",
                "https://oidc.example.com/c1",
            ],
            &[
                ("AWS_REGION", region),
                ("AWS_ACCESS_KEY_ID", "a"),
                ("AWS_SECRET_ACCESS_KEY", "b"),
            ],
        );
        assert_eq!(o.status.code(), Some(1));
        let e = stderr(&o);
        assert!(e.contains("error: no AWS region: pass --region"), "{e}");
        assert_no_debug_dump(&e);
        // The SDK's own region chatter (IMDS attempts and their HTTP dumps) stays hidden.
        assert!(!e.contains("WARN") && !e.contains("imds"), "{e}");
    }
}

/// A service error keeps AWS's code and HTTP status, and says what to do.
#[tokio::test(flavor = "multi_thread")]
async fn a_service_error_names_code_status_and_fix() {
    let acct = Account::new("eu-west-1").await;
    let d = tempfile::tempdir().unwrap();
    let o = acct.run(&[
        "publish",
        "--to",
        &format!("s3://{}/c1", common::bucket_name("nosuch")),
        "--key",
        common::fixture("rsa2048.pub").to_str().unwrap(),
        "--region",
        "eu-west-1",
    ]);
    drop(d);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("does not exist in this account: create it with --create-bucket"),
        "{e}"
    );
    assert_no_debug_dump(&e);
    // An IAM refusal: a managed policy that does not exist, as IAM words it.
    let o = acct.run(&[
        "role",
        "apply",
        "--name",
        "errors-reader",
        "--issuer",
        "https://oidc.example.com/c1",
        "--service-account",
        "default/reader",
        "--policy-arn",
        "arn:aws:iam::aws:policy/NoSuchPolicyAnywhere",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("iam:AttachRolePolicy failed: NoSuchEntity (HTTP 404): Policy arn:aws:iam::aws:policy/NoSuchPolicyAnywhere does not exist"),
        "{e}"
    );
    assert_no_debug_dump(&e);
}
