#!/usr/bin/env bash
# Benchmark of `irsa-issuer webhook` (not a test, not in CI): release build, AdmissionReviews of
# a realistic pod (3 containers and an init container) over TLS on loopback, sent open-loop at
# fixed rates by examples/bench_webhook.rs (latency counted from when each request was due, so
# queueing shows), through a pool of keep-alive connections as kube-apiserver keeps one.
#   1. ServiceAccounts from a file (the same in-memory lookup as the API watch cache): req/s and
#      p50/p90/p99/p99.9/max at each rate. Goal: p99 under 2 ms at 2,000 req/s on 2 cores.
#   2. A stuck API (a socket that accepts and never answers) and pods whose ServiceAccount is not
#      cached: every admission must come back, unchanged, within the lookup timeout.
# The load generator and the server share the machine's cores.
# Usage: scripts/bench-webhook.sh [SECONDS=10] [RATES="1000 2000 5000"] [CONNECTIONS=32]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
rates=${2:-"1000 2000 5000"}
conns=${3:-32}
timeout_ms=250

cargo build --release --quiet --bin irsa-issuer --example bench_webhook
bin=target/release/irsa-issuer
load=target/release/examples/bench_webhook

work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
host=irsa-issuer-webhook.bench.svc
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench-root \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
  -keyout "$work/ca.key" -out "$work/ca.crt" -days 1 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench-intermediate \
  -keyout "$work/int.key" -out "$work/int.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign\n' >"$work/int.ext"
openssl x509 -req -in "$work/int.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
  -extfile "$work/int.ext" -out "$work/int.crt" -days 1 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$host" \
  -keyout "$work/tls.key" -out "$work/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$host" >"$work/leaf.ext"
openssl x509 -req -in "$work/tls.csr" -CA "$work/int.crt" -CAkey "$work/int.key" -CAcreateserial \
  -extfile "$work/leaf.ext" -out "$work/leaf.crt" -days 1 2>/dev/null
cat "$work/leaf.crt" "$work/int.crt" >"$work/tls.crt"
cat >"$work/sa.yaml" <<'YAML'
apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
  namespace: bench
  annotations:
    eks.amazonaws.com/role-arn: "arn:aws:iam::111122223333:role/web"
    eks.amazonaws.com/sts-regional-endpoints: "true"
YAML

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() { # port, extra args...
  local port=$1; shift
  RUST_LOG=warn $bin webhook --listen "127.0.0.1:$port" --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" \
    --aws-default-region eu-west-1 "$@" >/dev/null 2>>"$work/webhook.log" &
  pids+=($!)
  for _ in $(seq 100); do
    curl -s --cacert "$work/ca.crt" --resolve "$host:$port:127.0.0.1" -o /dev/null "https://$host:$port/healthz" && return
    sleep 0.05
  done
  echo "the webhook did not start" >&2; exit 1
}
# CPU time (user + system, in clock ticks) the process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
row() { # label, json, server cpu ticks used
  python3 -c 'import json,os,sys; d=json.loads(sys.argv[2]); hz=os.sysconf("SC_CLK_TCK"); us=int(sys.argv[3])*1e6/hz/max(d["requests"],1); print("%-22s %8s %9s %6s %6s %7s %7s %7s %7s %8s %8.0f" % (sys.argv[1], d["rate"], d["achieved"], d["errors"], d["wrong"], d["p50_ms"], d["p90_ms"], d["p99_ms"], d["p999_ms"], d["max_ms"], us))' "$1" "$2" "$3"
}

echo "machine: $(nproc) cores, shared by the webhook and the load generator; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "${seconds}s per rate, $conns keep-alive connections; cpu_us = the webhook's CPU time per admission"
printf '%-22s %8s %9s %6s %6s %7s %7s %7s %7s %8s %8s\n' scenario rate achieved errors wrong p50_ms p90_ms p99_ms p99.9_ms max_ms cpu_us
port=$(free_port)
start "$port" --service-accounts "$work/sa.yaml"
server=${pids[-1]}
for rate in $rates; do
  before=$(cpu_ticks "$server")
  out=$($load --url "https://$host:$port/mutate" --ca "$work/ca.crt" --connect "127.0.0.1:$port" \
    --rate "$rate" --seconds "$seconds" --connections "$conns" --service-account web --expect mutated)
  row "cached, mutated" "$out" $(( $(cpu_ticks "$server") - before ))
done

# A stuck API: connections are accepted (the kernel's backlog) and never answered.
stuck=$(free_port)
python3 -c "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1',$stuck)); s.listen(4096); time.sleep(3600)" &
pids+=($!)
sleep 0.3
port2=$(free_port)
start "$port2" --kube-api "http://127.0.0.1:$stuck" --service-account-lookup-grace-period "${timeout_ms}ms"
server=${pids[-1]}
before=$(cpu_ticks "$server")
out=$($load --url "https://$host:$port2/mutate" --ca "$work/ca.crt" --connect "127.0.0.1:$port2" \
  --rate 200 --seconds 5 --connections 128 --service-account not-cached --expect unchanged)
row "stuck API, ${timeout_ms}ms" "$out" $(( $(cpu_ticks "$server") - before ))
curl -s --cacert "$work/ca.crt" --resolve "$host:$port2:127.0.0.1" "https://$host:$port2/metrics" \
  | grep -E 'admissions_total\{result="(lookup_timeout|mutated)"\}|api_gets_total\{result="timeout"\}'
echo "(the load generator's warm-up requests are counted in /metrics too; the webhook's log: $(wc -l <"$work/webhook.log") lines)"
