//! The per-cluster configuration file (`irsa-issuer.toml`), pure: parse the text, apply the
//! documented environment overrides, check every value, and report a mistake with the field and
//! the line it is on.
//!
//! TOML rather than YAML: it is what Rust tooling and many infrastructure tools use, it has
//! comments, it has no implicit typing (`no` is never a boolean, `1.10` never a float), and its
//! parser reports exact positions, so every error can name its line.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::aws::bucket::PublicAccess;
use crate::aws::names::{validate_iam_arn, IamArnKind, S3Location, Thumbprint};
use crate::aws::trust::ServiceAccountRef;
use crate::oidc::issuer::{IssuerUrl, JwksPath};
use crate::oidc::keys::Algorithm;

/// The annotated example `init` writes, for a file named `file_name`, with the region pinned
/// when one is known (an S3 issuer is derived from it, so it must not follow the shell's).
pub fn example(file_name: &str, region: Option<&str>) -> String {
    let text = EXAMPLE.replace("{{FILE}}", file_name);
    match region {
        Some(r) => text.replacen("# region = \"us-east-1\"", &format!("region = \"{r}\""), 1),
        None => text,
    }
}

/// How many AWS reads or plan steps run at once unless `aws.concurrency` or `--concurrency`
/// say otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// The file `irsa-issuer init` writes and `apply` reads when no `-f` is given.
pub const DEFAULT_FILE: &str = "irsa-issuer.toml";

/// A mistake in the configuration: where it is, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{field}: {message}", location(.file, *.line))]
pub struct ConfigError {
    /// The file (or the environment variable that set the value).
    pub file: String,
    /// The 1-based line, when the value came from the file.
    pub line: Option<usize>,
    /// The field, as a dotted path (`roles[0].service_accounts`).
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

fn location(file: &str, line: Option<usize>) -> String {
    match line {
        Some(l) => format!("{file}:{l}: "),
        None => format!("{file}: "),
    }
}

/// Environment variables that override fields of the file (documented in the example).
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("IRSA_ISSUER_ISSUER", "issuer"),
    ("IRSA_ISSUER_TARGET", "target"),
    ("IRSA_ISSUER_JWKS_PATH", "jwks_path"),
    ("IRSA_ISSUER_KEY_DIR", "keys.dir"),
    ("IRSA_ISSUER_GENERATE_KEYS", "keys.generate"),
    ("IRSA_ISSUER_REGION", "aws.region"),
    ("IRSA_ISSUER_PROFILE", "aws.profile"),
    ("IRSA_ISSUER_CLIENT_IDS", "provider.client_ids"),
    ("IRSA_ISSUER_THUMBPRINTS", "provider.thumbprints"),
    ("IRSA_ISSUER_CA_FILE", "tls.ca_file"),
    ("IRSA_ISSUER_CONNECT_TO", "tls.connect_to"),
    ("IRSA_ISSUER_CONCURRENCY", "aws.concurrency"),
];

/// Where the documents go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A directory served by some web server.
    Dir(PathBuf),
    /// An S3 bucket and prefix.
    S3(S3Location),
}

impl Target {
    /// The target as written (`s3://…` or the directory).
    pub fn describe(&self) -> String {
        match self {
            Self::Dir(p) => p.display().to_string(),
            Self::S3(l) => l.to_string(),
        }
    }
}

/// Where the signing keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysConfig {
    /// A key directory (`rotate` layout).
    pub dir: Option<PathBuf>,
    /// PEM files with public (or private) keys to publish as well.
    pub files: Vec<PathBuf>,
    /// Create the first key in `dir` when it has none.
    pub generate: bool,
    /// Algorithm of a generated key.
    pub algorithm: Algorithm,
    /// RSA modulus size of a generated key.
    pub rsa_bits: usize,
}

/// S3 bucket set-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// Create and configure the bucket (public read of the two documents).
    pub create_bucket: bool,
    /// How the documents are made public.
    pub public_access: PublicAccess,
    /// Cache-Control of both documents.
    pub cache_control: String,
    /// Relax Block Public Access even when other public grants in the bucket would become
    /// live (or let ACLs apply on a bucket irsa-issuer did not create).
    pub allow_public_grants: bool,
}

/// AWS credentials and the current account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// Region (else the SDK's chain: AWS_REGION, the profile).
    pub region: Option<String>,
    /// Profile (else AWS_PROFILE or the default chain).
    pub profile: Option<String>,
    /// Whether the current credentials' account is one of the accounts.
    pub current_account: bool,
    /// STS session name for assumed roles.
    pub role_session_name: String,
    /// How many accounts are read or changed at once, and how many reads or steps at once in
    /// each.
    pub concurrency: usize,
}

/// One more account, reached by assuming a role in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    /// The role to assume.
    pub assume_role: String,
    /// Its external ID.
    pub external_id: Option<String>,
}

/// The thumbprints the provider lists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Thumbprints {
    /// Take the thumbprint from the issuer's TLS chain.
    pub auto: bool,
    /// Thumbprints given explicitly.
    pub fixed: Vec<Thumbprint>,
}

/// The IAM OpenID Connect provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// Audiences (client IDs); empty means sts.amazonaws.com.
    pub client_ids: Vec<String>,
    /// Thumbprints.
    pub thumbprints: Thumbprints,
}

/// One role for service accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleConfig {
    /// Role name.
    pub name: String,
    /// Who may assume it.
    pub service_accounts: Vec<ServiceAccountRef>,
    /// Audience its trust policy requires (default: sts.amazonaws.com).
    pub audience: Option<String>,
    /// Managed policies.
    pub policy_arns: Vec<String>,
    /// Inline policies: name → JSON file.
    pub inline_policies: BTreeMap<String, PathBuf>,
    /// Permissions boundary.
    pub permissions_boundary: Option<String>,
    /// Maximum session duration in seconds.
    pub max_session_duration: Option<i32>,
    /// Tags besides the file's `tags` and managed-by.
    pub tags: BTreeMap<String, String>,
    /// Account IDs to create it in; empty: every account.
    pub accounts: Vec<String>,
    /// Its ServiceAccount manifests ask for the regional STS endpoint
    /// (`eks.amazonaws.com/sts-regional-endpoints: "true"`).
    pub sts_regional_endpoints: bool,
    /// Its ServiceAccount manifests' `eks.amazonaws.com/token-expiration`, in seconds (600 to
    /// the rotation's max token age).
    pub token_expiration: Option<u32>,
}

/// IAM settings shared by every role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamConfig {
    /// The path roles are created under (`/irsa/`): `iam-policy` scopes the role permissions
    /// of the principal running irsa-issuer to it.
    pub role_path: String,
    /// The trust-policy size limit of the accounts (2048, or up to 4096 once the quota is
    /// raised).
    pub max_trust_policy_size: usize,
}

impl Default for IamConfig {
    fn default() -> Self {
        Self {
            role_path: crate::aws::role::DEFAULT_PATH.to_string(),
            max_trust_policy_size: crate::aws::trust::TRUST_POLICY_MAX,
        }
    }
}

/// How the issuer's TLS endpoint is reached (private CAs, tests).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsConfig {
    /// Extra CA certificates to trust.
    pub ca_file: Option<PathBuf>,
    /// Connect here instead of resolving the issuer's host.
    pub connect_to: Option<SocketAddr>,
}

/// Key rotation settings (`rotate` commands read them from the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationConfig {
    /// The longest lifetime of a service-account token the cluster issues.
    pub max_token_age: std::time::Duration,
    /// Clock skew allowed between kube-apiserver and relying parties.
    pub clock_skew: std::time::Duration,
    /// How long relying parties may cache the JWKS: promote waits this long after the next
    /// key was first published. Default: the max-age of `s3.cache_control`.
    pub cache_max_age: u64,
}

/// The max-age of a Cache-Control value, if it has one.
pub fn max_age(cache_control: &str) -> Option<u64> {
    cache_control
        .split(',')
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|v| v.trim().parse().ok())
}

