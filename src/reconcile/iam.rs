//! The single-resource IAM commands (`provider apply|show|delete`, `role apply|delete|manifest`,
//! `trust-policy`), run in several accounts: the current credentials' account and each assumed
//! role's. One account's failure does not stop the others; each account gets a result.

use std::future::Future;

use serde::Serialize;

use super::Error;
use crate::aws::names::{provider_arn, Partition, Thumbprint};
use crate::aws::provider::{self, ProviderChange, ProviderError, ProviderSpec};
use crate::aws::role::{self, RoleChange, RoleError, RoleTemplate};
use crate::aws::sdk::accounts::{reach_one, Target};
use crate::aws::sdk::providers::Providers;
use crate::aws::sdk::roles::Roles;
use crate::aws::sdk::{AwsContext, Caller};
use crate::oidc::issuer::IssuerUrl;
use crate::verify::fetch::{Fetcher, HostThumbprint};

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
    /// create, update, unchanged, delete, absent, plan, show.
    pub action: String,
    /// ok or failed.
    pub status: &'static str,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What was (or would be) changed.
    pub changes: Vec<serde_json::Value>,
    /// The same changes, one line each, for people.
    #[serde(skip)]
    pub lines: Vec<String>,
    /// The resource as found (for `show`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

impl AccountResult {
    /// Whether it failed.
    pub fn failed(&self) -> bool {
        self.status == "failed"
    }
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
    /// The changes, one line each.
    pub lines: Vec<String>,
    /// The resource as found.
    pub detail: Option<serde_json::Value>,
}

/// Where an operation runs.
#[derive(Debug, Clone)]
pub struct Accounts {
    /// `None` is the current credentials' account; then each role to assume.
    pub targets: Vec<Target>,
    /// STS session name for the assumed roles.
    pub session_name: String,
    /// Only these account IDs (a file's role that lists its accounts); empty: all.
    pub only: Vec<String>,
}

/// Runs `op` in each account, in order, and collects one result per account.
pub async fn for_each<F, Fut>(
    base: &AwsContext,
    accounts: &Accounts,
    mut op: F,
) -> Vec<AccountResult>
where
    F: FnMut(AwsContext, Caller) -> Fut,
    Fut: Future<Output = Result<Done, Error>>,
{
    let mut results = Vec::new();
    for target in &accounts.targets {
        let via = target.as_ref().map(|(role, _)| role.clone());
        let fallback_account = via
            .as_deref()
            .and_then(|r| r.split(':').nth(4))
            .unwrap_or("?")
            .to_string();
        let attempt = async {
            let (ctx, caller) = reach_one(base, target, &accounts.session_name).await?;
            let account = caller.account.clone();
            if !accounts.only.is_empty() && !accounts.only.contains(&account) {
                return Ok(None);
            }
            op(ctx, caller).await.map(|d| Some((account, d)))
        };
        results.push(match attempt.await {
            Ok(None) => continue,
            Ok(Some((account, d))) => AccountResult {
                account,
                via,
                arn: d.arn,
                action: d.action,
                status: "ok",
                error: None,
                changes: d.changes,
                lines: d.lines,
                detail: d.detail,
            },
            Err(e) => AccountResult {
                account: fallback_account,
                via,
                arn: String::new(),
                action: "none".into(),
                status: "failed",
                error: Some(super::chain(&e)),
                changes: Vec::new(),
                lines: Vec::new(),
                detail: None,
            },
        });
    }
    results
}

fn values<T: Serialize>(items: &[T]) -> Vec<serde_json::Value> {
    items
        .iter()
        .filter_map(|c| serde_json::to_value(c).ok())
        .collect()
}

fn action(exists: bool, changed: bool, plan_only: bool) -> &'static str {
    match (exists, changed) {
        (_, false) => "unchanged",
        (_, true) if plan_only => "plan",
        (false, true) => "create",
        (true, true) => "update",
    }
}

/// What `provider apply` is asked for.
#[derive(Debug, Clone)]
pub struct ProviderRequest {
    /// The issuer.
    pub issuer: IssuerUrl,
    /// Client IDs; empty: sts.amazonaws.com.
    pub client_ids: Vec<String>,
    /// Thumbprints given.
    pub thumbprints: Vec<Thumbprint>,
    /// Also take the thumbprint from the issuer's TLS chain.
    pub auto_thumbprint: bool,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Only plan.
    pub plan_only: bool,
    /// Take over a provider that is not this issuer's.
    pub force: bool,
}

