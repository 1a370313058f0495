//! `irsa-issuer webhook` (serve the pod-identity webhook), `webhook mutate` (the patch it would
//! return for one pod) and `webhook install` (its certificate and MutatingWebhookConfiguration).
//! Flag names and defaults are the upstream amazon-eks-pod-identity-webhook's, so its Deployment
//! arguments work unchanged; the few that only made sense there are accepted and ignored.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::{print_json, Outcome, OutputFormat};
use irsa_issuer::webhook::install::{self, InstallOptions};
use irsa_issuer::webhook::mutate::{self, Settings};
use irsa_issuer::webhook::server::{self, SourceOptions, TlsMinVersion, WebhookOptions};
use irsa_issuer::webhook::source::{self, ApiOptions};
use irsa_issuer::webhook::{accounts::Directory, certs};

/// Arguments of `webhook`: serve, unless a subcommand is given.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct WebhookArgs {
    #[command(subcommand)]
    command: Option<WebhookCommand>,
    #[command(flatten)]
    serve: ServeArgs,
}

impl WebhookArgs {
    /// Whether this runs the server (logs at info).
    pub(super) fn is_server(&self) -> bool {
        self.command.is_none()
    }
}

/// `webhook` subcommands.
#[derive(Debug, Subcommand)]
enum WebhookCommand {
    /// Print the JSONPatch the webhook would return for a pod (a dry run; --output json adds
    /// the mutated pod).
    Mutate(MutateArgs),
    /// Print, for `kubectl apply -f -`, a serving certificate for SERVICE.NAMESPACE.svc signed
    /// by a CA made for it, its Secret, and the MutatingWebhookConfiguration trusting that CA.
    Install(InstallArgs),
}

/// Go's `strconv.ParseBool`, for the upstream boolean flags (`--in-cluster=false`).
fn go_bool(s: &str) -> Result<bool, String> {
    mutate::parse_bool(s).ok_or_else(|| format!("`{s}` is not a boolean: use true or false"))
}

/// A Go duration (`time.ParseDuration`): `0`, `100ms`, `1s`, `1m30s`, `1.5s`.
fn go_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration: use e.g. 100ms, 1s, 1m30s");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n: f64 = rest[..n_end].parse().map_err(|_| bad())?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * unit;
        rest = &rest[u_end..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// What the mutation is made of (the upstream flags).
#[derive(Debug, Clone, Args)]
struct MutationArgs {
    /// The ServiceAccount and pod annotations to look for: PREFIX/role-arn, PREFIX/audience,
    /// PREFIX/sts-regional-endpoints, PREFIX/token-expiration, PREFIX/skip-containers.
    #[arg(long, default_value = mutate::DEFAULT_ANNOTATION_PREFIX, value_name = "PREFIX")]
    annotation_prefix: String,
    /// The token audience when the ServiceAccount's audience annotation does not say.
    #[arg(long, default_value = mutate::DEFAULT_AUDIENCE, value_name = "AUD")]
    token_audience: String,
    /// Where the token volume is mounted in each container.
    #[arg(long, default_value = mutate::DEFAULT_MOUNT_PATH, value_name = "PATH")]
    token_mount_path: String,
    /// The token lifetime in seconds when no annotation says (raised to at least 600).
    #[arg(long, default_value_t = mutate::DEFAULT_TOKEN_EXPIRATION, value_name = "SECONDS", allow_negative_numbers = true)]
    token_expiration: i64,
    /// If set, AWS_DEFAULT_REGION and AWS_REGION are set to it in containers that set neither.
    #[arg(
        long,
        default_value = "",
        value_name = "REGION",
        hide_default_value = true
    )]
    aws_default_region: String,
    /// Add AWS_STS_REGIONAL_ENDPOINTS=regional unless the ServiceAccount's
    /// sts-regional-endpoints annotation says otherwise.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    sts_regional_endpoint: Option<bool>,
}

