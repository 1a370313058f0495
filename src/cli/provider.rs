//! `irsa-issuer thumbprint`, `provider apply|show|delete`, `iam-policy`.

use clap::{Args, Subcommand};

use super::accounts::{self, AccountArgs};
use super::{parse_tag, print_json, AwsArgs, FileArg, Outcome, OutputFormat, TlsArgs};
use irsa_issuer::aws::names::{Partition, S3Location, Thumbprint};
use irsa_issuer::aws::provider::ProviderState;
use irsa_issuer::aws::runner_policy::{self, Capability};
use irsa_issuer::oidc::issuer::IssuerUrl;
use irsa_issuer::reconcile::config::Target;
use irsa_issuer::reconcile::iam::{self, ProviderRequest};
use irsa_issuer::verify::fetch::HostThumbprint;

/// Arguments of `thumbprint`.
#[derive(Debug, Args)]
pub struct ThumbprintArgs {
    /// The issuer URL (else the file's issuer).
    #[arg(value_name = "URL", required_unless_present = "file")]
    url: Option<String>,
    #[command(flatten)]
    file: FileArg,
    #[command(flatten)]
    tls: TlsArgs,
}

/// Provider commands.
#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Create or reconcile the provider for an issuer (a plan is printed first).
    Apply(ApplyArgs),
    /// Show the provider for an issuer.
    Show(ShowArgs),
    /// Delete the provider for an issuer (only one irsa-issuer created, unless --force).
    Delete(DeleteArgs),
}

/// Identifies the provider, and the accounts it lives in.
#[derive(Debug, Args)]
pub struct ProviderTarget {
    #[command(flatten)]
    file: FileArg,
    /// The issuer URL (the tokens' `iss`; else the file's).
    #[arg(long, value_name = "URL", required_unless_present = "file")]
    issuer: Option<String>,
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    accounts: AccountArgs,
}

/// Arguments of `provider apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    target: ProviderTarget,
    /// An audience tokens may carry (repeatable; default sts.amazonaws.com, in every partition).
    #[arg(long = "client-id", value_name = "ID")]
    client_ids: Vec<String>,
    /// A thumbprint (40 hex digits), or `auto` (default): the issuer's TLS chain where IAM uses
    /// one, none for an S3-hosted JWKS or a chain ending in a public CA.
    #[arg(long = "thumbprint", value_name = "HEX|auto")]
    thumbprints: Vec<String>,
    /// A tag KEY=VALUE (repeatable); irsa-issuer adds managed-by=irsa-issuer.
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
    /// Only print the plan; exit 0 if nothing would change, 2 if something would.
    #[arg(long)]
    plan: bool,
    /// Take over a provider for this issuer that irsa-issuer did not create (untagged, or
    /// tagged for another issuer).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    tls: TlsArgs,
}

/// Arguments of `provider show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    target: ProviderTarget,
}

/// Arguments of `provider delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    target: ProviderTarget,
    /// Delete even a provider that is not this issuer's (untagged, or tagged for another).
    #[arg(long)]
    force: bool,
    /// Only print what would be deleted; exit 2 if something would.
    #[arg(long)]
    plan: bool,
}

/// Arguments of `iam-policy`.
#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// The commands the principal will run.
    #[arg(long = "for", value_enum, value_delimiter = ',', default_values = ["publish", "bucket", "provider", "role"])]
    capabilities: Vec<Capability>,
    /// Scope the S3 statements to this target (else any bucket).
    #[arg(long, value_name = "s3://BUCKET[/PREFIX]")]
    to: Option<String>,
    /// Scope the IAM statements to this issuer's provider and to resources tagged for it (else
    /// any provider and resource tagged managed-by=irsa-issuer).
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// The cluster's file: its target, issuer, role path, policies, boundaries and accounts
    /// scope the policy (the flags below add to it).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<std::path::PathBuf>,
    /// The IAM path roles are created under (default /irsa/, or iam.role_path of the file).
    #[arg(long, value_name = "PATH")]
    role_path: Option<String>,
    /// A managed policy roles may have attached (repeatable): AttachRolePolicy is granted for
    /// these only.
    #[arg(long = "policy-arn", value_name = "ARN")]
    policy_arns: Vec<String>,
    /// A permissions boundary roles must carry (repeatable): inline policies are granted only
    /// on roles under one.
    #[arg(long = "permissions-boundary", value_name = "ARN")]
    permissions_boundaries: Vec<String>,
    /// A role to assume in another account (repeatable): sts:AssumeRole is granted for these
    /// only.
    #[arg(long = "assume-role", value_name = "ROLE_ARN")]
    assume_roles: Vec<String>,
    /// The partition's ARNs to use (default: the issuer's, or the file's region's, else aws).
    #[arg(long, value_parser = ["aws", "aws-cn", "aws-us-gov"])]
    partition: Option<String>,
}

