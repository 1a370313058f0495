//! `irsa-issuer verify`: fetch what STS fetches, read what IAM holds, and print each check as
//! ok or fail with its fix. The checks themselves are in [`crate::verify::checks`].

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::{ArgGroup, Args};
use serde::Serialize;

use super::accounts::AccountArgs;
use super::apply::{self, ConfigArgs};
use super::{print_json, AwsArgs, Outcome, OutputFormat, TlsArgs};
use crate::aws::names::{provider_arn, Partition};
use crate::aws::sdk::providers::Providers;
use crate::aws::sdk::roles::Roles;
use crate::aws::sdk::{AwsContext, Caller};
use crate::oidc::issuer::IssuerUrl;
use crate::reconcile::config::{Config, Target};
use crate::rotation::keydir::KeyDir;
use crate::verify::checks::{self as checks, Check, RoleTrust, Status};

/// Arguments of `verify`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["file", "issuer"])))]
pub struct VerifyArgs {
    /// The cluster's configuration file: its issuer, keys, accounts and roles are checked.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Check this issuer URL alone (its provider in the current account, and --assume-role's).
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// A service-account token to check as STS would (signature, iss, aud, exp, sub, roles).
    #[arg(long, value_name = "FILE")]
    token: Option<PathBuf>,
    /// The audience tokens carry (default: the first provider client ID, else sts.amazonaws.com).
    #[arg(long, value_name = "AUD")]
    audience: Option<String>,
    /// Skip the IAM checks (no AWS credentials needed).
    #[arg(long)]
    skip_aws: bool,
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    accounts: AccountArgs,
}

#[derive(Serialize)]
struct Report<'a> {
    issuer: &'a str,
    ok: bool,
    failed: usize,
    checks: &'a [Check],
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn print_checks(checks: &[Check]) {
    for c in checks {
        let tag = match c.status {
            Status::Ok => "ok  ",
            Status::Fail => "FAIL",
            Status::Warn => "warn",
        };
        println!("{tag}  {}: {}", c.name, c.detail);
        if let Some(fix) = &c.fix {
            println!("      fix: {fix}");
        }
    }
}

