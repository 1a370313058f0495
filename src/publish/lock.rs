//! Locks that keep two runs from undoing each other: one object per bucket, taken with S3's
//! conditional writes (`If-None-Match: *` to take it, `If-Match` to renew, take over or
//! release exactly the object this run wrote), renewed while the run goes on; and an advisory
//! `flock` on a key directory or a directory target. Every file here does I/O.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::{instrument, warn};

use super::lease::{self, Found, LockRecord, LOCK_KEY};
use crate::aws::sdk::{call_error, error_code, AwsError};

/// Why a lock could not be taken or given back.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone else holds it, and the wait ran out.
    #[error("s3://{bucket} is locked by {holder}; waited {waited} s (--lock-timeout). Run again once it is done; if that run was killed, its lease ends by itself, or clear it with `irsa-issuer force-unlock {id} --to s3://{bucket}`")]
    Held {
        /// The bucket.
        bucket: String,
        /// Who holds it, and since when.
        holder: String,
        /// Its ID.
        id: String,
        /// How long this run waited.
        waited: u64,
    },
    /// The object at the lock's key is not a lock.
    #[error("s3://{bucket}/{key} is not a lock irsa-issuer wrote ({why}): remove it if nothing else uses it")]
    NotALock {
        /// The bucket.
        bucket: String,
        /// The key.
        key: &'static str,
        /// Why it does not read as one.
        why: String,
    },
    /// The bucket does not exist (yet).
    #[error("the bucket does not exist")]
    NoBucket,
    /// An S3 call failed.
    #[error("the lock on s3://{bucket}: {source}")]
    Aws {
        /// The bucket.
        bucket: String,
        /// What S3 said.
        #[source]
        source: Box<AwsError>,
    },
    /// `force-unlock` named another lock.
    #[error("s3://{bucket} is locked under ID {held}, not {given}: check the ID (it may be a newer run's lock)")]
    OtherId {
        /// The bucket.
        bucket: String,
        /// The ID held now.
        held: String,
        /// The ID given.
        given: String,
    },
    /// Another process holds a directory, and the wait ran out.
    #[error("{dir} is locked by another irsa-issuer process (a key directory or a directory target changed by one command at a time); waited {waited} s (--lock-timeout): run again once it is done")]
    DirHeld {
        /// The directory.
        dir: String,
        /// How long this run waited.
        waited: u64,
    },
    /// A directory lock could not be opened.
    #[error("cannot lock {dir}: {source}")]
    Io {
        /// The directory.
        dir: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// How a run takes its locks.
#[derive(Debug, Clone)]
pub struct LockOptions {
    /// What it runs, for whoever finds the lock held.
    pub command: String,
    /// How long to wait for a held lock.
    pub timeout: Duration,
    /// How long a lease runs unless renewed (renewed every third of it).
    pub lease: Duration,
    /// How often to look again while waiting.
    pub poll: Duration,
}

impl LockOptions {
    /// The lease of `IRSA_ISSUER_LOCK_LEASE` (seconds, for tests and tuning), else 60 s.
    pub fn lease_from_env() -> Duration {
        std::env::var("IRSA_ISSUER_LOCK_LEASE")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|s| *s >= 1)
            .map_or(Duration::from_secs(60), Duration::from_secs)
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Who this process is, for the lock's record.
fn holder() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "?".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    format!("{user}@{host} pid {}", std::process::id())
}

fn random_id() -> String {
    use rand::RngCore as _;
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A held bucket lock: renewed in the background until released. (`None` inside: the bucket
/// did not exist yet, so there was nothing to lock: the run that creates a bucket is not
/// serialised against another one creating it at the same moment.)
#[derive(Debug)]
pub struct BucketLock(Option<(Arc<Held>, tokio::task::JoinHandle<()>)>);

#[derive(Debug)]
struct Held {
    client: aws_sdk_s3::Client,
    bucket: String,
    record: Mutex<LockRecord>,
    /// The ETag of the object this run last wrote: every renew and the release name it, so
    /// that a lock someone else took over is never overwritten or deleted.
    etag: Mutex<Option<String>>,
    lease: Duration,
    /// Given back already (the bucket is being deleted): the renewer stops.
    released: std::sync::atomic::AtomicBool,
}

/// The locks this process holds, so that an interrupted run (Ctrl-C) gives them back.
static HELD: Mutex<Vec<Arc<Held>>> = Mutex::new(Vec::new());

fn aws(bucket: &str, e: AwsError) -> LockError {
    LockError::Aws {
        bucket: bucket.to_string(),
        source: Box::new(e),
    }
}

impl Held {
    /// Reads the lock object: its body and ETag, or `None`.
    async fn read(&self) -> Result<Option<(Vec<u8>, Option<String>)>, LockError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(LOCK_KEY)
            .send()
            .await
        {
            Ok(o) => {
                let etag = o.e_tag().map(str::to_string);
                let body = o.body.collect().await.map_err(|e| {
                    aws(
                        &self.bucket,
                        AwsError::Call {
                            operation: "s3:GetObject",
                            message: format!("the lock's body could not be read ({e})"),
                        },
                    )
                })?;
                Ok(Some((body.into_bytes().to_vec(), etag)))
            }
            Err(e) if error_code(&e) == Some("NoSuchKey") => Ok(None),
            Err(e) if error_code(&e) == Some("NoSuchBucket") => Err(LockError::NoBucket),
            Err(e) => Err(aws(&self.bucket, call_error("s3:GetObject", e))),
        }
    }

    /// Writes `record`: a create (`If-None-Match: *`) when `over` is `None`, else a replace of
    /// exactly the object with ETag `over`. `Ok(false)`: someone was faster.
    async fn write(&self, record: &LockRecord, over: Option<&str>) -> Result<bool, LockError> {
        let body = serde_json::to_vec_pretty(record).unwrap_or_default();
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(LOCK_KEY)
            .content_type("application/json")
            .cache_control("no-store")
            .body(body.into());
        req = match over {
            None => req.if_none_match("*"),
            Some(etag) => req.if_match(etag),
        };
        match req.send().await {
            Ok(o) => {
                if let Ok(mut e) = self.etag.lock() {
                    *e = o.e_tag().map(str::to_string);
                }
                if let Ok(mut r) = self.record.lock() {
                    *r = record.clone();
                }
                Ok(true)
            }
            Err(e)
                if matches!(
                    error_code(&e),
                    Some("PreconditionFailed") | Some("ConditionalRequestConflict")
                ) =>
            {
                Ok(false)
            }
            Err(e) if error_code(&e) == Some("NoSuchBucket") => Err(LockError::NoBucket),
            Err(e) => Err(aws(&self.bucket, call_error("s3:PutObject", e))),
        }
    }

    /// After a conditional write said "someone was faster": whether that someone is this run
    /// (its write was applied but the answer was lost, and the SDK's retry found its own
    /// object). Then the object is adopted (its ETag and record kept) and the run holds it.
    async fn adopt_if_mine(&self, id: &str) -> Result<bool, LockError> {
        let Some((body, etag)) = self.read().await? else {
            return Ok(false);
        };
        match serde_json::from_slice::<LockRecord>(&body) {
            Ok(r) if r.id == id => {
                if let Ok(mut e) = self.etag.lock() {
                    *e = etag;
                }
                if let Ok(mut cur) = self.record.lock() {
                    *cur = r;
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Deletes the object this run wrote (and nothing a later holder wrote).
    async fn release(&self) -> Result<(), LockError> {
        if self
            .released
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return Ok(());
        }
        let etag = self.etag.lock().ok().and_then(|e| e.clone());
        let mut req = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(LOCK_KEY);
        if let Some(e) = &etag {
            req = req.if_match(e);
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    error_code(&e),
                    Some("PreconditionFailed") | Some("NoSuchKey")
                ) =>
            {
                warn!(bucket = %self.bucket, "the lock was taken over while this run held it; left to its new holder");
                Ok(())
            }
            Err(e) => Err(aws(&self.bucket, call_error("s3:DeleteObject", e))),
        }
    }
}

impl BucketLock {
    /// Takes the lock of `bucket`, waiting (`opts.timeout`, telling `waiting` what it sees at
    /// each look) while another live run holds it, and taking over, with a warning, a lock
    /// whose lease ran out.
    #[instrument(skip_all, fields(bucket))]
    pub async fn take(
        client: aws_sdk_s3::Client,
        bucket: &str,
        opts: &LockOptions,
        waiting: &mut (dyn FnMut(String) + Send),
    ) -> Result<Self, LockError> {
        let lease_secs = opts.lease.as_secs().max(1);
        let me = lease::record(&random_id(), &holder(), &opts.command, now(), lease_secs);
        let held = Arc::new(Held {
            client,
            bucket: bucket.to_string(),
            record: Mutex::new(me.clone()),
            etag: Mutex::new(None),
            lease: opts.lease,
            released: std::sync::atomic::AtomicBool::new(false),
        });
        let started = std::time::Instant::now();
        // Most runs find the lock free: try to create it straight away (one round trip), and
        // look at what is there only when someone holds it.
        match held.write(&me, None).await {
            Err(LockError::NoBucket) => {
                tracing::debug!(bucket, "no bucket yet: nothing to lock");
                return Ok(Self(None));
            }
            Ok(true) => return Ok(Self::hold(held, lease_secs)),
            Ok(false) if held.adopt_if_mine(&me.id).await? => {
                return Ok(Self::hold(held, lease_secs))
            }
            other => {
                other?;
            }
        }
        loop {
            let existing = match held.read().await {
                Err(LockError::NoBucket) => {
                    tracing::debug!(bucket, "no bucket yet: nothing to lock");
                    return Ok(Self(None));
                }
                other => other?,
            };
            let t = now();
            let mine = lease::record(&me.id, &me.holder, &me.command, t, lease_secs);
            match lease::found(existing.as_ref().map(|(b, _)| b.as_slice()), t) {
                Found::Free => {
                    if held.write(&mine, None).await? || held.adopt_if_mine(&me.id).await? {
                        break;
                    }
                }
                Found::Stale(old) => {
                    let etag = existing.and_then(|(_, e)| e).unwrap_or_default();
                    if held.write(&mine, Some(&etag)).await? || held.adopt_if_mine(&me.id).await? {
                        warn!(bucket, previous = %old.describe(), "took over a lock whose lease had run out (its run was killed or lost its connection)");
                        waiting(format!(
                            "warning: took over the lock on s3://{bucket}: its lease ran out ({})",
                            old.describe()
                        ));
                        break;
                    }
                }
                Found::Held(other) => {
                    if started.elapsed() >= opts.timeout {
                        return Err(LockError::Held {
                            bucket: bucket.to_string(),
                            holder: other.describe(),
                            id: other.id,
                            waited: started.elapsed().as_secs(),
                        });
                    }
                    waiting(format!(
                        "waiting for the lock on s3://{bucket}: held by {}",
                        other.describe()
                    ));
                    tokio::time::sleep(opts.poll).await;
                }
                Found::Unreadable(why) => {
                    return Err(LockError::NotALock {
                        bucket: bucket.to_string(),
                        key: LOCK_KEY,
                        why,
                    })
                }
            }
        }
        Ok(Self::hold(held, lease_secs))
    }

    /// The lock taken: known to this process (for Ctrl-C) and renewed until released.
    fn hold(held: Arc<Held>, lease_secs: u64) -> Self {
        if let Ok(mut all) = HELD.lock() {
            all.push(held.clone());
        }
        let renewer = tokio::spawn(renew(held.clone(), lease_secs));
        Self(Some((held, renewer)))
    }

    /// Gives the lock back: stops renewing it and deletes the object this run wrote.
    pub async fn release(self) -> Result<(), LockError> {
        let Some((held, renewer)) = self.0 else {
            return Ok(());
        };
        renewer.abort();
        if let Ok(mut all) = HELD.lock() {
            all.retain(|h| !Arc::ptr_eq(h, &held));
        }
        held.release().await
    }

    /// The record this run holds (`None`: the bucket did not exist, nothing was locked).
    pub fn record(&self) -> Option<LockRecord> {
        self.0
            .as_ref()
            .and_then(|(h, _)| h.record.lock().ok().map(|r| r.clone()))
    }
}

/// Renews the lease every third of it, for as long as the run holds the lock.
async fn renew(held: Arc<Held>, lease_secs: u64) {
    let every = held.lease / 3;
    loop {
        tokio::time::sleep(every.max(Duration::from_millis(200))).await;
        if held.released.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let current = held.record.lock().ok().map(|r| r.clone());
        let etag = held.etag.lock().ok().and_then(|e| e.clone());
        let (Some(current), Some(etag)) = (current, etag) else {
            return;
        };
        match held
            .write(&lease::renewed(&current, now(), lease_secs), Some(&etag))
            .await
        {
            Ok(true) => {}
            Ok(false) if matches!(held.adopt_if_mine(&current.id).await, Ok(true)) => {}
            Ok(false) => {
                warn!(bucket = %held.bucket, "the lock was taken over while this run held it (its lease had run out)");
                return;
            }
            Err(e) => {
                warn!(bucket = %held.bucket, error = %crate::errors::chain(&e), "could not renew the lock; trying again")
            }
        }
    }
}

/// Gives back the lock this process holds on `bucket`, if any (the bucket is about to be
/// deleted, which needs it empty).
pub async fn release_for(bucket: &str) {
    let found: Vec<Arc<Held>> = HELD
        .lock()
        .map(|v| v.iter().filter(|h| h.bucket == bucket).cloned().collect())
        .unwrap_or_default();
    for h in found {
        if let Err(e) = h.release().await {
            warn!(error = %crate::errors::chain(&e), "could not give the lock back");
        }
    }
}

/// Gives back every bucket lock this process holds (an interrupted run).
pub async fn release_all() {
    let all: Vec<Arc<Held>> = HELD
        .lock()
        .map(|mut v| v.drain(..).collect())
        .unwrap_or_default();
    for h in all {
        if let Err(e) = h.release().await {
            warn!(error = %crate::errors::chain(&e), "could not give the lock back");
        }
    }
}

/// Deletes the lock of `bucket` if its ID is `id` (a run that was killed), saying whose it was.
pub async fn force_unlock(
    client: aws_sdk_s3::Client,
    bucket: &str,
    id: &str,
) -> Result<Option<LockRecord>, LockError> {
    let held = Held {
        client,
        bucket: bucket.to_string(),
        record: Mutex::new(lease::record(id, "", "", 0, 0)),
        etag: Mutex::new(None),
        lease: Duration::from_secs(1),
        released: std::sync::atomic::AtomicBool::new(false),
    };
    let Some((body, etag)) = held.read().await? else {
        return Ok(None);
    };
    let record: LockRecord = serde_json::from_slice(&body).map_err(|e| LockError::NotALock {
        bucket: bucket.to_string(),
        key: LOCK_KEY,
        why: e.to_string(),
    })?;
    if record.id != id {
        return Err(LockError::OtherId {
            bucket: bucket.to_string(),
            held: record.id,
            given: id.to_string(),
        });
    }
    if let Ok(mut e) = held.etag.lock() {
        *e = etag;
    }
    held.release().await?;
    Ok(Some(record))
}

/// The directory whose `flock` stands for `dir`: `dir` itself, or, while it does not exist yet
/// (it is not created here: a run that fails before it writes must leave nothing behind), its
/// nearest existing parent, which serialises two runs creating it. Canonical, so that one
/// process never locks one directory twice (it would wait on itself).
pub fn lock_target(dir: &Path) -> PathBuf {
    let mut target = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    while !target.is_dir() {
        match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => target = p.to_path_buf(),
            _ => {
                target = PathBuf::from("/");
                break;
            }
        }
    }
    target.canonicalize().unwrap_or(target)
}

/// An advisory lock on a directory (`flock` on the directory itself: no file is added, so a
/// key directory still mounts as a ConfigMap of its keys; on its nearest parent while it does
/// not exist yet). Given back when dropped.
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
    /// The directory.
    pub dir: PathBuf,
}

impl DirLock {
    /// Takes the lock of `dir`, waiting up to `timeout` for another process that holds it.
    pub async fn take(
        dir: &Path,
        timeout: Duration,
        waiting: &mut (dyn FnMut(String) + Send),
    ) -> Result<Self, LockError> {
        let io = |source| LockError::Io {
            dir: dir.display().to_string(),
            source,
        };
        let target = lock_target(dir);
        let file = std::fs::File::open(&target).map_err(io)?;
        let started = std::time::Instant::now();
        let mut said = false;
        loop {
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {
                    return Ok(Self {
                        _file: file,
                        dir: dir.to_path_buf(),
                    })
                }
                Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                    if started.elapsed() >= timeout {
                        return Err(LockError::DirHeld {
                            dir: dir.display().to_string(),
                            waited: started.elapsed().as_secs(),
                        });
                    }
                    if !said {
                        waiting(format!(
                            "waiting for {}: another irsa-issuer process is changing it",
                            dir.display()
                        ));
                        said = true;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(io(e.into())),
            }
        }
    }
}