impl MutationArgs {
    fn settings(&self) -> anyhow::Result<Settings> {
        if self.annotation_prefix.is_empty() || self.annotation_prefix.contains('/') {
            bail!("--annotation-prefix must be a DNS-style prefix without a slash, such as eks.amazonaws.com");
        }
        if !self.token_mount_path.starts_with('/') {
            bail!(
                "--token-mount-path must be an absolute path (Kubernetes refuses a relative mountPath), not `{}`",
                self.token_mount_path
            );
        }
        Ok(Settings {
            annotation_prefix: self.annotation_prefix.clone(),
            token_audience: self.token_audience.clone(),
            token_mount_path: self.token_mount_path.clone(),
            token_expiration: mutate::floor_expiration(self.token_expiration),
            aws_default_region: self.aws_default_region.clone(),
            sts_regional_endpoint: self.sts_regional_endpoint.unwrap_or(false),
        })
    }
}

/// Arguments of `webhook` (serving).
#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    mutation: MutationArgs,
    /// Port to listen on (all addresses); --listen takes precedence.
    #[arg(long, default_value_t = 443, value_name = "PORT")]
    port: u16,
    /// Address to listen on, e.g. 127.0.0.1:8443 (port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Also serve /metrics, /healthz and /readyz over plain HTTP on this port (same host as the
    /// webhook). Without it they are served over HTTPS beside /mutate.
    #[arg(long, value_name = "PORT")]
    metrics_port: Option<u16>,
    /// The serving certificate chain (PEM, leaf first); reloaded when it changes.
    #[arg(long, default_value = "/etc/webhook/certs/tls.crt", value_name = "PEM")]
    tls_cert: PathBuf,
    /// Its private key (PEM).
    #[arg(long, default_value = "/etc/webhook/certs/tls.key", value_name = "PEM")]
    tls_key: PathBuf,
    /// The lowest TLS version: 1.2 (default) or 1.3.
    #[arg(long, value_name = "VERSION")]
    tls_min_version: Option<String>,
    /// Read ServiceAccounts from this file (`kubectl get sa -A -o yaml`, or `irsa-issuer role
    /// manifest` output) instead of the Kubernetes API; reloaded when it changes.
    #[arg(long, value_name = "FILE")]
    service_accounts: Option<PathBuf>,
    /// How often the certificate and the --service-accounts file are checked for changes.
    #[arg(long, default_value = "2s", value_parser = go_duration, value_name = "DURATION")]
    reload_interval: Duration,
    /// A kubeconfig file to reach the API server with (default: the pod's ServiceAccount).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The API server's URL (overrides the kubeconfig's server).
    #[arg(long, value_name = "URL")]
    kube_api: Option<String>,
    /// How long to wait for a ServiceAccount that is not in the watch cache yet (one GET to the
    /// API server); after that the pod is admitted unchanged. 0: do not wait.
    #[arg(long, default_value = "1s", value_parser = go_duration, value_name = "DURATION")]
    service_account_lookup_grace_period: Duration,
    /// Accepted for upstream compatibility: certificates always come from --tls-cert/--tls-key
    /// (`webhook install` makes them), as upstream's --in-cluster=false.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    in_cluster: Option<bool>,
    /// Accepted for upstream compatibility (its in-cluster certificate requests); ignored.
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
    /// Accepted for upstream compatibility (its in-cluster certificate requests); ignored.
    #[arg(long, value_name = "NAME")]
    service_name: Option<String>,
    /// Accepted for upstream compatibility (its in-cluster certificate requests); ignored.
    #[arg(long, value_name = "NAME")]
    tls_secret: Option<String>,
    /// Accepted for upstream compatibility; logs always go to stderr.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    logtostderr: Option<bool>,
    /// Accepted for upstream compatibility; the watch needs no periodic resync.
    #[arg(long, value_name = "DURATION", value_parser = go_duration)]
    resync_period: Option<Duration>,
    /// Upstream's ConfigMap of ServiceAccounts: not supported (refused with a hint).
    #[arg(long, hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    watch_config_map: Option<bool>,
    /// Upstream's role names without an ARN: not supported (refused with a hint).
    #[arg(long, hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    compose_role_arn: Option<bool>,
}

fn print_listening(addr: std::net::SocketAddr) {
    // Tests and scripts that ask for port 0 read the address from this line.
    println!("listening on https://{addr}");
}

