//! `irsa-issuer init`, `apply -f FILE` and `destroy -f FILE`: the whole cluster from one file.
//! Both commands read everything first, print one plan, ask (or take `--yes`), then change
//! things in order, stopping at the first failure so that a later step never runs ahead of the
//! one it depends on (a discovery document ahead of its JWKS, a role ahead of its provider).

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use clap::Args;
use serde::Serialize;

use super::{print_json, Outcome, OutputFormat};
use irsa_issuer::aws::sdk::AwsSource;
use irsa_issuer::reconcile::changeset::{self, Item, Summary};
use irsa_issuer::reconcile::config::{self, Config};
use irsa_issuer::reconcile::execute::{execute, Progress, StepReport, StepStatus};
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
        let text = std::fs::read_to_string(&self.file).with_context(|| {
            format!(
                "cannot read the configuration {}: write one with `irsa-issuer init -f {}`",
                self.file.display(),
                self.file.display()
            )
        })?;
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
}

/// Arguments of `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    config: ConfigArgs,
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
}

/// Arguments of `destroy`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    config: ConfigArgs,
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
    irsa_issuer::fsutil::write_atomic(&a.file, config::EXAMPLE.as_bytes(), 0o644)
        .with_context(|| format!("cannot write {}", a.file.display()))?;
    eprintln!(
        "Wrote {}. Edit target, keys and roles, then: irsa-issuer apply -f {} --plan",
        a.file.display(),
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
    aws_calls: Vec<String>,
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
    let c = a.config.load()?;
    let text = out == OutputFormat::Text;
    let aws = read::aws_source(&c);
    let r = read::apply(&c, &aws, &mut rand::rngs::OsRng, now()).await?;
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
    };
    let plan = plan::apply(&c, &r.observed, allow)?;
    let summary = plan.summary();
    let issuer = r.observed.issuer.as_str();
    if text {
        println!("Issuer {issuer}, published to {}", r.target);
        print!("{}", changeset::render(&plan.items));
    }
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
        aws_calls: calls(&aws),
    };
    if let Some(outcome) = gate(summary, a.plan, a.yes, "apply", || {
        (!text).then(|| report(false, Vec::new()))
    })? {
        return Ok(outcome);
    }
    let steps = execute(&plan, &r.handles, &mut StderrProgress::new()).await?;
    match out {
        OutputFormat::Json => print_json(&report(true, steps))?,
        OutputFormat::Text => println!(
            "Apply complete: {} added, {} changed, {} unchanged.",
            summary.add, summary.change, summary.unchanged
        ),
    }
    Ok(Outcome::Done)
}

pub(super) async fn destroy(a: DestroyArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let c = a.config.load()?;
    let text = out == OutputFormat::Text;
    let aws = read::aws_source(&c);
    let r = read::destroy(&c, &aws, a.delete_keys, a.delete_bucket).await?;
    let plan = plan::destroy(&r.observed);
    let summary = plan.summary();
    if text {
        println!("Destroy plan for issuer {}:", r.issuer);
        print!("{}", changeset::render(&plan.items));
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
        aws_calls: calls(&aws),
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
            "Destroy complete: {} deleted, {} changed, {} left alone.",
            summary.destroy, summary.change, summary.unchanged
        ),
    }
    Ok(Outcome::Done)
}
