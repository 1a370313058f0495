//! `irsa-issuer init`, `apply -f FILE` and `destroy -f FILE`: the whole cluster from one file.
//! Both commands read everything first, print one plan, ask (or take `--yes`), then change
//! things in order, stopping at the first failure so that a later step never runs ahead of the
//! one it depends on (a discovery document ahead of its JWKS, a role ahead of its provider).

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use clap::Args;
use serde::Serialize;

use super::{print_json, AwsArgs, Outcome, OutputFormat, TlsArgs};
use irsa_issuer::aws::sdk::AwsSource;
use irsa_issuer::publish::lock::LockOptions;
use irsa_issuer::reconcile::changeset::{self, Item, Summary};
use irsa_issuer::reconcile::config::{self, Config};
use irsa_issuer::reconcile::execute::{execute, Progress, StepReport, StepStatus};
use irsa_issuer::reconcile::locks::{self, LockSet};
use irsa_issuer::reconcile::manifests::{self, RoleManifests};
use irsa_issuer::reconcile::{plan, read};

/// Which configuration file.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// The cluster's configuration file (`irsa-issuer init` writes an annotated one).
    #[arg(short = 'f', long = "file", value_name = "FILE", default_value = config::DEFAULT_FILE)]
    pub file: PathBuf,
}

impl ConfigArgs {
    /// Reads and checks the file, with the environment overrides.
    pub fn load(&self) -> anyhow::Result<Config> {
        let shown = self.file.display();
        let text = match std::fs::read_to_string(&self.file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => anyhow::bail!(
                "the configuration {shown} is not UTF-8 text (is it the right file?): write it as TOML, as `irsa-issuer init -f FILE` does"
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| {
                    format!("cannot read the configuration {shown}: write one with `irsa-issuer init -f {shown}`")
                })
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot read the configuration {shown}: check the path and its permissions")
                })
            }
        };
        let abs = std::path::absolute(&self.file).unwrap_or_else(|_| self.file.clone());
        let base = abs.parent().unwrap_or(Path::new("/")).to_path_buf();
        Ok(config::parse(
            &text,
            &self.file.display().to_string(),
            &base,
            &|k| std::env::var(k).ok(),
        )?)
    }
}

/// Arguments of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the annotated example.
    #[arg(short = 'f', long = "file", value_name = "FILE", default_value = config::DEFAULT_FILE)]
    file: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
    /// The AWS region to pin in the file (else AWS_REGION at the time of init).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
}

/// Settings of the file a command line may override: the AWS region and profile, and how the
/// issuer's TLS is trusted and reached.
#[derive(Debug, Clone, Args)]
pub struct Overrides {
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    tls: TlsArgs,
    /// How many accounts are read or changed at once, and how many calls at once in each
    /// (default 8, or aws.concurrency); dependencies are kept whatever the number.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: Option<u16>,
    #[command(flatten)]
    lock: LockArgs,
}

/// How long a run waits for a lock another run holds.
#[derive(Debug, Clone, Args)]
pub struct LockArgs {
    /// How long to wait for the bucket's or a directory's lock while another run holds it
    /// (then fail, naming the holder).
    #[arg(long, default_value = "5m", value_parser = irsa_issuer::rotation::state::parse_duration, value_name = "DURATION")]
    pub lock_timeout: std::time::Duration,
}

impl LockArgs {
    /// The lock options of a run of `command`.
    pub fn options(&self, command: &str) -> LockOptions {
        LockOptions {
            command: command.to_string(),
            timeout: self.lock_timeout,
            lease: LockOptions::lease_from_env(),
            poll: std::time::Duration::from_millis(500),
        }
    }
}

impl Overrides {
    /// The lock options of a run of `command`.
    fn lock_options(&self, command: &str) -> anyhow::Result<LockOptions> {
        Ok(self.lock.options(command))
    }

