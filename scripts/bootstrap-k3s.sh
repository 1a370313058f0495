#!/usr/bin/env bash
# IRSA at cluster creation with k3s, before the first server starts:
#   1. the signing key goes into k3s' TLS directory (K3S_TLS_DIR/irsa-issuer), created only if
#      absent (private key 0600);
#   2. `irsa-issuer apply` publishes the issuer and converges the provider in every account and
#      the roles (idempotent: re-run at will);
#   3. the kube-apiserver-arg entries are printed on stdout.
#
# Usage: scripts/bootstrap-k3s.sh CLUSTER.toml > irsa-k3s.yaml
#   Then add its kube-apiserver-arg entries to /etc/rancher/k3s/config.yaml (or put the file in
#   /etc/rancher/k3s/config.yaml.d/ when config.yaml has no kube-apiserver-arg of its own).
#   k3s' own service.key stays accepted, so token Secrets it signed keep working.
# Environment: IRSA_BIN (default: irsa-issuer on PATH), K3S_TLS_DIR (default
#   /var/lib/rancher/k3s/server/tls), plus the AWS credential chain and irsa-issuer's
#   IRSA_ISSUER_* overrides.
set -euo pipefail

config=${1:?usage: bootstrap-k3s.sh CLUSTER.toml}
bin=${IRSA_BIN:-irsa-issuer}
tls=${K3S_TLS_DIR:-/var/lib/rancher/k3s/server/tls}

log() { echo "bootstrap-k3s: $*" >&2; }

export IRSA_ISSUER_KEY_DIR="$tls/irsa-issuer"
export IRSA_ISSUER_GENERATE_KEYS=true
umask 077
mkdir -p "$tls"

log "converging $config (signing keys in $IRSA_ISSUER_KEY_DIR)"
"$bin" apply -f "$config" --yes >&2
log "k3s config entries (stdout):"
"$bin" apiserver-flags -f "$config" --format k3s --extra-key-file "$tls/service.key"
