//! `irsa-issuer publish`: plan, then write the documents to a directory or an S3 bucket.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use serde::Serialize;

use super::{parse_tag, print_json, AwsArgs, IssuerArgs, KeyArgs, Outcome, OutputFormat};
use crate::aws::bucket::{self, BucketChange, BucketWanted, PublicAccess};
use crate::aws::names::{Partition, S3Location};
use crate::oidc::documents::{render, KeySet};
use crate::oidc::issuer::IssuerUrl;
use crate::publish::objects::{
    publish_objects, DesiredObject, ExistingObject, ObjectAction, PublishPlan, PublishStep,
};
use crate::publish::{self as store, dir::DirStore, s3::S3Store, PublishReport, Store};

/// Arguments of `publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    keys: KeyArgs,
    #[command(flatten)]
    target: PublishTarget,
    /// Only print what would be written; exit 0 if nothing, 2 if something would change.
    #[arg(long)]
    plan: bool,
}

/// Where and how documents are published (shared by `publish` and `rotate`).
#[derive(Debug, Args)]
pub struct PublishTarget {
    #[command(flatten)]
    pub(super) issuer: IssuerArgs,
    /// Where to publish: a directory (served as the issuer's root by any web server), or
    /// s3://BUCKET[/PREFIX] (the issuer is then https://s3.REGION.amazonaws.com/BUCKET[/PREFIX]).
    #[arg(long, value_name = "DIR|s3://BUCKET[/PREFIX]")]
    pub(super) to: Option<String>,
    /// S3: create the bucket if missing, tag it, and make the two documents publicly readable.
    #[arg(long)]
    pub(super) create_bucket: bool,
    /// S3: how the documents are made public by --create-bucket.
    #[arg(long, value_enum, default_value_t = PublicAccess::Policy)]
    pub(super) public_access: PublicAccess,
    /// S3: the Cache-Control of both objects.
    #[arg(long, default_value = "public, max-age=300", value_name = "VALUE")]
    pub(super) cache_control: String,
    /// S3: a bucket tag KEY=VALUE for --create-bucket (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    pub(super) tags: Vec<(String, String)>,
    #[command(flatten)]
    pub(super) aws: AwsArgs,
}

#[derive(Serialize)]
struct PublishOutput<'a> {
    issuer: &'a str,
    target: String,
    kids: Vec<String>,
    #[serde(skip_serializing_if = "<[BucketChange]>::is_empty")]
    bucket_changes: &'a [BucketChange],
    plan: &'a PublishPlan,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<PublishReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aws_calls: Option<Vec<String>>,
}

pub(super) async fn run(a: PublishArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let set = KeySet::new(a.keys.load()?)?;
    publish(&set, &a.target, a.plan, out).await
}

/// Either kind of document store.
pub(super) enum AnyStore {
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
pub(super) struct Prepared {
    /// The issuer the documents name.
    pub issuer: IssuerUrl,
    /// The store.
    pub store: AnyStore,
    /// The bucket, for an S3 target.
    pub bucket: Option<String>,
    /// Bucket set-up to do first.
    pub bucket_changes: Vec<BucketChange>,
    /// The objects.
    pub plan: PublishPlan,
    /// The AWS context used (S3 targets).
    pub ctx: Option<crate::aws::sdk::AwsContext>,
}

impl Prepared {
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
            .map(|c| c.describe(bucket))
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

