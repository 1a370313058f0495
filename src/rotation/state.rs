//! The key-set state machine behind safe rotation. Pure: every transition takes `now`.
//!
//! States: `next` (published, not yet signing) → `active` (kube-apiserver is told to sign with
//! it) → `previous` (not to sign any more, still published) → retired. The invariant: at every
//! moment, the published set holds every key that may have signed a token that is still valid.
//!
//! Two clocks make that hold. `promote` requires the next key to have been published for at
//! least the JWKS cache time, so no relying party meets a token whose key it has not fetched.
//! And a previous key keeps signing until kube-apiserver is restarted with the new flags (on
//! every control-plane node), which irsa-issuer cannot see: so its retire clock starts only at
//! `confirm`, when a token the cluster issued shows that it signs with the new key.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::oidc::keys::{Algorithm, KeyId};

/// Seconds since the Unix epoch (the clock is the caller's).
pub type Timestamp = u64;

/// A timestamp as RFC 3339 (UTC), for messages.
pub fn rfc3339(t: Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(t).unwrap_or(i64::MAX))
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published, not yet signing.
    Next,
    /// kube-apiserver signs with it.
    Active,
    /// No longer signing; published until every token it signed has expired.
    Previous,
}

/// One key's record in `keyset.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Its kid.
    pub kid: KeyId,
    /// Its algorithm.
    pub alg: Algorithm,
    /// Its state.
    pub state: KeyState,
    /// When it was created or imported.
    pub created: Timestamp,
    /// When it became active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted: Option<Timestamp>,
    /// When it stopped being active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demoted: Option<Timestamp>,
    /// When it was first known to be published (stage with a target, or promote's first sight
    /// of it on the public issuer): promote waits the JWKS cache time from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Timestamp>,
    /// The active key: when a token the cluster issued showed it signs with it (`confirm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed: Option<Timestamp>,
    /// A previous key: when the cluster was shown to sign with its successor (`confirm`), so
    /// that no token issued later carries it. Its retire clock starts here, not at `demoted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_ended: Option<Timestamp>,
}

/// How long tokens live, for retirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPolicy {
    /// The longest lifetime of a token kube-apiserver issues (24h: the longest
    /// kubelet-projected token a default cluster keeps).
    pub max_token_age: Duration,
    /// Clock skew allowed between kube-apiserver and relying parties.
    pub skew: Duration,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            max_token_age: Duration::from_secs(24 * 3600),
            skew: Duration::from_secs(300),
        }
    }
}

impl TokenPolicy {
    /// When a key demoted at `demoted` may be removed.
    pub fn safe_to_remove_at(&self, demoted: Timestamp) -> Timestamp {
        demoted + self.max_token_age.as_secs() + self.skew.as_secs()
    }
}

