//! CloudFront in the engine: read an issuer's distribution, OAC, cache policy and bucket (for
//! the pure planner), run the CloudFront steps of a plan, and publish behind CloudFront
//! (`publish --cdn cloudfront`, and every republish of `rotate` with a `[cdn]` file).
//!
//! A distribution without an alias names the issuer (`https://dXXXX.cloudfront.net/PREFIX`)
//! only once it exists, and the bucket statement names its ARN: so when it does not exist yet,
//! [`first`] plans what comes before it (bucket, OAC, cache policy, distribution), and only then
//! are the statement, the documents and everything that names the issuer planned.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::documents::{self, AnyStore, Published, TargetSpec};
use super::execute::{execute, Quiet};
use super::plan::{self, ObservedCdn, ObservedCdnTeardown, Op, Plan};
use super::read::Handles;
use super::{refuse, Error};
use crate::aws::bucket::{self, BucketChange, BucketWanted, PublicAccess, PublicAccessBlock};
use crate::aws::cdn::{self, CdnConfig, DistributionChange};
use crate::aws::names::{Partition, S3Location};
use crate::aws::owner::{Owner, OWNER_TAG};
use crate::aws::sdk::cloudfront::{CloudFront, Created};
use crate::aws::sdk::{AwsContext, AwsSource};
use crate::oidc::documents::KeySet;
use crate::oidc::issuer::{IssuerUrl, JwksPath, DISCOVERY_PATH};
use crate::publish::objects::ObjectAction;
use crate::publish::s3::S3Store;
use crate::publish::{PublishReport, Store as _};

/// What a distribution's deployment wait reports, as it polls.
pub type WaitProgress = Arc<dyn Fn(&str) + Send + Sync>;

#[derive(Debug, Default, Clone)]
struct Ids {
    oac: Option<String>,
    cache_policy: Option<String>,
    distribution: Option<Created>,
}

/// The adapter the CloudFront steps run through, with the ids of what exists (found when read,
/// or created by an earlier step of the same plan).
pub struct CdnHandle {
    cf: CloudFront,
    location: S3Location,
    ids: Mutex<Ids>,
    timeout: Duration,
    progress: WaitProgress,
}

impl CdnHandle {
    /// Where the deployment wait reports (default: the log).
    pub fn set_progress(&mut self, progress: WaitProgress) {
        self.progress = progress;
    }

    fn ids(&self) -> Ids {
        self.ids.lock().map(|i| i.clone()).unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut Ids)) {
        if let Ok(mut i) = self.ids.lock() {
            f(&mut i);
        }
    }

    fn distribution(&self) -> Result<Created, Error> {
        match self.ids().distribution {
            Some(d) => Ok(d),
            None => refuse!("no distribution was read or created"),
        }
    }
}

fn new_handle(ctx: &AwsContext, loc: &S3Location, cdn: &CdnConfig, ids: Ids) -> CdnHandle {
    CdnHandle {
        cf: CloudFront::new(ctx.cloudfront()),
        location: loc.clone(),
        ids: Mutex::new(ids),
        timeout: Duration::from_secs(cdn.deploy_timeout),
        progress: Arc::new(|line: &str| tracing::info!("{line}")),
    }
}

/// A caller reference CloudFront has not seen: one per request.
fn caller_reference(loc: &S3Location) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos}", cdn::names(loc).resource)
}

/// The issuer the CDN serves: `https://ALIAS[/PREFIX]`, or the distribution's own domain.
pub fn issuer_of(o: &ObservedCdn, cdn: &CdnConfig) -> Result<Option<IssuerUrl>, Error> {
    let host = match (&cdn.alias, &o.distribution.0) {
        (Some(a), _) => a.clone(),
        (None, Some(d)) => d.domain.clone(),
        (None, None) => return Ok(None),
    };
    cdn::issuer(&host, &o.location)
        .map(Some)
        .map_err(|e| Error::Refused(e.to_string()))
}

/// The two object keys, JWKS first.
fn keys(loc: &S3Location, jwks_path: &JwksPath) -> Vec<String> {
    let key = |rel: &str| {
        if loc.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", loc.prefix)
        }
    };
    vec![key(jwks_path.as_str()), key(DISCOVERY_PATH)]
}

