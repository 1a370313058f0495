//! `quickstart`'s files: a throwaway CA with a `localhost` server certificate and a signing
//! key, created once in a directory and reused by later runs.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::pki::{self, PkiError};
use crate::fsutil;
use crate::oidc::keys::{self, KeyError, KeySpec};
use crate::rotation::keydir::{load_public_keys, KeyDirError};

/// Why the quickstart directory could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum QuickstartError {
    /// A file could not be created or written.
    #[error("{what}")]
    Io {
        /// What was being done, to which file.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Part of the CA is missing.
    #[error("{dir} holds only part of the quickstart CA ({present} of ca.crt, ca.key, tls.crt, tls.key): remove those files (or the whole directory) and run quickstart again")]
    PartialCa {
        /// The directory.
        dir: String,
        /// How many of the four files exist.
        present: usize,
    },
    /// The CA could not be generated.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// The key could not be generated or read.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The key file could not be read.
    #[error(transparent)]
    KeyFile(#[from] KeyDirError),
}

/// The files quickstart keeps.
#[derive(Debug, Clone)]
pub struct QuickstartFiles {
    /// The CA certificate (to trust).
    pub ca_cert: PathBuf,
    /// The CA key.
    pub ca_key: PathBuf,
    /// The server chain.
    pub tls_cert: PathBuf,
    /// The server key.
    pub tls_key: PathBuf,
    /// The signing key.
    pub sa_key: PathBuf,
    /// Its public half.
    pub sa_pub: PathBuf,
}

impl QuickstartFiles {
    fn new(dir: &Path) -> Self {
        Self {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            tls_cert: dir.join("tls.crt"),
            tls_key: dir.join("tls.key"),
            sa_key: dir.join("sa.key"),
            sa_pub: dir.join("sa.pub"),
        }
    }
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> QuickstartError {
    move |source| QuickstartError::Io { what, source }
}

/// Creates what is missing in `dir` (0700) and reuses what is there; a new signing key is
/// generated with `rng`.
pub fn prepare(
    dir: &Path,
    rng: &mut (impl rand::RngCore + rand::CryptoRng),
) -> Result<QuickstartFiles, QuickstartError> {
    fsutil::create_dirs(dir, 0o700).map_err(io(format!("cannot create {}", dir.display())))?;
    // Private keys go here: never through a link to somewhere else.
    let meta =
        std::fs::symlink_metadata(dir).map_err(io(format!("cannot read {}", dir.display())))?;
    if meta.file_type().is_symlink() {
        return Err(io(format!("{} is a symbolic link", dir.display()))(
            std::io::Error::other(
                "quickstart keeps private keys there: pass a real directory with --dir",
            ),
        ));
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(format!(
        "cannot restrict {} to its owner",
        dir.display()
    )))?;
    let f = QuickstartFiles::new(dir);
    let pki_files = [&f.ca_cert, &f.ca_key, &f.tls_cert, &f.tls_key];
    let present = pki_files.iter().filter(|p| p.exists()).count();
    let write = |path: &Path, data: &[u8], mode: u32, replace: bool| {
        fsutil::write_new(path, data, mode, replace)
            .map_err(io(format!("cannot write {}", path.display())))
    };
    if present == 0 {
        let p = pki::generate(&["localhost", "127.0.0.1", "::1"])?;
        write(&f.ca_key, p.ca_key_pem.as_bytes(), 0o600, false)?;
        write(&f.tls_key, p.leaf_key_pem.as_bytes(), 0o600, false)?;
        write(&f.ca_cert, p.ca_cert_pem.as_bytes(), 0o644, false)?;
        write(&f.tls_cert, p.chain_pem.as_bytes(), 0o644, false)?;
    } else if present < pki_files.len() {
        return Err(QuickstartError::PartialCa {
            dir: dir.display().to_string(),
            present,
        });
    }
    if !f.sa_key.exists() {
        let k = keys::generate(KeySpec::default(), rng)?;
        write(&f.sa_key, k.private_pem.as_bytes(), 0o600, false)?;
        write(&f.sa_pub, k.public.to_pem().as_bytes(), 0o644, true)?;
    } else if !f.sa_pub.exists() {
        let k = load_public_keys(std::slice::from_ref(&f.sa_key), None)?;
        if let Some(k) = k.first() {
            write(&f.sa_pub, k.to_pem().as_bytes(), 0o644, false)?;
        }
    }
    Ok(f)
}
