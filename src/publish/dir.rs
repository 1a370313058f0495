//! A directory as the issuer's document store (for a web server, a CDN origin, a ConfigMap).

use std::path::{Path, PathBuf};

use tracing::instrument;

use super::{Store, StoreError};
use crate::fsutil;
use crate::publish::objects::{DesiredObject, ExistingObject};

/// Publishes into a local directory; each file is replaced atomically.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }
}

impl Store for DirStore {
    fn describe(&self) -> String {
        format!("directory {}", self.root.display())
    }

    #[instrument(skip_all, fields(key))]
    async fn get(&self, key: &str) -> Result<Option<ExistingObject>, StoreError> {
        let path = self.path(key);
        match std::fs::read(&path) {
            Ok(body) => Ok(Some(ExistingObject {
                body,
                metadata: None,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(io("reading", &path, source)),
        }
    }

    #[instrument(skip_all, fields(key = %object.key))]
    async fn put(&self, object: &DesiredObject) -> Result<(), StoreError> {
        let path = self.path(&object.key);
        fsutil::write_atomic(&path, &object.body, 0o644)
            .map_err(|source| io("writing", &path, source))
    }

    #[instrument(skip_all, fields(key))]
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("deleting", &path, e)),
            _ => Ok(()),
        }
    }
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}
