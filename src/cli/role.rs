//! `irsa-issuer trust-policy` and `role apply|delete|manifest`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};

use super::accounts::{self, AccountArgs};
use super::{parse_tag, AwsArgs, FileArg, Outcome, OutputFormat};
use irsa_issuer::aws::names::Partition;
use irsa_issuer::aws::role::RoleTemplate;
use irsa_issuer::aws::trust::{self, ManifestOptions, ServiceAccountRef};
use irsa_issuer::oidc::issuer::IssuerUrl;
use irsa_issuer::reconcile::config::{Config, RoleConfig};
use irsa_issuer::reconcile::iam;

/// Who may assume the role.
#[derive(Debug, Clone, Args)]
pub struct TrustArgs {
    #[command(flatten)]
    file: FileArg,
    /// The issuer URL (the tokens' `iss`; names the provider in the trust policy; else the
    /// file's).
    #[arg(long, value_name = "URL", required_unless_present = "file")]
    issuer: Option<String>,
    /// A service account NAMESPACE/NAME allowed to assume the role (repeatable; `*` wildcards
    /// allowed, e.g. payments/*; else the file's role's).
    #[arg(
        long = "service-account",
        value_name = "NS/NAME",
        required_unless_present = "file"
    )]
    service_accounts: Vec<String>,
    /// The token audience to require (default sts.amazonaws.com, in every partition; else the
    /// file's role's).
    #[arg(long, value_name = "AUD")]
    audience: Option<String>,
    /// IAM's trust-policy size limit in the account: 2048 (default, or the file's
    /// iam.max_trust_policy_size), or up to 4096 once the quota is raised.
    #[arg(long, value_name = "CHARS", value_parser = parse_max_size)]
    max_trust_policy_size: Option<usize>,
}

fn parse_max_size(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    irsa_issuer::aws::trust::validate_max_size(n).map_err(|e| e.to_string())?;
    Ok(n)
}

/// Who may assume a role, resolved: the flags, else the file's role of that name.
struct Trust {
    issuer: IssuerUrl,
    service_accounts: Vec<ServiceAccountRef>,
    audience: String,
    max_trust_policy_size: usize,
    /// The file, and its role (with -f).
    config: Option<(Config, RoleConfig)>,
}