/// A checked configuration. Relative paths are resolved against the file's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The issuer URL; `None` with an S3 target means "derived from the bucket".
    pub issuer: Option<IssuerUrl>,
    /// Where the documents go.
    pub target: Target,
    /// JWKS path below the issuer.
    pub jwks_path: JwksPath,
    /// Keys.
    pub keys: KeysConfig,
    /// S3 set-up.
    pub s3: S3Config,
    /// AWS.
    pub aws: AwsConfig,
    /// Extra accounts.
    pub accounts: Vec<AccountConfig>,
    /// The provider.
    pub provider: ProviderConfig,
    /// Tags on everything irsa-issuer creates.
    pub tags: BTreeMap<String, String>,
    /// Roles.
    pub roles: Vec<RoleConfig>,
    /// IAM settings shared by the roles.
    pub iam: IamConfig,
    /// Key rotation.
    pub rotation: RotationConfig,
    /// TLS.
    pub tls: TlsConfig,
    /// CloudFront in front of the (then private) bucket.
    pub cdn: Option<crate::aws::cdn::CdnConfig>,
}

type S = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    issuer: Option<S>,
    target: Option<S>,
    jwks_path: Option<S>,
    #[serde(default)]
    keys: RawKeys,
    #[serde(default)]
    s3: RawS3,
    #[serde(default)]
    aws: RawAws,
    #[serde(default)]
    accounts: Vec<RawAccount>,
    #[serde(default)]
    provider: RawProvider,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    roles: Vec<RawRole>,
    #[serde(default)]
    iam: RawIam,
    #[serde(default)]
    rotation: RawRotation,
    #[serde(default)]
    tls: RawTls,
    cdn: Option<RawCdn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCdn {
    kind: S,
    alias: Option<S>,
    acm_certificate_arn: Option<S>,
    price_class: Option<S>,
    deploy_timeout: Option<S>,
    distribution_id: Option<S>,
    origin_access_control_id: Option<S>,
    cache_policy_id: Option<S>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRotation {
    max_token_age: Option<S>,
    clock_skew: Option<S>,
    cache_max_age: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawIam {
    role_path: Option<S>,
    max_trust_policy_size: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    dir: Option<S>,
    #[serde(default)]
    files: Vec<S>,
    generate: Option<Spanned<bool>>,
    algorithm: Option<S>,
    rsa_bits: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawS3 {
    create_bucket: Option<bool>,
    public_access: Option<S>,
    cache_control: Option<S>,
    allow_public_grants: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAws {
    region: Option<S>,
    profile: Option<S>,
    current_account: Option<bool>,
    role_session_name: Option<S>,
    concurrency: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    assume_role: S,
    external_id: Option<S>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    client_ids: Option<Vec<S>>,
    thumbprints: Option<Vec<S>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    name: S,
    service_accounts: Spanned<Vec<S>>,
    audience: Option<S>,
    #[serde(default)]
    policy_arns: Vec<S>,
    #[serde(default)]
    inline_policies: BTreeMap<String, S>,
    permissions_boundary: Option<S>,
    max_session_duration: Option<Spanned<i64>>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    accounts: Vec<S>,
    #[serde(default)]
    sts_regional_endpoints: bool,
    token_expiration: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca_file: Option<S>,
    connect_to: Option<S>,
}

/// Where a value came from, for error messages.
#[derive(Clone)]
enum Origin {
    File(Range<usize>),
    Env(&'static str),
    Missing,
}

/// A value with its origin.
struct Val<T> {
    value: T,
    origin: Origin,
}

fn from_file<T: Clone>(s: &Spanned<T>) -> Val<T> {
    Val {
        value: s.get_ref().clone(),
        origin: Origin::File(s.span()),
    }
}

struct Ctx<'a> {
    text: &'a str,
    file: &'a str,
    base: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, origin: &Origin, field: &str, message: impl Into<String>) -> ConfigError {
        let (file, line) = match origin {
            Origin::File(span) => (self.file.to_string(), Some(line_of(self.text, span.start))),
            Origin::Env(var) => (format!("{} (overridden by {var})", self.file), None),
            Origin::Missing => (self.file.to_string(), None),
        };
        ConfigError {
            file,
            line,
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }
}

/// The 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The dotted name of the key on the line at `offset` (`s3.create_bucket`), from the nearest
/// table header above it: TOML's own errors name the problem, not always the field.
fn field_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    let key = line.split_once('=').map(|(k, _)| k.trim().to_string());
    let table = text[..start].lines().rev().find_map(|l| {
        let l = l.trim();
        l.starts_with('[')
            .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
    });
    match (table, key) {
        (Some(t), Some(k)) if !k.is_empty() && !k.starts_with('[') => Some(format!("{t}.{k}")),
        (None, Some(k)) if !k.is_empty() && !k.starts_with('[') => Some(k),
        (Some(t), None) => Some(t),
        _ => None,
    }
}

/// Parses and checks a configuration. `file` names it in errors; `base` resolves relative
/// paths; `env` looks up the override variables ([`ENV_OVERRIDES`]).
pub fn parse(
    text: &str,
    file: &str,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let ctx = Ctx { text, file, base };
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim().to_string();
        // serde names the unknown or missing field in the message; the position names the line.
        let field = backticked(&message)
            .filter(|_| {
                message.starts_with("unknown field") || message.starts_with("missing field")
            })
            .map(|f| match field_at(text, span.start) {
                Some(path) if path.ends_with(&f) => path,
                Some(path) if message.starts_with("missing") => format!("{path}.{f}"),
                _ => f,
            })
            .or_else(|| field_at(text, span.start))
            .unwrap_or_else(|| "(file)".into());
        let hint = if message.starts_with("unknown field") {
            " (check the spelling against `irsa-issuer init`'s annotated example)"
        } else {
            ""
        };
        ConfigError {
            file: file.to_string(),
            line: e.span().map(|s| line_of(text, s.start)),
            field,
            message: format!("{message}{hint}"),
        }
    })?;
    build(&ctx, raw, env)
}

/// The first `name` in the message (serde quotes field names in backticks).
fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

fn opt(s: &Option<S>) -> Option<Val<String>> {
    s.as_ref().map(from_file)
}

fn env_val(env: &dyn Fn(&str) -> Option<String>, var: &'static str) -> Option<Val<String>> {
    env(var).map(|value| Val {
        value,
        origin: Origin::Env(var),
    })
}

fn list(env: &dyn Fn(&str) -> Option<String>, var: &'static str) -> Option<Vec<Val<String>>> {
    env(var).map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Val {
                value: s.to_string(),
                origin: Origin::Env(var),
            })
            .collect()
    })
}

