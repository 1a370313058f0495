//! IAM OpenID Connect providers: read one by ARN, apply a plan's changes, delete.
//!
//! A concrete type rather than a trait: it has one implementation, and tests run it against
//! moto's IAM instead of a fake.

use tracing::instrument;

use super::{call_error, error_code, iam_tags as tags, AwsError};
use crate::aws::provider::{ProviderChange, ProviderState};

/// The OIDC providers of one account.
#[derive(Debug, Clone)]
pub struct Providers {
    client: aws_sdk_iam::Client,
}

impl Providers {
    /// Providers through `client`.
    pub fn new(client: aws_sdk_iam::Client) -> Self {
        Self { client }
    }

    /// The provider at `arn`, or `None` if there is none.
    #[instrument(skip_all, fields(arn))]
    pub async fn get(&self, arn: &str) -> Result<Option<ProviderState>, AwsError> {
        let out = match self
            .client
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if error_code(&e) == Some("NoSuchEntity") => return Ok(None),
            Err(e) => return Err(call_error("iam:GetOpenIDConnectProvider", e)),
        };
        Ok(Some(ProviderState {
            arn: arn.to_string(),
            url: out.url().unwrap_or_default().to_string(),
            client_ids: out.client_id_list().iter().cloned().collect(),
            thumbprints: out
                .thumbprint_list()
                .iter()
                .map(|t| t.to_ascii_lowercase())
                .collect(),
            tags: out
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        }))
    }

    /// Applies `changes` in order to the provider at `arn` (created by a `Create` change).
    /// Returns the provider's ARN.
    #[instrument(skip_all, fields(arn))]
    pub async fn apply(&self, arn: &str, changes: &[ProviderChange]) -> Result<String, AwsError> {
        let mut arn = arn.to_string();
        for change in changes {
            match change {
                ProviderChange::Create { spec } => {
                    let out = self
                        .client
                        .create_open_id_connect_provider()
                        .url(&spec.url)
                        .set_client_id_list(Some(spec.client_ids.iter().cloned().collect()))
                        // No thumbprint at all is left out of the call (optional since 2023).
                        .set_thumbprint_list(
                            (!spec.thumbprints.is_empty())
                                .then(|| spec.thumbprints.iter().map(|t| t.to_string()).collect()),
                        )
                        .set_tags(Some(tags(&spec.tags)?))
                        .send()
                        .await;
                    match out {
                        Ok(out) => {
                            arn = out
                                .open_id_connect_provider_arn()
                                .unwrap_or(&arn)
                                .to_string();
                        }
                        // A retry after a lost answer: the first attempt created it. Go on from
                        // what IAM holds, if it is this issuer's.
                        Err(e) if error_code(&e) == Some("EntityAlreadyExists") => {
                            match self.get(&arn).await? {
                                Some(p) if p.is_ours(spec.url.as_str()) => {}
                                _ => {
                                    return Err(AwsError::Call {
                                        operation: "iam:CreateOpenIDConnectProvider",
                                        message: format!("{arn} appeared between the read and the create, and it is not this issuer's: run again to see it in the plan"),
                                    })
                                }
                            }
                        }
                        Err(e) => return Err(call_error("iam:CreateOpenIDConnectProvider", e)),
                    }
                }
                ProviderChange::SetThumbprints { thumbprints, .. } => {
                    self.client
                        .update_open_id_connect_provider_thumbprint()
                        .open_id_connect_provider_arn(&arn)
                        .set_thumbprint_list(Some(
                            thumbprints.iter().map(|t| t.to_string()).collect(),
                        ))
                        .send()
                        .await
                        .map_err(|e| call_error("iam:UpdateOpenIDConnectProviderThumbprint", e))?;
                }
                ProviderChange::AddClientId { client_id } => {
                    self.client
                        .add_client_id_to_open_id_connect_provider()
                        .open_id_connect_provider_arn(&arn)
                        .client_id(client_id)
                        .send()
                        .await
                        .map_err(|e| call_error("iam:AddClientIDToOpenIDConnectProvider", e))?;
                }
                ProviderChange::RemoveClientId { client_id } => {
                    self.client
                        .remove_client_id_from_open_id_connect_provider()
                        .open_id_connect_provider_arn(&arn)
                        .client_id(client_id)
                        .send()
                        .await
                        .map_err(|e| {
                            call_error("iam:RemoveClientIDFromOpenIDConnectProvider", e)
                        })?;
                }
                ProviderChange::Tag { tags: t } => {
                    self.client
                        .tag_open_id_connect_provider()
                        .open_id_connect_provider_arn(&arn)
                        .set_tags(Some(tags(t)?))
                        .send()
                        .await
                        .map_err(|e| call_error("iam:TagOpenIDConnectProvider", e))?;
                }
            }
        }
        Ok(arn)
    }

    /// Every provider of the account: its ARN and URL (the ARN names the URL without
    /// `https://`; ListOpenIDConnectProviders is not paginated).
    #[instrument(skip_all)]
    pub async fn list(&self) -> Result<Vec<(String, String)>, AwsError> {
        let out = self
            .client
            .list_open_id_connect_providers()
            .send()
            .await
            .map_err(|e| call_error("iam:ListOpenIDConnectProviders", e))?;
        Ok(out
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|p| {
                let arn = p.arn()?.to_string();
                let url = arn.split_once(":oidc-provider/")?.1.to_string();
                Some((arn, url))
            })
            .collect())
    }

    /// Deletes the provider at `arn`.
    #[instrument(skip_all, fields(arn))]
    pub async fn delete(&self, arn: &str) -> Result<(), AwsError> {
        self.client
            .delete_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .map_err(|e| call_error("iam:DeleteOpenIDConnectProvider", e))?;
        Ok(())
    }
}
