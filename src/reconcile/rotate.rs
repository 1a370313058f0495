//! The rotation commands' operations: a new key staged (or the first one), the next key
//! promoted once the public issuer serves it, previous keys retired once their tokens have
//! expired. The state machine is [`crate::rotation::state`]; this module orders its steps with
//! the key directory and the publish so that a failure never leaves the published set without a
//! key that may have signed a live token.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::{CryptoRng, RngCore};
use serde::Serialize;
use zeroize::Zeroizing;

use super::documents::{publish, s3_issuer, Published, TargetSpec};
use super::{refuse, Error};
use crate::aws::names::S3Location;
use crate::aws::sdk::AwsSource;
use crate::oidc::documents::KeySet;
use crate::oidc::issuer::IssuerUrl;
use crate::oidc::keys::{self, Algorithm, KeyId, KeySpec, PublicKey};
use crate::rotation::apiserver::ApiServerFlags;
use crate::rotation::keydir::KeyDir;
use crate::rotation::state::{
    KeySetState, KeyState, NextStep, Retired, RotationError, TokenPolicy,
};
use crate::verify::checks::derived_kid;
use crate::verify::fetch::Fetcher;

/// Where the documents are republished after a change, if anywhere.
pub struct Republish<'a> {
    /// The target.
    pub target: &'a TargetSpec,
    /// AWS, for an S3 target.
    pub aws: &'a AwsSource,
    /// Drop published keys the key directory did not retire.
    pub allow_key_removal: bool,
}

