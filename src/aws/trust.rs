//! Trust policies for roles assumed with service-account tokens, and the ServiceAccount
//! manifests that point pods at those roles. Pure: JSON from serde structs, YAML from quoted
//! scalars only.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::aws::names::{provider_arn, Partition};
use crate::oidc::issuer::IssuerUrl;

/// IAM's default size limit of a role trust policy (characters, white space excluded; we
/// render without white space). It can be raised by quota to 4096.
pub const TRUST_POLICY_MAX: usize = 2048;

/// The most IAM allows once the quota is raised.
pub const TRUST_POLICY_MAX_RAISED: usize = 4096;

/// The shortest projected-token lifetime kube-apiserver issues (it raises shorter requests).
pub const TOKEN_EXPIRATION_MIN: u64 = 600;

/// Checks a projected-token lifetime (`eks.amazonaws.com/token-expiration`): at least 600 s,
/// and at most the rotation's max token age, so that no token outlives the retire clock.
pub fn validate_token_expiration(secs: u64, max_token_age: u64) -> Result<(), TrustError> {
    if (TOKEN_EXPIRATION_MIN..=max_token_age).contains(&secs) {
        Ok(())
    } else {
        Err(TrustError::TokenExpiration {
            secs,
            max: max_token_age,
        })
    }
}

/// Checks a trust-policy size limit: IAM's default 2048, or up to 4096 once the account's quota
/// ("Role trust policy length") has been raised.
pub fn validate_max_size(max: usize) -> Result<(), TrustError> {
    if (TRUST_POLICY_MAX..=TRUST_POLICY_MAX_RAISED).contains(&max) {
        Ok(())
    } else {
        Err(TrustError::MaxSize(max))
    }
}

/// Why a trust policy or manifest could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrustError {
    /// A bad NS/NAME.
    #[error("`{input}` is not a service account: {reason}; write it as NAMESPACE/NAME (`*` allowed in either part, e.g. payments/* )")]
    ServiceAccount {
        /// What was given.
        input: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// None given.
    #[error("no service account given: pass --service-account NAMESPACE/NAME at least once")]
    NoServiceAccount,
    /// Over IAM's size limit.
    #[error("the trust policy is {size} characters, over IAM's limit of {max}: split the service accounts across roles, use a wildcard (NAMESPACE/*), or raise the quota")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A projected-token lifetime outside what works.
    #[error("a token expiration of {secs} s is not usable: kube-apiserver projects tokens of at least 600 s (10 minutes), and irsa-issuer's rotation keeps a retired key published for at most the max token age ({max} s); use 600 to {max}, or raise the max token age (rotation.max_token_age in the file, --max-token-age)")]
    TokenExpiration {
        /// What was given.
        secs: u64,
        /// The max token age.
        max: u64,
    },
    /// A size limit IAM cannot have.
    #[error("a trust-policy size limit of {0} is not one IAM has: 2048 by default, up to 4096 once the quota is raised")]
    MaxSize(usize),
    /// An account ID that is not 12 digits.
    #[error("`{0}` is not an AWS account ID (12 digits)")]
    Account(String),
}

/// `NAMESPACE/NAME`, where either part may hold `*` or `?` wildcards.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ServiceAccountRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

fn valid_part(s: &str, max: usize, dots: bool) -> bool {
    let wild = |c: char| c == '*' || c == '?';
    !s.is_empty()
        && s.len() <= max
        && s.chars().all(|c| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || c == '-'
                || (dots && c == '.')
                || wild(c)
        })
        && (s
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || wild(c)))
        && (s
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || wild(c)))
}

impl ServiceAccountRef {
    /// Parses `NAMESPACE/NAME`: a namespace is a DNS label, a name a DNS subdomain (Kubernetes'
    /// rules), either with wildcards.
    pub fn parse(input: &str) -> Result<Self, TrustError> {
        let bad = |reason| TrustError::ServiceAccount {
            input: input.into(),
            reason,
        };
        let (ns, name) = input
            .split_once('/')
            .ok_or_else(|| bad("there is no '/'"))?;
        if !valid_part(ns, 63, false) {
            return Err(bad("the namespace must be 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit"));
        }
        if !valid_part(name, 253, true) {
            return Err(bad("the name must be 1-253 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit"));
        }
        Ok(Self {
            namespace: ns.into(),
            name: name.into(),
        })
    }

