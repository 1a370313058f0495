#!/usr/bin/env bash
# IRSA at cluster creation with kubeadm, before `kubeadm init`:
#   1. the signing key goes into the kubeadm PKI directory (KUBEADM_PKI_DIR/irsa-issuer), created
#      only if absent (private key 0600);
#   2. `irsa-issuer apply` publishes the issuer and converges the provider in every account and
#      the roles (idempotent: re-run at will);
#   3. the ClusterConfiguration patch for kube-apiserver is printed on stdout.
#
# Usage: scripts/bootstrap-kubeadm.sh CLUSTER.toml > irsa-clusterconfiguration.yaml
#   Merge the printed apiServer.extraArgs into the ClusterConfiguration given to
#   `kubeadm init --config`. kubeadm's own sa.pub stays accepted, so token Secrets signed by
#   kube-controller-manager keep working.
# Environment: IRSA_BIN (default: irsa-issuer on PATH), KUBEADM_PKI_DIR (default
#   /etc/kubernetes/pki), plus the AWS credential chain and irsa-issuer's IRSA_ISSUER_* overrides.
set -euo pipefail

config=${1:?usage: bootstrap-kubeadm.sh CLUSTER.toml}
bin=${IRSA_BIN:-irsa-issuer}
pki=${KUBEADM_PKI_DIR:-/etc/kubernetes/pki}

log() { echo "bootstrap-kubeadm: $*" >&2; }

export IRSA_ISSUER_KEY_DIR="$pki/irsa-issuer"
export IRSA_ISSUER_GENERATE_KEYS=true
umask 077
mkdir -p "$pki"

log "converging $config (signing keys in $IRSA_ISSUER_KEY_DIR)"
"$bin" apply -f "$config" --yes >&2
log "kube-apiserver settings for kubeadm (stdout):"
"$bin" apiserver-flags -f "$config" --format kubeadm --extra-key-file "$pki/sa.pub"
