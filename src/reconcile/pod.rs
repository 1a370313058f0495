//! `verify --pod`: the pod's own checks ([`crate::verify::pod`]), the file's view of its role and
//! audience (with `-f`), and what IAM holds (unless `--skip-aws`): the role exists in its
//! account, its trust policy accepts `system:serviceaccount:NS:SA` with the token's audience,
//! and the provider it trusts lists that audience.

use serde_json::Value;

use super::config::Config;
use super::read::{self, reach_accounts, read_provider};
use super::Error;
use crate::aws::names::{provider_arn, DEFAULT_AUDIENCE};
use crate::aws::sdk::accounts::{self, Target as AccountTarget};
use crate::aws::sdk::roles::Roles;
use crate::aws::sdk::{AwsContext, AwsSource, Caller};
use crate::oidc::issuer::IssuerUrl;
use crate::oidc::token::string_like;
use crate::verify::checks::Check;
use crate::verify::pod::{self, PodIdentity};

/// What `verify --pod` checks.
#[derive(Debug, Default)]
pub struct PodRequest {
    /// The pod (`kubectl get pod -o json`).
    pub pod: Value,
    /// The cluster's file, when given.
    pub config: Option<Config>,
    /// Its name, for the fixes.
    pub file: Option<String>,
    /// Leave IAM out.
    pub skip_aws: bool,
    /// Region override.
    pub region: Option<String>,
    /// Profile override.
    pub profile: Option<String>,
    /// Accounts besides the current one, without a file.
    pub accounts: Vec<AccountTarget>,
    /// STS session name for those.
    pub role_session_name: String,
}

/// The role's name: the last part of `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
fn role_name(arn: &str) -> Option<&str> {
    arn.split_once(":role/")
        .and_then(|(_, p)| p.rsplit('/').next())
}

fn role_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// Every check of `verify --pod`.
pub async fn verify_pod(r: &PodRequest) -> Result<Vec<Check>, Error> {
    let max_token_age = r
        .config
        .as_ref()
        .map(|c| c.rotation.max_token_age.as_secs())
        .unwrap_or(24 * 3600);
    let (mut all, id) = pod::check_pod(&r.pod, max_token_age);
    let fix = match &r.file {
        Some(f) => format!("run `irsa-issuer apply -f {f}`"),
        None => "run `irsa-issuer provider apply --issuer URL --client-id AUDIENCE`".to_string(),
    };
    if let Some(c) = &r.config {
        all.extend(file_checks(c, &id, r.file.as_deref().unwrap_or("the file")));
    }
    let (false, Some(arn)) = (r.skip_aws, id.role_arn.clone()) else {
        return Ok(all);
    };
    let aws = AwsSource::new(
        r.region
            .clone()
            .or(r.config.as_ref().and_then(|c| c.aws.region.clone())),
        r.profile
            .clone()
            .or(r.config.as_ref().and_then(|c| c.aws.profile.clone())),
    );
    let base = aws.context().await?;
    let reached = match &r.config {
        Some(c) => reach_accounts(c, base).await,
        None => accounts::reach(
            base,
            &r.accounts,
            &r.role_session_name,
            super::config::DEFAULT_CONCURRENCY,
        )
        .await
        .map_err(Error::from),
    };
    let reached = match reached {
        Ok(a) => a,
        Err(e) => {
            all.push(Check::fail(
                "AWS accounts",
                super::chain(&e),
                "check the AWS credentials and the roles to assume (or pass --skip-aws)",
            ));
            return Ok(all);
        }
    };
    let account = role_account(&arn).unwrap_or("");
    let Some((ctx, caller)) = reached.iter().find(|(_, c)| c.account == account) else {
        all.push(Check::fail(
            "role exists",
            format!("{arn} is in account {account}, which these credentials do not reach"),
            "give that account in the file's [[accounts]] (or --assume-role a role in it), or use credentials of that account",
        ));
        return Ok(all);
    };
    all.extend(iam_checks(r, ctx, caller, base, &arn, &id, &fix).await?);
    Ok(all)
}

