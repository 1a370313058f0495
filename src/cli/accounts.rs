//! The accounts a single-resource command runs in (`--assume-role`, `--external-id`, …), and
//! the per-account result table; the exit code says whether any account failed.

use anyhow::bail;
use clap::Args;
use serde::Serialize;

use super::{print_json, Outcome, OutputFormat};
use irsa_issuer::aws::names::{validate_iam_arn, IamArnKind};
use irsa_issuer::aws::sdk::accounts::Target;
use irsa_issuer::aws::sdk::AwsContext;
use irsa_issuer::reconcile::iam::{AccountResult, Accounts};

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
            if let Err(e) = validate_iam_arn(arn, IamArnKind::Role) {
                bail!("--assume-role: {e}");
            }
        }
        let n = self.external_ids.len();
        if n > 1 && n != self.roles.len() {
            bail!("{n} --external-id values for {} --assume-role: give one for all, or one per role in the same order", self.roles.len());
        }
        if !self.external_ids.is_empty() && self.roles.is_empty() {
            bail!("--external-id is given without --assume-role: an external ID goes with the role it is assumed into; add --assume-role ROLE_ARN, or drop --external-id");
        }
        for id in &self.external_ids {
            let ok = (2..=1224).contains(&id.chars().count())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c));
            if !ok {
                bail!("--external-id `{id}` is not an external ID STS accepts: 2 to 1224 letters, digits and +=,.@:/-_; use the value the role's trust policy requires (sts:ExternalId)");
            }
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

    /// The accounts and session name, for the operations.
    pub fn accounts(&self) -> Accounts {
        Accounts {
            targets: self.targets(),
            session_name: self.role_session_name.clone(),
            only: Vec::new(),
        }
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