/// The new key: generated with `rng`, or imported from a file holding exactly one key.
pub fn new_key(
    import: Option<&Path>,
    spec: KeySpec,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<(PublicKey, Option<Zeroizing<String>>), Error> {
    let Some(file) = import else {
        let g = keys::generate(spec, rng)?;
        return Ok((g.public, Some(g.private_pem)));
    };
    let data = super::read::read_file(file, "")?;
    let loaded = keys::parse_pem(&data, &file.display().to_string())?;
    let [one] = loaded.as_slice() else {
        refuse!(
            "{} holds {} keys: --import takes a file with exactly one",
            file.display(),
            loaded.len()
        );
    };
    // Keep the private PEM only when the file is a private key: then kube-apiserver can be
    // pointed at the copy in the key directory.
    let private = one
        .from_private
        .then(|| Zeroizing::new(String::from_utf8_lossy(&data).into_owned()));
    Ok((one.key.clone(), private))
}

/// The issuer: given, or derived from an s3:// target and the region.
pub async fn resolve_issuer(
    given: Option<&IssuerUrl>,
    to: Option<&str>,
    aws: &AwsSource,
) -> Result<IssuerUrl, Error> {
    if let Some(i) = given {
        return Ok(i.clone());
    }
    match to {
        Some(to) if to.starts_with("s3://") => {
            let loc = S3Location::parse(to)?;
            s3_issuer(&loc, None, &aws.context().await?.region)
        }
        _ => refuse!("--issuer URL is required (or an s3:// --to it can be derived from)"),
    }
}

fn published_set(
    kd: &KeyDir,
    state: &KeySetState,
    extra: Option<&PublicKey>,
) -> Result<KeySet, Error> {
    let mut keys = kd.published_keys(state)?;
    keys.extend(extra.cloned());
    Ok(KeySet::new(keys)?)
}

/// Publishes `set` where `to` says; a published key it drops must be one `state` retired (or
/// the target allows removals).
async fn republish(
    set: &KeySet,
    state: &KeySetState,
    to: Option<&Republish<'_>>,
) -> Result<Option<Published>, Error> {
    let Some(r) = to else {
        return Ok(None);
    };
    let may_remove = |kid: &str| r.allow_key_removal || state.was_retired(kid);
    Ok(Some(
        publish(set, r.target, r.aws, false, may_remove).await?,
    ))
}

/// A key added to the directory.
pub struct Added {
    /// The new key set.
    pub state: KeySetState,
    /// The publish, when a target was given.
    pub published: Option<Published>,
}

/// Adds `public` (and its private key, if any) as the first active key (`init`) or as the next
/// key (`stage`), then republishes. Every check runs before anything is written.
pub async fn add_key(
    kd: &KeyDir,
    public: &PublicKey,
    private: Option<&str>,
    init: bool,
    now: u64,
    to: Option<&Republish<'_>>,
) -> Result<Added, Error> {
    let mut state = if init {
        kd.load_state_or_empty()?
    } else {
        kd.load_state()?
    };
    if init {
        state.init(public.kid().clone(), public.alg(), now)?;
    } else {
        state.stage(public.kid().clone(), public.alg(), now)?;
    }
    // The new key is not on disk yet: the others are read from the directory.
    let others = KeySetState {
        keys: state
            .keys
            .iter()
            .filter(|k| k.kid != *public.kid())
            .cloned()
            .collect(),
        ..state.clone()
    };
    let set = published_set(kd, &others, Some(public))?;
    kd.store_key(public, private)?;
    kd.save_state(&state)?;
    let published = republish(&set, &state, to).await?;
    // Published with a target: promote's cache wait counts from now.
    if published.is_some() && state.mark_published(now) {
        kd.save_state(&state)?;
    }
    Ok(Added { state, published })
}

/// The kids the public issuer serves, fetched as STS would: discovery first, then its
/// jwks_uri, which must be https on the issuer's own host (where irsa-issuer publishes it). A
/// kid counts only when its key material is the key it names (kid = SHA-256 of the key), so a
/// JWKS that lists the right kid with other material does not pass.
pub async fn served_kids(
    fetcher: &Fetcher,
    issuer: &IssuerUrl,
) -> Result<(String, Vec<String>), Error> {
    let disc = fetcher.discovery(issuer).await?;
    if disc["issuer"].as_str() != Some(issuer.as_str()) {
        refuse!(
            "the discovery document at {} names issuer {}, not {issuer}",
            issuer.discovery_url(),
            disc["issuer"]
        );
    }
    let Some(jwks_uri) = disc["jwks_uri"].as_str().map(str::to_string) else {
        refuse!("the discovery document has no jwks_uri");
    };
    check_jwks_uri(&jwks_uri, issuer)?;
    let (body, _) = fetcher.get(&jwks_uri).await?;
    let jwks: serde_json::Value = serde_json::from_slice(&body).map_err(|source| Error::Json {
        what: format!("{jwks_uri} is not JSON"),
        source,
    })?;
    let mut kids = Vec::new();
    for k in jwks["keys"].as_array().into_iter().flatten() {
        let Some(kid) = k["kid"].as_str() else {
            continue;
        };
        match derived_kid(k) {
            Some(d) if d.as_str() == kid => kids.push(kid.to_string()),
            _ => refuse!(
                "{jwks_uri} serves kid {kid} with key material that is not that key (or not a usable RSA/EC key): republish the JWKS"
            ),
        }
    }
    Ok((jwks_uri, kids))
}

/// jwks_uri must be https on the issuer's host and port.
fn check_jwks_uri(jwks_uri: &str, issuer: &IssuerUrl) -> Result<(), Error> {
    let Ok(u) = url::Url::parse(jwks_uri) else {
        refuse!("the discovery document's jwks_uri `{jwks_uri}` is not a URL");
    };
    if u.scheme() != "https" {
        refuse!("the discovery document's jwks_uri `{jwks_uri}` is not https: STS only fetches keys over https; republish the documents");
    }
    let same = u.host_str() == Some(issuer.host())
        && u.port_or_known_default() == Some(issuer.port_or_default());
    if !same {
        refuse!("the discovery document's jwks_uri `{jwks_uri}` is on another host than the issuer {issuer}: irsa-issuer publishes the JWKS below the issuer, so promote does not follow it; republish the documents, or check the key by hand");
    }
    Ok(())
}

/// How `promote` waits for the public issuer.
pub struct Wait {
    /// Poll until it serves the key (else check once).
    pub wait: bool,
    /// For at most this long.
    pub timeout: Duration,
    /// This often.
    pub interval: Duration,
    /// The JWKS cache time: promote waits this long after the next key was first published.
    pub cache_max_age: u64,
}

/// A promotion.
pub struct Promoted {
    /// The new active key.
    pub kid: String,
    /// The new key set.
    pub state: KeySetState,
    /// kube-apiserver's flags for it.
    pub flags: ApiServerFlags,
    /// The publish, when a target was given.
    pub published: Option<Published>,
}

/// The issuer to promote on: given, or derived from an s3:// target.
pub struct IssuerChoice<'a> {
    /// `--issuer`.
    pub given: Option<&'a IssuerUrl>,
    /// `--to`.
    pub to: Option<&'a str>,
    /// AWS, to derive it from a bucket.
    pub aws: &'a AwsSource,
}

