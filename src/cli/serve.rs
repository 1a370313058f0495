//! `irsa-issuer serve` and `irsa-issuer quickstart`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::Args;
use serde::Serialize;
use tokio::net::TcpListener;

use super::keycmd::required_keys;
use super::{print_json, IssuerArgs, KeyArgs, Outcome, OutputFormat};
use crate::fsutil;
use crate::oidc::documents::{render, KeySet};
use crate::oidc::issuer::{IssuerUrl, JwksPath, DISCOVERY_PATH};
use crate::oidc::keys::{self, KeySpec};
use crate::rotation::apiserver::ApiServerFlags;
use crate::serve::router::{router, AppState, Snapshot, DEFAULT_CACHE_MAX_AGE};
use crate::serve::{pki, server, tls};

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    issuer: IssuerArgs,
    #[command(flatten)]
    keys: KeyArgs,
    /// Address to listen on (use 127.0.0.1:PORT to stay local; port 0 picks a free one).
    #[arg(long, default_value = "0.0.0.0:8443", value_name = "ADDR")]
    listen: String,
    /// PEM certificate chain to serve: the server certificate first, then its intermediates.
    /// Without it, plain HTTP is served (for a TLS-terminating proxy or ingress in front).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of the server certificate.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// `Cache-Control: public, max-age=N` on both documents.
    #[arg(long, default_value_t = DEFAULT_CACHE_MAX_AGE, value_name = "SECONDS")]
    cache_max_age: u32,
    /// How often --key-dir is checked for changes.
    #[arg(long, default_value = "2s", value_parser = crate::rotation::state::parse_duration, value_name = "DURATION")]
    reload_interval: std::time::Duration,
}

/// Arguments of `quickstart`.
#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// Where the CA, server certificate and signing key are kept (reused by later runs).
    #[arg(long, default_value = "./irsa-quickstart", value_name = "DIR")]
    dir: PathBuf,
    /// Address to listen on; the issuer is https://localhost:PORT.
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "ADDR")]
    listen: String,
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn tls_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let c = tls::server_config(
        &read(cert)?,
        &cert.display().to_string(),
        &read(key)?,
        &key.display().to_string(),
    )?;
    Ok(Arc::new(c))
}

async fn bind(listen: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}: is the address right and the port free? (choose another with --listen)"))
}

async fn run_server(
    listener: TcpListener,
    issuer: &IssuerUrl,
    jwks_path: &JwksPath,
    set: &KeySet,
    tls: Option<Arc<rustls::ServerConfig>>,
    cache_max_age: u32,
) -> anyhow::Result<Outcome> {
    let docs = render(set, issuer, jwks_path);
    let state = AppState::new(Snapshot::new(&docs, issuer, cache_max_age));
    run_with_state(listener, state, issuer, set, tls).await
}

async fn run_with_state(
    listener: TcpListener,
    state: Arc<AppState>,
    issuer: &IssuerUrl,
    set: &KeySet,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<Outcome> {
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, issuer = %issuer, keys = set.keys().len(), "serving");
    // Tests and scripts that ask for port 0 read the address from this line.
    println!("listening on {scheme}://{addr}");
    server::run(
        listener,
        router(state),
        tls,
        server::Limits::default(),
        server::shutdown_signal(),
    )
    .await?;
    Ok(Outcome::Done)
}

/// Watches the key directory and swaps in new documents when its published content changes. A
/// change that cannot be loaded (a half-written or broken file) is logged and counted, and the
/// previous documents keep being served until a later change loads.
fn spawn_reloader(
    state: Arc<AppState>,
    keys: KeyArgs,
    dir: PathBuf,
    issuer: IssuerUrl,
    jwks_path: JwksPath,
    cache_max_age: u32,
    interval: std::time::Duration,
) {
    let kd = crate::rotation::keydir::KeyDir::new(dir);
    tokio::spawn(async move {
        let mut last = kd.digest();
        loop {
            tokio::time::sleep(interval).await;
            let digest = kd.digest();
            if digest == last {
                continue;
            }
            last = digest;
            match keys.load().and_then(|k| Ok(KeySet::new(k)?)) {
                Ok(set) => {
                    let docs = render(&set, &issuer, &jwks_path);
                    state.replace(Snapshot::new(&docs, &issuer, cache_max_age));
                    state.metrics().reload_ok();
                    tracing::info!(keys = set.keys().len(), kids = ?set.kids().iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>(), "key directory changed: new documents served");
                }
                Err(e) => {
                    state.metrics().reload_failed();
                    tracing::warn!(error = %format!("{e:#}"), "key directory changed but cannot be loaded; still serving the previous documents");
                }
            }
        }
    });
}

pub(super) async fn serve(a: ServeArgs) -> anyhow::Result<Outcome> {
    let (issuer, jwks_path) = a.issuer.parse()?;
    let set = KeySet::new(a.keys.load()?)?;
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => Some(tls_config(c, k)?),
        _ => None,
    };
    let listener = bind(&a.listen).await?;
    let state = AppState::new(Snapshot::new(
        &render(&set, &issuer, &jwks_path),
        &issuer,
        a.cache_max_age,
    ));
    if let Some(dir) = a.keys.key_dir.clone() {
        spawn_reloader(
            state.clone(),
            a.keys.clone(),
            dir,
            issuer.clone(),
            jwks_path.clone(),
            a.cache_max_age,
            a.reload_interval,
        );
    }
    run_with_state(listener, state, &issuer, &set, tls).await
}

