//! `verify` through the engine: fetch what STS fetches, read what IAM holds (the same reads as
//! `apply`), and turn it all into checks with the pure functions of [`crate::verify::checks`].
//! Every problem becomes a failed check with its fix; only a broken request is an error.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::config::{Config, Target};
use super::plan::{role_spec, roles_in};
use super::read::{
    self, config_fetcher, fetcher, load_keys, reach_accounts, read_inline, read_provider,
};
use super::Error;
use crate::aws::sdk::accounts::{self, Target as AccountTarget};
use crate::aws::sdk::roles::Roles;
use crate::aws::sdk::{AwsContext, AwsSource, Caller};
use crate::oidc::issuer::IssuerUrl;
use crate::rotation::keydir::KeyDir;
use crate::verify::checks::{self, Check, Presented, RoleTrust};
use crate::verify::fetch::Fetcher;

/// What to verify.
#[derive(Debug, Default)]
pub struct VerifyRequest {
    /// The cluster's file, when given (its issuer, keys, accounts and roles are checked).
    pub config: Option<Config>,
    /// The file's name, for the fixes.
    pub file: Option<String>,
    /// An issuer URL, checked alone (overrides the file's).
    pub issuer: Option<String>,
    /// A token to check as STS would.
    pub token: Option<PathBuf>,
    /// The audience tokens carry.
    pub audience: Option<String>,
    /// Skip the IAM checks.
    pub skip_aws: bool,
    /// A CA file to trust (overrides the file's `[tls]` with `connect_to`).
    pub ca_file: Option<PathBuf>,
    /// Where to connect instead of the issuer's host.
    pub connect_to: Option<std::net::SocketAddr>,
    /// Region override.
    pub region: Option<String>,
    /// Profile override.
    pub profile: Option<String>,
    /// Accounts for an issuer given alone.
    pub accounts: Vec<AccountTarget>,
    /// STS session name for those.
    pub role_session_name: String,
}

/// The checks, and the issuer they are about.
#[derive(Debug)]
pub struct Verified {
    /// The issuer (without a trailing slash).
    pub issuer: IssuerUrl,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

struct Fixes {
    publish: String,
    provider: String,
}

struct Served {
    keys: Vec<serde_json::Value>,
    jwks_host: Option<(String, u16)>,
}

/// Runs every check `r` asks for, at `now` (Unix seconds).
pub async fn verify(r: &VerifyRequest, now: i64) -> Result<Verified, Error> {
    let fixes = fixes(r.file.as_deref());
    let mut all: Vec<Check> = Vec::new();
    let aws = AwsSource::new(
        r.region
            .clone()
            .or(r.config.as_ref().and_then(|c| c.aws.region.clone())),
        r.profile
            .clone()
            .or(r.config.as_ref().and_then(|c| c.aws.profile.clone())),
    );
    let s = setting(r, &aws, &mut all).await?;
    let served = fetch_documents(&s.fetcher, &s.issuer, &fixes, &mut all).await;
    if let (Some(c), false) = (&r.config, served.keys.is_empty()) {
        all.push(local_keys(c, &served.keys, &fixes)?);
    }
    let presented = thumbprint(&s.fetcher, &served, r.config.as_ref(), &fixes, &mut all).await;
    let mut callers = Vec::new();
    if let (false, Some(base)) = (r.skip_aws, s.base) {
        let a = &s.audience;
        callers = iam_checks(r, base, &s.issuer, a, presented.as_ref(), &fixes, &mut all).await?;
        if let Some((cdn, Target::S3(l))) = r
            .config
            .as_ref()
            .and_then(|c| c.cdn.as_ref().map(|x| (x, &c.target)))
        {
            all.extend(super::cdn::checks(cdn, l, base, &s.issuer, &fixes.publish).await?);
        }
    }
    if let Some(path) = &r.token {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            what: format!("cannot read the token {}", path.display()),
            source,
        })?;
        let roles = role_trusts(r.config.as_ref(), &callers);
        all.extend(checks::check_token(
            &text,
            &s.issuer,
            &s.audience,
            &served.keys,
            &roles,
            now,
        ));
    }
    Ok(Verified {
        issuer: s.issuer,
        checks: all,
    })
}