fn build(
    ctx: &Ctx,
    raw: RawConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let target = env_val(env, "IRSA_ISSUER_TARGET")
        .or(opt(&raw.target))
        .ok_or_else(|| {
            ctx.err(
                &Origin::Missing,
                "target",
                "missing: set target = \"s3://BUCKET/PREFIX\" or a directory",
            )
        })?;
    let target_v = if target.value.starts_with("s3://") {
        Target::S3(
            S3Location::parse(&target.value)
                .map_err(|e| ctx.err(&target.origin, "target", e.to_string()))?,
        )
    } else if target.value.contains("://") {
        return Err(ctx.err(
            &target.origin,
            "target",
            format!(
                "`{}`: a target is a directory or s3://BUCKET[/PREFIX]",
                target.value
            ),
        ));
    } else if target.value.is_empty() {
        return Err(ctx.err(&target.origin, "target", "is empty"));
    } else {
        Target::Dir(ctx.path(&target.value))
    };

    let issuer = match env_val(env, "IRSA_ISSUER_ISSUER").or(opt(&raw.issuer)) {
        Some(v) => Some(
            IssuerUrl::parse(&v.value, false)
                .map_err(|e| ctx.err(&v.origin, "issuer", e.to_string()))?,
        ),
        None if matches!(target_v, Target::Dir(_)) => {
            return Err(ctx.err(
                &Origin::Missing,
                "issuer",
                "missing: a directory target needs issuer = \"https://…\" (the URL the directory is served at); only an s3:// target can derive it",
            ))
        }
        None => None,
    };
    if let (Some(i), Target::S3(_)) = (&issuer, &target_v) {
        crate::aws::provider::validate_url(i).map_err(|e| {
            ctx.err(
                &raw.issuer
                    .as_ref()
                    .map_or(Origin::Missing, |s| Origin::File(s.span())),
                "issuer",
                e.to_string(),
            )
        })?;
    }
    let jwks_path = match env_val(env, "IRSA_ISSUER_JWKS_PATH").or(opt(&raw.jwks_path)) {
        Some(v) => {
            JwksPath::parse(&v.value).map_err(|e| ctx.err(&v.origin, "jwks_path", e.to_string()))?
        }
        None => JwksPath::parse(JwksPath::DEFAULT)
            .map_err(|e| ctx.err(&Origin::Missing, "jwks_path", e.to_string()))?,
    };

    let keys = build_keys(ctx, &raw.keys, env)?;
    let s3 = build_s3(ctx, &raw.s3)?;
    if s3.create_bucket && matches!(target_v, Target::Dir(_)) {
        return Err(ctx.err(
            &Origin::Missing,
            "s3.create_bucket",
            "only applies to an s3:// target",
        ));
    }
    let aws = build_aws(ctx, &raw.aws, env)?;
    let accounts = build_accounts(ctx, &raw.accounts)?;
    if !aws.current_account && accounts.is_empty() {
        return Err(ctx.err(
            &Origin::Missing,
            "aws.current_account",
            "is false but no [[accounts]] are listed: name at least one account to reach",
        ));
    }
    let provider = build_provider(ctx, &raw.provider, env)?;
    check_tags(ctx, "tags", &raw.tags)?;
    let rotation = build_rotation(ctx, &raw.rotation, &s3)?;
    let mut names = BTreeSet::new();
    let mut roles = Vec::new();
    for (i, r) in raw.roles.iter().enumerate() {
        let role = build_role(ctx, i, r, &provider, &rotation)?;
        if !names.insert(role.name.clone()) {
            return Err(ctx.err(
                &Origin::File(r.name.span()),
                &format!("roles[{i}].name"),
                format!("role {} is listed twice", role.name),
            ));
        }
        roles.push(role);
    }
    let tls = build_tls(ctx, &raw.tls, env)?;
    let mut iam = IamConfig::default();
    if let Some(p) = &raw.iam.role_path {
        crate::aws::role::validate_path(p.get_ref())
            .map_err(|e| ctx.err(&Origin::File(p.span()), "iam.role_path", e.to_string()))?;
        iam.role_path = p.get_ref().clone();
    }
    if let Some(m) = &raw.iam.max_trust_policy_size {
        let size = usize::try_from(*m.get_ref()).unwrap_or(0);
        crate::aws::trust::validate_max_size(size).map_err(|e| {
            ctx.err(
                &Origin::File(m.span()),
                "iam.max_trust_policy_size",
                e.to_string(),
            )
        })?;
        iam.max_trust_policy_size = size;
    }
    let cdn = match &raw.cdn {
        Some(c) => Some(build_cdn(ctx, c, &raw, &target_v, issuer.as_ref(), &s3)?),
        None => None,
    };
    Ok(Config {
        issuer,
        target: target_v,
        jwks_path,
        keys,
        s3,
        aws,
        accounts,
        provider,
        tags: raw.tags,
        roles,
        iam,
        rotation,
        tls,
        cdn,
    })
}

/// The `[cdn]` section, checked before any call: an s3:// target whose bucket stays private,
/// a max-age to cache for, an alias with its us-east-1 certificate.
fn build_cdn(
    ctx: &Ctx,
    raw: &RawCdn,
    top: &RawConfig,
    target: &Target,
    issuer: Option<&IssuerUrl>,
    s3: &S3Config,
) -> Result<crate::aws::cdn::CdnConfig, ConfigError> {
    use crate::aws::cdn::{self, CdnConfig, PriceClass};
    let at = |s: &S| Origin::File(s.span());
    if raw.kind.get_ref() != "cloudfront" {
        return Err(ctx.err(
            &at(&raw.kind),
            "cdn.kind",
            format!("`{}`: the one kind is \"cloudfront\"", raw.kind.get_ref()),
        ));
    }
    let Target::S3(loc) = target else {
        return Err(ctx.err(
            &at(&raw.kind),
            "cdn.kind",
            "CloudFront serves an s3:// target: set target = \"s3://BUCKET/PREFIX\"",
        ));
    };
    if let Some(p) = &top.s3.public_access {
        return Err(ctx.err(
            &at(p),
            "s3.public_access",
            "conflicts with [cdn]: the bucket stays private and CloudFront reads it through its Origin Access Control; remove s3.public_access",
        ));
    }
    if let Err(e) = cdn::ttl(&s3.cache_control, max_age(&s3.cache_control)) {
        let origin = top.s3.cache_control.as_ref().map_or(Origin::Missing, at);
        return Err(ctx.err(&origin, "s3.cache_control", e.to_string()));
    }
    let mut pins = cdn::Pins::default();
    for (raw_id, field, what, slot) in [
        (
            &raw.distribution_id,
            "cdn.distribution_id",
            "distribution",
            &mut pins.distribution_id,
        ),
        (
            &raw.origin_access_control_id,
            "cdn.origin_access_control_id",
            "origin access control",
            &mut pins.origin_access_control_id,
        ),
        (
            &raw.cache_policy_id,
            "cdn.cache_policy_id",
            "cache policy",
            &mut pins.cache_policy_id,
        ),
    ] {
        if let Some(id) = raw_id {
            cdn::validate_id(what, id.get_ref())
                .map_err(|e| ctx.err(&at(id), field, e.to_string()))?;
            *slot = Some(id.get_ref().clone());
        }
    }
    let price_class = match &raw.price_class {
        Some(p) => PriceClass::parse(p.get_ref()).ok_or_else(|| {
            ctx.err(
                &at(p),
                "cdn.price_class",
                format!(
                    "`{}`: use PriceClass_100 (the default), PriceClass_200 or PriceClass_All",
                    p.get_ref()
                ),
            )
        })?,
        None => PriceClass::default(),
    };
    let deploy_timeout = match &raw.deploy_timeout {
        Some(d) => crate::rotation::state::parse_duration(d.get_ref())
            .map_err(|e| ctx.err(&at(d), "cdn.deploy_timeout", e))?
            .as_secs(),
        None => cdn::DEFAULT_DEPLOY_TIMEOUT,
    };
    let c = CdnConfig {
        alias: raw.alias.as_ref().map(|a| a.get_ref().clone()),
        acm_certificate_arn: raw
            .acm_certificate_arn
            .as_ref()
            .map(|a| a.get_ref().clone()),
        price_class,
        deploy_timeout,
        pins,
    };
    if let Some(a) = &raw.alias {
        cdn::validate_alias(a.get_ref())
            .map_err(|e| ctx.err(&at(a), "cdn.alias", e.to_string()))?;
    }
    if let Some(a) = &raw.acm_certificate_arn {
        cdn::validate_certificate_arn(a.get_ref())
            .map_err(|e| ctx.err(&at(a), "cdn.acm_certificate_arn", e.to_string()))?;
    }
    cdn::validate(&c).map_err(|e| {
        let (origin, field) = match (&raw.alias, &raw.acm_certificate_arn) {
            (Some(a), _) => (at(a), "cdn.alias"),
            (None, Some(a)) => (at(a), "cdn.acm_certificate_arn"),
            _ => (at(&raw.kind), "cdn"),
        };
        ctx.err(&origin, field, e.to_string())
    })?;
    if let Some(i) = issuer {
        let origin = top.issuer.as_ref().map_or(Origin::Missing, at);
        match &c.alias {
            Some(alias) => {
                let expected = cdn::issuer(alias, loc)
                    .map_err(|e| ctx.err(&origin, "issuer", e.to_string()))?;
                if &expected != i {
                    return Err(ctx.err(
                        &origin,
                        "issuer",
                        cdn::CdnError::IssuerMismatch {
                            given: i.to_string(),
                            expected: expected.to_string(),
                        }
                        .to_string(),
                    ));
                }
            }
            None if !i.host().ends_with(".cloudfront.net") => {
                return Err(ctx.err(
                    &origin,
                    "issuer",
                    format!("{i} is not on a *.cloudfront.net host: without cdn.alias the issuer is the distribution's own domain; drop `issuer` (it is derived) or set cdn.alias"),
                ))
            }
            None => {}
        }
    }
    Ok(c)
}

