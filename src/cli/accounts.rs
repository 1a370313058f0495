//! Running one operation in several AWS accounts: the current credentials' account and each
//! `--assume-role` target. One account's failure does not stop the others; the results are
//! reported per account and the exit code says whether any failed.

use std::future::Future;

use anyhow::{bail, Context as _};
use clap::Args;
use serde::Serialize;

use super::{print_json, Outcome, OutputFormat};
use crate::aws::sdk::{AwsContext, Caller};

/// Which accounts an operation runs in.
#[derive(Debug, Clone, Args)]
pub struct AccountArgs {
    /// Also run in the account of this IAM role, assumed with STS (repeatable).
    #[arg(long = "assume-role", value_name = "ROLE_ARN")]
    pub roles: Vec<String>,
    /// External ID for --assume-role: once for all roles, or once per --assume-role, in order.
    #[arg(long = "external-id", value_name = "ID")]
    pub external_ids: Vec<String>,
    /// Session name for --assume-role (shows in the target accounts' CloudTrail).
    #[arg(long, default_value = "irsa-issuer", value_name = "NAME")]
    pub role_session_name: String,
    /// Run only in the --assume-role accounts, not in the current credentials' account.
    #[arg(long)]
    pub no_current_account: bool,
}

impl AccountArgs {
    /// Checks the ARNs and external IDs before any call.
    pub fn validate(&self) -> anyhow::Result<()> {
        for arn in &self.roles {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            let ok = parts.len() == 6
                && parts[0] == "arn"
                && parts[2] == "iam"
                && parts[4].len() == 12
                && parts[4].bytes().all(|b| b.is_ascii_digit())
                && parts[5].starts_with("role/");
            if !ok {
                bail!("--assume-role {arn} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)");
            }
        }
        let n = self.external_ids.len();
        if n > 1 && n != self.roles.len() {
            bail!("{n} --external-id values for {} --assume-role: give one for all, or one per role in the same order", self.roles.len());
        }
        if self.no_current_account && self.roles.is_empty() {
            bail!("--no-current-account needs at least one --assume-role");
        }
        let sn = &self.role_session_name;
        if !(2..=64).contains(&sn.len())
            || !sn
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "=,.@-_".contains(c))
        {
            bail!("--role-session-name {sn}: 2-64 letters, digits and =,.@-_");
        }
        Ok(())
    }

    /// The accounts, in order: `None` for the current credentials' account (unless excluded),
    /// then each role to assume with its external ID.
    pub fn targets(&self) -> Vec<Target> {
        let mut out = Vec::new();
        if !self.no_current_account {
            out.push(None);
        }
        for (i, role) in self.roles.iter().enumerate() {
            let ext = self
                .external_ids
                .get(i)
                .or(self.external_ids.first())
                .cloned();
            out.push(Some((role.clone(), ext)));
        }
        out
    }

    /// How many accounts the operation will run in.
    pub fn count(&self) -> usize {
        self.roles.len() + usize::from(!self.no_current_account)
    }
}

/// One account to reach: `None` is the current credentials' account, `Some((role ARN,
/// external ID))` one reached through STS.
pub type Target = Option<(String, Option<String>)>;

/// Reaches every target, stopping at the first that fails, and refuses one account reached
/// twice (its resources would be planned twice).
pub async fn reach(
    base: &AwsContext,
    targets: &[Target],
    session_name: &str,
) -> anyhow::Result<Vec<(AwsContext, Caller)>> {
    let mut out: Vec<(AwsContext, Caller)> = Vec::new();
    for t in targets {
        let (ctx, via) = match t {
            None => (base.clone(), "the current credentials".to_string()),
            Some((role, ext)) => (
                base.assume_role(role, ext.as_deref(), session_name)
                    .await
                    .with_context(|| format!("cannot reach the account of {role}"))?,
                role.clone(),
            ),
        };
        let caller = ctx
            .caller()
            .await
            .with_context(|| format!("cannot identify {via}"))?;
        if out.iter().any(|(_, c)| c.account == caller.account) {
            bail!(
                "account {} is reached twice (the second time via {via}): list each account once",
                caller.account
            );
        }
        out.push((ctx, caller));
    }
    Ok(out)
}

