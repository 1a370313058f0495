//! The locks a command takes before it reads anything it may change: the bucket of an S3
//! target (one lock per bucket, since clusters sharing a bucket share its policy, Block Public
//! Access and tags), and the key directory or directory target (an advisory `flock`). Taken in
//! one order (directories, then the bucket) so that two commands never wait on each other in
//! a circle; given back at the end, on errors too.

use std::path::{Path, PathBuf};

use super::config::{Config, Target};
use super::Error;
use crate::aws::names::S3Location;
use crate::aws::sdk::AwsSource;
use crate::publish::lock::{BucketLock, DirLock, LockOptions};

/// What a command locks.
#[derive(Debug, Clone, Default)]
pub struct LockSet {
    /// The bucket of an S3 target.
    pub bucket: Option<S3Location>,
    /// Directories: a key directory, a directory target.
    pub dirs: Vec<PathBuf>,
}

impl LockSet {
    /// What `apply` or `destroy` with `c` changes: its target and its key directory.
    pub fn of_config(c: &Config) -> Self {
        let mut set = Self::default();
        set.add_target(&c.target);
        if let Some(d) = &c.keys.dir {
            set.dirs.push(d.clone());
        }
        set
    }

    /// Adds a target (`s3://…` or a directory).
    pub fn add_target(&mut self, t: &Target) {
        match t {
            Target::S3(l) => self.bucket = Some(l.clone()),
            Target::Dir(d) => self.dirs.push(d.clone()),
        }
    }

    /// Adds a target as written (`s3://…` or a directory), when it parses.
    pub fn add_to(&mut self, to: &str) {
        if to.starts_with("s3://") {
            if let Ok(l) = S3Location::parse(to) {
                self.bucket = Some(l);
            }
        } else {
            self.dirs.push(PathBuf::from(to));
        }
    }
}

/// The locks held.
#[derive(Debug)]
pub struct Held {
    bucket: Option<BucketLock>,
    dirs: Vec<DirLock>,
}

/// The directories whose locks stand for `dirs`, each once whatever its spelling (a process
/// that locked one twice would wait on itself).
fn canonical(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = dirs
        .iter()
        .map(|d| crate::publish::lock::lock_target(d))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Takes every lock of `set`, waiting as `opts` says and telling `waiting` why it waits.
pub async fn take(
    set: &LockSet,
    aws: &AwsSource,
    opts: &LockOptions,
    waiting: &mut (dyn FnMut(String) + Send),
) -> Result<Held, Error> {
    let mut dirs = Vec::new();
    for d in canonical(&set.dirs) {
        dirs.push(DirLock::take(Path::new(&d), opts.timeout, waiting).await?);
    }
    let bucket = match &set.bucket {
        Some(l) => {
            let base = aws.context().await?;
            Some(
                BucketLock::take(
                    base.s3_unrecorded(l.bucket.contains('.')),
                    &l.bucket,
                    opts,
                    waiting,
                )
                .await?,
            )
        }
        None => None,
    };
    Ok(Held { bucket, dirs })
}

impl Held {
    /// Gives every lock back.
    pub async fn release(self) -> Result<(), Error> {
        let result = match self.bucket {
            Some(b) => b.release().await.map_err(Error::from),
            None => Ok(()),
        };
        drop(self.dirs);
        result
    }
}

/// Runs `f` under the locks of `set`, and gives them back whatever `f` returns; `waiting`
/// hears why it waits.
pub async fn with_locks<T, E, F>(
    set: &LockSet,
    aws: &AwsSource,
    opts: &LockOptions,
    waiting: &mut (dyn FnMut(String) + Send),
    f: F,
) -> Result<T, E>
where
    F: std::future::Future<Output = Result<T, E>>,
    E: From<Error>,
{
    let held = take(set, aws, opts, waiting).await?;
    let result = f.await;
    let released = held.release().await;
    let value = result?;
    released?;
    Ok(value)
}
