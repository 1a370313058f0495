//! `irsa-issuer rotate init|stage|promote|retire|status` and `apiserver-flags`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::bail;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::publish::PublishTarget;
use super::{print_json, Outcome, OutputFormat, TlsArgs};
use irsa_issuer::aws::sdk::AwsSource;
use irsa_issuer::oidc::issuer::IssuerUrl;
use irsa_issuer::oidc::keys::{Algorithm, KeySpec};
use irsa_issuer::reconcile::config::{Config, Target as Target3};
use irsa_issuer::reconcile::documents::{Published, TargetSpec};
use irsa_issuer::reconcile::read;
use irsa_issuer::reconcile::rotate::{self, IssuerChoice, Republish, Wait};
use irsa_issuer::rotation::apiserver::ApiServerFlags;
use irsa_issuer::rotation::keydir::KeyDir;
use irsa_issuer::rotation::state::{parse_duration, KeySetState, KeyState, TokenPolicy};

/// Rotation commands.
#[derive(Debug, Subcommand)]
pub enum RotateCommand {
    /// Create a key directory with its first (active) key.
    Init(NewKeyArgs),
    /// Create (or import) the next key and publish it beside the active one.
    Stage(NewKeyArgs),
    /// Make the next key active, once the public issuer has served it for the JWKS cache time;
    /// print kube-apiserver's flags.
    Promote(PromoteArgs),
    /// Record that kube-apiserver signs with the active key, from a token it issued: the
    /// previous keys' retire clock starts now.
    Confirm(ConfirmArgs),
    /// Take previous keys out of the JWKS once every token they signed has expired (their files
    /// stay until `prune`).
    Retire(RetireArgs),
    /// Delete retired keys' files, once no kube-apiserver flag names them.
    Prune(PruneArgs),
    /// Show each key's state and dates, and the next step.
    Status(StatusArgs),
}

/// Which key directory, and the cluster's file its other settings come from.
#[derive(Debug, Clone, Args)]
pub struct KeyDirArgs {
    /// The cluster's configuration file: its key directory, target, issuer, TLS and rotation
    /// settings (flags override them).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// The key directory (else keys.dir of the file).
    #[arg(long, value_name = "DIR", env = "IRSA_ISSUER_KEY_DIR")]
    key_dir: Option<PathBuf>,
}

impl KeyDirArgs {
    /// The key directory and the file, loaded.
    fn resolve(&self) -> anyhow::Result<(KeyDir, Option<Config>)> {
        let config = match &self.file {
            Some(f) => Some(super::apply::ConfigArgs { file: f.clone() }.load()?),
            None => None,
        };
        let dir = self
            .key_dir
            .clone()
            .or_else(|| config.as_ref().and_then(|c| c.keys.dir.clone()));
        let Some(dir) = dir else {
            bail!(match &self.file {
                Some(f) => format!("{} names no key directory (keys.dir): set it, or pass --key-dir DIR", f.display()),
                None => "give the key directory: --key-dir DIR, -f FILE (its keys.dir), or IRSA_ISSUER_KEY_DIR".to_string(),
            });
        };
        Ok((KeyDir::new(dir), config))
    }

    /// How the next `rotate` command names this key directory in a hint: `-f FILE` when the
    /// file was given, else `--key-dir DIR`.
    fn hint(&self, kd: &KeyDir) -> String {
        match &self.file {
            Some(f) => format!("-f {}", f.display()),
            None => format!("--key-dir {}", kd.root().display()),
        }
    }

    /// The same for `apiserver-flags`, which also needs the issuer without a file.
    fn flags_hint(&self, kd: &KeyDir, issuer: Option<&str>) -> String {
        match &self.file {
            Some(f) => format!("-f {}", f.display()),
            None => format!(
                "--key-dir {} --issuer {}",
                kd.root().display(),
                issuer.unwrap_or("URL")
            ),
        }
    }
}

