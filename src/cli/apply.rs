//! `irsa-issuer init`, `apply -f FILE` and `destroy -f FILE`: the whole cluster from one file.
//! Both commands read everything first, print one plan, ask (or take `--yes`), then change
//! things in order, stopping at the first failure so that a later step never runs ahead of the
//! one it depends on (a discovery document ahead of its JWKS, a role ahead of its provider).

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};
use clap::Args;
use serde::Serialize;

use super::publish::{self, AnyStore, Prepared, PublishTarget};
use super::{print_json, AwsArgs, IssuerArgs, Outcome, OutputFormat};
use crate::aws::bucket::{self, PublicAccess};
use crate::aws::names::{provider_arn, Partition, Thumbprint};
use crate::aws::provider::{ProviderChange, ProviderSpec, ProviderState};
use crate::aws::role::{RoleChange, RoleSpec, RoleState, RoleTemplate};
use crate::aws::sdk::providers::Providers;
use crate::aws::sdk::roles::Roles;
use crate::aws::sdk::{AwsContext, Caller};
use crate::oidc::documents::KeySet;
use crate::oidc::issuer::{IssuerUrl, DISCOVERY_PATH};
use crate::oidc::keys::{self, KeySpec, PublicKey};
use crate::publish::Store as _;
use crate::reconcile::changeset::{self, Action, Item, Summary};
use crate::reconcile::config::{self, Config, Target};
use crate::rotation::keydir::KeyDir;
use crate::rotation::state::KeySetState;

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
}

pub(super) fn init(a: InitArgs) -> anyhow::Result<Outcome> {
    if a.file.exists() && !a.force {
        bail!(
            "{} exists: edit it, or pass --force to overwrite it with the annotated example",
            a.file.display()
        );
    }
    crate::fsutil::write_atomic(&a.file, config::EXAMPLE.as_bytes(), 0o644)
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
struct Progress {
    tty: bool,
    total: usize,
    n: usize,
    steps: Vec<StepReport>,
}

#[derive(Serialize)]
struct StepReport {
    step: String,
    ms: u128,
}

impl Progress {
    fn new(total: usize) -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            total,
            n: 0,
            steps: Vec::new(),
        }
    }

    async fn run<T, F: std::future::Future<Output = anyhow::Result<T>>>(
        &mut self,
        what: String,
        f: F,
    ) -> anyhow::Result<T> {
        self.n += 1;
        let head = format!("[{}/{}] {what}", self.n, self.total);
        if self.tty {
            eprint!("{head} ...");
            let _ = std::io::stderr().flush();
        }
        let start = Instant::now();
        let result = f.await;
        let ms = start.elapsed().as_millis();
        let status = match &result {
            Ok(_) => format!("done ({ms} ms)"),
            Err(_) => "FAILED".to_string(),
        };
        if self.tty {
            eprintln!("\r\x1b[2K{head}: {status}");
        } else {
            eprintln!("{head}: {status}");
        }
        self.steps.push(StepReport { step: what, ms });
        result
    }
}

/// One account and what is planned in it.
struct AccountPlan {
    ctx: AwsContext,
    caller: Caller,
    provider_arn: String,
    provider: Option<ProviderState>,
    provider_changes: Vec<ProviderChange>,
    roles: Vec<RolePlan>,
}

struct RolePlan {
    name: String,
    actual: Option<RoleState>,
    changes: Vec<RoleChange>,
}

