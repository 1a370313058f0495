#!/usr/bin/env bash
# Benchmark of `irsa-issuer serve`: release build, a 3-key JWKS (RSA-2048, RSA-4096, P-256),
# TLS on loopback, loaded with wrk (HTTP/1.1 keep-alive). Prints requests/s and latency
# percentiles for the discovery document, the JWKS and the 304 (If-None-Match) path.
# Not part of CI. Usage: scripts/bench-serve.sh [DURATION=10s] [CONNECTIONS=64] [THREADS=1]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}
conns=${2:-64}
threads=${3:-1}

if ! command -v wrk >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --quiet
bin=target/release/irsa-issuer

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
$bin keys generate --out "$work/k1" --alg RS256 --bits 2048 >/dev/null 2>&1
$bin keys generate --out "$work/k2" --alg RS256 --bits 4096 >/dev/null 2>&1
$bin keys generate --out "$work/k3" --alg ES256 >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -keyout "$work/tls.key" -out "$work/tls.crt" -days 1 2>/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="https://127.0.0.1:$port"
RUST_LOG=warn $bin serve --issuer "https://localhost" \
  --key "$work/k1/sa.pub" --key "$work/k2/sa.pub" --key "$work/k3/sa.pub" \
  --listen "127.0.0.1:$port" --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" >/dev/null &
pid=$!
for _ in $(seq 50); do curl -skf "$base/healthz" >/dev/null && break; sleep 0.1; done

etag=$(curl -sk -D - -o /dev/null "$base/openid/v1/jwks" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
jwks_bytes=$(curl -sk "$base/openid/v1/jwks" | wc -c)
echo "machine: $(nproc) cores; wrk and the server share them. JWKS: 3 keys, $jwks_bytes bytes. wrk -t$threads -c$conns -d$duration"
printf '%-10s %12s %9s %9s %9s %9s\n' endpoint req/s p50 p90 p99 errors
run() {
  local name=$1; shift
  local out
  out=$(wrk -t"$threads" -c"$conns" -d"$duration" --latency "$@")
  local rps p50 p90 p99 errs
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  p50=$(awk '$1=="50%"{print $2}' <<<"$out")
  p90=$(awk '$1=="90%"{print $2}' <<<"$out")
  p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  errs=$(awk '/Non-2xx or 3xx/{print $NF}' <<<"$out")
  printf '%-10s %12s %9s %9s %9s %9s\n' "$name" "$rps" "$p50" "$p90" "$p99" "${errs:-0}"
}
run discovery "$base/.well-known/openid-configuration"
run jwks "$base/openid/v1/jwks"
run jwks-304 -H "If-None-Match: $etag" "$base/openid/v1/jwks"
curl -sk "$base/metrics" | grep 'route="jwks"' || true
