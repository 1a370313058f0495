//! `irsa-issuer verify`: fetch what STS fetches, read what IAM holds, and print each check as
//! ok or fail with its fix. The checks themselves are in [`irsa_issuer::verify::checks`].

use std::path::PathBuf;

use anyhow::bail;
use clap::{ArgGroup, Args};
use serde::Serialize;

use super::accounts::AccountArgs;
use super::apply::ConfigArgs;
use super::{print_json, AwsArgs, Outcome, OutputFormat, TlsArgs};
use irsa_issuer::reconcile::verify::VerifyRequest;
use irsa_issuer::verify::checks::{Check, Status};

/// Arguments of `verify`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).multiple(true).args(["file", "issuer", "pod"])))]
pub struct VerifyArgs {
    /// The cluster's configuration file: its issuer, keys, accounts and roles are checked.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Check this issuer URL alone (its provider in the current account, and --assume-role's).
    #[arg(long, value_name = "URL", conflicts_with = "file")]
    issuer: Option<String>,
    /// A service-account token to check as STS would (signature, iss, aud, exp, sub, roles).
    #[arg(long, value_name = "FILE")]
    token: Option<PathBuf>,
    /// The audience tokens carry (default: the first provider client ID, else sts.amazonaws.com).
    #[arg(long, value_name = "AUD")]
    audience: Option<String>,
    /// Check one pod instead (`kubectl get pod NAME -o json`, or `-` for stdin): its role and
    /// token variables, the projected token they name, its audience and lifetime, the region
    /// variables and, with AWS, the role and its trust policy. With -f, against that file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["issuer", "token"])]
    pod: Option<PathBuf>,
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

#[derive(Serialize)]
struct PodReport<'a> {
    pod: &'a str,
    ok: bool,
    failed: usize,
    checks: &'a [Check],
}

async fn verify_pod(a: VerifyArgs, path: PathBuf, out: OutputFormat) -> anyhow::Result<Outcome> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read the pod {}: {e}", path.display()))?
    };
    let pod = irsa_issuer::webhook::mutate::parse_pod(&text, &path.display().to_string())
        .map_err(anyhow::Error::msg)?;
    let config = match &a.file {
        Some(f) => Some(ConfigArgs { file: f.clone() }.load()?),
        None => None,
    };
    if config.is_some() && !a.accounts.roles.is_empty() {
        bail!("--assume-role goes without -f; with -f the accounts come from the file");
    }
    a.accounts.validate()?;
    let name = format!(
        "{}/{}",
        pod["metadata"]["namespace"].as_str().unwrap_or("default"),
        irsa_issuer::webhook::mutate::pod_name(&pod)
    );
    let request = irsa_issuer::reconcile::pod::PodRequest {
        pod,
        config,
        file: a.file.as_ref().map(|f| f.display().to_string()),
        skip_aws: a.skip_aws,
        region: a.aws.region.clone(),
        profile: a.aws.profile.clone(),
        accounts: a.accounts.targets(),
        role_session_name: a.accounts.role_session_name.clone(),
    };
    let all = irsa_issuer::reconcile::pod::verify_pod(&request).await?;
    let failed = all.iter().filter(|c| c.status == Status::Fail).count();
    match out {
        OutputFormat::Json => print_json(&PodReport {
            pod: &name,
            ok: failed == 0,
            failed,
            checks: &all,
        })?,
        OutputFormat::Text => {
            println!("Verifying pod {name} as its SDK and STS would see it:");
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

pub(super) async fn verify(a: VerifyArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    if let Some(p) = a.pod.clone() {
        return verify_pod(a, p, out).await;
    }
    let config = match &a.file {
        Some(f) => Some(ConfigArgs { file: f.clone() }.load()?),
        None => None,
    };
    if config.is_some() && !a.accounts.roles.is_empty() {
        bail!("--assume-role goes with --issuer; with -f the accounts come from the file");
    }
    a.accounts.validate()?;
    let request = VerifyRequest {
        config,
        file: a.file.as_ref().map(|f| f.display().to_string()),
        issuer: a.issuer.clone(),
        token: a.token.clone(),
        audience: a.audience.clone(),
        skip_aws: a.skip_aws,
        ca_file: a.tls.ca_file.clone(),
        connect_to: a.tls.connect_to,
        region: a.aws.region.clone(),
        profile: a.aws.profile.clone(),
        accounts: a.accounts.targets(),
        role_session_name: a.accounts.role_session_name.clone(),
    };
    let v = irsa_issuer::reconcile::verify::verify(&request, now()).await?;
    let all = &v.checks;
    let failed = all.iter().filter(|c| c.status == Status::Fail).count();
    match out {
        OutputFormat::Json => print_json(&Report {
            issuer: v.issuer.as_str(),
            ok: failed == 0,
            failed,
            checks: all,
        })?,
        OutputFormat::Text => {
            println!("Verifying {} as STS would:", v.issuer);
            print_checks(all);
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
