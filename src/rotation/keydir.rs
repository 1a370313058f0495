//! A key directory: `keyset.json` (the rotation state), one `<kid>.pub` per published key, and
//! private keys apart in `private/<kid>.key` (directory 0700, files 0600). Flat public files,
//! so the public half mounts as a ConfigMap or Secret for `serve --key-dir`.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::fsutil;
use crate::oidc::keys::{self, KeyId, PublicKey};
use crate::rotation::state::KeySetState;

/// The state file's name.
pub const STATE_FILE: &str = "keyset.json";

/// Why the key directory could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyDirError {
    /// I/O.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A key file given by name cannot be read.
    #[error("cannot read key file {path}: {source}; give the path of a PEM key file, such as the sa.pub or sa.key kubeadm writes (--key, keys.files)")]
    KeyFile {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// keyset.json is damaged.
    #[error("{path} is not a valid key-set file ({reason}); restore it from a backup, or recreate the directory with `irsa-issuer rotate init`")]
    BadState {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// No keyset.json.
    #[error("{0} has no keyset.json: create the key directory with `irsa-issuer rotate init --key-dir {0}`")]
    NoState(String),
    /// A public key file does not hold the key its name says.
    #[error("{path} should hold key {kid} but holds {found}: the key directory is inconsistent")]
    Mismatch {
        /// The file.
        path: String,
        /// The kid expected.
        kid: KeyId,
        /// What it holds.
        found: String,
    },
    /// A key file exists where a new one would go.
    #[error("{0} already exists: refusing to replace a signing key (tokens it signed would stop verifying once its public key is gone). Pass --force to replace it, or use another --out directory")]
    Exists(String),
    /// A key file could not be parsed.
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    /// A symbolic link where a private key would go.
    #[error("{0} is a symbolic link: refusing to write a private key (or change permissions) through it; make it a real directory owned by this user")]
    Symlink(String),
}

/// A key directory on disk.
#[derive(Debug, Clone)]
pub struct KeyDir {
    root: PathBuf,
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> KeyDirError {
    KeyDirError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

impl KeyDir {
    /// The directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a key's public PEM lives.
    pub fn public_path(&self, kid: &KeyId) -> PathBuf {
        self.root.join(format!("{kid}.pub"))
    }

    /// Where a key's private PEM lives (if irsa-issuer holds it).
    pub fn private_path(&self, kid: &KeyId) -> PathBuf {
        self.root.join("private").join(format!("{kid}.key"))
    }

    fn state_path(&self) -> PathBuf {
        self.root.join(STATE_FILE)
    }

    /// The rotation state; an empty one when the directory has none yet.
    pub fn load_state_or_empty(&self) -> Result<KeySetState, KeyDirError> {
        match std::fs::read(self.state_path()) {
            Ok(bytes) => parse_state(&bytes, &self.state_path()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeySetState::default()),
            Err(e) => Err(io("reading", &self.state_path(), e)),
        }
    }

    /// The rotation state; an error when there is none.
    pub fn load_state(&self) -> Result<KeySetState, KeyDirError> {
        match std::fs::read(self.state_path()) {
            Ok(bytes) => parse_state(&bytes, &self.state_path()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(KeyDirError::NoState(self.root.display().to_string()))
            }
            Err(e) => Err(io("reading", &self.state_path(), e)),
        }
    }

    /// Writes the state atomically.
    pub fn save_state(&self, state: &KeySetState) -> Result<(), KeyDirError> {
        let mut bytes = serde_json::to_vec_pretty(state).map_err(|e| KeyDirError::BadState {
            path: self.state_path().display().to_string(),
            reason: e.to_string(),
        })?;
        bytes.push(b'\n');
        fsutil::write_atomic(&self.state_path(), &bytes, 0o644)
            .map_err(|e| io("writing", &self.state_path(), e))
    }

    /// Stores a key: its public PEM, and its private PEM (0600, in `private/`) when given.
    pub fn store_key(
        &self,
        public: &PublicKey,
        private_pem: Option<&str>,
    ) -> Result<(), KeyDirError> {
        if let Some(pem) = private_pem {
            self.private_dir()?;
            let path = self.private_path(public.kid());
            fsutil::write_new(&path, pem.as_bytes(), 0o600, false)
                .map_err(|e| io("writing", &path, e))?;
        }
        let path = self.public_path(public.kid());
        fsutil::write_atomic(&path, public.to_pem().as_bytes(), 0o644)
            .map_err(|e| io("writing", &path, e))
    }

    /// The `private/` directory, created 0700 if missing. A symbolic link there is refused: a
    /// private key must never be written (nor a directory chmod'ed) where a link points.
    fn private_dir(&self) -> Result<PathBuf, KeyDirError> {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.root.join("private");
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(KeyDirError::Symlink(dir.display().to_string()))
            }
            Ok(m) if !m.is_dir() => {
                return Err(io(
                    "using",
                    &dir,
                    std::io::Error::other("it is not a directory"),
                ))
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // The key directory itself is public (its .pub files mount as a ConfigMap).
                fsutil::create_dirs(&self.root, 0o755)
                    .map_err(|e| io("creating", &self.root, e))?;
                fsutil::create_dirs(&dir, 0o700).map_err(|e| io("creating", &dir, e))?;
            }
            Err(e) => return Err(io("reading", &dir, e)),
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io("restricting", &dir, e))?;
        Ok(dir)
    }

    /// Removes a retired key's files.
    pub fn remove_key(&self, kid: &KeyId) -> Result<(), KeyDirError> {
        for path in [self.public_path(kid), self.private_path(kid)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("removing", &path, e)),
            }
        }
        Ok(())
    }

    /// The public keys of every key in the state, each checked against its kid.
    pub fn published_keys(&self, state: &KeySetState) -> Result<Vec<PublicKey>, KeyDirError> {
        state
            .keys
            .iter()
            .map(|record| {
                let path = self.public_path(&record.kid);
                let bytes = std::fs::read(&path).map_err(|e| io("reading", &path, e))?;
                let loaded = keys::parse_pem(&bytes, &path.display().to_string())?;
                match loaded.as_slice() {
                    [one] if one.key.kid() == &record.kid => Ok(one.key.clone()),
                    other => Err(KeyDirError::Mismatch {
                        path: path.display().to_string(),
                        kid: record.kid.clone(),
                        found: other
                            .iter()
                            .map(|k| k.key.kid().to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    }),
                }
            })
            .collect()
    }

    /// A digest of everything `serve` reads (state and public keys): it changes when the
    /// directory's published content changes, however the change was made (rename, symlink swap).
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(std::fs::read(self.state_path()).unwrap_or_default());
        if let Ok(state) = self.load_state() {
            for k in &state.keys {
                h.update(std::fs::read(self.public_path(&k.kid)).unwrap_or_default());
            }
        }
        h.finalize().into()
    }
}