impl TrustArgs {
    /// The flags on top of the file's role `name` (with -f).
    async fn resolve(&self, name: Option<&str>, aws: &AwsArgs) -> anyhow::Result<Trust> {
        let config = match self.file.load(Some(aws))? {
            Some(c) => {
                let Some(name) = name else {
                    bail!("with -f, name the file's role: --name ROLE");
                };
                let Some(r) = c.roles.iter().find(|r| r.name == name).cloned() else {
                    bail!(
                        "the file has no role {name} (its roles: {})",
                        c.roles
                            .iter()
                            .map(|r| r.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                };
                Some((c, r))
            }
            None => None,
        };
        let issuer = match (&self.issuer, &config) {
            (Some(i), _) => IssuerUrl::parse(i, false)?,
            (None, Some((c, _))) => super::file_issuer(c).await?,
            (None, None) => bail!("--issuer URL is required, or -f FILE"),
        };
        let service_accounts = match (&config, self.service_accounts.is_empty()) {
            (Some((_, r)), true) => r.service_accounts.clone(),
            _ => self
                .service_accounts
                .iter()
                .map(|s| ServiceAccountRef::parse(s))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let audience = self
            .audience
            .clone()
            .or(config.as_ref().and_then(|(_, r)| r.audience.clone()))
            .unwrap_or_else(|| irsa_issuer::aws::names::DEFAULT_AUDIENCE.to_string());
        let max_trust_policy_size = self
            .max_trust_policy_size
            .or(config.as_ref().map(|(c, _)| c.iam.max_trust_policy_size))
            .unwrap_or(irsa_issuer::aws::trust::TRUST_POLICY_MAX);
        Ok(Trust {
            issuer,
            service_accounts,
            audience,
            max_trust_policy_size,
            config,
        })
    }
}

/// Arguments of `trust-policy`.
#[derive(Debug, Args)]
pub struct TrustPolicyArgs {
    /// With -f: the file's role whose trust policy to print.
    #[arg(long, value_name = "ROLE")]
    name: Option<String>,
    #[command(flatten)]
    trust: TrustArgs,
    /// The account that holds the role (and so the provider the policy names); default: the
    /// account of the current AWS credentials.
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// The partition, when --account is given (default: the issuer's, when it is an AWS
    /// endpoint, else aws).
    #[arg(long, value_parser = ["aws", "aws-cn", "aws-us-gov"])]
    partition: Option<String>,
    #[command(flatten)]
    aws: AwsArgs,
}

/// Role commands.
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create or reconcile a role for service accounts (a plan is printed first).
    Apply(Box<RoleApplyArgs>),
    /// Detach the role's policies and delete it (only this issuer's role, unless --force).
    Delete(RoleDeleteArgs),
    /// Print ServiceAccount manifests annotated with an existing role's ARN.
    Manifest(RoleManifestArgs),
}

/// ServiceAccount annotation options.
#[derive(Debug, Clone, Args)]
pub struct ManifestArgs {
    /// Annotate `eks.amazonaws.com/sts-regional-endpoints: "true"`.
    #[arg(long)]
    sts_regional_endpoints: bool,
    /// Annotate `eks.amazonaws.com/token-expiration` (seconds): 600 to --max-token-age.
    #[arg(long, value_name = "SECONDS")]
    token_expiration: Option<u32>,
    /// The longest token lifetime the cluster's key rotation allows for (its retire clock).
    #[arg(long, default_value = "24h", value_parser = irsa_issuer::rotation::state::parse_duration, value_name = "DURATION")]
    max_token_age: std::time::Duration,
}

impl ManifestArgs {
    fn check(&self) -> anyhow::Result<()> {
        if let Some(t) = self.token_expiration {
            trust::validate_token_expiration(u64::from(t), self.max_token_age.as_secs())?;
        }
        Ok(())
    }
}

/// Arguments of `role apply`.
#[derive(Debug, Args)]
pub struct RoleApplyArgs {
    /// The role name.
    #[arg(long, value_name = "ROLE")]
    name: String,
    #[command(flatten)]
    trust: TrustArgs,
    /// A managed policy to attach (repeatable); attached policies not listed are detached.
    #[arg(long = "policy-arn", value_name = "ARN")]
    policy_arns: Vec<String>,
    /// An inline policy NAME=FILE (JSON; repeatable); inline policies not listed are deleted.
    #[arg(long = "inline-policy", value_name = "NAME=FILE", value_parser = parse_tag)]
    inline_policies: Vec<(String, String)>,
    /// Permissions boundary policy ARN (never removed once set).
    #[arg(long, value_name = "ARN")]
    permissions_boundary: Option<String>,
    /// Maximum session duration, 3600 to 43200 seconds.
    #[arg(long, value_name = "SECONDS")]
    max_session_duration: Option<i32>,
    /// A tag KEY=VALUE (repeatable); irsa-issuer adds managed-by=irsa-issuer and
    /// irsa-issuer/issuer=ISSUER.
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
    /// The IAM path of the role (default /irsa/, or the file's iam.role_path; `iam-policy`
    /// scopes the runner's role permissions to it).
    #[arg(long, value_name = "PATH")]
    path: Option<String>,
    /// Take over a role that is not this issuer's (untagged, or tagged for another issuer).
    #[arg(long)]
    force: bool,
    /// Only print the plan; exit 0 if nothing would change, 2 if something would.
    #[arg(long)]
    plan: bool,
    /// Print the ServiceAccount manifests on stdout (plan and results go to stderr), ready for
    /// `kubectl apply -f -`. Needs exactly one target account.
    #[arg(long)]
    service_account_manifest: bool,
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    accounts: AccountArgs,
}

/// Arguments of `role delete`.
#[derive(Debug, Args)]
pub struct RoleDeleteArgs {
    /// The role name.
    #[arg(long, value_name = "ROLE")]
    name: String,
    #[command(flatten)]
    file: FileArg,
    /// The issuer the role belongs to: a role tagged for another issuer (or not by
    /// irsa-issuer) is not deleted without --force (else the file's).
    #[arg(long, value_name = "URL", required_unless_present = "file")]
    issuer: Option<String>,
    /// Delete even a role that is not this issuer's.
    #[arg(long)]
    force: bool,
    /// Only print what would be deleted; exit 2 if something would.
    #[arg(long)]
    plan: bool,
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    accounts: AccountArgs,
}

/// Arguments of `role manifest`.
#[derive(Debug, Args)]
pub struct RoleManifestArgs {
    /// The cluster's configuration file: the manifests of its roles (all, or --name) in every
    /// account of the file, with the roles' annotations; the other flags do not apply.
    #[arg(short = 'f', long = "file", value_name = "FILE", conflicts_with_all = ["service_accounts", "audience"])]
    file: Option<PathBuf>,
    /// The role name (with -f: only this role of the file).
    #[arg(long, value_name = "ROLE", required_unless_present = "file")]
    name: Option<String>,
    /// A service account NAMESPACE/NAME (repeatable).
    #[arg(
        long = "service-account",
        value_name = "NS/NAME",
        required_unless_present = "file"
    )]
    service_accounts: Vec<String>,
    /// Annotate `eks.amazonaws.com/audience` (only when not the default).
    #[arg(long, value_name = "AUD")]
    audience: Option<String>,
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    aws: AwsArgs,
}

