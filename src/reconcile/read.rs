//! The engine's first phase: observe every resource the file names, through the adapters, and
//! hand back the observed values (for the pure [`super::plan`]) with the adapters that
//! [`super::execute`] will change them through. Nothing is written here.

use std::collections::BTreeMap;
use std::path::Path;

use rand::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use super::config::{Config, Target};
use super::documents::{self, AnyStore, TargetSpec};

use super::plan::{
    roles_in, ObservedAccount, ObservedBucket, ObservedCluster, ObservedForDestroy, ObservedKeys,
    ObservedTeardown, ThumbprintNote,
};
use super::{refuse, Error};
use crate::aws::bucket::{self, PublicAccess};
use crate::aws::names::{provider_arn, S3Location, Thumbprint};
use crate::aws::provider::ProviderState;
use crate::aws::role::RoleState;
use crate::aws::sdk::accounts::{self, Target as AccountTarget};
use crate::aws::sdk::providers::Providers;
use crate::aws::sdk::roles::Roles;
use crate::aws::sdk::{AwsContext, AwsSource, Caller};
use crate::oidc::documents::KeySet;
use crate::oidc::issuer::{IssuerUrl, DISCOVERY_PATH};
use crate::oidc::keys::{self, KeySpec, PublicKey};
use crate::publish::s3::S3Store;
use crate::publish::Store as _;
use crate::rotation::keydir::KeyDir;
use crate::rotation::state::KeySetState;
use crate::verify::fetch::{Fetcher, HostThumbprint};

/// A key to create in the key directory.
pub struct NewKey {
    /// The directory.
    pub dir: KeyDir,
    /// The key set with the new key in it.
    pub state: KeySetState,
    /// The public key.
    pub public: PublicKey,
    /// The private key, PEM.
    pub private: Zeroizing<String>,
}

pub use super::config::DEFAULT_CONCURRENCY;

/// A bound on the work in flight: each leaf (one resource read, one plan step) holds a permit
/// while it runs, so nested fan-outs (accounts, then roles) never exceed it and never wait on
/// each other.
#[derive(Clone, Debug)]
pub struct Limit(std::sync::Arc<tokio::sync::Semaphore>, usize);

impl Limit {
    /// At most `n` (at least 1) at once.
    pub fn new(n: usize) -> Self {
        let n = n.max(1);
        Self(std::sync::Arc::new(tokio::sync::Semaphore::new(n)), n)
    }

    /// How many at once.
    pub fn permits(&self) -> usize {
        self.1
    }

    /// Runs `f` under a permit.
    pub async fn run<F: std::future::Future>(&self, f: F) -> F::Output {
        let _permit = self.0.acquire().await;
        f.await
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self::new(DEFAULT_CONCURRENCY)
    }
}

/// The adapters a plan is executed through.
#[derive(Default)]
pub struct Handles {
    /// The key to write (apply).
    pub new_key: Option<NewKey>,
    /// The key directory (destroy --delete-keys).
    pub key_dir: Option<KeyDir>,
    /// The document store.
    pub store: Option<AnyStore>,
    /// One context per account (and who the credentials are there), in the plan's order.
    pub accounts: Vec<(AwsContext, Caller)>,
    /// CloudFront, when the file has a `[cdn]`.
    pub cdn: Option<super::cdn::CdnHandle>,
    /// How many steps run at once.
    pub limit: Limit,
}

/// A fetcher trusting the public roots plus `ca_file`, connecting to `connect_to` when given.
pub fn fetcher(
    ca_file: Option<&Path>,
    connect_to: Option<std::net::SocketAddr>,
) -> Result<Fetcher, Error> {
    let ca = match ca_file {
        Some(p) => Some((read_file(p, "the CA file")?, p.display().to_string())),
        None => None,
    };
    Ok(Fetcher::new(
        ca.as_ref()
            .map(|(pem, name)| (pem.as_slice(), name.as_str())),
        connect_to,
    )?)
}

/// The fetcher the file's `[tls]` describes.
pub fn config_fetcher(c: &Config) -> Result<Fetcher, Error> {
    fetcher(c.tls.ca_file.as_deref(), c.tls.connect_to)
}