/// What `provider apply` did.
pub struct ProviderApplied {
    /// The thumbprints fetched from the issuer (with `auto`).
    pub fetched: Vec<HostThumbprint>,
    /// One result per account.
    pub results: Vec<AccountResult>,
}

/// Creates or reconciles the provider in every account, with one spec everywhere (the same URL,
/// client IDs and thumbprints). Everything known is checked before any network or AWS call.
pub async fn provider_apply(
    req: &ProviderRequest,
    base: &AwsContext,
    fetcher: &Fetcher,
    accounts: &Accounts,
) -> Result<ProviderApplied, Error> {
    let client_ids = if req.client_ids.is_empty() {
        vec![crate::aws::names::DEFAULT_AUDIENCE.to_string()]
    } else {
        req.client_ids.clone()
    };
    let partial = ProviderSpec::without_thumbprints(&req.issuer, client_ids, req.tags.clone())?;
    let mut thumbprints = req.thumbprints.clone();
    let mut fetched = Vec::new();
    // With `auto`, a thumbprint only where IAM uses one: not for an S3-hosted JWKS, nor for a
    // host whose chain ends in a public CA (IAM trusts both through its own CA library since
    // 2023, and the thumbprint is optional in CreateOpenIDConnectProvider).
    if req.auto_thumbprint && !crate::aws::names::is_s3_issuer(&req.issuer) {
        fetched = fetcher.issuer_thumbprints(&req.issuer).await?;
        thumbprints.extend(
            fetched
                .iter()
                .filter(|t| !t.public_ca)
                .map(|t| t.thumbprint.clone()),
        );
    }
    let spec = partial.with_thumbprints(thumbprints)?;
    let (plan_only, force) = (req.plan_only, req.force);
    let results = for_each(base, accounts, |ctx, caller| {
        let (spec, issuer) = (spec.clone(), req.issuer.clone());
        async move {
            let arn = provider_arn(caller.partition, &caller.account, &issuer);
            let providers = Providers::new(ctx.iam());
            let actual = providers.get(&arn).await?;
            let changes = provider::plan(&spec, actual.as_ref(), force)?;
            let action = action(actual.is_some(), !changes.is_empty(), plan_only);
            let arn = if plan_only || changes.is_empty() {
                arn
            } else {
                providers.apply(&arn, &changes).await?
            };
            Ok(Done {
                arn,
                action: action.into(),
                changes: values(&changes),
                lines: changes.iter().map(ProviderChange::describe).collect(),
                detail: None,
            })
        }
    })
    .await;
    Ok(ProviderApplied { fetched, results })
}

/// The provider of `issuer` in every account (`show`).
pub async fn provider_show(
    issuer: &IssuerUrl,
    base: &AwsContext,
    accounts: &Accounts,
) -> Vec<AccountResult> {
    for_each(base, accounts, |ctx, caller| {
        let issuer = issuer.clone();
        async move {
            let arn = provider_arn(caller.partition, &caller.account, &issuer);
            let Some(state) = Providers::new(ctx.iam()).get(&arn).await? else {
                super::refuse!("there is no OIDC provider {arn}: create it with `irsa-issuer provider apply --issuer {issuer}`");
            };
            Ok(Done {
                arn,
                action: "show".into(),
                detail: serde_json::to_value(&state).ok(),
                ..Done::default()
            })
        }
    })
    .await
}