/// Everything CloudFront and the bucket hold for `loc`, and the handle to change them.
#[allow(clippy::too_many_arguments)]
pub async fn read(
    c: &CdnConfig,
    loc: &S3Location,
    ctx: &AwsContext,
    store: &S3Store,
    create_bucket: bool,
    tags: &BTreeMap<String, String>,
    jwks_path: &JwksPath,
    cache_control: &str,
) -> Result<(ObservedCdn, CdnHandle), Error> {
    let Some(ttl) = super::config::max_age(cache_control) else {
        refuse!("{}", cdn::CdnError::NoMaxAge(cache_control.to_string()));
    };
    let cf = CloudFront::new(ctx.cloudfront());
    let names = cdn::names(loc);
    let oac = cf.find_oac(&names.resource).await?;
    let cache_policy = cf.find_cache_policy(&names.resource).await?;
    let distribution = cf.find_distribution(&names.target).await?;
    let exists = match store.bucket_region().await? {
        Some(r) if r != ctx.region => refuse!(
            "bucket {} is in {r}, not in {}: pass --region {r} (CloudFront's origin is the bucket's regional endpoint)",
            loc.bucket,
            ctx.region
        ),
        Some(_) => true,
        None if create_bucket => false,
        None => refuse!("bucket {} does not exist in this account: create it with s3.create_bucket = true (or --create-bucket), or check the name and region", loc.bucket),
    };
    let state = store.bucket_state(exists).await?;
    let host = c
        .alias
        .clone()
        .or_else(|| distribution.as_ref().map(|d| d.domain.clone()));
    let issuer = match &host {
        Some(h) => Some(
            cdn::issuer(h, loc)
                .map_err(|e| Error::Refused(e.to_string()))?
                .to_string(),
        ),
        None => None,
    };
    let managed_for_target = crate::aws::owner::is_managed(&state.tags)
        && state.tags.get(cdn::TARGET_TAG) == Some(&names.target);
    let bucket_ours = managed_for_target
        || issuer
            .as_deref()
            .is_some_and(|i| Owner::of(&state.tags, i) == Owner::This);
    let mut create = Vec::new();
    if !exists {
        let mut tags = tags.clone();
        tags.insert(cdn::TARGET_TAG.into(), names.target.clone());
        let wanted = BucketWanted {
            region: ctx.region.clone(),
            public_access: PublicAccess::None,
            tags,
            statement: serde_json::Value::Null,
            issuer: issuer.clone().unwrap_or_default(),
            allow_public_grants: false,
        };
        create = bucket::plan(&loc.bucket, &state, &wanted)?;
        if issuer.is_none() {
            // The issuer is named once the distribution exists; the bucket is claimed then.
            for c in &mut create {
                if let BucketChange::Tags { tags } = c {
                    tags.remove(OWNER_TAG);
                }
            }
        }
        create.push(BucketChange::PublicAccessBlock {
            config: PublicAccessBlock {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: true,
                restrict_public_buckets: true,
            },
        });
    }
    let ids = Ids {
        oac: oac.as_ref().map(|o| o.id.clone()),
        cache_policy: cache_policy.as_ref().map(|p| p.id.clone()),
        distribution: distribution.as_ref().map(|d| Created {
            id: d.id.clone(),
            arn: d.arn.clone(),
            domain: d.domain.clone(),
        }),
    };
    let observed = ObservedCdn {
        location: loc.clone(),
        partition: Partition::of_region(&ctx.region),
        oac: (
            oac,
            cdn::OacWanted {
                name: names.resource.clone(),
                description: format!("irsa-issuer: {}", names.target),
            },
        ),
        cache_policy: (
            cache_policy,
            cdn::CachePolicyWanted {
                name: names.resource.clone(),
                comment: format!("irsa-issuer: {} (TTL = max-age)", names.target),
                ttl: ttl as i64,
            },
        ),
        distribution: (
            distribution,
            cdn::DistributionWanted::new(c, loc, &ctx.region, issuer.as_deref(), tags),
        ),
        bucket: state,
        bucket_ours,
        create_bucket: create,
        keys: keys(loc, jwks_path),
        public_sid: bucket::statement_id(loc),
        names,
    };
    Ok((observed, new_handle(ctx, loc, c, ids)))
}

/// The bucket's owner tags, when the bucket was created for this target before the issuer
/// was known (tagged `managed-by` and [`cdn::TARGET_TAG`], no owner yet).
pub fn bucket_claim(o: &ObservedCdn, issuer: &IssuerUrl) -> Option<BucketChange> {
    let tags = &o.bucket.tags;
    let unclaimed = crate::aws::owner::is_managed(tags)
        && !tags.contains_key(OWNER_TAG)
        && tags.get(cdn::TARGET_TAG) == Some(&o.names.target);
    unclaimed.then(|| BucketChange::Tags {
        tags: crate::aws::owner::with_owner_tags(tags.clone(), issuer.as_str()),
    })
}

