//! The AWS adapters: configuration through the standard credential chain, a recorder of every
//! request the SDK sends (the `aws_calls` of `--output json`, and how tests prove that a second
//! run makes no mutating call), reaching accounts (`accounts`), IAM providers (`providers`)
//! and roles (`roles`), and CloudFront (`cloudfront`). Every file here does I/O.

use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
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

/// Why an AWS call failed, said so a user knows what to do: one sentence, never the SDK's
/// debug dump, with the cause kept as the source.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// No region anywhere in the chain (an empty `AWS_REGION=""` counts as none).
    #[error("no AWS region: pass --region (or aws.region in the file), or set AWS_REGION (or a region in your AWS profile)")]
    NoRegion,
    /// A region that is malformed or in a partition irsa-issuer does not know.
    #[error("{0}")]
    Region(String),
    /// The service answered with an error.
    #[error("{operation} failed: {code} (HTTP {status}): {message}{}", hint_text(.code, *.status))]
    Service {
        /// The operation (`iam:CreateRole`).
        operation: &'static str,
        /// AWS's error code (`AccessDenied`).
        code: String,
        /// The HTTP status.
        status: u16,
        /// AWS's message.
        message: String,
        /// The service's error.
        #[source]
        source: SdkCause,
    },
    /// No answer: the connection failed, was reset, or timed out, on every attempt.
    #[error("{what} while calling {operation}; tried {attempts} time(s)")]
    Transport {
        /// The operation.
        operation: &'static str,
        /// What happened, in words (`connection reset by the server`).
        what: String,
        /// How many attempts were made.
        attempts: u32,
        /// The transport's error.
        #[source]
        source: SdkCause,
    },
    /// No credentials could be found or loaded.
    #[error("no usable AWS credentials for {operation}: set AWS_PROFILE (or --profile, aws.profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role is available (web identity, ECS, instance metadata)")]
    Credentials {
        /// The operation.
        operation: &'static str,
        /// The credential chain's error (which providers it tried).
        #[source]
        source: SdkCause,
    },
    /// A call failed otherwise (a request that could not be built, an answer missing a field).
    #[error("{operation} failed: {message}")]
    Call {
        /// The operation.
        operation: &'static str,
        /// What went wrong.
        message: String,
    },
}

impl AwsError {
    /// AWS's error code, for a service error.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, for a service error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Service { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// What to do about the common service errors.
fn hint_text(code: &str, status: u16) -> &'static str {
    match code {
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
            "; the credentials lack this permission: `irsa-issuer iam-policy` prints the policy irsa-issuer needs"
        }
        "MalformedPolicyDocument" => {
            "; if the policy names an OIDC provider, create it in this account first (`irsa-issuer provider apply`, with --assume-role for other accounts)"
        }
        "InvalidClientTokenId" | "SignatureDoesNotMatch" | "ExpiredToken" | "InvalidAccessKeyId" => {
            "; check the AWS credentials in use (AWS_PROFILE, AWS_ACCESS_KEY_ID, `aws sts get-caller-identity`)"
        }
        "Throttling" | "ThrottlingException" | "SlowDown" | "RequestLimitExceeded" => {
            "; AWS throttled every attempt: run again later, or raise --max-attempts (AWS_MAX_ATTEMPTS)"
        }
        _ if status >= 500 => "; the service itself failed on every attempt: run again later",
        _ => "",
    }
}

/// A boxed error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The SDK's error behind an [`AwsError`], kept whole ([`SdkCause::inner`]) but shown as one
/// line: the root cause at the bottom of the SDK's chain (`Connection reset by peer (os error
/// 104)`), or nothing when the message above already says it all (a service error). Its own
/// chain ends here, so no layer of the SDK's wrappers is printed.
#[derive(Debug)]
pub struct SdkCause(Box<(String, BoxError)>);

impl SdkCause {
    fn new(inner: BoxError, show_root: bool) -> Self {
        let summary = if show_root {
            let mut root: &(dyn std::error::Error + 'static) = inner.as_ref();
            while let Some(next) = root.source() {
                root = next;
            }
            let first = root.to_string();
            let first = first.lines().next().unwrap_or_default();
            // The credential chain's list of providers tried follows on later lines.
            first
                .trim_end_matches(" Attempted:")
                .trim_end_matches('.')
                .to_string()
        } else {
            String::new()
        };
        Self(Box::new((summary, inner)))
    }

    /// The SDK's error, whole.
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self.0 .1.as_ref()
    }
}

impl std::fmt::Display for SdkCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0 .0)
    }
}

impl std::error::Error for SdkCause {}

/// The attempts the SDK makes per call unless told otherwise (`--max-attempts`,
/// `AWS_MAX_ATTEMPTS`, the profile's `max_attempts`). The SDK's own default, 3, let one call
/// fail a whole bootstrap with 20% of calls failing transiently (0.8% of calls fail three times
/// in a row; an apply makes dozens). With 10, that is 1e-7 per call, and a real outage still
/// ends the run within about two minutes of backoff (jittered, capped at 20 s).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

