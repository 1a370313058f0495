//! The engine's plan, pure: from what [`super::read`] observed, the resources as the user sees
//! them (the changeset items) and the steps that change them, each with the steps it depends
//! on. Apply: key → bucket → JWKS → discovery → provider of each account → that account's
//! roles. Destroy, in reverse: roles → provider of each account → discovery → JWKS → bucket →
//! keys. Steps are listed in an order that respects their dependencies.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::changeset::{self, Action, DocumentChange, Item, Summary};
use super::config::{Config, RoleConfig};
use crate::aws::bucket::{self, BucketChange, BucketState};
use crate::aws::cdn;
use crate::aws::names::Caller;
use crate::aws::names::Thumbprint;
use crate::aws::owner::Owner;
use crate::aws::provider::{self, ProviderChange, ProviderError, ProviderSpec, ProviderState};
use crate::aws::role::{self, RoleChange, RoleError, RoleSpec, RoleState, RoleTemplate};
use crate::oidc::issuer::IssuerUrl;
use crate::oidc::keys::{Algorithm, KeyId};
use crate::publish::objects::{DesiredObject, ObjectAction, PublishPlan};
use crate::rotation::state::KeySetState;

/// Why a plan cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The provider the file describes breaks IAM's rules.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// A role the file describes cannot be built.
    #[error("role {role}")]
    Role {
        /// The role.
        role: String,
        /// Why.
        #[source]
        source: RoleError,
    },
}

/// One change to make.
#[derive(Debug, Clone)]
pub enum Op {
    /// Write the new key (public, private, key-set state) to the key directory.
    WriteKey,
    /// Create or set up the bucket.
    SetUpBucket(Vec<BucketChange>),
    /// Write one document.
    PutObject(DesiredObject),
    /// Create or reconcile the provider of an account.
    ApplyProvider {
        /// Index of the account.
        account: usize,
        /// The provider's ARN.
        arn: String,
        /// The changes.
        changes: Vec<ProviderChange>,
    },
    /// Create or reconcile a role of an account.
    ApplyRole {
        /// Index of the account.
        account: usize,
        /// The role's name.
        name: String,
        /// The changes.
        changes: Vec<RoleChange>,
    },
    /// Delete a role (its policies first).
    DeleteRole {
        /// Index of the account.
        account: usize,
        /// The role's name.
        name: String,
        /// The role as read.
        state: RoleState,
    },
    /// Delete the provider of an account.
    DeleteProvider {
        /// Index of the account.
        account: usize,
        /// The provider's ARN.
        arn: String,
    },
    /// Delete one document.
    DeleteObject(String),
    /// Delete the (empty) bucket.
    DeleteBucket,
    /// Replace the bucket policy (`None`: delete it).
    SetBucketPolicy(Option<String>),
    /// Delete every key of the key directory, then the directory.
    DeleteKeys(KeySetState),
    /// Create or repair the CloudFront Origin Access Control.
    ApplyOac(cdn::OacChange),
    /// Create or repair the CloudFront cache policy.
    ApplyCachePolicy(cdn::CachePolicyChange),
    /// Create, update or tag the distribution.
    ApplyDistribution(cdn::DistributionChange),
    /// Invalidate these paths in the distribution.
    Invalidate(Vec<String>),
    /// Wait (bounded) until the distribution's last change is deployed.
    WaitDeployed,
    /// Disable the distribution.
    DisableDistribution,
    /// Delete the (disabled, deployed) distribution.
    DeleteDistribution,
    /// Delete the Origin Access Control.
    DeleteOac,
    /// Delete the cache policy.
    DeleteCachePolicy,
}

impl Op {
    /// The account a step works in (its index), or `None` for the cluster's own steps (key,
    /// bucket, documents, CDN): the lane [`crate::reconcile::execute`] bounds it in.
    pub fn account(&self) -> Option<usize> {
        match self {
            Op::ApplyProvider { account, .. }
            | Op::ApplyRole { account, .. }
            | Op::DeleteRole { account, .. }
            | Op::DeleteProvider { account, .. } => Some(*account),
            _ => None,
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone)]
pub struct Step {
    /// What it does, for progress lines.
    pub label: String,
    /// The steps (indices) that must have succeeded before it runs.
    pub after: Vec<usize>,
    /// The change.
    pub op: Op,
}

/// A plan: the resources as the user sees them, and the steps that change them.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// One item per resource, in the order shown.
    pub items: Vec<Item>,
    /// The steps, in an order that respects `after`.
    pub steps: Vec<Step>,
}

impl Plan {
    /// The counts of the items.
    pub fn summary(&self) -> Summary {
        changeset::summary(&self.items)
    }

    fn step(&mut self, label: String, after: Vec<usize>, op: Op) -> usize {
        self.steps.push(Step { label, after, op });
        self.steps.len() - 1
    }
}

/// The signing keys as read.
#[derive(Debug, Clone, Default)]
pub struct ObservedKeys {
    /// The key directory, if the file names one.
    pub dir: Option<PathBuf>,
    /// The keys the directory publishes.
    pub published: Vec<KeyId>,
    /// The key to create when the directory has none: its kid (unknown to a plan that will not
    /// be applied: the key is generated when applied) and algorithm.
    pub new_key: Option<(Option<KeyId>, Algorithm)>,
    /// Keys the directory retired: a publish may drop them from the JWKS.
    pub retired: Vec<String>,
}

/// What the user allows beyond the plain file.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allow {
    /// Take over resources that are not this issuer's (untagged, or another issuer's).
    pub takeover: bool,
    /// Drop published keys the key directory did not retire.
    pub key_removal: bool,
    /// Publish where the target publishes another issuer now.
    pub issuer_change: bool,
    /// Delete this issuer's roles that the file no longer names (`--no-prune` keeps them).
    pub prune: bool,
}

/// The document target as read.
#[derive(Debug, Clone)]
pub struct ObservedDocuments {
    /// `s3://bucket/prefix` or the directory.
    pub target: String,
    /// The bucket, for an S3 target.
    pub bucket: Option<String>,
    /// Bucket set-up to do.
    pub bucket_changes: Vec<BucketChange>,
    /// The objects, JWKS first.
    pub objects: PublishPlan,
    /// The kids the target publishes now.
    pub published_kids: Vec<String>,
    /// The issuer the target's discovery document names now.
    pub published_issuer: Option<String>,
}

/// One account as read.
#[derive(Debug, Clone)]
pub struct ObservedAccount {
    /// Who the credentials are there.
    pub caller: Caller,
    /// The provider's ARN in this account.
    pub provider_arn: String,
    /// The provider, if it exists.
    pub provider: Option<ProviderState>,
    /// The file's roles for this account, by name, as IAM reports them.
    pub roles: BTreeMap<String, Option<RoleState>>,
    /// Roles of this issuer under the role path that the file no longer names here.
    pub orphans: BTreeMap<String, RoleState>,
}

/// Why `thumbprints = ["auto"]` took no thumbprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThumbprintNote {
    /// IAM does not use one for this issuer: the reason.
    NotNeeded(String),
    /// The issuer's host could not be reached: the error.
    Unreachable(String),
}

/// Everything `apply` reads.
#[derive(Debug, Clone)]
pub struct ObservedCluster {
    /// The issuer the documents name.
    pub issuer: IssuerUrl,
    /// The keys.
    pub keys: ObservedKeys,
    /// The documents.
    pub documents: ObservedDocuments,
    /// The kids of the JWKS to publish.
    pub new_kids: Vec<String>,
    /// The provider's thumbprints (none: IAM needs none, or they could not be taken).
    pub thumbprints: Vec<Thumbprint>,
    /// Why no thumbprint is taken from the issuer's chain, when that is so.
    pub thumbprint_note: Option<ThumbprintNote>,
    /// Inline policy documents, by role, then by policy name.
    pub inline: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Every account, in the file's order.
    pub accounts: Vec<ObservedAccount>,
    /// CloudFront, when the file has a `[cdn]` (its distribution exists: see [`cdn_first`]).
    pub cdn: Option<ObservedCdn>,
}

/// The roles of the file that live in `account`.
pub fn roles_in<'a>(c: &'a Config, account: &str) -> impl Iterator<Item = &'a RoleConfig> {
    let account = account.to_string();
    c.roles
        .iter()
        .filter(move |r| r.accounts.is_empty() || r.accounts.contains(&account))
}