/// What `apply` or `publish` must do before the issuer exists, when the distribution does not
/// exist yet: the plan, and the handles to run it through.
pub struct First {
    /// The bucket (created private), the OAC, the cache policy and the distribution.
    pub plan: Plan,
    /// The adapters.
    pub handles: Handles,
    /// The issuer when it is known already (an alias).
    pub issuer: Option<IssuerUrl>,
}

/// The first plan, or `None` when the distribution exists.
pub async fn first(c: &CdnConfig, t: &TargetSpec, aws: &AwsSource) -> Result<Option<First>, Error> {
    let loc = S3Location::parse(&t.to)?;
    let ctx = aws.context().await?;
    let store = S3Store::new(ctx.s3(loc.bucket.contains('.')), loc.clone(), false);
    let (o, handle) = read(
        c,
        &loc,
        ctx,
        &store,
        t.create_bucket,
        &t.tags,
        &t.jwks_path,
        &t.cache_control,
    )
    .await?;
    if o.distribution.0.is_some() {
        return Ok(None);
    }
    Ok(Some(First {
        plan: plan::cdn_first(&o),
        issuer: issuer_of(&o, c)?,
        handles: Handles {
            store: Some(AnyStore::S3(store)),
            cdn: Some(handle),
            ..Handles::default()
        },
    }))
}

/// Checks the issuer the file gives against the one the distribution serves.
pub fn check_issuer(given: Option<&IssuerUrl>, served: &IssuerUrl) -> Result<(), Error> {
    match given {
        Some(g) if g != served => Err(Error::Refused(
            cdn::CdnError::IssuerMismatch {
                given: g.to_string(),
                expected: served.to_string(),
            }
            .to_string(),
        )),
        _ => Ok(()),
    }
}

/// Runs one CloudFront step.
pub(super) async fn run(op: &Op, h: &Handles) -> Result<(), Error> {
    let Some(c) = &h.cdn else {
        refuse!("no CloudFront distribution was read");
    };
    match op {
        Op::ApplyOac(change) => {
            let id = c.cf.apply_oac(change).await?;
            c.update(|i| i.oac = Some(id));
        }
        Op::ApplyCachePolicy(change) => {
            let id = c.cf.apply_cache_policy(change).await?;
            c.update(|i| i.cache_policy = Some(id));
        }
        Op::ApplyDistribution(change) => {
            let ids = c.ids();
            let (Some(oac), Some(policy)) = (ids.oac, ids.cache_policy) else {
                refuse!("the origin access control and cache policy must exist first");
            };
            let created =
                c.cf.apply_distribution(change, &oac, &policy, &caller_reference(&c.location))
                    .await?;
            if let (Some(d), DistributionChange::Create(w)) = (created, change) {
                if !w.tags.contains_key(OWNER_TAG) {
                    // Without an alias the issuer is the distribution's own domain, named now.
                    let issuer = cdn::issuer(&d.domain, &c.location)
                        .map_err(|e| Error::Refused(e.to_string()))?;
                    let tags = BTreeMap::from([(OWNER_TAG.to_string(), issuer.to_string())]);
                    c.cf.tag(&d.arn, &tags).await?;
                }
                c.update(|i| i.distribution = Some(d));
            }
        }
        Op::Invalidate(paths) => {
            let d = c.distribution()?;
            c.cf.invalidate(&d.id, paths, &caller_reference(&c.location))
                .await?;
        }
        Op::WaitDeployed => {
            let d = c.distribution()?;
            let interval =
                (c.timeout / 20).clamp(Duration::from_millis(200), Duration::from_secs(15));
            let progress = c.progress.clone();
            c.cf.wait_deployed(&d.id, c.timeout, interval, &*progress)
                .await?;
        }
        Op::DisableDistribution => c.cf.disable(&c.distribution()?.id).await?,
        Op::DeleteDistribution => c.cf.delete_distribution(&c.distribution()?.id).await?,
        Op::DeleteOac => match c.ids().oac {
            Some(id) => c.cf.delete_oac(&id).await?,
            None => refuse!("no origin access control was read"),
        },
        Op::DeleteCachePolicy => match c.ids().cache_policy {
            Some(id) => c.cf.delete_cache_policy(&id).await?,
            None => refuse!("no cache policy was read"),
        },
        _ => refuse!("not a CloudFront step"),
    }
    Ok(())
}

