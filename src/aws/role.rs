//! IAM roles for service accounts, pure: the wanted role, and the plan from what IAM reports.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::aws::names::Partition;
use crate::aws::owner::{with_owner_tags, Owner};
use crate::aws::trust::{self, ServiceAccountRef, TrustError};
use crate::oidc::issuer::IssuerUrl;

/// Why a role could not be planned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RoleError {
    /// The role exists and is not this issuer's.
    #[error("the role {name} exists and is {}: irsa-issuer will not change or delete a role that is not this issuer's; rename the role, or take it over with --force if it really is this cluster's", owner.describe())]
    NotOurs {
        /// The role name.
        name: String,
        /// Whose it is.
        owner: Owner,
    },
    /// The role exists under another path, and IAM cannot move a role.
    #[error("the role {name} exists under the path {actual}, not {wanted}: IAM cannot move a role. Set the role path to {actual} (iam.role_path in the file, --path on the command line), or delete the role so it is created again under {wanted}")]
    Path {
        /// The role name.
        name: String,
        /// Its path.
        actual: String,
        /// The path wanted.
        wanted: String,
    },
    /// A bad input.
    #[error("{0}")]
    Invalid(String),
    /// The trust policy cannot be built.
    #[error(transparent)]
    Trust(#[from] TrustError),
}

/// A role for service accounts before its account is known: everything but the trust policy's
/// provider ARN. `role apply` and `apply -f` build their roles from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleTemplate {
    /// Role name.
    pub name: String,
    /// Who may assume it.
    pub service_accounts: Vec<ServiceAccountRef>,
    /// The audience to require; `None`: sts.amazonaws.com.
    pub audience: Option<String>,
    /// Managed policy ARNs.
    pub managed_policies: BTreeSet<String>,
    /// Inline policies by name.
    pub inline_policies: BTreeMap<String, Value>,
    /// Permissions boundary.
    pub permissions_boundary: Option<String>,
    /// Maximum session duration.
    pub max_session_duration: Option<i32>,
    /// Tags (irsa-issuer's own managed-by and owner tags are added).
    pub tags: BTreeMap<String, String>,
    /// The IAM path the role lives under (`/irsa/`: the runner policy can be scoped to it).
    pub path: String,
    /// The trust-policy size limit of the account (2048, or up to 4096 once raised).
    pub max_trust_policy_size: usize,
}

/// The path roles are created under unless told otherwise: what `iam-policy` scopes the role
/// permissions to, so the principal running irsa-issuer cannot touch roles outside it.
pub const DEFAULT_PATH: &str = "/irsa/";

/// Checks an IAM path: `/` alone, or `/`-delimited segments of letters, digits and `+=,.@_-`,
/// at most 512 characters (IAM's rule; wildcards would reach policies).
pub fn validate_path(path: &str) -> Result<(), RoleError> {
    let ok = path.len() <= 512
        && path.starts_with('/')
        && path.ends_with('/')
        && !path.contains("//")
        && path
            .chars()
            .all(|c| c == '/' || c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(RoleError::Invalid(format!(
            "`{path}` is not an IAM path: it starts and ends with '/', e.g. /irsa/ or /, with letters, digits and +=,.@_- between"
        )))
    }
}