/// The attempts per call of the contexts loaded in this process, for error messages.
static MAX_ATTEMPTS: std::sync::atomic::AtomicU32 =
    std::sync::atomic::AtomicU32::new(DEFAULT_MAX_ATTEMPTS);

/// `--max-attempts`, when given (0: not given). Process-wide, like the rest of the SDK's
/// retry settings (AWS_MAX_ATTEMPTS, the profile): the binary sets it once, before any call.
static MAX_ATTEMPTS_GIVEN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Sets the attempts per AWS call (`--max-attempts`), over AWS_MAX_ATTEMPTS and the profile.
pub fn set_max_attempts(n: u32) {
    MAX_ATTEMPTS_GIVEN.store(n, std::sync::atomic::Ordering::Relaxed);
}

/// The retry settings: `--max-attempts` if given; else what the SDK read from AWS_MAX_ATTEMPTS
/// or the profile's `max_attempts`/`retry_mode`; else standard retries (exponential backoff with
/// full jitter, capped at 20 s) with [`DEFAULT_MAX_ATTEMPTS`]. Standard rather than adaptive:
/// adaptive adds client-side rate limiting, which slows a bootstrap without helping it
/// converge. (A profile that sets exactly the SDK's default, 3, reads as unset.)
fn retry_config(loaded: Option<&aws_config::retry::RetryConfig>) -> aws_config::retry::RetryConfig {
    use aws_config::retry::RetryConfig;
    let given = MAX_ATTEMPTS_GIVEN.load(std::sync::atomic::Ordering::Relaxed);
    if given > 0 {
        return RetryConfig::standard().with_max_attempts(given);
    }
    let from_env = std::env::var("AWS_MAX_ATTEMPTS").is_ok_and(|v| !v.trim().is_empty());
    match loaded {
        Some(r) if from_env || r.max_attempts() != 3 => r.clone(),
        _ => RetryConfig::standard().with_max_attempts(DEFAULT_MAX_ATTEMPTS),
    }
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
        let loaded = loader.load().await;
        let retry = retry_config(loaded.retry_config());
        MAX_ATTEMPTS.store(retry.max_attempts(), std::sync::atomic::Ordering::Relaxed);
        let sdk = loaded.to_builder().retry_config(retry).build();
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

    /// An S3 client whose calls are not recorded in `aws_calls`: the bucket lock's (taking,
    /// renewing and giving back the lock change none of the issuer's resources, and a run that
    /// changes nothing says so).
    pub fn s3_unrecorded(&self, path_style: bool) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk)
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
            .map_err(|e| call_error("sts:AssumeRole", e))?;
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
            .map_err(|e| call_error("sts:GetCallerIdentity", e))?;
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

/// An [`AwsError`] from the SDK's error: AWS's code, status and message for a service error;
/// one sentence for a transport failure or missing credentials; the SDK's error as the source.
pub fn call_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(se) = &err {
        let e = se.err();
        let status = se.raw().status().as_u16();
        let code = e.code().map(str::to_string).unwrap_or_else(|| {
            if status >= 500 {
                "ServiceFailure".into()
            } else {
                "UnknownError".into()
            }
        });
        let message = e.message().unwrap_or("no message").to_string();
        let source = SdkCause::new(boxed(err), false);
        return AwsError::Service {
            operation,
            code,
            status,
            message,
            source,
        };
    }
    if chain_has::<aws_credential_types::provider::error::CredentialsError>(&err) {
        return AwsError::Credentials {
            operation,
            source: SdkCause::new(boxed(err), true),
        };
    }
    let what = transport_words(&err);
    AwsError::Transport {
        operation,
        what,
        attempts: MAX_ATTEMPTS.load(std::sync::atomic::Ordering::Relaxed),
        source: SdkCause::new(boxed(err), true),
    }
}

fn boxed<E>(err: SdkError<E, HttpResponse>) -> BoxError
where
    E: std::error::Error + Send + Sync + 'static,
{
    match err.into_source() {
        Ok(source) => source,
        Err(e) => Box::new(e),
    }
}

/// Whether any error in `err`'s source chain is a `T`.
fn chain_has<T: std::error::Error + 'static>(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<T>() {
            return true;
        }
        cur = e.source();
    }
    false
}

/// A transport failure in words, from the I/O error at the bottom of the chain when there is
/// one.
fn transport_words<E, R>(err: &SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            return match io.kind() {
                ConnectionReset => "connection reset by the server".into(),
                ConnectionRefused => "connection refused".into(),
                ConnectionAborted => "connection aborted".into(),
                TimedOut => "no answer in time".into(),
                UnexpectedEof | BrokenPipe => "connection closed by the server".into(),
                _ => format!("a network error ({io})"),
            };
        }
        cur = e.source();
    }
    match err {
        SdkError::TimeoutError(_) => "no answer in time".into(),
        SdkError::DispatchFailure(d) if d.is_timeout() => "no answer in time".into(),
        SdkError::DispatchFailure(d) if d.is_io() => "a network error".into(),
        SdkError::ResponseError(_) => "an answer that could not be read".into(),
        SdkError::ConstructionFailure(_) => "a request that could not be built".into(),
        _ => "a failure to send the request".into(),
    }
}