/// The provider's client IDs: the file's, or sts.amazonaws.com.
pub fn client_ids(c: &Config) -> Vec<String> {
    if c.provider.client_ids.is_empty() {
        vec![crate::aws::names::DEFAULT_AUDIENCE.to_string()]
    } else {
        c.provider.client_ids.clone()
    }
}

/// The role the file describes, in the account of `caller`.
pub fn role_spec(
    r: &RoleConfig,
    inline: &BTreeMap<String, serde_json::Value>,
    issuer: &IssuerUrl,
    c: &Config,
    caller: &Caller,
) -> Result<RoleSpec, PlanError> {
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
        path: c.iam.role_path.clone(),
        max_trust_policy_size: c.iam.max_trust_policy_size,
    };
    template
        .spec(issuer, caller.partition, &caller.account)
        .map_err(|source| PlanError::Role {
            role: r.name.clone(),
            source,
        })
}

fn action_of<T>(actual: Option<&T>, changed: bool) -> Action {
    match (actual, changed) {
        (_, false) => Action::Unchanged,
        (None, true) => Action::Create,
        (Some(_), true) => Action::Update,
    }
}

fn verb(action: Action) -> &'static str {
    if action == Action::Create {
        "create"
    } else {
        "update"
    }
}

/// The plan of `apply`: every resource of the file, and the steps that converge them.
pub fn apply(c: &Config, o: &ObservedCluster, allow: Allow) -> Result<Plan, PlanError> {
    let mut plan = Plan::default();
    let mut chain: Vec<usize> = Vec::new();
    plan_keys(&o.keys, &mut plan, &mut chain);
    plan_issuer_change(o, allow, &mut plan);
    plan_removed_keys(o, allow, &mut plan);
    if let Some(cdn) = &o.cdn {
        plan_cdn_before(cdn, &mut plan, &mut chain);
    }
    plan_documents(&o.documents, &mut plan, &mut chain);
    if let Some(cdn) = &o.cdn {
        plan_cdn_after(cdn, &o.documents, &mut plan, &mut chain);
    }
    for (i, account) in o.accounts.iter().enumerate() {
        plan_account(c, o, i, account, allow, &mut plan, &chain)?;
    }
    Ok(plan)
}

/// The plan of a publish alone: bucket set-up, then the objects, JWKS first.
pub fn publish(d: &ObservedDocuments) -> Plan {
    let mut plan = Plan::default();
    plan_documents(d, &mut plan, &mut Vec::new());
    plan
}

fn plan_keys(k: &ObservedKeys, plan: &mut Plan, chain: &mut Vec<usize>) {
    let Some(dir) = &k.dir else {
        return;
    };
    if let Some((kid, alg)) = &k.new_key {
        let (resource, what) = match kid {
            Some(kid) => (format!("{}/{kid}.pub", dir.display()), format!("key {kid}")),
            None => (
                format!("{}/(new key)", dir.display()),
                "key (a new one: its kid is chosen when applied)".to_string(),
            ),
        };
        plan.items.push(Item {
            step: "keys",
            account: None,
            resource,
            action: Action::Create,
            details: vec![format!(
                "+ active {alg} {what} (private key 0600 in {}/private)",
                dir.display()
            )],
            documents: Vec::new(),
        });
        let s = plan.step(
            format!("{what} in {}", dir.display()),
            chain.clone(),
            Op::WriteKey,
        );
        chain.push(s);
        return;
    }
    for kid in &k.published {
        plan.items.push(Item {
            step: "keys",
            account: None,
            resource: format!("{}/{kid}.pub", dir.display()),
            action: Action::Unchanged,
            details: vec![],
            documents: Vec::new(),
        });
    }
}

/// The target publishes another issuer now: refused unless allowed (tokens of that issuer would
/// stop verifying), shown either way.
fn plan_issuer_change(o: &ObservedCluster, allow: Allow, plan: &mut Plan) {
    let Some(old) = o
        .documents
        .published_issuer
        .as_ref()
        .filter(|i| *i != o.issuer.as_str())
    else {
        return;
    };
    let (action, details) = if allow.issuer_change {
        (
            Action::Update,
            vec![format!(
                "~ issuer {old} -> {} (--allow-issuer-change)",
                o.issuer
            )],
        )
    } else {
        (
            Action::Refuse,
            vec![
                format!("publishes {old} now; this file would publish {} there: every token of {old} would stop verifying", o.issuer),
                "fix: check issuer, aws.region and the target; move the issuer deliberately with --allow-issuer-change, pointing kube-apiserver at both meanwhile (apiserver-flags --previous-issuer)".to_string(),
            ],
        )
    };
    plan.items.push(Item {
        step: "documents",
        account: None,
        resource: format!("issuer at {}", o.documents.target),
        action,
        details,
        documents: Vec::new(),
    });
}

/// Published keys the new JWKS drops: shown as `- key KID`; refused unless the key directory
/// retired them (or the user allows it), since every token they signed would stop verifying.
fn plan_removed_keys(o: &ObservedCluster, allow: Allow, plan: &mut Plan) {
    let new: std::collections::BTreeSet<String> = o.new_kids.iter().cloned().collect();
    for kid in o
        .documents
        .published_kids
        .iter()
        .filter(|k| !new.contains(*k))
    {
        let retired = o.keys.retired.contains(kid);
        let (action, details) = if retired || allow.key_removal {
            let why = if retired {
                "retired by the key directory: removed from the published JWKS".to_string()
            } else {
                "removed from the published JWKS (--allow-key-removal): tokens it signed stop verifying".to_string()
            };
            (Action::Delete, vec![why])
        } else {
            (
                Action::Refuse,
                vec![
                    "published now, and the key directory does not say it was retired: every token it signed would stop verifying".to_string(),
                    "fix: check keys.dir (IRSA_ISSUER_KEY_DIR) and keys.files; retire it with `irsa-issuer rotate retire`; or pass --allow-key-removal".to_string(),
                ],
            )
        };
        plan.items.push(Item {
            step: "keys",
            account: None,
            resource: format!("key {kid}"),
            action,
            details,
            documents: Vec::new(),
        });
    }
}

fn plan_documents(d: &ObservedDocuments, plan: &mut Plan, chain: &mut Vec<usize>) {
    let bucket = d.bucket.clone().unwrap_or_default();
    if !d.bucket_changes.is_empty() {
        let create = d
            .bucket_changes
            .iter()
            .any(|c| matches!(c, BucketChange::Create { .. }));
        plan.items.push(Item {
            step: "bucket",
            account: None,
            resource: format!("s3://{bucket}"),
            action: if create {
                Action::Create
            } else {
                Action::Update
            },
            details: d
                .bucket_changes
                .iter()
                .flat_map(|c| c.details(&bucket))
                .collect(),
            documents: d
                .bucket_changes
                .iter()
                .filter_map(bucket_document)
                .collect(),
        });
        let s = plan.step(
            format!("set up bucket {bucket}"),
            chain.clone(),
            Op::SetUpBucket(d.bucket_changes.clone()),
        );
        chain.push(s);
    }
    // Objects in plan order (JWKS first): each waits for the one before it.
    for step in &d.objects.steps {
        let (action, details) = match &step.action {
            ObjectAction::Create => (Action::Create, vec![]),
            ObjectAction::Update { reasons } => (
                Action::Update,
                reasons.iter().map(|r| r.to_string()).collect(),
            ),
            ObjectAction::Unchanged => (Action::Unchanged, vec![]),
        };
        let resource = match &d.bucket {
            Some(b) => format!("s3://{b}/{}", step.object.key),
            None => step.object.key.clone(),
        };
        if action != Action::Unchanged {
            let s = plan.step(
                format!("write {resource}"),
                chain.clone(),
                Op::PutObject(step.object.clone()),
            );
            chain.push(s);
        }
        plan.items.push(Item {
            step: "documents",
            account: None,
            resource,
            action,
            details,
            documents: Vec::new(),
        });
    }
}

