//! The engine's last phase: run a plan's steps in order through the adapters, recording how
//! long each took. A step whose dependency failed (or was itself skipped) does not run, so a
//! chain stops at its first failure while independent chains (another account's provider and
//! roles) go on. Progress is reported to the caller, which renders it.

use std::time::Instant;

use serde::Serialize;

use super::documents::AnyStore;
use super::plan::{Op, Plan};
use super::read::Handles;
use super::{refuse, Error};
use crate::aws::sdk::providers::Providers;
use crate::aws::sdk::roles::Roles;
use crate::publish::Store as _;
use crate::rotation::keydir::STATE_FILE;

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepStatus {
    /// It ran and succeeded, in this many milliseconds.
    Done(u128),
    /// It ran and failed.
    Failed(u128),
    /// It did not run: a step it depends on failed.
    Skipped,
}

/// Where progress goes (the command line prints it on stderr).
pub trait Progress {
    /// Step `n` of `total` (1-based) starts.
    fn started(&mut self, n: usize, total: usize, label: &str);
    /// Step `n` of `total` ended.
    fn finished(&mut self, n: usize, total: usize, label: &str, status: &StepStatus);
}

/// Progress that goes nowhere.
pub struct Quiet;

impl Progress for Quiet {
    fn started(&mut self, _: usize, _: usize, _: &str) {}
    fn finished(&mut self, _: usize, _: usize, _: &str, _: &StepStatus) {}
}

/// One step that ran, for `--output json`.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// What it did.
    pub step: String,
    /// How long it took.
    pub ms: u128,
}

/// Runs every step of `plan` whose dependencies succeeded. Returns the steps that ran, or the
/// failure (every failure, when several independent chains failed).
pub async fn execute(
    plan: &Plan,
    h: &Handles,
    progress: &mut dyn Progress,
) -> Result<Vec<StepReport>, Error> {
    let total = plan.steps.len();
    let mut ok = vec![false; total];
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let n = i + 1;
        if !step
            .after
            .iter()
            .all(|&d| ok.get(d).copied().unwrap_or(false))
        {
            progress.finished(n, total, &step.label, &StepStatus::Skipped);
            continue;
        }
        progress.started(n, total, &step.label);
        let start = Instant::now();
        let result = run(&step.op, h).await;
        let ms = start.elapsed().as_millis();
        let status = match &result {
            Ok(()) => StepStatus::Done(ms),
            Err(_) => StepStatus::Failed(ms),
        };
        progress.finished(n, total, &step.label, &status);
        reports.push(StepReport {
            step: step.label.clone(),
            ms,
        });
        match result {
            Ok(()) => ok[i] = true,
            Err(e) => failures.push((step.label.clone(), e)),
        }
    }
    match failures.len() {
        0 => Ok(reports),
        1 => Err(failures.remove(0).1),
        _ => Err(Error::Steps(failures)),
    }
}

/// Runs one step's change.
async fn run(op: &Op, h: &Handles) -> Result<(), Error> {
    let account = |i: usize| match h.accounts.get(i) {
        Some(a) => Ok(a),
        None => Err(Error::Refused(format!("no account #{i} was read"))),
    };
    match op {
        Op::WriteKey => {
            let Some(k) = &h.new_key else {
                refuse!("no new key was prepared");
            };
            k.dir.store_key(&k.public, Some(k.private.as_str()))?;
            k.dir.save_state(&k.state)?;
        }
        Op::SetUpBucket(changes) => {
            if let AnyStore::S3(s3) = store(h)? {
                s3.apply_bucket(changes).await?;
            }
        }
        Op::PutObject(object) => store(h)?.put(object).await?,
        Op::ApplyProvider {
            account: i,
            arn,
            changes,
        } => {
            let (ctx, caller) = account(*i)?;
            Providers::new(ctx.iam())
                .apply(arn, changes)
                .await
                .map_err(|e| Error::from(e).in_account(&caller.account))?;
        }
        Op::ApplyRole {
            account: i,
            name,
            changes,
        } => {
            let (ctx, caller) = account(*i)?;
            Roles::new(ctx.iam())
                .apply(name, changes)
                .await
                .map_err(|e| Error::from(e).in_account(&caller.account))?;
        }
        Op::DeleteRole {
            account: i,
            name,
            state,
        } => Roles::new(account(*i)?.0.iam()).delete(state, name).await?,
        Op::DeleteProvider { account: i, arn } => {
            Providers::new(account(*i)?.0.iam()).delete(arn).await?
        }
        Op::DeleteObject(key) => store(h)?.delete(key).await?,
        Op::DeleteBucket => {
            if let AnyStore::S3(s3) = store(h)? {
                s3.delete_bucket().await?;
            }
        }
        Op::SetBucketPolicy(doc) => {
            if let AnyStore::S3(s3) = store(h)? {
                s3.set_policy(doc.as_deref()).await?;
            }
        }
        Op::ApplyOac(_)
        | Op::ApplyCachePolicy(_)
        | Op::ApplyDistribution(_)
        | Op::Invalidate(_)
        | Op::WaitDeployed
        | Op::DisableDistribution
        | Op::DeleteDistribution
        | Op::DeleteOac
        | Op::DeleteCachePolicy => super::cdn::run(op, h).await?,
        Op::DeleteKeys(state) => {
            let Some(kd) = &h.key_dir else {
                refuse!("no key directory was read");
            };
            for kid in state
                .keys
                .iter()
                .map(|k| &k.kid)
                .chain(state.retired.iter().map(|r| &r.kid))
            {
                kd.remove_key(kid)?;
            }
            let state_file = kd.root().join(STATE_FILE);
            std::fs::remove_file(&state_file).map_err(|source| Error::Io {
                what: format!("cannot remove {}", state_file.display()),
                source,
            })?;
            let _ = std::fs::remove_dir(kd.root().join("private"));
            let _ = std::fs::remove_dir(kd.root());
        }
    }
    Ok(())
}

fn store(h: &Handles) -> Result<&AnyStore, Error> {
    match &h.store {
        Some(s) => Ok(s),
        None => Err(Error::Refused("no document store was read".into())),
    }
}
