//! The key-set state machine behind safe rotation. Pure: every transition takes `now`.
//!
//! States: `next` (published, not yet signing) → `active` (kube-apiserver signs with it) →
//! `previous` (no longer signing, still published) → removed. The invariant: at every moment,
//! the published set holds every key that may have signed a token that is still valid, i.e.
//! every key that was active at some time `t` with `t + max_token_age + skew > now`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::oidc::keys::{Algorithm, KeyId};

/// Seconds since the Unix epoch (the clock is the caller's).
pub type Timestamp = u64;

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
    /// Too early.
    #[error("retiring now could break live tokens: the newest previous key ({kid}) stopped signing at {demoted}, and tokens it signed may be valid until {safe_at} (demoted + max token age + clock skew), {wait} s from now. Run again after that, or pass --force to retire anyway")]
    TooEarly {
        /// The key.
        kid: KeyId,
        /// When it was demoted.
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
        });
        Ok(())
    }

    /// next → active, active → previous. The caller checks first that relying parties already
    /// see the next key.
    pub fn promote(&mut self, now: Timestamp) -> Result<(), RotationError> {
        if self.next().is_none() {
            return Err(RotationError::NothingStaged);
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
        let is_safe = |k: &KeyRecord| policy.safe_to_remove_at(k.demoted.unwrap_or(now)) <= now;
        let unsafe_newest = previous
            .iter()
            .filter(|k| !is_safe(k))
            .max_by_key(|k| k.demoted);
        if let (Some(k), false) = (unsafe_newest, force) {
            if previous.iter().all(|k| !is_safe(k)) {
                let demoted = k.demoted.unwrap_or(now);
                let safe_at = policy.safe_to_remove_at(demoted);
                return Err(RotationError::TooEarly {
                    kid: k.kid.clone(),
                    demoted,
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
                why: format!("key {} is staged; promote it once the public issuer serves it (promote checks)", n.kid),
            };
        }
        let newest_prev = self
            .keys
            .iter()
            .filter(|k| k.state == KeyState::Previous)
            .filter_map(|k| k.demoted)
            .max();
        match newest_prev {
            Some(d) => {
                let at = policy.safe_to_remove_at(d);
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
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => {
            return Err(format!(
                "`{text}` is not a duration: use e.g. 90s, 15m, 24h, 7d"
            ))
        }
    };
    Ok(Duration::from_secs(secs))
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
        let mut s = KeySetState::default();
        s.init(kid(1), Algorithm::RS256, 0).unwrap();
        assert_eq!(s.next_step(0, &p).command, "rotate stage");
        s.stage(kid(2), Algorithm::RS256, 10).unwrap();
        assert_eq!(
            s.stage(kid(3), Algorithm::RS256, 11),
            Err(RotationError::AlreadyStaged(kid(2)))
        );
        s.promote(20).unwrap();
        assert_eq!(s.active().unwrap().kid, kid(2));
        assert_eq!(s.next_step(20, &p).safe_from, Some(130));
        let e = s.retire(129, &p, false).unwrap_err();
        assert_eq!(
            e,
            RotationError::TooEarly {
                kid: kid(1),
                demoted: 20,
                safe_at: 130,
                wait: 1
            }
        );
        let r = s.retire(130, &p, false).unwrap();
        assert_eq!(r.removed, vec![kid(1)]);
        assert_eq!(s.keys.len(), 1);
        assert_eq!(
            s.retire(131, &p, false),
            Err(RotationError::NothingToRetire)
        );
    }

    #[test]
    fn force_retires_early_and_says_so() {
        let p = TokenPolicy::default();
        let mut s = KeySetState::default();
        s.init(kid(1), Algorithm::ES256, 0).unwrap();
        s.stage(kid(2), Algorithm::ES256, 1).unwrap();
        s.promote(2).unwrap();
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

    /// Random sequences of stage / promote / retire / forced retire at random times. Without
    /// force, every key that may have signed a live token stays published; a forced retire may
    /// only ever drop keys it removed itself.
    #[test]
    fn property_published_set_covers_every_live_token() {
        let p = TokenPolicy {
            max_token_age: Duration::from_secs(50),
            skew: Duration::from_secs(5),
        };
        let mut checked = 0u64;
        for seed in 0..500u64 {
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
            let mut s = KeySetState::default();
            let mut now: Timestamp = 1000;
            s.init(kid(0), Algorithm::RS256, now).unwrap();
            // kid → (active from, active until) as observed from outside the state machine.
            let mut active_spans: Vec<(KeyId, Timestamp, Option<Timestamp>)> =
                vec![(kid(0), now, None)];
            let mut force_removed: Vec<KeyId> = Vec::new();
            let mut next_id = 1;
            for _ in 0..60 {
                now += rng.gen_range(0..40);
                match rng.gen_range(0..10) {
                    0..=2 => {
                        let _ = s.stage(kid(next_id), Algorithm::RS256, now);
                        next_id += 1;
                    }
                    3..=5 => {
                        let before = s.active().map(|k| k.kid.clone());
                        if s.promote(now).is_ok() {
                            let after = s.active().unwrap().kid.clone();
                            for span in active_spans
                                .iter_mut()
                                .filter(|x| Some(&x.0) == before.as_ref() && x.2.is_none())
                            {
                                span.2 = Some(now);
                            }
                            active_spans.push((after, now, None));
                        }
                    }
                    6..=8 => {
                        let _ = s.retire(now, &p, false);
                    }
                    _ => {
                        if let Ok(r) = s.retire(now, &p, true) {
                            force_removed.extend(r.removed);
                        }
                    }
                }
                // Exactly one active key, at most one next.
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
                for (k, _from, until) in &active_spans {
                    let may_have_live_tokens = until
                        .is_none_or(|u| u + p.max_token_age.as_secs() + p.skew.as_secs() > now);
                    if may_have_live_tokens && !force_removed.contains(k) {
                        assert!(published.contains(&k), "seed {seed}: {k} may have signed a live token at {now} but is not published");
                        checked += 1;
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