fn plan_account(
    c: &Config,
    o: &ObservedCluster,
    index: usize,
    a: &ObservedAccount,
    allow: Allow,
    plan: &mut Plan,
    chain: &[usize],
) -> Result<(), PlanError> {
    let caller = &a.caller;
    let spec = ProviderSpec::new(
        &o.issuer,
        client_ids(c),
        o.thumbprints.clone(),
        c.tags.clone(),
    )?;
    let resource = a.provider_arn.clone();
    let mut after = chain.to_vec();
    if let Some(ThumbprintNote::Unreachable(e)) = &o.thumbprint_note {
        plan.items.push(Item {
            step: "provider",
            account: Some(caller.account.clone()),
            resource,
            action: Action::Refuse,
            details: vec![
                format!("its thumbprint cannot be taken from the issuer's TLS chain now: {e}"),
                "fix: make the issuer's host reachable; or list the thumbprint in provider.thumbprints; or, when the chain ends in a public CA, set provider.thumbprints = [] (IAM then needs none)".to_string(),
            ],
            documents: Vec::new(),
        });
        for r in roles_in(c, &caller.account) {
            plan_role(c, o, index, a, r, allow, plan, &after)?;
        }
        return Ok(());
    }
    match provider::plan(&spec, a.provider.as_ref(), allow.takeover) {
        Err(ProviderError::NotOurs { owner, .. }) => {
            plan.items
                .push(refusal("provider", caller, resource, &owner, "provider"));
        }
        Err(e) => return Err(e.into()),
        Ok(changes) => {
            let action = action_of(a.provider.as_ref(), !changes.is_empty());
            let mut details: Vec<String> =
                takeover_note(a.provider.as_ref().map(|p| p.owner(o.issuer.as_str())));
            details.extend(changes.iter().map(ProviderChange::describe));
            plan.items.push(Item {
                step: "provider",
                account: Some(caller.account.clone()),
                resource,
                action,
                details,
                documents: Vec::new(),
            });
            if !changes.is_empty() {
                after.push(plan.step(
                    format!("{} provider in {}", verb(action), caller.account),
                    chain.to_vec(),
                    Op::ApplyProvider {
                        account: index,
                        arn: a.provider_arn.clone(),
                        changes,
                    },
                ));
            }
        }
    }
    for r in roles_in(c, &caller.account) {
        plan_role(c, o, index, a, r, allow, plan, &after)?;
    }
    plan_orphans(index, a, allow, plan);
    Ok(())
}

/// This issuer's roles that the file no longer names in the account: deleted (policies
/// first), like Terraform's resources removed from the configuration; with `--no-prune`
/// listed and kept. A deletion depends on nothing else in the plan.
fn plan_orphans(index: usize, a: &ObservedAccount, allow: Allow, plan: &mut Plan) {
    let acct = &a.caller.account;
    for (name, state) in &a.orphans {
        if !allow.prune {
            plan.items.push(skip(
                "role",
                acct,
                state.arn.clone(),
                "an orphan: this issuer's, no longer in the file; kept (--no-prune)".into(),
            ));
            continue;
        }
        let mut item = delete_item("role", Some(acct), state.arn.clone());
        item.details.push(
            "no longer in the file (this issuer's: tagged for it); --no-prune keeps it".into(),
        );
        plan.items.push(item);
        plan.step(
            format!("delete role {name} in {acct}"),
            vec![],
            Op::DeleteRole {
                account: index,
                name: name.clone(),
                state: state.clone(),
            },
        );
    }
}

/// One role of one account: its changes, or a refusal when it is not this issuer's.
#[allow(clippy::too_many_arguments)]
fn plan_role(
    c: &Config,
    o: &ObservedCluster,
    index: usize,
    a: &ObservedAccount,
    r: &RoleConfig,
    allow: Allow,
    plan: &mut Plan,
    after: &[usize],
) -> Result<(), PlanError> {
    let caller = &a.caller;
    let empty = BTreeMap::new();
    let inline = o.inline.get(&r.name).unwrap_or(&empty);
    let spec = role_spec(r, inline, &o.issuer, c, caller)?;
    let actual = a.roles.get(&r.name).and_then(Option::as_ref);
    let resource = format!(
        "arn:{}:iam::{}:role{}{}",
        caller.partition.as_str(),
        caller.account,
        spec.path,
        r.name
    );
    let changes = match role::plan(&spec, actual, allow.takeover) {
        Ok(changes) => changes,
        Err(RoleError::NotOurs { owner, .. }) => {
            plan.items
                .push(refusal("role", caller, resource, &owner, "role"));
            return Ok(());
        }
        Err(e @ RoleError::Path { .. }) => {
            plan.items.push(Item {
                step: "role",
                account: Some(caller.account.clone()),
                resource,
                action: Action::Refuse,
                details: vec![e.to_string()],
                documents: Vec::new(),
            });
            return Ok(());
        }
        Err(e) => {
            return Err(PlanError::Role {
                role: r.name.clone(),
                source: e,
            })
        }
    };
    let action = action_of(actual, !changes.is_empty());
    let mut details = takeover_note(actual.map(|s| s.owner(o.issuer.as_str())));
    details.extend(changes.iter().flat_map(RoleChange::details));
    plan.items.push(Item {
        step: "role",
        account: Some(caller.account.clone()),
        resource,
        action,
        details,
        documents: changes.iter().filter_map(role_document).collect(),
    });
    if !changes.is_empty() {
        plan.step(
            format!("{} role {} in {}", verb(action), r.name, caller.account),
            after.to_vec(),
            Op::ApplyRole {
                account: index,
                name: r.name.clone(),
                changes,
            },
        );
    }
    Ok(())
}

/// The bucket policy a bucket change replaces, before and after.
fn bucket_document(c: &BucketChange) -> Option<DocumentChange> {
    let BucketChange::Policy { document, was } = c else {
        return None;
    };
    let parse = |t: &str| serde_json::from_str(t).unwrap_or(serde_json::Value::Null);
    Some(DocumentChange {
        what: "bucket policy".into(),
        before: was.as_deref().map_or(serde_json::Value::Null, parse),
        after: parse(document),
    })
}

/// The policy document a role change replaces, before and after.
fn role_document(c: &RoleChange) -> Option<DocumentChange> {
    match c {
        RoleChange::UpdateTrustPolicy { document, was } => Some(DocumentChange {
            what: "trust policy".into(),
            before: was.clone(),
            after: document.clone(),
        }),
        RoleChange::PutInlinePolicy {
            name,
            document,
            was,
        } => Some(DocumentChange {
            what: format!("inline policy {name}"),
            before: was.clone().unwrap_or(serde_json::Value::Null),
            after: document.clone(),
        }),
        _ => None,
    }
}

/// A plan line saying whose an existing resource was, when it is not plainly this issuer's.
fn takeover_note(owner: Option<Owner>) -> Vec<String> {
    match owner {
        None | Some(Owner::This) => Vec::new(),
        Some(Owner::Unclaimed) => vec![format!(
            "adopted: {} (it is this issuer's: its ARN or trust policy names this issuer's provider)",
            Owner::Unclaimed.describe()
        )],
        Some(other) => vec![format!("taken over (--force): {}", other.describe())],
    }
}

/// A resource the file names that is not this issuer's.
fn refusal(
    step: &'static str,
    caller: &Caller,
    resource: String,
    owner: &Owner,
    what: &str,
) -> Item {
    Item {
        step,
        account: Some(caller.account.clone()),
        resource,
        action: Action::Refuse,
        details: vec![
            format!("exists and is {}", owner.describe()),
            format!("fix: rename the {what} in the file, remove it from the file, or take it over with `apply --force` if it really is this cluster's"),
        ],
        documents: Vec::new(),
    }
}

/// One account as `destroy` reads it.
#[derive(Debug, Clone)]
pub struct ObservedForDestroy {
    /// Who the credentials are there.
    pub caller: Caller,
    /// The file's roles that exist in the account, in the file's order.
    pub roles: Vec<(String, RoleState)>,
    /// The provider's ARN.
    pub provider_arn: String,
    /// The provider, if it exists.
    pub provider: Option<ProviderState>,
    /// With `--delete-bucket`: the account's other providers whose URL is served from the
    /// bucket in any spelling (another prefix, virtual-hosted, another endpoint), ARN each.
    pub bucket_trusts: Vec<String>,
}

/// The bucket as `destroy` reads it.
#[derive(Debug, Clone)]
pub struct ObservedBucket {
    /// Its name.
    pub name: String,
    /// Whose it is (its tags, seen from this issuer).
    pub owner: Owner,
    /// Its set-up (Block Public Access, policy, tags, Object Ownership).
    pub state: BucketState,
    /// Objects besides the two documents.
    pub others: usize,
    /// The policy without this prefix's statement: `None` when there is no such statement,
    /// `Some(None)` when the policy would then be empty.
    pub policy_without_ours: Option<Option<String>>,
    /// The statement's ID.
    pub statement_id: String,
}