/// Token lifetime settings.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// The longest lifetime of a service-account token the cluster issues (default 24h, or
    /// rotation.max_token_age of the file).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    max_token_age: Option<Duration>,
    /// Clock skew allowed between kube-apiserver and relying parties (default 5m, or
    /// rotation.clock_skew of the file).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    clock_skew: Option<Duration>,
}

impl PolicyArgs {
    fn policy(&self, c: Option<&Config>) -> TokenPolicy {
        let d = TokenPolicy::default();
        TokenPolicy {
            max_token_age: self
                .max_token_age
                .or(c.map(|c| c.rotation.max_token_age))
                .unwrap_or(d.max_token_age),
            skew: self
                .clock_skew
                .or(c.map(|c| c.rotation.clock_skew))
                .unwrap_or(d.skew),
        }
    }
}

/// Arguments of `rotate init` and `rotate stage`.
#[derive(Debug, Args)]
pub struct NewKeyArgs {
    #[command(flatten)]
    kd: KeyDirArgs,
    /// Import this PEM key instead of generating one (a public key alone when the private key
    /// lives elsewhere, e.g. in an HSM or on the control-plane nodes only).
    #[arg(long, value_name = "FILE")]
    import: Option<PathBuf>,
    /// Algorithm of a generated key.
    #[arg(long, default_value = "RS256", value_parser = ["RS256", "ES256", "ES384", "ES512"])]
    alg: String,
    /// RSA modulus size of a generated key.
    #[arg(long, default_value_t = 2048, value_name = "2048|3072|4096")]
    bits: usize,
    #[command(flatten)]
    target: PublishTarget,
}

/// Arguments of `rotate promote`.
#[derive(Debug, Args)]
pub struct PromoteArgs {
    #[command(flatten)]
    kd: KeyDirArgs,
    /// Poll the public issuer until it serves the next key.
    #[arg(long)]
    wait: bool,
    /// How long --wait polls.
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    timeout: Duration,
    /// Time between polls.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    interval: Duration,
    /// How long relying parties may cache the JWKS (the documents' Cache-Control max-age):
    /// promote waits this long after the next key was first published (default 300, or
    /// rotation.cache_max_age of the file).
    #[arg(long, value_name = "SECONDS")]
    cache_max_age: Option<u64>,
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    target: PublishTarget,
}

/// Arguments of `rotate confirm`.
#[derive(Debug, Args)]
pub struct ConfirmArgs {
    #[command(flatten)]
    kd: KeyDirArgs,
    /// A service-account token the cluster issued after every kube-apiserver was restarted with
    /// the new flags (`kubectl create token default`), or `-` for stdin.
    #[arg(long, value_name = "FILE")]
    token: String,
}

/// Arguments of `rotate retire`.
#[derive(Debug, Args)]
pub struct RetireArgs {
    #[command(flatten)]
    kd: KeyDirArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Retire previous keys even if tokens they signed may still be valid (those tokens will
    /// fail to verify).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    target: PublishTarget,
}

/// Arguments of `rotate prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    kd: KeyDirArgs,
    /// A kube-apiserver configuration (static pod manifest, k3s config) that must not name a
    /// file being deleted (repeatable; kubeadm's and k3s' default paths are checked when present).
    #[arg(long = "apiserver-config", value_name = "FILE")]
    apiserver_configs: Vec<PathBuf>,
}

/// Arguments of `rotate status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    kd: KeyDirArgs,
    #[command(flatten)]
    policy: PolicyArgs,
}