/// What the checks run against.
struct Setting<'a> {
    base: Option<&'a AwsContext>,
    issuer: IssuerUrl,
    fetcher: Fetcher,
    audience: String,
}

/// The AWS context (loaded only when needed: IAM checks, or an issuer derived from the
/// bucket's region), the issuer (a trailing slash is a failed check), the fetcher and the
/// audience.
async fn setting<'a>(
    r: &VerifyRequest,
    aws: &'a AwsSource,
    all: &mut Vec<Check>,
) -> Result<Setting<'a>, Error> {
    let needs_region = matches!(
        &r.config,
        Some(Config {
            issuer: None,
            target: Target::S3(_),
            ..
        })
    );
    let base = if !r.skip_aws || needs_region {
        Some(aws.context().await?)
    } else {
        None
    };
    let given = match (&r.config, &r.issuer) {
        (_, Some(i)) => i.clone(),
        (Some(c), None) if c.cdn.is_some() => read::config_issuer(c, aws).await?.to_string(),
        (Some(c), None) => {
            let region = base.map(|b| b.region.clone()).unwrap_or_default();
            // The issuer the file pins, never one that follows the shell's region.
            read::check_pinned(c, &region)?;
            read::issuer_of(c, &region)?.to_string()
        }
        (None, None) => super::refuse!("give a configuration file or an issuer URL"),
    };
    let (slash, trimmed) = checks::check_issuer_url(&given);
    all.extend(slash);
    let issuer = IssuerUrl::parse(&trimmed, false)?;
    let fetcher = match (&r.config, r.ca_file.is_none() && r.connect_to.is_none()) {
        (Some(c), true) => config_fetcher(c)?,
        _ => fetcher(r.ca_file.as_deref(), r.connect_to)?,
    };
    let audience = r.audience.clone().unwrap_or_else(|| {
        r.config
            .as_ref()
            .and_then(|c| c.provider.client_ids.first().cloned())
            .unwrap_or_else(|| crate::aws::names::DEFAULT_AUDIENCE.to_string())
    });
    Ok(Setting {
        base,
        issuer,
        fetcher,
        audience,
    })
}

fn fixes(file: Option<&str>) -> Fixes {
    match file {
        Some(f) => Fixes {
            publish: format!("run `irsa-issuer apply -f {f}`"),
            provider: format!("run `irsa-issuer apply -f {f}`"),
        },
        None => Fixes {
            publish:
                "republish the documents (`irsa-issuer apply -f FILE` or `irsa-issuer publish`)"
                    .into(),
            provider: "run `irsa-issuer provider apply --issuer URL` (or `apply -f FILE`)".into(),
        },
    }
}

/// How long STS waits for each of the issuer's documents: about 5 s (AWS's IRSA troubleshooting
/// guidance), so a document that takes longer is refused although a browser would get it.
pub const STS_FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// GETs `url` within STS's time limit.
async fn get_as_sts(fetcher: &Fetcher, url: &str) -> Result<(Vec<u8>, Option<String>), String> {
    match tokio::time::timeout(STS_FETCH_TIMEOUT, fetcher.get(url)).await {
        Ok(Ok(got)) => Ok(got),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "GET {url} gave no complete answer within {} s: STS gives up after about 5 s and refuses every token",
            STS_FETCH_TIMEOUT.as_secs()
        )),
    }
}