/// Everything `destroy` reads.
#[derive(Debug, Clone)]
pub struct ObservedTeardown {
    /// The issuer being torn down: only what is this issuer's is deleted.
    pub issuer: String,
    /// Every account, in the file's order.
    pub accounts: Vec<ObservedForDestroy>,
    /// The documents that exist, discovery first, with how they are shown.
    pub objects: Vec<(String, String)>,
    /// The bucket, when the target is S3 and the bucket exists.
    pub bucket: Option<ObservedBucket>,
    /// The key directory's keys, when `--delete-keys` is given.
    pub keys: Option<(PathBuf, KeySetState)>,
    /// Whether `--delete-bucket` was given.
    pub delete_bucket: bool,
    /// CloudFront, when the file has a `[cdn]`.
    pub cdn: Option<ObservedCdnTeardown>,
}

/// The plan of `destroy`: what irsa-issuer made, deleted in reverse order; the rest listed as
/// left alone.
pub fn destroy(o: &ObservedTeardown) -> Plan {
    let mut plan = Plan::default();
    let mut iam_steps = Vec::new();
    for (i, a) in o.accounts.iter().enumerate() {
        iam_steps.extend(plan_account_teardown(&o.issuer, i, a, &mut plan));
    }
    iam_steps.sort_unstable();
    // The documents: discovery first, so that nothing points at a JWKS that is gone.
    let mut chain = iam_steps;
    for (key, shown) in &o.objects {
        plan.items
            .push(delete_item("documents", None, shown.clone()));
        let s = plan.step(
            format!("delete {key}"),
            chain.clone(),
            Op::DeleteObject(key.clone()),
        );
        chain.push(s);
    }
    if let Some(c) = &o.cdn {
        plan_cdn_teardown(c, &mut plan, &mut chain);
    }
    if let Some(b) = &o.bucket {
        plan_bucket_end(o, b, &mut plan, &mut chain);
    }
    if let Some((dir, state)) = &o.keys {
        for k in &state.keys {
            plan.items.push(Item {
                step: "keys",
                account: None,
                resource: dir.join(format!("{}.pub", k.kid)).display().to_string(),
                action: Action::Delete,
                details: vec![format!("- {} key {} and its private key", k.alg, k.kid)],
                documents: Vec::new(),
            });
        }
        if !state.keys.is_empty() {
            plan.step(
                format!("delete the keys in {}", dir.display()),
                chain.clone(),
                Op::DeleteKeys(state.clone()),
            );
        }
    }
    plan
}

/// One account's roles (those irsa-issuer made), then its provider after them; returns the
/// steps.
fn plan_account_teardown(
    issuer: &str,
    i: usize,
    a: &ObservedForDestroy,
    plan: &mut Plan,
) -> Vec<usize> {
    let acct = &a.caller.account;
    let mut steps = Vec::new();
    for (name, state) in &a.roles {
        if !state.is_ours(issuer, &[a.provider_arn.as_str()]) {
            let why = format!("{}: left alone", state.owner(issuer).describe());
            plan.items.push(skip("role", acct, state.arn.clone(), why));
            continue;
        }
        plan.items
            .push(delete_item("role", Some(acct), state.arn.clone()));
        steps.push(plan.step(
            format!("delete role {name} in {acct}"),
            vec![],
            Op::DeleteRole {
                account: i,
                name: name.clone(),
                state: state.clone(),
            },
        ));
    }
    match &a.provider {
        Some(p) if p.is_ours(issuer) => {
            plan.items
                .push(delete_item("provider", Some(acct), a.provider_arn.clone()));
            let s = plan.step(
                format!("delete provider in {acct}"),
                steps.clone(),
                Op::DeleteProvider {
                    account: i,
                    arn: a.provider_arn.clone(),
                },
            );
            steps.push(s);
        }
        Some(p) => {
            let why = format!("{}: left alone", p.owner(issuer).describe());
            plan.items
                .push(skip("provider", acct, a.provider_arn.clone(), why))
        }
        None => {}
    }
    steps
}

/// The bucket. It outlives every trust in it: S3 bucket names are global, so whoever re-creates
/// a deleted name serves keys to every provider that still trusts the issuer. It is deleted only
/// with `--delete-bucket`, when this issuer made it, nothing else is in it, and no provider for
/// the issuer remains in any account the file reaches. Otherwise it is kept: this prefix's
/// public-read statement goes, and the Block Public Access switches irsa-issuer turned off go
/// back on when nothing else needs them.
fn plan_bucket_end(
    o: &ObservedTeardown,
    b: &ObservedBucket,
    plan: &mut Plan,
    chain: &mut Vec<usize>,
) {
    let resource = format!("s3://{}", b.name);
    let blockers = bucket_blockers(o, b);
    if o.delete_bucket && blockers.is_empty() {
        plan.items.push(Item {
            step: "bucket",
            account: None,
            resource,
            action: Action::Delete,
            details: vec![format!(
                "no provider for {} remains in the accounts this file reaches; accounts it does not list are not checked: make sure none there trusts it",
                o.issuer
            )],
            documents: Vec::new(),
        });
        let s = plan.step(
            format!("delete bucket {}", b.name),
            chain.clone(),
            Op::DeleteBucket,
        );
        chain.push(s);
        return;
    }
    let mut details = Vec::new();
    let mut why = if o.delete_bucket {
        blockers
    } else {
        vec!["kept (pass --delete-bucket to delete it)".to_string()]
    };
    let policy_after = match &b.policy_without_ours {
        Some(doc) => {
            details.push(format!("- policy statement {}", b.statement_id));
            let s = plan.step(
                format!("remove the public-read statement from {}", b.name),
                chain.clone(),
                Op::SetBucketPolicy(doc.clone()),
            );
            chain.push(s);
            doc.clone()
        }
        None => b.state.policy.clone(),
    };
    let restore = bucket::restore(&b.state, policy_after.as_deref(), b.others);
    if !restore.is_empty() {
        details.extend(restore.iter().map(|c| c.describe(&b.name)));
        let s = plan.step(
            format!("restore the Block Public Access of {}", b.name),
            chain.clone(),
            Op::SetUpBucket(restore),
        );
        chain.push(s);
    }
    let action = if details.is_empty() {
        Action::Skip
    } else {
        Action::Update
    };
    details.append(&mut why);
    plan.items.push(Item {
        step: "bucket",
        account: None,
        resource,
        action,
        details,
        documents: Vec::new(),
    });
}

/// Why the bucket may not be deleted (empty: it may).
fn bucket_blockers(o: &ObservedTeardown, b: &ObservedBucket) -> Vec<String> {
    let mut out = Vec::new();
    if !matches!(b.owner, Owner::This | Owner::Unclaimed) {
        out.push(format!(
            "kept: it is {} (irsa-issuer deletes only a bucket this issuer created)",
            b.owner.describe()
        ));
    }
    if b.others > 0 {
        out.push(format!("kept: it holds {} other object(s)", b.others));
    }
    for a in &o.accounts {
        for arn in &a.bucket_trusts {
            out.push(format!(
                "kept: the provider {arn} in account {} is served from this bucket (another prefix or spelling of its URL); deleting the bucket would let whoever creates a bucket of the same name serve keys it trusts: delete that provider first",
                a.caller.account
            ));
        }
        if let Some(p) = a.provider.as_ref().filter(|p| !p.is_ours(&o.issuer)) {
            out.push(format!(
                "kept: the provider {} ({}) still trusts this issuer in account {}; deleting the bucket would let whoever creates a bucket of the same name serve keys it trusts",
                p.arn,
                p.owner(&o.issuer).describe(),
                a.caller.account
            ));
        }
    }
    out
}

fn delete_item(step: &'static str, account: Option<&String>, resource: String) -> Item {
    Item {
        step,
        account: account.cloned(),
        resource,
        action: Action::Delete,
        details: vec![],
        documents: Vec::new(),
    }
}

fn skip(step: &'static str, account: &str, resource: String, why: String) -> Item {
    Item {
        step,
        account: Some(account.to_string()),
        resource,
        action: Action::Skip,
        details: vec![why],
        documents: Vec::new(),
    }
}