/// Why a transition was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RotationError {
    /// No keys yet.
    #[error("the key directory has no keys yet: create the first one with `irsa-issuer rotate init --key-dir DIR`")]
    Empty,
    /// init on a non-empty set.
    #[error("the key directory already has keys: use `rotate stage` to add the next one")]
    NotEmpty,
    /// A next key already exists.
    #[error(
        "key {0} is already staged as next: promote it (`rotate promote`) before staging another"
    )]
    AlreadyStaged(KeyId),
    /// The kid is already in the set.
    #[error("key {0} is already in the key set")]
    Duplicate(KeyId),
    /// Nothing staged.
    #[error("no key is staged: run `irsa-issuer rotate stage` first, and let it reach the relying parties")]
    NothingStaged,
    /// Nothing to retire.
    #[error("no previous key to retire")]
    NothingToRetire,
    /// The staged key was never seen published.
    #[error("refusing to promote: key {kid} has not been seen published yet; publish it (rotate stage --to, or serve --key-dir), then promote (which checks the public issuer)")]
    NotPublished {
        /// The key.
        kid: KeyId,
    },
    /// The staged key has not been published for the JWKS cache time yet.
    #[error("refusing to promote: key {kid} is published since {}, and relying parties (STS among them) may keep the JWKS they fetched before for up to {cache} s; promote from {} on (or use --wait)", rfc3339(*.published), rfc3339(*.ready_at))]
    CacheWait {
        /// The key.
        kid: KeyId,
        /// When it was first seen published.
        published: Timestamp,
        /// The cache time.
        cache: u64,
        /// When promote may proceed.
        ready_at: Timestamp,
    },
    /// A token signed by another key than the active one.
    #[error("the token is signed with key {presented}, not with the active key {active}: kube-apiserver does not sign with the new key yet. Restart every kube-apiserver with the flags `irsa-issuer apiserver-flags` prints, then confirm with a token issued after that (`kubectl create token default`)")]
    NotSigningYet {
        /// The token's kid.
        presented: String,
        /// The active key.
        active: KeyId,
    },
    /// A previous key whose successor is not confirmed.
    #[error("retiring now could break live tokens: key {kid} stays in use until every kube-apiserver has been restarted with the new flags, which irsa-issuer cannot see. After restarting them, run `irsa-issuer rotate confirm --token FILE` with a token the cluster issued (`kubectl create token default`); retire becomes safe max token age + clock skew after that. Or pass --force to retire anyway")]
    NotConfirmed {
        /// The key.
        kid: KeyId,
    },
    /// Too early.
    #[error("retiring now could break live tokens: the cluster was shown to stop signing with key {kid} at {}, and tokens it signed may be valid until {} (that + max token age + clock skew), {wait} s from now. Run again after that, or pass --force to retire anyway", rfc3339(*.demoted), rfc3339(*.safe_at))]
    TooEarly {
        /// The key.
        kid: KeyId,
        /// When the cluster was shown to sign with its successor.
        demoted: Timestamp,
        /// When it becomes safe.
        safe_at: Timestamp,
        /// Seconds left.
        wait: u64,
    },
}

/// The key set's records, as `keyset.json` holds them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeySetState {
    /// Format version.
    pub version: u32,
    /// The keys, oldest first.
    pub keys: Vec<KeyRecord>,
    /// Keys retired from this set, oldest first: once published, now deliberately not. A
    /// publish may drop these from the JWKS; any other published key it would drop is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<RetiredKey>,
}

/// A key `retire` took out of the set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredKey {
    /// Its kid.
    pub kid: KeyId,
    /// Its algorithm.
    pub alg: Algorithm,
    /// When it was retired.
    pub retired: Timestamp,
}

/// What `retire` removed and what it kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retired {
    /// Keys removed.
    pub removed: Vec<KeyId>,
    /// Previous keys kept because they may still verify live tokens.
    pub kept: Vec<KeyId>,
    /// Whether --force removed keys that were not yet safe to remove.
    pub forced: bool,
}

impl KeySetState {
    /// The active key.
    pub fn active(&self) -> Option<&KeyRecord> {
        self.keys.iter().find(|k| k.state == KeyState::Active)
    }

    /// The staged key.
    pub fn next(&self) -> Option<&KeyRecord> {
        self.keys.iter().find(|k| k.state == KeyState::Next)
    }

    /// Whether `kid` was retired from this set.
    pub fn was_retired(&self, kid: &str) -> bool {
        self.retired.iter().any(|r| r.kid.as_str() == kid)
    }

    /// Every key that is published (all of them: next, active and previous).
    pub fn published(&self) -> Vec<&KeyRecord> {
        self.keys.iter().collect()
    }

    /// Starts a set with `kid` active (a new cluster: no token exists yet).
    pub fn init(
        &mut self,
        kid: KeyId,
        alg: Algorithm,
        now: Timestamp,
    ) -> Result<(), RotationError> {
        if !self.keys.is_empty() {
            return Err(RotationError::NotEmpty);
        }
        self.version = 1;
        self.keys.push(KeyRecord {
            kid,
            alg,
            state: KeyState::Active,
            created: now,
            promoted: Some(now),
            demoted: None,
            published: None,
            confirmed: None,
            signing_ended: None,
        });
        Ok(())
    }