/// Deletes the provider of `issuer` in every account; one irsa-issuer did not create only with
/// `force`.
pub async fn provider_delete(
    issuer: &IssuerUrl,
    force: bool,
    plan_only: bool,
    base: &AwsContext,
    accounts: &Accounts,
) -> Vec<AccountResult> {
    for_each(base, accounts, |ctx, caller| {
        let issuer = issuer.clone();
        async move {
            let arn = provider_arn(caller.partition, &caller.account, &issuer);
            let providers = Providers::new(ctx.iam());
            let action = match providers.get(&arn).await? {
                None => "absent",
                Some(s) if !s.is_ours(issuer.as_str()) && !force => {
                    let owner = s.owner(issuer.as_str());
                    return Err(ProviderError::NotOurs { arn, owner }.into());
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
    .await
}

/// Creates or reconciles the role `template` describes in every account, its trust policy
/// naming that account's provider.
pub async fn role_apply(
    template: &RoleTemplate,
    issuer: &IssuerUrl,
    force: bool,
    plan_only: bool,
    base: &AwsContext,
    accounts: &Accounts,
) -> Result<Vec<AccountResult>, Error> {
    // Everything but the trust policy's account is known now: check it before any call.
    template.spec(issuer, Partition::of_region(&base.region), "000000000000")?;
    Ok(for_each(base, accounts, |ctx, caller| {
        let spec = template.spec(issuer, caller.partition, &caller.account);
        let name = template.name.clone();
        async move {
            let spec = spec?;
            let roles = Roles::new(ctx.iam());
            let actual = roles.get(&name).await?;
            let changes = role::plan(&spec, actual.as_ref(), force)?;
            let action = action(actual.is_some(), !changes.is_empty(), plan_only);
            let created = if plan_only {
                None
            } else {
                roles.apply(&name, &changes).await?
            };
            // The ARN IAM returned (on create) or reported (on read).
            let arn = created.or(actual.map(|s| s.arn)).unwrap_or_else(|| {
                format!(
                    "arn:{}:iam::{}:role/{name}",
                    caller.partition.as_str(),
                    caller.account
                )
            });
            Ok(Done {
                arn,
                action: action.into(),
                changes: values(&changes),
                lines: changes.iter().flat_map(RoleChange::details).collect(),
                detail: None,
            })
        }
    })
    .await)
}

/// Deletes the role `name` (its policies first) in every account; one that is not `issuer`'s
/// only with `force`.
pub async fn role_delete(
    name: &str,
    issuer: &IssuerUrl,
    force: bool,
    plan_only: bool,
    base: &AwsContext,
    accounts: &Accounts,
) -> Vec<AccountResult> {
    for_each(base, accounts, |ctx, caller| {
        let name = name.to_string();
        let provider = provider_arn(caller.partition, &caller.account, issuer);
        async move {
            let roles = Roles::new(ctx.iam());
            let Some(state) = roles.get(&name).await? else {
                return Ok(Done {
                    arn: name,
                    action: "absent".into(),
                    ..Done::default()
                });
            };
            if !state.is_ours(issuer.as_str(), &[provider.as_str()]) && !force {
                let owner = state.owner(issuer.as_str());
                return Err(RoleError::NotOurs { name, owner }.into());
            }
            if !plan_only {
                roles.delete(&state, &name).await?;
            }
            Ok(Done {
                arn: state.arn,
                action: if plan_only { "plan" } else { "delete" }.into(),
                ..Done::default()
            })
        }
    })
    .await
}

/// The ARN of the existing role `name` in the current account.
pub async fn role_arn(name: &str, base: &AwsContext) -> Result<String, Error> {
    match Roles::new(base.iam()).get(name).await? {
        Some(role) => Ok(role.arn),
        None => super::refuse!(
            "there is no role {name} in this account: create it with `irsa-issuer role apply`"
        ),
    }
}

/// The ServiceAccount manifests of the file's roles (those named `only`, when given) in every
/// account of the file, each role checked to exist there at the ARN the manifest names.
pub async fn file_manifests(
    c: &crate::reconcile::config::Config,
    aws: &crate::aws::sdk::AwsSource,
    only: Option<&str>,
) -> Result<Vec<crate::reconcile::manifests::RoleManifests>, Error> {
    if let Some(name) = only {
        if !c.roles.iter().any(|r| r.name == name) {
            super::refuse!(
                "the file has no role {name} (its roles: {})",
                c.roles
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let base = aws.context().await?;
    let reached = super::read::reach_accounts(c, base).await?;
    let callers: Vec<&Caller> = reached.iter().map(|(_, c)| c).collect();
    let all = crate::reconcile::manifests::manifests(c, &callers, only);
    for m in &all {
        let Some((ctx, _)) = reached.iter().find(|(_, k)| k.account == m.account) else {
            continue;
        };
        match Roles::new(ctx.iam()).arn(&m.role).await.map_err(|e| Error::from(e).in_account(&m.account))? {
            Some(arn) if arn == m.role_arn => {}
            Some(arn) => super::refuse!(
                "role {} in account {} is {arn}, not {} as the file's role path says: apply the file first (`irsa-issuer apply -f FILE`)",
                m.role, m.account, m.role_arn
            ),
            None => super::refuse!(
                "there is no role {} in account {} yet: create it with `irsa-issuer apply -f FILE`",
                m.role, m.account
            ),
        }
    }
    Ok(all)
}

/// Who the current credentials are.
pub async fn caller(base: &AwsContext) -> Result<Caller, Error> {
    Ok(base.caller().await?)
}