/// Arguments of `apiserver-flags`.
#[derive(Debug, Args)]
pub struct ApiServerFlagsArgs {
    /// The cluster's configuration file: its key directory and issuer.
    #[arg(short = 'f', long = "file", value_name = "FILE", conflicts_with_all = ["key_dir", "issuer"], required_unless_present_all = ["key_dir", "issuer"])]
    file: Option<PathBuf>,
    /// The key directory.
    #[arg(long, value_name = "DIR")]
    key_dir: Option<PathBuf>,
    /// The issuer URL.
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// Another public key file kube-apiserver must keep accepting (repeatable), e.g. kubeadm's
    /// /etc/kubernetes/pki/sa.pub or k3s' service.key, which legacy token Secrets are signed with.
    #[arg(long = "extra-key-file", value_name = "FILE")]
    extra_key_files: Vec<String>,
    /// An earlier issuer kube-apiserver must keep accepting tokens of during a migration
    /// (repeatable): an extra --service-account-issuer after the first, which signs.
    #[arg(long = "previous-issuer", value_name = "URL")]
    previous_issuers: Vec<String>,
    /// Also print --api-audiences, listing every issuer (kube-apiserver's default when the flag
    /// is left out, which is usually best).
    #[arg(long)]
    api_audiences: bool,
    /// What to print: the flags and kubeadm patch (text), or only one of them.
    #[arg(long, value_enum, default_value_t = FlagsFormat::Text)]
    format: FlagsFormat,
}

/// How `apiserver-flags` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FlagsFormat {
    /// The flags, then the kubeadm patch.
    Text,
    /// One flag per line.
    Flags,
    /// A kubeadm ClusterConfiguration (v1beta4) patch.
    Kubeadm,
    /// kube-apiserver-arg entries for /etc/rancher/k3s/config.yaml.
    K3s,
}

/// Unix seconds, read at the edge: the core takes time as a parameter.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn rfc3339(t: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(t).unwrap_or(0))
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// Where to republish, when `--to` was given.
struct Target {
    spec: Option<TargetSpec>,
    aws: AwsSource,
    allow_key_removal: bool,
}

impl Target {
    /// The flags' target, else the file's (with its S3 settings and AWS region and profile).
    fn of(t: &PublishTarget, c: Option<&Config>) -> anyhow::Result<Self> {
        if let Some(c) = c {
            let region_given = t.aws_args().region.is_some();
            if let (None, None, Target3::S3(l), false, None) =
                (&c.issuer, &c.aws.region, &c.target, region_given, &t.to)
            {
                bail!("the file pins no issuer for {l}: without aws.region (or issuer) it would follow the shell's region; set aws.region (or issuer) in the file, or pass --region (or IRSA_ISSUER_REGION)");
            }
        }
        // With the file, its target and S3 settings (Cache-Control among them), with the flags
        // on top, also when --to is given; without it, only when --to is.
        let spec = match (c, &t.to) {
            (None, None) => None,
            _ => Some(t.spec(c)?),
        };
        Ok(Self {
            spec,
            aws: t.aws(c),
            allow_key_removal: t.allow_key_removal,
        })
    }

