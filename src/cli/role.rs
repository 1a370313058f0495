//! `irsa-issuer trust-policy` and `role apply|delete|manifest`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};

use super::accounts::{self, AccountArgs};
use super::{parse_tag, AwsArgs, Outcome, OutputFormat};
use irsa_issuer::aws::names::Partition;
use irsa_issuer::aws::role::RoleTemplate;
use irsa_issuer::aws::trust::{self, ManifestOptions, ServiceAccountRef};
use irsa_issuer::oidc::issuer::IssuerUrl;
use irsa_issuer::reconcile::iam;

/// Who may assume the role.
#[derive(Debug, Clone, Args)]
pub struct TrustArgs {
    /// The issuer URL (the tokens' `iss`; names the provider in the trust policy).
    #[arg(long, value_name = "URL")]
    issuer: String,
    /// A service account NAMESPACE/NAME allowed to assume the role (repeatable; `*` wildcards
    /// allowed, e.g. payments/*).
    #[arg(long = "service-account", value_name = "NS/NAME", required = true)]
    service_accounts: Vec<String>,
    /// The token audience to require (default sts.amazonaws.com, in every partition).
    #[arg(long, value_name = "AUD")]
    audience: Option<String>,
    /// IAM's trust-policy size limit in the account: 2048, or up to 4096 once the quota is
    /// raised.
    #[arg(long, default_value_t = irsa_issuer::aws::trust::TRUST_POLICY_MAX, value_name = "CHARS", value_parser = parse_max_size)]
    max_trust_policy_size: usize,
}

fn parse_max_size(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    irsa_issuer::aws::trust::validate_max_size(n).map_err(|e| e.to_string())?;
    Ok(n)
}

impl TrustArgs {
    fn parse(&self) -> anyhow::Result<(IssuerUrl, Vec<ServiceAccountRef>)> {
        let issuer = IssuerUrl::parse(&self.issuer, false)?;
        let sas = self
            .service_accounts
            .iter()
            .map(|s| ServiceAccountRef::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((issuer, sas))
    }

    fn audiences(&self) -> Vec<String> {
        vec![self
            .audience
            .clone()
            .unwrap_or_else(|| irsa_issuer::aws::names::DEFAULT_AUDIENCE.to_string())]
    }
}

/// Arguments of `trust-policy`.
#[derive(Debug, Args)]
pub struct TrustPolicyArgs {
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
    /// The IAM path of the role (`iam-policy` scopes the runner's role permissions to it).
    #[arg(long, default_value = irsa_issuer::aws::role::DEFAULT_PATH, value_name = "PATH")]
    path: String,
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
    /// The issuer the role belongs to: a role tagged for another issuer (or not by
    /// irsa-issuer) is not deleted without --force.
    #[arg(long, value_name = "URL")]
    issuer: String,
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
    let (issuer, sas) = a.trust.parse()?;
    let (account, partition) = match &a.account {
        Some(acct) => (
            acct.clone(),
            match &a.partition {
                Some(p) => Partition::of_arn(&format!("arn:{p}:")).unwrap_or(Partition::Aws),
                None => Partition::of_issuer(&issuer).unwrap_or(Partition::Aws),
            },
        ),
        None => {
            let c = iam::caller(&a.aws.load().await?).await?;
            (c.account, c.partition)
        }
    };
    let policy = trust::trust_policy(
        &issuer,
        partition,
        &account,
        &a.trust.audiences(),
        &sas,
        a.trust.max_trust_policy_size,
    )?;
    println!("{}", serde_json::to_string_pretty(&policy)?);
    Ok(Outcome::Done)
}

pub(super) async fn run(cmd: RoleCommand, out: OutputFormat) -> anyhow::Result<Outcome> {
    match cmd {
        RoleCommand::Apply(a) => apply(*a, out).await,
        RoleCommand::Delete(a) => delete(a, out).await,
        RoleCommand::Manifest(a) => manifest(a, out).await,
    }
}

async fn apply(a: RoleApplyArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let (issuer, sas) = a.trust.parse()?;
    a.accounts.validate()?;
    a.manifest.check()?;
    if a.service_account_manifest && a.accounts.count() != 1 {
        bail!("--service-account-manifest needs exactly one target account (a ServiceAccount names one role ARN); use --no-current-account with one --assume-role");
    }
    let inline = read_inline(&a.inline_policies)?;
    let ctx = a.aws.load().await?;

    let template = RoleTemplate {
        name: a.name.clone(),
        service_accounts: sas.clone(),
        audience: Some(a.trust.audiences().remove(0)),
        managed_policies: a.policy_arns.iter().cloned().collect(),
        inline_policies: inline,
        permissions_boundary: a.permissions_boundary.clone(),
        max_session_duration: a.max_session_duration,
        tags: a.tags.iter().cloned().collect(),
        path: a.path.clone(),
        max_trust_policy_size: a.trust.max_trust_policy_size,
    };
    let results = iam::role_apply(
        &template,
        &issuer,
        a.force,
        a.plan,
        &ctx,
        &a.accounts.accounts(),
    )
    .await?;
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
    let options = manifest_options(&a.manifest, a.trust.audience.as_deref());
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
    let ctx = a.aws.load().await?;
    let issuer = IssuerUrl::parse(&a.issuer, false)?;
    let results = iam::role_delete(
        &a.name,
        &issuer,
        a.force,
        a.plan,
        &ctx,
        &a.accounts.accounts(),
    )
    .await;
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