fn manifest_options(m: &ManifestArgs, audience: Option<&str>) -> ManifestOptions {
    ManifestOptions {
        audience: audience
            .filter(|a| *a != irsa_issuer::aws::names::DEFAULT_AUDIENCE)
            .map(str::to_string),
        sts_regional_endpoints: m.sts_regional_endpoints,
        token_expiration: m.token_expiration,
    }
}

pub(super) async fn trust_policy(a: TrustPolicyArgs) -> anyhow::Result<Outcome> {
    let t = a.trust.resolve(a.name.as_deref(), &a.aws).await?;
    let (account, partition) = match &a.account {
        Some(acct) => (
            acct.clone(),
            match &a.partition {
                Some(p) => Partition::of_arn(&format!("arn:{p}:")).unwrap_or(Partition::Aws),
                None => Partition::of_issuer(&t.issuer).unwrap_or(Partition::Aws),
            },
        ),
        None => {
            let c = iam::caller(&region_of(&a.aws, t.config.as_ref()).load().await?).await?;
            (c.account, c.partition)
        }
    };
    let policy = trust::trust_policy(
        &t.issuer,
        partition,
        &account,
        std::slice::from_ref(&t.audience),
        &t.service_accounts,
        t.max_trust_policy_size,
    )?;
    println!("{}", serde_json::to_string_pretty(&policy)?);
    Ok(Outcome::Done)
}

/// The AWS flags, else the file's `[aws]`.
fn region_of(aws: &AwsArgs, c: Option<&(Config, RoleConfig)>) -> AwsArgs {
    AwsArgs {
        region: aws
            .region
            .clone()
            .or(c.and_then(|(c, _)| c.aws.region.clone())),
        profile: aws
            .profile
            .clone()
            .or(c.and_then(|(c, _)| c.aws.profile.clone())),
    }
}

pub(super) async fn run(cmd: RoleCommand, out: OutputFormat) -> anyhow::Result<Outcome> {
    match cmd {
        RoleCommand::Apply(a) => apply(*a, out).await,
        RoleCommand::Delete(a) => delete(a, out).await,
        RoleCommand::Manifest(a) => manifest(a, out).await,
    }
}

async fn apply(a: RoleApplyArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let t = a.trust.resolve(Some(&a.name), &a.aws).await?;
    a.accounts.validate()?;
    a.manifest.check()?;
    // With -f: the file's role, in the accounts of the file it lists, the flags on top.
    let accounts = match &t.config {
        Some((c, r)) if a.accounts.roles.is_empty() => {
            let mut accounts = super::file_accounts(c);
            accounts.only = r.accounts.clone();
            accounts
        }
        _ => a.accounts.accounts(),
    };
    if a.service_account_manifest && accounts.targets.len() != 1 {
        bail!("--service-account-manifest needs exactly one target account (a ServiceAccount names one role ARN); use --no-current-account with one --assume-role, or `apply -f FILE --manifests DIR`");
    }
    let mut inline = match &t.config {
        Some((c, _)) => irsa_issuer::reconcile::read::read_inline(c)?
            .remove(&a.name)
            .unwrap_or_default(),
        None => BTreeMap::new(),
    };
    inline.extend(read_inline(&a.inline_policies)?);
    let ctx = region_of(&a.aws, t.config.as_ref()).load().await?;
    let file_role = t.config.as_ref().map(|(_, r)| r);
    let mut tags: BTreeMap<String, String> = match &t.config {
        Some((c, r)) => c
            .tags
            .iter()
            .chain(&r.tags)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        None => BTreeMap::new(),
    };
    tags.extend(a.tags.iter().cloned());
    let template = RoleTemplate {
        name: a.name.clone(),
        service_accounts: t.service_accounts.clone(),
        audience: Some(t.audience.clone()),
        managed_policies: file_role
            .map(|r| r.policy_arns.clone())
            .unwrap_or_default()
            .into_iter()
            .chain(a.policy_arns.iter().cloned())
            .collect(),
        inline_policies: inline,
        permissions_boundary: a
            .permissions_boundary
            .clone()
            .or(file_role.and_then(|r| r.permissions_boundary.clone())),
        max_session_duration: a
            .max_session_duration
            .or(file_role.and_then(|r| r.max_session_duration)),
        tags,
        path: a
            .path
            .clone()
            .or(t.config.as_ref().map(|(c, _)| c.iam.role_path.clone()))
            .unwrap_or_else(|| irsa_issuer::aws::role::DEFAULT_PATH.to_string()),
        max_trust_policy_size: t.max_trust_policy_size,
    };
    let issuer = t.issuer.clone();
    let sas = t.service_accounts.clone();
    let results = iam::role_apply(&template, &issuer, a.force, a.plan, &ctx, &accounts).await?;
    // With manifests on stdout, everything else goes to stderr.
    let say = |line: String| {
        if a.service_account_manifest {
            eprintln!("{line}")
        } else if out == OutputFormat::Text {
            println!("{line}")
        }
    };
    for r in results.iter().filter(|r| !r.failed()) {
        say(format!("Role {} (account {}):", a.name, r.account));
        if r.lines.is_empty() {
            say("  no changes".into());
        }
        for line in &r.lines {
            say(format!("  {line}"));
        }
    }
    let pending = results.iter().any(|r| r.action == "plan");
    if !a.service_account_manifest {
        return accounts::report(&results, &ctx, out, pending);
    }
    let mut options = manifest_options(&a.manifest, Some(&t.audience));
    if let Some(r) = file_role {
        options.sts_regional_endpoints |= r.sts_regional_endpoints;
        options.token_expiration = options.token_expiration.or(r.token_expiration);
    }
    for r in results.iter().filter(|r| !r.failed()) {
        print!("{}", trust::manifests(&r.arn, &sas, &options));
    }
    for r in results.iter().filter(|r| r.failed()) {
        eprintln!(
            "account {}: failed: {}",
            r.account,
            r.error.as_deref().unwrap_or("?")
        );
    }
    if results.iter().any(|r| r.failed()) {
        bail!("the role could not be applied; no manifest was printed for it")
    }
    Ok(if pending {
        Outcome::ChangesPending
    } else {
        Outcome::Done
    })
}

