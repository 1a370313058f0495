//! One document target (a directory, or an S3 bucket and prefix): read what is there, plan the
//! bucket set-up and the two objects, and write them. `publish`, `rotate` and the engine all
//! publish through this.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::execute::{execute, Quiet};
use super::plan::ObservedDocuments;
use super::read::Handles;
use super::{refuse, Error};
use crate::aws::bucket::{self, BucketChange, BucketWanted, PublicAccess};
use crate::aws::names::{Partition, S3Location};
use crate::aws::sdk::{AwsContext, AwsSource};
use crate::oidc::documents::{render, KeySet};
use crate::oidc::issuer::{IssuerUrl, JwksPath};
use crate::publish::objects::{
    jwks_kids, plan_publish, publish_objects, DesiredObject, ExistingObject, ObjectAction,
    PublishPlan,
};
use crate::publish::{self as store, dir::DirStore, s3::S3Store, PublishReport, Store};

/// Where and how the documents are published.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// The issuer, when given; with an S3 target it may be left out and is then derived.
    pub issuer: Option<IssuerUrl>,
    /// Path of the JWKS below the issuer.
    pub jwks_path: JwksPath,
    /// A directory, or `s3://BUCKET[/PREFIX]`.
    pub to: String,
    /// S3: create and set up the bucket.
    pub create_bucket: bool,
    /// S3: how the documents are made public.
    pub public_access: PublicAccess,
    /// S3: Cache-Control of both objects.
    pub cache_control: String,
    /// S3: bucket tags for a created bucket.
    pub tags: BTreeMap<String, String>,
    /// S3: relax Block Public Access even when other public grants would become live.
    pub allow_public_grants: bool,
    /// Replace documents the target publishes for another issuer.
    pub allow_issuer_change: bool,
    /// S3: CloudFront in front of the (private) bucket.
    pub cdn: Option<crate::aws::cdn::CdnConfig>,
}

/// Either kind of document store.
pub enum AnyStore {
    /// A directory.
    Dir(DirStore),
    /// An S3 bucket and prefix.
    S3(S3Store),
}

