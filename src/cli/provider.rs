//! `irsa-issuer thumbprint`, `provider apply|show|delete`, `iam-policy`.

use anyhow::bail;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::{parse_tag, print_json, AwsArgs, Outcome, OutputFormat, TlsArgs};
use crate::aws::iam::Providers;
use crate::aws_names::{provider_arn, Partition, S3Location, Thumbprint};
use crate::fetch::HostThumbprint;
use crate::issuer::IssuerUrl;
use crate::provider::{plan, ProviderChange, ProviderSpec, ProviderState};
use crate::runner_policy::{self, Capability};

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

/// Identifies the provider.
#[derive(Debug, Args)]
pub struct ProviderTarget {
    /// The issuer URL (the tokens' `iss`).
    #[arg(long, value_name = "URL")]
    issuer: String,
    #[command(flatten)]
    aws: AwsArgs,
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
    #[arg(long = "for", value_enum, value_delimiter = ',', default_values = ["publish", "bucket", "provider"])]
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

#[derive(Serialize)]
struct ProviderOutput<'a> {
    account: &'a str,
    arn: &'a str,
    action: &'static str,
    changes: &'a [ProviderChange],
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<&'a ProviderState>,
    aws_calls: Vec<String>,
}

pub(super) async fn run(cmd: ProviderCommand, out: OutputFormat) -> anyhow::Result<Outcome> {
    match cmd {
        ProviderCommand::Apply(a) => apply(a, out).await,
        ProviderCommand::Show(a) => show(a, out).await,
        ProviderCommand::Delete(a) => delete(a, out).await,
    }
}

async fn apply(a: ApplyArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let issuer = IssuerUrl::parse(&a.target.issuer, false)?;
    // IAM's URL rules are checked before any network or AWS call.
    crate::provider::validate_url(&issuer)?;
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
    // Limits on client IDs and tags before the thumbprint fetch (a placeholder stands in for it).
    ProviderSpec::new(
        &issuer,
        client_ids.clone(),
        thumbprints
            .iter()
            .cloned()
            .chain(auto.then(|| Thumbprint::of_der(b""))),
        a.tags.clone(),
    )?;
    if auto {
        let found = a.tls.fetcher()?.issuer_thumbprints(&issuer).await?;
        if out == OutputFormat::Text {
            print_thumbprints(&found, out)?;
        }
        thumbprints.extend(found.into_iter().map(|t| t.thumbprint));
    }
    let spec = ProviderSpec::new(&issuer, client_ids, thumbprints, a.tags.clone())?;
    let caller = ctx.caller().await?;
    let arn = provider_arn(caller.partition, &caller.account, &issuer);
    let providers = Providers::new(ctx.iam());
    let actual = providers.get(&arn).await?;
    let changes = plan(&spec, actual.as_ref());
    if out == OutputFormat::Text {
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
        (None, false) => "create",
        (Some(_), false) => "update",
    };
    let final_arn = if a.plan || changes.is_empty() {
        arn.clone()
    } else {
        providers.apply(&arn, &changes).await?
    };
    match out {
        OutputFormat::Json => print_json(&ProviderOutput {
            account: &caller.account,
            arn: &final_arn,
            action: if a.plan && !changes.is_empty() {
                "plan"
            } else {
                action
            },
            changes: &changes,
            provider: actual.as_ref(),
            aws_calls: ctx.recorder.calls(),
        })?,
        OutputFormat::Text if a.plan => println!("Plan only: nothing was changed."),
        OutputFormat::Text if !changes.is_empty() => {
            println!("Applied {} change(s).", changes.len())
        }
        OutputFormat::Text => {}
    }
    Ok(if a.plan && !changes.is_empty() {
        Outcome::ChangesPending
    } else {
        Outcome::Done
    })
}

async fn lookup(
    t: &ProviderTarget,
) -> anyhow::Result<(
    crate::aws::AwsContext,
    String,
    String,
    Option<ProviderState>,
)> {
    let issuer = IssuerUrl::parse(&t.issuer, false)?;
    let ctx = t.aws.load().await?;
    let caller = ctx.caller().await?;
    let arn = provider_arn(caller.partition, &caller.account, &issuer);
    let state = Providers::new(ctx.iam()).get(&arn).await?;
    Ok((ctx, caller.account, arn, state))
}

async fn show(a: ShowArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let (_, account, arn, state) = lookup(&a.target).await?;
    let Some(state) = state else {
        bail!("there is no OIDC provider {arn} in account {account}: create it with `irsa-issuer provider apply --issuer {}`", a.target.issuer);
    };
    match out {
        OutputFormat::Json => print_json(&state)?,
        OutputFormat::Text => {
            println!("arn          {}", state.arn);
            println!("url          {}", state.url);
            println!(
                "client IDs   {}",
                state
                    .client_ids
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!(
                "thumbprints  {}",
                state
                    .thumbprints
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!(
                "tags         {}",
                state
                    .tags
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!(
                "managed      {}",
                if state.is_managed() {
                    "yes (managed-by=irsa-issuer)"
                } else {
                    "no"
                }
            );
        }
    }
    Ok(Outcome::Done)
}

async fn delete(a: DeleteArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let (ctx, account, arn, state) = lookup(&a.target).await?;
    let action = match &state {
        None => "absent",
        Some(s) if !s.is_managed() && !a.force => {
            return Err(crate::provider::ProviderError::NotManaged { arn }.into())
        }
        Some(_) if a.plan => "plan",
        Some(_) => {
            Providers::new(ctx.iam()).delete(&arn).await?;
            "deleted"
        }
    };
    match out {
        OutputFormat::Json => print_json(&ProviderOutput {
            account: &account,
            arn: &arn,
            action,
            changes: &[],
            provider: state.as_ref(),
            aws_calls: ctx.recorder.calls(),
        })?,
        OutputFormat::Text => match action {
            "absent" => println!("No provider {arn}: nothing to delete."),
            "plan" => println!("- delete provider {arn}\nPlan only: nothing was changed."),
            _ => println!("Deleted provider {arn}."),
        },
    }
    Ok(if action == "plan" {
        Outcome::ChangesPending
    } else {
        Outcome::Done
    })
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
