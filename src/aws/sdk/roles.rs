//! IAM roles: read one (trust policy, policies, boundary, tags), apply a plan, delete.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tracing::instrument;

use super::{call_error, error_code, iam_tags, AwsError};
use crate::aws::role::{RoleChange, RoleState};

/// The roles of one account.
#[derive(Debug, Clone)]
pub struct Roles {
    client: aws_sdk_iam::Client,
}

/// IAM returns policy documents URL-encoded; some emulators return them plain.
fn decode_policy(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| {
        let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
        serde_json::from_str(&decoded).unwrap_or(Value::String(decoded.into_owned()))
    })
}

impl Roles {
    /// Roles through `client`.
    pub fn new(client: aws_sdk_iam::Client) -> Self {
        Self { client }
    }

    /// The role `name`, or `None`.
    #[instrument(skip_all, fields(name))]
    pub async fn get(&self, name: &str) -> Result<Option<RoleState>, AwsError> {
        let out = match self.client.get_role().role_name(name).send().await {
            Ok(o) => o,
            Err(e) if error_code(&e) == Some("NoSuchEntity") => return Ok(None),
            Err(e) => return Err(call_error("iam:GetRole", &e)),
        };
        let Some(role) = out.role() else {
            return Ok(None);
        };
        let attached = self
            .client
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(|e| call_error("iam:ListAttachedRolePolicies", &e))?;
        let managed_policies: BTreeSet<String> = attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_string))
            .collect();
        let names = self
            .client
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(|e| call_error("iam:ListRolePolicies", &e))?;
        let mut inline_policies = BTreeMap::new();
        for policy in names.policy_names() {
            let doc = self
                .client
                .get_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .map_err(|e| call_error("iam:GetRolePolicy", &e))?;
            inline_policies.insert(policy.clone(), decode_policy(doc.policy_document()));
        }
        Ok(Some(RoleState {
            arn: role.arn().to_string(),
            path: role.path().to_string(),
            trust_policy: role
                .assume_role_policy_document()
                .map(decode_policy)
                .unwrap_or(Value::Null),
            managed_policies,
            inline_policies,
            permissions_boundary: role
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn().map(str::to_string)),
            max_session_duration: role.max_session_duration().unwrap_or(3600),
            tags: role
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        }))
    }

    /// The names of every role under `path_prefix` (ListRoles, all pages), sorted.
    #[instrument(skip_all, fields(path_prefix))]
    pub async fn names_under(&self, path_prefix: &str) -> Result<Vec<String>, AwsError> {
        let mut names = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_roles()
                .path_prefix(path_prefix)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| call_error("iam:ListRoles", &e))?;
            names.extend(out.roles().iter().map(|r| r.role_name().to_string()));
            match out.marker() {
                Some(m) if out.is_truncated() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        names.sort();
        Ok(names)
    }

    /// The ARN of the role `name` (one GetRole), or `None` when there is no such role.
    #[instrument(skip_all, fields(name))]
    pub async fn arn(&self, name: &str) -> Result<Option<String>, AwsError> {
        match self.client.get_role().role_name(name).send().await {
            Ok(o) => Ok(o.role().map(|r| r.arn().to_string())),
            Err(e) if error_code(&e) == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(call_error("iam:GetRole", &e)),
        }
    }

    /// The tags of the role `name` (one GetRole, without its policies), or `None`.
    #[instrument(skip_all, fields(name))]
    pub async fn tags(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        match self.client.get_role().role_name(name).send().await {
            Ok(o) => Ok(o.role().map(|r| {
                r.tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect()
            })),
            Err(e) if error_code(&e) == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(call_error("iam:GetRole", &e)),
        }
    }

    /// Applies `changes` to the role `name`; returns its ARN.
    #[instrument(skip_all, fields(name))]
    pub async fn apply(
        &self,
        name: &str,
        changes: &[RoleChange],
    ) -> Result<Option<String>, AwsError> {
        let mut arn = None;
        for change in changes {
            match change {
                RoleChange::Create { spec } => {
                    let out = self
                        .client
                        .create_role()
                        .role_name(name)
                        .path(&spec.path)
                        .assume_role_policy_document(spec.trust_policy.to_string())
                        .set_permissions_boundary(spec.permissions_boundary.clone())
                        .set_max_session_duration(spec.max_session_duration)
                        .description(
                            "IAM role for Kubernetes service accounts, managed by irsa-issuer",
                        )
                        .set_tags(Some(iam_tags(&spec.tags)?))
                        .send()
                        .await
                        .map_err(|e| call_error("iam:CreateRole", &e))?;
                    arn = out.role().map(|r| r.arn().to_string());
                }
                RoleChange::UpdateTrustPolicy { document, .. } => {
                    self.client
                        .update_assume_role_policy()
                        .role_name(name)
                        .policy_document(document.to_string())
                        .send()
                        .await
                        .map_err(|e| call_error("iam:UpdateAssumeRolePolicy", &e))?;
                }
                RoleChange::AttachPolicy { arn } => {
                    self.client
                        .attach_role_policy()
                        .role_name(name)
                        .policy_arn(arn)
                        .send()
                        .await
                        .map_err(|e| call_error("iam:AttachRolePolicy", &e))?;
                }
                RoleChange::DetachPolicy { arn } => {
                    self.client
                        .detach_role_policy()
                        .role_name(name)
                        .policy_arn(arn)
                        .send()
                        .await
                        .map_err(|e| call_error("iam:DetachRolePolicy", &e))?;
                }
                RoleChange::PutInlinePolicy {
                    name: policy,
                    document,
                    ..
                } => {
                    self.client
                        .put_role_policy()
                        .role_name(name)
                        .policy_name(policy)
                        .policy_document(document.to_string())
                        .send()
                        .await
                        .map_err(|e| call_error("iam:PutRolePolicy", &e))?;
                }
                RoleChange::DeleteInlinePolicy { name: policy, .. } => {
                    self.client
                        .delete_role_policy()
                        .role_name(name)
                        .policy_name(policy)
                        .send()
                        .await
                        .map_err(|e| call_error("iam:DeleteRolePolicy", &e))?;
                }
                RoleChange::SetBoundary { arn } => {
                    self.client
                        .put_role_permissions_boundary()
                        .role_name(name)
                        .permissions_boundary(arn)
                        .send()
                        .await
                        .map_err(|e| call_error("iam:PutRolePermissionsBoundary", &e))?;
                }
                RoleChange::SetMaxSessionDuration { seconds } => {
                    self.client
                        .update_role()
                        .role_name(name)
                        .max_session_duration(*seconds)
                        .send()
                        .await
                        .map_err(|e| call_error("iam:UpdateRole", &e))?;
                }
                RoleChange::Tag { tags } => {
                    self.client
                        .tag_role()
                        .role_name(name)
                        .set_tags(Some(iam_tags(tags)?))
                        .send()
                        .await
                        .map_err(|e| call_error("iam:TagRole", &e))?;
                }
            }
        }
        Ok(arn)
    }

    /// Detaches and deletes the role's policies, then the role.
    #[instrument(skip_all, fields(name))]
    pub async fn delete(&self, state: &RoleState, name: &str) -> Result<(), AwsError> {
        for arn in &state.managed_policies {
            self.client
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| call_error("iam:DetachRolePolicy", &e))?;
        }
        for policy in state.inline_policies.keys() {
            self.client
                .delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .map_err(|e| call_error("iam:DeleteRolePolicy", &e))?;
        }
        self.client
            .delete_role()
            .role_name(name)
            .send()
            .await
            .map_err(|e| call_error("iam:DeleteRole", &e))?;
        Ok(())
    }
}
