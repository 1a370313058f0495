//! The command line. Each command group lives in its own file; this one holds the shared
//! arguments, output handling and dispatch. Only this layer builds adapters and hands them to
//! the core.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use irsa_issuer::oidc::issuer::{IssuerUrl, JwksPath};
use irsa_issuer::oidc::keys;

mod accounts;
mod apply;
mod docs;
mod keycmd;
mod provider;
mod publish;
mod role;
mod rotate;
mod serve;
mod verify;

/// irsa-issuer: AWS IAM Roles for Service Accounts on any Kubernetes cluster.
#[derive(Debug, Parser)]
#[command(name = "irsa-issuer", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// Output format of the command's result (logs always go to stderr).
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More log detail (-v debug, -vv trace). RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write an annotated configuration file (irsa-issuer.toml) to start from.
    Init(apply::InitArgs),
    /// Converge everything the file describes: keys, documents, provider in every account,
    /// roles. Prints a plan first.
    Apply(apply::ApplyArgs),
    /// Delete what `apply` created (only what carries the managed-by=irsa-issuer tag).
    Destroy(apply::DestroyArgs),
    /// Check the issuer, provider(s), roles and optionally a token as STS would; exit 1 on any
    /// failure.
    Verify(verify::VerifyArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Generate signing keys and show key IDs.
    #[command(subcommand)]
    Keys(keycmd::KeysCommand),
    /// Print the JWKS for the given keys, as kube-apiserver serves it.
    Jwks(docs::JwksArgs),
    /// Print the OIDC discovery document for the given issuer and keys.
    Discovery(docs::DiscoveryArgs),
    /// Publish the discovery document and JWKS to a directory (JWKS first, atomically).
    Publish(publish::PublishArgs),
    /// Serve the issuer over HTTPS (or plain HTTP behind a TLS-terminating proxy).
    Serve(serve::ServeArgs),
    /// Run a complete local issuer with a throwaway CA and key: the first thing to try.
    Quickstart(serve::QuickstartArgs),
    /// Print the TLS thumbprint(s) IAM needs for an issuer (SHA-1 of the last certificate served).
    Thumbprint(provider::ThumbprintArgs),
    /// Manage the IAM OpenID Connect provider for the issuer.
    #[command(subcommand)]
    Provider(provider::ProviderCommand),
    /// Print the least-privilege IAM policy the principal running irsa-issuer needs.
    IamPolicy(provider::IamPolicyArgs),
    /// Print the trust policy that lets service accounts assume a role with their tokens.
    TrustPolicy(role::TrustPolicyArgs),
    /// Manage IAM roles for service accounts, and their ServiceAccount manifests.
    #[command(subcommand)]
    Role(role::RoleCommand),
    /// Rotate the signing keys of a key directory without breaking a live token.
    #[command(subcommand)]
    Rotate(rotate::RotateCommand),
    /// Print kube-apiserver's service-account flags for a key directory.
    ApiserverFlags(rotate::ApiServerFlagsArgs),
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// One JSON document on stdout, for scripts.
    Json,
}

/// How logs are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// How a successful command ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done (or, for a plan, nothing to do): exit 0.
    Done,
    /// A `--plan` found changes to make: exit 2, like `terraform plan -detailed-exitcode`.
    ChangesPending,
}

/// Keys given on the command line.
#[derive(Debug, Clone, Args)]
pub struct KeyArgs {
    /// A PEM file with one or more keys (public or private, RSA or EC, or certificates), as
    /// kube-apiserver's --service-account-key-file reads. Repeat for several files.
    #[arg(long = "key", value_name = "FILE")]
    pub keys: Vec<PathBuf>,
    /// A key directory (`irsa-issuer rotate init`): every key it publishes (next, active, previous).
    #[arg(long, value_name = "DIR")]
    pub key_dir: Option<PathBuf>,
}

impl KeyArgs {
    /// The public keys named by --key and --key-dir.
    pub(crate) fn load(&self) -> anyhow::Result<Vec<keys::PublicKey>> {
        Ok(irsa_issuer::rotation::keydir::load_public_keys(
            &self.keys,
            self.key_dir.as_deref(),
        )?)
    }

    /// The keys of the flags, or else those of the file (keys.files and keys.dir).
    pub(crate) fn load_with(
        &self,
        c: Option<&irsa_issuer::reconcile::config::Config>,
    ) -> anyhow::Result<Vec<keys::PublicKey>> {
        match c {
            Some(c) if self.keys.is_empty() && self.key_dir.is_none() => {
                Ok(irsa_issuer::rotation::keydir::load_public_keys(
                    &c.keys.files,
                    c.keys.dir.as_deref(),
                )?)
            }
            _ => self.load(),
        }
    }

