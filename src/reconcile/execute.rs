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

/// Runs every step of `plan` whose dependencies succeeded, as many at once as `h.limit`
/// allows, each as soon as the steps it depends on are done (so JWKS before discovery, a
/// provider before its roles; accounts side by side). Returns the steps that ran, in plan
/// order, or the failure (every failure, when several independent chains failed).
pub async fn execute(
    plan: &Plan,
    h: &Handles,
    progress: &mut dyn Progress,
) -> Result<Vec<StepReport>, Error> {
    schedule(plan, h.limit.permits(), progress, |op| run(op, h)).await
}

/// Whether a step of `lane` may start: at most `width` lanes (accounts, and the cluster's own
/// steps) at once, each with at most `width` steps in flight (AWS throttles each account on its
/// own, so a fleet puts no more pressure on one account than a single account does).
fn may_start(running: &[Option<usize>], lane: Option<usize>, width: usize) -> bool {
    let in_lane = running.iter().filter(|l| **l == lane).count();
    if in_lane > 0 {
        return in_lane < width;
    }
    let mut lanes: Vec<&Option<usize>> = running.iter().collect();
    lanes.sort();
    lanes.dedup();
    lanes.len() < width
}

/// The scheduling of [`execute`], over any way to `run` a step: at most `width` accounts at
/// once and `width` steps in each ([`may_start`]), each step once every step it depends on
/// succeeded, none after a failed (or skipped) one.
async fn schedule<'p, F, Fut>(
    plan: &'p Plan,
    width: usize,
    progress: &mut dyn Progress,
    run: F,
) -> Result<Vec<StepReport>, Error>
where
    F: Fn(&'p Op) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    use futures_util::stream::{FuturesUnordered, StreamExt as _};
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Waiting,
        Running,
        Ok,
        Failed,
    }
    let total = plan.steps.len();
    let mut state = vec![State::Waiting; total];
    let mut reports: Vec<(usize, StepReport)> = Vec::new();
    let mut failures = Vec::new();
    let mut running = FuturesUnordered::new();
    // The lane of each step in flight.
    let mut lanes: Vec<Option<usize>> = Vec::new();
    let width = width.max(1);
    loop {
        // Settle what can be settled: skip steps behind a failure, start ready ones.
        for (i, step) in plan.steps.iter().enumerate() {
            if state[i] != State::Waiting {
                continue;
            }
            let deps: Vec<State> = step
                .after
                .iter()
                .map(|&d| state.get(d).copied().unwrap_or(State::Failed))
                .collect();
            if deps.contains(&State::Failed) {
                // A skipped step counts as failed for the steps after it.
                state[i] = State::Failed;
                progress.finished(i + 1, total, &step.label, &StepStatus::Skipped);
            } else if deps.iter().all(|d| *d == State::Ok)
                && may_start(&lanes, step.op.account(), width)
            {
                state[i] = State::Running;
                lanes.push(step.op.account());
                progress.started(i + 1, total, &step.label);
                let fut = run(&step.op);
                running.push(async move {
                    let start = Instant::now();
                    let result = fut.await;
                    (i, start.elapsed().as_millis(), result)
                });
            }
        }
        let Some((i, ms, result)) = running.next().await else {
            break;
        };
        let step = &plan.steps[i];
        if let Some(at) = lanes.iter().position(|l| *l == step.op.account()) {
            lanes.swap_remove(at);
        }
        let status = match &result {
            Ok(()) => StepStatus::Done(ms),
            Err(_) => StepStatus::Failed(ms),
        };
        progress.finished(i + 1, total, &step.label, &status);
        reports.push((
            i,
            StepReport {
                step: step.label.clone(),
                ms,
            },
        ));
        match result {
            Ok(()) => state[i] = State::Ok,
            Err(e) => {
                state[i] = State::Failed;
                failures.push((i, step.label.clone(), e));
            }
        }
    }
    reports.sort_by_key(|(i, _)| *i);
    failures.sort_by_key(|(i, _, _)| *i);
    let mut failures: Vec<(String, Error)> = failures.into_iter().map(|(_, l, e)| (l, e)).collect();
    match failures.len() {
        0 => Ok(reports.into_iter().map(|(_, r)| r).collect()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::plan::Step;
    use std::sync::Mutex;

    /// Records what started and finished, in order.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl Progress for Log {
        fn started(&mut self, n: usize, _: usize, label: &str) {
            self.0.push(format!("start {n} {label}"));
        }
        fn finished(&mut self, n: usize, _: usize, label: &str, status: &StepStatus) {
            let s = match status {
                StepStatus::Done(_) => "done",
                StepStatus::Failed(_) => "failed",
                StepStatus::Skipped => "skipped",
            };
            self.0.push(format!("{s} {n} {label}"));
        }
    }

    fn step(label: &str, after: Vec<usize>) -> Step {
        Step {
            label: label.into(),
            after,
            op: Op::DeleteObject(label.into()),
        }
    }

    fn key(op: &Op) -> String {
        match op {
            Op::DeleteObject(k) => k.clone(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn each_account_gets_its_width_and_at_most_width_accounts_run() {
        // Width 2: a second step in account 0, not a third.
        assert!(may_start(&[Some(0)], Some(0), 2));
        assert!(!may_start(&[Some(0), Some(0)], Some(0), 2));
        // Account 1 beside account 0's two steps; not a third account beside two.
        assert!(may_start(&[Some(0), Some(0)], Some(1), 2));
        assert!(!may_start(&[Some(0), Some(1)], Some(2), 2));
        assert!(!may_start(&[Some(0), Some(1)], None, 2));
        // The cluster's own steps are a lane too.
        assert!(may_start(&[None], None, 2));
        assert!(!may_start(&[None, None], None, 2));
        assert!(may_start(&[], Some(5), 1));
        assert!(!may_start(&[Some(5)], Some(5), 1));
    }

    #[tokio::test]
    async fn steps_run_side_by_side_after_their_dependencies_and_stop_behind_a_failure() {
        // jwks → discovery; provider A → role A; provider B → role B (B's provider fails).
        let plan = Plan {
            items: vec![],
            steps: vec![
                step("jwks", vec![]),
                step("discovery", vec![0]),
                step("provider-a", vec![0, 1]),
                step("role-a", vec![2]),
                step("provider-b", vec![0, 1]),
                step("role-b", vec![4]),
            ],
        };
        let in_flight = Mutex::new((0usize, 0usize));
        let ran = Mutex::new(Vec::new());
        let mut log = Log::default();
        let result = schedule(&plan, 8, &mut log, |op| {
            let (in_flight, ran) = (&in_flight, &ran);
            async move {
                let k = key(op);
                {
                    let mut f = in_flight.lock().unwrap();
                    f.0 += 1;
                    f.1 = f.1.max(f.0);
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                ran.lock().unwrap().push(k.clone());
                in_flight.lock().unwrap().0 -= 1;
                if k == "provider-b" {
                    Err(Error::Refused("no".into()))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert!(matches!(result, Err(Error::Refused(_))), "{result:?}");
        let ran = ran.into_inner().unwrap();
        let pos = |k: &str| ran.iter().position(|r| r == k).unwrap();
        assert!(pos("jwks") < pos("discovery"));
        assert!(pos("discovery") < pos("provider-a") && pos("provider-a") < pos("role-a"));
        assert!(
            !ran.contains(&"role-b".to_string()),
            "ran behind a failure: {ran:?}"
        );
        assert!(
            log.0.contains(&"skipped 6 role-b".to_string()),
            "{:?}",
            log.0
        );
        // The two providers ran at the same time.
        assert_eq!(in_flight.into_inner().unwrap().1, 2);
        // One at a time when the width is 1, in plan order.
        let order = Mutex::new(Vec::new());
        let _ = schedule(&plan, 1, &mut Log::default(), |op| {
            let order = &order;
            async move {
                order.lock().unwrap().push(key(op));
                Ok(())
            }
        })
        .await
        .unwrap();
        assert_eq!(
            order.into_inner().unwrap(),
            [
                "jwks",
                "discovery",
                "provider-a",
                "role-a",
                "provider-b",
                "role-b"
            ]
        );
    }
}