    /// Adds `kid` as the next key.
    pub fn stage(
        &mut self,
        kid: KeyId,
        alg: Algorithm,
        now: Timestamp,
    ) -> Result<(), RotationError> {
        if self.keys.is_empty() {
            return Err(RotationError::Empty);
        }
        if let Some(n) = self.next() {
            return Err(RotationError::AlreadyStaged(n.kid.clone()));
        }
        if self.keys.iter().any(|k| k.kid == kid) {
            return Err(RotationError::Duplicate(kid));
        }
        self.keys.push(KeyRecord {
            kid,
            alg,
            state: KeyState::Next,
            created: now,
            promoted: None,
            demoted: None,
            published: None,
            confirmed: None,
            signing_ended: None,
        });
        Ok(())
    }

    /// Records that the staged key is published, as of `now`, unless already known; returns
    /// whether the state changed.
    pub fn mark_published(&mut self, now: Timestamp) -> bool {
        match self.keys.iter_mut().find(|k| k.state == KeyState::Next) {
            Some(k) if k.published.is_none() => {
                k.published = Some(now);
                true
            }
            _ => false,
        }
    }

    /// Records that the cluster signs with the active key, shown by a token carrying
    /// `token_kid`: the previous keys stop signing as of `now`, and their retire clocks start.
    /// Returns the keys whose clocks started.
    pub fn confirm(
        &mut self,
        token_kid: &str,
        now: Timestamp,
    ) -> Result<Vec<KeyId>, RotationError> {
        let Some(active) = self.active() else {
            return Err(RotationError::Empty);
        };
        if active.kid.as_str() != token_kid {
            return Err(RotationError::NotSigningYet {
                presented: token_kid.to_string(),
                active: active.kid.clone(),
            });
        }
        let mut started = Vec::new();
        for k in &mut self.keys {
            match k.state {
                KeyState::Active => {
                    k.confirmed.get_or_insert(now);
                }
                KeyState::Previous if k.signing_ended.is_none() => {
                    k.signing_ended = Some(now);
                    started.push(k.kid.clone());
                }
                _ => {}
            }
        }
        Ok(started)
    }

    /// next → active, active → previous, once the next key has been published for at least
    /// `cache_max_age` seconds (the caller checks first that the public issuer serves it).
    pub fn promote(&mut self, now: Timestamp, cache_max_age: u64) -> Result<(), RotationError> {
        let Some(next) = self.next() else {
            return Err(RotationError::NothingStaged);
        };
        let Some(published) = next.published else {
            return Err(RotationError::NotPublished {
                kid: next.kid.clone(),
            });
        };
        let ready_at = published + cache_max_age;
        if now < ready_at {
            return Err(RotationError::CacheWait {
                kid: next.kid.clone(),
                published,
                cache: cache_max_age,
                ready_at,
            });
        }
        for k in &mut self.keys {
            match k.state {
                KeyState::Active => {
                    k.state = KeyState::Previous;
                    k.demoted = Some(now);
                }
                KeyState::Next => {
                    k.state = KeyState::Active;
                    k.promoted = Some(now);
                }
                KeyState::Previous => {}
            }
        }
        Ok(())
    }