fn build_rotation(
    ctx: &Ctx,
    raw: &RawRotation,
    s3: &S3Config,
) -> Result<RotationConfig, ConfigError> {
    let duration = |v: &Option<S>, field: &str, default: u64| match v {
        Some(d) => crate::rotation::state::parse_duration(d.get_ref())
            .map_err(|e| ctx.err(&Origin::File(d.span()), field, e)),
        None => Ok(std::time::Duration::from_secs(default)),
    };
    let cache_max_age = match &raw.cache_max_age {
        Some(c) => u64::try_from(*c.get_ref()).map_err(|_| {
            ctx.err(
                &Origin::File(c.span()),
                "rotation.cache_max_age",
                "must be 0 or more seconds",
            )
        })?,
        None => max_age(&s3.cache_control).unwrap_or(300),
    };
    Ok(RotationConfig {
        max_token_age: duration(&raw.max_token_age, "rotation.max_token_age", 24 * 3600)?,
        clock_skew: duration(&raw.clock_skew, "rotation.clock_skew", 300)?,
        cache_max_age,
    })
}

fn build_keys(
    ctx: &Ctx,
    raw: &RawKeys,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<KeysConfig, ConfigError> {
    let dir = env_val(env, "IRSA_ISSUER_KEY_DIR").or(opt(&raw.dir));
    let generate = match env_val(env, "IRSA_ISSUER_GENERATE_KEYS") {
        Some(v) => match v.value.as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            other => {
                return Err(ctx.err(
                    &v.origin,
                    "keys.generate",
                    format!("`{other}` is not true or false"),
                ))
            }
        },
        None => raw.generate.as_ref().is_some_and(|g| *g.get_ref()),
    };
    if dir.is_none() && raw.files.is_empty() {
        return Err(ctx.err(
            &Origin::Missing,
            "keys",
            "missing: set keys.dir (a key directory; with keys.generate = true the first key is created) or keys.files (existing PEM files, e.g. /etc/kubernetes/pki/sa.pub)",
        ));
    }
    if generate && dir.is_none() {
        let origin = raw
            .generate
            .as_ref()
            .map_or(Origin::Missing, |g| Origin::File(g.span()));
        return Err(ctx.err(
            &origin,
            "keys.generate",
            "needs keys.dir: generated keys are kept in a key directory",
        ));
    }
    let algorithm = match &raw.algorithm {
        Some(a) => a
            .get_ref()
            .parse::<Algorithm>()
            .map_err(|e| ctx.err(&Origin::File(a.span()), "keys.algorithm", e.to_string()))?,
        None => Algorithm::RS256,
    };
    let rsa_bits = match &raw.rsa_bits {
        Some(b) => {
            let v = *b.get_ref();
            if ![2048, 3072, 4096].contains(&v) {
                return Err(ctx.err(
                    &Origin::File(b.span()),
                    "keys.rsa_bits",
                    format!("{v}: use 2048, 3072 or 4096"),
                ));
            }
            v as usize
        }
        None => 2048,
    };
    Ok(KeysConfig {
        dir: dir.map(|d| ctx.path(&d.value)),
        files: raw.files.iter().map(|f| ctx.path(f.get_ref())).collect(),
        generate,
        algorithm,
        rsa_bits,
    })
}

fn build_s3(ctx: &Ctx, raw: &RawS3) -> Result<S3Config, ConfigError> {
    let public_access = match &raw.public_access {
        Some(p) => match p.get_ref().as_str() {
            "policy" => PublicAccess::Policy,
            "acl" => PublicAccess::Acl,
            other => {
                return Err(ctx.err(
                    &Origin::File(p.span()),
                    "s3.public_access",
                    format!("`{other}`: use \"policy\" (a bucket policy statement) or \"acl\" (public-read object ACLs)"),
                ))
            }
        },
        None => PublicAccess::Policy,
    };
    let cache_control = match &raw.cache_control {
        Some(c) if c.get_ref().trim().is_empty() || c.get_ref().contains(['\r', '\n']) => {
            return Err(ctx.err(
                &Origin::File(c.span()),
                "s3.cache_control",
                "must be one non-empty header line",
            ))
        }
        Some(c) => c.get_ref().clone(),
        None => "public, max-age=300".into(),
    };
    Ok(S3Config {
        create_bucket: raw.create_bucket.unwrap_or(false),
        public_access,
        cache_control,
        allow_public_grants: raw.allow_public_grants.unwrap_or(false),
    })
}

fn build_aws(
    ctx: &Ctx,
    raw: &RawAws,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AwsConfig, ConfigError> {
    let region = env_val(env, "IRSA_ISSUER_REGION").or(opt(&raw.region));
    if let Some(r) = &region {
        crate::aws::names::Partition::for_region(&r.value)
            .map_err(|e| ctx.err(&r.origin, "aws.region", e.to_string()))?;
    }
    let session = opt(&raw.role_session_name);
    if let Some(s) = &session {
        let v = &s.value;
        if !(2..=64).contains(&v.len())
            || !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "=,.@-_".contains(c))
        {
            return Err(ctx.err(
                &s.origin,
                "aws.role_session_name",
                format!("`{v}`: 2-64 letters, digits and =,.@-_"),
            ));
        }
    }
    let concurrency = match env_val(env, "IRSA_ISSUER_CONCURRENCY") {
        Some(v) => Some((v.value.parse::<i64>().unwrap_or(0), v.origin)),
        None => raw
            .concurrency
            .as_ref()
            .map(|c| (*c.get_ref(), Origin::File(c.span()))),
    };
    let concurrency = match concurrency {
        Some((n, origin)) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=64).contains(n))
            .ok_or_else(|| ctx.err(&origin, "aws.concurrency", "must be a number from 1 to 64"))?,
        None => DEFAULT_CONCURRENCY,
    };
    Ok(AwsConfig {
        concurrency,
        region: region.map(|r| r.value),
        profile: env_val(env, "IRSA_ISSUER_PROFILE")
            .or(opt(&raw.profile))
            .map(|p| p.value),
        current_account: raw.current_account.unwrap_or(true),
        role_session_name: session.map_or_else(|| "irsa-issuer".into(), |s| s.value),
    })
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn build_accounts(ctx: &Ctx, raw: &[RawAccount]) -> Result<Vec<AccountConfig>, ConfigError> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, a) in raw.iter().enumerate() {
        let arn = a.assume_role.get_ref();
        let field = format!("accounts[{i}].assume_role");
        if let Err(e) = validate_iam_arn(arn, IamArnKind::Role) {
            return Err(ctx.err(&Origin::File(a.assume_role.span()), &field, e.to_string()));
        }
        if !seen.insert(arn.clone()) {
            return Err(ctx.err(
                &Origin::File(a.assume_role.span()),
                &field,
                format!("{arn} is listed twice"),
            ));
        }
        if let Some(x) = &a.external_id {
            let v = x.get_ref();
            if !(2..=1224).contains(&v.len()) {
                return Err(ctx.err(
                    &Origin::File(x.span()),
                    &format!("accounts[{i}].external_id"),
                    "must be 2 to 1224 characters",
                ));
            }
        }
        out.push(AccountConfig {
            assume_role: arn.clone(),
            external_id: a.external_id.as_ref().map(|x| x.get_ref().clone()),
        });
    }
    Ok(out)
}