impl Store for AnyStore {
    fn describe(&self) -> String {
        match self {
            Self::Dir(s) => s.describe(),
            Self::S3(s) => s.describe(),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<ExistingObject>, store::StoreError> {
        match self {
            Self::Dir(s) => s.get(key).await,
            Self::S3(s) => s.get(key).await,
        }
    }

    async fn put(&self, object: &DesiredObject) -> Result<(), store::StoreError> {
        match self {
            Self::Dir(s) => s.put(object).await,
            Self::S3(s) => s.put(object).await,
        }
    }

    async fn delete(&self, key: &str) -> Result<(), store::StoreError> {
        match self {
            Self::Dir(s) => s.delete(key).await,
            Self::S3(s) => s.delete(key).await,
        }
    }
}

/// A publish that has been planned (everything read, nothing written).
pub struct Prepared {
    /// The issuer the documents name.
    pub issuer: IssuerUrl,
    /// The store.
    pub store: AnyStore,
    /// The bucket, for an S3 target.
    pub bucket: Option<String>,
    /// Bucket set-up to do first.
    pub bucket_changes: Vec<BucketChange>,
    /// The objects, JWKS first.
    pub plan: PublishPlan,
    /// The kids the target publishes now (none when nothing is published yet).
    pub published_kids: BTreeSet<String>,
    /// The kids the new JWKS holds.
    pub new_kids: BTreeSet<String>,
    /// The issuer the target's discovery document names now, if any.
    pub published_issuer: Option<String>,
}

impl Prepared {
    /// Kids published now that the new JWKS drops.
    pub fn removed_kids(&self) -> Vec<String> {
        self.published_kids
            .difference(&self.new_kids)
            .cloned()
            .collect()
    }

    /// Refuses to replace documents published for another issuer unless `allow`: every token of
    /// that issuer would stop verifying, and its providers would trust documents that name
    /// another issuer.
    pub fn check_issuer(&self, allow: bool) -> Result<(), Error> {
        match &self.published_issuer {
            Some(old) if old != self.issuer.as_str() && !allow => Err(Error::Refused(format!(
                "{} publishes issuer {old}, and this would publish {} there instead: every token of {old} would stop verifying. Check the issuer (issuer, aws.region, the target); move it deliberately with --allow-issuer-change (and point kube-apiserver at both issuers meanwhile)",
                self.store.describe(),
                self.issuer
            ))),
            _ => Ok(()),
        }
    }

    /// Refuses to drop a published key unless `may_remove` says so (the key directory retired
    /// it, or the user said so): tokens it signed would stop verifying.
    pub fn check_removals(&self, may_remove: impl Fn(&str) -> bool) -> Result<(), Error> {
        let refused: Vec<String> = self
            .removed_kids()
            .into_iter()
            .filter(|k| !may_remove(k))
            .collect();
        if refused.is_empty() {
            return Ok(());
        }
        Err(Error::Refused(format!(
            "{} publishes key(s) {} that the new JWKS would drop, and the key directory does not say they were retired: every token they signed would stop verifying. Check the keys given (--key, --key-dir, keys.dir / IRSA_ISSUER_KEY_DIR); retire a key with `irsa-issuer rotate retire`; or pass --allow-key-removal to drop them anyway",
            self.store.describe(),
            refused.join(", ")
        )))
    }

    /// Whether anything would be written.
    pub fn pending(&self) -> bool {
        self.plan.has_changes() || !self.bucket_changes.is_empty()
    }

    /// The plan as lines (`+ key  create`).
    pub fn lines(&self) -> Vec<String> {
        let bucket = self.bucket.as_deref().unwrap_or_default();
        let mut lines: Vec<String> = self
            .bucket_changes
            .iter()
            .flat_map(|c| c.details(bucket))
            .collect();
        for step in &self.plan.steps {
            let (sign, what) = match &step.action {
                ObjectAction::Create => ("+", "create".to_string()),
                ObjectAction::Update { reasons } => {
                    ("~", format!("update ({})", reasons.join(", ")))
                }
                ObjectAction::Unchanged => ("=", "unchanged".to_string()),
            };
            lines.push(format!("{sign} {:<40} {what}", step.object.key));
        }
        lines
    }

    /// The observed values, for the pure planner.
    pub fn observed(&self) -> ObservedDocuments {
        ObservedDocuments {
            target: self.store.describe(),
            bucket: self.bucket.clone(),
            bucket_changes: self.bucket_changes.clone(),
            objects: self.plan.clone(),
            published_kids: self.published_kids.iter().cloned().collect(),
            published_issuer: self.published_issuer.clone(),
        }
    }

    /// Sets up the bucket, then writes the changed objects in plan order (JWKS first), through
    /// the engine's executor: a failure stops before anything that depends on it.
    pub async fn apply(self) -> Result<PublishReport, Error> {
        let plan = super::plan::publish(&self.observed());
        let mut report = PublishReport {
            target: self.store.describe(),
            written: Vec::new(),
            unchanged: Vec::new(),
        };
        for step in &self.plan.steps {
            if step.action == ObjectAction::Unchanged {
                report.unchanged.push(step.object.key.clone());
            } else {
                report.written.push(step.object.key.clone());
            }
        }
        let handles = Handles {
            store: Some(self.store),
            ..Handles::default()
        };
        execute(&plan, &handles, &mut Quiet).await?;
        Ok(report)
    }
}

/// Reads the target and plans the publish of `set`. AWS is loaded for an S3 target only.
pub async fn prepare(set: &KeySet, t: &TargetSpec, aws: &AwsSource) -> Result<Prepared, Error> {
    if t.to.starts_with("s3://") {
        return prepare_s3(t, set, aws).await;
    }
    if t.to.contains("://") {
        refuse!(
            "--to {}: publish targets are a directory or s3://BUCKET[/PREFIX]",
            t.to
        );
    }
    let issuer = issuer_of(t, "")?;
    let docs = render(set, &issuer, &t.jwks_path);
    let store = AnyStore::Dir(DirStore::new(PathBuf::from(&t.to)));
    let desired = publish_objects(&docs, "", None);
    let existing = store::read(&store, &desired).await?;
    Ok(Prepared {
        issuer,
        store,
        bucket: None,
        bucket_changes: Vec::new(),
        published_kids: published_kids(&existing),
        published_issuer: published_issuer(&existing),
        new_kids: kids_of(set),
        plan: plan_publish(desired, existing),
    })
}

/// Checks what can be checked of a target before any call (and before its lock is taken): the
/// target's form, the issuer a directory needs, an S3 issuer against its bucket and region.
pub async fn check(t: &TargetSpec, aws: &AwsSource) -> Result<(), Error> {
    if t.to.starts_with("s3://") {
        let loc = S3Location::parse(&t.to)?;
        let ctx: &AwsContext = aws.context().await?;
        s3_issuer(&loc, t.issuer.as_ref(), &ctx.region)?;
        return Ok(());
    }
    if t.to.contains("://") {
        refuse!(
            "--to {}: publish targets are a directory or s3://BUCKET[/PREFIX]",
            t.to
        );
    }
    if t.issuer.is_none() {
        refuse!("--issuer URL is required here (the URL kube-apiserver's --service-account-issuer names)");
    }
    Ok(())
}

/// The issuer the documents of `t` will name, known before any call: for S3 the one given
/// (checked against the bucket) or derived from bucket, prefix and region; for a directory the
/// one given. `prepare` publishes exactly this one.
pub fn issuer_of(t: &TargetSpec, region: &str) -> Result<IssuerUrl, Error> {
    if t.to.starts_with("s3://") {
        return s3_issuer(&S3Location::parse(&t.to)?, t.issuer.as_ref(), region);
    }
    match &t.issuer {
        Some(i) => Ok(i.clone()),
        None => refuse!("--issuer URL is required here (the URL kube-apiserver's --service-account-issuer names)"),
    }
}

/// The issuer an S3 target publishes: the one given (checked against the bucket), or the one
/// derived from bucket, prefix and region.
pub fn s3_issuer(
    loc: &S3Location,
    given: Option<&IssuerUrl>,
    region: &str,
) -> Result<IssuerUrl, Error> {
    Ok(match given {
        Some(i) => {
            loc.check_issuer(i, region)?;
            i.clone()
        }
        None => loc.issuer(region)?,
    })
}

async fn prepare_s3(t: &TargetSpec, set: &KeySet, aws: &AwsSource) -> Result<Prepared, Error> {
    let loc = S3Location::parse(&t.to)?;
    let ctx: &AwsContext = aws.context().await?;
    let issuer = issuer_of(t, &ctx.region)?;
    let docs = render(set, &issuer, &t.jwks_path);
    let desired = publish_objects(&docs, &loc.prefix, Some(&t.cache_control));
    let store = S3Store::new(
        ctx.s3(loc.bucket.contains('.')),
        loc.clone(),
        t.public_access == PublicAccess::Acl,
    );

    let exists = match store.bucket_region().await? {
        Some(r) if r != ctx.region => refuse!(
            "bucket {} is in {r}, not in {}: pass --region {r} (the issuer URL is derived from the region)",
            loc.bucket,
            ctx.region
        ),
        Some(_) => true,
        None if t.create_bucket => false,
        None => refuse!("bucket {} does not exist in this account: create it with --create-bucket (s3.create_bucket = true in the file), or check the name and the region (--region, aws.region)", loc.bucket),
    };
    // The bucket's set-up and the published documents, read side by side.
    let (state, existing) = tokio::try_join!(
        async {
            if t.create_bucket {
                store.bucket_state(exists).await.map(Some)
            } else {
                Ok(None)
            }
        },
        async {
            if exists {
                store::read(&store, &desired).await
            } else {
                Ok(Vec::new())
            }
        }
    )?;
    let bucket_changes = if let Some(state) = state {
        let keys: Vec<String> = desired.iter().map(|o| o.key.clone()).collect();
        let wanted = BucketWanted {
            region: ctx.region.clone(),
            public_access: t.public_access,
            tags: t.tags.clone(),
            statement: bucket::public_read_statement(
                Partition::of_region(&ctx.region),
                &loc,
                &keys,
            ),
            issuer: issuer.as_str().to_string(),
            allow_public_grants: t.allow_public_grants,
        };
        bucket::plan(&loc.bucket, &state, &wanted)?
    } else {
        Vec::new()
    };
    Ok(Prepared {
        issuer,
        store: AnyStore::S3(store),
        bucket: Some(loc.bucket.clone()),
        bucket_changes,
        published_kids: published_kids(&existing),
        published_issuer: published_issuer(&existing),
        new_kids: kids_of(set),
        plan: plan_publish(desired, existing),
    })
}

/// The kids of the JWKS among `existing` (it is the first object: JWKS first).
/// The issuer named by the discovery document among `existing` (the second object).
fn published_issuer(existing: &[Option<ExistingObject>]) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_slice(&existing.get(1)?.as_ref()?.body).ok()?;
    doc.get("issuer")?.as_str().map(str::to_string)
}

fn published_kids(existing: &[Option<ExistingObject>]) -> BTreeSet<String> {
    existing
        .first()
        .and_then(Option::as_ref)
        .and_then(|o| jwks_kids(&o.body))
        .unwrap_or_default()
}

fn kids_of(set: &KeySet) -> BTreeSet<String> {
    set.kids().into_iter().map(|(k, _)| k.to_string()).collect()
}

/// What a publish found and did.
pub struct Published {
    /// The issuer the documents name.
    pub issuer: IssuerUrl,
    /// The store, described.
    pub target: String,
    /// The kids published.
    pub kids: Vec<String>,
    /// Bucket set-up planned.
    pub bucket_changes: Vec<BucketChange>,
    /// The objects planned.
    pub plan: PublishPlan,
    /// The plan, one line each.
    pub lines: Vec<String>,
    /// Whether anything was (or would be) written.
    pub pending: bool,
    /// What was written; `None` when nothing was to be, or only planned.
    pub result: Option<PublishReport>,
}

/// Plans the publish of `set` to `t` and, unless `plan_only`, writes it. A published key the
/// new set drops is refused unless `may_remove` allows it.
pub async fn publish(
    set: &KeySet,
    t: &TargetSpec,
    aws: &AwsSource,
    plan_only: bool,
    may_remove: impl Fn(&str) -> bool,
) -> Result<Published, Error> {
    if t.cdn.is_some() {
        return super::cdn::publish(set, t, aws, plan_only, may_remove).await;
    }
    let p = prepare(set, t, aws).await?;
    p.check_issuer(t.allow_issuer_change)?;
    p.check_removals(may_remove)?;
    let mut out = Published {
        issuer: p.issuer.clone(),
        target: p.store.describe(),
        kids: set.kids().into_iter().map(|(k, _)| k.to_string()).collect(),
        bucket_changes: p.bucket_changes.clone(),
        plan: p.plan.clone(),
        lines: p.lines(),
        pending: p.pending(),
        result: None,
    };
    if !plan_only && out.pending {
        out.result = Some(p.apply().await?);
    }
    Ok(out)
}