    /// The key files and directory of the flags, or else those of the file.
    pub(crate) fn source_with(
        &self,
        c: Option<&irsa_issuer::reconcile::config::Config>,
    ) -> (Vec<PathBuf>, Option<PathBuf>) {
        match c {
            Some(c) if self.keys.is_empty() && self.key_dir.is_none() => {
                (c.keys.files.clone(), c.keys.dir.clone())
            }
            _ => (self.keys.clone(), self.key_dir.clone()),
        }
    }
}

/// The issuer and where its JWKS lives.
#[derive(Debug, Clone, Args)]
pub struct IssuerArgs {
    /// The issuer URL, exactly as kube-apiserver's --service-account-issuer (https, no trailing
    /// slash). With an s3:// target it may be left out: it is then derived from the bucket.
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// Path of the JWKS below the issuer: `openid/v1/jwks` (default; kube-apiserver, kops) or
    /// `keys.json` (pod-identity-webhook guide, Giant Swarm); with -f, the file's.
    #[arg(long, value_name = "PATH")]
    pub jwks_path: Option<String>,
    /// Allow a plain-http issuer on a loopback host (local tests only; STS never accepts it).
    #[arg(long)]
    pub allow_insecure_http: bool,
}

impl IssuerArgs {
    fn parse(&self) -> anyhow::Result<(IssuerUrl, JwksPath)> {
        let Some(issuer) = &self.issuer else {
            anyhow::bail!("--issuer URL is required here (the URL kube-apiserver's --service-account-issuer names), or -f FILE");
        };
        Ok((
            IssuerUrl::parse(issuer, self.allow_insecure_http)?,
            self.jwks_path()?,
        ))
    }

    fn parse_optional(&self) -> anyhow::Result<(Option<IssuerUrl>, JwksPath)> {
        let issuer = match &self.issuer {
            Some(i) => Some(IssuerUrl::parse(i, self.allow_insecure_http)?),
            None => None,
        };
        Ok((issuer, self.jwks_path()?))
    }

    fn jwks_path(&self) -> anyhow::Result<JwksPath> {
        Ok(JwksPath::parse(
            self.jwks_path.as_deref().unwrap_or(JwksPath::DEFAULT),
        )?)
    }

    /// The flags on top of the file's issuer and JWKS path (the issuer derived from an S3
    /// target with the file's pinned region when the file names none).
    async fn with_file(
        &self,
        c: &irsa_issuer::reconcile::config::Config,
    ) -> anyhow::Result<(IssuerUrl, JwksPath)> {
        let jwks_path = match &self.jwks_path {
            Some(p) => JwksPath::parse(p)?,
            None => c.jwks_path.clone(),
        };
        let issuer = match &self.issuer {
            Some(i) => IssuerUrl::parse(i, self.allow_insecure_http)?,
            None => file_issuer(c).await?,
        };
        Ok((issuer, jwks_path))
    }
}

