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
use crate::oidc::keys::{self, Algorithm, KeySpec, PublicKey};
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
/// would fetch it).
pub async fn promote(
    kd: &KeyDir,
    issuer: IssuerChoice<'_>,
    fetcher: &Fetcher,
    wait: &Wait,
    now: impl Fn() -> u64,
    to: Option<&Republish<'_>>,
) -> Result<Promoted, Error> {
    let mut state = kd.load_state()?;
    let Some(next) = state.next().cloned() else {
        return Err(RotationError::NothingStaged.into());
    };
    let issuer = &resolve_issuer(issuer.given, issuer.to, issuer.aws).await?;
    let deadline = Instant::now() + wait.timeout;
    loop {
        let result = served_kids(fetcher, issuer).await;
        match &result {
            Ok((_, kids)) if kids.iter().any(|k| k == next.kid.as_str()) => break,
            _ if wait.wait && Instant::now() < deadline => {
                tracing::info!(kid = %next.kid, "the public issuer does not serve the next key yet; waiting");
                tokio::time::sleep(wait.interval).await;
            }
            Ok((jwks_uri, kids)) => refuse!(
                "refusing to promote: the public issuer does not serve key {} yet (its JWKS at {jwks_uri} has {}). Publish it (rotate stage --to ..., or let `serve --key-dir` reload), wait for caches, then promote again, or use --wait",
                next.kid,
                if kids.is_empty() { "no keys".to_string() } else { kids.join(", ") }
            ),
            Err(e) => refuse!("refusing to promote: cannot fetch the public issuer's keys: {}", super::chain(e)),
        }
    }
    state.promote(now())?;
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

/// A retirement.
pub struct RetireDone {
    /// What was removed and kept.
    pub retired: Retired,
    /// The publish, when a target was given.
    pub published: Option<Published>,
}

/// Removes previous keys whose tokens have all expired (all of them with `force`). The smaller
/// set is published first: if that fails, the key directory is left as it was.
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
    for kid in &retired.removed {
        kd.remove_key(kid)?;
    }
    Ok(RetireDone { retired, published })
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
    /// From when it may be removed.
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
            removable_from: k.demoted.map(|d| policy.safe_to_remove_at(d)),
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