/// What `destroy` reads of CloudFront for `loc`: the distribution, OAC and cache policy.
pub async fn read_teardown(
    c: &CdnConfig,
    loc: &S3Location,
    ctx: &AwsContext,
) -> Result<(ObservedCdnTeardown, CdnHandle), Error> {
    let cf = CloudFront::new(ctx.cloudfront());
    let names = cdn::names(loc);
    let observed = ObservedCdnTeardown {
        oac: cf.find_oac(&names.resource).await?,
        cache_policy: cf.find_cache_policy(&names.resource).await?,
        distribution: cf.find_distribution(&names.target).await?,
    };
    let ids = Ids {
        oac: observed.oac.as_ref().map(|o| o.id.clone()),
        cache_policy: observed.cache_policy.as_ref().map(|p| p.id.clone()),
        distribution: observed.distribution.as_ref().map(|d| Created {
            id: d.id.clone(),
            arn: d.arn.clone(),
            domain: d.domain.clone(),
        }),
    };
    Ok((observed, new_handle(ctx, loc, c, ids)))
}

/// The plan lines of a publish behind CloudFront.
fn lines(items: &[super::changeset::Item]) -> Vec<String> {
    let mut out = Vec::new();
    for i in items
        .iter()
        .filter(|i| i.action != super::changeset::Action::Unchanged)
    {
        let sign = match i.action {
            super::changeset::Action::Create => "+",
            super::changeset::Action::Update => "~",
            super::changeset::Action::Delete => "-",
            _ => "!",
        };
        out.push(format!("{sign} {} {}", i.step, i.resource));
        out.extend(i.details.iter().map(|d| format!("    {d}")));
    }
    out
}

/// Publishes behind CloudFront: first the CloudFront resources when the distribution does not
/// exist yet, then the bucket statement, the two documents (JWKS first), an invalidation of both
/// paths when either changed, and the bucket made private.
pub async fn publish(
    set: &KeySet,
    t: &TargetSpec,
    aws: &AwsSource,
    plan_only: bool,
    may_remove: impl Fn(&str) -> bool,
) -> Result<Published, Error> {
    let Some(c) = &t.cdn else {
        refuse!("no CloudFront settings were given");
    };
    let mut first_lines = Vec::new();
    if let Some(f) = first(c, t, aws).await? {
        first_lines = lines(&f.plan.items);
        if plan_only {
            first_lines.push("(then: the bucket statement naming the distribution, the two documents and an invalidation, once the distribution exists and names the issuer)".into());
            let issuer = match f.issuer {
                Some(i) => i,
                None => cdn::issuer(
                    "new-distribution.cloudfront.net",
                    &S3Location::parse(&t.to)?,
                )
                .map_err(|e| Error::Refused(e.to_string()))?,
            };
            return Ok(Published {
                issuer,
                target: t.to.clone(),
                kids: set.kids().into_iter().map(|(k, _)| k.to_string()).collect(),
                bucket_changes: Vec::new(),
                plan: crate::publish::objects::PublishPlan { steps: Vec::new() },
                lines: first_lines,
                pending: true,
                result: None,
            });
        }
        execute(&f.plan, &f.handles, &mut Quiet).await?;
    }
    let loc = S3Location::parse(&t.to)?;
    let ctx = aws.context().await?;
    let store = S3Store::new(ctx.s3(loc.bucket.contains('.')), loc.clone(), false);
    let (o, handle) = read(
        c,
        &loc,
        ctx,
        &store,
        t.create_bucket,
        &t.tags,
        &t.jwks_path,
        &t.cache_control,
    )
    .await?;
    let Some(issuer) = issuer_of(&o, c)? else {
        refuse!(
            "the distribution for {} was not found after it was created: run the command again",
            loc
        );
    };
    check_issuer(t.issuer.as_ref(), &issuer)?;
    let spec = TargetSpec {
        issuer: Some(issuer.clone()),
        public_access: PublicAccess::None,
        cdn: None,
        ..t.clone()
    };
    let prepared = documents::prepare(set, &spec, aws).await?;
    prepared.check_issuer(t.allow_issuer_change)?;
    prepared.check_removals(may_remove)?;
    let mut plan = plan::publish_cdn(&prepared.observed(), &o);
    if let Some(claim) = bucket_claim(&o, &issuer) {
        plan.steps.insert(
            0,
            plan::Step {
                label: format!("tag bucket {} as {issuer}'s", loc.bucket),
                after: vec![],
                op: Op::SetUpBucket(vec![claim]),
            },
        );
        for s in plan.steps.iter_mut().skip(1) {
            s.after = s.after.iter().map(|a| a + 1).collect();
        }
    }
    let mut all_lines = first_lines;
    all_lines.extend(lines(&plan.items));
    let mut report = PublishReport {
        target: prepared.store.describe(),
        written: Vec::new(),
        unchanged: Vec::new(),
    };
    for step in &prepared.plan.steps {
        if step.action == ObjectAction::Unchanged {
            report.unchanged.push(step.object.key.clone());
        } else {
            report.written.push(step.object.key.clone());
        }
    }
    let mut out = Published {
        issuer,
        target: prepared.store.describe(),
        kids: set.kids().into_iter().map(|(k, _)| k.to_string()).collect(),
        bucket_changes: prepared.bucket_changes.clone(),
        plan: prepared.plan.clone(),
        lines: all_lines,
        pending: !plan.steps.is_empty(),
        result: None,
    };
    if !plan_only && out.pending {
        let handles = Handles {
            store: Some(prepared.store),
            cdn: Some(handle),
            ..Handles::default()
        };
        execute(&plan, &handles, &mut Quiet).await?;
        out.result = Some(report);
    }
    Ok(out)
}