/// The files quickstart keeps, relative to its directory.
struct QuickstartFiles {
    ca_cert: PathBuf,
    ca_key: PathBuf,
    tls_cert: PathBuf,
    tls_key: PathBuf,
    sa_key: PathBuf,
    sa_pub: PathBuf,
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

#[derive(Serialize)]
struct QuickstartInfo {
    issuer: String,
    discovery_url: String,
    jwks_url: String,
    ca_file: String,
    kid: String,
    alg: String,
    apiserver_flags: Vec<String>,
    curl: String,
}

/// Creates what is missing in the quickstart directory and reuses what is there.
fn prepare(dir: &Path) -> anyhow::Result<QuickstartFiles> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {} to its owner", dir.display()))?;
    let f = QuickstartFiles::new(dir);
    let pki_files = [&f.ca_cert, &f.ca_key, &f.tls_cert, &f.tls_key];
    let present = pki_files.iter().filter(|p| p.exists()).count();
    if present == 0 {
        let p = pki::generate(&["localhost", "127.0.0.1", "::1"])?;
        fsutil::write_new(&f.ca_key, p.ca_key_pem.as_bytes(), 0o600, false)?;
        fsutil::write_new(&f.tls_key, p.leaf_key_pem.as_bytes(), 0o600, false)?;
        fsutil::write_new(&f.ca_cert, p.ca_cert_pem.as_bytes(), 0o644, false)?;
        fsutil::write_new(&f.tls_cert, p.chain_pem.as_bytes(), 0o644, false)?;
    } else if present < pki_files.len() {
        bail!(
            "{} holds only part of the quickstart CA ({} of ca.crt, ca.key, tls.crt, tls.key): remove those files (or the whole directory) and run quickstart again",
            dir.display(),
            present
        );
    }
    if !f.sa_key.exists() {
        let k = keys::generate(KeySpec::default(), &mut rand::rngs::OsRng)?;
        fsutil::write_new(&f.sa_key, k.private_pem.as_bytes(), 0o600, false)?;
        fsutil::write_new(&f.sa_pub, k.public.to_pem().as_bytes(), 0o644, true)?;
    } else if !f.sa_pub.exists() {
        let k = required_keys(std::slice::from_ref(&f.sa_key))?;
        if let Some(k) = k.first() {
            fsutil::write_new(&f.sa_pub, k.to_pem().as_bytes(), 0o644, false)?;
        }
    }
    Ok(f)
}

pub(super) async fn quickstart(a: QuickstartArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let files = prepare(&a.dir)?;
    let listener = bind(&a.listen).await?;
    let port = listener.local_addr()?.port();
    let issuer = IssuerUrl::parse(&format!("https://localhost:{port}"), false)?;
    let jwks_path = JwksPath::default();
    let set = KeySet::new(required_keys(std::slice::from_ref(&files.sa_key))?)?;
    let tls = tls_config(&files.tls_cert, &files.tls_key)?;
    let abs = |p: &Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    let (kid, alg) = set
        .kids()
        .first()
        .map(|(k, a)| (k.to_string(), a.to_string()))
        .unwrap_or_default();
    let info = QuickstartInfo {
        issuer: issuer.to_string(),
        discovery_url: issuer.discovery_url(),
        jwks_url: issuer.join(jwks_path.as_str()),
        ca_file: files.ca_cert.display().to_string(),
        kid,
        alg,
        apiserver_flags: ApiServerFlags::new(&issuer, &abs(&files.sa_key), &[abs(&files.sa_pub)])
            .args(),
        curl: format!(
            "curl --cacert {} {}",
            files.ca_cert.display(),
            issuer.join(DISCOVERY_PATH)
        ),
    };
    match out {
        OutputFormat::Json => print_json(&info)?,
        OutputFormat::Text => {
            println!(
                "irsa-issuer quickstart: a local OIDC issuer for Kubernetes service-account tokens"
            );
            println!("  issuer        {}", info.issuer);
            println!("  discovery     {}", info.discovery_url);
            println!("  JWKS          {}", info.jwks_url);
            println!("  CA to trust   {}", info.ca_file);
            println!(
                "  signing key   {} (kid {}, {})",
                files.sa_key.display(),
                info.kid,
                info.alg
            );
            println!();
            println!("kube-apiserver flags for this key:");
            for f in &info.apiserver_flags {
                println!("  {f}");
            }
            println!();
            println!("Fetch the discovery document:");
            println!("  {}", info.curl);
            println!();
            println!(
                "Press Ctrl-C to stop; a second run reuses {}.",
                a.dir.display()
            );
        }
    }
    run_server(
        listener,
        &issuer,
        &jwks_path,
        &set,
        Some(tls),
        DEFAULT_CACHE_MAX_AGE,
    )
    .await
}