/// Every public key in `files` (PEM, any form kube-apiserver reads) and in the key directory
/// `dir`, repeats dropped: what `--key` and `--key-dir` publish.
pub fn load_public_keys(
    files: &[PathBuf],
    dir: Option<&Path>,
) -> Result<Vec<PublicKey>, KeyDirError> {
    let mut loaded = Vec::new();
    for file in files {
        let data = std::fs::read(file).map_err(|source| KeyDirError::KeyFile {
            path: file.display().to_string(),
            source,
        })?;
        loaded.extend(keys::parse_pem(&data, &file.display().to_string())?);
    }
    let mut out: Vec<PublicKey> = keys::dedup(loaded).into_iter().map(|k| k.key).collect();
    if let Some(dir) = dir {
        let kd = KeyDir::new(dir);
        out.extend(kd.published_keys(&kd.load_state()?)?);
    }
    Ok(out)
}

/// Writes a generated key pair as kubeadm lays it out: `DIR/sa.key` (private, 0600, written
/// first) and `DIR/sa.pub`. Existing files are replaced only with `force`: tokens the old key
/// signed stop verifying once its public key is no longer published.
pub fn write_pair(
    dir: &Path,
    key: &keys::GeneratedKey,
    force: bool,
) -> Result<(PathBuf, PathBuf), KeyDirError> {
    let private = dir.join("sa.key");
    let public = dir.join("sa.pub");
    if !force {
        if let Some(p) = [&private, &public].into_iter().find(|p| p.exists()) {
            return Err(KeyDirError::Exists(p.display().to_string()));
        }
    }
    fsutil::write_new(&private, key.private_pem.as_bytes(), 0o600, force)
        .map_err(|e| io("writing", &private, e))?;
    fsutil::write_new(&public, key.public.to_pem().as_bytes(), 0o644, force)
        .map_err(|e| io("writing", &public, e))?;
    Ok((private, public))
}

fn parse_state(bytes: &[u8], path: &Path) -> Result<KeySetState, KeyDirError> {
    let state: KeySetState = serde_json::from_slice(bytes).map_err(|e| KeyDirError::BadState {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let active = state
        .keys
        .iter()
        .filter(|k| k.state == crate::rotation::state::KeyState::Active)
        .count();
    if !state.keys.is_empty() && active != 1 {
        return Err(KeyDirError::BadState {
            path: path.display().to_string(),
            reason: format!("{active} active keys, expected exactly one"),
        });
    }
    Ok(state)
}