pub(super) async fn verify(a: VerifyArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let config = match &a.file {
        Some(f) => Some(ConfigArgs { file: f.clone() }.load()?),
        None => None,
    };
    if config.is_some() && !a.accounts.roles.is_empty() {
        bail!("--assume-role goes with --issuer; with -f the accounts come from the file");
    }
    a.accounts.validate()?;
    let fix_publish = match &a.file {
        Some(f) => format!("run `irsa-issuer apply -f {}`", f.display()),
        None => "republish the documents (`irsa-issuer apply -f FILE` or `irsa-issuer publish`)"
            .to_string(),
    };
    let fix_provider = match &a.file {
        Some(f) => format!("run `irsa-issuer apply -f {}`", f.display()),
        None => "run `irsa-issuer provider apply --issuer URL` (or `apply -f FILE`)".to_string(),
    };
    let mut all: Vec<Check> = Vec::new();

    // AWS is loaded only when needed: IAM checks, or an issuer derived from the bucket's region.
    let needs_region = matches!(
        &config,
        Some(Config {
            issuer: None,
            target: Target::S3(_),
            ..
        })
    );
    let base = if !a.skip_aws || needs_region {
        let (region, profile) = match &config {
            Some(c) => (
                a.aws.region.clone().or(c.aws.region.clone()),
                a.aws.profile.clone().or(c.aws.profile.clone()),
            ),
            None => (a.aws.region.clone(), a.aws.profile.clone()),
        };
        Some(AwsContext::load(region.as_deref(), profile.as_deref()).await?)
    } else {
        None
    };

    let given = match (&config, &a.issuer) {
        (_, Some(i)) => i.clone(),
        (Some(c), None) => match (&c.issuer, &c.target) {
            (Some(i), _) => i.to_string(),
            (None, Target::S3(l)) => l
                .issuer(&base.as_ref().map(|b| b.region.clone()).unwrap_or_default())?
                .to_string(),
            (None, Target::Dir(_)) => unreachable!("a directory target has an issuer"),
        },
        (None, None) => unreachable!("clap requires -f or --issuer"),
    };
    let (slash, trimmed) = checks::check_issuer_url(&given);
    all.extend(slash);
    let issuer = IssuerUrl::parse(&trimmed, false)?;

    let fetcher = match (
        &config,
        a.tls.ca_file.is_none() && a.tls.connect_to.is_none(),
    ) {
        (Some(c), true) => apply::fetcher(c)?,
        _ => a.tls.fetcher()?,
    };
    let partition = base
        .as_ref()
        .map(|b| Partition::of_region(&b.region))
        .unwrap_or(Partition::Aws);
    let audience = a.audience.clone().unwrap_or_else(|| {
        config
            .as_ref()
            .and_then(|c| c.provider.client_ids.first().cloned())
            .unwrap_or_else(|| partition.default_audience().to_string())
    });

    // What STS fetches: discovery, then jwks_uri.
    let mut keys = Vec::new();
    let mut jwks_host = None;
    match fetcher.get(&issuer.discovery_url()).await {
        Err(e) => all.push(Check::fail(
            "discovery reachable",
            e.to_string(),
            format!("publish it ({fix_publish}) and make {} reachable over HTTPS with a publicly trusted chain", issuer.discovery_url()),
        )),
        Ok((body, ct)) => {
            all.push(Check::ok(
                "discovery reachable",
                format!("{} over HTTPS, chain verified", issuer.discovery_url()),
            ));
            let (c, jwks_uri) = checks::check_discovery(&issuer, &body, ct.as_deref(), &fix_publish);
            all.extend(c);
            if let Some(uri) = jwks_uri {
                match fetcher.get(&uri).await {
                    Err(e) => all.push(Check::fail(
                        "JWKS reachable",
                        e.to_string(),
                        format!("publish it ({fix_publish})"),
                    )),
                    Ok((body, ct)) => {
                        all.push(Check::ok("JWKS reachable", uri.clone()));
                        let (c, k) = checks::check_jwks(&uri, &body, ct.as_deref(), &fix_publish);
                        all.extend(c);
                        keys = k;
                        jwks_host = url::Url::parse(&uri).ok().and_then(|u| {
                            Some((u.host_str()?.to_string(), u.port_or_known_default()?))
                        });
                    }
                }
            }
        }
    }

    // The local keys, with a file.
    if let (Some(c), false) = (&config, keys.is_empty()) {
        let mut local: BTreeSet<String> = super::load_keys(&c.keys.files)?
            .iter()
            .map(|k| k.key.kid().to_string())
            .collect();
        if let Some(dir) = &c.keys.dir {
            let kd = KeyDir::new(dir);
            let state = kd.load_state_or_empty()?;
            local.extend(state.published().iter().map(|k| k.kid.to_string()));
        }
        let served: BTreeSet<String> = keys
            .iter()
            .filter_map(|k| k["kid"].as_str().map(str::to_string))
            .collect();
        all.push(checks::check_local_keys(&served, &local, &fix_publish));
    }

    // The chain IAM checks: the jwks_uri host's.
    let presented = match &jwks_host {
        Some((host, port)) => match fetcher.thumbprint(host, *port, "jwks_uri").await {
            Ok(t) => Some(t.thumbprint.as_str().to_string()),
            Err(e) => {
                all.push(Check::fail(
                    "TLS thumbprint",
                    e.to_string(),
                    "make the jwks_uri host reachable",
                ));
                None
            }
        },
        None => None,
    };

    // IAM, in every account.
    if let (false, Some(base)) = (a.skip_aws, &base) {
        let reached: anyhow::Result<Vec<(AwsContext, Caller)>> = match &config {
            Some(c) => apply::reach_accounts(c, base).await,
            None => {
                super::accounts::reach(base, &a.accounts.targets(), &a.accounts.role_session_name)
                    .await
            }
        };
        match reached {
            Err(e) => all.push(Check::fail(
                "AWS accounts",
                format!("{e:#}"),
                "check the AWS credentials and the roles to assume (or pass --skip-aws)",
            )),
            Ok(accounts) => {
                let inline = match &config {
                    Some(c) => apply::read_inline(c)?,
                    None => Default::default(),
                };
                for (ctx, caller) in accounts {
                    let arn = provider_arn(caller.partition, &caller.account, &issuer);
                    match Providers::new(ctx.iam()).get(&arn).await {
                        Err(e) => all.push(Check::fail(
                            format!("provider exists ({})", caller.account),
                            e.to_string(),
                            "check the credentials' IAM permissions (`irsa-issuer iam-policy`)",
                        )),
                        Ok(p) => all.extend(checks::check_provider(
                            &caller.account,
                            &arn,
                            p.as_ref(),
                            &audience,
                            presented.as_deref(),
                            &fix_provider,
                        )),
                    }
                    if let Some(c) = &config {
                        all.extend(
                            role_checks(c, &ctx, &caller, &issuer, &inline, &fix_provider).await?,
                        );
                    }
                }
            }
        }
    }

    // The token.
    if let Some(path) = &a.token {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token {}", path.display()))?;
        let roles: Vec<RoleTrust> = config
            .as_ref()
            .map(|c| {
                c.roles
                    .iter()
                    .map(|r| RoleTrust {
                        name: r.name.clone(),
                        subjects: r.service_accounts.iter().map(|s| s.subject()).collect(),
                        audience: r
                            .audience
                            .clone()
                            .unwrap_or_else(|| partition.default_audience().to_string()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        all.extend(checks::check_token(
            &text,
            &issuer,
            &audience,
            &keys,
            &roles,
            now(),
        ));
    }

    let failed = all.iter().filter(|c| c.status == Status::Fail).count();
    match out {
        OutputFormat::Json => print_json(&Report {
            issuer: issuer.as_str(),
            ok: failed == 0,
            failed,
            checks: &all,
        })?,
        OutputFormat::Text => {
            println!("Verifying {issuer} as STS would:");
            print_checks(&all);
            let warned = all.iter().filter(|c| c.status == Status::Warn).count();
            println!(
                "\n{} checks: {} ok, {failed} failed, {warned} warnings.",
                all.len(),
                all.len() - failed - warned
            );
        }
    }
    if failed > 0 {
        bail!("{failed} check(s) failed");
    }
    Ok(Outcome::Done)
}

/// Each configured role in the account exists and matches the file.
async fn role_checks(
    c: &Config,
    ctx: &AwsContext,
    caller: &Caller,
    issuer: &IssuerUrl,
    inline: &std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, serde_json::Value>,
    >,
    fix: &str,
) -> anyhow::Result<Vec<Check>> {
    let roles = Roles::new(ctx.iam());
    let mut out = Vec::new();
    for r in apply::roles_in(c, &caller.account) {
        let name = format!("role {} ({})", r.name, caller.account);
        let spec = apply::role_spec(r, &inline[&r.name], issuer, c, caller)?;
        match roles.get(&r.name).await {
            Err(e) => out.push(Check::fail(
                name,
                e.to_string(),
                "check the credentials' IAM permissions",
            )),
            Ok(None) => out.push(Check::fail(
                name,
                "does not exist".to_string(),
                fix.to_string(),
            )),
            Ok(Some(state)) => match crate::aws::role::plan(&spec, Some(&state), true) {
                Ok(changes) if changes.is_empty() => {
                    out.push(Check::ok(name, "trust policy and policies as configured"))
                }
                Ok(changes) => out.push(Check::fail(
                    name,
                    format!(
                        "drifted: {}",
                        changes
                            .iter()
                            .map(|c| c.describe())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    fix.to_string(),
                )),
                Err(e) => out.push(Check::fail(name, e.to_string(), fix.to_string())),
            },
        }
    }
    Ok(out)
}