    /// Sets up the bucket (if asked), then writes the changed objects, JWKS first.
    pub async fn apply(&self) -> anyhow::Result<PublishReport> {
        if let AnyStore::S3(s3) = &self.store {
            s3.apply_bucket(&self.bucket_changes).await?;
        }
        Ok(store::apply(&self.store, &self.plan).await?)
    }
}

/// Publishes `set` to `a`'s target (which must be given).
pub(super) async fn publish(
    set: &KeySet,
    a: &PublishTarget,
    plan_only: bool,
    out: OutputFormat,
) -> anyhow::Result<Outcome> {
    let p = prepare(set, a, None).await?;
    let pending = p.pending();
    if out == OutputFormat::Text {
        println!("Publish plan for {}:", p.store.describe());
        for line in p.lines() {
            println!("  {line}");
        }
    }
    let result = if plan_only || !pending {
        None
    } else {
        Some(p.apply().await?)
    };
    match out {
        OutputFormat::Json => print_json(&PublishOutput {
            issuer: p.issuer.as_str(),
            target: p.store.describe(),
            kids: set.kids().into_iter().map(|(k, _)| k.to_string()).collect(),
            bucket_changes: &p.bucket_changes,
            plan: &p.plan,
            result,
            aws_calls: p.ctx.as_ref().map(|c| c.recorder.calls()),
        })?,
        OutputFormat::Text => match (&result, pending) {
            (Some(r), _) => println!(
                "Published {}: {} written, {} unchanged.",
                p.issuer,
                r.written.len(),
                r.unchanged.len()
            ),
            (None, false) => println!("No changes: the published documents are up to date."),
            (None, true) => println!("Plan only: nothing was written."),
        },
    }
    Ok(if plan_only && pending {
        Outcome::ChangesPending
    } else {
        Outcome::Done
    })
}

/// Reads the target and plans the publish of `set`; `ctx` is reused for S3 when given.
pub(super) async fn prepare(
    set: &KeySet,
    a: &PublishTarget,
    ctx: Option<crate::aws::sdk::AwsContext>,
) -> anyhow::Result<Prepared> {
    let Some(to) = a.to.as_deref() else {
        bail!("--to is required: a directory, or s3://BUCKET[/PREFIX]");
    };
    if to.starts_with("s3://") {
        return prepare_s3(a, to, set, ctx).await;
    }
    if to.contains("://") {
        bail!("--to {to}: publish targets are a directory or s3://BUCKET[/PREFIX]");
    }
    let (issuer, jwks_path) = a.issuer.parse()?;
    let docs = render(set, &issuer, &jwks_path);
    let store = AnyStore::Dir(DirStore::new(PathBuf::from(to)));
    let plan = store::plan(&store, publish_objects(&docs, "", None)).await?;
    Ok(Prepared {
        issuer,
        store,
        bucket: None,
        bucket_changes: Vec::new(),
        plan,
        ctx: None,
    })
}

async fn prepare_s3(
    a: &PublishTarget,
    to: &str,
    set: &KeySet,
    ctx: Option<crate::aws::sdk::AwsContext>,
) -> anyhow::Result<Prepared> {
    let loc = S3Location::parse(to)?;
    let (given, jwks_path) = a.issuer.parse_optional()?;
    let ctx = match ctx {
        Some(c) => c,
        None => a.aws.load().await?,
    };
    let issuer = match given {
        Some(i) => {
            loc.check_issuer(&i, &ctx.region)?;
            i
        }
        None => loc.issuer(&ctx.region)?,
    };
    let docs = render(set, &issuer, &jwks_path);
    let desired = publish_objects(&docs, &loc.prefix, Some(&a.cache_control));
    let store = S3Store::new(
        ctx.s3(loc.bucket.contains('.')),
        loc.clone(),
        a.public_access == PublicAccess::Acl,
    );

    let exists = match store.bucket_region().await? {
        Some(r) if r != ctx.region => bail!(
            "bucket {} is in {r}, not in {}: pass --region {r} (the issuer URL is derived from the region)",
            loc.bucket,
            ctx.region
        ),
        Some(_) => true,
        None if a.create_bucket => false,
        None => bail!("bucket {} does not exist in this account: create it with --create-bucket, or check the name and --region", loc.bucket),
    };
    let bucket_changes = if a.create_bucket {
        let keys: Vec<String> = desired.iter().map(|o| o.key.clone()).collect();
        let wanted = BucketWanted {
            region: ctx.region.clone(),
            public_access: a.public_access,
            tags: a.tags.iter().cloned().collect(),
            statement: bucket::public_read_statement(
                Partition::of_region(&ctx.region),
                &loc,
                &keys,
            ),
        };
        bucket::plan(&loc.bucket, &store.bucket_state(exists).await?, &wanted)?
    } else {
        Vec::new()
    };
    let plan = if exists {
        store::plan(&store, desired).await?
    } else {
        PublishPlan {
            steps: desired
                .into_iter()
                .map(|object| PublishStep {
                    object,
                    action: ObjectAction::Create,
                })
                .collect(),
        }
    };
    Ok(Prepared {
        issuer,
        store: AnyStore::S3(store),
        bucket: Some(loc.bucket.clone()),
        bucket_changes,
        plan,
        ctx: Some(ctx),
    })
}
