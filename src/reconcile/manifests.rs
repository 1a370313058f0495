//! The ServiceAccount manifests the file's roles call for, pure: one per role and account (a
//! ServiceAccount names one role ARN, so a role in several accounts has one set of manifests per
//! account), annotated as AWS's pod-identity webhook reads them. `apply --manifests DIR`
//! writes them, `apply --output json` lists them, `role manifest -f FILE` prints them.

use serde::Serialize;

use super::config::{Config, RoleConfig};
use super::plan::roles_in;
use crate::aws::names::{Caller, DEFAULT_AUDIENCE};
use crate::aws::trust::{self, ManifestOptions};

/// The manifests of one role in one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleManifests {
    /// The account that holds the role.
    pub account: String,
    /// The role's name.
    pub role: String,
    /// The role's ARN, as the annotation names it.
    pub role_arn: String,
    /// The concrete service accounts (`NS/NAME`; wildcards name no single object).
    pub service_accounts: Vec<String>,
    /// The YAML, `---` separated (empty when every service account is a wildcard).
    pub yaml: String,
}

impl RoleManifests {
    /// Where `apply --manifests DIR` writes them: `ACCOUNT/ROLE.yaml`.
    pub fn relative_path(&self) -> String {
        format!("{}/{}.yaml", self.account, self.role)
    }
}

/// The ARN of role `r` in the account of `caller`, under the file's role path.
pub fn role_arn(c: &Config, r: &RoleConfig, caller: &Caller) -> String {
    format!(
        "arn:{}:iam::{}:role{}{}",
        caller.partition.as_str(),
        caller.account,
        c.iam.role_path,
        r.name
    )
}

/// The manifest options of role `r`: the audience annotation only when not the default.
pub fn options(r: &RoleConfig) -> ManifestOptions {
    ManifestOptions {
        audience: r.audience.clone().filter(|a| a != DEFAULT_AUDIENCE),
        sts_regional_endpoints: r.sts_regional_endpoints,
        token_expiration: r.token_expiration,
    }
}

/// Every role's manifests in every account of `callers` it is in (those named `only`, when
/// given), in the order of the accounts, then of the roles in the file: the plan's order.
pub fn manifests(c: &Config, callers: &[&Caller], only: Option<&str>) -> Vec<RoleManifests> {
    let mut out = Vec::new();
    for caller in callers {
        for r in roles_in(c, &caller.account).filter(|r| only.is_none_or(|n| n == r.name)) {
            let role_arn = role_arn(c, r, caller);
            let concrete: Vec<_> = r
                .service_accounts
                .iter()
                .filter(|s| !s.is_wildcard())
                .cloned()
                .collect();
            out.push(RoleManifests {
                account: caller.account.clone(),
                role: r.name.clone(),
                yaml: trust::manifests(&role_arn, &concrete, &options(r)),
                role_arn,
                service_accounts: concrete.iter().map(ToString::to_string).collect(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::names::Partition;

    fn config(roles: &str) -> Config {
        let text = format!("issuer = \"https://oidc.example.com/c1\"\ntarget = \"out\"\n[keys]\ndir = \"k\"\n[provider]\nclient_ids = [\"sts.amazonaws.com\", \"other\"]\n{roles}");
        crate::reconcile::config::parse(&text, "c.toml", std::path::Path::new("/"), &|_| None)
            .unwrap()
    }

    fn caller(account: &str, partition: Partition) -> Caller {
        Caller {
            account: account.into(),
            arn: format!("arn:aws:iam::{account}:user/x"),
            partition,
        }
    }

    #[test]
    fn one_set_per_role_and_account_with_the_roles_annotations() {
        let c = config(
            "[[roles]]\nname = \"b\"\nservice_accounts = [\"ns/b\", \"ns/*\"]\naudience = \"other\"\nsts_regional_endpoints = true\ntoken_expiration = 3600\naccounts = [\"222222222222\"]\n[[roles]]\nname = \"a\"\nservice_accounts = [\"ns/a\"]\n",
        );
        let (x, y) = (
            caller("222222222222", Partition::Aws),
            caller("111111111111", Partition::AwsCn),
        );
        let m = manifests(&c, &[&x, &y], None);
        let keys: Vec<(&str, &str)> = m
            .iter()
            .map(|m| (m.account.as_str(), m.role.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("222222222222", "b"),
                ("222222222222", "a"),
                ("111111111111", "a")
            ],
            "the accounts' order, then the file's"
        );
        assert_eq!(m[2].role_arn, "arn:aws-cn:iam::111111111111:role/irsa/a");
        assert_eq!(m[2].relative_path(), "111111111111/a.yaml");
        assert_eq!(
            m[0].yaml,
            "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: \"b\"\n  namespace: \"ns\"\n  annotations:\n    eks.amazonaws.com/role-arn: \"arn:aws:iam::222222222222:role/irsa/b\"\n    eks.amazonaws.com/audience: \"other\"\n    eks.amazonaws.com/sts-regional-endpoints: \"true\"\n    eks.amazonaws.com/token-expiration: \"3600\"\n"
        );
        assert_eq!(m[0].service_accounts, ["ns/b"]);
        assert!(
            !m[2].yaml.contains("audience"),
            "the default audience is not annotated"
        );
        assert_eq!(manifests(&c, &[&x, &y], Some("b")).len(), 1);
    }
}
