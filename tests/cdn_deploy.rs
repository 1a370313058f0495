//! CloudFront's slow part, against moto: a distribution takes minutes to deploy a change. moto
//! deploys it on the next read; here its state manager keeps every distribution `InProgress`
//! for many reads, so the waits are bounded and a stopped destroy resumes. A test file of its
//! own: the state manager is global to the moto server, and cargo runs test files one at a time.
//! Also the adapter itself: each update and delete goes with the resource's current ETag, which
//! moto (with tests/py/moto_server.py) checks as CloudFront does.

mod common;

use common::{moto_endpoint, mutating_calls, stderr, stdout, Account};
use irsa_issuer::aws::cdn::{self, CdnConfig, DistributionChange, PriceClass};
use irsa_issuer::aws::names::S3Location;
use irsa_issuer::aws::sdk::cloudfront::CloudFront;
use std::time::Duration;

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
    assert!(cdn::drift(&found.model, &wanted.model(Some(&oac), Some(&policy))).is_empty());

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
    assert!(cf.delete_distribution(&created.id).await.is_err());
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
    assert!(cf.delete_oac(&oac).await.is_err());
    cf.delete_distribution(&created.id).await.unwrap();
    cf.delete_oac(&oac).await.unwrap();
    cf.delete_cache_policy(&policy).await.unwrap();
    assert!(cf.find_oac(&names.resource).await.unwrap().is_none());
}