/// The file's view: the audience is one of `provider.client_ids`, and the role the pod names,
/// when the file has it, lists the pod's ServiceAccount with that audience.
fn file_checks(c: &Config, id: &PodIdentity, file: &str) -> Vec<Check> {
    let mut out = Vec::new();
    let Some(aud) = id.audience.as_deref().filter(|a| !a.is_empty()) else {
        return out;
    };
    let ids: Vec<String> = if c.provider.client_ids.is_empty() {
        vec![DEFAULT_AUDIENCE.to_string()]
    } else {
        c.provider.client_ids.clone()
    };
    out.push(pod::check_client_ids(
        &format!("{file} (provider.client_ids)"),
        &ids,
        aud,
        &format!("add {aud} to provider.client_ids in {file} and run `irsa-issuer apply -f {file}`, or set the ServiceAccount's audience annotation to one of them"),
    ));
    let Some(name) = id.role_arn.as_deref().and_then(role_name) else {
        return out;
    };
    let sub = id.subject();
    match c.roles.iter().find(|r| r.name == name) {
        None => out.push(Check::warn(
            format!("role {name} in {file}"),
            format!("{file} has no role {name}, so only IAM can say whether it trusts this pod"),
            format!("manage the role in {file} ([[roles]]) or check it with AWS credentials"),
        )),
        Some(role) => {
            let want = role.audience.as_deref().unwrap_or(DEFAULT_AUDIENCE);
            let listed = role
                .service_accounts
                .iter()
                .any(|s| string_like(&s.subject(), &sub));
            if !listed {
                out.push(Check::fail(
                    format!("role {name} in {file}"),
                    format!("its service_accounts do not include {}/{}", id.namespace, id.service_account),
                    format!("add \"{}/{}\" to the role's service_accounts in {file}, then `irsa-issuer apply -f {file}`", id.namespace, id.service_account),
                ));
            } else if want != aud {
                out.push(Check::fail(
                    format!("role {name} in {file}"),
                    format!("its trust policy requires audience {want}; the pod's token has {aud}"),
                    format!("make them agree: the role's audience in {file}, or the ServiceAccount's audience annotation"),
                ));
            } else {
                out.push(Check::ok(
                    format!("role {name} in {file}"),
                    format!(
                        "lists {}/{} with audience {aud}",
                        id.namespace, id.service_account
                    ),
                ));
            }
        }
    }
    out
}

/// IAM's view: the role, its trust policy, the provider it trusts.
async fn iam_checks(
    r: &PodRequest,
    ctx: &AwsContext,
    caller: &Caller,
    base: &AwsContext,
    arn: &str,
    id: &PodIdentity,
    fix: &str,
) -> Result<Vec<Check>, Error> {
    let mut out = Vec::new();
    let Some(name) = role_name(arn) else {
        out.push(Check::fail(
            "role exists",
            format!("AWS_ROLE_ARN {arn} is not an IAM role ARN"),
            "annotate the ServiceAccount with the role's ARN (`irsa-issuer role manifest`)",
        ));
        return Ok(out);
    };
    let state = match Roles::new(ctx.iam()).get(name).await {
        Err(e) => {
            out.push(Check::fail(
                "role exists",
                e.to_string(),
                "check the credentials' IAM permissions (iam:GetRole)",
            ));
            return Ok(out);
        }
        Ok(None) => {
            out.push(Check::fail(
                "role exists",
                format!("there is no role {name} in account {}", caller.account),
                format!("create it ({fix}, or `irsa-issuer role apply`), or fix the ServiceAccount's role-arn annotation"),
            ));
            return Ok(out);
        }
        Ok(Some(s)) => s,
    };
    if state.arn != arn {
        out.push(Check::fail(
            "role exists",
            format!(
                "the role {name} is {}, not {arn} (another path?)",
                state.arn
            ),
            "annotate the ServiceAccount with the role's exact ARN (`irsa-issuer role manifest`)",
        ));
        return Ok(out);
    }
    out.push(Check::ok("role exists", arn.to_string()));
    let expected = match &r.config {
        Some(c) => Some(provider_arn(
            caller.partition,
            &caller.account,
            &read::issuer_of(c, &base.region)?,
        )),
        None => None,
    };
    let (check, provider) = pod::check_trust(arn, &state.trust_policy, id, expected.as_deref());
    out.push(check);
    let Some(provider) = provider else {
        return Ok(out);
    };
    let Some(issuer) = pod::provider_host_path(&provider)
        .and_then(|hp| IssuerUrl::parse(&format!("https://{hp}"), false).ok())
    else {
        return Ok(out);
    };
    let aud = id.audience.as_deref().unwrap_or("");
    match read_provider(ctx, caller, &issuer).await {
        Err(e) => out.push(Check::fail(
            "audience is a provider client ID",
            super::chain(&e),
            "check the credentials' IAM permissions (iam:GetOpenIDConnectProvider)",
        )),
        Ok((parn, None)) => out.push(Check::fail(
            "audience is a provider client ID",
            format!("the role trusts {parn}, which does not exist"),
            fix.to_string(),
        )),
        Ok((parn, Some(p))) => out.push(pod::check_client_ids(
            &parn,
            &p.client_ids.iter().cloned().collect::<Vec<_>>(),
            aud,
            fix,
        )),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arn_parts() {
        assert_eq!(
            role_name("arn:aws:iam::111122223333:role/irsa/app"),
            Some("app")
        );
        assert_eq!(role_name("arn:aws:iam::111122223333:role/app"), Some("app"));
        assert_eq!(role_name("arn:aws:iam::111122223333:user/app"), None);
        assert_eq!(
            role_account("arn:aws:iam::111122223333:role/app"),
            Some("111122223333")
        );
    }
}
