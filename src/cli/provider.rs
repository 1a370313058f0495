//! `irsa-issuer thumbprint`, `provider apply|show|delete`, `iam-policy`.

use anyhow::bail;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::accounts::{self, AccountArgs, Done};
use super::{parse_tag, print_json, AwsArgs, Outcome, OutputFormat, TlsArgs};
use crate::aws::names::{provider_arn, Partition, S3Location, Thumbprint};
use crate::aws::provider::{plan, ProviderSpec};
use crate::aws::runner_policy::{self, Capability};
use crate::aws::sdk::providers::Providers;
use crate::oidc::issuer::IssuerUrl;
use crate::verify::fetch::HostThumbprint;

/// Arguments of `thumbprint`.
#[derive(Debug, Args)]
pub struct ThumbprintArgs {
    /// The issuer URL.
    #[arg(value_name = "URL")]
    url: String,
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
    /// The issuer URL (the tokens' `iss`).
    #[arg(long, value_name = "URL")]
    issuer: String,
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
    /// An audience tokens may carry (repeatable; default sts.amazonaws.com, .com.cn in China).
    #[arg(long = "client-id", value_name = "ID")]
    client_ids: Vec<String>,
    /// A thumbprint (40 hex digits), or `auto` to take it from the issuer's TLS chain (default).
    #[arg(long = "thumbprint", value_name = "HEX|auto")]
    thumbprints: Vec<String>,
    /// A tag KEY=VALUE (repeatable); irsa-issuer adds managed-by=irsa-issuer.
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
    /// Only print the plan; exit 0 if nothing would change, 2 if something would.
    #[arg(long)]
    plan: bool,
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
    /// Delete even a provider irsa-issuer did not create.
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
    /// Scope the IAM statements to this issuer's provider (else any provider).
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// The partition's ARNs to use.
    #[arg(long, default_value = "aws", value_parser = ["aws", "aws-cn", "aws-us-gov"])]
    partition: String,
}