/// The publish target the file stands for.
pub fn target_spec(c: &Config) -> TargetSpec {
    TargetSpec {
        issuer: c.issuer.clone(),
        jwks_path: c.jwks_path.clone(),
        to: c.target.describe(),
        create_bucket: c.s3.create_bucket,
        public_access: c.s3.public_access,
        cache_control: c.s3.cache_control.clone(),
        tags: c.tags.clone(),
        allow_public_grants: c.s3.allow_public_grants,
        allow_issuer_change: false,
        cdn: c.cdn.clone(),
    }
}

/// With a `[cdn]` whose distribution does not exist yet: what comes before the issuer exists
/// (see [`super::cdn::first`]). `None` without a `[cdn]`, or once the distribution exists.
pub async fn cdn_first(c: &Config, aws: &AwsSource) -> Result<Option<super::cdn::First>, Error> {
    let Some(cdn) = &c.cdn else {
        return Ok(None);
    };
    let base = aws.context().await?;
    check_pinned(c, &base.region)?;
    super::cdn::first(cdn, &target_spec(c), aws).await
}

/// The issuer of the file, reading CloudFront for a `[cdn]` without an alias (the issuer is
/// then the distribution's own domain).
pub async fn config_issuer(c: &Config, aws: &AwsSource) -> Result<IssuerUrl, Error> {
    if let Some(i) = &c.issuer {
        return Ok(i.clone());
    }
    let base = aws.context().await?;
    match (&c.cdn, &c.target) {
        (Some(cdn), Target::S3(l)) => cdn_issuer(cdn, l, base).await,
        _ => {
            // Derived from the bucket's region: the one the file pins, never the shell's.
            check_pinned(c, &base.region)?;
            issuer_of(c, &base.region)
        }
    }
}

async fn cdn_issuer(
    cdn: &crate::aws::cdn::CdnConfig,
    l: &S3Location,
    base: &AwsContext,
) -> Result<IssuerUrl, Error> {
    let host = match &cdn.alias {
        Some(a) => a.clone(),
        None => match crate::aws::sdk::cloudfront::CloudFront::new(base.cloudfront())
            .pinned_or_tagged(
                cdn.pins.distribution_id.as_deref(),
                &crate::aws::cdn::names(l).target,
                false,
            )
            .await?
        {
            Some(d) => d.domain,
            None => refuse!(
                "no CloudFront distribution serves {l} yet, so its issuer (https://dXXXX.cloudfront.net/...) is not known: run `irsa-issuer apply -f FILE` first, or set `issuer` in the file"
            ),
        },
    };
    crate::aws::cdn::issuer(&host, l).map_err(|e| Error::Refused(e.to_string()))
}

/// The AWS source the file's `[aws]` describes.
pub fn aws_source(c: &Config) -> AwsSource {
    AwsSource::new(c.aws.region.clone(), c.aws.profile.clone())
}

/// Refuses an S3 target whose issuer the file does not pin (neither `issuer` nor `aws.region`):
/// the issuer would follow the shell's AWS_REGION, and a shell in another region would plan a
/// whole new issuer.
pub fn check_pinned(c: &Config, region: &str) -> Result<(), Error> {
    if let (None, None, Target::S3(l)) = (&c.issuer, &c.aws.region, &c.target) {
        refuse!(
            "the file pins no issuer for {l}: without aws.region (or issuer) it would follow the shell's region, now {region} ({}); set aws.region (or issuer) in the file, or pass --region (or IRSA_ISSUER_REGION)",
            l.issuer(region).map(|i| i.to_string()).unwrap_or_default()
        );
    }
    Ok(())
}

/// The issuer of the file: given, or derived from the bucket and `region`.
pub fn issuer_of(c: &Config, region: &str) -> Result<IssuerUrl, Error> {
    match (&c.issuer, &c.target) {
        (Some(i), _) => Ok(i.clone()),
        (None, Target::S3(l)) => Ok(l.issuer(region)?),
        (None, Target::Dir(_)) => refuse!("a directory target needs an issuer"),
    }
}