/// A key to create in the key directory.
struct NewKey {
    dir: KeyDir,
    state: KeySetState,
    public: PublicKey,
    private: zeroize::Zeroizing<String>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The keys to publish, and the key to create first when the directory has none.
fn plan_keys(c: &Config, items: &mut Vec<Item>) -> anyhow::Result<(KeySet, Option<NewKey>)> {
    let mut public: Vec<PublicKey> = super::load_keys(&c.keys.files)?
        .into_iter()
        .map(|k| k.key)
        .collect();
    let mut new = None;
    if let Some(dir) = &c.keys.dir {
        let kd = KeyDir::new(dir);
        let state = kd.load_state_or_empty()?;
        if state.keys.is_empty() {
            if !c.keys.generate {
                bail!(
                    "the key directory {} has no keys: set keys.generate = true in the file (or IRSA_ISSUER_GENERATE_KEYS=true), or create one with `irsa-issuer rotate init --key-dir {}`",
                    dir.display(),
                    dir.display()
                );
            }
            // Generated now so that the plan shows the real kid; written only when applied.
            let g = keys::generate(
                KeySpec {
                    alg: c.keys.algorithm,
                    rsa_bits: c.keys.rsa_bits,
                },
                &mut rand::rngs::OsRng,
            )?;
            let mut state = state;
            state.init(g.public.kid().clone(), g.public.alg(), now())?;
            items.push(Item {
                step: "keys",
                account: None,
                resource: format!("{}/{}.pub", dir.display(), g.public.kid()),
                action: Action::Create,
                details: vec![format!(
                    "+ active {} key {} (private key 0600 in {}/private)",
                    g.public.alg(),
                    g.public.kid(),
                    dir.display()
                )],
            });
            public.push(g.public.clone());
            new = Some(NewKey {
                dir: kd,
                state,
                public: g.public,
                private: g.private_pem,
            });
        } else {
            let keys = kd.published_keys(&state)?;
            for k in &keys {
                items.push(Item {
                    step: "keys",
                    account: None,
                    resource: format!("{}/{}.pub", dir.display(), k.kid()),
                    action: Action::Unchanged,
                    details: vec![],
                });
            }
            public.extend(keys);
        }
    }
    Ok((KeySet::new(public)?, new))
}

/// The `publish` arguments the file stands for.
fn publish_target(c: &Config) -> PublishTarget {
    PublishTarget {
        issuer: IssuerArgs {
            issuer: c.issuer.as_ref().map(|i| i.to_string()),
            jwks_path: c.jwks_path.as_str().to_string(),
            allow_insecure_http: false,
        },
        to: Some(match &c.target {
            Target::S3(l) => l.to_string(),
            Target::Dir(d) => d.display().to_string(),
        }),
        create_bucket: c.s3.create_bucket,
        public_access: c.s3.public_access,
        cache_control: c.s3.cache_control.clone(),
        tags: c.tags.clone().into_iter().collect(),
        aws: AwsArgs {
            region: c.aws.region.clone(),
            profile: c.aws.profile.clone(),
        },
    }
}

fn publish_items(p: &Prepared, items: &mut Vec<Item>) {
    let bucket = p.bucket.clone().unwrap_or_default();
    if !p.bucket_changes.is_empty() {
        let create = p
            .bucket_changes
            .iter()
            .any(|c| matches!(c, crate::aws::bucket::BucketChange::Create { .. }));
        items.push(Item {
            step: "bucket",
            account: None,
            resource: format!("s3://{bucket}"),
            action: if create {
                Action::Create
            } else {
                Action::Update
            },
            details: p
                .bucket_changes
                .iter()
                .map(|c| c.describe(&bucket))
                .collect(),
        });
    }
    for step in &p.plan.steps {
        let (action, details) = match &step.action {
            crate::publish::objects::ObjectAction::Create => (Action::Create, vec![]),
            crate::publish::objects::ObjectAction::Update { reasons } => (
                Action::Update,
                reasons.iter().map(|r| r.to_string()).collect(),
            ),
            crate::publish::objects::ObjectAction::Unchanged => (Action::Unchanged, vec![]),
        };
        let resource = match &p.store {
            AnyStore::S3(_) => format!("s3://{bucket}/{}", step.object.key),
            AnyStore::Dir(_) => step.object.key.clone(),
        };
        items.push(Item {
            step: "documents",
            account: None,
            resource,
            action,
            details,
        });
    }
}

/// Every account the file names, reached from `base`, with their identities.
pub(super) async fn reach_accounts(
    c: &Config,
    base: &AwsContext,
) -> anyhow::Result<Vec<(AwsContext, Caller)>> {
    let mut targets: Vec<super::accounts::Target> = Vec::new();
    if c.aws.current_account {
        targets.push(None);
    }
    targets.extend(
        c.accounts
            .iter()
            .map(|a| Some((a.assume_role.clone(), a.external_id.clone()))),
    );
    let out = super::accounts::reach(base, &targets, &c.aws.role_session_name).await?;
    for r in &c.roles {
        for id in &r.accounts {
            if !out.iter().any(|(_, c)| &c.account == id) {
                bail!(
                    "role {} lists account {id}, which is not one of the accounts reached ({}): add it under [[accounts]]",
                    r.name,
                    out.iter().map(|(_, c)| c.account.as_str()).collect::<Vec<_>>().join(", ")
                );
            }
        }
    }
    Ok(out)
}

/// The AWS context the file's region and profile name.
async fn load_aws(c: &Config) -> anyhow::Result<AwsContext> {
    Ok(AwsContext::load(c.aws.region.as_deref(), c.aws.profile.as_deref()).await?)
}

pub(super) fn read_inline(
    c: &Config,
) -> anyhow::Result<BTreeMap<String, BTreeMap<String, serde_json::Value>>> {
    let mut out = BTreeMap::new();
    for r in &c.roles {
        let mut docs = BTreeMap::new();
        for (name, file) in &r.inline_policies {
            let text = std::fs::read_to_string(file).with_context(|| {
                format!(
                    "role {}: cannot read inline policy {name} from {}",
                    r.name,
                    file.display()
                )
            })?;
            let doc: serde_json::Value = serde_json::from_str(&text).with_context(|| {
                format!(
                    "role {}: inline policy {name} ({}) is not JSON",
                    r.name,
                    file.display()
                )
            })?;
            docs.insert(name.clone(), doc);
        }
        out.insert(r.name.clone(), docs);
    }
    Ok(out)
}

pub(super) fn role_spec(
    r: &config::RoleConfig,
    inline: &BTreeMap<String, serde_json::Value>,
    issuer: &IssuerUrl,
    c: &Config,
    caller: &Caller,
) -> anyhow::Result<RoleSpec> {
    let mut tags = c.tags.clone();
    tags.extend(r.tags.clone());
    let template = RoleTemplate {
        name: r.name.clone(),
        service_accounts: r.service_accounts.clone(),
        audience: r.audience.clone(),
        managed_policies: r.policy_arns.iter().cloned().collect(),
        inline_policies: inline.clone(),
        permissions_boundary: r.permissions_boundary.clone(),
        max_session_duration: r.max_session_duration,
        tags,
    };
    template
        .spec(issuer, caller.partition, &caller.account)
        .with_context(|| format!("role {}", r.name))
}

pub(super) fn roles_in<'a>(
    c: &'a Config,
    account: &str,
) -> impl Iterator<Item = &'a config::RoleConfig> {
    let account = account.to_string();
    c.roles
        .iter()
        .filter(move |r| r.accounts.is_empty() || r.accounts.contains(&account))
}