fn build_provider(
    ctx: &Ctx,
    raw: &RawProvider,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderConfig, ConfigError> {
    let ids: Vec<Val<String>> = list(env, "IRSA_ISSUER_CLIENT_IDS")
        .or_else(|| {
            raw.client_ids
                .as_ref()
                .map(|v| v.iter().map(from_file).collect())
        })
        .unwrap_or_default();
    for id in &ids {
        if id.value.is_empty() || id.value.len() > crate::aws::provider::limits::CLIENT_ID_MAX {
            return Err(ctx.err(
                &id.origin,
                "provider.client_ids",
                "each client ID is 1 to 255 characters",
            ));
        }
    }
    // Missing: "auto". An empty list is explicit: no thumbprint (a public CA or S3, which IAM
    // trusts through its own CA library).
    let given: Option<Vec<Val<String>>> = list(env, "IRSA_ISSUER_THUMBPRINTS").or_else(|| {
        raw.thumbprints
            .as_ref()
            .map(|v| v.iter().map(from_file).collect())
    });
    let mut thumbprints = Thumbprints {
        auto: given.is_none(),
        fixed: Vec::new(),
    };
    let prints = given.unwrap_or_default();
    for t in &prints {
        if t.value == "auto" {
            thumbprints.auto = true;
        } else {
            thumbprints
                .fixed
                .push(Thumbprint::parse(&t.value).map_err(|e| {
                    ctx.err(
                        &t.origin,
                        "provider.thumbprints",
                        format!("{e} (or \"auto\" to take it from the issuer's TLS chain)"),
                    )
                })?);
        }
    }
    Ok(ProviderConfig {
        client_ids: ids.into_iter().map(|v| v.value).collect(),
        thumbprints,
    })
}

fn check_tags(ctx: &Ctx, field: &str, tags: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    for (k, v) in tags {
        if k.is_empty() || k.len() > 128 || v.len() > 256 || k.starts_with("aws:") {
            return Err(ctx.err(
                &Origin::Missing,
                &format!("{field}.{k}"),
                "tag keys are 1-128 characters and may not start with aws:; values at most 256",
            ));
        }
        if k == crate::aws::owner::MANAGED_TAG.0 || k.starts_with("irsa-issuer/") {
            return Err(ctx.err(
                &Origin::Missing,
                &format!("{field}.{k}"),
                "is irsa-issuer's ownership tag and is set by it",
            ));
        }
    }
    Ok(())
}

fn build_role(
    ctx: &Ctx,
    i: usize,
    r: &RawRole,
    provider: &ProviderConfig,
    rotation: &RotationConfig,
) -> Result<RoleConfig, ConfigError> {
    let f = |name: &str| format!("roles[{i}].{name}");
    let name = r.name.get_ref();
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if !name_ok {
        return Err(ctx.err(
            &Origin::File(r.name.span()),
            &f("name"),
            format!("`{name}`: a role name is 1-64 letters, digits and +=,.@_-"),
        ));
    }
    if r.service_accounts.get_ref().is_empty() {
        return Err(ctx.err(
            &Origin::File(r.service_accounts.span()),
            &f("service_accounts"),
            "is empty: list at least one \"NAMESPACE/NAME\"",
        ));
    }
    let mut sas = Vec::new();
    for s in r.service_accounts.get_ref() {
        sas.push(ServiceAccountRef::parse(s.get_ref()).map_err(|e| {
            ctx.err(
                &Origin::File(s.span()),
                &f("service_accounts"),
                e.to_string(),
            )
        })?);
    }
    // The audience the trust policy requires (explicit, or the default) must be one the
    // provider accepts (its client IDs, explicit or the default): otherwise STS refuses every
    // token of this role ("Incorrect token audience").
    let default = crate::aws::names::DEFAULT_AUDIENCE.to_string();
    let audience = r.audience.as_ref().map_or(&default, |a| a.get_ref());
    let client_ids = if provider.client_ids.is_empty() {
        std::slice::from_ref(&default)
    } else {
        provider.client_ids.as_slice()
    };
    if !client_ids.contains(audience) {
        let origin = r
            .audience
            .as_ref()
            .map_or(Origin::File(r.name.span()), |a| Origin::File(a.span()));
        return Err(ctx.err(
            &origin,
            &f("audience"),
            format!(
                "`{audience}`{} is not among the provider's client IDs ({}): STS would refuse every token of this role; add it to provider.client_ids, or set the role's audience to one of them",
                if r.audience.is_none() { " (the default)" } else { "" },
                client_ids.join(", ")
            ),
        ));
    }
    for p in &r.policy_arns {
        if let Err(e) = validate_iam_arn(p.get_ref(), IamArnKind::Policy) {
            return Err(ctx.err(&Origin::File(p.span()), &f("policy_arns"), e.to_string()));
        }
    }
    if let Some(b) = &r.permissions_boundary {
        if let Err(e) = validate_iam_arn(b.get_ref(), IamArnKind::Policy) {
            return Err(ctx.err(
                &Origin::File(b.span()),
                &f("permissions_boundary"),
                e.to_string(),
            ));
        }
    }
    let token_expiration = match &r.token_expiration {
        Some(t) => {
            let secs = u64::try_from(*t.get_ref()).unwrap_or(0);
            crate::aws::trust::validate_token_expiration(secs, rotation.max_token_age.as_secs())
                .map_err(|e| {
                    ctx.err(
                        &Origin::File(t.span()),
                        &f("token_expiration"),
                        e.to_string(),
                    )
                })?;
            u32::try_from(secs).ok()
        }
        None => None,
    };
    let max_session_duration = match &r.max_session_duration {
        Some(m) => {
            let v = *m.get_ref();
            if !(3600..=43200).contains(&v) {
                return Err(ctx.err(
                    &Origin::File(m.span()),
                    &f("max_session_duration"),
                    format!("{v}: IAM allows 3600 to 43200 seconds"),
                ));
            }
            Some(v as i32)
        }
        None => None,
    };
    for a in &r.accounts {
        if !is_account_id(a.get_ref()) {
            return Err(ctx.err(
                &Origin::File(a.span()),
                &f("accounts"),
                format!("`{}` is not a 12-digit account ID", a.get_ref()),
            ));
        }
    }
    check_tags(ctx, &f("tags"), &r.tags)?;
    Ok(RoleConfig {
        name: name.clone(),
        service_accounts: sas,
        audience: r.audience.as_ref().map(|a| a.get_ref().clone()),
        policy_arns: r.policy_arns.iter().map(|p| p.get_ref().clone()).collect(),
        inline_policies: r
            .inline_policies
            .iter()
            .map(|(k, v)| (k.clone(), ctx.path(v.get_ref())))
            .collect(),
        permissions_boundary: r.permissions_boundary.as_ref().map(|b| b.get_ref().clone()),
        max_session_duration,
        tags: r.tags.clone(),
        accounts: r.accounts.iter().map(|a| a.get_ref().clone()).collect(),
        sts_regional_endpoints: r.sts_regional_endpoints,
        token_expiration,
    })
}

fn build_tls(
    ctx: &Ctx,
    raw: &RawTls,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<TlsConfig, ConfigError> {
    let connect_to = match env_val(env, "IRSA_ISSUER_CONNECT_TO").or(opt(&raw.connect_to)) {
        Some(v) => Some(v.value.parse::<SocketAddr>().map_err(|_| {
            ctx.err(
                &v.origin,
                "tls.connect_to",
                format!("`{}` is not ADDRESS:PORT (e.g. 127.0.0.1:8443)", v.value),
            )
        })?),
        None => None,
    };
    Ok(TlsConfig {
        ca_file: env_val(env, "IRSA_ISSUER_CA_FILE")
            .or(opt(&raw.ca_file))
            .map(|v| ctx.path(&v.value)),
        connect_to,
    })
}

/// The annotated example `irsa-issuer init` writes: every field, with what it does.
pub const EXAMPLE: &str = r#"# {{FILE}}: one file per cluster. `irsa-issuer apply -f {{FILE}}` converges
# keys, the published OIDC documents, the IAM OIDC provider in every account, and the roles.
# Relative paths are relative to this file's directory. Environment variables named below
# override a field (handy in bootstrap scripts).

# The issuer URL: kube-apiserver's --service-account-issuer and the tokens' `iss`, exactly
# (https, no trailing slash). With an s3:// target it may be left out: it is then
# https://s3.REGION.amazonaws.com/BUCKET/PREFIX. Env: IRSA_ISSUER_ISSUER.
# issuer = "https://oidc.example.com/cluster-a"

# Where the discovery document and JWKS are published: s3://BUCKET[/PREFIX], or a directory
# that a web server serves at the issuer URL. Required. Env: IRSA_ISSUER_TARGET.
target = "s3://example-irsa-oidc/cluster-a"

# Path of the JWKS below the issuer: "openid/v1/jwks" (kube-apiserver, kops) or "keys.json"
# (pod-identity-webhook guide). Env: IRSA_ISSUER_JWKS_PATH.
jwks_path = "openid/v1/jwks"

# Tags on the bucket, provider and roles irsa-issuer creates. It adds managed-by=irsa-issuer
# itself, and only ever deletes what carries that tag.
[tags]
cluster = "cluster-a"

[keys]
# A key directory as `irsa-issuer rotate` keeps it: keyset.json, <kid>.pub, private/<kid>.key
# (0600). Every key it publishes (next, active, previous) goes into the JWKS.
# Env: IRSA_ISSUER_KEY_DIR.
dir = "keys"
# Create the first (active) key when the directory has none. Without it, a missing key is an
# error. Env: IRSA_ISSUER_GENERATE_KEYS (true/false).
generate = true
# Algorithm of a generated key: RS256 (what kube-apiserver uses by default), ES256, ES384, ES512.
algorithm = "RS256"
# RSA size of a generated key: 2048, 3072 or 4096.
rsa_bits = 2048
# PEM files to publish as well, e.g. the key kubeadm made: ["/etc/kubernetes/pki/sa.pub"].
files = []

[s3]
# Create the bucket if missing, tag it, and make the two documents (only those) publicly
# readable. Without it, the bucket must exist.
create_bucket = true
# How the documents are made public: "policy" (a bucket policy statement per prefix, the
# default) or "acl" (public-read object ACLs).
public_access = "policy"
# Cache-Control of both documents: how long STS and others may cache them.
cache_control = "public, max-age=300"
# Making the two documents public turns off two Block Public Access switches (BlockPublicPolicy
# and RestrictPublicBuckets). On an existing bucket whose policy already grants something to
# everyone, that would make those grants live too: irsa-issuer refuses unless this is true.
allow_public_grants = false

[aws]
# Region of the bucket and the AWS calls. With an s3:// target it decides the issuer
# (https://s3.REGION.amazonaws.com/BUCKET/PREFIX), so it belongs in this file: apply refuses an
# s3:// target whose issuer is pinned neither here nor by `issuer` above, rather than follow the
# shell's AWS_REGION to a new issuer. Env: IRSA_ISSUER_REGION.
# region = "us-east-1"
# Profile from ~/.aws/config (else AWS_PROFILE or the standard chain). Env: IRSA_ISSUER_PROFILE.
# profile = "platform"
# Whether the current credentials' account gets a provider and the roles too. Set false to
# reach only the [[accounts]] below.
current_account = true
# STS session name when assuming the roles below (shows in their CloudTrail).
role_session_name = "irsa-issuer"
# How many accounts are read or changed at once, and how many calls at once in each (1 to 64;
# AWS throttles each account on its own; dependencies are kept: JWKS before discovery, a
# provider before its roles). Env: IRSA_ISSUER_CONCURRENCY.
concurrency = 8

# More accounts whose roles pods assume: each gets the provider (and the roles, unless a
# role lists its accounts). Repeat the block per account.
# [[accounts]]
# assume_role = "arn:aws:iam::111122223333:role/irsa-issuer-admin"
# external_id = "cluster-a"

[provider]
# Audiences tokens may carry (the provider's client IDs). Default: ["sts.amazonaws.com"], in
# every partition, China included (what AWS's pod-identity webhook puts in tokens). Every role's
# audience must be one of them. Env: IRSA_ISSUER_CLIENT_IDS (comma-separated).
client_ids = ["sts.amazonaws.com"]
# TLS thumbprints. "auto" (the default): none for an S3 issuer or a host whose chain ends in a
# public CA (IAM trusts those through its own CA library and ignores thumbprints), else the
# SHA-1 of the last certificate the issuer's host serves (a private CA: tls.ca_file too).
# [] lists none; or 40 hex digits each, pinned. Env: IRSA_ISSUER_THUMBPRINTS (comma-separated).
thumbprints = ["auto"]

# Roles for service accounts. Repeat the block per role.
[[roles]]
name = "cluster-a-s3-reader"
# Who may assume it: "NAMESPACE/NAME"; `*` wildcards allowed ("payments/*").
service_accounts = ["default/s3-reader"]
# Audience the trust policy requires (default: sts.amazonaws.com); must be a client ID above.
# audience = "sts.amazonaws.com"
# Managed policies to attach; others attached by hand are detached.
policy_arns = ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]
# Inline policies, name = JSON file; others are deleted.
# inline_policies = { extra = "policies/extra.json" }
# permissions_boundary = "arn:aws:iam::123456789012:policy/boundary"
# max_session_duration = 3600
# tags = { team = "data" }
# Only in these accounts (12-digit IDs); default: every account above.
# accounts = ["111122223333"]
# Annotations of its ServiceAccount manifests (`apply --manifests DIR`, `role manifest -f`):
# the regional STS endpoint, and the projected token's lifetime (600 s to rotation.max_token_age).
# sts_regional_endpoints = true
# token_expiration = 86400

[rotation]
# `irsa-issuer rotate ... -f {{FILE}}` reads these (flags of the same names override them).
# The longest lifetime of a service-account token the cluster issues: a retired key stays
# published this long (plus the skew) after the cluster stopped signing with it. 24h covers the
# tokens kubelet projects into pods (it refreshes them at 80% of their life or after 24h).
max_token_age = "24h"
clock_skew = "5m"
# How long relying parties may cache the JWKS (default: the max-age of s3.cache_control, else
# 300): promote waits this long after the next key was first published.
# cache_max_age = 300

[iam]
# The IAM path roles are created under. `irsa-issuer iam-policy -f {{FILE}}` scopes the role
# permissions of whoever runs irsa-issuer to it, so they cannot touch any other role. Roles made
# by irsa-issuer before 0.2 live under "/": set "/" to keep managing them (IAM cannot move a role;
# `iam-policy` refuses "/", since every untagged role of the account is under it).
role_path = "/irsa/"
# IAM's limit on a role's trust policy, in characters: 2048 by default; up to 4096 once the
# account's "Role trust policy length" quota has been raised.
max_trust_policy_size = 2048

# CloudFront in front of the bucket, instead of making the two documents public: the bucket
# stays private (all four Block Public Access switches on) and a distribution reads it through
# an Origin Access Control. The issuer is then https://ALIAS/PREFIX, or without an alias
# https://dXXXX.cloudfront.net/PREFIX (printed by apply). s3.public_access does not apply.
# [cdn]
# kind = "cloudfront"
# alias = "oidc.example.com"            # an own domain (optional), with its certificate:
# acm_certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/ID"   # in us-east-1
# price_class = "PriceClass_100"        # PriceClass_100 (default), PriceClass_200, PriceClass_All
# deploy_timeout = "30m"                # how long destroy waits for the distribution to deploy
# Once apply (or publish) created them, pin their ids (apply prints them): they are then read by
# id and never created anew, and `iam-policy -f` scopes the runner's updates, deletions and
# invalidations to exactly these (without them it prints a create-only bootstrap policy).
# distribution_id = "E2QWRUHAPOMQZL"
# origin_access_control_id = "E1F83G8C2ARO7P"
# cache_policy_id = "658327ea-f89d-4fab-a63d-7e88639e58f6"

# TLS of the issuer's host, for a private CA or tests.
[tls]
# Extra CA certificates (PEM) to trust. Env: IRSA_ISSUER_CA_FILE.
# ca_file = "issuer-ca.pem"
# Connect to this ADDRESS:PORT instead of resolving the issuer's host. Env: IRSA_ISSUER_CONNECT_TO.
# connect_to = "127.0.0.1:8443"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse_ok(text: &str) -> Config {
        parse(text, "c.toml", Path::new("/base"), &no_env).unwrap()
    }

    fn parse_err(text: &str) -> ConfigError {
        parse(text, "c.toml", Path::new("/base"), &no_env).unwrap_err()
    }

    const MIN: &str = "target = \"s3://bkt/p\"\n[keys]\ndir = \"k\"\n";

    #[test]
    fn the_example_parses_and_says_what_it_shows() {
        let c = parse_ok(&example("cluster.toml", Some("eu-west-1")));
        assert_eq!(c.aws.region.as_deref(), Some("eu-west-1"));
        assert!(example("c1.toml", None)
            .starts_with("# c1.toml: one file per cluster. `irsa-issuer apply -f c1.toml`"));
        assert_eq!(
            c.target,
            Target::S3(S3Location::parse("s3://example-irsa-oidc/cluster-a").unwrap())
        );
        assert_eq!(c.keys.dir.as_deref(), Some(Path::new("/base/keys")));
        assert!(c.keys.generate);
        assert!(c.s3.create_bucket);
        assert!(c.provider.thumbprints.auto);
        assert_eq!(c.roles.len(), 1);
        assert_eq!(
            c.roles[0].service_accounts[0].subject(),
            "system:serviceaccount:default:s3-reader"
        );
        assert_eq!(c.tags.get("cluster").map(String::as_str), Some("cluster-a"));
    }

    #[test]
    fn every_env_override_is_documented_in_the_example() {
        for (var, _) in ENV_OVERRIDES {
            assert!(EXAMPLE.contains(var), "{var} is not documented");
        }
    }

    #[test]
    fn thumbprints_missing_empty_auto_or_fixed() {
        let with = |line: &str| {
            parse_ok(&format!(
                "target = \"/srv/oidc\"\nissuer = \"https://oidc.example.com/c1\"\n[keys]\ndir = \"k\"\n[provider]\n{line}\n"
            ))
            .provider
            .thumbprints
        };
        // Missing: taken from the issuer's chain.
        let t = with("");
        assert!(t.auto && t.fixed.is_empty());
        // Empty: none at all, for any issuer (a public CA), never "auto".
        let t = with("thumbprints = []");
        assert!(!t.auto && t.fixed.is_empty());
        let t = with("thumbprints = [\"auto\"]");
        assert!(t.auto && t.fixed.is_empty());
        let t = with(&format!("thumbprints = [\"{}\"]", "A".repeat(40)));
        assert!(!t.auto);
        assert_eq!(t.fixed.len(), 1);
    }

    #[test]
    fn defaults() {
        let c = parse_ok(MIN);
        assert_eq!(c.issuer, None);
        assert_eq!(c.jwks_path.as_str(), "openid/v1/jwks");
        assert!(!c.keys.generate);
        assert_eq!(c.keys.algorithm, Algorithm::RS256);
        assert!(c.aws.current_account);
        assert!(c.provider.thumbprints.auto);
        assert!(c.provider.client_ids.is_empty());
        assert_eq!(c.s3.cache_control, "public, max-age=300");
    }

    #[test]
    fn unknown_field_names_field_and_line() {
        let e = parse_err(
            "target = \"s3://bkt/p\"\n[keys]\ndir = \"k\"\n\n[s3]\ncreate_buckett = true\n",
        );
        assert_eq!(e.line, Some(6), "{e}");
        assert_eq!(e.field, "s3.create_buckett", "{e}");
        assert!(
            e.to_string()
                .starts_with("c.toml:6: s3.create_buckett: unknown field"),
            "{e}"
        );
    }

    #[test]
    fn unknown_top_level_and_role_fields() {
        let e = parse_err("target = \"s3://bkt/p\"\nissure = \"x\"\n[keys]\ndir = \"k\"\n");
        assert_eq!((e.line, e.field.as_str()), (Some(2), "issure"), "{e}");
        let e = parse_err(&format!(
            "{MIN}[[roles]]\nname = \"r\"\nservice_accounts = [\"a/b\"]\npolicies = []\n"
        ));
        assert_eq!(e.line, Some(7), "{e}");
        assert!(e.field.ends_with("policies"), "{e}");
    }

    /// A typo in any table is an error naming the table, the field and its line: an
    /// `externalid` ignored would assume the role without the external ID its trust asks for.
    #[test]
    fn unknown_fields_are_refused_in_every_table() {
        let cases = [
            ("[[accounts]]\nassume_role = \"arn:aws:iam::123456789012:role/a\"\nexternalid = \"x\"\n", 6, "accounts.externalid"),
            ("[provider]\nthumbprint = []\n", 5, "provider.thumbprint"),
            ("[aws]\nregoin = \"eu-west-1\"\n", 5, "aws.regoin"),
            ("[tls]\ncafile = \"ca.pem\"\n", 5, "tls.cafile"),
            ("[rotation]\nmax_token_ag = \"1h\"\n", 5, "rotation.max_token_ag"),
            ("[iam]\nrole_pth = \"/x/\"\n", 5, "iam.role_pth"),
            ("[s3]\ncreate_buckets = true\n", 5, "s3.create_buckets"),
            ("[cdn]\nkind = \"cloudfront\"\naliases = \"x\"\n", 6, "cdn.aliases"),
        ];
        for (text, line, field) in cases {
            let e = parse_err(&format!("{MIN}{text}"));
            assert_eq!(e.line, Some(line), "{text}: {e}");
            assert!(
                e.field.ends_with(field.rsplit('.').next().unwrap()),
                "{text}: {e}"
            );
            assert!(
                e.field.starts_with(field.split('.').next().unwrap()),
                "{text}: {e}"
            );
            assert!(e.message.starts_with("unknown field"), "{text}: {e}");
        }
    }

    #[test]
    fn wrong_type_names_field_and_line() {
        let e = parse_err("target = \"s3://bkt/p\"\n[keys]\ndir = \"k\"\ngenerate = \"yes\"\n");
        assert_eq!(
            (e.line, e.field.as_str()),
            (Some(4), "keys.generate"),
            "{e}"
        );
        assert!(e.message.contains("bool"), "{e}");
    }

    #[test]
    fn syntax_error_names_the_line() {
        let e = parse_err("target = \"s3://bkt/p\"\n[keys\ndir = \"k\"\n");
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn missing_target_and_keys() {
        let e = parse_err("[keys]\ndir = \"k\"\n");
        assert_eq!(e.field, "target");
        let e = parse_err("target = \"s3://bkt/p\"\n");
        assert_eq!(e.field, "keys");
    }

    #[test]
    fn bad_values_name_field_and_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("issuer = \"https://x.example.com/\"\n", 4, "issuer"),
            ("issuer = \"http://x.example.com\"\n", 4, "issuer"),
            ("jwks_path = \"/abs\"\n", 4, "jwks_path"),
            ("[provider]\nthumbprints = [\"zz\"]\n", 5, "provider.thumbprints"),
            ("[aws]\nregion = \"US East\"\n", 5, "aws.region"),
            ("[[accounts]]\nassume_role = \"arn:aws:iam::1:role/x\"\n", 5, "accounts[0].assume_role"),
            ("[[roles]]\nname = \"r\"\nservice_accounts = [\"nonamespace\"]\n", 6, "roles[0].service_accounts"),
            ("[[roles]]\nname = \"r\"\nservice_accounts = []\n", 6, "roles[0].service_accounts"),
            ("[[roles]]\nname = \"bad name\"\nservice_accounts = [\"a/b\"]\n", 5, "roles[0].name"),
            ("[[roles]]\nname = \"r\"\nservice_accounts = [\"a/b\"]\nmax_session_duration = 60\n", 7, "roles[0].max_session_duration"),
            ("[[roles]]\nname = \"r\"\nservice_accounts = [\"a/b\"]\npolicy_arns = [\"ReadOnly\"]\n", 7, "roles[0].policy_arns"),
            ("[[roles]]\nname = \"r\"\nservice_accounts = [\"a/b\"]\naccounts = [\"123\"]\n", 7, "roles[0].accounts"),
            ("[tls]\nconnect_to = \"localhost\"\n", 5, "tls.connect_to"),
        ];
        for (extra, line, field) in cases {
            // Top-level keys must come before the first table.
            let text = if extra.starts_with('[') {
                format!("{MIN}{extra}")
            } else {
                "target = \"s3://bkt/p\"\n[keys]\ndir = \"k\"\n".replacen(
                    "[keys]",
                    &format!("{}[keys]", extra),
                    1,
                )
            };
            let e = parse_err(&text);
            assert_eq!(e.field, *field, "{extra}: {e}");
            if extra.starts_with('[') {
                assert_eq!(e.line, Some(*line), "{extra}: {e}");
            } else {
                assert_eq!(e.line, Some(2), "{extra}: {e}");
            }
        }
    }

    #[test]
    fn audience_must_be_a_client_id() {
        let e = parse_err(&format!("{MIN}[provider]\nclient_ids = [\"sts.amazonaws.com\"]\n[[roles]]\nname = \"r\"\nservice_accounts = [\"a/b\"]\naudience = \"other\"\n"));
        assert_eq!(
            (e.field.as_str(), e.line),
            ("roles[0].audience", Some(9)),
            "{e}"
        );
    }

    #[test]
    fn duplicate_role_and_account() {
        let e = parse_err(&format!("{MIN}[[roles]]\nname = \"r\"\nservice_accounts = [\"a/b\"]\n[[roles]]\nname = \"r\"\nservice_accounts = [\"a/c\"]\n"));
        assert_eq!(
            (e.field.as_str(), e.line),
            ("roles[1].name", Some(8)),
            "{e}"
        );
        let arn = "arn:aws:iam::111122223333:role/x";
        let e = parse_err(&format!(
            "{MIN}[[accounts]]\nassume_role = \"{arn}\"\n[[accounts]]\nassume_role = \"{arn}\"\n"
        ));
        assert_eq!(
            (e.field.as_str(), e.line),
            ("accounts[1].assume_role", Some(7)),
            "{e}"
        );
    }

    #[test]
    fn directory_target_needs_an_issuer_and_no_bucket() {
        let e = parse_err("target = \"out\"\n[keys]\ndir = \"k\"\n");
        assert_eq!(e.field, "issuer");
        let e = parse_err("target = \"out\"\nissuer = \"https://i.example.com\"\n[keys]\ndir = \"k\"\n[s3]\ncreate_bucket = true\n");
        assert_eq!(e.field, "s3.create_bucket");
        let c = parse_ok(
            "target = \"out\"\nissuer = \"https://i.example.com\"\n[keys]\ndir = \"/abs/k\"\n",
        );
        assert_eq!(c.target, Target::Dir(PathBuf::from("/base/out")));
        assert_eq!(c.keys.dir.as_deref(), Some(Path::new("/abs/k")));
    }

    #[test]
    fn ownership_tag_is_reserved() {
        let e = parse_err(&format!("{MIN}[tags]\nmanaged-by = \"me\"\n"));
        assert_eq!(e.field, "tags.managed-by");
    }

    #[test]
    fn cdn_section_is_checked_before_any_call() {
        let c = parse_ok(&format!("{MIN}[cdn]\nkind = \"cloudfront\"\n"));
        let cdn = c.cdn.unwrap();
        assert_eq!(cdn.price_class.as_str(), "PriceClass_100");
        assert_eq!(cdn.alias, None);
        let ok = format!("{MIN}[cdn]\nkind = \"cloudfront\"\nalias = \"oidc.example.com\"\nacm_certificate_arn = \"arn:aws:acm:us-east-1:123456789012:certificate/abc\"\nprice_class = \"PriceClass_All\"\n");
        assert_eq!(
            parse_ok(&ok).cdn.unwrap().alias.as_deref(),
            Some("oidc.example.com")
        );
        let cases: &[(&str, usize, &str, &str)] = &[
            ("kind = \"fastly\"\n", 5, "cdn.kind", "cloudfront"),
            ("kind = \"cloudfront\"\nalias = \"oidc.example.com\"\nacm_certificate_arn = \"arn:aws:acm:eu-west-1:123456789012:certificate/abc\"\n", 7, "cdn.acm_certificate_arn", "us-east-1"),
            ("kind = \"cloudfront\"\nalias = \"oidc.example.com\"\n", 6, "cdn.alias", "acm_certificate_arn"),
            ("kind = \"cloudfront\"\nalias = \"OIDC.example.com\"\nacm_certificate_arn = \"arn:aws:acm:us-east-1:123456789012:certificate/abc\"\n", 6, "cdn.alias", "lower-case"),
            ("kind = \"cloudfront\"\nprice_class = \"cheap\"\n", 6, "cdn.price_class", "PriceClass_100"),
        ];
        for (cdn, line, field, says) in cases {
            let e = parse_err(&format!("{MIN}[cdn]\n{cdn}"));
            assert_eq!(
                (e.field.as_str(), e.line),
                (*field, Some(*line)),
                "{cdn}: {e}"
            );
            assert!(e.message.contains(says), "{cdn}: {e}");
        }
        let e = parse_err(&format!(
            "{MIN}[s3]\npublic_access = \"policy\"\n[cdn]\nkind = \"cloudfront\"\n"
        ));
        assert_eq!(
            (e.field.as_str(), e.line),
            ("s3.public_access", Some(5)),
            "{e}"
        );
        let e = parse_err(&format!(
            "{MIN}[s3]\ncache_control = \"no-cache\"\n[cdn]\nkind = \"cloudfront\"\n"
        ));
        assert_eq!(e.field, "s3.cache_control", "{e}");
        // CloudFront refuses a cache policy with all TTLs 0 (and compression on).
        let e = parse_err(&format!(
            "{MIN}[s3]\ncache_control = \"public, max-age=0\"\n[cdn]\nkind = \"cloudfront\"\n"
        ));
        assert_eq!(
            (e.field.as_str(), e.line),
            ("s3.cache_control", Some(5)),
            "{e}"
        );
        assert!(e.message.contains("max-age=1 or more"), "{e}");
        // Pinned ids: read back, and nothing that could widen an ARN.
        let pinned = parse_ok(&format!("{MIN}[cdn]\nkind = \"cloudfront\"\ndistribution_id = \"E2QWRUHAPOMQZL\"\ncache_policy_id = \"658327ea-f89d-4fab-a63d-7e88639e58f6\"\n"));
        let pins = pinned.cdn.unwrap().pins;
        assert_eq!(pins.distribution_id.as_deref(), Some("E2QWRUHAPOMQZL"));
        assert_eq!(pins.origin_access_control_id, None);
        let e = parse_err(&format!(
            "{MIN}[cdn]\nkind = \"cloudfront\"\norigin_access_control_id = \"E1*\"\n"
        ));
        assert_eq!(
            (e.field.as_str(), e.line),
            ("cdn.origin_access_control_id", Some(6)),
            "{e}"
        );
        let e = parse_err("target = \"out\"\nissuer = \"https://i.example.com\"\n[keys]\ndir = \"k\"\n[cdn]\nkind = \"cloudfront\"\n");
        assert_eq!(e.field, "cdn.kind", "{e}");
        let e = parse_err(&ok.replacen(
            "target",
            "issuer = \"https://other.example.com/p\"\ntarget",
            1,
        ));
        assert_eq!(e.field, "issuer", "{e}");
        assert!(e.message.contains("https://oidc.example.com/p"), "{e}");
    }

    #[test]
    fn env_overrides_win_and_errors_name_the_variable() {
        let env = |k: &str| match k {
            "IRSA_ISSUER_TARGET" => Some("s3://other/q".to_string()),
            "IRSA_ISSUER_KEY_DIR" => Some("/etc/kubernetes/pki/irsa".to_string()),
            "IRSA_ISSUER_THUMBPRINTS" => Some(format!("{}, auto", "a".repeat(40))),
            "IRSA_ISSUER_GENERATE_KEYS" => Some("true".to_string()),
            _ => None,
        };
        let c = parse(MIN, "c.toml", Path::new("/base"), &env).unwrap();
        assert_eq!(c.target.describe(), "s3://other/q");
        assert_eq!(
            c.keys.dir.as_deref(),
            Some(Path::new("/etc/kubernetes/pki/irsa"))
        );
        assert!(c.keys.generate && c.provider.thumbprints.auto);
        assert_eq!(c.provider.thumbprints.fixed.len(), 1);
        let bad = |k: &str| (k == "IRSA_ISSUER_REGION").then(|| "Mars 1".to_string());
        let e = parse(MIN, "c.toml", Path::new("/base"), &bad).unwrap_err();
        assert_eq!(e.field, "aws.region");
        assert!(e.to_string().contains("IRSA_ISSUER_REGION"), "{e}");
    }
}