/// Every account the file names, reached from `base`, with their identities; a role listing an
/// account that is not reached is refused.
pub async fn reach_accounts(
    c: &Config,
    base: &AwsContext,
) -> Result<Vec<(AwsContext, Caller)>, Error> {
    let mut targets: Vec<AccountTarget> = Vec::new();
    if c.aws.current_account {
        targets.push(None);
    }
    targets.extend(
        c.accounts
            .iter()
            .map(|a| Some((a.assume_role.clone(), a.external_id.clone()))),
    );
    let out = accounts::reach(base, &targets, &c.aws.role_session_name, c.aws.concurrency).await?;
    for r in &c.roles {
        for id in &r.accounts {
            if !out.iter().any(|(_, c)| &c.account == id) {
                refuse!(
                    "role {} lists account {id}, which is not one of the accounts reached ({}): add it under [[accounts]]",
                    r.name,
                    out.iter().map(|(_, c)| c.account.as_str()).collect::<Vec<_>>().join(", ")
                );
            }
        }
    }
    Ok(out)
}

/// The inline policy documents of every role, by role, then by policy name.
pub fn read_inline(
    c: &Config,
) -> Result<BTreeMap<String, BTreeMap<String, serde_json::Value>>, Error> {
    let mut out = BTreeMap::new();
    for r in &c.roles {
        let mut docs = BTreeMap::new();
        for (name, file) in &r.inline_policies {
            let text = std::fs::read_to_string(file).map_err(|source| Error::Io {
                what: format!(
                    "role {}: cannot read inline policy {name} from {}",
                    r.name,
                    file.display()
                ),
                source,
            })?;
            let doc: serde_json::Value =
                serde_json::from_str(&text).map_err(|source| Error::Json {
                    what: format!(
                        "role {}: inline policy {name} ({}) is not JSON",
                        r.name,
                        file.display()
                    ),
                    source,
                })?;
            // Its shape is checked here, before any AWS call, as `role apply` checks it.
            if let Err(e) = crate::aws::role::check_inline_policy(name, &doc) {
                refuse!("role {} ({}): {e}", r.name, file.display());
            }
            docs.insert(name.clone(), doc);
        }
        out.insert(r.name.clone(), docs);
    }
    Ok(out)
}

/// The keys to publish, and the key to create first when the directory has none (generated
/// now, with `rng`, so that the plan shows its kid; written only when applied).
fn read_keys(
    c: &Config,
    rng: &mut (impl RngCore + CryptoRng),
    now: u64,
    plan_only: bool,
) -> Result<(KeySet, ObservedKeys, Option<NewKey>), Error> {
    let mut public: Vec<PublicKey> = load_keys(&c.keys.files)?
        .into_iter()
        .map(|k| k.key)
        .collect();
    let mut observed = ObservedKeys {
        dir: c.keys.dir.clone(),
        ..ObservedKeys::default()
    };
    let mut new = None;
    if let Some(dir) = &c.keys.dir {
        let kd = KeyDir::new(dir);
        let mut state = kd.load_state_or_empty()?;
        if state.keys.is_empty() {
            if !c.keys.generate {
                refuse!(
                    "the key directory {} has no keys: set keys.generate = true in the file (or IRSA_ISSUER_GENERATE_KEYS=true), or create one with `irsa-issuer rotate init --key-dir {}`",
                    dir.display(),
                    dir.display()
                );
            }
            let g = keys::generate(
                KeySpec {
                    alg: c.keys.algorithm,
                    rsa_bits: c.keys.rsa_bits,
                },
                rng,
            )?;
            state.init(g.public.kid().clone(), g.public.alg(), now)?;
            observed.new_key = Some(((!plan_only).then(|| g.public.kid().clone()), g.public.alg()));
            public.push(g.public.clone());
            new = Some(NewKey {
                dir: kd,
                state,
                public: g.public,
                private: g.private_pem,
            });
        } else {
            let keys = kd.published_keys(&state)?;
            observed.published = keys.iter().map(|k| k.kid().clone()).collect();
            observed.retired = state.retired.iter().map(|r| r.kid.to_string()).collect();
            public.extend(keys);
        }
    }
    Ok((KeySet::new(public)?, observed, new))
}

