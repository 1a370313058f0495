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
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

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