/// Makes the next key active, once the public issuer serves it (checked with `fetcher`, as STS
/// would fetch it) and has served it for at least the JWKS cache time. What each poll sees goes
/// to `progress`.
pub async fn promote(
    kd: &KeyDir,
    issuer: IssuerChoice<'_>,
    fetcher: &Fetcher,
    wait: &Wait,
    now: impl Fn() -> u64,
    to: Option<&Republish<'_>>,
    progress: &mut dyn FnMut(String),
) -> Result<Promoted, Error> {
    let mut state = kd.load_state()?;
    let Some(next) = state.next().cloned() else {
        return Err(RotationError::NothingStaged.into());
    };
    let issuer = &resolve_issuer(issuer.given, issuer.to, issuer.aws).await?;
    let deadline = Instant::now() + wait.timeout;
    loop {
        let waiting = match served_kids(fetcher, issuer).await {
            Ok((_, kids)) if kids.iter().any(|k| k == next.kid.as_str()) => {
                if state.mark_published(now()) {
                    kd.save_state(&state)?;
                }
                match state.promote(now(), wait.cache_max_age) {
                    Ok(()) => break,
                    Err(e @ RotationError::CacheWait { .. }) => Error::from(e),
                    Err(e) => return Err(e.into()),
                }
            }
            Ok((jwks_uri, kids)) => Error::Refused(format!(
                "refusing to promote: the public issuer does not serve key {} yet (its JWKS at {jwks_uri} has {}). Publish it (rotate stage --to ..., or let `serve --key-dir` reload), then promote again, or use --wait",
                next.kid,
                if kids.is_empty() { "no keys".to_string() } else { kids.join(", ") }
            )),
            Err(e) => Error::Refused(format!(
                "refusing to promote: cannot fetch the public issuer's keys: {}",
                super::chain(&e)
            )),
        };
        if !wait.wait || Instant::now() >= deadline {
            return Err(waiting);
        }
        progress(format!("waiting: {waiting}"));
        tokio::time::sleep(wait.interval).await;
    }
    let set = published_set(kd, &state, None)?;
    kd.save_state(&state)?;
    let published = republish(&set, &state, to).await?;
    let flags = flags_for(kd, &state, issuer);
    Ok(Promoted {
        kid: next.kid.to_string(),
        state,
        flags,
        published,
    })
}

/// What `confirm` recorded.
pub struct Confirmed {
    /// The active key the token is signed with.
    pub kid: String,
    /// The previous keys whose retire clock started now.
    pub started: Vec<KeyId>,
    /// The key set.
    pub state: KeySetState,
}

/// Records that the cluster signs with the active key, shown by `token` (a JWT the cluster
/// issued): its kid must be the active key's and its signature must verify with that key.
pub fn confirm(kd: &KeyDir, token: &str, now: u64) -> Result<Confirmed, Error> {
    let mut state = kd.load_state()?;
    let Some(active) = state.active().cloned() else {
        return Err(RotationError::Empty.into());
    };
    let t = crate::oidc::token::Token::decode(token.trim())
        .map_err(|e| Error::Refused(format!("not a service-account token: {e}")))?;
    let kid = t.kid().unwrap_or_default().to_string();
    if kid == active.kid.as_str() {
        let key = kd
            .published_keys(&state)?
            .into_iter()
            .find(|k| k.kid() == &active.kid);
        let Some(key) = key else {
            refuse!("the active key {} is not in the key directory", active.kid);
        };
        let jwk = serde_json::to_value(crate::oidc::documents::Jwk::from_key(&key))
            .map_err(|e| Error::Refused(e.to_string()))?;
        t.verify(&jwk).map_err(|e| {
            Error::Refused(format!(
                "the token names the active key {kid} but its signature does not verify with it ({e}): it was not issued by this cluster's kube-apiserver"
            ))
        })?;
    }
    let started = state.confirm(&kid, now)?;
    kd.save_state(&state)?;
    Ok(Confirmed {
        kid,
        started,
        state,
    })
}

/// A retirement.
pub struct RetireDone {
    /// What was removed and kept.
    pub retired: Retired,
    /// The publish, when a target was given.
    pub published: Option<Published>,
}

/// Takes previous keys whose tokens have all expired (all of them with `force`) out of the key
/// set and the published JWKS. The smaller set is published first: if that fails, the key
/// directory is left as it was. Their files stay: kube-apiserver's flags still name them, and
/// it refuses to start when a `--service-account-key-file` is missing; `prune` deletes them
/// once the flags no longer do.
pub async fn retire(
    kd: &KeyDir,
    policy: &TokenPolicy,
    force: bool,
    now: u64,
    to: Option<&Republish<'_>>,
) -> Result<RetireDone, Error> {
    let mut state = kd.load_state()?;
    let retired = state.retire(now, policy, force)?;
    let set = published_set(kd, &state, None)?;
    let published = republish(&set, &state, to).await?;
    kd.save_state(&state)?;
    Ok(RetireDone { retired, published })
}

/// kube-apiserver configurations looked at by `prune` when present: kubeadm's static pod and
/// k3s' config file.
pub const DEFAULT_APISERVER_CONFIGS: &[&str] = &[
    "/etc/kubernetes/manifests/kube-apiserver.yaml",
    "/etc/rancher/k3s/config.yaml",
];