/// The provider's issuer, the file (if any), the AWS context and the accounts: the flags, else
/// the file's.
struct Resolved {
    issuer: IssuerUrl,
    config: Option<irsa_issuer::reconcile::config::Config>,
    ctx: irsa_issuer::aws::sdk::AwsContext,
    accounts: irsa_issuer::reconcile::iam::Accounts,
}

impl ProviderTarget {
    async fn resolve(&self) -> anyhow::Result<Resolved> {
        let config = self.file.load(Some(&self.aws))?;
        let issuer = match (&self.issuer, &config) {
            (Some(i), _) => IssuerUrl::parse(i, false)?,
            (None, Some(c)) => super::file_issuer(c).await?,
            (None, None) => anyhow::bail!("--issuer URL is required, or -f FILE"),
        };
        self.accounts.validate()?;
        let accounts = match &config {
            Some(c) if self.accounts.roles.is_empty() => super::file_accounts(c),
            _ => self.accounts.accounts(),
        };
        let aws = AwsArgs {
            region: self
                .aws
                .region
                .clone()
                .or(config.as_ref().and_then(|c| c.aws.region.clone())),
            profile: self
                .aws
                .profile
                .clone()
                .or(config.as_ref().and_then(|c| c.aws.profile.clone())),
        };
        Ok(Resolved {
            issuer,
            ctx: aws.load().await?,
            config,
            accounts,
        })
    }
}

pub(super) async fn thumbprint(a: ThumbprintArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let c = a.file.load(None)?;
    let issuer = match (&a.url, &c) {
        (Some(u), _) => IssuerUrl::parse(u, false)?,
        (None, Some(c)) => super::file_issuer(c).await?,
        (None, None) => anyhow::bail!("give the issuer URL, or -f FILE"),
    };
    let found = a
        .tls
        .fetcher_with(c.as_ref())?
        .issuer_thumbprints(&issuer)
        .await?;
    print_thumbprints(&found, out)?;
    Ok(Outcome::Done)
}

fn print_thumbprints(found: &[HostThumbprint], out: OutputFormat) -> anyhow::Result<()> {
    match out {
        OutputFormat::Json => print_json(&found)?,
        OutputFormat::Text => {
            for t in found {
                println!(
                    "{}  {} ({}, last of {} certificates)",
                    t.thumbprint, t.host, t.role, t.chain_length
                );
            }
        }
    }
    Ok(())
}

pub(super) async fn run(cmd: ProviderCommand, out: OutputFormat) -> anyhow::Result<Outcome> {
    match cmd {
        ProviderCommand::Apply(a) => apply(a, out).await,
        ProviderCommand::Show(a) => show(a, out).await,
        ProviderCommand::Delete(a) => delete(a, out).await,
    }
}