impl RoleTemplate {
    /// The role in `account` of `partition`, trusting `issuer`'s provider there; IAM's rules
    /// checked.
    pub fn spec(
        &self,
        issuer: &IssuerUrl,
        partition: Partition,
        account: &str,
    ) -> Result<RoleSpec, RoleError> {
        let audience = self
            .audience
            .clone()
            .unwrap_or_else(|| crate::aws::names::DEFAULT_AUDIENCE.to_string());
        let policy = trust::trust_policy(
            issuer,
            partition,
            account,
            &[audience],
            &self.service_accounts,
            self.max_trust_policy_size,
        )?;
        validate_path(&self.path)?;
        crate::aws::owner::check_user_tags(&self.tags).map_err(RoleError::Invalid)?;
        let spec = RoleSpec {
            name: self.name.clone(),
            path: self.path.clone(),
            issuer: issuer.as_str().to_string(),
            trust_policy: serde_json::to_value(&policy)
                .map_err(|e| RoleError::Invalid(e.to_string()))?,
            managed_policies: self.managed_policies.clone(),
            inline_policies: self.inline_policies.clone(),
            permissions_boundary: self.permissions_boundary.clone(),
            max_session_duration: self.max_session_duration,
            tags: with_owner_tags(self.tags.clone(), issuer.as_str()),
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// What the role should look like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleSpec {
    /// Role name.
    pub name: String,
    /// Its IAM path.
    pub path: String,
    /// The issuer that owns it (its trust policy names this issuer's provider).
    pub issuer: String,
    /// The trust policy.
    pub trust_policy: Value,
    /// Managed policy ARNs to attach (others are detached).
    pub managed_policies: BTreeSet<String>,
    /// Inline policies by name (others are deleted).
    pub inline_policies: BTreeMap<String, Value>,
    /// Permissions boundary to set (none given: left as it is).
    pub permissions_boundary: Option<String>,
    /// Maximum session duration in seconds (none given: left as it is).
    pub max_session_duration: Option<i32>,
    /// Tags, with irsa-issuer's own.
    pub tags: BTreeMap<String, String>,
}

impl RoleSpec {
    /// Checks IAM's rules for names, durations and tags.
    pub fn validate(&self) -> Result<(), RoleError> {
        let bad_char = self.name.chars().find(|c| !is_iam_name_char(*c));
        if self.name.is_empty() || self.name.chars().count() > 64 || bad_char.is_some() {
            let why = match bad_char {
                Some(c) => format!("`{c}` is not allowed in it"),
                None => format!("it is {} characters long", self.name.chars().count()),
            };
            return Err(RoleError::Invalid(format!(
                "`{}` is not a valid role name: {why}; IAM role names are 1-64 letters, digits and +=,.@_-",
                self.name
            )));
        }
        if let Some(d) = self.max_session_duration {
            if !(3600..=43200).contains(&d) {
                return Err(RoleError::Invalid(format!(
                    "--max-session-duration {d}: IAM accepts 3600 to 43200 seconds"
                )));
            }
        }
        if self.tags.len() > 50 {
            return Err(RoleError::Invalid(format!(
                "{} tags is more than the 50 IAM allows on a role",
                self.tags.len()
            )));
        }
        if self.managed_policies.len() > 20 {
            return Err(RoleError::Invalid(format!(
                "{} managed policies is more than IAM attaches to a role by default (20)",
                self.managed_policies.len()
            )));
        }
        for arn in self
            .managed_policies
            .iter()
            .chain(&self.permissions_boundary)
        {
            crate::aws::names::validate_iam_arn(arn, crate::aws::names::IamArnKind::Policy)
                .map_err(|e| RoleError::Invalid(e.to_string()))?;
        }
        let mut inline_size = 0;
        for (name, doc) in &self.inline_policies {
            inline_size += check_inline_policy(name, doc)?;
        }
        if inline_size > INLINE_POLICIES_MAX {
            return Err(RoleError::Invalid(format!(
                "the inline policies add up to {inline_size} characters (white space not counted), more than the {INLINE_POLICIES_MAX} IAM allows on one role: move statements into a managed policy (--policy-arn, policy_arns in the file)"
            )));
        }
        Ok(())
    }
}

/// The characters IAM allows in role and policy names.
fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

/// IAM's limit on the inline policies of one role, in characters without white space.
pub const INLINE_POLICIES_MAX: usize = 10_240;

/// Checks an inline policy's name and the shape of its document as IAM would, before any call;
/// returns its size as IAM counts it (characters without white space).
pub fn check_inline_policy(name: &str, doc: &Value) -> Result<usize, RoleError> {
    if name.is_empty() || name.chars().count() > 128 || !name.chars().all(is_iam_name_char) {
        return Err(RoleError::Invalid(format!(
            "`{name}` is not a valid inline policy name: IAM policy names are 1-128 letters, digits and +=,.@_-"
        )));
    }
    let bad = |why: &str| {
        RoleError::Invalid(format!(
            "inline policy {name}: {why}; write an IAM policy document such as {{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"arn:aws:s3:::BUCKET/*\"}}]}}"
        ))
    };
    let Some(obj) = doc.as_object() else {
        return Err(bad("the document is not a JSON object"));
    };
    match obj.get("Version").and_then(Value::as_str) {
        Some("2012-10-17" | "2008-10-17") => {}
        Some(v) => {
            return Err(bad(&format!(
                "Version {v} is not a policy language version (2012-10-17)"
            )))
        }
        None => return Err(bad("it has no Version (IAM's current one is 2012-10-17)")),
    }
    match obj.get("Statement") {
        Some(Value::Array(a)) if !a.is_empty() => {}
        Some(Value::Object(_)) => {}
        _ => return Err(bad("it has no Statement")),
    }
    let compact = serde_json::to_string(doc).map_err(|e| RoleError::Invalid(e.to_string()))?;
    Ok(compact.chars().filter(|c| !c.is_whitespace()).count())
}

/// A role as IAM reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleState {
    /// Its ARN.
    pub arn: String,
    /// Its IAM path.
    pub path: String,
    /// Its trust policy.
    pub trust_policy: Value,
    /// Attached managed policy ARNs.
    pub managed_policies: BTreeSet<String>,
    /// Inline policies.
    pub inline_policies: BTreeMap<String, Value>,
    /// Its permissions boundary.
    pub permissions_boundary: Option<String>,
    /// Its maximum session duration.
    pub max_session_duration: i32,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

impl RoleState {
    /// Whether irsa-issuer created it.
    pub fn is_managed(&self) -> bool {
        crate::aws::owner::is_managed(&self.tags)
    }

    /// Whose it is, seen from `issuer`.
    pub fn owner(&self, issuer: &str) -> Owner {
        Owner::of(&self.tags, issuer)
    }

    /// Whether `issuer` may change or delete it: tagged for it, or made by an older
    /// irsa-issuer and trusting one of `providers` (this issuer's provider ARNs).
    pub fn is_ours(&self, issuer: &str, providers: &[&str]) -> bool {
        match self.owner(issuer) {
            Owner::This => true,
            Owner::Unclaimed => {
                let trust = self.trust_policy.to_string();
                providers
                    .iter()
                    .any(|p| trust.contains(&format!("\"{p}\"")))
            }
            Owner::Other { .. } | Owner::Foreign => false,
        }
    }
}

/// The provider ARNs a trust policy names as `Federated` principals.
pub fn federated(policy: &Value) -> Vec<String> {
    let statements = match policy.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    statements
        .iter()
        .filter_map(|s| s.get("Principal")?.get("Federated"))
        .flat_map(|f| match f {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// One change to a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum RoleChange {
    /// Create it (trust policy, boundary, duration, tags in one call).
    Create {
        /// As wanted.
        spec: RoleSpec,
    },
    /// Replace the trust policy.
    UpdateTrustPolicy {
        /// The new document.
        document: Value,
        /// The document it replaces.
        was: Value,
    },
    /// Attach a managed policy.
    AttachPolicy {
        /// Its ARN.
        arn: String,
    },
    /// Detach a managed policy.
    DetachPolicy {
        /// Its ARN.
        arn: String,
    },
    /// Create or replace an inline policy.
    PutInlinePolicy {
        /// Its name.
        name: String,
        /// Its document.
        document: Value,
        /// The document it replaces, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        was: Option<Value>,
    },
    /// Delete an inline policy.
    DeleteInlinePolicy {
        /// Its name.
        name: String,
        /// The document deleted.
        was: Value,
    },
    /// Set the permissions boundary.
    SetBoundary {
        /// The policy ARN.
        arn: String,
    },
    /// Set the maximum session duration.
    SetMaxSessionDuration {
        /// Seconds.
        seconds: i32,
    },
    /// Add or change tags (others are left alone).
    Tag {
        /// Tags to set.
        tags: BTreeMap<String, String>,
    },
}

impl RoleChange {
    /// The plan lines: one for the change, then what changes in a policy document
    /// (before → after).
    pub fn details(&self) -> Vec<String> {
        let mut lines = vec![self.describe()];
        let diff = match self {
            Self::UpdateTrustPolicy { document, was } => crate::aws::diff::diff(was, document),
            Self::PutInlinePolicy {
                document,
                was: Some(was),
                ..
            } => crate::aws::diff::diff(was, document),
            Self::PutInlinePolicy {
                document,
                was: None,
                ..
            } => vec![format!("+ {document}")],
            Self::DeleteInlinePolicy { was, .. } => vec![format!("- {was}")],
            _ => Vec::new(),
        };
        lines.extend(diff.into_iter().map(|l| format!("    {l}")));
        lines
    }

    /// One plan line.
    pub fn describe(&self) -> String {
        match self {
            Self::Create { spec } => format!("+ create role {}", spec.name),
            Self::UpdateTrustPolicy { .. } => "~ trust policy".into(),
            Self::AttachPolicy { arn } => format!("+ attach {arn}"),
            Self::DetachPolicy { arn } => format!("- detach {arn}"),
            Self::PutInlinePolicy {
                name, was: None, ..
            } => format!("+ inline policy {name}"),
            Self::PutInlinePolicy { name, .. } => format!("~ inline policy {name}"),
            Self::DeleteInlinePolicy { name, .. } => format!("- inline policy {name}"),
            Self::SetBoundary { arn } => format!("~ permissions boundary {arn}"),
            Self::SetMaxSessionDuration { seconds } => format!("~ max session duration {seconds}s"),
            Self::Tag { tags } => format!(
                "~ tags {}",
                tags.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The changes that make `actual` match `spec`. An existing role that is not this issuer's
/// (untagged, tagged for another issuer, or made by an older irsa-issuer for another
/// provider) is refused unless `force`; one under another path is refused (IAM cannot move it).
pub fn plan(
    spec: &RoleSpec,
    actual: Option<&RoleState>,
    force: bool,
) -> Result<Vec<RoleChange>, RoleError> {
    let Some(actual) = actual else {
        let mut changes = vec![RoleChange::Create { spec: spec.clone() }];
        changes.extend(
            spec.managed_policies
                .iter()
                .map(|arn| RoleChange::AttachPolicy { arn: arn.clone() }),
        );
        changes.extend(spec.inline_policies.iter().map(|(name, document)| {
            RoleChange::PutInlinePolicy {
                name: name.clone(),
                document: document.clone(),
                was: None,
            }
        }));
        return Ok(changes);
    };
    let ours = federated(&spec.trust_policy);
    let ours: Vec<&str> = ours.iter().map(String::as_str).collect();
    if !actual.is_ours(&spec.issuer, &ours) && !force {
        return Err(RoleError::NotOurs {
            name: spec.name.clone(),
            owner: actual.owner(&spec.issuer),
        });
    }
    if actual.path != spec.path {
        return Err(RoleError::Path {
            name: spec.name.clone(),
            actual: actual.path.clone(),
            wanted: spec.path.clone(),
        });
    }
    let mut changes = Vec::new();
    if actual.trust_policy != spec.trust_policy {
        changes.push(RoleChange::UpdateTrustPolicy {
            document: spec.trust_policy.clone(),
            was: actual.trust_policy.clone(),
        });
    }
    for arn in spec.managed_policies.difference(&actual.managed_policies) {
        changes.push(RoleChange::AttachPolicy { arn: arn.clone() });
    }
    for arn in actual.managed_policies.difference(&spec.managed_policies) {
        changes.push(RoleChange::DetachPolicy { arn: arn.clone() });
    }
    for (name, doc) in &spec.inline_policies {
        if actual.inline_policies.get(name) != Some(doc) {
            changes.push(RoleChange::PutInlinePolicy {
                name: name.clone(),
                document: doc.clone(),
                was: actual.inline_policies.get(name).cloned(),
            });
        }
    }
    for (name, was) in actual
        .inline_policies
        .iter()
        .filter(|(n, _)| !spec.inline_policies.contains_key(*n))
    {
        changes.push(RoleChange::DeleteInlinePolicy {
            name: name.clone(),
            was: was.clone(),
        });
    }
    if let Some(b) = &spec.permissions_boundary {
        if actual.permissions_boundary.as_ref() != Some(b) {
            changes.push(RoleChange::SetBoundary { arn: b.clone() });
        }
    }
    if let Some(d) = spec.max_session_duration {
        if actual.max_session_duration != d {
            changes.push(RoleChange::SetMaxSessionDuration { seconds: d });
        }
    }
    let tags = crate::aws::provider::tags_to_set(&spec.tags, &actual.tags);
    if !tags.is_empty() {
        changes.push(RoleChange::Tag { tags });
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISSUER: &str = "https://oidc.example.com/c1";
    const PROVIDER: &str = "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1";

    fn spec() -> RoleSpec {
        RoleSpec {
            name: "payments-api".into(),
            path: DEFAULT_PATH.into(),
            issuer: ISSUER.into(),
            trust_policy: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity"}]}),
            managed_policies: ["arn:aws:iam::aws:policy/ReadOnlyAccess".to_string()].into(),
            inline_policies: [("s3".to_string(), json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))].into(),
            permissions_boundary: None,
            max_session_duration: Some(7200),
            tags: with_owner_tags(BTreeMap::new(), ISSUER),
        }
    }

    fn state_of(s: &RoleSpec) -> RoleState {
        RoleState {
            arn: "arn:aws:iam::111122223333:role/irsa/payments-api".into(),
            path: s.path.clone(),
            trust_policy: s.trust_policy.clone(),
            managed_policies: s.managed_policies.clone(),
            inline_policies: s.inline_policies.clone(),
            permissions_boundary: None,
            max_session_duration: 7200,
            tags: s.tags.clone(),
        }
    }

    #[test]
    fn create_then_nothing() {
        let s = spec();
        let p = plan(&s, None, false).unwrap();
        assert!(matches!(p[0], RoleChange::Create { .. }));
        assert_eq!(p.len(), 3, "create, attach, inline: {p:?}");
        assert_eq!(plan(&s, Some(&state_of(&s)), false).unwrap(), vec![]);
    }

    #[test]
    fn drift_is_repaired_exactly() {
        let s = spec();
        let mut st = state_of(&s);
        st.managed_policies.clear();
        st.managed_policies
            .insert("arn:aws:iam::aws:policy/AdministratorAccess".into());
        st.trust_policy = json!({"edited": true});
        st.inline_policies.insert("extra".into(), json!({}));
        let p = plan(&s, Some(&st), false).unwrap();
        assert_eq!(
            p,
            vec![
                RoleChange::UpdateTrustPolicy {
                    document: s.trust_policy.clone(),
                    was: json!({"edited": true}),
                },
                RoleChange::AttachPolicy {
                    arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into()
                },
                RoleChange::DetachPolicy {
                    arn: "arn:aws:iam::aws:policy/AdministratorAccess".into()
                },
                RoleChange::DeleteInlinePolicy {
                    name: "extra".into(),
                    was: json!({}),
                },
            ]
        );
    }

    #[test]
    fn inline_policies_show_what_is_added_changed_and_deleted() {
        let s = spec();
        let mut st = state_of(&s);
        st.inline_policies.clear();
        st.inline_policies
            .insert("old".into(), json!({"Statement": [{"Action": "s3:*"}]}));
        let lines: Vec<String> = plan(&s, Some(&st), false)
            .unwrap()
            .iter()
            .flat_map(RoleChange::details)
            .collect();
        let added = lines
            .iter()
            .position(|l| l == "+ inline policy s3")
            .unwrap();
        assert!(
            lines[added + 1].starts_with("    + {") && lines[added + 1].contains("s3:GetObject"),
            "{lines:#?}"
        );
        let deleted = lines
            .iter()
            .position(|l| l == "- inline policy old")
            .unwrap();
        assert_eq!(
            lines[deleted + 1],
            r#"    - {"Statement":[{"Action":"s3:*"}]}"#
        );
        // A changed one: the changed value, before -> after.
        let mut st2 = state_of(&s);
        st2.inline_policies.insert(
            "s3".into(),
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}),
        );
        let lines: Vec<String> = plan(&s, Some(&st2), false)
            .unwrap()
            .iter()
            .flat_map(RoleChange::details)
            .collect();
        assert_eq!(
            lines,
            [
                "~ inline policy s3",
                r#"    ~ Statement[0].Action: "s3:PutObject" -> "s3:GetObject""#
            ]
        );
    }

    #[test]
    fn unmanaged_roles_are_refused_unless_forced() {
        let s = spec();
        let mut st = state_of(&s);
        st.tags.clear();
        assert_eq!(
            plan(&s, Some(&st), false).unwrap_err(),
            RoleError::NotOurs {
                name: "payments-api".into(),
                owner: Owner::Foreign,
            }
        );
        assert!(matches!(
            plan(&s, Some(&st), true).unwrap().as_slice(),
            [RoleChange::Tag { .. }]
        ));
    }

    /// Two clusters whose files both name role `team-reader`: the second rewrote the first's
    /// trust policy to its own provider.
    #[test]
    fn another_issuers_role_is_refused() {
        let s = spec();
        let mut theirs = state_of(&s);
        theirs.tags = with_owner_tags(BTreeMap::new(), "https://oidc.example.com/c2");
        theirs.trust_policy = json!({"Statement": [{"Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c2"}}]});
        assert!(matches!(
            plan(&s, Some(&theirs), false),
            Err(RoleError::NotOurs {
                owner: Owner::Other { .. },
                ..
            })
        ));
        assert!(!theirs.is_ours(ISSUER, &[PROVIDER]));
    }

    /// A role an older irsa-issuer made (managed-by, no owner tag) is this issuer's only when
    /// its trust policy names this issuer's provider.
    #[test]
    fn an_unclaimed_role_is_adopted_only_with_evidence() {
        let s = spec();
        let mut legacy = state_of(&s);
        legacy.tags = [("managed-by".to_string(), "irsa-issuer".to_string())].into();
        assert!(legacy.is_ours(ISSUER, &[PROVIDER]));
        assert!(matches!(
            plan(&s, Some(&legacy), false).unwrap().as_slice(),
            [RoleChange::Tag { .. }]
        ));
        legacy.trust_policy = json!({"Statement": [{"Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c2"}}]});
        assert!(!legacy.is_ours(ISSUER, &[PROVIDER]));
        assert!(plan(&s, Some(&legacy), false).is_err());
    }

    #[test]
    fn a_role_under_another_path_is_refused_even_forced() {
        let s = spec();
        let mut st = state_of(&s);
        st.path = "/".into();
        assert!(matches!(
            plan(&s, Some(&st), true),
            Err(RoleError::Path { .. })
        ));
        assert!(validate_path("/irsa/").is_ok());
        assert!(validate_path("/").is_ok());
        for bad in ["irsa", "/irsa", "/a//b/", "/a*/"] {
            assert!(validate_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation() {
        let mut s = spec();
        assert!(s.validate().is_ok());
        s.max_session_duration = Some(60);
        assert!(s.validate().is_err());
        s.max_session_duration = None;
        s.name = "bad name".into();
        assert!(s.validate().is_err());
    }
}