    fn republish(&self) -> Option<Republish<'_>> {
        self.spec.as_ref().map(|target| Republish {
            target,
            aws: &self.aws,
            allow_key_removal: self.allow_key_removal,
        })
    }

    fn render(&self, p: &Option<Published>, out: OutputFormat) -> anyhow::Result<()> {
        if let Some(p) = p {
            super::publish::render(p, &self.aws, out)?;
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct Changed<'a> {
    kid: String,
    state: &'a KeySetState,
}

pub(super) async fn run(cmd: RotateCommand, out: OutputFormat) -> anyhow::Result<Outcome> {
    match cmd {
        RotateCommand::Init(a) => init_or_stage(a, out, true).await,
        RotateCommand::Stage(a) => init_or_stage(a, out, false).await,
        RotateCommand::Promote(a) => promote(a, out).await,
        RotateCommand::Confirm(a) => confirm(a, out),
        RotateCommand::Retire(a) => retire(a, out).await,
        RotateCommand::Prune(a) => prune(a, out),
        RotateCommand::Status(a) => status(a, out),
    }
}

async fn init_or_stage(a: NewKeyArgs, out: OutputFormat, init: bool) -> anyhow::Result<Outcome> {
    let (kd, config) = a.kd.resolve()?;
    let spec = KeySpec {
        alg: a.alg.parse::<Algorithm>()?,
        rsa_bits: a.bits,
    };
    let (public, private) = rotate::new_key(a.import.as_deref(), spec, &mut rand::rngs::OsRng)?;
    let target = Target::of(&a.target, config.as_ref())?;
    let added = rotate::add_key(
        &kd,
        &public,
        private.as_deref().map(String::as_str),
        init,
        now(),
        target.republish().as_ref(),
    )
    .await?;
    target.render(&added.published, out)?;
    match out {
        OutputFormat::Json => print_json(&Changed {
            kid: public.kid().to_string(),
            state: &added.state,
        })?,
        OutputFormat::Text => {
            let what = if init { "active" } else { "next" };
            println!(
                "{} is the {what} key ({}), in {}",
                public.kid(),
                public.alg(),
                kd.root().display()
            );
            if private.is_none() {
                println!("  public key only: kube-apiserver must be given the private key from where it lives");
            }
            let issuer = added.published.as_ref().map(|p| p.issuer.as_str());
            let flags = a.kd.flags_hint(&kd, issuer);
            if init {
                println!("Point kube-apiserver at it: irsa-issuer apiserver-flags {flags}");
            } else {
                let promote = match (&a.kd.file, issuer) {
                    (Some(_), _) => a.kd.hint(&kd),
                    (None, i) => format!("{} --issuer {}", a.kd.hint(&kd), i.unwrap_or("URL")),
                };
                println!(
                    "Next:\n  1. Give every kube-apiserver the new key as a verification key now (its --service-account-key-file; `irsa-issuer apiserver-flags {flags}` lists it) and restart them one by one: with several control-plane nodes, a node restarted after promote signs with the new key while the others must already accept it.\n  2. The key is published {}; wait until relying parties' caches have it (the JWKS max-age).\n  3. `irsa-issuer rotate promote {promote}` (it checks both).",
                    if added.published.is_some() { "now" } else { "when `serve --key-dir` reloads, or once you publish it" }
                );
            }
        }
    }
    Ok(Outcome::Done)
}

fn print_flags(flags: &ApiServerFlags) {
    println!("kube-apiserver flags:");
    for f in flags.args() {
        println!("  {f}");
    }
    println!("\nkubeadm ClusterConfiguration (v1beta4 lists extraArgs, so the key-file flag can repeat):");
    print!("{}", flags.kubeadm_snippet());
}

async fn promote(a: PromoteArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let (kd, config) = a.kd.resolve()?;
    let c = config.as_ref();
    let target = Target::of(&a.target, c)?;
    let (flag_issuer, _) = a.target.issuer.parse_optional()?;
    let given = match (flag_issuer, c) {
        (Some(i), _) => Some(i),
        // Behind CloudFront the issuer is the alias or the distribution's own domain.
        (None, Some(c)) if c.cdn.is_some() && a.target.to.is_none() => {
            Some(read::config_issuer(c, &target.aws).await?)
        }
        (None, c) => c.and_then(|c| c.issuer.clone()),
    };
    let to = a.target.to.clone().or(c.map(|c| c.target.describe()));
    let issuer = IssuerChoice {
        given: given.as_ref(),
        to: to.as_deref(),
        aws: &target.aws,
    };
    let wait = Wait {
        wait: a.wait,
        timeout: a.timeout,
        interval: a.interval,
        cache_max_age: a
            .cache_max_age
            .or(c.map(|c| c.rotation.cache_max_age))
            .unwrap_or(300),
    };
    let fetcher = match (c, a.tls.ca_file.is_none() && a.tls.connect_to.is_none()) {
        (Some(c), true) => read::config_fetcher(c)?,
        _ => a.tls.fetcher()?,
    };
    let p = rotate::promote(
        &kd,
        issuer,
        &fetcher,
        &wait,
        now,
        target.republish().as_ref(),
        &mut |line| eprintln!("{line}"),
    )
    .await?;
    target.render(&p.published, out)?;
    match out {
        OutputFormat::Json => print_json(
            &serde_json::json!({"active": p.kid, "state": p.state, "apiserver_flags": p.flags.args(), "kubeadm": p.flags.kubeadm_snippet()}),
        )?,
        OutputFormat::Text => {
            println!("{} is now the active key. Restart every kube-apiserver with these flags so it signs with it:\n", p.kid);
            print_flags(&p.flags);
            println!("\nThen confirm, with a token issued after the last restart: `kubectl create token default | irsa-issuer rotate confirm {} --token -`. The previous key's retire clock starts there (tokens it signed stay valid until they expire).", a.kd.hint(&kd));
        }
    }
    Ok(Outcome::Done)
}

fn confirm(a: ConfirmArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let token = if a.token == "-" {
        let mut t = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)?;
        t
    } else {
        std::fs::read_to_string(&a.token)
            .map_err(|e| anyhow::anyhow!("cannot read the token {}: {e}", a.token))?
    };
    let (kd, _) = a.kd.resolve()?;
    let c = rotate::confirm(&kd, &token, now())?;
    match out {
        OutputFormat::Json => print_json(&serde_json::json!({
            "active": c.kid,
            "retire_clock_started": c.started.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            "state": c.state,
        }))?,
        OutputFormat::Text => {
            println!("kube-apiserver signs with {} (shown by the token).", c.kid);
            for k in &c.started {
                println!("{k} no longer signs: its retire clock starts now (`irsa-issuer rotate status` says when it is safe).");
            }
        }
    }
    Ok(Outcome::Done)
}