/// What `prune` did.
#[derive(Debug, Clone, Serialize)]
pub struct Pruned {
    /// Files deleted.
    pub removed: Vec<PathBuf>,
    /// kube-apiserver configurations checked.
    pub checked: Vec<PathBuf>,
}

/// The files retired keys left in the key directory.
pub fn retired_files(kd: &KeyDir) -> Result<Vec<PathBuf>, Error> {
    let state = kd.load_state()?;
    Ok(state
        .retired
        .iter()
        .flat_map(|r| [kd.public_path(&r.kid), kd.private_path(&r.kid)])
        .filter(|p| p.exists())
        .collect())
}

/// Deletes the files of retired keys, refusing while a kube-apiserver configuration among
/// `configs` (those that exist) still names one: kube-apiserver refuses to start without a
/// `--service-account-key-file` it is given.
pub fn prune(kd: &KeyDir, configs: &[PathBuf]) -> Result<Pruned, Error> {
    let files = retired_files(kd)?;
    let mut checked = Vec::new();
    for c in configs.iter().filter(|c| c.exists()) {
        let text = std::fs::read_to_string(c).map_err(|source| Error::Io {
            what: format!(
                "cannot read the kube-apiserver configuration {}",
                c.display()
            ),
            source,
        })?;
        let abs = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
        let named: Vec<String> = files
            .iter()
            .filter(|f| text.contains(&*abs(f).to_string_lossy()))
            .map(|f| f.display().to_string())
            .collect();
        if !named.is_empty() {
            refuse!(
                "{} still names {}: kube-apiserver would not start without it. Restart every kube-apiserver with the flags `irsa-issuer apiserver-flags` prints now (they leave retired keys out), then prune",
                c.display(),
                named.join(", ")
            );
        }
        checked.push(c.clone());
    }
    for f in &files {
        std::fs::remove_file(f).map_err(|source| Error::Io {
            what: format!("cannot remove {}", f.display()),
            source,
        })?;
    }
    Ok(Pruned {
        removed: files,
        checked,
    })
}

/// One key as `status` shows it (times in Unix seconds).
#[derive(Debug, Clone, Serialize)]
pub struct KeyStatus {
    /// Its kid.
    pub kid: String,
    /// Its algorithm.
    pub alg: Algorithm,
    /// Its state.
    pub state: KeyState,
    /// When it was created.
    pub created: u64,
    /// When it became active.
    pub promoted: Option<u64>,
    /// When it stopped being active.
    pub demoted: Option<u64>,
    /// A previous key: when the cluster was shown to sign with its successor (`rotate
    /// confirm`); its retire clock starts here.
    pub signing_ended: Option<u64>,
    /// From when it may be removed: `signing_ended` + max token age + skew; `None` until
    /// `confirm` (kube-apiserver may still sign with it).
    pub removable_from: Option<u64>,
    /// Whether its private key is in the directory.
    pub private_key: bool,
}

/// Each key's state and dates, and the next step.
pub fn status(
    kd: &KeyDir,
    policy: &TokenPolicy,
    now: u64,
) -> Result<(Vec<KeyStatus>, NextStep), Error> {
    let state = kd.load_state()?;
    let keys = state
        .keys
        .iter()
        .map(|k| KeyStatus {
            kid: k.kid.to_string(),
            alg: k.alg,
            state: k.state,
            created: k.created,
            promoted: k.promoted,
            demoted: k.demoted,
            signing_ended: k.signing_ended,
            removable_from: k.signing_ended.map(|e| policy.safe_to_remove_at(e)),
            private_key: kd.private_path(&k.kid).exists(),
        })
        .collect();
    Ok((keys, state.next_step(now, policy)))
}

/// kube-apiserver's flags for the key directory's current state.
pub fn flags_for(kd: &KeyDir, state: &KeySetState, issuer: &IssuerUrl) -> ApiServerFlags {
    let abs = |p: PathBuf| std::path::absolute(&p).unwrap_or(p).display().to_string();
    let signing = match state.active() {
        Some(k) if kd.private_path(&k.kid).exists() => abs(kd.private_path(&k.kid)),
        Some(k) => format!(
            "<private key of {} (kept outside {})>",
            k.kid,
            kd.root().display()
        ),
        None => "<no active key>".into(),
    };
    let publics: Vec<String> = state
        .keys
        .iter()
        .map(|k| abs(kd.public_path(&k.kid)))
        .collect();
    ApiServerFlags::new(issuer, &signing, &publics)
}

/// kube-apiserver's flags for the key directory at `dir`.
pub fn apiserver_flags(dir: &Path, issuer: &IssuerUrl) -> Result<ApiServerFlags, Error> {
    let kd = KeyDir::new(dir);
    let state = kd.load_state()?;
    Ok(flags_for(&kd, &state, issuer))
}