/// What STS fetches: discovery, then jwks_uri, each within STS's time limit.
async fn fetch_documents(
    fetcher: &Fetcher,
    issuer: &IssuerUrl,
    fixes: &Fixes,
    all: &mut Vec<Check>,
) -> Served {
    let mut served = Served {
        keys: Vec::new(),
        jwks_host: None,
    };
    let fix_publish = &fixes.publish;
    let (body, ct) = match get_as_sts(fetcher, &issuer.discovery_url()).await {
        Err(e) => {
            all.push(Check::fail(
                "discovery reachable",
                e,
                format!("publish it ({fix_publish}) and make {} reachable over HTTPS with a publicly trusted chain, answering within 5 s", issuer.discovery_url()),
            ));
            return served;
        }
        Ok(got) => got,
    };
    all.push(Check::ok(
        "discovery reachable",
        format!("{} over HTTPS, chain verified", issuer.discovery_url()),
    ));
    let (c, jwks_uri) = checks::check_discovery(issuer, &body, ct.as_deref(), fix_publish);
    all.extend(c);
    let Some(uri) = jwks_uri else {
        return served;
    };
    match get_as_sts(fetcher, &uri).await {
        Err(e) => all.push(Check::fail(
            "JWKS reachable",
            e,
            format!("publish it ({fix_publish}) where it is served within 5 s"),
        )),
        Ok((body, ct)) => {
            all.push(Check::ok("JWKS reachable", uri.clone()));
            let (c, k) = checks::check_jwks(&uri, &body, ct.as_deref(), fix_publish);
            all.extend(c);
            served.keys = k;
            served.jwks_host = url::Url::parse(&uri)
                .ok()
                .and_then(|u| Some((u.host_str()?.to_string(), u.port_or_known_default()?)));
        }
    }
    served
}

/// The served kids against the file's keys.
fn local_keys(c: &Config, served: &[serde_json::Value], fixes: &Fixes) -> Result<Check, Error> {
    let mut local: BTreeSet<String> = load_keys(&c.keys.files)?
        .iter()
        .map(|k| k.key.kid().to_string())
        .collect();
    if let Some(dir) = &c.keys.dir {
        let state = KeyDir::new(dir).load_state_or_empty()?;
        local.extend(state.published().iter().map(|k| k.kid.to_string()));
    }
    let served: BTreeSet<String> = served
        .iter()
        .filter_map(|k| k["kid"].as_str().map(str::to_string))
        .collect();
    Ok(checks::check_local_keys(&served, &local, &fixes.publish))
}

/// The chain IAM checks: the jwks_uri host's.
async fn thumbprint(
    fetcher: &Fetcher,
    served: &Served,
    config: Option<&Config>,
    fixes: &Fixes,
    all: &mut Vec<Check>,
) -> Option<Presented> {
    let (host, port) = served.jwks_host.as_ref()?;
    match fetcher.thumbprint(host, *port, "jwks_uri").await {
        Ok(t) => {
            let trusted_by_aws = if crate::aws::names::is_s3_host(host) {
                Some("the JWKS is on S3, which IAM trusts through its own CA library".to_string())
            } else if t.public_ca {
                Some(
                    "the chain ends in a public CA, which IAM trusts through its own CA library"
                        .to_string(),
                )
            } else {
                None
            };
            let fix = match config {
                Some(c) if !c.provider.thumbprints.auto => format!(
                    "the file pins provider.thumbprints: add {} to it (or use [\"auto\"]), then {}",
                    t.thumbprint, fixes.provider
                ),
                Some(_) => format!(
                    "{} (provider.thumbprints = [\"auto\"] takes the new one)",
                    fixes.provider
                ),
                None => format!(
                    "run `irsa-issuer provider apply --issuer URL --thumbprint {}` (or --thumbprint auto)",
                    t.thumbprint
                ),
            };
            Some(Presented {
                thumbprint: t.thumbprint.as_str().to_string(),
                trusted_by_aws,
                fix,
            })
        }
        Err(e) => {
            all.push(Check::fail(
                "TLS thumbprint",
                e.to_string(),
                "make the jwks_uri host reachable",
            ));
            None
        }
    }
}

