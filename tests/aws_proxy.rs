//! tests/py/aws_proxy.py itself, through the real AWS SDK (the irsa-issuer binary): its injected
//! faults are the errors the SDK knows (it retries throttling and 5xx, and reports their codes),
//! resets are connection failures, the fault sequence is the seed's, latency is added per call,
//! and control requests are never counted. Other tests (kill-safety, fleet benchmarks, fault
//! tests) rely on these behaviours.

mod common;
use common::aws_proxy::{log_lines, AwsProxy};
use common::*;

fn through(acct: &Account, proxy: &AwsProxy, args: &[&str]) -> std::process::Output {
    acct.command(bin())
        .env("AWS_ENDPOINT_URL", &proxy.url)
        // The SDK's own default number of attempts (irsa-issuer's is higher): AWS_MAX_ATTEMPTS
        // is honoured.
        .env("AWS_MAX_ATTEMPTS", "3")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

const SHOW: &[&str] = &[
    "provider",
    "show",
    "--issuer",
    "https://oidc.example.com/c1",
];

#[tokio::test(flavor = "multi_thread")]
async fn injected_faults_reach_the_sdk_as_aws_errors_and_follow_the_seed() {
    let acct = Account::new("us-east-1").await;
    let dir = tempfile::tempdir().unwrap();

    // Throttling on every call: the SDK retries (3 attempts in all, AWS_MAX_ATTEMPTS) and
    // reports the code.
    let log = dir.path().join("throttle.log");
    let proxy = AwsProxy::start_with(&log, &["--fault-rate", "1", "--faults", "throttle"]);
    let o = through(&acct, &proxy, SHOW);
    assert_eq!(o.status.code(), Some(1));
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        text.contains("Throttling (HTTP 400): Rate exceeded"),
        "{text}"
    );
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 3, "the SDK's standard retries: {lines:?}");
    assert!(lines
        .iter()
        .all(|l| l["fault"] == "throttle" && l["service"] == "sts"));
    assert_eq!(proxy.requests(), 3, "control requests are not counted");

    // 500 and 503 on S3, with S3's error codes.
    for (kind, code) in [
        ("500", "InternalError (HTTP 500)"),
        ("503", "ServiceUnavailable (HTTP 503)"),
    ] {
        proxy.control(
            "config",
            Some(serde_json::json!({"faults": [kind], "fault_rate": 1.0})),
        );
        let o = through(
            &acct,
            &proxy,
            &[
                "publish",
                "--issuer",
                "https://s3.us-east-1.amazonaws.com/irsa-proxy-x/c",
                "--key",
                fixture("rsa2048.pub").to_str().unwrap(),
                "--to",
                "s3://irsa-proxy-x/c",
            ],
        );
        let text = format!("{}{}", stdout(&o), stderr(&o));
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert!(text.contains(code), "{kind}: {text}");
    }

    // A reset before moto sees the request: a connection failure, nothing forwarded.
    proxy.control(
        "config",
        Some(serde_json::json!({"faults": ["reset"], "fault_rate": 1.0})),
    );
    let o = through(&acct, &proxy, SHOW);
    assert_eq!(o.status.code(), Some(1));
    let last = log_lines(&log).last().cloned().unwrap();
    assert_eq!(last["fault"], "reset");
    assert!(
        last["status"].is_null(),
        "a reset request is not forwarded: {last}"
    );

    // No faults, 50 ms of latency: the calls succeed (a plan is made), each logged call took at least that.
    proxy.control(
        "config",
        Some(serde_json::json!({"fault_rate": 0.0, "latency_ms": 50})),
    );
    let plan = [
        "provider",
        "apply",
        "--issuer",
        "https://oidc.example.com/c1",
        "--thumbprint",
        &"a".repeat(40),
        "--plan",
    ];
    let o = through(&acct, &proxy, &plan);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a plan with changes: {}",
        stderr(&o)
    );
    let n = proxy.requests() as usize;
    assert!(n >= 2, "{n}");
    let lines = log_lines(&log);
    for l in &lines[lines.len() - n..] {
        assert!(
            l["fault"].is_null() && l["ms"].as_f64().unwrap() >= 50.0,
            "{l}"
        );
    }
    drop(proxy);

    // The same seed, the same faults in the same order.
    let sequence = |name: &str| {
        let log = dir.path().join(name);
        let proxy = AwsProxy::start_with(
            &log,
            &[
                "--fault-rate",
                "0.5",
                "--faults",
                "500,503,throttle",
                "--seed",
                "1",
            ],
        );
        for _ in 0..3 {
            through(&acct, &proxy, SHOW);
        }
        log_lines(&log)
            .iter()
            .map(|l| l["fault"].to_string())
            .collect::<Vec<_>>()
    };
    let (a, b) = (sequence("a.log"), sequence("b.log"));
    assert!(
        a.iter().any(|f| f != "null") && a.iter().any(|f| f == "null"),
        "{a:?}"
    );
    assert_eq!(a, b, "one seed, two fault sequences");
}
