//! The lock that keeps two runs from changing one bucket at once, as a value: who holds it,
//! for what, since when, and until when its lease runs; and what a run that finds it should do.
//! Pure: time is a parameter. The object that carries it lives in `lock`.

use serde::{Deserialize, Serialize};

/// The object key of a bucket's lock: outside every prefix a cluster publishes under, and
/// never public (the public-read statements name the two documents of a prefix only).
pub const LOCK_KEY: &str = ".irsa-issuer/lock";

/// What a lock object holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    /// A random ID of this hold (what `force-unlock` names).
    pub id: String,
    /// Who holds it: user, host and process.
    pub holder: String,
    /// What it runs (`apply -f cluster.toml`).
    pub command: String,
    /// When it was taken, in Unix seconds.
    pub since: u64,
    /// Until when the lease runs, in Unix seconds: the holder renews it while it runs; past it,
    /// the holder is taken to be gone (killed) and the lock may be taken over.
    pub expires: u64,
}

impl LockRecord {
    /// The record as a person reads it.
    pub fn describe(&self) -> String {
        format!(
            "{} running `{}` since {} (lock ID {}, lease until {})",
            self.holder,
            self.command,
            crate::rotation::state::rfc3339(self.since),
            self.id,
            crate::rotation::state::rfc3339(self.expires)
        )
    }
}

/// What a run that wants the lock finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Nobody holds it: take it (a create that fails when someone was faster).
    Free,
    /// Someone holds it with a live lease: wait, or give up with who it is.
    Held(LockRecord),
    /// Its lease ran out (the holder was killed): take it over, with a warning, by replacing
    /// exactly that object (a replace that fails when someone was faster).
    Stale(LockRecord),
    /// The object is not a lock irsa-issuer wrote: leave it, and say so.
    Unreadable(String),
}

/// What the lock object at hand (`None`: there is none) means at `now`.
pub fn found(body: Option<&[u8]>, now: u64) -> Found {
    let Some(body) = body else {
        return Found::Free;
    };
    match serde_json::from_slice::<LockRecord>(body) {
        Ok(r) if r.expires <= now => Found::Stale(r),
        Ok(r) => Found::Held(r),
        Err(e) => Found::Unreadable(e.to_string()),
    }
}

/// The record of a new hold.
pub fn record(id: &str, holder: &str, command: &str, now: u64, lease_secs: u64) -> LockRecord {
    LockRecord {
        id: id.to_string(),
        holder: holder.to_string(),
        command: command.to_string(),
        since: now,
        expires: now + lease_secs,
    }
}

/// The record renewed at `now`: the same hold, a lease from now.
pub fn renewed(r: &LockRecord, now: u64, lease_secs: u64) -> LockRecord {
    LockRecord {
        expires: now + lease_secs,
        ..r.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_free_held_or_stale_by_its_lease() {
        let r = record("id1", "ci@runner:42", "apply -f c.toml", 1_000, 60);
        let body = serde_json::to_vec(&r).unwrap();
        assert_eq!(found(None, 1_000), Found::Free);
        assert_eq!(found(Some(&body), 1_059), Found::Held(r.clone()));
        assert_eq!(found(Some(&body), 1_060), Found::Stale(r.clone()));
        assert!(matches!(
            found(Some(b"<html>"), 1_000),
            Found::Unreadable(_)
        ));
        let again = renewed(&r, 1_050, 60);
        assert_eq!(
            (again.since, again.expires, again.id.as_str()),
            (1_000, 1_110, "id1")
        );
        let text = r.describe();
        assert!(
            text.contains("ci@runner:42")
                && text.contains("apply -f c.toml")
                && text.contains("lock ID id1"),
            "{text}"
        );
        assert!(text.contains("1970-01-01T00:16:40Z"), "{text}");
    }
}