pub(super) async fn thumbprint(a: ThumbprintArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let issuer = IssuerUrl::parse(&a.url, false)?;
    let found = a.tls.fetcher()?.issuer_thumbprints(&issuer).await?;
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

fn values<T: Serialize>(items: &[T]) -> Vec<serde_json::Value> {
    items
        .iter()
        .filter_map(|c| serde_json::to_value(c).ok())
        .collect()
}

async fn apply(a: ApplyArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let issuer = IssuerUrl::parse(&a.target.issuer, false)?;
    // IAM's URL rules and the account flags are checked before any network or AWS call.
    crate::aws::provider::validate_url(&issuer)?;
    a.target.accounts.validate()?;
    let mut thumbprints = Vec::new();
    let mut auto = a.thumbprints.is_empty();
    for t in &a.thumbprints {
        if t == "auto" {
            auto = true;
        } else {
            thumbprints.push(Thumbprint::parse(t)?);
        }
    }
    let ctx = a.target.aws.load().await?;
    let partition = Partition::of_region(&ctx.region);
    let client_ids = if a.client_ids.is_empty() {
        vec![partition.default_audience().to_string()]
    } else {
        a.client_ids.clone()
    };
    // Everything known so far is checked before the thumbprint fetch and any AWS call (loading
    // the configuration makes none).
    let partial = ProviderSpec::without_thumbprints(&issuer, client_ids, a.tags.clone())?;
    if auto {
        let found = a.tls.fetcher()?.issuer_thumbprints(&issuer).await?;
        if out == OutputFormat::Text {
            print_thumbprints(&found, out)?;
        }
        thumbprints.extend(found.into_iter().map(|t| t.thumbprint));
    }
    let spec = partial.with_thumbprints(thumbprints)?;
    // One spec for every account: the same URL, client IDs and thumbprints everywhere.
    let (plan_only, text) = (a.plan, out == OutputFormat::Text);
    let results = accounts::for_each(&ctx, &a.target.accounts, |ctx, caller| {
        let (spec, issuer) = (spec.clone(), issuer.clone());
        async move {
            let arn = provider_arn(caller.partition, &caller.account, &issuer);
            let providers = Providers::new(ctx.iam());
            let actual = providers.get(&arn).await?;
            let changes = plan(&spec, actual.as_ref());
            if text {
                println!("Provider {arn} (account {}):", caller.account);
                if changes.is_empty() {
                    println!("  no changes");
                }
                for c in &changes {
                    println!("  {}", c.describe());
                }
            }
            let action = match (&actual, changes.is_empty()) {
                (_, true) => "unchanged",
                (_, false) if plan_only => "plan",
                (None, false) => "create",
                (Some(_), false) => "update",
            };
            let arn = if plan_only || changes.is_empty() {
                arn
            } else {
                providers.apply(&arn, &changes).await?
            };
            Ok(Done {
                arn,
                action: action.into(),
                changes: values(&changes),
                detail: None,
            })
        }
    })
    .await;
    let pending = results.iter().any(|r| r.action == "plan");
    accounts::report(&results, &ctx, out, pending)
}

async fn show(a: ShowArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let issuer = IssuerUrl::parse(&a.target.issuer, false)?;
    a.target.accounts.validate()?;
    let ctx = a.target.aws.load().await?;
    let text = out == OutputFormat::Text;
    let results = accounts::for_each(&ctx, &a.target.accounts, |ctx, caller| {
        let issuer = issuer.clone();
        async move {
            let arn = provider_arn(caller.partition, &caller.account, &issuer);
            let Some(state) = Providers::new(ctx.iam()).get(&arn).await? else {
                bail!("there is no OIDC provider {arn}: create it with `irsa-issuer provider apply --issuer {issuer}`");
            };
            if text {
                println!("arn          {}", state.arn);
                println!("url          {}", state.url);
                println!("client IDs   {}", state.client_ids.iter().cloned().collect::<Vec<_>>().join(", "));
                println!("thumbprints  {}", state.thumbprints.iter().cloned().collect::<Vec<_>>().join(", "));
                println!("tags         {}", state.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", "));
                println!("managed      {}\n", if state.is_managed() { "yes (managed-by=irsa-issuer)" } else { "no" });
            }
            Ok(Done { arn, action: "show".into(), changes: Vec::new(), detail: serde_json::to_value(&state).ok() })
        }
    })
    .await;
    accounts::report(&results, &ctx, out, false)
}

async fn delete(a: DeleteArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let issuer = IssuerUrl::parse(&a.target.issuer, false)?;
    a.target.accounts.validate()?;
    let ctx = a.target.aws.load().await?;
    let (force, plan_only) = (a.force, a.plan);
    let results = accounts::for_each(&ctx, &a.target.accounts, |ctx, caller| {
        let issuer = issuer.clone();
        async move {
            let arn = provider_arn(caller.partition, &caller.account, &issuer);
            let providers = Providers::new(ctx.iam());
            let action = match providers.get(&arn).await? {
                None => "absent",
                Some(s) if !s.is_managed() && !force => {
                    return Err(crate::aws::provider::ProviderError::NotManaged { arn }.into())
                }
                Some(_) if plan_only => "plan",
                Some(_) => {
                    providers.delete(&arn).await?;
                    "delete"
                }
            };
            Ok(Done {
                arn,
                action: action.into(),
                ..Done::default()
            })
        }
    })
    .await;
    let pending = results.iter().any(|r| r.action == "plan");
    accounts::report(&results, &ctx, out, pending)
}

pub(super) fn iam_policy(a: IamPolicyArgs) -> anyhow::Result<Outcome> {
    let location = a.to.as_deref().map(S3Location::parse).transpose()?;
    let issuer = a
        .issuer
        .as_deref()
        .map(|i| IssuerUrl::parse(i, false))
        .transpose()?;
    let partition = Partition::of_arn(&format!("arn:{}:", a.partition)).unwrap_or(Partition::Aws);
    print_json(&runner_policy::policy(
        &a.capabilities,
        partition,
        location.as_ref(),
        issuer.as_ref(),
    ))?;
    Ok(Outcome::Done)
}