    /// Removes the previous keys whose tokens have all expired; with `force`, all previous keys.
    pub fn retire(
        &mut self,
        now: Timestamp,
        policy: &TokenPolicy,
        force: bool,
    ) -> Result<Retired, RotationError> {
        let previous: Vec<&KeyRecord> = self
            .keys
            .iter()
            .filter(|k| k.state == KeyState::Previous)
            .collect();
        if previous.is_empty() {
            return Err(RotationError::NothingToRetire);
        }
        // A previous key is safe to remove once the cluster was shown to stop signing with it
        // (confirm) and every token it signed until then has expired.
        let is_safe = |k: &KeyRecord| {
            k.signing_ended
                .is_some_and(|e| policy.safe_to_remove_at(e) <= now)
        };
        let unsafe_newest = previous
            .iter()
            .filter(|k| !is_safe(k))
            .max_by_key(|k| (k.signing_ended.is_none(), k.signing_ended, k.demoted));
        if let (Some(k), false) = (unsafe_newest, force) {
            if previous.iter().all(|k| !is_safe(k)) {
                let Some(ended) = k.signing_ended else {
                    return Err(RotationError::NotConfirmed { kid: k.kid.clone() });
                };
                let safe_at = policy.safe_to_remove_at(ended);
                return Err(RotationError::TooEarly {
                    kid: k.kid.clone(),
                    demoted: ended,
                    safe_at,
                    wait: safe_at - now,
                });
            }
        }
        let forced = force && unsafe_newest.is_some();
        let (mut removed, mut kept) = (Vec::new(), Vec::new());
        let mut retired = Vec::new();
        self.keys.retain(|k| {
            if k.state != KeyState::Previous {
                return true;
            }
            if force || is_safe(k) {
                removed.push(k.kid.clone());
                retired.push(RetiredKey {
                    kid: k.kid.clone(),
                    alg: k.alg,
                    retired: now,
                });
                false
            } else {
                kept.push(k.kid.clone());
                true
            }
        });
        self.retired.extend(retired);
        Ok(Retired {
            removed,
            kept,
            forced,
        })
    }

    /// The next step of a rotation, and from when it is safe.
    pub fn next_step(&self, now: Timestamp, policy: &TokenPolicy) -> NextStep {
        if self.keys.is_empty() {
            return NextStep {
                command: "rotate init",
                safe_from: None,
                why: "no key yet".into(),
            };
        }
        if let Some(n) = self.next() {
            return NextStep {
                command: "rotate promote",
                safe_from: None,
                why: format!("key {} is staged; promote checks that the public issuer serves it and waits the JWKS cache time from its publication{}", n.kid,
                    n.published.map(|p| format!(" ({})", rfc3339(p))).unwrap_or_default()),
            };
        }
        let previous: Vec<&KeyRecord> = self
            .keys
            .iter()
            .filter(|k| k.state == KeyState::Previous)
            .collect();
        if previous.iter().any(|k| k.signing_ended.is_none()) {
            return NextStep {
                command: "rotate confirm",
                safe_from: None,
                why: "restart every kube-apiserver with the new flags (`irsa-issuer apiserver-flags`), then confirm with a token the cluster issued after that (`kubectl create token default | irsa-issuer rotate confirm --token -`): the retire clock starts there".into(),
            };
        }
        match previous.iter().filter_map(|k| k.signing_ended).max() {
            Some(e) => {
                let at = policy.safe_to_remove_at(e);
                NextStep {
                    command: "rotate retire",
                    safe_from: Some(at),
                    why: if at <= now {
                        "previous keys can no longer verify a live token".into()
                    } else {
                        format!(
                            "previous keys may still verify live tokens for {} s",
                            at - now
                        )
                    },
                }
            }
            None => NextStep {
                command: "rotate stage",
                safe_from: None,
                why: "one active key: stage the next one whenever you want to rotate".into(),
            },
        }
    }
}

/// What to run next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextStep {
    /// The command.
    pub command: &'static str,
    /// From when it is safe (Unix seconds), when it is time-bound.
    pub safe_from: Option<Timestamp>,
    /// Why.
    pub why: String,
}

