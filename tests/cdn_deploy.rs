//! CloudFront's slow part, against moto: a distribution takes minutes to deploy a change. moto
//! deploys it on the next read; here its state manager keeps every distribution `InProgress`
//! for many reads, so the waits are bounded and a stopped destroy resumes. A test file of its
//! own: the state manager is global to the moto server, and cargo runs test files one at a time.
//! Also the adapter itself: each update and delete goes with the resource's current ETag, which
//! moto (with tests/py/moto_server.py) checks as CloudFront does.

mod common;

use common::iam::{allows, Request};
use common::{moto_endpoint, mutating_calls, stderr, stdout, Account};
use irsa_issuer::aws::cdn::{self, CdnConfig, DistributionChange, PriceClass};
use irsa_issuer::aws::names::S3Location;
use irsa_issuer::aws::sdk::cloudfront::CloudFront;
use std::time::Duration;

async fn raw_etag(cf: &aws_sdk_cloudfront::Client, id: &str) -> String {
    cf.get_distribution_config()
        .id(id)
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string()
}

/// Keeps distributions `InProgress` for `times` reads (moto's "manual" progression), or back to
/// moto's default with `None`.
fn deploy_after(times: Option<u32>) {
    let (path, body) = match times {
        Some(t) => (
            "set-transition",
            serde_json::json!({"model_name": "cloudfront::distribution", "transition": {"progression": "manual", "times": t}}),
        ),
        None => (
            "unset-transition",
            serde_json::json!({"model_name": "cloudfront::distribution"}),
        ),
    };
    let py = common::python();
    let script = format!(
        "import urllib.request,sys; urllib.request.urlopen(urllib.request.Request('{}/moto-api/state-manager/{path}', data=sys.argv[1].encode(), method='POST'))",
        moto_endpoint()
    );
    let o = std::process::Command::new(py)
        .args(["-c", &script, &body.to_string()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Puts moto's default back when a test ends, passed or failed: other tests (and a re-run)
/// must not find distributions that never deploy.
struct Reset;

impl Drop for Reset {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            deploy_after(None);
        } else {
            let _ = std::panic::catch_unwind(|| deploy_after(None));
        }
    }
}

/// The two tests change the same global state manager: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread")]
async fn destroy_waits_with_a_bound_and_a_second_destroy_resumes_at_the_wait() {
    let _serial = SERIAL.lock().await;
    let _reset = Reset;
    let acct = Account::new("us-east-1").await;
    let bucket = common::bucket_name("cdn-wait");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        format!("target = \"s3://{bucket}/c1\"\n[aws]\nregion = \"us-east-1\"\n[keys]\ndir = \"keys\"\ngenerate = true\n[s3]\ncreate_bucket = true\n[provider]\nthumbprints = []\n[cdn]\nkind = \"cloudfront\"\ndeploy_timeout = \"2s\"\n"),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    deploy_after(None);
    let o = acct.run(&["apply", "-f", f, "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));

    deploy_after(Some(10_000));
    let start = std::time::Instant::now();
    let o = acct.run(&["destroy", "-f", f, "--yes"]);
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("still InProgress") && err.contains("run the same command again to resume"),
        "{err}"
    );
    assert!(
        err.contains("is InProgress (0 s of at most 2 s)"),
        "progress while waiting: {err}"
    );
    assert!(took < Duration::from_secs(30), "bounded: {took:?}");
    // What comes after the wait did not run: the OAC and the statement are still there.
    let cf = acct.cloudfront().await;
    let oacs = cf.list_origin_access_controls().send().await.unwrap();
    assert_eq!(oacs.origin_access_control_list().unwrap().items().len(), 1);

    // The second destroy resumes: no second disable, the wait (while it still deploys), then
    // the rest.
    let o = acct.run(&["destroy", "-f", f, "--plan"]);
    let plan = stdout(&o);
    assert!(!plan.contains("~ disable"), "{plan}");
    assert!(plan.contains("wait until deployed"), "{plan}");
    deploy_after(None);
    let o = acct.run(&["destroy", "-f", f, "--yes", "--output", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let m = mutating_calls(&v);
    assert_eq!(
        m,
        [
            "cloudfront:DeleteDistribution",
            "cloudfront:DeleteOriginAccessControl",
            "cloudfront:DeleteCachePolicy",
            "s3:DeleteBucketPolicy"
        ],
        "{v:#}"
    );
    let list = cf.list_distributions().send().await.unwrap();
    assert!(list
        .distribution_list()
        .map(|l| l.items().is_empty())
        .unwrap_or(true));
}

/// The adapter against moto: an update made elsewhere in between (a new ETag) does not make an
/// update fail, since each update reads the current ETag first; a stale ETag is refused (the
/// rule the adapter relies on); a disabled distribution that has not deployed yet cannot be
/// deleted, and the wait for it is bounded.
#[tokio::test(flavor = "multi_thread")]
async fn the_adapter_updates_and_deletes_with_the_current_etag() {
    let _serial = SERIAL.lock().await;
    let _reset = Reset;
    deploy_after(None);
    let acct = Account::new("us-east-1").await;
    let cf_client = acct.cloudfront().await;
    let cf = CloudFront::new(cf_client.clone());
    let loc = S3Location::parse(&format!("s3://{}/c1", common::bucket_name("cdn-etag"))).unwrap();
    let names = cdn::names(&loc);
    let c = CdnConfig {
        alias: None,
        acm_certificate_arn: None,
        price_class: PriceClass::default(),
        deploy_timeout: 2,
        pins: Default::default(),
    };
    let oac = cf
        .apply_oac(&cdn::OacChange::Create(cdn::OacWanted {
            name: names.resource.clone(),
            description: "t".into(),
        }))
        .await
        .unwrap();
    let policy = cf
        .apply_cache_policy(&cdn::CachePolicyChange::Create(cdn::CachePolicyWanted {
            name: names.resource.clone(),
            comment: "t".into(),
            ttl: 60,
        }))
        .await
        .unwrap();
    // CloudFront refuses a cache policy whose TTLs are all 0 with compression on (what
    // `cdn::ttl` refuses before any call).
    let e = cf
        .apply_cache_policy(&cdn::CachePolicyChange::Create(cdn::CachePolicyWanted {
            name: format!("{}-zero", names.resource),
            comment: "t".into(),
            ttl: 0,
        }))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("InvalidArgument"), "{e}");
    let wanted = cdn::DistributionWanted::new(&c, &loc, "us-east-1", None, &Default::default());
    let created = cf
        .apply_distribution(
            &DistributionChange::Create(wanted.clone()),
            &oac,
            &policy,
            "ref-1",
        )
        .await
        .unwrap()
        .unwrap();
    let found = cf.find_distribution(&names.target).await.unwrap().unwrap();
    assert_eq!(found.id, created.id);
    assert_eq!(cf.find_oac(&names.resource).await.unwrap().unwrap().id, oac);
    assert_eq!(
        cf.find_cache_policy(&names.resource)
            .await
            .unwrap()
            .unwrap()
            .ttls,
        (0, 60, 60)
    );
    // What CloudFront holds, read with the SDK directly (not through the adapter's model).
    let raw = cf_client
        .get_distribution_config()
        .id(&created.id)
        .send()
        .await
        .unwrap();
    let raw = raw.distribution_config().unwrap();
    let origin = &raw.origins().unwrap().items()[0];
    assert_eq!(
        (
            origin.id(),
            origin.domain_name(),
            origin.origin_access_control_id(),
            origin
                .s3_origin_config()
                .map(|s| s.origin_access_identity()),
        ),
        (
            cdn::ORIGIN_ID,
            format!("{}.s3.us-east-1.amazonaws.com", loc.bucket).as_str(),
            Some(oac.as_str()),
            Some("")
        )
    );
    let b = raw.default_cache_behavior().unwrap();
    assert_eq!(b.cache_policy_id(), Some(policy.as_str()));
    assert_eq!(b.viewer_protocol_policy().as_str(), "redirect-to-https");
    assert_eq!(b.compress(), Some(true));
    assert_eq!(raw.comment(), format!("irsa-issuer {}", names.target));
    assert!(raw.enabled());
    assert_eq!(raw.price_class().unwrap().as_str(), "PriceClass_100");

    // A hand-edited comment does not hide it: it is found by its tags, and the comment is drift.
    let etag = raw_etag(&cf_client, &created.id).await;
    let mut edited = raw.clone();
    edited.comment = "prod oidc".into();
    cf_client
        .update_distribution()
        .id(&created.id)
        .if_match(etag)
        .distribution_config(edited)
        .send()
        .await
        .unwrap();
    let found = cf.find_distribution(&names.target).await.unwrap().unwrap();
    assert_eq!(found.id, created.id);
    assert_eq!(found.model.comment, "prod oidc");
    // Pinned, it is read by id; a pinned id that names nothing is refused, not created anew.
    let pins = cdn::Pins {
        distribution_id: Some(created.id.clone()),
        ..Default::default()
    };
    let by_id = cf.lookup(&pins, &names, false).await.unwrap();
    assert_eq!(by_id.distribution.unwrap().id, created.id);
    let gone = cdn::Pins {
        distribution_id: Some("EDOESNOTEXIST".into()),
        ..Default::default()
    };
    let e = cf
        .lookup(&gone, &names, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cdn.distribution_id = \"EDOESNOTEXIST\" names no distribution"),
        "{e}"
    );
    assert!(cf
        .lookup(&gone, &names, true)
        .await
        .unwrap()
        .distribution
        .is_none());

    // Someone else updates it: the ETag changes. A stale ETag is refused…
    let before = cf_client
        .get_distribution_config()
        .id(&created.id)
        .send()
        .await
        .unwrap();
    let stale = before.e_tag().unwrap().to_string();
    cf_client
        .update_distribution()
        .id(&created.id)
        .if_match(&stale)
        .distribution_config(before.distribution_config().unwrap().clone())
        .send()
        .await
        .unwrap();
    let e = cf_client
        .update_distribution()
        .id(&created.id)
        .if_match(&stale)
        .distribution_config(before.distribution_config().unwrap().clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        irsa_issuer::aws::sdk::error_code(&e),
        Some("PreconditionFailed")
    );
    // …and the adapter, which reads the current one, is not bothered.
    let update = DistributionChange::Update {
        id: created.id.clone(),
        wanted: cdn::DistributionWanted {
            alias: None,
            price_class: PriceClass::PriceClassAll,
            ..wanted.clone()
        },
        drift: vec![],
    };
    cf.apply_distribution(&update, &oac, &policy, "unused")
        .await
        .unwrap();
    let after = cf.find_distribution(&names.target).await.unwrap().unwrap();
    assert_eq!(after.model.price_class, "PriceClass_All");

    // Disabled but still deploying: CloudFront refuses the delete; the wait is bounded.
    deploy_after(Some(10_000));
    cf.disable(&created.id).await.unwrap();
    cf.disable(&created.id).await.unwrap();
    let e = cf.delete_distribution(&created.id).await.unwrap_err();
    assert!(e.to_string().contains("DistributionNotDisabled"), "{e}");
    let seen = std::sync::Mutex::new(Vec::new());
    let e = cf
        .wait_deployed(
            &created.id,
            Duration::from_millis(600),
            Duration::from_millis(200),
            &|l: &str| seen.lock().unwrap().push(l.to_string()),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("still InProgress"), "{e}");
    assert!(
        seen.lock().unwrap().len() >= 2,
        "{:?}",
        seen.lock().unwrap()
    );
    deploy_after(None);
    cf.wait_deployed(
        &created.id,
        Duration::from_secs(5),
        Duration::from_millis(200),
        &|_: &str| {},
    )
    .await
    .unwrap();
    // The OAC and cache policy are in use until the distribution is gone.
    let e = cf.delete_oac(&oac).await.unwrap_err();
    assert!(e.to_string().contains("OriginAccessControlInUse"), "{e}");
    // Updates of the OAC go with its current ETag: a stale or missing one is refused.
    let o = cf_client
        .get_origin_access_control()
        .id(&oac)
        .send()
        .await
        .unwrap();
    let stale = o.e_tag().unwrap().to_string();
    cf.apply_oac(&cdn::OacChange::Update {
        id: oac.clone(),
        wanted: cdn::OacWanted {
            name: names.resource.clone(),
            description: "t2".into(),
        },
        drift: vec![],
    })
    .await
    .unwrap();
    for (if_match, code) in [
        (Some(stale), "PreconditionFailed"),
        (None, "InvalidIfMatchVersion"),
    ] {
        let e = cf_client
            .delete_origin_access_control()
            .id(&oac)
            .set_if_match(if_match)
            .send()
            .await
            .unwrap_err();
        assert_eq!(irsa_issuer::aws::sdk::error_code(&e), Some(code));
    }
    cf.delete_distribution(&created.id).await.unwrap();
    cf.delete_oac(&oac).await.unwrap();
    cf.delete_cache_policy(&policy).await.unwrap();
    assert!(cf.find_oac(&names.resource).await.unwrap().is_none());
}

/// A `policy` set-up moving behind CloudFront while the new distribution deploys: apply waits
/// (reading the distribution until it is Deployed) before it removes the public statement, and
/// turns Block Public Access on only after that.
#[tokio::test(flavor = "multi_thread")]
async fn the_public_statement_goes_only_once_the_distribution_deployed() {
    let _serial = SERIAL.lock().await;
    let _reset = Reset;
    deploy_after(None);
    let acct = Account::new("us-east-1").await;
    let bucket = common::bucket_name("cdn-move-wait");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    let base = format!("target = \"s3://{bucket}/c1\"\n[aws]\nregion = \"us-east-1\"\n[keys]\ndir = \"keys\"\ngenerate = true\n[s3]\ncreate_bucket = true\n[provider]\nthumbprints = []\n");
    std::fs::write(&file, &base).unwrap();
    let f = file.to_str().unwrap();
    let o = acct.run(&["apply", "-f", f, "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(
        &file,
        format!("{base}[cdn]\nkind = \"cloudfront\"\ndeploy_timeout = \"20s\"\n"),
    )
    .unwrap();
    // The new distribution stays InProgress for a dozen reads (each poll is one).
    deploy_after(Some(12));
    let o = acct.run(&[
        "apply",
        "-f",
        f,
        "--yes",
        "--allow-issuer-change",
        "--output",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("is InProgress ("), "it waited: {err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let calls: Vec<&str> = v["aws_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let puts: Vec<usize> = (0..calls.len())
        .filter(|i| calls[*i] == "s3:PutBucketPolicy")
        .collect();
    assert_eq!(
        puts.len(),
        2,
        "statement in, public statement out: {calls:?}"
    );
    let polls = calls[puts[0]..puts[1]]
        .iter()
        .filter(|c| **c == "cloudfront:GetDistribution")
        .count();
    assert!(
        polls >= 2,
        "the removal waited for the deployment: {calls:?}"
    );
    let block = calls
        .iter()
        .rposition(|c| *c == "s3:PutPublicAccessBlock")
        .unwrap();
    assert!(puts[1] < block, "{calls:?}");
    let cf = acct.cloudfront().await;
    let list = cf.list_distributions().send().await.unwrap();
    assert_eq!(
        list.distribution_list().unwrap().items()[0].status(),
        "Deployed"
    );
}

/// One CloudFront request as moto received it, as IAM would authorise it.
fn cloudfront_requests(log: &str, account: &str, created: &str) -> Vec<Request> {
    let mut out = Vec::new();
    let mut tags: Option<serde_json::Value> = None;
    for line in log.lines() {
        if let Some(j) = line.strip_prefix("irsa-issuer-test tags ") {
            tags = Some(serde_json::from_str(j).unwrap());
            continue;
        }
        // 127.0.0.1 - - [date] "METHOD /path?query HTTP/1.1" status -, with colour codes.
        let plain: String = {
            let mut s = String::new();
            let mut esc = false;
            for ch in line.chars() {
                match (esc, ch) {
                    (_, '\u{1b}') => esc = true,
                    (true, 'm') => esc = false,
                    (true, _) => {}
                    (false, c) => s.push(c),
                }
            }
            s
        };
        let Some(req) = plain.split('"').nth(1) else {
            continue;
        };
        let mut parts = req.split(' ');
        let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Some(rest) = target.strip_prefix("/2020-05-31/") else {
            continue;
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let q: std::collections::BTreeMap<String, String> =
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
        let seg: Vec<&str> = path.split('/').collect();
        let arn = |kind: &str, id: &str| format!("arn:aws:cloudfront::{account}:{kind}/{id}");
        let (action, resource) = match (method, seg.as_slice()) {
            ("GET", ["distribution"]) => ("ListDistributions", "*".to_string()),
            ("POST", ["distribution"]) => ("CreateDistribution", "*".to_string()),
            ("GET", ["distribution", id]) => ("GetDistribution", arn("distribution", id)),
            ("DELETE", ["distribution", id]) => ("DeleteDistribution", arn("distribution", id)),
            ("GET", ["distribution", id, "config"]) => {
                ("GetDistributionConfig", arn("distribution", id))
            }
            ("PUT", ["distribution", id, "config"]) => {
                ("UpdateDistribution", arn("distribution", id))
            }
            ("POST", ["distribution", id, "invalidation"]) => {
                ("CreateInvalidation", arn("distribution", id))
            }
            ("GET", ["tagging"]) => ("ListTagsForResource", q["Resource"].clone()),
            ("POST", ["tagging"]) if q.get("Operation").map(String::as_str) == Some("Tag") => {
                ("TagResource", q["Resource"].clone())
            }
            ("GET", ["origin-access-control"]) => ("ListOriginAccessControls", "*".into()),
            ("POST", ["origin-access-control"]) => ("CreateOriginAccessControl", "*".into()),
            ("GET", ["origin-access-control", id]) => {
                ("GetOriginAccessControl", arn("origin-access-control", id))
            }
            ("PUT", ["origin-access-control", id, "config"]) => (
                "UpdateOriginAccessControl",
                arn("origin-access-control", id),
            ),
            ("DELETE", ["origin-access-control", id]) => (
                "DeleteOriginAccessControl",
                arn("origin-access-control", id),
            ),
            ("GET", ["cache-policy"]) => ("ListCachePolicies", "*".into()),
            ("POST", ["cache-policy"]) => ("CreateCachePolicy", "*".into()),
            ("GET", ["cache-policy", id]) => ("GetCachePolicy", arn("cache-policy", id)),
            ("PUT", ["cache-policy", id]) => ("UpdateCachePolicy", arn("cache-policy", id)),
            ("DELETE", ["cache-policy", id]) => ("DeleteCachePolicy", arn("cache-policy", id)),
            other => panic!("a CloudFront request this test does not know: {other:?}"),
        };
        let with_tags = |mut r: Request, t: &serde_json::Value| {
            for (k, v) in t["tags"].as_object().unwrap() {
                r = r
                    .with(&format!("aws:RequestTag/{k}"), v.as_str().unwrap())
                    .with("aws:TagKeys", k);
            }
            r
        };
        let r = Request::new(&format!("cloudfront:{action}"), &resource);
        match action {
            "CreateDistribution" => {
                let t = tags.take().expect("the tags of CreateDistributionWithTags");
                out.push(with_tags(r, &t));
                // CreateDistributionWithTags also needs TagResource, on the new distribution.
                out.push(with_tags(
                    Request::new("cloudfront:TagResource", &arn("distribution", created)),
                    &t,
                ));
            }
            "TagResource" => {
                let t = tags.take().expect("the tags of TagResource");
                assert_eq!(t["resource"], resource.as_str());
                out.push(with_tags(r, &t));
            }
            _ => out.push(r),
        }
    }
    out
}

fn moto_log() -> String {
    std::fs::read_to_string(std::env::var("IRSA_TEST_MOTO_LOG").expect("IRSA_TEST_MOTO_LOG"))
        .unwrap()
}

/// What each phase's runner policy allows, checked request by request from what moto received
/// (with each request's tags) by the independent evaluator: the bootstrap allows everything the
/// first publish sends and none of the updates, invalidations and deletions a later rotate,
/// apply and destroy make (tagging with irsa-issuer's own tags is its known residue); the policy with
/// the pinned ids allows all of those and creates nothing. (cargo runs this file's tests one at
/// a time and no other test file meanwhile, so the log holds this test's requests alone.)
#[tokio::test(flavor = "multi_thread")]
async fn each_runner_policy_allows_exactly_the_requests_of_its_phase() {
    let _serial = SERIAL.lock().await;
    let _reset = Reset;
    deploy_after(None);
    let acct = Account::new("us-east-1").await;
    let bucket = common::bucket_name("cdn-phases");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    let body = |issuer: &str, pins: &str| {
        format!("{issuer}target = \"s3://{bucket}/c1\"\n[aws]\nregion = \"us-east-1\"\n[keys]\ndir = \"keys\"\ngenerate = true\n[s3]\ncreate_bucket = true\n[provider]\nthumbprints = []\n[tags]\ncluster = \"c1\"\n[cdn]\nkind = \"cloudfront\"\n{pins}")
    };
    std::fs::write(&file, body("", "")).unwrap();
    let f = file.to_str().unwrap();
    let policy = |caps: &str| -> serde_json::Value {
        let o = acct.run(&["iam-policy", "-f", f, "--for", caps]);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let bootstrap = policy("publish,bucket,cdn");
    let run = |args: &[&str]| -> String {
        let before = moto_log().len();
        let o = acct.run(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        moto_log()[before..].to_string()
    };

    // `rotate init` creates the key directory and publishes (behind CloudFront: creating it).
    let first = run(&["rotate", "init", "-f", f]) + &run(&["publish", "-f", f]);
    let cf = acct.cloudfront().await;
    let list = cf.list_distributions().send().await.unwrap();
    let d = list.distribution_list().unwrap().items()[0].clone();
    let requests = cloudfront_requests(&first, &acct.id, d.id());
    assert!(
        requests
            .iter()
            .any(|r| r.action == "cloudfront:CreateDistribution"),
        "{requests:?}"
    );
    for r in &requests {
        assert!(
            allows(&bootstrap, r),
            "the bootstrap refuses {r:?}\n{bootstrap:#}"
        );
    }

    // Pin the issuer and the ids; make drift that needs every kind of change.
    let cfg = cf
        .get_distribution_config()
        .id(d.id())
        .send()
        .await
        .unwrap();
    let config = cfg.distribution_config().unwrap().clone();
    let oac = config.origins().unwrap().items()[0]
        .origin_access_control_id()
        .unwrap()
        .to_string();
    let cp = config
        .default_cache_behavior()
        .unwrap()
        .cache_policy_id()
        .unwrap()
        .to_string();
    std::fs::write(
        &file,
        body(
            &format!("issuer = \"https://{}/c1\"\n", d.domain_name()),
            &format!("distribution_id = \"{}\"\norigin_access_control_id = \"{oac}\"\ncache_policy_id = \"{cp}\"\n", d.id()),
        ),
    )
    .unwrap();
    let scoped = policy("publish,bucket,provider,role,destroy,cdn");
    let mut drifted = config.clone();
    drifted.price_class = Some(aws_sdk_cloudfront::types::PriceClass::PriceClassAll);
    cf.update_distribution()
        .id(d.id())
        .if_match(cfg.e_tag().unwrap())
        .distribution_config(drifted)
        .send()
        .await
        .unwrap();
    let got = cf.get_cache_policy().id(&cp).send().await.unwrap();
    let mut pc = got
        .cache_policy()
        .unwrap()
        .cache_policy_config()
        .unwrap()
        .clone();
    pc.max_ttl = Some(86400);
    cf.update_cache_policy()
        .id(&cp)
        .if_match(got.e_tag().unwrap())
        .cache_policy_config(pc)
        .send()
        .await
        .unwrap();
    // A new key (the JWKS changes: an invalidation) and the drift repaired, then the teardown.
    let later = run(&["rotate", "stage", "-f", f])
        + &run(&["apply", "-f", f, "--yes"])
        + &run(&["destroy", "-f", f, "--yes"]);
    let requests = cloudfront_requests(&later, &acct.id, d.id());
    for action in [
        "UpdateDistribution",
        "UpdateCachePolicy",
        "CreateInvalidation",
        "DeleteDistribution",
        "DeleteOriginAccessControl",
        "DeleteCachePolicy",
    ] {
        let action = format!("cloudfront:{action}");
        let r = requests
            .iter()
            .find(|r| r.action == action)
            .unwrap_or_else(|| panic!("no {action} in {requests:?}"));
        assert!(!allows(&bootstrap, r), "the bootstrap allows {r:?}");
    }
    for r in &requests {
        assert!(
            allows(&scoped, r),
            "the pinned policy refuses {r:?}\n{scoped:#}"
        );
    }
    assert!(
        !common::allowed_actions(&scoped)
            .iter()
            .any(|a| a.starts_with("cloudfront:Create") && a != "cloudfront:CreateInvalidation"),
        "{scoped:#}"
    );
}