/// The outcome in one account.
#[derive(Debug, Clone, Serialize)]
pub struct AccountResult {
    /// The account ID (the role's account when it could not be reached).
    pub account: String,
    /// The role assumed to get there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// The resource's ARN.
    pub arn: String,
    /// create, update, unchanged, delete, absent, plan.
    pub action: String,
    /// ok or failed.
    pub status: &'static str,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What was (or would be) changed.
    pub changes: Vec<serde_json::Value>,
    /// The resource as found (for `show`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

/// What one account's operation reports on success.
#[derive(Default)]
pub struct Done {
    /// The resource's ARN.
    pub arn: String,
    /// What happened.
    pub action: String,
    /// The changes.
    pub changes: Vec<serde_json::Value>,
    /// The resource as found.
    pub detail: Option<serde_json::Value>,
}

/// Runs `op` in each account, in order: the current one first (unless excluded), then each
/// assumed role.
pub async fn for_each<F, Fut>(
    base: &AwsContext,
    args: &AccountArgs,
    mut op: F,
) -> Vec<AccountResult>
where
    F: FnMut(AwsContext, Caller) -> Fut,
    Fut: Future<Output = anyhow::Result<Done>>,
{
    let targets: Vec<(Option<String>, Option<String>)> = args
        .targets()
        .into_iter()
        .map(|t| match t {
            Some((role, ext)) => (Some(role), ext),
            None => (None, None),
        })
        .collect();
    let mut results = Vec::new();
    for (via, external_id) in targets {
        let fallback_account = via
            .as_deref()
            .and_then(|r| r.split(':').nth(4))
            .unwrap_or("?")
            .to_string();
        let attempt = async {
            let ctx = match &via {
                Some(role) => {
                    base.assume_role(role, external_id.as_deref(), &args.role_session_name)
                        .await?
                }
                None => base.clone(),
            };
            let caller = ctx.caller().await?;
            let account = caller.account.clone();
            op(ctx, caller).await.map(|d| (account, d))
        };
        results.push(match attempt.await {
            Ok((account, d)) => AccountResult {
                account,
                via,
                arn: d.arn,
                action: d.action,
                status: "ok",
                error: None,
                changes: d.changes,
                detail: d.detail,
            },
            Err(e) => AccountResult {
                account: fallback_account,
                via,
                arn: String::new(),
                action: "none".into(),
                status: "failed",
                error: Some(format!("{e:#}")),
                changes: Vec::new(),
                detail: None,
            },
        });
    }
    results
}

#[derive(Serialize)]
struct Report<'a> {
    results: &'a [AccountResult],
    aws_calls: Vec<String>,
}

/// Prints the per-account results and turns them into an outcome: an error naming the failed
/// accounts if any failed; otherwise pending changes (`plan`) or done.
pub fn report(
    results: &[AccountResult],
    ctx: &AwsContext,
    out: OutputFormat,
    pending: bool,
) -> anyhow::Result<Outcome> {
    match out {
        OutputFormat::Json => print_json(&Report {
            results,
            aws_calls: ctx.recorder.calls(),
        })?,
        OutputFormat::Text => {
            println!(
                "{:<14} {:<10} {:<8} RESOURCE",
                "ACCOUNT", "ACTION", "STATUS"
            );
            for r in results {
                let what = if r.status == "ok" {
                    r.arn.clone()
                } else {
                    r.error.clone().unwrap_or_default()
                };
                println!("{:<14} {:<10} {:<8} {what}", r.account, r.action, r.status);
            }
        }
    }
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.status == "failed")
        .map(|r| format!("{} ({})", r.account, r.error.as_deref().unwrap_or("?")))
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} of {} account(s) failed: {}",
            failed.len(),
            results.len(),
            failed.join("; ")
        );
    }
    Ok(if pending {
        Outcome::ChangesPending
    } else {
        Outcome::Done
    })
}
