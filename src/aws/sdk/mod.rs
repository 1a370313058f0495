//! The AWS adapters: configuration through the standard credential chain, a recorder of every
//! request the SDK sends (the `aws_calls` of `--output json`, and how tests prove that a second
//! run makes no mutating call), reaching accounts (`accounts`), IAM providers (`providers`)
//! and roles (`roles`), and CloudFront (`cloudfront`). Every file here does I/O.

use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::config_bag::ConfigBag;
use tracing::instrument;

pub use crate::aws::names::Caller;
use crate::aws::names::Partition;

pub mod accounts;
pub mod cloudfront;
pub mod providers;
pub mod roles;

/// Why an AWS call failed, said so a user knows what to do.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// No region anywhere in the chain.
    #[error("no AWS region: pass --region, or set AWS_REGION (or a region in your AWS profile)")]
    NoRegion,
    /// A region that is malformed or in a partition irsa-issuer does not know.
    #[error("{0}")]
    Region(String),
    /// A call failed.
    #[error("{operation} failed: {message}")]
    Call {
        /// The operation.
        operation: &'static str,
        /// What AWS said, and a hint.
        message: String,
    },
}

/// Records `service:Operation` for every request attempt the SDK transmits.
#[derive(Debug, Clone, Default)]
pub struct CallRecorder(Arc<Mutex<Vec<String>>>);

impl CallRecorder {
    /// Every request sent so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Intercept for CallRecorder {
    fn name(&self) -> &'static str {
        "irsa-issuer-call-recorder"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            if let Ok(mut v) = self.0.lock() {
                v.push(format!("{}:{}", m.service().to_ascii_lowercase(), m.name()));
            }
        }
        Ok(())
    }
}

/// The loaded configuration and the clients built from it.
#[derive(Debug, Clone)]
pub struct AwsContext {
    sdk: SdkConfig,
    /// The region in use.
    pub region: String,
    /// Every request made through this context.
    pub recorder: CallRecorder,
}

/// Where AWS settings come from, loaded on first use: commands that may not need AWS (a
/// directory target, `verify --skip-aws`) never touch the credential chain.
#[derive(Debug, Default)]
pub struct AwsSource {
    region: Option<String>,
    profile: Option<String>,
    loaded: tokio::sync::OnceCell<AwsContext>,
}

impl AwsSource {
    /// The standard chain with these overrides.
    pub fn new(region: Option<String>, profile: Option<String>) -> Self {
        Self {
            region,
            profile,
            loaded: tokio::sync::OnceCell::new(),
        }
    }

    /// The context, loaded on the first call.
    pub async fn context(&self) -> Result<&AwsContext, AwsError> {
        self.loaded
            .get_or_try_init(|| AwsContext::load(self.region.as_deref(), self.profile.as_deref()))
            .await
    }

    /// The context if it was loaded.
    pub fn loaded(&self) -> Option<&AwsContext> {
        self.loaded.get()
    }
}