async fn retire(a: RetireArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let (kd, config) = a.kd.resolve()?;
    let target = Target::of(&a.target, config.as_ref())?;
    let done = rotate::retire(
        &kd,
        &a.policy.policy(config.as_ref()),
        a.force,
        now(),
        target.republish().as_ref(),
    )
    .await?;
    let retired = &done.retired;
    if retired.forced {
        eprintln!("warning: --force retires keys that may have signed tokens still valid; those tokens will fail to verify");
    }
    target.render(&done.published, out)?;
    match out {
        OutputFormat::Json => print_json(retired)?,
        OutputFormat::Text => {
            for k in &retired.removed {
                println!("retired {k}: no longer published (its files stay)");
            }
            for k in &retired.kept {
                println!("kept {k} (it may still verify live tokens)");
            }
            let issuer = done.published.as_ref().map(|p| p.issuer.as_str());
            println!("Next: restart every kube-apiserver with the flags `irsa-issuer apiserver-flags {}` prints now (they no longer name the retired keys), then `irsa-issuer rotate prune {}` deletes their files. Until then the files must stay: kube-apiserver refuses to start when a --service-account-key-file is missing.", a.kd.flags_hint(&kd, issuer), a.kd.hint(&kd));
        }
    }
    Ok(Outcome::Done)
}

fn prune(a: PruneArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let (kd, _) = a.kd.resolve()?;
    let mut configs = a.apiserver_configs.clone();
    configs.extend(rotate::DEFAULT_APISERVER_CONFIGS.iter().map(PathBuf::from));
    let p = rotate::prune(&kd, &configs)?;
    match out {
        OutputFormat::Json => print_json(&p)?,
        OutputFormat::Text => {
            for c in &p.checked {
                println!("checked {}: it names none of them", c.display());
            }
            for f in &p.removed {
                println!("deleted {}", f.display());
            }
            if p.removed.is_empty() {
                println!("No retired key files left.");
            }
        }
    }
    Ok(Outcome::Done)
}

#[derive(Serialize)]
struct StatusKey {
    kid: String,
    alg: Algorithm,
    state: KeyState,
    created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    promoted: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    demoted: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_ended: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    removable_from: Option<String>,
    private_key: bool,
}