/// CloudFront as `apply` and `publish` read it.
#[derive(Debug, Clone)]
pub struct ObservedCdn {
    /// The bucket and prefix it serves.
    pub location: crate::aws::names::S3Location,
    /// The partition (ARNs).
    pub partition: crate::aws::names::Partition,
    /// The names of its resources.
    pub names: cdn::Names,
    /// The OAC, as it is and as wanted.
    pub oac: (Option<cdn::OacState>, cdn::OacWanted),
    /// The cache policy, as it is and as wanted.
    pub cache_policy: (Option<cdn::CachePolicyState>, cdn::CachePolicyWanted),
    /// The distribution, as it is and as wanted.
    pub distribution: (Option<cdn::DistributionState>, cdn::DistributionWanted),
    /// The bucket as it is.
    pub bucket: BucketState,
    /// Whether the bucket is this issuer's.
    pub bucket_ours: bool,
    /// What creating the bucket takes (a bucket that does not exist, with `create_bucket`):
    /// it is created private.
    pub create_bucket: Vec<BucketChange>,
    /// The two object keys, JWKS first.
    pub keys: Vec<String>,
    /// The Sid of this prefix's public-read statement (from an earlier `policy` set-up).
    pub public_sid: String,
}

fn cdn_item(resource: String, action: Action, details: Vec<String>) -> Item {
    Item {
        step: "cdn",
        account: None,
        resource,
        action,
        details,
        documents: Vec::new(),
    }
}

/// The CloudFront resources that exist before the issuer does: the bucket (created private),
/// the OAC, the cache policy and the distribution. `apply` and `publish` run this first when the
/// distribution does not exist yet, since the issuer (`https://dXXXX.cloudfront.net/PREFIX`) and
/// the bucket statement (which names the distribution's ARN) are only known once it does.
pub fn cdn_first(o: &ObservedCdn) -> Plan {
    let mut plan = Plan::default();
    let mut chain = Vec::new();
    if !o.create_bucket.is_empty() {
        let bucket = &o.location.bucket;
        plan.items.push(Item {
            step: "bucket",
            account: None,
            resource: format!("s3://{bucket}"),
            action: Action::Create,
            details: o
                .create_bucket
                .iter()
                .flat_map(|c| c.details(bucket))
                .collect(),
            documents: Vec::new(),
        });
        chain.push(plan.step(
            format!("create bucket {bucket} (private)"),
            vec![],
            Op::SetUpBucket(o.create_bucket.clone()),
        ));
    }
    plan_cdn_infra(o, &mut plan, &mut chain);
    plan
}

/// OAC, cache policy, distribution: each created or repaired, in that order.
fn plan_cdn_infra(o: &ObservedCdn, plan: &mut Plan, chain: &mut Vec<usize>) {
    let (oac, want_oac) = &o.oac;
    let resource = format!("origin access control {}", want_oac.name);
    match cdn::plan_oac(want_oac, oac.as_ref()) {
        None => plan
            .items
            .push(cdn_item(resource, Action::Unchanged, vec![])),
        Some(change) => {
            let (action, details) = match &change {
                cdn::OacChange::Create(_) => (
                    Action::Create,
                    vec!["+ SigV4, always signing, for S3 (no legacy OAI)".to_string()],
                ),
                cdn::OacChange::Update { drift, .. } => (Action::Update, drift.clone()),
            };
            plan.items.push(cdn_item(resource.clone(), action, details));
            let s = plan.step(
                format!("{} {resource}", verb(action)),
                chain.clone(),
                Op::ApplyOac(change),
            );
            chain.push(s);
        }
    }
    let (policy, want_policy) = &o.cache_policy;
    let resource = format!("cache policy {}", want_policy.name);
    match cdn::plan_cache_policy(want_policy, policy.as_ref()) {
        None => plan
            .items
            .push(cdn_item(resource, Action::Unchanged, vec![])),
        Some(change) => {
            let (action, details) = match &change {
                cdn::CachePolicyChange::Create(w) => (
                    Action::Create,
                    vec![format!(
                        "+ TTL 0/{0}/{0} s (s3.cache_control's max-age), gzip and brotli, nothing else in the cache key",
                        w.ttl
                    )],
                ),
                cdn::CachePolicyChange::Update { drift, .. } => (Action::Update, drift.clone()),
            };
            plan.items.push(cdn_item(resource.clone(), action, details));
            let s = plan.step(
                format!("{} {resource}", verb(action)),
                chain.clone(),
                Op::ApplyCachePolicy(change),
            );
            chain.push(s);
        }
    }
    let (dist, want_dist) = &o.distribution;
    let oac_id = oac.as_ref().map(|x| x.id.as_str());
    let policy_id = policy.as_ref().map(|x| x.id.as_str());
    let resource = match dist {
        Some(d) => format!("distribution {} ({})", d.id, d.domain),
        None => format!("distribution for {}", o.names.target),
    };
    let changes = cdn::plan_distribution(want_dist, dist.as_ref(), oac_id, policy_id);
    if changes.is_empty() {
        plan.items
            .push(cdn_item(resource, Action::Unchanged, vec![]));
        return;
    }
    let action = if dist.is_none() {
        Action::Create
    } else {
        Action::Update
    };
    let details = changes
        .iter()
        .flat_map(cdn::DistributionChange::details)
        .collect();
    plan.items.push(cdn_item(resource.clone(), action, details));
    for change in changes {
        let label = match &change {
            cdn::DistributionChange::Create(_) => format!("create {resource}"),
            cdn::DistributionChange::Update { .. } => format!("update {resource}"),
            cdn::DistributionChange::Tag { .. } => format!("tag {resource}"),
        };
        let s = plan.step(label, chain.clone(), Op::ApplyDistribution(change));
        chain.push(s);
    }
}

/// Before the documents: the CloudFront resources, then the bucket statement that lets the
/// distribution (and only it) read them.
fn plan_cdn_before(o: &ObservedCdn, plan: &mut Plan, chain: &mut Vec<usize>) {
    plan_cdn_infra(o, plan, chain);
    let Some(dist) = &o.distribution.0 else {
        return;
    };
    let bucket = &o.location.bucket;
    let statement = cdn::oac_statement(o.partition, &o.location, &o.keys, &dist.arn);
    let resource = format!("s3://{bucket} policy statement {}", o.names.statement_id);
    match bucket::merge_policy(bucket, o.bucket.policy.as_deref(), statement) {
        Ok(None) => plan
            .items
            .push(cdn_item(resource, Action::Unchanged, vec![])),
        Ok(Some(doc)) => {
            let change = BucketChange::Policy {
                document: doc.clone(),
                was: o.bucket.policy.clone(),
            };
            let had =
                bucket::remove_statement(bucket, o.bucket.policy.as_deref(), &o.names.statement_id)
                    .ok()
                    .flatten()
                    .is_some();
            plan.items.push(Item {
                step: "cdn",
                account: None,
                resource: resource.clone(),
                action: if had { Action::Update } else { Action::Create },
                details: vec![format!(
                    "+ cloudfront.amazonaws.com may s3:GetObject the two documents when AWS:SourceArn is {}",
                    dist.arn
                )],
                documents: bucket_document(&change).into_iter().collect(),
            });
            let s = plan.step(
                format!("let distribution {} read the documents", dist.id),
                chain.clone(),
                Op::SetBucketPolicy(Some(doc)),
            );
            chain.push(s);
        }
        Err(e) => plan
            .items
            .push(cdn_item(resource, Action::Refuse, vec![e.to_string()])),
    }
}

/// The bucket policy once the distribution's statement is in.
fn policy_with_statement(o: &ObservedCdn) -> Option<String> {
    let dist = o.distribution.0.as_ref()?;
    let statement = cdn::oac_statement(o.partition, &o.location, &o.keys, &dist.arn);
    match bucket::merge_policy(&o.location.bucket, o.bucket.policy.as_deref(), statement) {
        Ok(Some(doc)) => Some(doc),
        _ => o.bucket.policy.clone(),
    }
}