/// The `--inline-policy NAME=FILE` documents, read and parsed.
fn read_inline(given: &[(String, String)]) -> anyhow::Result<BTreeMap<String, serde_json::Value>> {
    let mut inline = BTreeMap::new();
    for (name, file) in given {
        let text = std::fs::read_to_string(PathBuf::from(file))
            .with_context(|| format!("cannot read inline policy {name} from {file}"))?;
        let doc: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("inline policy {name} ({file}) is not JSON"))?;
        inline.insert(name.clone(), doc);
    }
    Ok(inline)
}

async fn delete(a: RoleDeleteArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    a.accounts.validate()?;
    let c = a.file.load(Some(&a.aws))?;
    let issuer = match (&a.issuer, &c) {
        (Some(i), _) => IssuerUrl::parse(i, false)?,
        (None, Some(c)) => super::file_issuer(c).await?,
        (None, None) => bail!("--issuer URL is required, or -f FILE"),
    };
    // With -f, every account of the file (the role may be in any of them, or no longer named).
    let accounts = match &c {
        Some(c) if a.accounts.roles.is_empty() => super::file_accounts(c),
        _ => a.accounts.accounts(),
    };
    let aws = AwsArgs {
        region: a
            .aws
            .region
            .clone()
            .or(c.as_ref().and_then(|c| c.aws.region.clone())),
        profile: a
            .aws
            .profile
            .clone()
            .or(c.as_ref().and_then(|c| c.aws.profile.clone())),
    };
    let ctx = aws.load().await?;
    let results = iam::role_delete(&a.name, &issuer, a.force, a.plan, &ctx, &accounts).await;
    let pending = results.iter().any(|r| r.action == "plan");
    accounts::report(&results, &ctx, out, pending)
}

async fn manifest(a: RoleManifestArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    if let Some(f) = &a.file {
        let c = super::apply::ConfigArgs { file: f.clone() }.load()?;
        let mut c = c;
        if let Some(r) = &a.aws.region {
            c.aws.region = Some(r.clone());
        }
        if let Some(p) = &a.aws.profile {
            c.aws.profile = Some(p.clone());
        }
        let aws = irsa_issuer::reconcile::read::aws_source(&c);
        let all = iam::file_manifests(&c, &aws, a.name.as_deref()).await?;
        match out {
            OutputFormat::Json => super::print_json(&all)?,
            OutputFormat::Text => {
                for m in &all {
                    if m.yaml.is_empty() {
                        eprintln!(
                            "note: role {} in {} names only wildcard service accounts: no manifest",
                            m.role, m.account
                        );
                        continue;
                    }
                    println!("# role {} in account {}", m.role, m.account);
                    print!("{}", m.yaml);
                }
            }
        }
        return Ok(Outcome::Done);
    }
    let Some(name) = a.name.clone() else {
        anyhow::bail!("give --name ROLE and --service-account NS/NAME, or -f FILE");
    };
    a.manifest.check()?;
    let sas = a
        .service_accounts
        .iter()
        .map(|s| ServiceAccountRef::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let ctx = a.aws.load().await?;
    let arn = iam::role_arn(&name, &ctx).await?;

    print!(
        "{}",
        trust::manifests(
            &arn,
            &sas,
            &manifest_options(&a.manifest, a.audience.as_deref())
        )
    );
    Ok(Outcome::Done)
}
