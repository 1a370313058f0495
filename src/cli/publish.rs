//! `irsa-issuer publish`: plan, then write the documents to a directory or an S3 bucket.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use serde::Serialize;

use super::{parse_tag, print_json, AwsArgs, IssuerArgs, KeyArgs, Outcome, OutputFormat};
use crate::aws_names::{Partition, S3Location};
use crate::bucket::{self, BucketChange, BucketWanted, PublicAccess};
use crate::documents::{render, KeySet};
use crate::plan::{publish_objects, ObjectAction, PublishPlan, PublishStep};
use crate::store::{self, dir::DirStore, s3::S3Store, PublishReport, Store};

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
    create_bucket: bool,
    /// S3: how the documents are made public by --create-bucket.
    #[arg(long, value_enum, default_value_t = PublicAccess::Policy)]
    public_access: PublicAccess,
    /// S3: the Cache-Control of both objects.
    #[arg(long, default_value = "public, max-age=300", value_name = "VALUE")]
    cache_control: String,
    /// S3: a bucket tag KEY=VALUE for --create-bucket (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
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

fn print_plan(plan: &PublishPlan, bucket_lines: &[String], target: &str) {
    println!("Publish plan for {target}:");
    for line in bucket_lines {
        println!("  {line}");
    }
    for step in &plan.steps {
        let (sign, what) = match &step.action {
            ObjectAction::Create => ("+", "create".to_string()),
            ObjectAction::Update { reasons } => ("~", format!("update ({})", reasons.join(", "))),
            ObjectAction::Unchanged => ("=", "unchanged".to_string()),
        };
        println!("  {sign} {:<40} {what}", step.object.key);
    }
}

pub(super) async fn run(a: PublishArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let set = KeySet::new(a.keys.load()?)?;
    publish(&set, &a.target, a.plan, out).await
}

/// Publishes `set` to `a`'s target (which must be given).
pub(super) async fn publish(
    set: &KeySet,
    a: &PublishTarget,
    plan: bool,
    out: OutputFormat,
) -> anyhow::Result<Outcome> {
    let Some(to) = a.to.as_deref() else {
        bail!("--to is required: a directory, or s3://BUCKET[/PREFIX]");
    };
    if to.starts_with("s3://") {
        return run_s3(a, to, plan, set, out).await;
    }
    if to.contains("://") {
        bail!("--to {to}: publish targets are a directory or s3://BUCKET[/PREFIX]");
    }
    let (issuer, jwks_path) = a.issuer.parse()?;
    let docs = render(set, &issuer, &jwks_path);
    let store = DirStore::new(PathBuf::from(to));
    let steps = store::plan(&store, publish_objects(&docs, "", None)).await?;
    finish(to, plan, out, &store, issuer.as_str(), set, &steps, None).await
}

async fn run_s3(
    a: &PublishTarget,
    to: &str,
    plan_only: bool,
    set: &KeySet,
    out: OutputFormat,
) -> anyhow::Result<Outcome> {
    let loc = S3Location::parse(to)?;
    let (given, jwks_path) = a.issuer.parse_optional()?;
    let ctx = a.aws.load().await?;
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
    finish(
        to,
        plan_only,
        out,
        &store,
        issuer.as_str(),
        set,
        &plan,
        Some((&store, &bucket_changes, &ctx)),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn finish<S: Store + Sync>(
    to: &str,
    plan_only: bool,
    out: OutputFormat,
    store: &S,
    issuer: &str,
    set: &KeySet,
    plan: &PublishPlan,
    s3: Option<(&S3Store, &[BucketChange], &crate::aws::AwsContext)>,
) -> anyhow::Result<Outcome> {
    let bucket_changes = s3.map(|(_, c, _)| c).unwrap_or_default();
    let target = store.describe();
    let pending = plan.has_changes() || !bucket_changes.is_empty();
    if out == OutputFormat::Text {
        let bucket = to
            .trim_start_matches("s3://")
            .split('/')
            .next()
            .unwrap_or_default();
        let lines: Vec<String> = bucket_changes.iter().map(|c| c.describe(bucket)).collect();
        print_plan(plan, &lines, &target);
    }
    let result = if plan_only || !pending {
        None
    } else {
        // The bucket first: the objects may need it to exist.
        if let Some((bucket, changes, _)) = s3 {
            bucket.apply_bucket(changes).await?;
        }
        Some(store::apply(store, plan).await?)
    };
    match out {
        OutputFormat::Json => print_json(&PublishOutput {
            issuer,
            target,
            kids: set.kids().into_iter().map(|(k, _)| k.to_string()).collect(),
            bucket_changes,
            plan,
            result,
            aws_calls: s3.map(|(_, _, c)| c.recorder.calls()),
        })?,
        OutputFormat::Text => match (&result, pending) {
            (Some(r), _) => println!(
                "Published {issuer}: {} written, {} unchanged.",
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