/// After the documents: invalidate the two paths when either changed, then make the bucket
/// private (the public statement of an earlier `policy` set-up goes once the distribution has
/// deployed, then Block Public Access goes on).
fn plan_cdn_after(o: &ObservedCdn, d: &ObservedDocuments, plan: &mut Plan, chain: &mut Vec<usize>) {
    let Some(dist) = &o.distribution.0 else {
        return;
    };
    // What the edges may serve: recorded on the distribution once invalidated, so an
    // invalidation that failed after the documents were written is made by the next run.
    let updated = d
        .objects
        .steps
        .iter()
        .any(|s| matches!(s.action, ObjectAction::Update { .. }));
    let parts: Vec<&[u8]> = d
        .objects
        .steps
        .iter()
        .flat_map(|s| {
            [
                s.object.body.as_slice(),
                s.object.content_type.as_bytes(),
                s.object
                    .cache_control
                    .as_deref()
                    .unwrap_or_default()
                    .as_bytes(),
            ]
        })
        .collect();
    let after = cdn::served_digest(&parts);
    let served = dist.tags.get(cdn::SERVED_TAG).map(String::as_str);
    let resource = format!("invalidation in {}", dist.id);
    if cdn::needs_invalidation(updated, served, &after) {
        let paths = cdn::paths(&o.keys);
        let mut details = vec![format!("+ {}", paths.join(" "))];
        if !updated {
            details.push("(the documents changed since the edges were last told: an earlier invalidation did not happen)".into());
        }
        plan.items.push(cdn_item(resource, Action::Create, details));
        let s = plan.step(
            format!("invalidate the two documents in {}", dist.id),
            chain.clone(),
            Op::Invalidate(paths),
        );
        chain.push(s);
    }
    if served != Some(after.as_str()) {
        let tags = cdn::tag_request(
            &o.distribution.1.tags,
            BTreeMap::from([(cdn::SERVED_TAG.to_string(), after.clone())]),
        );
        plan.items.push(cdn_item(
            format!("distribution {} record of the served documents", dist.id),
            if served.is_some() {
                Action::Update
            } else {
                Action::Create
            },
            vec![format!("~ tag {}={after}", cdn::SERVED_TAG)],
        ));
        let s = plan.step(
            format!("record in {} which documents its edges serve", dist.id),
            chain.clone(),
            Op::ApplyDistribution(cdn::DistributionChange::Tag {
                arn: dist.arn.clone(),
                tags,
            }),
        );
        chain.push(s);
    }
    let state = BucketState {
        policy: policy_with_statement(o),
        ..o.bucket.clone()
    };
    let bucket = &o.location.bucket;
    let resource = format!("s3://{bucket}");
    let p = match cdn::privatize(bucket, &state, &o.public_sid, o.bucket_ours) {
        Ok(p) => p,
        Err(e) => {
            plan.items
                .push(cdn_item(resource, Action::Refuse, vec![e.to_string()]));
            return;
        }
    };
    if p.is_empty() {
        return;
    }
    let mut details = Vec::new();
    if let Some(doc) = &p.policy {
        details.push(format!(
            "- policy statement {} (public read: the distribution serves the documents now)",
            o.public_sid
        ));
        let deploying = dist.status != cdn::DEPLOYED
            || plan.steps.iter().any(|s| {
                matches!(
                    s.op,
                    Op::ApplyDistribution(
                        cdn::DistributionChange::Create(_) | cdn::DistributionChange::Update { .. }
                    )
                )
            });
        if deploying {
            let s = plan.step(
                format!("wait for distribution {} to deploy", dist.id),
                chain.clone(),
                Op::WaitDeployed,
            );
            chain.push(s);
        }
        let s = plan.step(
            format!("remove the public-read statement from {bucket}"),
            chain.clone(),
            Op::SetBucketPolicy(doc.clone()),
        );
        chain.push(s);
    }
    if !p.changes.is_empty() {
        details.extend(p.changes.iter().map(|c| c.describe(bucket)));
        let s = plan.step(
            format!("make bucket {bucket} private"),
            chain.clone(),
            Op::SetUpBucket(p.changes.clone()),
        );
        chain.push(s);
    }
    details.extend(p.notes);
    plan.items.push(Item {
        step: "bucket",
        account: None,
        resource,
        action: Action::Update,
        details,
        documents: Vec::new(),
    });
}

/// The plan of a publish behind CloudFront: the CloudFront resources and the bucket statement,
/// the objects (JWKS first), the invalidation, and the bucket made private.
pub fn publish_cdn(d: &ObservedDocuments, cdn: &ObservedCdn) -> Plan {
    let mut plan = Plan::default();
    let mut chain = Vec::new();
    plan_cdn_before(cdn, &mut plan, &mut chain);
    plan_documents(d, &mut plan, &mut chain);
    plan_cdn_after(cdn, d, &mut plan, &mut chain);
    plan
}

/// CloudFront as `destroy` reads it.
#[derive(Debug, Clone, Default)]
pub struct ObservedCdnTeardown {
    /// The distribution.
    pub distribution: Option<cdn::DistributionState>,
    /// The OAC.
    pub oac: Option<cdn::OacState>,
    /// The cache policy.
    pub cache_policy: Option<cdn::CachePolicyState>,
}

