//! `irsa-issuer publish`: plan, then write the documents to a directory or an S3 bucket.

use anyhow::bail;
use clap::Args;
use serde::Serialize;

use super::{parse_tag, print_json, AwsArgs, FileArg, IssuerArgs, KeyArgs, Outcome, OutputFormat};
use irsa_issuer::aws::bucket::{BucketChange, PublicAccess};
use irsa_issuer::aws::cdn::{self, PriceClass};

/// The CDNs irsa-issuer can put in front of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CdnKind {
    /// Amazon CloudFront with an Origin Access Control.
    Cloudfront,
}
use irsa_issuer::aws::sdk::AwsSource;
use irsa_issuer::oidc::documents::KeySet;
use irsa_issuer::oidc::issuer::JwksPath;
use irsa_issuer::publish::objects::PublishPlan;
use irsa_issuer::publish::PublishReport;
use irsa_issuer::reconcile::config::Config;
use irsa_issuer::reconcile::documents::{publish, Published, TargetSpec};
use irsa_issuer::reconcile::read;

/// Arguments of `publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    file: FileArg,
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
    /// S3: how the documents are made public by --create-bucket (default policy, or the
    /// file's s3.public_access).
    #[arg(long, value_enum)]
    pub(super) public_access: Option<PublicAccess>,
    /// S3: the Cache-Control of both objects (default "public, max-age=300", or the file's
    /// s3.cache_control).
    #[arg(long, value_name = "VALUE")]
    pub(super) cache_control: Option<String>,
    /// Publish even when the new JWKS drops a key the target publishes now and the key
    /// directory did not retire: every token that key signed stops verifying.
    #[arg(long)]
    pub(super) allow_key_removal: bool,
    /// Publish where the target publishes another issuer now: every token of that issuer stops
    /// verifying.
    #[arg(long)]
    pub(super) allow_issuer_change: bool,
    /// S3, with --create-bucket: relax Block Public Access even when other public grants in the
    /// bucket (policy statements, or object ACLs in acl mode) would become live.
    #[arg(long)]
    pub(super) allow_public_grants: bool,
    /// S3: serve the documents through a CDN in front of the bucket, which then stays private
    /// (the issuer is https://ALIAS[/PREFIX], or the distribution's https://dXXXX.cloudfront.net).
    #[arg(long, value_enum, value_name = "KIND")]
    pub(super) cdn: Option<CdnKind>,
    /// With --cdn: an own domain for the issuer (needs --acm-certificate-arn).
    #[arg(long, value_name = "DOMAIN", requires = "cdn")]
    pub(super) alias: Option<String>,
    /// With --alias: its ACM certificate, in us-east-1.
    #[arg(long, value_name = "ARN", requires = "cdn")]
    pub(super) acm_certificate_arn: Option<String>,
    /// With --cdn: the edge locations.
    #[arg(long, value_enum, default_value_t = PriceClass::PriceClass100, requires = "cdn")]
    pub(super) price_class: PriceClass,
    /// S3: a bucket tag KEY=VALUE for --create-bucket (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    pub(super) tags: Vec<(String, String)>,
    #[command(flatten)]
    pub(super) aws: AwsArgs,
}

