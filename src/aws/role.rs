//! IAM roles for service accounts, pure: the wanted role, and the plan from what IAM reports.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::aws::names::Partition;
use crate::aws::provider::MANAGED_TAG;
use crate::aws::trust::{self, ServiceAccountRef, TrustError};
use crate::oidc::issuer::IssuerUrl;

/// Why a role could not be planned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RoleError {
    /// The role exists and irsa-issuer did not create it.
    #[error("the role {name} exists and is not tagged {}={}: irsa-issuer will not take over (or delete) a role it did not create. Pass --force to manage it anyway", MANAGED_TAG.0, MANAGED_TAG.1)]
    NotManaged {
        /// The role name.
        name: String,
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
    /// The audience to require; `None`: the partition's STS audience.
    pub audience: Option<String>,
    /// Managed policy ARNs.
    pub managed_policies: BTreeSet<String>,
    /// Inline policies by name.
    pub inline_policies: BTreeMap<String, Value>,
    /// Permissions boundary.
    pub permissions_boundary: Option<String>,
    /// Maximum session duration.
    pub max_session_duration: Option<i32>,
    /// Tags ([`MANAGED_TAG`] is added).
    pub tags: BTreeMap<String, String>,
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
            .unwrap_or_else(|| partition.default_audience().to_string());
        let policy = trust::trust_policy(
            issuer,
            partition,
            account,
            &[audience],
            &self.service_accounts,
        )?;
        let mut tags = self.tags.clone();
        tags.insert(MANAGED_TAG.0.into(), MANAGED_TAG.1.into());
        let spec = RoleSpec {
            name: self.name.clone(),
            trust_policy: serde_json::to_value(&policy)
                .map_err(|e| RoleError::Invalid(e.to_string()))?,
            managed_policies: self.managed_policies.clone(),
            inline_policies: self.inline_policies.clone(),
            permissions_boundary: self.permissions_boundary.clone(),
            max_session_duration: self.max_session_duration,
            tags,
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
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
        if !name_ok {
            return Err(RoleError::Invalid(format!(
                "`{}` is not a valid role name: 1-64 letters, digits and +=,.@_-",
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
        Ok(())
    }
}

/// A role as IAM reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleState {
    /// Its ARN.
    pub arn: String,
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
        crate::aws::provider::is_managed(&self.tags)
    }
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
    },
    /// Delete an inline policy.
    DeleteInlinePolicy {
        /// Its name.
        name: String,
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
    /// One plan line.
    pub fn describe(&self) -> String {
        match self {
            Self::Create { spec } => format!("+ create role {}", spec.name),
            Self::UpdateTrustPolicy { .. } => "~ trust policy".into(),
            Self::AttachPolicy { arn } => format!("+ attach {arn}"),
            Self::DetachPolicy { arn } => format!("- detach {arn}"),
            Self::PutInlinePolicy { name, .. } => format!("~ inline policy {name}"),
            Self::DeleteInlinePolicy { name } => format!("- inline policy {name}"),
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

/// The changes that make `actual` match `spec`. An existing role irsa-issuer does not manage
/// is refused unless `force`.
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
            }
        }));
        return Ok(changes);
    };
    if !actual.is_managed() && !force {
        return Err(RoleError::NotManaged {
            name: spec.name.clone(),
        });
    }
    let mut changes = Vec::new();
    if actual.trust_policy != spec.trust_policy {
        changes.push(RoleChange::UpdateTrustPolicy {
            document: spec.trust_policy.clone(),
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
            });
        }
    }
    for name in actual
        .inline_policies
        .keys()
        .filter(|n| !spec.inline_policies.contains_key(*n))
    {
        changes.push(RoleChange::DeleteInlinePolicy { name: name.clone() });
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

    fn spec() -> RoleSpec {
        RoleSpec {
            name: "payments-api".into(),
            trust_policy: json!({"Version": "2012-10-17", "Statement": []}),
            managed_policies: ["arn:aws:iam::aws:policy/ReadOnlyAccess".to_string()].into(),
            inline_policies: [("s3".to_string(), json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))].into(),
            permissions_boundary: None,
            max_session_duration: Some(7200),
            tags: [(MANAGED_TAG.0.to_string(), MANAGED_TAG.1.to_string())].into(),
        }
    }

    fn state_of(s: &RoleSpec) -> RoleState {
        RoleState {
            arn: "arn:aws:iam::111122223333:role/payments-api".into(),
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
                    document: s.trust_policy.clone()
                },
                RoleChange::AttachPolicy {
                    arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into()
                },
                RoleChange::DetachPolicy {
                    arn: "arn:aws:iam::aws:policy/AdministratorAccess".into()
                },
                RoleChange::DeleteInlinePolicy {
                    name: "extra".into()
                },
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
            RoleError::NotManaged {
                name: "payments-api".into()
            }
        );
        assert!(matches!(
            plan(&s, Some(&st), true).unwrap().as_slice(),
            [RoleChange::Tag { .. }]
        ));
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