    /// `c` with the command line's settings on top.
    pub fn onto(&self, mut c: Config) -> Config {
        if let Some(r) = &self.aws.region {
            c.aws.region = Some(r.clone());
        }
        if let Some(p) = &self.aws.profile {
            c.aws.profile = Some(p.clone());
        }
        if let Some(f) = &self.tls.ca_file {
            c.tls.ca_file = Some(f.clone());
        }
        if let Some(a) = self.tls.connect_to {
            c.tls.connect_to = Some(a);
        }
        if let Some(n) = self.concurrency {
            c.aws.concurrency = usize::from(n);
        }
        c
    }
}

/// Arguments of `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    overrides: Overrides,
    /// Only print the plan: exit 0 when there is nothing to do, 2 when changes are pending.
    #[arg(long)]
    plan: bool,
    /// Apply without asking (needed when stdin is not a terminal).
    #[arg(short = 'y', long)]
    yes: bool,
    /// Take over roles and providers the file names that are not this issuer's (untagged, or
    /// tagged for another issuer). The plan marks each.
    #[arg(long)]
    force: bool,
    /// Publish even when the new JWKS drops a published key the key directory did not retire:
    /// every token that key signed stops verifying.
    #[arg(long)]
    allow_key_removal: bool,
    /// Publish where the target publishes another issuer now: every token of that issuer stops
    /// verifying (point kube-apiserver at both issuers meanwhile).
    #[arg(long)]
    allow_issuer_change: bool,
    /// Keep this issuer's roles that the file no longer names (listed as orphans) instead of
    /// deleting them.
    #[arg(long)]
    no_prune: bool,
    /// Write the roles' ServiceAccount manifests to DIR/ACCOUNT/ROLE.yaml after applying (for
    /// `kubectl apply -f DIR -R`); `--output json` lists them in any case.
    #[arg(long, value_name = "DIR")]
    manifests: Option<PathBuf>,
}

/// Arguments of `destroy`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    overrides: Overrides,
    /// Only print the plan: exit 0 when there is nothing to delete, 2 otherwise.
    #[arg(long)]
    plan: bool,
    /// Delete without asking (needed when stdin is not a terminal).
    #[arg(short = 'y', long)]
    yes: bool,
    /// Also delete the key directory's keys (kube-apiserver can then no longer sign with them).
    #[arg(long)]
    delete_keys: bool,
    /// Also delete the bucket, when this issuer created it, it is empty, and no provider for
    /// the issuer remains in any account the file reaches. Without it the bucket is kept: a
    /// deleted name can be re-created by anyone, who then serves keys every remaining provider
    /// trusts.
    #[arg(long)]
    delete_bucket: bool,
}

pub(super) fn init(a: InitArgs) -> anyhow::Result<Outcome> {
    if a.file.exists() && !a.force {
        bail!(
            "{} exists: edit it, or pass --force to overwrite it with the annotated example",
            a.file.display()
        );
    }
    // The region pins an S3 issuer: taken from --region, else from the shell once, now.
    let region = a.region.clone().or_else(|| {
        ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|r| !r.trim().is_empty()))
    });
    if let Some(r) = &region {
        irsa_issuer::aws::names::Partition::for_region(r)?;
    }
    let name = a
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| config::DEFAULT_FILE.to_string());
    let text = config::example(&name, region.as_deref());
    irsa_issuer::fsutil::write_atomic(&a.file, text.as_bytes(), 0o644)
        .with_context(|| format!("cannot write {}", a.file.display()))?;
    match &region {
        Some(r) => eprintln!("Wrote {} (aws.region = {r}).", a.file.display()),
        None => eprintln!(
            "Wrote {}. No region was given (--region, AWS_REGION): set aws.region in it before using an s3:// target.",
            a.file.display()
        ),
    }
    eprintln!(
        "Edit target, keys and roles, then: irsa-issuer apply -f {} --plan",
        a.file.display()
    );
    Ok(Outcome::Done)
}

