#!/usr/bin/env bash
# Two pipelines at once, counted: RACES times, four clusters sharing one bucket (prefixes c1..c4)
# run `apply -f` eight times at once (each file twice) against moto behind tests/py/aws_proxy.py
# adding 40 ms per call; afterwards the bucket policy must hold one statement per cluster. Prints,
# per binary, the races in which a statement was lost while every run exited 0, and the runs
# that failed. Not part of CI (tests/locks.rs is the CI test of the same race).
#
# Usage: scripts/bench-race.sh [RACES=6] [LATENCY_MS=40]
#   BEFORE=path/to/older/irsa-issuer scripts/bench-race.sh   # also race another binary
set -euo pipefail
cd "$(dirname "$0")/.."
races=${1:-6}
latency=${2:-40}
venv=.venv-test
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import moto' 2>/dev/null; then
  python3 -m venv "$venv" && "$venv/bin/pip" install --quiet -r tests/requirements.txt
fi
py=$venv/bin/python
cargo build --quiet
bins=("target/debug/irsa-issuer")
names=("now")
if [ -n "${BEFORE:-}" ]; then bins+=("$BEFORE"); names+=("before"); fi

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
moto_port=$(free_port)
"$py" tests/py/moto_server.py -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$moto_port/moto-api/" >/dev/null && break; sleep 0.2; done
"$py" tests/py/aws_proxy.py --upstream "http://127.0.0.1:$moto_port" --latency-ms "$latency" \
  --log "$work/proxy.log" --max-connections 256 --max-seconds 7200 >"$work/proxy.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening on ' "$work/proxy.out" 2>/dev/null && break; sleep 0.1; done
proxy=$(sed -n 's/^listening on //p' "$work/proxy.out")
[ -n "$proxy" ] || { echo "aws_proxy did not start: $(cat "$work/proxy.out")" >&2; exit 1; }
export AWS_ENDPOINT_URL=$proxy AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/nonexistent \
  AWS_SHARED_CREDENTIALS_FILE=/nonexistent

# The number of statements in the bucket's policy (read from moto directly).
statements() {
  AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" "$py" - "$1" <<'PY'
import json, sys, boto3
s3 = boto3.client("s3", region_name="us-east-1")
print(len(json.loads(s3.get_bucket_policy(Bucket=sys.argv[1])["Policy"])["Statement"]))
PY
}

printf '%-7s %6s %22s %16s %18s\n' binary races "races losing a stmt" "runs exited 0" "stmts (of 4) each"
for i in "${!bins[@]}"; do
  bin=${bins[$i]}
  lost=0 ok=0 total=0 counts=()
  for r in $(seq "$races"); do
    dir=$work/${names[$i]}-$r
    mkdir -p "$dir"
    bucket="race-${names[$i]}-$r-$RANDOM"
    for c in 1 2 3 4; do
      printf 'target = "s3://%s/c%d"\n[aws]\nregion = "us-east-1"\n[keys]\ndir = "keys-c%d"\ngenerate = true\n[s3]\ncreate_bucket = true\n[provider]\nthumbprints = []\n[tags]\ncluster = "c%d"\n' \
        "$bucket" "$c" "$c" "$c" >"$dir/c$c.toml"
    done
    # A first cluster made the bucket; then all eight runs start together.
    "$bin" apply -f "$dir/c1.toml" --yes >"$dir/first.log" 2>&1 || { cat "$dir/first.log" >&2; exit 1; }
    run_pids=()
    for k in 1 2; do
      for c in 1 2 3 4; do
        "$bin" apply -f "$dir/c$c.toml" --yes >"$dir/run-$k-$c.log" 2>&1 &
        run_pids+=($!)
      done
    done
    for p in "${run_pids[@]}"; do
      total=$((total + 1))
      if wait "$p"; then ok=$((ok + 1)); fi
    done
    n=$(statements "$bucket")
    counts+=("$n")
    if [ "$n" -lt 4 ]; then lost=$((lost + 1)); fi
  done
  printf '%-7s %6d %22d %11d of %d %18s\n' "${names[$i]}" "$races" "$lost" "$ok" "$total" "${counts[*]}"
done
