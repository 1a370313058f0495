//! `[cdn] kind = "cloudfront"` against moto's CloudFront (made as strict as CloudFront about
//! ETags, deployment and deletion by tests/py/moto_server.py): apply creates the private bucket,
//! the OAC, the cache policy, the distribution and the bucket statement in that order; a
//! re-apply makes no mutating call; hand-made drift is repaired by exactly the calls it needs;
//! a `policy` set-up switched to CloudFront loses its public statement; destroy removes it all.

mod common;

use common::{mutating_calls, stderr, stdout, Account};
use serde_json::Value;

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): stdout {} stderr {}", stdout(o), stderr(o)))
}

struct Cluster {
    acct: Account,
    bucket: String,
    dir: tempfile::TempDir,
}

const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c";

impl Cluster {
    async fn new(test: &str) -> Self {
        Self {
            acct: Account::new("eu-west-1").await,
            bucket: common::bucket_name(test),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Writes the file: `cdn` is the `[cdn]` table's body (None: a public `policy` bucket).
    fn write(&self, cdn: Option<&str>) -> String {
        let file = self.dir.path().join("cluster.toml");
        let cdn = cdn
            .map(|c| format!("[cdn]\nkind = \"cloudfront\"\n{c}"))
            .unwrap_or_default();
        std::fs::write(
            &file,
            format!(
                "target = \"s3://{}/c1\"\n[aws]\nregion = \"eu-west-1\"\n[keys]\ndir = \"keys\"\ngenerate = true\n[s3]\ncreate_bucket = true\n[provider]\nthumbprints = [\"{}\"]\n[tags]\ncluster = \"c1\"\n{cdn}",
                self.bucket,
                "a".repeat(40)
            ),
        )
        .unwrap();
        file.display().to_string()
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.acct.run(args)
    }

    /// `args` with `--output json`, which must succeed.
    fn ok(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["--output", "json"]);
        let o = self.run(&a);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        json(&o)
    }

    async fn cf(&self) -> aws_sdk_cloudfront::Client {
        self.acct.cloudfront().await
    }

    async fn distribution(&self) -> Option<aws_sdk_cloudfront::types::DistributionSummary> {
        let cf = self.cf().await;
        let list = cf.list_distributions().send().await.unwrap();
        let items = list
            .distribution_list()
            .map(|l| l.items().to_vec())
            .unwrap_or_default();
        assert!(items.len() <= 1, "more than one distribution: {items:?}");
        items.into_iter().next()
    }

    async fn policy(&self) -> Option<Value> {
        let s3 = self.acct.s3().await;
        match s3.get_bucket_policy().bucket(&self.bucket).send().await {
            Ok(p) => Some(serde_json::from_str(p.policy().unwrap()).unwrap()),
            Err(_) => None,
        }
    }

    async fn block_public_access(&self) -> [bool; 4] {
        let s3 = self.acct.s3().await;
        let c = s3
            .get_public_access_block()
            .bucket(&self.bucket)
            .send()
            .await
            .unwrap();
        let c = c.public_access_block_configuration().unwrap();
        [
            c.block_public_acls().unwrap_or(false),
            c.ignore_public_acls().unwrap_or(false),
            c.block_public_policy().unwrap_or(false),
            c.restrict_public_buckets().unwrap_or(false),
        ]
    }

    async fn object(&self, key: &str) -> Value {
        let s3 = self.acct.s3().await;
        let o = s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        serde_json::from_slice(&o.body.collect().await.unwrap().into_bytes()).unwrap()
    }
}

fn pos(calls: &[String], op: &str) -> usize {
    calls
        .iter()
        .position(|c| c == op)
        .unwrap_or_else(|| panic!("{op} not in {calls:?}"))
}

/// Every statement of the bucket policy: (Sid, principal, condition).
fn statements(policy: &Value) -> Vec<(String, Value, Value)> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["Sid"].as_str().unwrap_or_default().to_string(),
                s["Principal"].clone(),
                s["Condition"].clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_behind_cloudfront_creates_in_order_reapplies_with_no_call_and_destroy_removes_it_all(
) {
    let c = Cluster::new("cdn").await;
    let f = c.write(Some(""));

    // --plan before anything exists: the CloudFront resources first, no mutating call.
    let o = c.run(&["apply", "-f", &f, "--plan", "--output", "json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let plan = json(&o);
    assert_eq!(mutating_calls(&plan), Vec::<String>::new());
    let resources: Vec<&str> = plan["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["resource"].as_str().unwrap())
        .collect();
    assert_eq!(resources.len(), 4, "{resources:?}");
    assert!(
        resources[1].starts_with("origin access control irsa-issuer-"),
        "{resources:?}"
    );
    assert!(
        resources[2].starts_with("cache policy irsa-issuer-"),
        "{resources:?}"
    );
    assert!(
        resources[3].starts_with("distribution for s3://"),
        "{resources:?}"
    );
    assert!(c.distribution().await.is_none());

    // apply: bucket (private) → OAC → cache policy → distribution → statement → JWKS →
    // discovery → invalidation → provider.
    let out = c.ok(&["apply", "-f", &f, "--yes"]);
    let m = mutating_calls(&out);
    let order = [
        "s3:CreateBucket",
        "s3:PutPublicAccessBlock",
        "cloudfront:CreateOriginAccessControl",
        "cloudfront:CreateCachePolicy",
        "cloudfront:CreateDistributionWithTags",
        "cloudfront:TagResource",
        "s3:PutBucketPolicy",
        "s3:PutObject",
        "cloudfront:CreateInvalidation",
        "iam:CreateOpenIDConnectProvider",
    ];
    for w in order.windows(2) {
        assert!(
            pos(&m, w[0]) < pos(&m, w[1]),
            "{} before {}: {m:?}",
            w[0],
            w[1]
        );
    }
    let d = c.distribution().await.expect("a distribution");
    let issuer = format!("https://{}/c1", d.domain_name());
    assert_eq!(
        out["issuer"],
        issuer.as_str(),
        "the issuer is the distribution's own domain"
    );
    assert_eq!(
        c.object("c1/.well-known/openid-configuration").await["issuer"],
        issuer.as_str()
    );
    assert_eq!(
        c.object("c1/.well-known/openid-configuration").await["jwks_uri"],
        format!("{issuer}/openid/v1/jwks").as_str()
    );

    // The bucket is private: all four switches on, one statement, for this distribution only.
    assert_eq!(c.block_public_access().await, [true; 4]);
    let policy = c.policy().await.expect("a bucket policy");
    let st = statements(&policy);
    assert_eq!(st.len(), 1, "{policy:#}");
    assert_eq!(
        st[0].1,
        serde_json::json!({"Service": "cloudfront.amazonaws.com"})
    );
    assert_eq!(st[0].2["StringEquals"]["AWS:SourceArn"], d.arn());
    assert_eq!(
        policy["Statement"][0]["Resource"],
        serde_json::json!([
            format!("arn:aws:s3:::{}/c1/openid/v1/jwks", c.bucket),
            format!(
                "arn:aws:s3:::{}/c1/.well-known/openid-configuration",
                c.bucket
            )
        ])
    );

    // The distribution: one origin, the bucket's regional endpoint through the OAC, no OAI;
    // HTTPS only, GET/HEAD, compression, the cache policy with TTL = max-age, PriceClass_100,
    // tagged as this issuer's.
    let cf = c.cf().await;
    let config = cf
        .get_distribution_config()
        .id(d.id())
        .send()
        .await
        .unwrap();
    let config = config.distribution_config().unwrap();
    let origin = &config.origins().unwrap().items()[0];
    assert_eq!(
        origin.domain_name(),
        format!("{}.s3.eu-west-1.amazonaws.com", c.bucket)
    );
    let oac_id = origin.origin_access_control_id().unwrap().to_string();
    assert_eq!(
        origin.s3_origin_config().unwrap().origin_access_identity(),
        ""
    );
    let oac = cf
        .get_origin_access_control()
        .id(&oac_id)
        .send()
        .await
        .unwrap();
    let oac = oac
        .origin_access_control()
        .unwrap()
        .origin_access_control_config()
        .unwrap();
    assert_eq!(
        (
            oac.signing_protocol().as_str(),
            oac.signing_behavior().as_str(),
            oac.origin_access_control_origin_type().as_str()
        ),
        ("sigv4", "always", "s3")
    );
    let b = config.default_cache_behavior().unwrap();
    assert_eq!(b.viewer_protocol_policy().as_str(), "redirect-to-https");
    assert_eq!(b.compress(), Some(true));
    let methods: Vec<&str> = b
        .allowed_methods()
        .unwrap()
        .items()
        .iter()
        .map(|m| m.as_str())
        .collect();
    assert_eq!(methods, ["GET", "HEAD"]);
    let policy_id = b.cache_policy_id().unwrap();
    let cp = cf.get_cache_policy().id(policy_id).send().await.unwrap();
    let cp = cp.cache_policy().unwrap().cache_policy_config().unwrap();
    assert_eq!(
        (cp.min_ttl(), cp.default_ttl(), cp.max_ttl()),
        (0, Some(300), Some(300))
    );
    assert_eq!(config.price_class().unwrap().as_str(), "PriceClass_100");
    let tags = cf
        .list_tags_for_resource()
        .resource(d.arn())
        .send()
        .await
        .unwrap();
    let tags: std::collections::BTreeMap<String, String> = tags
        .tags()
        .unwrap()
        .items()
        .iter()
        .map(|t| {
            (
                t.key().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(tags["managed-by"], "irsa-issuer");
    assert_eq!(tags["irsa-issuer/issuer"], issuer);
    assert_eq!(tags["irsa-issuer/target"], format!("s3://{}/c1", c.bucket));
    assert_eq!(tags["cluster"], "c1");
    // The invalidation named exactly the two documents.
    let inv = cf
        .list_invalidations()
        .distribution_id(d.id())
        .send()
        .await
        .unwrap();
    let inv_id = inv.invalidation_list().unwrap().items()[0].id().to_string();
    let got = cf
        .get_invalidation()
        .distribution_id(d.id())
        .id(inv_id)
        .send()
        .await
        .unwrap();
    let mut paths: Vec<String> = got
        .invalidation()
        .unwrap()
        .invalidation_batch()
        .unwrap()
        .paths()
        .unwrap()
        .items()
        .to_vec();
    paths.sort();
    assert_eq!(
        paths,
        ["/c1/.well-known/openid-configuration", "/c1/openid/v1/jwks"]
    );
    // The provider trusts the CDN issuer.
    let arn = format!(
        "arn:aws:iam::{}:oidc-provider/{}/c1",
        c.acct.id,
        d.domain_name()
    );
    c.acct
        .iam()
        .await
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();

    // Re-apply: nothing to do, no mutating call.
    let again = c.ok(&["apply", "-f", &f, "--yes"]);
    assert_eq!(mutating_calls(&again), Vec::<String>::new(), "{again:#}");
    assert_eq!(again["summary"]["add"], 0);
    assert_eq!(again["summary"]["change"], 0);

    // iam-policy --for cdn allows every CloudFront call apply made.
    let p = c.ok(&[
        "iam-policy",
        "-f",
        &f,
        "--for",
        "publish,bucket,provider,role,cdn",
    ]);
    let allowed = common::allowed_actions(&p);
    for call in out["aws_calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
    {
        if let Some(action) = common::iam_action(call) {
            assert!(
                allowed.iter().any(|a| a == action),
                "{action} ({call}) not in {allowed:?}"
            );
        }
    }

    // destroy: provider, documents, then disable → wait → delete the distribution, the OAC,
    // the cache policy, and last the bucket statement. The bucket is kept.
    let gone = c.ok(&["destroy", "-f", &f, "--yes"]);
    let m = mutating_calls(&gone);
    let order = [
        "iam:DeleteOpenIDConnectProvider",
        "s3:DeleteObject",
        "cloudfront:UpdateDistribution",
        "cloudfront:DeleteDistribution",
        "cloudfront:DeleteOriginAccessControl",
        "cloudfront:DeleteCachePolicy",
        "s3:DeleteBucketPolicy",
    ];
    for w in order.windows(2) {
        assert!(
            pos(&m, w[0]) < pos(&m, w[1]),
            "{} before {}: {m:?}",
            w[0],
            w[1]
        );
    }
    assert!(c.distribution().await.is_none());
    assert!(cf
        .get_origin_access_control()
        .id(&oac_id)
        .send()
        .await
        .is_err());
    assert!(cf.get_cache_policy().id(policy_id).send().await.is_err());
    assert_eq!(c.policy().await, None);
    assert_eq!(c.block_public_access().await, [true; 4], "still private");
    // Nothing left to destroy.
    let o = c.run(&["destroy", "-f", &f, "--plan"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn hand_made_drift_is_repaired_by_exactly_the_calls_it_needs() {
    let c = Cluster::new("cdn-drift").await;
    let cdn = format!("alias = \"oidc-{}.example.com\"\nacm_certificate_arn = \"{CERT}\"\nprice_class = \"PriceClass_200\"\n", c.acct.id);
    let f = c.write(Some(&cdn));
    let out = c.ok(&["apply", "-f", &f, "--yes"]);
    assert_eq!(
        out["issuer"],
        format!("https://oidc-{}.example.com/c1", c.acct.id).as_str()
    );
    let d = c.distribution().await.unwrap();
    let cf = c.cf().await;
    let cfg = cf
        .get_distribution_config()
        .id(d.id())
        .send()
        .await
        .unwrap();
    let config = cfg.distribution_config().unwrap().clone();
    let cert = config.viewer_certificate().unwrap();
    assert_eq!(cert.acm_certificate_arn(), Some(CERT));
    assert_eq!(
        cert.minimum_protocol_version().unwrap().as_str(),
        "TLSv1.2_2021"
    );
    assert_eq!(cert.ssl_support_method().unwrap().as_str(), "sni-only");
    assert_eq!(
        config.aliases().unwrap().items(),
        [format!("oidc-{}.example.com", c.acct.id)]
    );
    assert_eq!(config.price_class().unwrap().as_str(), "PriceClass_200");

    // By hand: the alias removed and the OAC detached (one UpdateDistribution), the cache
    // policy's TTL changed.
    let mut origin = config.origins().unwrap().items()[0].clone();
    origin = aws_sdk_cloudfront::types::Origin::builder()
        .id(origin.id())
        .domain_name(origin.domain_name())
        .s3_origin_config(origin.s3_origin_config().unwrap().clone())
        .build()
        .unwrap();
    let drifted = aws_sdk_cloudfront::types::DistributionConfig::builder()
        .caller_reference(config.caller_reference())
        .comment(config.comment())
        .enabled(true)
        .origins(
            aws_sdk_cloudfront::types::Origins::builder()
                .quantity(1)
                .items(origin)
                .build()
                .unwrap(),
        )
        .default_cache_behavior(config.default_cache_behavior().unwrap().clone())
        .aliases(
            aws_sdk_cloudfront::types::Aliases::builder()
                .quantity(0)
                .build()
                .unwrap(),
        )
        .set_viewer_certificate(config.viewer_certificate().cloned())
        .set_price_class(config.price_class().cloned())
        .build()
        .unwrap();
    cf.update_distribution()
        .id(d.id())
        .if_match(cfg.e_tag().unwrap())
        .distribution_config(drifted)
        .send()
        .await
        .unwrap();
    let policy_id = config
        .default_cache_behavior()
        .unwrap()
        .cache_policy_id()
        .unwrap()
        .to_string();
    let cp = cf.get_cache_policy().id(&policy_id).send().await.unwrap();
    let mut pc = cp
        .cache_policy()
        .unwrap()
        .cache_policy_config()
        .unwrap()
        .clone();
    pc = aws_sdk_cloudfront::types::CachePolicyConfig::builder()
        .name(pc.name())
        .set_comment(pc.comment().map(str::to_string))
        .min_ttl(0)
        .default_ttl(86400)
        .max_ttl(31536000)
        .set_parameters_in_cache_key_and_forwarded_to_origin(
            pc.parameters_in_cache_key_and_forwarded_to_origin()
                .cloned(),
        )
        .build()
        .unwrap();
    cf.update_cache_policy()
        .id(&policy_id)
        .if_match(cp.e_tag().unwrap())
        .cache_policy_config(pc)
        .send()
        .await
        .unwrap();

    // The plan names each drift; apply repairs it with one update of each, nothing else.
    let o = c.run(&["apply", "-f", &f, "--plan"]);
    assert_eq!(o.status.code(), Some(2));
    let text = stdout(&o);
    assert!(text.contains("~ aliases [] -> [oidc-"), "{text}");
    assert!(text.contains("(unsigned) ->"), "{text}");
    assert!(
        text.contains("~ TTL min/default/max 0/86400/31536000 -> 0/300/300"),
        "{text}"
    );
    let fixed = c.ok(&["apply", "-f", &f, "--yes"]);
    assert_eq!(
        mutating_calls(&fixed),
        [
            "cloudfront:UpdateCachePolicy",
            "cloudfront:UpdateDistribution"
        ],
        "{fixed:#}"
    );
    let cfg = cf
        .get_distribution_config()
        .id(d.id())
        .send()
        .await
        .unwrap();
    let config = cfg.distribution_config().unwrap();
    assert_eq!(config.aliases().unwrap().items().len(), 1);
    assert!(config.origins().unwrap().items()[0]
        .origin_access_control_id()
        .is_some_and(|s| !s.is_empty()));
    let again = c.ok(&["apply", "-f", &f, "--yes"]);
    assert_eq!(mutating_calls(&again), Vec::<String>::new());

    // verify: the distribution serves the issuer through the OAC, the bucket is not public.
    // (The documents themselves are fetched from the alias, which nothing serves here.)
    let o = c.run(&["verify", "-f", &f, "--output", "json"]);
    let v = json(&o);
    let check = |name: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {v:#}"))
            .clone()
    };
    assert_eq!(check("CloudFront distribution")["status"], "ok", "{v:#}");
    assert_eq!(check("bucket not public")["status"], "ok", "{v:#}");
    // A public statement planted by hand fails the bucket check.
    let mut policy = c.policy().await.unwrap();
    policy["Statement"].as_array_mut().unwrap().push(serde_json::json!({"Sid": "Oops", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{}/c1/openid/v1/jwks", c.bucket)}));
    let s3 = c.acct.s3().await;
    s3.put_public_access_block()
        .bucket(&c.bucket)
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(false)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.put_bucket_policy()
        .bucket(&c.bucket)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();
    let v = json(&c.run(&["verify", "-f", &f, "--output", "json"]));
    let bad = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "bucket not public")
        .unwrap()
        .clone();
    assert_eq!(bad["status"], "fail", "{v:#}");
    assert!(
        bad["detail"]
            .as_str()
            .unwrap()
            .contains("statement Oops allows everyone"),
        "{bad}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_setup_switched_to_cloudfront_loses_its_public_statement() {
    let c = Cluster::new("cdn-move").await;
    let f = c.write(None);
    c.ok(&["apply", "-f", &f, "--yes"]);
    let public = c.policy().await.unwrap();
    assert_eq!(statements(&public)[0].1, "*", "{public:#}");
    assert_eq!(c.block_public_access().await, [true, true, false, false]);

    // The same prefix behind CloudFront: the issuer changes, which apply refuses unless told.
    let f = c.write(Some(""));
    let o = c.run(&["apply", "-f", &f, "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("refused"), "{}", stderr(&o));
    // The public statement is still there, the bucket untouched but for CloudFront's read.
    assert!(statements(&c.policy().await.unwrap())
        .iter()
        .any(|s| s.1 == "*"));

    let out = c.ok(&["apply", "-f", &f, "--yes", "--allow-issuer-change"]);
    let m = mutating_calls(&out);
    // Statement in, documents, invalidation, then (deployed) the public statement out and the
    // switches back on.
    let put = m.iter().filter(|c| *c == "s3:PutBucketPolicy").count();
    assert_eq!(put, 2, "{m:?}");
    assert!(
        pos(&m, "cloudfront:CreateInvalidation")
            < m.iter().rposition(|c| c == "s3:PutBucketPolicy").unwrap(),
        "{m:?}"
    );
    assert!(
        m.iter().rposition(|c| c == "s3:PutBucketPolicy").unwrap()
            < pos(&m, "s3:PutPublicAccessBlock"),
        "{m:?}"
    );
    let policy = c.policy().await.unwrap();
    let st = statements(&policy);
    assert_eq!(st.len(), 1, "{policy:#}");
    assert_eq!(
        st[0].1,
        serde_json::json!({"Service": "cloudfront.amazonaws.com"})
    );
    assert_eq!(c.block_public_access().await, [true; 4]);
    let tags = c
        .acct
        .s3()
        .await
        .get_bucket_tagging()
        .bucket(&c.bucket)
        .send()
        .await
        .unwrap();
    assert!(
        !tags
            .tag_set()
            .iter()
            .any(|t| t.key() == "irsa-issuer/relaxed-block-public-access"),
        "the record of relaxed switches goes with them"
    );
    let d = c.distribution().await.unwrap();
    assert_eq!(
        c.object("c1/.well-known/openid-configuration").await["issuer"],
        format!("https://{}/c1", d.domain_name()).as_str()
    );
    let again = c.ok(&["apply", "-f", &f, "--yes"]);
    assert_eq!(mutating_calls(&again), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_cdn_invalidates_exactly_the_two_documents_when_one_changes() {
    let c = Cluster::new("cdn-pub").await;
    let keys = c.dir.path().join("k");
    let o = common::run(&["keys", "generate", "--out", keys.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let to = format!("s3://{}/p", c.bucket);
    let key = keys.join("sa.pub").display().to_string();
    let args = [
        "publish",
        "--to",
        &to,
        "--key",
        &key,
        "--create-bucket",
        "--cdn",
        "cloudfront",
        "--region",
        "eu-west-1",
    ];
    // Bad input is refused before any call.
    let o = c.run(
        &[
            &args[..],
            &[
                "--alias",
                "oidc.example.com",
                "--acm-certificate-arn",
                "arn:aws:acm:eu-west-1:123456789012:certificate/x",
            ],
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("us-east-1"), "{}", stderr(&o));
    let first = c.ok(&args);
    let issuer = first["issuer"].as_str().unwrap().to_string();
    assert!(issuer.ends_with(".cloudfront.net/p"), "{issuer}");
    let again = c.ok(&args);
    assert_eq!(mutating_calls(&again), Vec::<String>::new(), "{again:#}");
    let d = c.distribution().await.unwrap();
    let cf = c.cf().await;
    let count = |l: aws_sdk_cloudfront::operation::list_invalidations::ListInvalidationsOutput| {
        l.invalidation_list().map(|l| l.items().len()).unwrap_or(0)
    };
    assert_eq!(
        count(
            cf.list_invalidations()
                .distribution_id(d.id())
                .send()
                .await
                .unwrap()
        ),
        1
    );

    // A second key: the JWKS changes, both paths are invalidated, once.
    let keys2 = c.dir.path().join("k2");
    assert!(
        common::run(&["keys", "generate", "--out", keys2.to_str().unwrap()])
            .status
            .success()
    );
    let key2 = keys2.join("sa.pub").display().to_string();
    let out = c.ok(&[&args[..], &["--key", &key2]].concat());
    let m = mutating_calls(&out);
    assert_eq!(
        m,
        ["s3:PutObject", "cloudfront:CreateInvalidation"],
        "only the JWKS changed: {m:?}"
    );
    let list = cf
        .list_invalidations()
        .distribution_id(d.id())
        .send()
        .await
        .unwrap();
    assert_eq!(count(list.clone()), 2);
    for i in list.invalidation_list().unwrap().items() {
        let got = cf
            .get_invalidation()
            .distribution_id(d.id())
            .id(i.id())
            .send()
            .await
            .unwrap();
        let mut paths = got
            .invalidation()
            .unwrap()
            .invalidation_batch()
            .unwrap()
            .paths()
            .unwrap()
            .items()
            .to_vec();
        paths.sort();
        assert_eq!(
            paths,
            ["/p/.well-known/openid-configuration", "/p/openid/v1/jwks"]
        );
    }
}

/// Through an edge: tests/py/cloudfront_edge.py serves the distribution as an edge location does
/// (from moto's bucket, only with the OAC statement, cached for the max-age, purged by
/// invalidations), over HTTPS with a throwaway CA for the alias. After `rotate stage`, the
/// invalidation lets `rotate promote --wait` see the new JWKS through the CDN at once, as STS
/// will, although the edge had cached the old one for 300 s.
#[tokio::test(flavor = "multi_thread")]
async fn rotate_promote_sees_the_new_jwks_through_the_cdn() {
    let acct = Account::new("us-east-1").await;
    let bucket = common::bucket_name("cdn-rot");
    let dir = tempfile::tempdir().unwrap();
    let alias = format!("oidc-{}.example.com", acct.id);
    let pki = irsa_issuer::serve::pki::generate(&[alias.as_str()]).unwrap();
    for (name, pem) in [
        ("ca.crt", &pki.ca_cert_pem),
        ("tls.crt", &pki.chain_pem),
        ("tls.key", &pki.leaf_key_pem),
    ] {
        std::fs::write(dir.path().join(name), pem).unwrap();
    }
    let file = dir.path().join("c.toml");
    let base = format!(
        "target = \"s3://{bucket}/c1\"\n[aws]\nregion = \"us-east-1\"\n[keys]\ndir = \"keys\"\ngenerate = true\n[s3]\ncreate_bucket = true\n[provider]\nthumbprints = []\n[cdn]\nkind = \"cloudfront\"\nalias = \"{alias}\"\nacm_certificate_arn = \"{CERT}\"\n"
    );
    std::fs::write(&file, &base).unwrap();
    let f = file.to_str().unwrap();
    let o = acct.run(&["apply", "-f", f, "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cf = acct.cloudfront().await;
    let list = cf.list_distributions().send().await.unwrap();
    let id = list.distribution_list().unwrap().items()[0]
        .id()
        .to_string();
    let mut cmd = acct.command(common::python());
    cmd.arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/cloudfront_edge.py"))
        .args([
            "--endpoint",
            &common::moto_endpoint(),
            "--distribution",
            &id,
        ])
        .arg("--cert")
        .arg(dir.path().join("tls.crt"))
        .arg("--key")
        .arg(dir.path().join("tls.key"));
    let edge = common::Server::spawn(cmd);
    std::fs::write(
        &file,
        format!(
            "{base}[tls]\nca_file = \"ca.crt\"\nconnect_to = \"{}\"\n",
            edge.addr
        ),
    )
    .unwrap();

    // The issuer is served through the edge (and the edge now caches the JWKS).
    let v = json(&acct.run(&["verify", "-f", f, "--skip-aws", "--output", "json"]));
    for name in ["discovery reachable", "JWKS reachable"] {
        let c = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone();
        assert_eq!(c["status"], "ok", "{name}: {v:#}");
    }
    let o = acct.run(&["rotate", "stage", "-f", f]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = acct.run(&[
        "rotate",
        "promote",
        "-f",
        f,
        "--wait",
        "--timeout",
        "15s",
        "--interval",
        "1s",
        "--cache-max-age",
        "1",
    ]);
    assert!(
        o.status.success(),
        "promote did not see the new key through the CDN: {}",
        stderr(&o)
    );
}