/// After the documents: the distribution disabled, deployed, deleted; then the OAC and the
/// cache policy (the bucket statement goes with the bucket's end, last). A destroy stopped while
/// the distribution deploys resumes at the wait.
fn plan_cdn_teardown(c: &ObservedCdnTeardown, plan: &mut Plan, chain: &mut Vec<usize>) {
    if let Some(d) = &c.distribution {
        let resource = format!("distribution {} ({})", d.id, d.domain);
        let mut details = Vec::new();
        for t in cdn::teardown(d) {
            let (label, op, line) = match t {
                cdn::Teardown::Disable => (
                    format!("disable distribution {}", d.id),
                    Op::DisableDistribution,
                    "~ disable (CloudFront deletes only a disabled distribution)",
                ),
                cdn::Teardown::WaitDeployed => (
                    format!("wait for distribution {} to deploy", d.id),
                    Op::WaitDeployed,
                    "… wait until deployed (minutes; a destroy stopped here resumes here)",
                ),
                cdn::Teardown::Delete => (
                    format!("delete distribution {}", d.id),
                    Op::DeleteDistribution,
                    "- delete",
                ),
            };
            details.push(line.to_string());
            let s = plan.step(label, chain.clone(), op);
            chain.push(s);
        }
        plan.items.push(cdn_item(resource, Action::Delete, details));
    }
    if let Some(o) = &c.oac {
        plan.items.push(cdn_item(
            format!("origin access control {}", o.name),
            Action::Delete,
            vec![],
        ));
        let s = plan.step(
            format!("delete origin access control {}", o.name),
            chain.clone(),
            Op::DeleteOac,
        );
        chain.push(s);
    }
    if let Some(p) = &c.cache_policy {
        plan.items.push(cdn_item(
            format!("cache policy {}", p.name),
            Action::Delete,
            vec![],
        ));
        let s = plan.step(
            format!("delete cache policy {}", p.name),
            chain.clone(),
            Op::DeleteCachePolicy,
        );
        chain.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::names::Partition;
    use crate::publish::objects::PublishStep;

    fn caller(account: &str) -> Caller {
        Caller {
            account: account.into(),
            arn: format!("arn:aws:iam::{account}:user/x"),
            partition: Partition::Aws,
        }
    }

    fn object(key: &str) -> DesiredObject {
        DesiredObject {
            key: key.into(),
            body: b"{}".to_vec(),
            content_type: "application/json",
            cache_control: None,
        }
    }

    fn config(roles: &str) -> Config {
        let text = format!(
            "target = \"s3://bucket-x/c\"\n[keys]\ndir = \"k\"\n[provider]\nthumbprints = [\"{}\"]\n{roles}",
            "a".repeat(40)
        );
        crate::reconcile::config::parse(&text, "c.toml", std::path::Path::new("/"), &|_| None)
            .unwrap()
    }

    fn observed(accounts: &[&str]) -> ObservedCluster {
        let issuer =
            IssuerUrl::parse("https://s3.us-east-1.amazonaws.com/bucket-x/c", false).unwrap();
        ObservedCluster {
            keys: ObservedKeys {
                dir: Some(PathBuf::from("k")),
                published: vec![],
                new_key: Some((Some(KeyId::from_spki_der(b"x")), Algorithm::RS256)),
                retired: vec![],
            },
            new_kids: vec![KeyId::from_spki_der(b"x").to_string()],
            documents: ObservedDocuments {
                target: "s3://bucket-x/c".into(),
                bucket: Some("bucket-x".into()),
                bucket_changes: vec![],
                objects: PublishPlan {
                    steps: ["c/openid/v1/jwks", "c/.well-known/openid-configuration"]
                        .into_iter()
                        .map(|k| PublishStep {
                            object: object(k),
                            action: ObjectAction::Create,
                        })
                        .collect(),
                },
                published_kids: vec![],
                published_issuer: None,
            },
            thumbprints: vec![Thumbprint::parse(&"a".repeat(40)).unwrap()],
            thumbprint_note: None,
            inline: BTreeMap::new(),
            accounts: accounts
                .iter()
                .map(|a| ObservedAccount {
                    caller: caller(a),
                    provider_arn: crate::aws::names::provider_arn(Partition::Aws, a, &issuer),
                    provider: None,
                    roles: BTreeMap::new(),
                    orphans: BTreeMap::new(),
                })
                .collect(),
            issuer,
            cdn: None,
        }
    }

    fn observed_cdn(distribution: bool) -> ObservedCdn {
        let loc = crate::aws::names::S3Location::parse("s3://bucket-x/c").unwrap();
        let c = cdn::CdnConfig {
            alias: None,
            acm_certificate_arn: None,
            price_class: Default::default(),
            deploy_timeout: 60,
            pins: Default::default(),
        };
        let names = cdn::names(&loc);
        let wanted = cdn::DistributionWanted::new(&c, &loc, "us-east-1", None, &BTreeMap::new());
        let dist = distribution.then(|| cdn::DistributionState {
            id: "E1".into(),
            arn: "arn:aws:cloudfront::1:distribution/E1".into(),
            domain: "d1.cloudfront.net".into(),
            status: "Deployed".into(),
            model: wanted.model(Some("O1"), Some("P1")),
            tags: wanted.tags.clone(),
        });
        ObservedCdn {
            partition: Partition::Aws,
            oac: (
                distribution.then(|| cdn::OacState {
                    id: "O1".into(),
                    name: names.resource.clone(),
                    signing_protocol: "sigv4".into(),
                    signing_behavior: "always".into(),
                    origin_type: "s3".into(),
                }),
                cdn::OacWanted {
                    name: names.resource.clone(),
                    description: String::new(),
                },
            ),
            cache_policy: (
                distribution.then(|| cdn::CachePolicyState {
                    id: "P1".into(),
                    name: names.resource.clone(),
                    ttls: (0, 300, 300),
                    compression: (true, true),
                    key: ("none".into(), "none".into(), "none".into()),
                }),
                cdn::CachePolicyWanted {
                    name: names.resource.clone(),
                    comment: String::new(),
                    ttl: 300,
                },
            ),
            distribution: (dist, wanted),
            bucket: BucketState {
                exists: true,
                public_access_block: Some(bucket::PublicAccessBlock {
                    block_public_acls: true,
                    ignore_public_acls: true,
                    block_public_policy: true,
                    restrict_public_buckets: true,
                }),
                ..Default::default()
            },
            bucket_ours: true,
            create_bucket: vec![],
            keys: vec![
                "c/openid/v1/jwks".into(),
                "c/.well-known/openid-configuration".into(),
            ],
            public_sid: bucket::statement_id(&loc),
            names,
            location: loc,
        }
    }

    #[test]
    fn cloudfront_comes_before_the_issuer_and_the_statement_before_the_documents() {
        let first = cdn_first(&observed_cdn(false));
        let ops: Vec<&str> = first
            .steps
            .iter()
            .map(|s| match s.op {
                Op::ApplyOac(_) => "oac",
                Op::ApplyCachePolicy(_) => "cache policy",
                Op::ApplyDistribution(_) => "distribution",
                _ => "other",
            })
            .collect();
        assert_eq!(ops, ["oac", "cache policy", "distribution"]);
        assert_eq!(first.steps[2].after, vec![0, 1]);
        // Once it exists: the statement, the documents (JWKS first), the record of what its
        // edges serve (a new distribution has cached nothing: no invalidation), the provider.
        let c = config("");
        let mut o = observed(&["111111111111"]);
        o.cdn = Some(observed_cdn(true));
        assert_eq!(
            ops_of(&apply(&c, &o, Allow::default()).unwrap()),
            [
                "key",
                "statement",
                "c/openid/v1/jwks",
                "c/.well-known/openid-configuration",
                "record served",
                "provider"
            ]
        );
        let plan = apply(&c, &o, Allow::default()).unwrap();
        for (i, s) in plan.steps.iter().enumerate() {
            assert_eq!(
                s.after,
                (0..i).collect::<Vec<_>>(),
                "step {i} waits for every earlier one"
            );
        }
    }

    fn ops_of(plan: &Plan) -> Vec<String> {
        plan.steps
            .iter()
            .map(|s| match &s.op {
                Op::SetBucketPolicy(_) => "statement".to_string(),
                Op::PutObject(o) => o.key.clone(),
                Op::Invalidate(p) => format!("invalidate {}", p.join(" ")),
                Op::ApplyDistribution(cdn::DistributionChange::Tag { tags, .. })
                    if tags.contains_key(cdn::SERVED_TAG) =>
                {
                    "record served".into()
                }
                Op::ApplyProvider { .. } => "provider".into(),
                Op::WriteKey => "key".into(),
                Op::WaitDeployed => "wait".into(),
                Op::SetUpBucket(_) => "bucket".into(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    /// The documents as published now, for a distribution that recorded `served`.
    fn published(served: Option<&str>, action: ObjectAction) -> (ObservedDocuments, ObservedCdn) {
        let mut cdn = observed_cdn(true);
        if let (Some(d), Some(v)) = (&mut cdn.distribution.0, served) {
            d.tags.insert(cdn::SERVED_TAG.into(), v.into());
        }
        // The distribution's statement is in already.
        let arn = "arn:aws:cloudfront::1:distribution/E1";
        let statement = cdn::oac_statement(Partition::Aws, &cdn.location, &cdn.keys, arn);
        cdn.bucket.policy = bucket::merge_policy("bucket-x", None, statement).unwrap();
        let mut docs = observed(&[]).documents;
        for s in &mut docs.objects.steps {
            s.action = action.clone();
        }
        (docs, cdn)
    }

    #[test]
    fn the_edges_are_told_when_a_document_changes_and_again_when_that_did_not_happen() {
        let (docs, cdn) = published(None, ObjectAction::Unchanged);
        let digest = {
            let p = publish_cdn(&docs, &cdn);
            let Some(Op::ApplyDistribution(cdn::DistributionChange::Tag { tags, .. })) =
                p.steps.last().map(|s| &s.op)
            else {
                panic!("{:?}", ops_of(&p))
            };
            // The runner's pre-pin policy requires these two in every TagResource.
            assert_eq!(tags["managed-by"], "irsa-issuer");
            assert_eq!(tags[cdn::TARGET_TAG], "s3://bucket-x/c");
            tags[cdn::SERVED_TAG].clone()
        };
        // Recorded, unchanged: nothing at all.
        let (docs, cdn) = published(Some(&digest), ObjectAction::Unchanged);
        assert!(publish_cdn(&docs, &cdn).steps.is_empty());
        // A document that existed changes: invalidate, then record.
        let (docs, cdn) = published(
            Some(&digest),
            ObjectAction::Update {
                reasons: vec!["content"],
            },
        );
        assert_eq!(
            ops_of(&publish_cdn(&docs, &cdn)),
            [
                "c/openid/v1/jwks",
                "c/.well-known/openid-configuration",
                "invalidate /c/openid/v1/jwks /c/.well-known/openid-configuration",
            ],
            "same bodies as recorded: the record stands"
        );
        // The bucket holds other documents than the edges were last told of (the run that
        // wrote them failed to invalidate): invalidate now, though nothing is written.
        let (docs, cdn) = published(Some("0000000000000000"), ObjectAction::Unchanged);
        let p = publish_cdn(&docs, &cdn);
        assert_eq!(
            ops_of(&p),
            [
                "invalidate /c/openid/v1/jwks /c/.well-known/openid-configuration",
                "record served"
            ]
        );
        assert!(p.items.iter().any(|i| i
            .details
            .iter()
            .any(|d| d.contains("an earlier invalidation did not happen"))));
    }

    /// A `policy` set-up moving behind a distribution that is still deploying: the public
    /// statement goes only after the wait, then Block Public Access goes on.
    #[test]
    fn the_public_statement_goes_only_after_the_distribution_deployed() {
        let (docs, mut cdn) = published(None, ObjectAction::Unchanged);
        let loc = cdn.location.clone();
        let public = bucket::public_read_statement(Partition::Aws, &loc, &cdn.keys);
        cdn.bucket.policy =
            bucket::merge_policy("bucket-x", cdn.bucket.policy.as_deref(), public).unwrap();
        cdn.bucket.public_access_block = Some(bucket::PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: false,
            restrict_public_buckets: false,
        });
        if let Some(d) = &mut cdn.distribution.0 {
            d.status = "InProgress".into();
        }
        let ops = ops_of(&publish_cdn(&docs, &cdn));
        assert_eq!(
            ops,
            ["record served", "wait", "statement", "bucket"],
            "the wait, then the public statement out and the switches on"
        );
        // Deployed: no wait.
        if let Some(d) = &mut cdn.distribution.0 {
            d.status = cdn::DEPLOYED.into();
        }
        let ops = ops_of(&publish_cdn(&docs, &cdn));
        assert_eq!(ops, ["record served", "statement", "bucket"]);
    }

    #[test]
    fn roles_the_file_no_longer_names_are_deleted_unless_no_prune() {
        let c = config("[[roles]]\nname = \"kept\"\nservice_accounts = [\"ns/sa\"]\n");
        let mut o = observed(&["111111111111"]);
        let gone = RoleState {
            arn: "arn:aws:iam::111111111111:role/irsa/gone".into(),
            path: "/irsa/".into(),
            trust_policy: serde_json::json!({}),
            managed_policies: Default::default(),
            inline_policies: Default::default(),
            permissions_boundary: None,
            max_session_duration: 3600,
            tags: Default::default(),
        };
        o.accounts[0].orphans.insert("gone".into(), gone.clone());
        let pruned = apply(
            &c,
            &o,
            Allow {
                prune: true,
                ..Allow::default()
            },
        )
        .unwrap();
        let item = pruned
            .items
            .iter()
            .find(|i| i.resource == gone.arn)
            .unwrap();
        assert_eq!(item.action, Action::Delete);
        let deletes: Vec<&Op> = pruned
            .steps
            .iter()
            .map(|s| &s.op)
            .filter(|op| matches!(op, Op::DeleteRole { name, .. } if name == "gone"))
            .collect();
        assert_eq!(deletes.len(), 1);
        assert!(!pruned
            .steps
            .iter()
            .any(|s| matches!(&s.op, Op::DeleteRole { name, .. } if name == "kept")));
        let kept = apply(&c, &o, Allow::default()).unwrap();
        let item = kept.items.iter().find(|i| i.resource == gone.arn).unwrap();
        assert_eq!(item.action, Action::Skip);
        assert!(item.details[0].contains("orphan"), "{:?}", item.details);
        assert!(!kept
            .steps
            .iter()
            .any(|s| matches!(s.op, Op::DeleteRole { .. })));
    }

    #[test]
    fn apply_steps_follow_key_jwks_discovery_provider_roles() {
        let c = config("[[roles]]\nname = \"r\"\nservice_accounts = [\"ns/sa\"]\n");
        let plan = apply(
            &c,
            &observed(&["111111111111", "222222222222"]),
            Allow::default(),
        )
        .unwrap();
        let labels: Vec<&str> = plan.steps.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels.len(), 7, "{labels:?}");
        let key = 0;
        let (jwks, disc) = (1, 2);
        assert!(labels[jwks].ends_with("c/openid/v1/jwks"), "{labels:?}");
        assert!(labels[disc].ends_with("c/.well-known/openid-configuration"));
        assert_eq!(plan.steps[jwks].after, vec![key]);
        assert_eq!(plan.steps[disc].after, vec![key, jwks]);
        // Each account: its provider after every document step, its role after its provider;
        // the two accounts do not wait for each other.
        for (p, r) in [(3, 4), (5, 6)] {
            assert!(matches!(plan.steps[p].op, Op::ApplyProvider { .. }));
            assert_eq!(plan.steps[p].after, vec![key, jwks, disc]);
            assert!(matches!(plan.steps[r].op, Op::ApplyRole { .. }));
            assert!(
                plan.steps[r].after.contains(&p),
                "{:?}",
                plan.steps[r].after
            );
            assert!(!plan.steps[r].after.contains(&(if p == 3 { 5 } else { 3 })));
        }
        // Every dependency points backwards: the list order is a valid run order.
        for (i, s) in plan.steps.iter().enumerate() {
            assert!(s.after.iter().all(|&d| d < i), "step {i}: {:?}", s.after);
        }
        let s = plan.summary();
        assert_eq!((s.add, s.change), (7, 0));
    }

    #[test]
    fn a_published_key_the_new_jwks_drops_is_refused_unless_retired_or_allowed() {
        let c = config("");
        let mut o = observed(&["111111111111"]);
        let live = KeyId::from_spki_der(b"live").to_string();
        let old = KeyId::from_spki_der(b"old").to_string();
        o.documents.published_kids = vec![live.clone(), old.clone()];
        o.keys.retired = vec![old.clone()];
        let plan = apply(&c, &o, Allow::default()).unwrap();
        let item = |kid: &str| {
            plan.items
                .iter()
                .find(|i| i.resource == format!("key {kid}"))
                .unwrap()
                .clone()
        };
        assert_eq!(item(&live).action, Action::Refuse);
        assert_eq!(item(&old).action, Action::Delete);
        assert_eq!(plan.summary().refused, 1);
        assert!(changeset::render(&plan.items).contains(&format!("! refused: keys key {live}")));
        let allowed = apply(
            &c,
            &o,
            Allow {
                key_removal: true,
                ..Allow::default()
            },
        )
        .unwrap();
        assert_eq!(allowed.summary().refused, 0);
        assert_eq!(allowed.summary().destroy, 2);
    }

    #[test]
    fn destroy_deletes_roles_then_providers_then_documents_and_skips_foreign() {
        let issuer = "https://x";
        let role = |name: &str, owner: Option<&str>| RoleState {
            arn: format!("arn:aws:iam::111111111111:role/irsa/{name}"),
            path: "/irsa/".into(),
            trust_policy: serde_json::json!({}),
            managed_policies: Default::default(),
            inline_policies: Default::default(),
            permissions_boundary: None,
            max_session_duration: 3600,
            tags: match owner {
                Some(o) => crate::aws::owner::with_owner_tags(Default::default(), o),
                None => Default::default(),
            },
        };
        let provider = ProviderState {
            arn: "arn:p".into(),
            url: "https://x".into(),
            client_ids: Default::default(),
            thumbprints: Default::default(),
            tags: [("managed-by".to_string(), "irsa-issuer".to_string())].into(),
        };
        let o = ObservedTeardown {
            issuer: issuer.into(),
            accounts: vec![ObservedForDestroy {
                caller: caller("111111111111"),
                roles: vec![
                    ("mine".into(), role("mine", Some(issuer))),
                    ("theirs".into(), role("theirs", None)),
                    ("c2s".into(), role("c2s", Some("https://c2"))),
                ],
                provider_arn: "arn:p".into(),
                provider: Some(provider),
                bucket_trusts: Vec::new(),
            }],
            objects: vec![
                ("c/.well-known/openid-configuration".into(), "d".into()),
                ("c/openid/v1/jwks".into(), "j".into()),
            ],
            bucket: None,
            keys: None,
            delete_bucket: false,
            cdn: None,
        };
        let plan = destroy(&o);
        let ops: Vec<&str> = plan
            .steps
            .iter()
            .map(|s| match &s.op {
                Op::DeleteRole { .. } => "role",
                Op::DeleteProvider { .. } => "provider",
                Op::DeleteObject(_) => "object",
                _ => "other",
            })
            .collect();
        assert_eq!(ops, ["role", "provider", "object", "object"]);
        assert_eq!(plan.steps[1].after, vec![0]);
        assert_eq!(plan.steps[2].after, vec![0, 1]);
        assert_eq!(plan.steps[3].after, vec![0, 1, 2]);
        for (name, why) in [("theirs", "not tagged"), ("c2s", "owned by another issuer")] {
            let item = plan
                .items
                .iter()
                .find(|i| i.resource.ends_with(&format!("role/irsa/{name}")))
                .unwrap();
            assert_eq!(item.action, Action::Skip);
            assert!(item.details[0].contains(why), "{:?}", item.details);
        }
    }
}