/// The thumbprints the provider should list: the file's, plus, with `auto`, the issuer host's
/// when IAM needs one. It needs none for an S3-hosted JWKS or a chain ending in a public CA
/// (IAM trusts those through its own CA library since 2023).
async fn read_thumbprints(
    c: &Config,
    issuer: &IssuerUrl,
) -> Result<
    (
        Vec<Thumbprint>,
        Option<ThumbprintNote>,
        Option<HostThumbprint>,
    ),
    Error,
> {
    let mut out = c.provider.thumbprints.fixed.clone();
    if !c.provider.thumbprints.auto {
        return Ok((out, None, None));
    }
    if crate::aws::names::is_s3_issuer(issuer) {
        let why = "the JWKS is on S3, which IAM trusts through its own CA library".to_string();
        return Ok((out, Some(ThumbprintNote::NotNeeded(why)), None));
    }
    // The JWKS apply publishes lives on the issuer's host, so that host's chain is the one IAM
    // checks; it is read directly, since on a first apply nothing is published yet.
    let fetched = config_fetcher(c)?
        .thumbprint(issuer.host(), issuer.port_or_default(), "issuer")
        .await;
    match fetched {
        Err(e) => Ok((
            out,
            Some(ThumbprintNote::Unreachable(crate::errors::chain(&e))),
            None,
        )),
        Ok(t) if t.public_ca => {
            let why = format!(
                "{}'s chain ends in a public CA, which IAM trusts through its own CA library",
                t.host
            );
            Ok((out, Some(ThumbprintNote::NotNeeded(why)), Some(t)))
        }
        Ok(t) => {
            out.push(t.thumbprint.clone());
            Ok((out, None, Some(t)))
        }
    }
}

/// The provider of `issuer` in the account of `caller`.
pub async fn read_provider(
    ctx: &AwsContext,
    caller: &Caller,
    issuer: &IssuerUrl,
) -> Result<(String, Option<ProviderState>), Error> {
    let arn = provider_arn(caller.partition, &caller.account, issuer);
    let state = Providers::new(ctx.iam())
        .get(&arn)
        .await
        .map_err(|e| Error::from(e).in_account(&caller.account))?;
    Ok((arn, state))
}

/// The file's roles of the account of `caller`, by name, as IAM reports them, read side by
/// side under `limit`, in the file's order.
pub async fn read_roles(
    c: &Config,
    ctx: &AwsContext,
    caller: &Caller,
    limit: &Limit,
) -> Result<Vec<(String, Option<RoleState>)>, Error> {
    use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
    let roles = Roles::new(ctx.iam());
    let names: Vec<String> = roles_in(c, &caller.account)
        .map(|r| r.name.clone())
        .collect();
    stream::iter(names)
        .map(|name| {
            let roles = &roles;
            async move {
                let state = limit
                    .run(roles.get(&name))
                    .await
                    .map_err(|e| Error::from(e).in_account(&caller.account))?;
                Ok::<_, Error>((name, state))
            }
        })
        .buffered(usize::MAX)
        .try_collect()
        .await
}