/// `verify` for an issuer behind CloudFront: the distribution serving it reads the bucket
/// through the OAC, and the bucket itself is not public (Block Public Access on, no public
/// statement).
pub async fn checks(
    c: &CdnConfig,
    loc: &S3Location,
    ctx: &AwsContext,
    issuer: &IssuerUrl,
    fix: &str,
) -> Result<Vec<crate::verify::checks::Check>, Error> {
    use crate::verify::checks::Check;
    let mut out = Vec::new();
    let cf = CloudFront::new(ctx.cloudfront());
    let names = cdn::names(loc);
    let distribution = cf.find_distribution(&names.target).await?;
    let oac = cf.find_oac(&names.resource).await?;
    let policy = cf.find_cache_policy(&names.resource).await?;
    match &distribution {
        None => out.push(Check::fail(
            "CloudFront distribution",
            format!("no distribution tagged for {}", names.target),
            fix,
        )),
        Some(d) => {
            let host = c.alias.clone().unwrap_or_else(|| d.domain.clone());
            let serves = cdn::issuer(&host, loc).ok().as_ref() == Some(issuer);
            let wanted = cdn::DistributionWanted::new(
                c,
                loc,
                &ctx.region,
                Some(issuer.as_str()),
                &BTreeMap::new(),
            )
            .model(
                oac.as_ref().map(|o| o.id.as_str()),
                policy.as_ref().map(|p| p.id.as_str()),
            );
            let mut drift = cdn::drift(&d.model, &wanted);
            let oac_drift = oac.as_ref().and_then(|o| {
                let wanted = cdn::OacWanted {
                    name: o.name.clone(),
                    description: String::new(),
                };
                cdn::plan_oac(&wanted, Some(o))
            });
            if let Some(cdn::OacChange::Update { drift: d, .. }) = oac_drift {
                drift.extend(d);
            }
            out.push(if !serves {
                Check::fail(
                    "CloudFront distribution",
                    format!("{} ({}) does not serve {issuer}", d.id, host),
                    fix,
                )
            } else if drift.is_empty() {
                Check::ok(
                    "CloudFront distribution",
                    format!(
                        "{} serves {issuer} from s3://{} through its Origin Access Control (SigV4), HTTPS only; {}",
                        d.id, loc.bucket, d.status
                    ),
                )
            } else {
                Check::fail("CloudFront distribution", format!("{}: {}", d.id, drift.join("; ")), fix)
            });
        }
    }
    let store = S3Store::new(ctx.s3(loc.bucket.contains('.')), loc.clone(), false);
    let exists = store.bucket_region().await?.is_some();
    let state = store.bucket_state(exists).await?;
    let grants = cdn::public_grants(&state);
    out.push(if !exists {
        Check::fail(
            "bucket not public",
            format!("s3://{} does not exist", loc.bucket),
            fix,
        )
    } else if grants.is_empty() {
        Check::ok(
            "bucket not public",
            format!(
                "s3://{}: all four Block Public Access switches on, no public statement",
                loc.bucket
            ),
        )
    } else {
        Check::fail(
            "bucket not public",
            format!("s3://{}: {}", loc.bucket, grants.join("; ")),
            format!("{fix} (it makes the bucket private once the distribution serves it)"),
        )
    });
    Ok(out)
}