/// Step-by-step progress on stderr: a line that completes in place on a terminal, plain lines
/// otherwise.
struct StderrProgress {
    tty: bool,
}

impl StderrProgress {
    fn new() -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
        }
    }
}

impl Progress for StderrProgress {
    fn started(&mut self, n: usize, total: usize, label: &str) {
        if self.tty {
            eprint!("[{n}/{total}] {label} ...");
            let _ = std::io::stderr().flush();
        }
    }

    fn finished(&mut self, n: usize, total: usize, label: &str, status: &StepStatus) {
        let head = format!("[{n}/{total}] {label}");
        let status = match status {
            StepStatus::Done(ms) => format!("done ({ms} ms)"),
            StepStatus::Failed(_) => "FAILED".to_string(),
            StepStatus::Skipped => "skipped (a step it depends on failed)".to_string(),
        };
        if self.tty {
            eprintln!("\r\x1b[2K{head}: {status}");
        } else {
            eprintln!("{head}: {status}");
        }
    }
}

/// CloudFront's deployment wait reports on stderr as it polls.
fn set_wait_progress(h: &mut irsa_issuer::reconcile::read::Handles) {
    if let Some(c) = &mut h.cdn {
        c.set_progress(std::sync::Arc::new(|line: &str| eprintln!("    {line}")));
    }
}

/// Unix seconds, read at the edge: the engine takes time as a parameter.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Serialize)]
struct Report<'a> {
    issuer: &'a str,
    target: String,
    accounts: Vec<String>,
    plan: &'a [Item],
    summary: Summary,
    applied: bool,
    steps: Vec<StepReport>,
    #[serde(skip_serializing_if = "<[RoleManifests]>::is_empty")]
    manifests: &'a [RoleManifests],
    aws_calls: Vec<String>,
}

/// Writes each role's manifests to `dir/ACCOUNT/ROLE.yaml`; returns how many files.
fn write_manifests(dir: &Path, all: &[RoleManifests]) -> anyhow::Result<usize> {
    let mut n = 0;
    for m in all.iter().filter(|m| !m.yaml.is_empty()) {
        let path = dir.join(m.relative_path());
        irsa_issuer::fsutil::write_atomic(&path, m.yaml.as_bytes(), 0o644)
            .with_context(|| format!("cannot write {}", path.display()))?;
        n += 1;
    }
    Ok(n)
}

/// What to do after an apply: point kube-apiserver at the issuer and keys, create the
/// ServiceAccounts, check it all.
fn next_steps(c: &Config, file: &Path, issuer: &str, manifests: Option<(&Path, usize)>) {
    let f = file.display();
    println!("\nNext:");
    if c.keys.dir.is_some() {
        println!("  - kube-apiserver: --service-account-issuer={issuer} and the key flags `irsa-issuer apiserver-flags -f {f}` prints (--format kubeadm|k3s for a patch).");
    } else {
        println!("  - kube-apiserver: --service-account-issuer={issuer}, signing with the private key of the published key files.");
    }
    match manifests {
        Some((dir, n)) if n > 0 => println!("  - ServiceAccounts: `kubectl apply -R -f {}` ({n} file(s) written).", dir.display()),
        Some(_) => println!("  - ServiceAccounts: none to write (no role names a concrete service account)."),
        None if !c.roles.is_empty() => println!("  - ServiceAccounts: `irsa-issuer apply -f {f} --manifests DIR` writes their manifests (or `irsa-issuer role manifest -f {f}`)."),
        None => {}
    }
    println!("  - Check it all as STS would: `irsa-issuer verify -f {f}`.");
}