/// Parses `90s`, `15m`, `24h`, `7d` (or plain seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: use e.g. 90s, 15m, 24h, 7d"))?;
    let unit_secs: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => {
            return Err(format!(
                "`{text}` is not a duration: use e.g. 90s, 15m, 24h, 7d"
            ))
        }
    };
    // Anything past a century is a typo, and a product past u64 would overflow.
    const MAX_SECS: u64 = 100 * 365 * 86400;
    match n.checked_mul(unit_secs) {
        Some(secs) if secs <= MAX_SECS => Ok(Duration::from_secs(secs)),
        _ => Err(format!(
            "`{text}` is too long a duration (more than 100 years): use e.g. 90s, 15m, 24h, 7d"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn kid(n: u32) -> KeyId {
        KeyId::from_spki_der(&n.to_be_bytes())
    }

    #[test]
    fn a_full_rotation() {
        let p = TokenPolicy {
            max_token_age: Duration::from_secs(100),
            skew: Duration::from_secs(10),
        };
        let cache = 30;
        let mut s = KeySetState::default();
        s.init(kid(1), Algorithm::RS256, 0).unwrap();
        assert_eq!(s.next_step(0, &p).command, "rotate stage");
        s.stage(kid(2), Algorithm::RS256, 10).unwrap();
        assert_eq!(
            s.stage(kid(3), Algorithm::RS256, 11),
            Err(RotationError::AlreadyStaged(kid(2)))
        );
        // Not seen published: no promote.
        assert_eq!(
            s.promote(12, cache),
            Err(RotationError::NotPublished { kid: kid(2) })
        );
        assert!(s.mark_published(15));
        assert!(!s.mark_published(16), "the first sighting counts");
        // The JWKS cache time from the first publication.
        assert!(matches!(
            s.promote(44, cache),
            Err(RotationError::CacheWait { ready_at: 45, .. })
        ));
        s.promote(45, cache).unwrap();
        assert_eq!(s.active().unwrap().kid, kid(2));
        // kube-apiserver still signs with key 1 until it restarts: no retire clock yet.
        assert_eq!(s.next_step(500, &p).command, "rotate confirm");
        assert_eq!(
            s.retire(10_000, &p, false),
            Err(RotationError::NotConfirmed { kid: kid(1) })
        );
        // A token signed with the old key does not confirm.
        assert!(matches!(
            s.confirm(kid(1).as_str(), 60),
            Err(RotationError::NotSigningYet { .. })
        ));
        assert_eq!(s.confirm(kid(2).as_str(), 70).unwrap(), vec![kid(1)]);
        assert_eq!(s.active().unwrap().confirmed, Some(70));
        // Confirming again moves nothing: the clock started at the first confirmation.
        assert_eq!(s.confirm(kid(2).as_str(), 90).unwrap(), Vec::<KeyId>::new());
        assert_eq!(s.active().unwrap().confirmed, Some(70));
        assert_eq!(s.next_step(70, &p).safe_from, Some(180));
        assert!(
            s.next_step(100, &p).why.contains("for 80 s"),
            "{}",
            s.next_step(100, &p).why
        );
        assert!(
            s.next_step(180, &p).why.contains("no longer verify"),
            "{}",
            s.next_step(180, &p).why
        );
        assert!(matches!(
            s.retire(100, &p, false),
            Err(RotationError::TooEarly { wait: 80, .. })
        ));
        let e = s.retire(179, &p, false).unwrap_err();
        assert_eq!(
            e,
            RotationError::TooEarly {
                kid: kid(1),
                demoted: 70,
                safe_at: 180,
                wait: 1
            }
        );
        assert!(e.to_string().contains("1970-01-01T00:03:00Z"), "{e}");
        // --force when nothing unsafe is left is not reported as forced.
        let mut f = s.clone();
        let r = f.retire(180, &p, true).unwrap();
        assert_eq!(r.removed, vec![kid(1)]);
        assert!(!r.forced, "--force removed nothing that was unsafe");
        let r = s.retire(180, &p, false).unwrap();
        assert_eq!(r.removed, vec![kid(1)]);
        assert!(!r.forced, "nothing unsafe was removed");
        assert_eq!(s.keys.len(), 1);
        assert_eq!(s.retired[0].kid, kid(1));
        // What lets a publish drop a key from the JWKS: only the retired one.
        assert!(s.was_retired(kid(1).as_str()));
        assert!(!s.was_retired(kid(2).as_str()), "the active key");
        assert!(!s.was_retired(kid(3).as_str()), "a key the set never had");
        assert_eq!(
            s.retire(181, &p, false),
            Err(RotationError::NothingToRetire)
        );
    }

    #[test]
    fn force_retires_early_and_says_so() {
        let p = TokenPolicy::default();
        let mut s = KeySetState::default();
        s.init(kid(1), Algorithm::ES256, 0).unwrap();
        s.stage(kid(2), Algorithm::ES256, 1).unwrap();
        s.mark_published(1);
        s.promote(2, 0).unwrap();
        let r = s.retire(3, &p, true).unwrap();
        assert!(r.forced);
        assert_eq!(r.removed, vec![kid(1)]);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86400));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("3600").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
    }

    /// The cluster, modelled apart from the state machine: kube-apiserver signs with the key it
    /// was last restarted with, and restarts at any time after a promote (or never). Tokens it
    /// signs live `max_token_age`. Operators run stage, promote, confirm (with a token the
    /// cluster just issued), retire and forced retire in any order at any time. Relying parties
    /// cache the JWKS for `cache` seconds. Without force, every live token's key stays
    /// published, and was published at least `cache` before the token was signed.
    #[test]
    fn property_no_live_token_loses_its_key_whatever_the_order_and_restart_delay() {
        let p = TokenPolicy {
            max_token_age: Duration::from_secs(50),
            skew: Duration::from_secs(5),
        };
        let cache = 20;
        let mut checked = 0u64;
        for seed in 0..500u64 {
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
            let mut s = KeySetState::default();
            let mut now: Timestamp = 1000;
            s.init(kid(0), Algorithm::RS256, now).unwrap();
            let mut signer = kid(0);
            let mut first_published: std::collections::BTreeMap<KeyId, Timestamp> =
                [(kid(0), 0)].into();
            // (key, signed at)
            let mut tokens: Vec<(KeyId, Timestamp)> = Vec::new();
            let mut force_removed: Vec<KeyId> = Vec::new();
            let mut next_id = 1;
            for _ in 0..80 {
                now += rng.gen_range(0..30);
                match rng.gen_range(0..14) {
                    0..=1 => {
                        if s.stage(kid(next_id), Algorithm::RS256, now).is_ok() && rng.gen_bool(0.5)
                        {
                            // published by stage with a target
                            s.mark_published(now);
                        }
                        next_id += 1;
                    }
                    2..=3 => {
                        // promote sees the key on the issuer (once published somehow)
                        if let Some(n) = s.next().map(|k| k.kid.clone()) {
                            if rng.gen_bool(0.7) {
                                s.mark_published(now);
                            }
                            let _ = s.promote(now, cache);
                            if let Some(t) =
                                s.keys.iter().find(|k| k.kid == n).and_then(|k| k.published)
                            {
                                first_published.entry(n).or_insert(t);
                            }
                        }
                    }
                    4..=5 => {
                        // a kube-apiserver restart with the current flags
                        if let Some(a) = s.active() {
                            signer = a.kid.clone();
                        }
                    }
                    6..=7 => {
                        let _ = s.confirm(signer.as_str(), now);
                    }
                    8..=10 => {
                        let _ = s.retire(now, &p, false);
                    }
                    11 => {
                        if let Ok(r) = s.retire(now, &p, true) {
                            force_removed.extend(r.removed);
                        }
                    }
                    _ => {}
                }
                tokens.push((signer.clone(), now));
                assert_eq!(
                    s.keys
                        .iter()
                        .filter(|k| k.state == KeyState::Active)
                        .count(),
                    1,
                    "seed {seed}"
                );
                assert!(s.keys.iter().filter(|k| k.state == KeyState::Next).count() <= 1);
                let published: Vec<&KeyId> = s.published().iter().map(|k| &k.kid).collect();
                for (k, signed) in &tokens {
                    let live = signed + p.max_token_age.as_secs() + p.skew.as_secs() > now;
                    if live && !force_removed.contains(k) {
                        assert!(
                            published.contains(&k),
                            "seed {seed}: a token {k} signed at {signed} is live at {now} but its key is not published"
                        );
                        checked += 1;
                    }
                    if let Some(pub_at) = first_published.get(k) {
                        if *k != kid(0) {
                            assert!(
                                pub_at + cache <= *signed,
                                "seed {seed}: {k} signed at {signed}, published only since {pub_at}"
                            );
                        }
                    }
                }
            }
        }
        assert!(
            checked > 10_000,
            "the property test checked too little: {checked}"
        );
    }
}