/// The cluster's configuration file, for the single-resource commands: its settings fill every
/// flag that is not given (with the file's environment overrides).
#[derive(Debug, Clone, Args)]
pub struct FileArg {
    /// The cluster's configuration file: its issuer, keys, target, accounts and TLS settings
    /// fill the flags not given (the same IRSA_ISSUER_* environment overrides apply).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

impl FileArg {
    /// The file, read and checked, with `aws` on top of its `[aws]`.
    pub(crate) fn load(
        &self,
        aws: Option<&AwsArgs>,
    ) -> anyhow::Result<Option<irsa_issuer::reconcile::config::Config>> {
        let Some(f) = &self.file else {
            return Ok(None);
        };
        let mut c = apply::ConfigArgs { file: f.clone() }.load()?;
        if let Some(a) = aws {
            if let Some(r) = &a.region {
                c.aws.region = Some(r.clone());
            }
            if let Some(p) = &a.profile {
                c.aws.profile = Some(p.clone());
            }
        }
        Ok(Some(c))
    }
}

/// The issuer the file stands for: its `issuer`, or the one derived from its S3 target and the
/// region the file pins (never the shell's: the issuer would move with it), or its CloudFront
/// distribution's.
pub(crate) async fn file_issuer(
    c: &irsa_issuer::reconcile::config::Config,
) -> anyhow::Result<IssuerUrl> {
    if let Some(i) = &c.issuer {
        return Ok(i.clone());
    }
    let aws = irsa_issuer::reconcile::read::aws_source(c);
    Ok(irsa_issuer::reconcile::read::config_issuer(c, &aws).await?)
}

/// The accounts of the file (the current credentials' unless `aws.current_account = false`,
/// then each `[[accounts]]`), for the single-resource commands.
pub(crate) fn file_accounts(
    c: &irsa_issuer::reconcile::config::Config,
) -> irsa_issuer::reconcile::iam::Accounts {
    let mut targets = Vec::new();
    if c.aws.current_account {
        targets.push(None);
    }
    targets.extend(
        c.accounts
            .iter()
            .map(|a| Some((a.assume_role.clone(), a.external_id.clone()))),
    );
    irsa_issuer::reconcile::iam::Accounts {
        targets,
        session_name: c.aws.role_session_name.clone(),
        only: Vec::new(),
    }
}

/// Where AWS credentials and region come from (on top of the standard chain).
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// AWS region (else AWS_REGION, or the profile's).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Named profile from ~/.aws/config (else AWS_PROFILE, or the default chain).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

impl AwsArgs {
    async fn load(&self) -> anyhow::Result<irsa_issuer::aws::sdk::AwsContext> {
        Ok(
            irsa_issuer::aws::sdk::AwsContext::load(
                self.region.as_deref(),
                self.profile.as_deref(),
            )
            .await?,
        )
    }
}

/// How the issuer's TLS endpoint is reached and trusted.
#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
    /// Extra CA certificates (PEM) to trust besides the public roots, for a private issuer CA.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Connect to this address instead of resolving the issuer's host (SNI and certificate
    /// checks still use the host), like curl's --connect-to.
    #[arg(long, value_name = "ADDR:PORT")]
    pub connect_to: Option<std::net::SocketAddr>,
}

impl TlsArgs {
    fn fetcher(&self) -> anyhow::Result<irsa_issuer::verify::fetch::Fetcher> {
        Ok(irsa_issuer::reconcile::read::fetcher(
            self.ca_file.as_deref(),
            self.connect_to,
        )?)
    }

    /// The flags on top of the file's `[tls]`.
    fn fetcher_with(
        &self,
        c: Option<&irsa_issuer::reconcile::config::Config>,
    ) -> anyhow::Result<irsa_issuer::verify::fetch::Fetcher> {
        let ca = self
            .ca_file
            .clone()
            .or_else(|| c.and_then(|c| c.tls.ca_file.clone()));
        let connect_to = self.connect_to.or(c.and_then(|c| c.tls.connect_to));
        Ok(irsa_issuer::reconcile::read::fetcher(
            ca.as_deref(),
            connect_to,
        )?)
    }
}

/// Parses `K=V` (tags).
pub(crate) fn parse_tag(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).context("rendering JSON output")?
    );
    Ok(())
}

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

fn completions(a: CompletionsArgs) -> anyhow::Result<Outcome> {
    use clap::CommandFactory as _;
    let mut cmd = Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "irsa-issuer", &mut std::io::stdout());
    Ok(Outcome::Done)
}

/// Starts logging on stderr.
/// Logs go to stderr: irsa-issuer's own at warn (info for servers), other crates' (the AWS
/// SDK's region and profile chatter among them) only when they are errors, unless `-v`. Colour
/// only on a terminal.
pub fn init_tracing(cli: &Cli) {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let default = match (cli.verbose, &cli.command) {
        (0, Command::Serve(_) | Command::Quickstart(_)) => "error,irsa_issuer=info",
        (0, _) => "error,irsa_issuer=warn",
        (1, _) => "warn,irsa_issuer=debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let out = cli.output;
    match cli.command {
        Command::Init(a) => apply::init(a),
        Command::Apply(a) => apply::apply(a, out).await,
        Command::Destroy(a) => apply::destroy(a, out).await,
        Command::Verify(a) => verify::verify(a, out).await,
        Command::Completions(a) => completions(a),
        Command::Keys(c) => keycmd::run(c, out),
        Command::Jwks(a) => docs::jwks(a),
        Command::Discovery(a) => docs::discovery(a),
        Command::Publish(a) => publish::run(a, out).await,
        Command::Serve(a) => serve::serve(a).await,
        Command::Quickstart(a) => serve::quickstart(a, out).await,
        Command::Thumbprint(a) => provider::thumbprint(a, out).await,
        Command::Provider(c) => provider::run(c, out).await,
        Command::IamPolicy(a) => provider::iam_policy(a),
        Command::TrustPolicy(a) => role::trust_policy(a).await,
        Command::Role(c) => role::run(c, out).await,
        Command::Rotate(c) => rotate::run(c, out).await,
        Command::ApiserverFlags(a) => rotate::apiserver_flags(a, out).await,
    }
}