    /// Whether either part has a wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.namespace.contains(['*', '?']) || self.name.contains(['*', '?'])
    }

    /// The `sub` of its tokens: `system:serviceaccount:NAMESPACE:NAME`.
    pub fn subject(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.namespace, self.name)
    }
}

impl fmt::Display for ServiceAccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// One value or several: IAM accepts both, and one reads better as a plain string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single value.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl From<Vec<String>> for OneOrMany {
    fn from(mut v: Vec<String>) -> Self {
        if v.len() == 1 {
            Self::One(v.remove(0))
        } else {
            Self::Many(v)
        }
    }
}

/// A trust policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrustPolicy {
    /// Always 2012-10-17.
    pub version: &'static str,
    /// One statement.
    pub statement: Vec<TrustStatement>,
}

/// The statement allowing web-identity federation for the service accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrustStatement {
    /// Allow.
    pub effect: &'static str,
    /// `{"Federated": PROVIDER_ARN}`.
    pub principal: BTreeMap<&'static str, String>,
    /// sts:AssumeRoleWithWebIdentity.
    pub action: &'static str,
    /// Operator → condition key → value(s).
    pub condition: BTreeMap<&'static str, BTreeMap<String, OneOrMany>>,
}

/// Builds the trust policy for a role in `account` that `service_accounts` may assume with
/// tokens from `issuer` carrying one of `audiences`, at most `max_size` characters.
pub fn trust_policy(
    issuer: &IssuerUrl,
    partition: Partition,
    account: &str,
    audiences: &[String],
    service_accounts: &[ServiceAccountRef],
    max_size: usize,
) -> Result<TrustPolicy, TrustError> {
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TrustError::Account(account.into()));
    }
    if service_accounts.is_empty() {
        return Err(TrustError::NoServiceAccount);
    }
    let id = issuer.provider_id();
    let mut subjects: Vec<String> = Vec::new();
    for sa in service_accounts {
        let s = sa.subject();
        if !subjects.contains(&s) {
            subjects.push(s);
        }
    }
    let mut aud: Vec<String> = Vec::new();
    for a in audiences {
        if !aud.contains(a) {
            aud.push(a.clone());
        }
    }
    let mut condition: BTreeMap<&'static str, BTreeMap<String, OneOrMany>> = BTreeMap::new();
    condition
        .entry("StringEquals")
        .or_default()
        .insert(format!("{id}:aud"), aud.into());
    // Conditions under different operators are ANDed, so all subjects go under one operator:
    // StringLike as soon as one has a wildcard (a plain subject matches itself there too).
    let op = if service_accounts.iter().any(ServiceAccountRef::is_wildcard) {
        "StringLike"
    } else {
        "StringEquals"
    };
    condition
        .entry(op)
        .or_default()
        .insert(format!("{id}:sub"), subjects.into());
    let policy = TrustPolicy {
        version: "2012-10-17",
        statement: vec![TrustStatement {
            effect: "Allow",
            principal: BTreeMap::from([("Federated", provider_arn(partition, account, issuer))]),
            action: "sts:AssumeRoleWithWebIdentity",
            condition,
        }],
    };
    let size = render(&policy).len();
    if size > max_size {
        return Err(TrustError::TooLarge {
            size,
            max: max_size,
        });
    }
    Ok(policy)
}

/// The compact JSON of a trust policy.
pub fn render(policy: &TrustPolicy) -> String {
    serde_json::to_string(policy).unwrap_or_default()
}

/// Annotations beyond the role ARN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestOptions {
    /// `eks.amazonaws.com/audience` (only written when not the default).
    pub audience: Option<String>,
    /// `eks.amazonaws.com/sts-regional-endpoints: "true"`.
    pub sts_regional_endpoints: bool,
    /// `eks.amazonaws.com/token-expiration` in seconds.
    pub token_expiration: Option<u32>,
}

