//! `irsa-issuer serve` and `irsa-issuer quickstart`.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::{print_json, FileArg, IssuerArgs, KeyArgs, Outcome, OutputFormat};
use irsa_issuer::oidc::issuer::{IssuerUrl, JwksPath, DISCOVERY_PATH};
use irsa_issuer::rotation::apiserver::ApiServerFlags;
use irsa_issuer::serve::quickstart;
use irsa_issuer::serve::router::DEFAULT_CACHE_MAX_AGE;
use irsa_issuer::serve::run::{self, KeySource, ServeOptions};
use irsa_issuer::serve::server;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    file: FileArg,
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
    /// `Cache-Control: public, max-age=N` on both documents (default 300, or the file's
    /// rotation.cache_max_age, which follows s3.cache_control).
    #[arg(long, value_name = "SECONDS")]
    cache_max_age: Option<u32>,
    /// How often --key-dir is checked for changes.
    #[arg(long, default_value = "2s", value_parser = irsa_issuer::rotation::state::parse_duration, value_name = "DURATION")]
    reload_interval: std::time::Duration,
    /// The most client connections open at once (lowered to fit `ulimit -n`). At the cap, a new
    /// connection replaces the one idle longest.
    #[arg(long, default_value_t = server::DEFAULT_MAX_CONNECTIONS, value_parser = parse_max_connections, value_name = "N")]
    max_connections: usize,
    /// Close a connection that has had no request in flight for this long (HTTP/1 keep-alive and
    /// HTTP/2).
    #[arg(long, default_value = "30s", value_parser = parse_timeout, value_name = "DURATION")]
    idle_timeout: std::time::Duration,
    /// Close a connection whose TLS handshake and first request have not both arrived this long
    /// after it was accepted.
    #[arg(long, default_value = "10s", value_parser = parse_timeout, value_name = "DURATION")]
    first_request_timeout: std::time::Duration,
}

fn parse_max_connections(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "`{s}` is not a connection count: give a whole number of at least 1 (default {})",
            server::DEFAULT_MAX_CONNECTIONS
        )),
    }
}

fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    let d = irsa_issuer::rotation::state::parse_duration(s)?;
    if d.is_zero() {
        return Err(format!(
            "`{s}` is no time at all: give a duration such as 10s or 1m"
        ));
    }
    Ok(d)
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

fn print_listening(addr: std::net::SocketAddr, scheme: &str) {
    // Tests and scripts that ask for port 0 read the address from this line.
    println!("listening on {scheme}://{addr}");
}

pub(super) async fn serve(a: ServeArgs) -> anyhow::Result<Outcome> {
    let c = a.file.load(None)?;
    let (issuer, jwks_path) = match &c {
        Some(c) => a.issuer.with_file(c).await?,
        None => a.issuer.parse()?,
    };
    let (files, dir) = a.keys.source_with(c.as_ref());
    let keys = KeySource { files, dir };
    let cache_max_age = a.cache_max_age.unwrap_or_else(|| {
        c.as_ref()
            .and_then(|c| u32::try_from(c.rotation.cache_max_age).ok())
            .unwrap_or(DEFAULT_CACHE_MAX_AGE)
    });
    // The keys are checked before anything binds.
    let set = keys.load()?;
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => Some(run::tls_config(c, k)?),
        _ => None,
    };
    let listener = run::bind(&a.listen).await?;
    let options = ServeOptions {
        issuer,
        jwks_path,
        keys,
        cache_max_age,
        reload_interval: a.reload_interval,
        limits: server::Limits {
            max_connections: a.max_connections,
            idle_timeout: a.idle_timeout,
            first_request_timeout: a.first_request_timeout,
            tls_handshake_timeout: a.first_request_timeout,
            ..server::Limits::default()
        },
    };
    run::serve(listener, &options, &set, tls, print_listening).await?;
    Ok(Outcome::Done)
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

pub(super) async fn quickstart(a: QuickstartArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let files = quickstart::prepare(&a.dir, &mut rand::rngs::OsRng)?;
    let listener = run::bind(&a.listen).await?;
    let port = listener.local_addr()?.port();
    let issuer = IssuerUrl::parse(&format!("https://localhost:{port}"), false)?;
    let jwks_path = JwksPath::default();
    let keys = KeySource {
        files: vec![files.sa_key.clone()],
        dir: None,
    };
    let set = keys.load()?;
    let tls = run::tls_config(&files.tls_cert, &files.tls_key)?;
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
        OutputFormat::Text => print_quickstart(&info, &files.sa_key, &a.dir),
    }
    let options = ServeOptions {
        issuer,
        jwks_path,
        keys,
        cache_max_age: DEFAULT_CACHE_MAX_AGE,
        reload_interval: std::time::Duration::from_secs(2),
        limits: server::Limits::default(),
    };
    run::serve(listener, &options, &set, Some(tls), print_listening).await?;
    Ok(Outcome::Done)
}

fn print_quickstart(info: &QuickstartInfo, sa_key: &Path, dir: &Path) {
    println!("irsa-issuer quickstart: a local OIDC issuer for Kubernetes service-account tokens");
    println!("  issuer        {}", info.issuer);
    println!("  discovery     {}", info.discovery_url);
    println!("  JWKS          {}", info.jwks_url);
    println!("  CA to trust   {}", info.ca_file);
    println!(
        "  signing key   {} (kid {}, {})",
        sa_key.display(),
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
        dir.display()
    );
}
