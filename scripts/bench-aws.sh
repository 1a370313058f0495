#!/usr/bin/env bash
# Wall time of a full S3 publish (--create-bucket) + provider apply against moto, and of the
# no-change re-run, over N rounds (a fresh bucket and issuer each round). Not part of CI.
# Usage: scripts/bench-aws.sh [ROUNDS=10]   (uses the dev-profile binary, as CI does)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
venv=.venv-test
if [ ! -x "$venv/bin/moto_server" ]; then
  python3 -m venv "$venv" && "$venv/bin/pip" install --quiet -r tests/requirements.txt
fi
cargo build --quiet
bin=target/debug/irsa-issuer
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
work=$(mktemp -d)
trap 'kill $moto 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/moto-api/" >/dev/null && break; sleep 0.2; done
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=eu-west-1 AWS_EC2_METADATA_DISABLED=true
$bin keys generate --out "$work/k" >/dev/null 2>&1
thumb=$(printf 'a%.0s' $(seq 40))

ms() { date +%s%N; }
full=(); again=()
for i in $(seq "$rounds"); do
  b="bench-$i-$RANDOM"
  t0=$(ms)
  $bin publish --to "s3://$b/c1" --key "$work/k/sa.pub" --create-bucket >/dev/null
  $bin provider apply --issuer "https://s3.eu-west-1.amazonaws.com/$b/c1" --thumbprint "$thumb" >/dev/null
  t1=$(ms)
  $bin publish --to "s3://$b/c1" --key "$work/k/sa.pub" --create-bucket >/dev/null
  $bin provider apply --issuer "https://s3.eu-west-1.amazonaws.com/$b/c1" --thumbprint "$thumb" >/dev/null
  t2=$(ms)
  full+=($(( (t1 - t0) / 1000000 ))); again+=($(( (t2 - t1) / 1000000 )))
done
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "min %d ms, median %d ms, max %d ms", a[1], a[int((NR+1)/2)], a[NR]}'; }
echo "rounds: $rounds (dev-profile binary, moto on loopback, $(nproc) cores)"
echo "publish --create-bucket + provider apply (first run): $(stats "${full[@]}")"
echo "the same again (no change):                         $(stats "${again[@]}")"