impl PublishTarget {
    /// The target: the flags on top of the file's target and S3 settings (`c`), or the flags
    /// alone, where `--to` is then required.
    pub(super) fn spec(&self, c: Option<&Config>) -> anyhow::Result<TargetSpec> {
        let mut spec = match (c, &self.to) {
            (Some(c), to) => {
                let mut spec = read::target_spec(c);
                if let Some(to) = to {
                    spec.to = to.clone();
                }
                spec
            }
            (None, Some(to)) => TargetSpec {
                issuer: None,
                jwks_path: JwksPath::default(),
                to: to.clone(),
                create_bucket: false,
                public_access: PublicAccess::Policy,
                cache_control: DEFAULT_CACHE_CONTROL.to_string(),
                tags: Default::default(),
                allow_public_grants: false,
                allow_issuer_change: false,
                cdn: None,
            },
            (None, None) => bail!("--to is required: a directory, or s3://BUCKET[/PREFIX] (or -f FILE, whose target is used)"),
        };
        let (issuer, _) = self.issuer.parse_optional()?;
        if let Some(i) = issuer {
            spec.issuer = Some(i);
        }
        if self.issuer.jwks_path.is_some() {
            spec.jwks_path = self.issuer.jwks_path()?;
        }
        spec.create_bucket |= self.create_bucket;
        if let Some(p) = self.public_access {
            spec.public_access = p;
        }
        if let Some(cc) = &self.cache_control {
            spec.cache_control = cc.clone();
        }
        spec.tags.extend(self.tags.iter().cloned());
        spec.allow_public_grants |= self.allow_public_grants;
        spec.allow_issuer_change |= self.allow_issuer_change;
        if let Some(CdnKind::Cloudfront) = self.cdn {
            if !spec.to.starts_with("s3://") {
                bail!("--cdn cloudfront serves an S3 bucket: give --to s3://BUCKET[/PREFIX]");
            }
            if self
                .public_access
                .is_some_and(|p| p != PublicAccess::Policy)
            {
                bail!("--public-access conflicts with --cdn: the bucket stays private and CloudFront reads it through its Origin Access Control");
            }
            if irsa_issuer::reconcile::config::max_age(&spec.cache_control).is_none() {
                bail!("{}", cdn::CdnError::NoMaxAge(spec.cache_control.clone()));
            }
            let c = cdn::CdnConfig {
                alias: self.alias.clone(),
                acm_certificate_arn: self.acm_certificate_arn.clone(),
                price_class: self.price_class,
                deploy_timeout: cdn::DEFAULT_DEPLOY_TIMEOUT,
            };
            cdn::validate(&c)?;
            spec.cdn = Some(c);
        }
        if spec.cdn.is_some() {
            spec.public_access = PublicAccess::None;
        }
        Ok(spec)
    }

    /// The region and profile flags.
    pub(super) fn aws_args(&self) -> &AwsArgs {
        &self.aws
    }

    /// Where AWS settings come from: the flags, else the file's `[aws]`.
    pub(super) fn aws(&self, c: Option<&Config>) -> AwsSource {
        AwsSource::new(
            self.aws
                .region
                .clone()
                .or(c.and_then(|c| c.aws.region.clone())),
            self.aws
                .profile
                .clone()
                .or(c.and_then(|c| c.aws.profile.clone())),
        )
    }
}

/// Cache-Control of both documents unless told otherwise.
pub(super) const DEFAULT_CACHE_CONTROL: &str = "public, max-age=300";

#[derive(Serialize)]
struct PublishOutput<'a> {
    issuer: &'a str,
    target: &'a str,
    kids: &'a [String],
    #[serde(skip_serializing_if = "<[BucketChange]>::is_empty")]
    bucket_changes: &'a [BucketChange],
    plan: &'a PublishPlan,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a PublishReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aws_calls: Option<Vec<String>>,
}

pub(super) async fn run(a: PublishArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let c = a.file.load(Some(a.target.aws_args()))?;
    let set = KeySet::new(a.keys.load_with(c.as_ref())?)?;
    let spec = a.target.spec(c.as_ref())?;
    let aws = a.target.aws(c.as_ref());
    let allow = a.target.allow_key_removal;
    let p = publish(&set, &spec, &aws, a.plan, |_| allow).await?;
    render(&p, &aws, out)?;
    Ok(if a.plan && p.pending {
        Outcome::ChangesPending
    } else {
        Outcome::Done
    })
}

/// Prints what a publish planned and did.
pub(super) fn render(p: &Published, aws: &AwsSource, out: OutputFormat) -> anyhow::Result<()> {
    if out == OutputFormat::Text {
        println!("Publish plan for {}:", p.target);
        for line in &p.lines {
            println!("  {line}");
        }
    }
    match out {
        OutputFormat::Json => print_json(&PublishOutput {
            issuer: p.issuer.as_str(),
            target: &p.target,
            kids: &p.kids,
            bucket_changes: &p.bucket_changes,
            plan: &p.plan,
            result: p.result.as_ref(),
            aws_calls: aws.loaded().map(|c| c.recorder.calls()),
        })?,
        OutputFormat::Text => match (&p.result, p.pending) {
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
    Ok(())
}