pub(super) fn client_ids(c: &Config, partition: Partition) -> Vec<String> {
    if c.provider.client_ids.is_empty() {
        vec![partition.default_audience().to_string()]
    } else {
        c.provider.client_ids.clone()
    }
}

pub(super) fn fetcher(c: &Config) -> anyhow::Result<crate::verify::fetch::Fetcher> {
    super::make_fetcher(c.tls.ca_file.as_deref(), c.tls.connect_to)
}

/// The thumbprints the provider should list.
async fn thumbprints(
    c: &Config,
    issuer: &IssuerUrl,
    text: bool,
) -> anyhow::Result<Vec<Thumbprint>> {
    let mut out = c.provider.thumbprints.fixed.clone();
    if c.provider.thumbprints.auto {
        // The JWKS apply publishes lives on the issuer's host, so that host's chain is the one
        // IAM checks; it is read directly, since on a first apply nothing is published yet.
        let t = fetcher(c)?
            .thumbprint(issuer.host(), issuer.port_or_default(), "issuer")
            .await
            .with_context(|| {
                "cannot take the thumbprint from the issuer's TLS chain (provider.thumbprints = [\"auto\"]): make the issuer's host reachable, or list the thumbprint in the file"
            })?;
        if text {
            println!(
                "Thumbprint {} of {} (last of {} certificates)",
                t.thumbprint, t.host, t.chain_length
            );
        }
        out.push(t.thumbprint);
    }
    Ok(out)
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

pub(super) async fn apply(a: ApplyArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let c = a.config.load()?;
    let text = out == OutputFormat::Text;
    let mut items = Vec::new();

    // 1. Keys.
    let (set, new_key) = plan_keys(&c, &mut items)?;
    // 2. Documents (and the bucket), which fixes the issuer for an S3 target.
    let inline = read_inline(&c)?;
    let base = load_aws(&c).await?;
    let accounts = reach_accounts(&c, &base).await?;
    let target = publish_target(&c);
    let prepared = publish::prepare(
        &set,
        &target,
        matches!(c.target, Target::S3(_)).then(|| base.clone()),
    )
    .await?;
    publish_items(&prepared, &mut items);
    let issuer = prepared.issuer.clone();
    // 3. Thumbprint.
    let prints = thumbprints(&c, &issuer, text).await?;
    // 4. Provider and 5. roles, in every account.
    let mut plans = Vec::new();
    for (ctx, caller) in accounts {
        let arn = provider_arn(caller.partition, &caller.account, &issuer);
        let spec = ProviderSpec::new(
            &issuer,
            client_ids(&c, caller.partition),
            prints.clone(),
            c.tags.clone(),
        )?;
        let providers = Providers::new(ctx.iam());
        let actual = providers
            .get(&arn)
            .await
            .with_context(|| format!("account {}", caller.account))?;
        let changes = crate::aws::provider::plan(&spec, actual.as_ref());
        items.push(Item {
            step: "provider",
            account: Some(caller.account.clone()),
            resource: arn.clone(),
            action: match (&actual, changes.is_empty()) {
                (_, true) => Action::Unchanged,
                (None, false) => Action::Create,
                (Some(_), false) => Action::Update,
            },
            details: changes.iter().map(ProviderChange::describe).collect(),
        });
        let mut roles = Vec::new();
        let iam_roles = Roles::new(ctx.iam());
        for r in roles_in(&c, &caller.account) {
            let spec = role_spec(r, &inline[&r.name], &issuer, &c, &caller)?;
            let actual = iam_roles
                .get(&r.name)
                .await
                .with_context(|| format!("account {}", caller.account))?;
            let changes = crate::aws::role::plan(&spec, actual.as_ref(), false).map_err(|e| {
                anyhow::anyhow!("account {}: {e} (irsa-issuer only changes roles tagged managed-by=irsa-issuer; rename the role in the file, or take it over once with `irsa-issuer role apply --force`)", caller.account)
            })?;
            items.push(Item {
                step: "role",
                account: Some(caller.account.clone()),
                resource: format!(
                    "arn:{}:iam::{}:role/{}",
                    caller.partition.as_str(),
                    caller.account,
                    r.name
                ),
                action: match (&actual, changes.is_empty()) {
                    (_, true) => Action::Unchanged,
                    (None, false) => Action::Create,
                    (Some(_), false) => Action::Update,
                },
                details: changes.iter().map(RoleChange::describe).collect(),
            });
            roles.push(RolePlan {
                name: r.name.clone(),
                actual,
                changes,
            });
        }
        plans.push(AccountPlan {
            ctx,
            caller,
            provider_arn: arn,
            provider: actual,
            provider_changes: changes,
            roles,
        });
    }

    let summary = changeset::summary(&items);
    if text {
        println!(
            "Issuer {issuer}, published to {}",
            prepared.store.describe()
        );
        print!("{}", changeset::render(&items));
    }
    let account_ids: Vec<String> = plans.iter().map(|p| p.caller.account.clone()).collect();
    let report = |applied: bool, steps: Vec<StepReport>| Report {
        issuer: issuer.as_str(),
        target: prepared.store.describe(),
        accounts: account_ids.clone(),
        plan: &items,
        summary,
        applied,
        steps,
        aws_calls: base.recorder.calls(),
    };
    if let Some(outcome) = gate(summary, a.plan, a.yes, "apply", || {
        (!text).then(|| report(false, Vec::new()))
    })? {
        return Ok(outcome);
    }

    let total = usize::from(new_key.is_some())
        + usize::from(prepared.pending())
        + plans
            .iter()
            .map(|p| {
                usize::from(!p.provider_changes.is_empty())
                    + p.roles.iter().filter(|r| !r.changes.is_empty()).count()
            })
            .sum::<usize>();
    let mut progress = Progress::new(total);
    if let Some(k) = &new_key {
        progress
            .run(
                format!("key {} in {}", k.public.kid(), k.dir.root().display()),
                async {
                    k.dir.store_key(&k.public, Some(k.private.as_str()))?;
                    k.dir.save_state(&k.state)?;
                    Ok(())
                },
            )
            .await?;
    }
    if prepared.pending() {
        progress
            .run(
                format!("documents to {}", prepared.store.describe()),
                async { prepared.apply().await.map(|_| ()) },
            )
            .await?;
    }
    for p in &plans {
        if p.provider_changes.is_empty() {
            continue;
        }
        let verb = if p.provider.is_some() {
            "update"
        } else {
            "create"
        };
        progress
            .run(format!("{verb} provider in {}", p.caller.account), async {
                Providers::new(p.ctx.iam())
                    .apply(&p.provider_arn, &p.provider_changes)
                    .await
                    .map(|_| ())
                    .with_context(|| format!("account {}", p.caller.account))
            })
            .await?;
    }
    for p in &plans {
        let iam_roles = Roles::new(p.ctx.iam());
        for r in p.roles.iter().filter(|r| !r.changes.is_empty()) {
            let verb = if r.actual.is_some() {
                "update"
            } else {
                "create"
            };
            progress
                .run(
                    format!("{verb} role {} in {}", r.name, p.caller.account),
                    async {
                        iam_roles
                            .apply(&r.name, &r.changes)
                            .await
                            .map(|_| ())
                            .with_context(|| format!("account {}", p.caller.account))
                    },
                )
                .await?;
        }
    }
    let steps = std::mem::take(&mut progress.steps);
    match out {
        OutputFormat::Json => print_json(&report(true, steps))?,
        OutputFormat::Text => println!(
            "Apply complete: {} added, {} changed, {} unchanged.",
            summary.add, summary.change, summary.unchanged
        ),
    }
    Ok(Outcome::Done)
}

/// What `destroy` found in one account.
struct AccountDestroy {
    ctx: AwsContext,
    caller: Caller,
    roles: Vec<(String, RoleState)>,
    provider: Option<String>,
}

pub(super) async fn destroy(a: DestroyArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let c = a.config.load()?;
    let text = out == OutputFormat::Text;
    let mut items = Vec::new();
    let base = load_aws(&c).await?;
    let accounts = reach_accounts(&c, &base).await?;
    let region = base.region.clone();
    let issuer = match (&c.issuer, &c.target) {
        (Some(i), _) => i.clone(),
        (None, Target::S3(l)) => l.issuer(&region)?,
        (None, Target::Dir(_)) => unreachable!("the config requires an issuer for a directory"),
    };
    let skip = |step, account: &Caller, resource: String, why: &str| Item {
        step,
        account: Some(account.account.clone()),
        resource,
        action: Action::Skip,
        details: vec![why.to_string()],
    };
    let not_ours = "not tagged managed-by=irsa-issuer: left alone";

    // Roles, then providers, in every account.
    let mut plans = Vec::new();
    for (ctx, caller) in accounts {
        let mut roles = Vec::new();
        let iam_roles = Roles::new(ctx.iam());
        for r in roles_in(&c, &caller.account) {
            let Some(state) = iam_roles.get(&r.name).await? else {
                continue;
            };
            if state.is_managed() {
                items.push(Item {
                    step: "role",
                    account: Some(caller.account.clone()),
                    resource: state.arn.clone(),
                    action: Action::Delete,
                    details: vec![],
                });
                roles.push((r.name.clone(), state));
            } else {
                items.push(skip("role", &caller, state.arn.clone(), not_ours));
            }
        }
        let arn = provider_arn(caller.partition, &caller.account, &issuer);
        let provider = match Providers::new(ctx.iam()).get(&arn).await? {
            Some(s) if s.is_managed() => {
                items.push(Item {
                    step: "provider",
                    account: Some(caller.account.clone()),
                    resource: arn.clone(),
                    action: Action::Delete,
                    details: vec![],
                });
                Some(arn)
            }
            Some(_) => {
                items.push(skip("provider", &caller, arn, not_ours));
                None
            }
            None => None,
        };
        plans.push(AccountDestroy {
            ctx,
            caller,
            roles,
            provider,
        });
    }

    // The documents: discovery first, so that nothing points at a JWKS that is gone.
    let (store, loc) = match &c.target {
        Target::S3(l) => (
            AnyStore::S3(crate::publish::s3::S3Store::new(
                base.s3(l.bucket.contains('.')),
                l.clone(),
                c.s3.public_access == PublicAccess::Acl,
            )),
            Some(l.clone()),
        ),
        Target::Dir(d) => (AnyStore::Dir(crate::publish::dir::DirStore::new(d)), None),
    };
    let prefix = loc.as_ref().map(|l| l.prefix.clone()).unwrap_or_default();
    let key = |rel: &str| {
        if prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{prefix}/{rel}")
        }
    };
    let ours = vec![key(DISCOVERY_PATH), key(c.jwks_path.as_str())];
    let bucket_exists = match &store {
        AnyStore::S3(s) => s.bucket_region().await?.is_some(),
        AnyStore::Dir(_) => true,
    };
    let mut objects = Vec::new();
    if bucket_exists {
        for k in &ours {
            if store.get(k).await?.is_some() {
                items.push(Item {
                    step: "documents",
                    account: None,
                    resource: match &loc {
                        Some(l) => format!("s3://{}/{k}", l.bucket),
                        None => k.clone(),
                    },
                    action: Action::Delete,
                    details: vec![],
                });
                objects.push(k.clone());
            }
        }
    }
    // The bucket: deleted when irsa-issuer created it and nothing else is in it; otherwise
    // only this prefix's public-read statement is taken out of its policy.
    enum BucketEnd {
        Keep,
        Delete,
        Policy(Option<String>),
    }
    let mut bucket_end = BucketEnd::Keep;
    if let (AnyStore::S3(s3), Some(l), true) = (&store, &loc, bucket_exists) {
        let state = s3.bucket_state(true).await?;
        let others = s3.keys_besides(&ours).await?;
        let resource = format!("s3://{}", l.bucket);
        if crate::aws::provider::is_managed(&state.tags) && others.is_empty() {
            items.push(Item {
                step: "bucket",
                account: None,
                resource,
                action: Action::Delete,
                details: vec![],
            });
            bucket_end = BucketEnd::Delete;
        } else {
            let why = if crate::aws::provider::is_managed(&state.tags) {
                format!("holds {} other object(s): kept", others.len())
            } else {
                not_ours.to_string()
            };
            let sid = bucket::statement_id(l);
            match bucket::remove_statement(&l.bucket, state.policy.as_deref(), &sid)? {
                Some(doc) => {
                    items.push(Item {
                        step: "bucket",
                        account: None,
                        resource,
                        action: Action::Update,
                        details: vec![format!("- policy statement {sid}"), why],
                    });
                    bucket_end = BucketEnd::Policy(doc);
                }
                None => items.push(Item {
                    step: "bucket",
                    account: None,
                    resource,
                    action: Action::Skip,
                    details: vec![why],
                }),
            }
        }
    }
    // The keys, only when asked.
    let mut key_dir = None;
    if let (true, Some(dir)) = (a.delete_keys, &c.keys.dir) {
        let kd = KeyDir::new(dir);
        let state = kd.load_state_or_empty()?;
        for k in &state.keys {
            items.push(Item {
                step: "keys",
                account: None,
                resource: kd.public_path(&k.kid).display().to_string(),
                action: Action::Delete,
                details: vec![format!("- {} key {} and its private key", k.alg, k.kid)],
            });
        }
        if !state.keys.is_empty() {
            key_dir = Some((kd, state));
        }
    }

    let summary = changeset::summary(&items);
    if text {
        println!("Destroy plan for issuer {issuer}:");
        print!("{}", changeset::render(&items));
    }
    let report = |applied: bool, steps: Vec<StepReport>| Report {
        issuer: issuer.as_str(),
        target: store.describe(),
        accounts: plans.iter().map(|p| p.caller.account.clone()).collect(),
        plan: &items,
        summary,
        applied,
        steps,
        aws_calls: base.recorder.calls(),
    };
    if let Some(outcome) = gate(summary, a.plan, a.yes, "destroy", || {
        (!text).then(|| report(false, Vec::new()))
    })? {
        return Ok(outcome);
    }
    let steps = plans
        .iter()
        .map(|p| p.roles.len() + usize::from(p.provider.is_some()))
        .sum::<usize>()
        + objects.len()
        + usize::from(!matches!(bucket_end, BucketEnd::Keep))
        + usize::from(key_dir.is_some());
    let mut progress = Progress::new(steps);
    for p in &plans {
        let iam_roles = Roles::new(p.ctx.iam());
        for (name, state) in &p.roles {
            progress
                .run(
                    format!("delete role {name} in {}", p.caller.account),
                    async { Ok(iam_roles.delete(state, name).await?) },
                )
                .await?;
        }
    }
    for p in &plans {
        if let Some(arn) = &p.provider {
            progress
                .run(format!("delete provider in {}", p.caller.account), async {
                    Ok(Providers::new(p.ctx.iam()).delete(arn).await?)
                })
                .await?;
        }
    }
    for k in &objects {
        progress
            .run(format!("delete {k}"), async { Ok(store.delete(k).await?) })
            .await?;
    }
    if let (AnyStore::S3(s3), Some(l)) = (&store, &loc) {
        match &bucket_end {
            BucketEnd::Keep => {}
            BucketEnd::Delete => {
                progress
                    .run(format!("delete bucket {}", l.bucket), async {
                        Ok(s3.delete_bucket().await?)
                    })
                    .await?
            }
            BucketEnd::Policy(doc) => {
                progress
                    .run(
                        format!("remove the public-read statement from {}", l.bucket),
                        async { Ok(s3.set_policy(doc.as_deref()).await?) },
                    )
                    .await?
            }
        }
    }
    if let Some((kd, state)) = &key_dir {
        progress
            .run(
                format!("delete the keys in {}", kd.root().display()),
                async {
                    for k in &state.keys {
                        kd.remove_key(&k.kid)?;
                    }
                    let state_file = kd.root().join("keyset.json");
                    std::fs::remove_file(&state_file)
                        .with_context(|| format!("cannot remove {}", state_file.display()))?;
                    let _ = std::fs::remove_dir(kd.root().join("private"));
                    let _ = std::fs::remove_dir(kd.root());
                    Ok(())
                },
            )
            .await?;
    }
    let steps = std::mem::take(&mut progress.steps);
    match out {
        OutputFormat::Json => print_json(&report(true, steps))?,
        OutputFormat::Text => println!(
            "Destroy complete: {} deleted, {} changed, {} left alone.",
            summary.destroy, summary.change, summary.unchanged
        ),
    }
    Ok(Outcome::Done)
}