async fn serve(a: ServeArgs) -> anyhow::Result<Outcome> {
    if a.watch_config_map == Some(true) {
        bail!("--watch-config-map is not supported: annotate the ServiceAccounts (irsa-issuer role manifest prints them), or give them in a --service-accounts file");
    }
    if a.compose_role_arn == Some(true) {
        bail!("--compose-role-arn is not supported: put the full role ARN in the role-arn annotation (irsa-issuer role manifest does)");
    }
    if a.in_cluster == Some(true) {
        tracing::warn!("--in-cluster=true is ignored: the serving certificate comes from --tls-cert and --tls-key (upstream's --in-cluster=false); `irsa-issuer webhook install` makes one");
    }
    let settings = a.mutation.settings()?;
    let tls_min_version = match a.tls_min_version.as_deref() {
        None | Some("1.2" | "VersionTLS12") => TlsMinVersion::Tls12,
        Some("1.3" | "VersionTLS13") => TlsMinVersion::Tls13,
        Some(v) => bail!("--tls-min-version {v}: use 1.2 or 1.3 (TLS 1.0 and 1.1 are not offered)"),
    };
    let source = match &a.service_accounts {
        Some(f) => {
            if a.kubeconfig.is_some() || a.kube_api.is_some() {
                bail!("--service-accounts reads ServiceAccounts from a file: leave out --kubeconfig and --kube-api");
            }
            SourceOptions::File(f.clone())
        }
        None => SourceOptions::Api(ApiOptions {
            kubeconfig: a.kubeconfig.clone(),
            api_url: a.kube_api.clone(),
            lookup_timeout: a.service_account_lookup_grace_period,
            max_concurrent_gets: 20,
        }),
    };
    let options = WebhookOptions {
        settings,
        source,
        tls_cert: a.tls_cert.clone(),
        tls_key: a.tls_key.clone(),
        tls_min_version,
        reload_interval: a.reload_interval,
    };
    let prepared = server::prepare(&options).await?;
    let listen = a
        .listen
        .clone()
        .unwrap_or_else(|| format!("0.0.0.0:{}", a.port));
    let listener = irsa_issuer::serve::run::bind(&listen).await?;
    let metrics = match a.metrics_port {
        Some(port) => {
            let ip = listener.local_addr()?.ip();
            let m = irsa_issuer::serve::run::bind(&std::net::SocketAddr::new(ip, port).to_string())
                .await?;
            println!("metrics on http://{}", m.local_addr()?);
            Some(m)
        }
        None => None,
    };
    server::serve(listener, metrics, prepared, print_listening).await?;
    Ok(Outcome::Done)
}

/// Arguments of `webhook mutate`.
#[derive(Debug, Args)]
struct MutateArgs {
    /// The pod (`kubectl get pod NAME -o json` or -o yaml, or a manifest); `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    pod: PathBuf,
    /// The ServiceAccounts (`kubectl get sa -A -o yaml`, or `irsa-issuer role manifest`).
    #[arg(long, value_name = "FILE")]
    service_accounts: PathBuf,
    /// The pod's namespace when its manifest names none (the webhook takes the request's).
    #[arg(long, value_name = "NS", default_value = "default")]
    namespace: String,
    #[command(flatten)]
    mutation: MutationArgs,
}

#[derive(Serialize)]
struct MutateReport<'a> {
    service_account: String,
    mutated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    patch: &'a [mutate::PatchOp],
    pod: &'a serde_json::Value,
}

fn read_input(path: &std::path::Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .context("reading the pod from stdin")?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    }
}