fn status(a: StatusArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let (kd, config) = a.kd.resolve()?;
    let t = now();
    let (found, next) = rotate::status(&kd, &a.policy.policy(config.as_ref()), t)?;
    let keys: Vec<StatusKey> = found
        .into_iter()
        .map(|k| StatusKey {
            kid: k.kid,
            alg: k.alg,
            state: k.state,
            created: rfc3339(k.created),
            promoted: k.promoted.map(rfc3339),
            demoted: k.demoted.map(rfc3339),
            signing_ended: k.signing_ended.map(rfc3339),
            removable_from: k.removable_from.map(rfc3339),
            private_key: k.private_key,
        })
        .collect();
    match out {
        OutputFormat::Json => print_json(
            &serde_json::json!({"keys": keys, "next_step": {"command": next.command, "safe_from": next.safe_from.map(rfc3339), "why": next.why}}),
        )?,
        OutputFormat::Text => {
            println!(
                "{:<44} {:<6} {:<9} {:<21} {:<21} {:<21} {:<21}",
                "KID", "ALG", "STATE", "CREATED", "PROMOTED", "DEMOTED", "REMOVABLE FROM"
            );
            for k in &keys {
                let removable = match (k.state, &k.removable_from) {
                    (KeyState::Previous, Some(at)) => at.as_str(),
                    (KeyState::Previous, None) => "after confirm",
                    _ => "-",
                };
                println!(
                    "{:<44} {:<6} {:<9} {:<21} {:<21} {:<21} {:<21}",
                    k.kid,
                    k.alg.as_str(),
                    format!("{:?}", k.state).to_lowercase(),
                    k.created,
                    k.promoted.as_deref().unwrap_or("-"),
                    k.demoted.as_deref().unwrap_or("-"),
                    removable
                );
            }
            let left = rotate::retired_files(&kd)?;
            if !left.is_empty() {
                println!(
                    "\nretired, files kept until `rotate prune` (once no kube-apiserver flag names them):"
                );
                for f in &left {
                    println!("  {}", f.display());
                }
            }
            match next.safe_from {
                Some(at) if at > t => println!(
                    "\nnext: {} — safe from {} ({})",
                    next.command,
                    rfc3339(at),
                    next.why
                ),
                _ => println!("\nnext: {} ({})", next.command, next.why),
            }
        }
    }
    Ok(Outcome::Done)
}

pub(super) async fn apiserver_flags(
    a: ApiServerFlagsArgs,
    out: OutputFormat,
) -> anyhow::Result<Outcome> {
    let (key_dir, issuer) = match &a.file {
        Some(f) => {
            let c = super::apply::ConfigArgs { file: f.clone() }.load()?;
            let Some(dir) = c.keys.dir.clone() else {
                bail!(
                    "{}: apiserver-flags needs keys.dir (a key directory)",
                    f.display()
                );
            };
            let issuer = match (&c.issuer, &c.target) {
                (Some(i), _) => i.clone(),
                (None, Target3::S3(_)) => {
                    let aws = read::aws_source(&c);
                    read::config_issuer(&c, &aws).await?
                }
                (None, Target3::Dir(_)) => bail!("{}: no issuer", f.display()),
            };
            (dir, issuer)
        }
        None => match (&a.key_dir, &a.issuer) {
            (Some(d), Some(i)) => (d.clone(), IssuerUrl::parse(i, false)?),
            _ => bail!("give -f FILE, or both --key-dir and --issuer"),
        },
    };
    let previous = a
        .previous_issuers
        .iter()
        .map(|i| IssuerUrl::parse(i, false))
        .collect::<Result<Vec<_>, _>>()?;
    let mut flags = rotate::apiserver_flags(&key_dir, &issuer)?
        .with_extra_key_files(&a.extra_key_files)
        .with_previous_issuers(&previous);
    if a.api_audiences {
        flags = flags.with_api_audiences();
    }
    match (out, a.format) {
        (OutputFormat::Json, _) => print_json(&serde_json::json!({
            "flags": &flags,
            "args": flags.args(),
            "kubeadm": flags.kubeadm_snippet(),
            "k3s": flags.k3s_snippet(),
        }))?,
        (OutputFormat::Text, FlagsFormat::Text) => print_flags(&flags),
        (OutputFormat::Text, FlagsFormat::Flags) => {
            for f in flags.args() {
                println!("{f}");
            }
        }
        (OutputFormat::Text, FlagsFormat::Kubeadm) => print!("{}", flags.kubeadm_snippet()),
        (OutputFormat::Text, FlagsFormat::K3s) => print!("{}", flags.k3s_snippet()),
    }
    Ok(Outcome::Done)
}