async fn apply(a: ApplyArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let r = a.target.resolve().await?;
    let issuer = r.issuer.clone();
    // IAM's URL rules and the account flags are checked before any network or AWS call.
    irsa_issuer::aws::provider::validate_url(&issuer)?;
    let mut thumbprints = Vec::new();
    let mut auto = a.thumbprints.is_empty();
    for t in &a.thumbprints {
        if t == "auto" {
            auto = true;
        } else {
            thumbprints.push(Thumbprint::parse(t)?);
        }
    }
    let mut client_ids = a.client_ids.clone();
    let mut tags = a.tags.clone();
    if let Some(c) = &r.config {
        if a.thumbprints.is_empty() {
            auto = c.provider.thumbprints.auto;
            thumbprints = c.provider.thumbprints.fixed.clone();
        }
        if client_ids.is_empty() {
            client_ids = c.provider.client_ids.clone();
        }
        tags.splice(0..0, c.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let ctx = r.ctx;
    let req = ProviderRequest {
        issuer,
        client_ids,
        thumbprints,
        auto_thumbprint: auto,
        tags,
        plan_only: a.plan,
        force: a.force,
    };
    let done = iam::provider_apply(
        &req,
        &ctx,
        &a.tls.fetcher_with(r.config.as_ref())?,
        &r.accounts,
    )
    .await?;
    if out == OutputFormat::Text {
        print_thumbprints(&done.fetched, out)?;
        for r in done.results.iter().filter(|r| !r.failed()) {
            println!("Provider {} (account {}):", r.arn, r.account);
            if r.lines.is_empty() {
                println!("  no changes");
            }
            for line in &r.lines {
                println!("  {line}");
            }
        }
    }
    let pending = done.results.iter().any(|r| r.action == "plan");
    accounts::report(&done.results, &ctx, out, pending)
}

async fn show(a: ShowArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let r = a.target.resolve().await?;
    let ctx = r.ctx;
    let results = iam::provider_show(&r.issuer, &ctx, &r.accounts).await;
    if out == OutputFormat::Text {
        for r in results.iter().filter_map(|r| r.detail.as_ref()) {
            let Ok(state) = serde_json::from_value::<ProviderState>(r.clone()) else {
                continue;
            };
            let join = |v: Vec<String>| v.join(", ");
            println!("arn          {}", state.arn);
            println!("url          {}", state.url);
            println!(
                "client IDs   {}",
                join(state.client_ids.iter().cloned().collect())
            );
            println!(
                "thumbprints  {}",
                join(state.thumbprints.iter().cloned().collect())
            );
            println!(
                "tags         {}",
                join(state.tags.iter().map(|(k, v)| format!("{k}={v}")).collect())
            );
            println!(
                "managed      {}\n",
                if state.is_managed() {
                    "yes (managed-by=irsa-issuer)"
                } else {
                    "no"
                }
            );
        }
    }
    accounts::report(&results, &ctx, out, false)
}

async fn delete(a: DeleteArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let r = a.target.resolve().await?;
    let ctx = r.ctx;
    let results = iam::provider_delete(&r.issuer, a.force, a.plan, &ctx, &r.accounts).await;
    let pending = results.iter().any(|r| r.action == "plan");
    accounts::report(&results, &ctx, out, pending)
}

pub(super) fn iam_policy(a: IamPolicyArgs) -> anyhow::Result<Outcome> {
    let config = match &a.file {
        Some(f) => Some(super::apply::ConfigArgs { file: f.clone() }.load()?),
        None => None,
    };
    let mut location = a.to.as_deref().map(S3Location::parse).transpose()?;
    let mut issuer = a
        .issuer
        .as_deref()
        .map(|i| IssuerUrl::parse(i, false))
        .transpose()?;
    let mut policy_arns = a.policy_arns.clone();
    let mut boundaries = a.permissions_boundaries.clone();
    let mut assume_roles = a.assume_roles.clone();
    let mut role_path = a.role_path.clone();
    let mut issuer_pattern = None;
    if let Some(c) = &config {
        if let (None, Target::S3(l)) = (&location, &c.target) {
            location = Some(l.clone());
        }
        if issuer.is_none() {
            issuer = match (&c.issuer, &c.target, &c.aws.region) {
                (Some(i), _, _) => Some(i.clone()),
                // Behind CloudFront: the alias names the issuer; without one, CloudFront does.
                (None, Target::S3(l), _) if c.cdn.is_some() => c
                    .cdn
                    .as_ref()
                    .and_then(|cdn| cdn.alias.as_deref())
                    .map(|a| irsa_issuer::aws::cdn::issuer(a, l))
                    .transpose()?,
                (None, Target::S3(l), Some(region)) => Some(l.issuer(region)?),
                _ => None,
            };
        }
        if let (None, Some(_), Target::S3(l)) = (&issuer, &c.cdn, &c.target) {
            // CloudFront names the distribution's domain when it creates it.
            issuer_pattern = Some(if l.prefix.is_empty() {
                "*.cloudfront.net".to_string()
            } else {
                format!("*.cloudfront.net/{}", l.prefix)
            });
            eprintln!("note: the issuer is the CloudFront distribution's domain, not known before it exists: providers are scoped to *.cloudfront.net; once applied, set `issuer` in the file to scope them to it");
        }
        for r in &c.roles {
            policy_arns.extend(r.policy_arns.iter().cloned());
            boundaries.extend(r.permissions_boundary.iter().cloned());
        }
        assume_roles.extend(c.accounts.iter().map(|x| x.assume_role.clone()));
        role_path.get_or_insert_with(|| c.iam.role_path.clone());
    }
    for v in [&mut policy_arns, &mut boundaries, &mut assume_roles] {
        v.sort();
        v.dedup();
    }
    let implied = issuer.as_ref().and_then(Partition::of_issuer).or_else(|| {
        config
            .as_ref()
            .and_then(|c| c.aws.region.as_deref())
            .map(Partition::of_region)
    });
    let partition = match (&a.partition, implied) {
        (Some(p), implied) => {
            let p = Partition::of_arn(&format!("arn:{p}:")).unwrap_or(Partition::Aws);
            if let Some(i) = implied.filter(|i| *i != p) {
                anyhow::bail!(
                    "--partition {} contradicts the issuer or region, which are in {}: drop --partition",
                    p.as_str(),
                    i.as_str()
                );
            }
            p
        }
        (None, implied) => implied.unwrap_or(Partition::Aws),
    };
    let role_path = role_path.unwrap_or_else(|| irsa_issuer::aws::role::DEFAULT_PATH.to_string());
    irsa_issuer::aws::role::validate_path(&role_path)?;
    let scope = runner_policy::Scope {
        location: location.as_ref(),
        issuer: issuer.as_ref(),
        issuer_pattern,
        role_path: &role_path,
        policy_arns,
        permissions_boundaries: boundaries,
        assume_roles,
    };
    if config.as_ref().is_some_and(|c| c.cdn.is_some())
        && !a.capabilities.contains(&Capability::Cdn)
    {
        eprintln!("note: the file has a [cdn]: add `--for ...,cdn` for the CloudFront permissions apply and destroy need");
    }
    let p = runner_policy::policy(&a.capabilities, partition, &scope)?;
    for note in &p.notes {
        eprintln!("note: {note}");
    }
    print_json(&p.document)?;
    Ok(Outcome::Done)
}