/// After the plan: `Some(outcome)` to stop there (nothing to do, or `--plan`), printing the
/// JSON report when one is given; `None` to go on (confirmed, or `--yes`).
fn gate<'a>(
    summary: Summary,
    plan_only: bool,
    yes: bool,
    verb: &str,
    json: impl FnOnce() -> Option<Report<'a>>,
) -> anyhow::Result<Option<Outcome>> {
    if summary.refused > 0 {
        if let Some(r) = json() {
            print_json(&r)?;
        }
        bail!(
            "{verb} refused: {} resource(s) marked `!` in the plan; nothing was changed (each says its fix)",
            summary.refused
        );
    }
    if !summary.pending() || plan_only {
        if let Some(r) = json() {
            print_json(&r)?;
        }
        return Ok(Some(if summary.pending() {
            Outcome::ChangesPending
        } else {
            Outcome::Done
        }));
    }
    if !confirm(yes, verb)? {
        bail!("{verb} cancelled: nothing was changed");
    }
    Ok(None)
}

/// Asks on the terminal unless `yes`; refuses when nobody can be asked.
fn confirm(yes: bool, what: &str) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("changes are pending and stdin is not a terminal: pass --yes to {what} them, or --plan to only look");
    }
    eprint!("Do you want to {what} these changes? Only 'yes' is accepted: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

fn calls(aws: &AwsSource) -> Vec<String> {
    aws.loaded().map(|c| c.recorder.calls()).unwrap_or_default()
}

pub(super) async fn apply(a: ApplyArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let c = a.overrides.onto(a.config.load()?);
    let aws = read::aws_source(&c);
    let command = format!("apply -f {}", a.config.file.display());
    unless_plan_locked(
        a.plan,
        &c,
        &aws,
        &a.overrides,
        &command,
        apply_locked(&a, out, &c, &aws),
    )
    .await
}

/// Runs `run` (a command of the file) under the locks of what the file changes, unless it is
/// only a plan: a plan changes nothing, so it takes no lock and never waits for one. What can
/// be refused without a call is refused before a lock is taken.
async fn unless_plan_locked(
    plan: bool,
    c: &Config,
    aws: &AwsSource,
    overrides: &Overrides,
    command: &str,
    run: impl std::future::Future<Output = anyhow::Result<Outcome>>,
) -> anyhow::Result<Outcome> {
    if plan {
        return run.await;
    }
    read::check_pinned(c, &aws.context().await?.region)?;
    let opts = overrides.lock_options(command)?;
    locks::with_locks(
        &LockSet::of_config(c),
        aws,
        &opts,
        &mut |l| eprintln!("{l}"),
        run,
    )
    .await
}

/// `apply`, under the locks of what it changes.
async fn apply_locked(
    a: &ApplyArgs,
    out: OutputFormat,
    c: &Config,
    aws: &AwsSource,
) -> anyhow::Result<Outcome> {
    let c = c.clone();
    let text = out == OutputFormat::Text;
    let mut first_steps = Vec::new();
    if let Some(mut first) = read::cdn_first(&c, aws).await? {
        // The issuer (and the bucket statement) exist once the distribution does: create it
        // first, then plan the rest.
        let issuer = first.issuer.as_ref().map_or_else(
            || "https://dXXXX.cloudfront.net/... (named by CloudFront when the distribution is created)".to_string(),
            |i| i.to_string(),
        );
        let summary = first.plan.summary();
        if text {
            println!("Issuer {issuer}: CloudFront first");
            print!("{}", changeset::render(&first.plan.items));
            println!("Then the bucket statement, the documents, the providers and the roles are planned for the distribution's issuer.");
        }
        let report = |applied: bool, steps: Vec<StepReport>| Report {
            issuer: &issuer,
            target: c.target.describe(),
            accounts: Vec::new(),
            plan: &first.plan.items,
            summary,
            applied,
            steps,
            manifests: &[],
            aws_calls: calls(aws),
        };
        if let Some(outcome) = gate(summary, a.plan, a.yes, "apply", || {
            (!text).then(|| report(false, Vec::new()))
        })? {
            return Ok(outcome);
        }
        set_wait_progress(&mut first.handles);
        first_steps = execute(&first.plan, &first.handles, &mut StderrProgress::new()).await?;
    }
    let r = read::apply(&c, aws, &mut rand::rngs::OsRng, now(), a.plan).await?;
    let mut r = r;
    set_wait_progress(&mut r.handles);
    if text {
        match (&r.fetched_thumbprint, &r.observed.thumbprint_note) {
            (_, Some(plan::ThumbprintNote::NotNeeded(why))) => {
                println!("No thumbprint needed: {why}.")
            }
            (Some(t), _) => println!(
                "Thumbprint {} of {} (last of {} certificates)",
                t.thumbprint, t.host, t.chain_length
            ),
            _ => {}
        }
    }
    let allow = plan::Allow {
        takeover: a.force,
        key_removal: a.allow_key_removal,
        issuer_change: a.allow_issuer_change,
        prune: !a.no_prune,
    };
    let plan = plan::apply(&c, &r.observed, allow)?;
    let summary = plan.summary();
    let issuer = r.observed.issuer.as_str();
    if text {
        println!("Issuer {issuer}, published to {}", r.target);
        print!("{}", changeset::render(&plan.items));
    }
    if let (Some(o), Some(cdn)) = (&r.observed.cdn, &c.cdn) {
        let pinned = c.issuer.is_some();
        if let Some(note) =
            irsa_issuer::reconcile::cdn::pin_note(o, cdn, &r.observed.issuer, pinned)
        {
            eprintln!("note: {note}");
        }
    }
    let callers: Vec<&irsa_issuer::aws::names::Caller> =
        r.observed.accounts.iter().map(|a| &a.caller).collect();
    let role_manifests = manifests::manifests(&c, &callers, None);
    let report = |applied: bool, steps: Vec<StepReport>| Report {
        issuer,
        target: r.target.clone(),
        accounts: r
            .observed
            .accounts
            .iter()
            .map(|p| p.caller.account.clone())
            .collect(),
        plan: &plan.items,
        summary,
        applied,
        steps,
        manifests: &role_manifests,
        aws_calls: calls(aws),
    };
    let after = |c: &Config| -> anyhow::Result<()> {
        let written = match &a.manifests {
            Some(dir) => Some((dir.as_path(), write_manifests(dir, &role_manifests)?)),
            None => None,
        };
        if text {
            next_steps(c, &a.config.file, issuer, written);
        }
        Ok(())
    };
    if let Some(outcome) = gate(summary, a.plan, a.yes, "apply", || {
        (!text).then(|| report(false, Vec::new()))
    })? {
        if !a.plan {
            after(&c)?;
        }
        return Ok(outcome);
    }
    let mut steps = first_steps;
    steps.extend(execute(&plan, &r.handles, &mut StderrProgress::new()).await?);
    match out {
        OutputFormat::Json => print_json(&report(true, steps))?,
        OutputFormat::Text => println!(
            "Apply complete: {} resource(s) added, {} changed, {} unchanged, in {} step(s).",
            summary.add,
            summary.change,
            summary.unchanged,
            steps.len()
        ),
    }
    after(&c)?;
    Ok(Outcome::Done)
}

pub(super) async fn destroy(a: DestroyArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let c = a.overrides.onto(a.config.load()?);
    let aws = read::aws_source(&c);
    let command = format!("destroy -f {}", a.config.file.display());
    unless_plan_locked(
        a.plan,
        &c,
        &aws,
        &a.overrides,
        &command,
        destroy_locked(&a, out, &c, &aws),
    )
    .await
}

/// `destroy`, under the locks of what it changes.
async fn destroy_locked(
    a: &DestroyArgs,
    out: OutputFormat,
    c: &Config,
    aws: &AwsSource,
) -> anyhow::Result<Outcome> {
    let c = c.clone();
    let text = out == OutputFormat::Text;
    let mut r = read::destroy(&c, aws, a.delete_keys, a.delete_bucket).await?;
    set_wait_progress(&mut r.handles);
    let plan = plan::destroy(&r.observed);
    let summary = plan.summary();
    if text {
        println!("Destroy plan for issuer {}:", r.issuer);
        print!("{}", changeset::render_destroy(&plan.items));
    }
    let report = |applied: bool, steps: Vec<StepReport>| Report {
        issuer: r.issuer.as_str(),
        target: r.target.clone(),
        accounts: r
            .observed
            .accounts
            .iter()
            .map(|p| p.caller.account.clone())
            .collect(),
        plan: &plan.items,
        summary,
        applied,
        steps,
        manifests: &[],
        aws_calls: calls(aws),
    };
    if let Some(outcome) = gate(summary, a.plan, a.yes, "destroy", || {
        (!text).then(|| report(false, Vec::new()))
    })? {
        return Ok(outcome);
    }
    let steps = execute(&plan, &r.handles, &mut StderrProgress::new()).await?;
    match out {
        OutputFormat::Json => print_json(&report(true, steps))?,
        OutputFormat::Text => println!(
            "Destroy complete: {} resource(s) deleted, {} changed, {} left alone, in {} step(s).",
            summary.destroy,
            summary.change,
            summary.unchanged,
            steps.len()
        ),
    }
    Ok(Outcome::Done)
}

/// Arguments of `force-unlock`.
#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The lock's ID, as the message of the run that waited for it names it.
    #[arg(value_name = "LOCK_ID")]
    id: String,
    /// The cluster's file: its s3:// target names the bucket.
    #[arg(short = 'f', long = "file", value_name = "FILE", conflicts_with = "to")]
    file: Option<PathBuf>,
    /// The bucket (s3://BUCKET[/PREFIX]).
    #[arg(
        long,
        value_name = "s3://BUCKET[/PREFIX]",
        required_unless_present = "file"
    )]
    to: Option<String>,
    #[command(flatten)]
    aws: AwsArgs,
}

