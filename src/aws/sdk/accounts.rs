//! Reaching the accounts an operation runs in: the current credentials' account, and each
//! account reached by assuming a role in it (with an external ID when its trust policy asks).

use super::{AwsContext, AwsError, Caller};

/// One account to reach: `None` is the current credentials' account, `Some((role ARN,
/// external ID))` one reached through STS.
pub type Target = Option<(String, Option<String>)>;

/// Why the accounts could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// AssumeRole failed.
    #[error("cannot reach the account of {role}")]
    Reach {
        /// The role.
        role: String,
        /// What STS said.
        #[source]
        source: AwsError,
    },
    /// GetCallerIdentity failed.
    #[error("cannot identify {via}")]
    Identify {
        /// The credentials.
        via: String,
        /// What STS said.
        #[source]
        source: AwsError,
    },
    /// The same account twice.
    #[error(
        "account {account} is reached twice (the second time via {via}): list each account once"
    )]
    Twice {
        /// The account.
        account: String,
        /// The second way to it.
        via: String,
    },
}

/// Reaches one target: its context, and who the credentials are there.
pub async fn reach_one(
    base: &AwsContext,
    target: &Target,
    session_name: &str,
) -> Result<(AwsContext, Caller), AccountsError> {
    let (ctx, via) = match target {
        None => (base.clone(), "the current credentials".to_string()),
        Some((role, ext)) => (
            base.assume_role(role, ext.as_deref(), session_name)
                .await
                .map_err(|source| AccountsError::Reach {
                    role: role.clone(),
                    source,
                })?,
            role.clone(),
        ),
    };
    let caller = ctx
        .caller()
        .await
        .map_err(|source| AccountsError::Identify { via, source })?;
    Ok((ctx, caller))
}

/// Reaches every target, `concurrency` at a time (AssumeRole and GetCallerIdentity side by
/// side), in order, failing when any fails, and refuses one account reached twice (its
/// resources would be planned twice).
pub async fn reach(
    base: &AwsContext,
    targets: &[Target],
    session_name: &str,
    concurrency: usize,
) -> Result<Vec<(AwsContext, Caller)>, AccountsError> {
    use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
    let reached: Vec<(AwsContext, Caller)> = stream::iter(targets)
        .map(|t| reach_one(base, t, session_name))
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut out: Vec<(AwsContext, Caller)> = Vec::new();
    for ((ctx, caller), t) in reached.into_iter().zip(targets) {
        if out.iter().any(|(_, c)| c.account == caller.account) {
            return Err(AccountsError::Twice {
                account: caller.account,
                via: t
                    .as_ref()
                    .map(|(r, _)| r.clone())
                    .unwrap_or_else(|| "the current credentials".into()),
            });
        }
        out.push((ctx, caller));
    }
    Ok(out)
}