/// JSON string quoting is valid YAML double-quoted scalar syntax, so every value is safe.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// ServiceAccount manifests (YAML, `---` separated) annotated with `role_arn`, for the concrete
/// service accounts among `service_accounts` (wildcards name no single object and are skipped).
pub fn manifests(
    role_arn: &str,
    service_accounts: &[ServiceAccountRef],
    opts: &ManifestOptions,
) -> String {
    let mut out = String::new();
    for sa in service_accounts.iter().filter(|s| !s.is_wildcard()) {
        out.push_str("---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n");
        out.push_str(&format!(
            "  name: {}\n  namespace: {}\n  annotations:\n",
            q(&sa.name),
            q(&sa.namespace)
        ));
        out.push_str(&format!(
            "    eks.amazonaws.com/role-arn: {}\n",
            q(role_arn)
        ));
        if let Some(a) = &opts.audience {
            out.push_str(&format!("    eks.amazonaws.com/audience: {}\n", q(a)));
        }
        if opts.sts_regional_endpoints {
            out.push_str("    eks.amazonaws.com/sts-regional-endpoints: \"true\"\n");
        }
        if let Some(t) = opts.token_expiration {
            out.push_str(&format!(
                "    eks.amazonaws.com/token-expiration: {}\n",
                q(&t.to_string())
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sas(v: &[&str]) -> Vec<ServiceAccountRef> {
        v.iter()
            .map(|s| ServiceAccountRef::parse(s).unwrap())
            .collect()
    }
    fn issuer() -> IssuerUrl {
        IssuerUrl::parse("https://s3.eu-west-1.amazonaws.com/acme-oidc/c1", false).unwrap()
    }
    fn aud() -> Vec<String> {
        vec!["sts.amazonaws.com".into()]
    }

    #[test]
    fn same_account_golden() {
        let p = trust_policy(
            &issuer(),
            Partition::Aws,
            "111122223333",
            &aud(),
            &sas(&["payments/api"]),
            TRUST_POLICY_MAX,
        )
        .unwrap();
        assert_eq!(
            render(&p),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/s3.eu-west-1.amazonaws.com/acme-oidc/c1"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"s3.eu-west-1.amazonaws.com/acme-oidc/c1:aud":"sts.amazonaws.com","s3.eu-west-1.amazonaws.com/acme-oidc/c1:sub":"system:serviceaccount:payments:api"}}}]}"#
        );
    }

    #[test]
    fn cross_account_names_that_accounts_provider() {
        let p = trust_policy(
            &issuer(),
            Partition::Aws,
            "444455556666",
            &aud(),
            &sas(&["payments/api"]),
            TRUST_POLICY_MAX,
        )
        .unwrap();
        assert_eq!(
            render(&p),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::444455556666:oidc-provider/s3.eu-west-1.amazonaws.com/acme-oidc/c1"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"s3.eu-west-1.amazonaws.com/acme-oidc/c1:aud":"sts.amazonaws.com","s3.eu-west-1.amazonaws.com/acme-oidc/c1:sub":"system:serviceaccount:payments:api"}}}]}"#
        );
    }

    #[test]
    fn several_and_wildcard_golden() {
        let p = trust_policy(
            &issuer(),
            Partition::Aws,
            "111122223333",
            &aud(),
            &sas(&["payments/api", "batch/*", "payments/api"]),
            TRUST_POLICY_MAX,
        )
        .unwrap();
        assert_eq!(
            render(&p),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/s3.eu-west-1.amazonaws.com/acme-oidc/c1"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"s3.eu-west-1.amazonaws.com/acme-oidc/c1:aud":"sts.amazonaws.com"},"StringLike":{"s3.eu-west-1.amazonaws.com/acme-oidc/c1:sub":["system:serviceaccount:payments:api","system:serviceaccount:batch:*"]}}}]}"#
        );
        let p = trust_policy(
            &issuer(),
            Partition::Aws,
            "111122223333",
            &aud(),
            &sas(&["a/x", "b/y"]),
            TRUST_POLICY_MAX,
        )
        .unwrap();
        assert_eq!(
            render(&p),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/s3.eu-west-1.amazonaws.com/acme-oidc/c1"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"s3.eu-west-1.amazonaws.com/acme-oidc/c1:aud":"sts.amazonaws.com","s3.eu-west-1.amazonaws.com/acme-oidc/c1:sub":["system:serviceaccount:a:x","system:serviceaccount:b:y"]}}}]}"#
        );
    }

    #[test]
    fn china_partition_golden() {
        let i =
            IssuerUrl::parse("https://s3.cn-north-1.amazonaws.com.cn/acme-oidc", false).unwrap();
        let p = trust_policy(
            &i,
            Partition::AwsCn,
            "111122223333",
            &["sts.amazonaws.com.cn".into()],
            &sas(&["*/reader"]),
            TRUST_POLICY_MAX,
        )
        .unwrap();
        assert_eq!(
            render(&p),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws-cn:iam::111122223333:oidc-provider/s3.cn-north-1.amazonaws.com.cn/acme-oidc"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"s3.cn-north-1.amazonaws.com.cn/acme-oidc:aud":"sts.amazonaws.com.cn"},"StringLike":{"s3.cn-north-1.amazonaws.com.cn/acme-oidc:sub":"system:serviceaccount:*:reader"}}}]}"#
        );
    }

    #[test]
    fn token_expiration_between_600_s_and_the_max_token_age() {
        assert!(validate_token_expiration(600, 86400).is_ok());
        assert!(validate_token_expiration(86400, 86400).is_ok());
        assert!(validate_token_expiration(599, 86400).is_err());
        assert!(validate_token_expiration(86401, 86400).is_err());
        assert!(validate_token_expiration(172800, 172800).is_ok());
    }

    #[test]
    fn size_limit_and_bad_inputs() {
        let many: Vec<String> = (0..40)
            .map(|i| format!("namespace-{i}/service-account-{i}"))
            .collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let e = trust_policy(
            &issuer(),
            Partition::Aws,
            "111122223333",
            &aud(),
            &sas(&refs),
            TRUST_POLICY_MAX,
        )
        .unwrap_err();
        assert!(matches!(e, TrustError::TooLarge { max: 2048, .. }), "{e}");
        // With the quota raised, the same policy fits.
        let raised = trust_policy(
            &issuer(),
            Partition::Aws,
            "111122223333",
            &aud(),
            &sas(&refs),
            TRUST_POLICY_MAX_RAISED,
        );
        assert!(raised.is_ok(), "{raised:?}");
        assert!(
            validate_max_size(4096).is_ok()
                && validate_max_size(4097).is_err()
                && validate_max_size(1000).is_err()
        );
        assert!(trust_policy(
            &issuer(),
            Partition::Aws,
            "1234",
            &aud(),
            &sas(&["a/b"]),
            TRUST_POLICY_MAX
        )
        .is_err());
        assert_eq!(
            trust_policy(
                &issuer(),
                Partition::Aws,
                "111122223333",
                &aud(),
                &[],
                TRUST_POLICY_MAX
            )
            .unwrap_err(),
            TrustError::NoServiceAccount
        );
        for bad in [
            "noslash", "/x", "x/", "Upper/x", "x/Upper", "a_b/c", "-a/b", "a/b-",
        ] {
            assert!(ServiceAccountRef::parse(bad).is_err(), "{bad}");
        }
        assert!(ServiceAccountRef::parse("kube-system/aws.load-balancer").is_ok());
    }

    #[test]
    fn manifests_skip_wildcards_and_quote_everything() {
        let out = manifests(
            "arn:aws:iam::111122223333:role/r",
            &sas(&["payments/api", "batch/*"]),
            &ManifestOptions {
                audience: Some("custom".into()),
                sts_regional_endpoints: true,
                token_expiration: Some(3600),
            },
        );
        assert_eq!(
            out,
            "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: \"api\"\n  namespace: \"payments\"\n  annotations:\n    eks.amazonaws.com/role-arn: \"arn:aws:iam::111122223333:role/r\"\n    eks.amazonaws.com/audience: \"custom\"\n    eks.amazonaws.com/sts-regional-endpoints: \"true\"\n    eks.amazonaws.com/token-expiration: \"3600\"\n"
        );
    }
}