/// The provider, and with a file its roles, in every account.
async fn iam_checks(
    r: &VerifyRequest,
    base: &AwsContext,
    issuer: &IssuerUrl,
    audience: &str,
    presented: Option<&Presented>,
    fixes: &Fixes,
    all: &mut Vec<Check>,
) -> Result<Vec<Caller>, Error> {
    let reached = match &r.config {
        Some(c) => reach_accounts(c, base).await,
        None => accounts::reach(base, &r.accounts, &r.role_session_name)
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
            return Ok(Vec::new());
        }
    };
    let callers: Vec<Caller> = reached.iter().map(|(_, c)| c.clone()).collect();
    let inline = match &r.config {
        Some(c) => read_inline(c)?,
        None => Default::default(),
    };
    for (ctx, caller) in reached {
        match read_provider(&ctx, &caller, issuer).await {
            Err(e) => all.push(Check::fail(
                format!("provider exists ({})", caller.account),
                aws_message(e),
                "check the credentials' IAM permissions (`irsa-issuer iam-policy`)",
            )),
            Ok((arn, p)) => all.extend(checks::check_provider(
                &caller.account,
                &arn,
                p.as_ref(),
                audience,
                presented,
                &fixes.provider,
            )),
        }
        if let Some(c) = &r.config {
            all.extend(role_checks(c, &ctx, &caller, issuer, &inline, &fixes.provider).await?);
        }
    }
    Ok(callers)
}

/// The message of an error read in an account, without the account (the check names it).
fn aws_message(e: Error) -> String {
    match e {
        Error::InAccount { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// Each configured role in the account exists and matches the file.
async fn role_checks(
    c: &Config,
    ctx: &AwsContext,
    caller: &Caller,
    issuer: &IssuerUrl,
    inline: &std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, serde_json::Value>,
    >,
    fix: &str,
) -> Result<Vec<Check>, Error> {
    let roles = Roles::new(ctx.iam());
    let mut out = Vec::new();
    for r in roles_in(c, &caller.account) {
        let name = format!("role {} ({})", r.name, caller.account);
        let empty = Default::default();
        let spec = role_spec(r, inline.get(&r.name).unwrap_or(&empty), issuer, c, caller)?;
        let check = match roles.get(&r.name).await {
            Err(e) => Check::fail(
                name,
                e.to_string(),
                "check the credentials' IAM permissions",
            ),
            Ok(None) => Check::fail(name, "does not exist".to_string(), fix.to_string()),
            Ok(Some(state)) => match crate::aws::role::plan(&spec, Some(&state), true) {
                Ok(changes) if changes.is_empty() => {
                    Check::ok(name, "trust policy and policies as configured")
                }
                Ok(changes) => Check::fail(
                    name,
                    format!(
                        "drifted: {}",
                        changes
                            .iter()
                            .map(|c| c.describe())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    fix.to_string(),
                ),
                Err(e) => Check::fail(name, e.to_string(), fix.to_string()),
            },
        };
        out.push(check);
    }
    Ok(out)
}

/// The roles a token could be used with, from the file: by ARN in each account read (the
/// role's name alone when no account was read, with --skip-aws).
fn role_trusts(c: Option<&Config>, callers: &[Caller]) -> Vec<RoleTrust> {
    c.map(|c| {
        c.roles
            .iter()
            .map(|r| RoleTrust {
                name: {
                    let arns: Vec<String> = callers
                        .iter()
                        .filter(|k| r.accounts.is_empty() || r.accounts.contains(&k.account))
                        .map(|k| crate::reconcile::manifests::role_arn(c, r, k))
                        .collect();
                    if arns.is_empty() {
                        r.name.clone()
                    } else {
                        arns.join(", ")
                    }
                },
                subjects: r.service_accounts.iter().map(|s| s.subject()).collect(),
                audience: r
                    .audience
                    .clone()
                    .unwrap_or_else(|| crate::aws::names::DEFAULT_AUDIENCE.to_string()),
            })
            .collect()
    })
    .unwrap_or_default()
}