/// Deletes a bucket's lock that a killed run left, when its ID is the one given (so that a
/// newer run's lock is never cleared by mistake), as `terraform force-unlock` does.
pub(super) async fn force_unlock(a: ForceUnlockArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let c = match &a.file {
        Some(f) => Some(ConfigArgs { file: f.clone() }.load()?),
        None => None,
    };
    let location = match (&a.to, &c) {
        (Some(to), _) => irsa_issuer::aws::names::S3Location::parse(to)?,
        (None, Some(c)) => match &c.target {
            config::Target::S3(l) => l.clone(),
            config::Target::Dir(d) => bail!(
                "{}: the target {} is a directory, whose lock is a file lock that ends with its process; nothing to unlock",
                a.file.as_ref().map(|f| f.display().to_string()).unwrap_or_default(),
                d.display()
            ),
        },
        (None, None) => bail!("give --to s3://BUCKET or -f FILE"),
    };
    let aws = AwsSource::new(
        a.aws
            .region
            .clone()
            .or(c.as_ref().and_then(|c| c.aws.region.clone())),
        a.aws
            .profile
            .clone()
            .or(c.as_ref().and_then(|c| c.aws.profile.clone())),
    );
    let base = aws.context().await?;
    let gone = irsa_issuer::publish::lock::force_unlock(
        base.s3_unrecorded(location.bucket.contains('.')),
        &location.bucket,
        &a.id,
    )
    .await?;
    match (out, &gone) {
        (OutputFormat::Json, _) => {
            print_json(&serde_json::json!({"bucket": location.bucket, "released": gone}))?
        }
        (OutputFormat::Text, Some(r)) => println!(
            "Released the lock of s3://{}: {}",
            location.bucket,
            r.describe()
        ),
        (OutputFormat::Text, None) => println!("s3://{} is not locked.", location.bucket),
    }
    Ok(Outcome::Done)
}