fn mutate_cmd(a: MutateArgs, out: OutputFormat) -> anyhow::Result<Outcome> {
    let settings = a.mutation.settings()?;
    let pod = mutate::parse_pod(&read_input(&a.pod)?, &a.pod.display().to_string())
        .map_err(anyhow::Error::msg)?;
    let dir = Directory::new(std::sync::Arc::new(settings.clone()));
    dir.replace_all(&source::read_file(&a.service_accounts)?);
    let namespace = pod["metadata"]["namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
        .unwrap_or(&a.namespace)
        .to_string();
    let sa = mutate::service_account_name(&pod).to_string();
    let (mutation, reason) = match dir.get(&namespace, &sa) {
        None => (None, Some(format!("ServiceAccount {namespace}/{sa} is not in {}: the webhook admits the pod unchanged", a.service_accounts.display()))),
        Some(None) => (None, Some(format!("ServiceAccount {namespace}/{sa} has no {} annotation: the webhook admits the pod unchanged", settings.annotation(mutate::ROLE_ARN)))),
        Some(Some(id)) => (Some(mutate::mutate(&pod, &id, &settings).map_err(|e| anyhow::anyhow!("{}: {e}", a.pod.display()))?), None),
    };
    let empty = Vec::new();
    let (patch, mutated_pod) = match &mutation {
        Some(m) => (&m.patch, &m.pod),
        None => (&empty, &pod),
    };
    let reason = match (&reason, patch.is_empty()) {
        (None, true) => Some("the pod already has everything the webhook adds".to_string()),
        _ => reason,
    };
    match out {
        OutputFormat::Json => print_json(&MutateReport {
            service_account: format!("{namespace}/{sa}"),
            mutated: !patch.is_empty(),
            reason,
            patch,
            pod: mutated_pod,
        })?,
        OutputFormat::Text => {
            if let Some(r) = &reason {
                eprintln!("{r}");
            }
            println!(
                "{}",
                serde_json::to_string_pretty(patch).context("rendering the patch")?
            );
        }
    }
    Ok(Outcome::Done)
}

/// Arguments of `webhook install`.
#[derive(Debug, Args)]
struct InstallArgs {
    /// The namespace the webhook runs in (deploy/webhook/ uses irsa-issuer).
    #[arg(long, value_name = "NS")]
    namespace: String,
    /// Its Service.
    #[arg(long, default_value = install::DEFAULT_SERVICE, value_name = "NAME")]
    service_name: String,
    /// The Secret for the serving certificate (the Deployment mounts it).
    #[arg(long, default_value = install::DEFAULT_SECRET, value_name = "NAME")]
    secret_name: String,
    /// The MutatingWebhookConfiguration's name.
    #[arg(long, default_value = install::DEFAULT_CONFIGURATION, value_name = "NAME")]
    configuration_name: String,
    /// How long the API server waits for the webhook before admitting a pod unchanged.
    #[arg(long, default_value_t = install::DEFAULT_TIMEOUT_SECONDS, value_parser = clap::value_parser!(u8).range(1..=30), value_name = "SECONDS")]
    timeout_seconds: u8,
    /// How long the certificates are valid; re-run install to renew them.
    #[arg(long, default_value_t = 3650, value_parser = clap::value_parser!(u32).range(1..=36500), value_name = "DAYS")]
    validity_days: u32,
}

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn install_cmd(a: InstallArgs) -> anyhow::Result<Outcome> {
    for (flag, v) in [
        ("--namespace", &a.namespace),
        ("--service-name", &a.service_name),
    ] {
        if !dns_label(v) {
            bail!(
                "{flag} `{v}` is not a DNS label (lower-case letters, digits and '-', at most 63)"
            );
        }
    }
    let o = InstallOptions {
        namespace: a.namespace.clone(),
        service: a.service_name.clone(),
        secret: a.secret_name.clone(),
        configuration: a.configuration_name.clone(),
        timeout_seconds: a.timeout_seconds,
    };
    let issued = certs::issue(
        &o.dns_names(),
        time::OffsetDateTime::now_utc(),
        a.validity_days,
    )?;
    print!("{}", install::manifests(&o, &issued));
    Ok(Outcome::Done)
}

pub(super) async fn run(a: Box<WebhookArgs>, out: OutputFormat) -> anyhow::Result<Outcome> {
    match a.command {
        None => serve(a.serve).await,
        Some(WebhookCommand::Mutate(m)) => mutate_cmd(m, out),
        Some(WebhookCommand::Install(i)) => install_cmd(i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("0"), Ok(Duration::ZERO));
        assert_eq!(go_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        for bad in ["", "5", "1x", "s", "-1s"] {
            assert!(go_duration(bad).is_err(), "{bad}");
        }
    }
}