/// Roles of this issuer in the account of `caller` that the file no longer names there: under
/// the file's role path (ListRoles), tagged for exactly this issuer (an older irsa-issuer's
/// untagged-for-an-issuer role, or another cluster's, is never an orphan of this one), read in
/// full so that a delete can detach their policies first. Candidates are read side by side
/// under `limit`.
pub async fn read_orphans(
    c: &Config,
    ctx: &AwsContext,
    caller: &Caller,
    issuer: &str,
    limit: &Limit,
) -> Result<BTreeMap<String, RoleState>, Error> {
    use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
    let roles = Roles::new(ctx.iam());
    let in_account = |e: crate::aws::sdk::AwsError| Error::from(e).in_account(&caller.account);
    let named: Vec<&str> = roles_in(c, &caller.account)
        .map(|r| r.name.as_str())
        .collect();
    let candidates: Vec<String> = limit
        .run(roles.names_under(&c.iam.role_path))
        .await
        .map_err(in_account)?
        .into_iter()
        .filter(|n| !named.contains(&n.as_str()))
        .collect();
    let found: Vec<Option<(String, RoleState)>> = stream::iter(candidates)
        .map(|name| {
            let roles = &roles;
            async move {
                limit
                    .run(async {
                        let Some(tags) = roles.tags(&name).await? else {
                            return Ok(None);
                        };
                        if crate::aws::owner::Owner::of(&tags, issuer)
                            != crate::aws::owner::Owner::This
                        {
                            return Ok(None);
                        }
                        Ok(roles.get(&name).await?.map(|state| (name, state)))
                    })
                    .await
                    .map_err(in_account)
            }
        })
        .buffered(usize::MAX)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// One account as `apply` reads it: its provider, the file's roles and the orphans, side by
/// side.
async fn read_account(
    c: &Config,
    ctx: &AwsContext,
    caller: &Caller,
    issuer: &IssuerUrl,
    limit: &Limit,
) -> Result<ObservedAccount, Error> {
    let ((provider_arn, provider), roles, orphans) = tokio::try_join!(
        limit.run(read_provider(ctx, caller, issuer)),
        read_roles(c, ctx, caller, limit),
        read_orphans(c, ctx, caller, issuer.as_str(), limit),
    )?;
    Ok(ObservedAccount {
        caller: caller.clone(),
        provider_arn,
        provider,
        roles: roles.into_iter().collect(),
        orphans,
    })
}

/// Every account read, `concurrency` accounts at a time, each with at most `concurrency` reads
/// in flight of its own (AWS throttles each account on its own, so a fleet puts no more
/// pressure on any one account than a single account does), in the plan's order.
async fn read_accounts(
    c: &Config,
    reached: &[(AwsContext, Caller)],
    issuer: &IssuerUrl,
    concurrency: usize,
) -> Result<Vec<ObservedAccount>, Error> {
    use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
    stream::iter(reached)
        .map(|(ctx, caller)| async move {
            read_account(c, ctx, caller, issuer, &Limit::new(concurrency)).await
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await
}

/// What `apply` read: the observed values, the adapters, and the thumbprint fetched (if any).
pub struct ApplyRead {
    /// The observed values.
    pub observed: ObservedCluster,
    /// The adapters.
    pub handles: Handles,
    /// The thumbprint taken from the issuer's chain (`thumbprints = ["auto"]`).
    pub fetched_thumbprint: Option<HostThumbprint>,
    /// The store, described.
    pub target: String,
}

/// Reads everything `apply` needs: keys, inline policies, accounts, the document target, the
/// thumbprint, and each account's provider and roles. A key the directory lacks is generated
/// with `rng` (the documents are planned with it); for a plan that will not be applied
/// (`plan_only`) its kid is not shown, since applying later generates another.
pub async fn apply(
    c: &Config,
    aws: &AwsSource,
    rng: &mut (impl RngCore + CryptoRng),
    now: u64,
    plan_only: bool,
) -> Result<ApplyRead, Error> {
    let (set, keys, new_key) = read_keys(c, rng, now, plan_only)?;
    let inline = read_inline(c)?;
    let base = aws.context().await?;
    check_pinned(c, &base.region)?;
    let (spec, cdn_read) = cdn_target(c, base).await?;
    let issuer = documents::issuer_of(&spec, &base.region)?;
    let limit = Limit::new(c.aws.concurrency);
    // Three independent reads side by side: the bucket and its documents; the accounts (reached,
    // then each one's provider and roles); the issuer host's thumbprint.
    let (prepared, (reached, accounts), (thumbprints, thumbprint_note, fetched_thumbprint)) = tokio::try_join!(
        documents::prepare(&set, &spec, aws),
        async {
            let reached = reach_accounts(c, base).await?;
            let accounts = read_accounts(c, &reached, &issuer, c.aws.concurrency).await?;
            Ok::<_, Error>((reached, accounts))
        },
        read_thumbprints(c, &issuer),
    )?;
    debug_assert_eq!(prepared.issuer, issuer);
    let issuer = prepared.issuer.clone();
    let contexts = reached;
    let target = prepared.store.describe();
    let observed = ObservedCluster {
        issuer,
        keys,
        documents: prepared.observed(),
        new_kids: prepared.new_kids.iter().cloned().collect(),
        thumbprints,
        thumbprint_note,
        inline,
        accounts,
        cdn: cdn_read.as_ref().map(|(o, _)| o.clone()),
    };
    let mut observed = observed;
    if let (Some((o, _)), Some(i)) = (&cdn_read, Some(&observed.issuer)) {
        if let Some(claim) = super::cdn::bucket_claim(o, i) {
            observed.documents.bucket_changes.insert(0, claim);
        }
    }
    Ok(ApplyRead {
        observed,
        handles: Handles {
            new_key,
            key_dir: None,
            store: Some(prepared.store),
            accounts: contexts,
            cdn: cdn_read.map(|(_, h)| h),
            limit,
        },
        fetched_thumbprint,
        target,
    })
}

/// The target spec of the file and, with a `[cdn]`, CloudFront as read: the documents then name
/// the CDN's issuer and the bucket stays private.
async fn cdn_target(
    c: &Config,
    base: &AwsContext,
) -> Result<
    (
        TargetSpec,
        Option<(super::plan::ObservedCdn, super::cdn::CdnHandle)>,
    ),
    Error,
> {
    let mut spec = target_spec(c);
    let (Some(cdn), Target::S3(l)) = (&c.cdn, &c.target) else {
        return Ok((spec, None));
    };
    let store = S3Store::new(base.s3(l.bucket.contains('.')), l.clone(), false);
    let (o, h) = super::cdn::read(
        cdn,
        l,
        base,
        &store,
        c.s3.create_bucket,
        &c.tags,
        &c.jwks_path,
        &c.s3.cache_control,
    )
    .await?;
    let Some(issuer) = super::cdn::issuer_of(&o, cdn)? else {
        refuse!("no CloudFront distribution serves {l} yet: apply creates it first (`irsa-issuer apply -f FILE`), then plans the documents, providers and roles for its issuer");
    };
    super::cdn::check_issuer(c.issuer.as_ref(), &issuer)?;
    spec.issuer = Some(issuer);
    spec.public_access = PublicAccess::None;
    spec.cdn = None;
    Ok((spec, Some((o, h))))
}

/// The issuer `destroy` tears down and, with a `[cdn]`, CloudFront as read. Without an alias
/// and a distribution, the issuer is the one the published discovery document names.
async fn destroy_issuer(
    c: &Config,
    base: &AwsContext,
) -> Result<
    (
        IssuerUrl,
        Option<(super::plan::ObservedCdnTeardown, super::cdn::CdnHandle)>,
    ),
    Error,
> {
    let (Some(cdn), Target::S3(l)) = (&c.cdn, &c.target) else {
        return Ok((issuer_of(c, &base.region)?, None));
    };
    let (o, h) = super::cdn::read_teardown(cdn, l, base).await?;
    let host = cdn
        .alias
        .clone()
        .or_else(|| o.distribution.as_ref().map(|d| d.domain.clone()));
    let issuer = match (&c.issuer, host) {
        (Some(i), _) => i.clone(),
        (None, Some(h)) => {
            crate::aws::cdn::issuer(&h, l).map_err(|e| Error::Refused(e.to_string()))?
        }
        (None, None) => {
            let store = S3Store::new(base.s3(l.bucket.contains('.')), l.clone(), false);
            let key = if l.prefix.is_empty() {
                DISCOVERY_PATH.to_string()
            } else {
                format!("{}/{DISCOVERY_PATH}", l.prefix)
            };
            // The published discovery document names it; once that is gone, the bucket's owner
            // tag does (a destroy run again after it finished, or resumed after the documents).
            let named = match store.bucket_region().await? {
                Some(_) => match store.get(&key).await?.and_then(|o| {
                    serde_json::from_slice::<serde_json::Value>(&o.body)
                        .ok()?
                        .get("issuer")?
                        .as_str()
                        .map(str::to_string)
                }) {
                    Some(i) => Some(i),
                    None => store
                        .bucket_state(true)
                        .await?
                        .tags
                        .get(crate::aws::owner::OWNER_TAG)
                        .cloned(),
                },
                None => None,
            };
            match named {
                Some(i) => IssuerUrl::parse(&i, false)?,
                None => refuse!("no CloudFront distribution serves {l} and no discovery document names its issuer: set `issuer` in the file to destroy what trusts it"),
            }
        }
    };
    Ok((issuer, Some((o, h))))
}

/// The store the file's target names, for `destroy` (which never creates a bucket).
fn destroy_store(c: &Config, base: &AwsContext) -> (AnyStore, Option<S3Location>) {
    match &c.target {
        Target::S3(l) => (
            AnyStore::S3(S3Store::new(
                base.s3(l.bucket.contains('.')),
                l.clone(),
                c.s3.public_access == PublicAccess::Acl,
            )),
            Some(l.clone()),
        ),
        Target::Dir(d) => (AnyStore::Dir(crate::publish::dir::DirStore::new(d)), None),
    }
}

/// The two documents that exist (discovery first, with how they are shown), and the bucket.
async fn read_teardown_target(
    c: &Config,
    issuer: &str,
    store: &AnyStore,
    loc: Option<&S3Location>,
) -> Result<(Vec<(String, String)>, Option<ObservedBucket>), Error> {
    let prefix = loc.map(|l| l.prefix.clone()).unwrap_or_default();
    let key = |rel: &str| {
        if prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{prefix}/{rel}")
        }
    };
    let ours = vec![key(DISCOVERY_PATH), key(c.jwks_path.as_str())];
    let bucket_exists = match store {
        AnyStore::S3(s) => s.bucket_region().await?.is_some(),
        AnyStore::Dir(_) => true,
    };
    let mut objects = Vec::new();
    if bucket_exists {
        for k in &ours {
            if store.get(k).await?.is_some() {
                let shown = match loc {
                    Some(l) => format!("s3://{}/{k}", l.bucket),
                    None => k.clone(),
                };
                objects.push((k.clone(), shown));
            }
        }
    }
    let (AnyStore::S3(s3), Some(l), true) = (store, loc, bucket_exists) else {
        return Ok((objects, None));
    };
    let state = s3.bucket_state(true).await?;
    let others = s3.keys_besides(&ours).await?;
    let statement_id = bucket::statement_id(l);
    let bucket = ObservedBucket {
        name: l.bucket.clone(),
        owner: crate::aws::owner::Owner::of(&state.tags, issuer),
        others: others.len(),
        policy_without_ours: bucket::remove_statement(
            &l.bucket,
            state.policy.as_deref(),
            &statement_id,
        )?,
        statement_id,
        state,
    };
    Ok((objects, Some(bucket)))
}

/// What `destroy` read.
pub struct DestroyRead {
    /// The issuer.
    pub issuer: IssuerUrl,
    /// The observed values.
    pub observed: ObservedTeardown,
    /// The adapters.
    pub handles: Handles,
    /// The store, described.
    pub target: String,
}

/// Reads everything `destroy` may delete: each account's roles and provider, the documents,
/// the bucket, and (with `delete_keys`) the key directory.
pub async fn destroy(
    c: &Config,
    aws: &AwsSource,
    delete_keys: bool,
    delete_bucket: bool,
) -> Result<DestroyRead, Error> {
    let base = aws.context().await?;
    check_pinned(c, &base.region)?;
    let reached = reach_accounts(c, base).await?;
    let (issuer, cdn_teardown) = destroy_issuer(c, base).await?;
    let issuer_text = issuer.as_str().to_string();
    let limit = Limit::new(c.aws.concurrency);
    let accounts: Vec<ObservedForDestroy> = read_accounts(c, &reached, &issuer, c.aws.concurrency)
        .await?
        .into_iter()
        .map(|a| {
            let mut roles: Vec<(String, RoleState)> = a
                .roles
                .into_iter()
                .filter_map(|(name, state)| state.map(|s| (name, s)))
                .collect();
            // In the file's order, as the plan lists them.
            let order: Vec<&str> = roles_in(c, &a.caller.account)
                .map(|r| r.name.as_str())
                .collect();
            roles.sort_by_key(|(name, _)| order.iter().position(|n| n == name));
            // Roles of this issuer that the file no longer names go too.
            roles.extend(a.orphans);
            ObservedForDestroy {
                caller: a.caller,
                roles,
                provider_arn: a.provider_arn,
                provider: a.provider,
                bucket_trusts: Vec::new(),
            }
        })
        .collect();
    let contexts = reached;
    let (store, loc) = destroy_store(c, base);
    let mut accounts = accounts;
    if let (true, Some(l)) = (delete_bucket, &loc) {
        let trusts = bucket_trusts(&contexts, &l.bucket, c.aws.concurrency).await?;
        for (a, t) in accounts.iter_mut().zip(trusts) {
            a.bucket_trusts = t.into_iter().filter(|arn| *arn != a.provider_arn).collect();
        }
    }
    let (objects, mut bucket) = read_teardown_target(c, &issuer_text, &store, loc.as_ref()).await?;
    if let (Some(b), Some(l), Some(_)) = (&mut bucket, &loc, &cdn_teardown) {
        // The distribution's statement goes with this prefix's public-read one, last.
        let sid = crate::aws::cdn::names(l).statement_id;
        let base_policy = match &b.policy_without_ours {
            Some(p) => p.clone(),
            None => b.state.policy.clone(),
        };
        if let Some(p) = bucket::remove_statement(&l.bucket, base_policy.as_deref(), &sid)? {
            b.policy_without_ours = Some(p);
            b.statement_id = sid;
        }
    }
    let mut keys = None;
    let mut key_dir = None;
    if let (true, Some(dir)) = (delete_keys, &c.keys.dir) {
        let kd = KeyDir::new(dir);
        keys = Some((dir.clone(), kd.load_state_or_empty()?));
        key_dir = Some(kd);
    }
    let target = store.describe();
    Ok(DestroyRead {
        issuer,
        observed: ObservedTeardown {
            issuer: issuer_text,
            accounts,
            objects,
            bucket,
            keys,
            delete_bucket,
            cdn: cdn_teardown.as_ref().map(|(o, _)| o.clone()),
        },
        handles: Handles {
            new_key: None,
            key_dir,
            store: Some(store),
            accounts: contexts,
            cdn: cdn_teardown.map(|(_, h)| h),
            limit,
        },
        target,
    })
}

/// Each account's providers whose URL is served from `bucket` in any spelling (ARNs), for
/// `destroy --delete-bucket`: while one remains, the bucket's name must not become free.
async fn bucket_trusts(
    reached: &[(AwsContext, Caller)],
    bucket: &str,
    concurrency: usize,
) -> Result<Vec<Vec<String>>, Error> {
    use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
    stream::iter(reached)
        .map(|(ctx, caller)| async move {
            let all = Providers::new(ctx.iam())
                .list()
                .await
                .map_err(|e| Error::from(e).in_account(&caller.account))?;
            Ok::<_, Error>(
                all.into_iter()
                    .filter(|(_, url)| crate::aws::names::url_served_from_bucket(url, bucket))
                    .map(|(arn, _)| arn)
                    .collect(),
            )
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await
}

/// Reads a file; `what` names it in the error (`key file`, `the CA file`).
pub(crate) fn read_file(path: &std::path::Path, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io {
        what: if what.is_empty() {
            format!("cannot read {}", path.display())
        } else {
            format!("cannot read {what} {}", path.display())
        },
        source,
    })
}

/// Reads every key from `files` and drops repeats.
pub fn load_keys(files: &[std::path::PathBuf]) -> Result<Vec<crate::oidc::keys::LoadedKey>, Error> {
    let mut all = Vec::new();
    for file in files {
        let data = read_file(file, "key file")?;
        all.extend(crate::oidc::keys::parse_pem(
            &data,
            &file.display().to_string(),
        )?);
    }
    Ok(crate::oidc::keys::dedup(all))
}