impl AwsContext {
    /// Loads the standard chain (environment, profiles, SSO, web identity, instance metadata),
    /// with `--profile` and `--region` on top. `AWS_ENDPOINT_URL` redirects every client.
    pub async fn load(region: Option<&str>, profile: Option<&str>) -> Result<Self, AwsError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(p) = profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = region {
            loader = loader.region(Region::new(r.to_string()));
        }
        let sdk = loader.load().await;
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .filter(|r| !r.trim().is_empty())
            .ok_or(AwsError::NoRegion)?;
        Partition::for_region(&region).map_err(|e| AwsError::Region(e.to_string()))?;
        Ok(Self {
            sdk,
            region,
            recorder: CallRecorder::default(),
        })
    }

    /// A context for other credentials (an assumed role), sharing region and recorder.
    pub fn with_sdk_config(&self, sdk: SdkConfig) -> Self {
        Self {
            sdk,
            region: self.region.clone(),
            recorder: self.recorder.clone(),
        }
    }

    /// An S3 client; path-style when the bucket name has dots (virtual-hosted TLS breaks there).
    pub fn s3(&self, path_style: bool) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk)
            .interceptor(self.recorder.clone())
            .force_path_style(path_style)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// An IAM client.
    pub fn iam(&self) -> aws_sdk_iam::Client {
        let conf = aws_sdk_iam::config::Builder::from(&self.sdk)
            .interceptor(self.recorder.clone())
            .build();
        aws_sdk_iam::Client::from_conf(conf)
    }

    /// A CloudFront client (a global service: its endpoint follows the partition).
    pub fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        let conf = aws_sdk_cloudfront::config::Builder::from(&self.sdk)
            .interceptor(self.recorder.clone())
            .build();
        aws_sdk_cloudfront::Client::from_conf(conf)
    }

    /// An STS client.
    pub fn sts(&self) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::config::Builder::from(&self.sdk)
            .interceptor(self.recorder.clone())
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    }

    /// A context with the credentials of `role_arn`, assumed through STS (with an external ID
    /// when the role's trust policy asks for one). Calls are recorded in the same recorder.
    #[instrument(skip_all, fields(role_arn))]
    pub async fn assume_role(
        &self,
        role_arn: &str,
        external_id: Option<&str>,
        session_name: &str,
    ) -> Result<Self, AwsError> {
        let out = self
            .sts()
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(session_name)
            .set_external_id(external_id.map(str::to_string))
            .send()
            .await
            .map_err(|e| call_error("sts:AssumeRole", &e))?;
        let c = out.credentials().ok_or(AwsError::Call {
            operation: "sts:AssumeRole",
            message: "no credentials in the answer".into(),
        })?;
        let creds = aws_sdk_sts::config::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "irsa-issuer-assume-role",
        );
        let sdk = self
            .sdk
            .to_builder()
            .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(creds))
            .build();
        Ok(self.with_sdk_config(sdk))
    }

    /// Who the credentials belong to (STS GetCallerIdentity; needs no permission).
    #[instrument(skip_all)]
    pub async fn caller(&self) -> Result<Caller, AwsError> {
        let out = self
            .sts()
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| call_error("sts:GetCallerIdentity", &e))?;
        let arn = out.arn().unwrap_or_default().to_string();
        Ok(Caller {
            account: out.account().unwrap_or_default().to_string(),
            partition: Partition::of_arn(&arn).unwrap_or(Partition::of_region(&self.region)),
            arn,
        })
    }
}

/// Tags in IAM's shape.
pub(crate) fn iam_tags(
    map: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<aws_sdk_iam::types::Tag>, AwsError> {
    map.iter()
        .map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::Call {
                    operation: "iam:Tag",
                    message: e.to_string(),
                })
        })
        .collect()
}

/// The error code of a service error, if it is one.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

/// An [`AwsError`] with AWS's code and message, plus what to do for the common ones.
pub fn call_error<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = match err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let status = se.raw().status().as_u16();
            let code = e.code().unwrap_or(if status >= 500 {
                "the service failed"
            } else {
                "error"
            });
            let hint = match code {
                "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
                    "; the credentials lack this permission: `irsa-issuer iam-policy` prints the policy irsa-issuer needs"
                }
                "MalformedPolicyDocument" => {
                    "; if the policy names an OIDC provider, create it in this account first (`irsa-issuer provider apply`, with --assume-role for other accounts)"
                }
                "InvalidClientTokenId" | "SignatureDoesNotMatch" | "ExpiredToken" | "InvalidAccessKeyId" => {
                    "; check the AWS credentials in use (AWS_PROFILE, AWS_ACCESS_KEY_ID, `aws sts get-caller-identity`)"
                }
                _ => "",
            };
            let hint = if hint.is_empty() && status >= 500 {
                "; retry later (the service itself failed)"
            } else {
                hint
            };
            format!(
                "{code} (HTTP {status}): {}{hint}",
                e.message().unwrap_or("no message")
            )
        }
        other => {
            let text = DisplayErrorContext(other).to_string();
            if text.contains("credential") {
                format!("{text}; no usable AWS credentials were found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run where a role is available")
            } else {
                text
            }
        }
    };
    AwsError::Call { operation, message }
}
