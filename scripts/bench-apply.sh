#!/usr/bin/env bash
# Wall time of `irsa-issuer apply -f FILE --yes` against moto over N rounds: a full apply
# (key generated, bucket created, both documents, the provider in two accounts, one role in
# each) and the no-change re-run. A fresh bucket, key directory and accounts each round.
# Not part of CI. Usage: scripts/bench-apply.sh [ROUNDS=10]   (dev-profile binary, as CI)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
venv=.venv-test
if [ ! -x "$venv/bin/moto_server" ]; then
  python3 -m venv "$venv" && "$venv/bin/pip" install --quiet -r tests/requirements.txt
fi
cargo build --quiet
bin=$PWD/target/debug/irsa-issuer
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
work=$(mktemp -d)
trap 'kill $moto 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/moto-api/" >/dev/null && break; sleep 0.2; done
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=eu-west-1 AWS_EC2_METADATA_DISABLED=true

ms() { date +%s%N; }
full=(); again=()
for i in $(seq "$rounds"); do
  b="bench-apply-$i-$RANDOM"
  acct=$(printf '%012d' $((RANDOM * 32768 + RANDOM)))
  d="$work/$i"; mkdir -p "$d"
  cat > "$d/cluster.toml" <<TOML
target = "s3://$b/c1"
[keys]
dir = "keys"
generate = true
[s3]
create_bucket = true
[provider]
thumbprints = ["$(printf 'a%.0s' $(seq 40))"]
[[accounts]]
assume_role = "arn:aws:iam::$acct:role/irsa-admin"
[[roles]]
name = "app"
service_accounts = ["default/app"]
TOML
  t0=$(ms)
  $bin apply -f "$d/cluster.toml" --yes >/dev/null 2>&1
  t1=$(ms)
  $bin apply -f "$d/cluster.toml" --yes --output json > "$d/again.json" 2>/dev/null
  t2=$(ms)
  grep -q '"add": 0' "$d/again.json" && grep -q '"change": 0' "$d/again.json" || { echo "round $i: the re-run was not a no-op" >&2; exit 1; }
  full+=($(( (t1 - t0) / 1000000 ))); again+=($(( (t2 - t1) / 1000000 )))
done
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "min %d ms, median %d ms, max %d ms", a[1], a[int((NR+1)/2)], a[NR]}'; }
echo "rounds: $rounds (dev-profile binary, moto on loopback, $(nproc) cores; 2 accounts, 1 role each)"
echo "apply, full (key, bucket, documents, providers, roles): $(stats "${full[@]}")"
echo "apply, no change:                                       $(stats "${again[@]}")"
