#!/usr/bin/env bash
# Cross-account at fleet scale: wall time of `apply -f` for N accounts x R roles against moto
# behind tests/py/aws_proxy.py adding a fixed latency to every AWS call (40 ms: about one real
# IAM round trip), the first apply and the no-change re-apply. Not part of CI (speed is
# measured here, never by timed tests).
#
# Usage: scripts/bench-fleet.sh [ACCOUNTS="1 4 8 16"] [ROLES=5] [LATENCY_MS=40] [REPEATS=3]
#   BEFORE=path/to/older/irsa-issuer scripts/bench-fleet.sh   # also time another binary
#                                                             # (same file, same proxy)
# Each (binary, N) gets its own bucket, cluster tag and N-1 fresh moto accounts reached with
# AssumeRole; the first apply is timed once, the no-change re-apply REPEATS times (median,
# min, max). The script fails if a re-apply is not a no-op (`--plan` must exit 0 after it).
# Uses the dev-profile binary, as CI does.
set -euo pipefail
cd "$(dirname "$0")/.."
accounts=${1:-"1 4 8 16"}
roles=${2:-5}
latency=${3:-40}
repeats=${4:-3}
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
printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*"}]}' >"$work/read.json"

# cluster.toml for N accounts x R roles, named $1 (bucket, tag, role names).
write_file() {
  local name=$1 n=$2 dir=$work/$1
  mkdir -p "$dir"
  cp "$work/read.json" "$dir/read.json"
  {
    printf 'target = "s3://%s/c"\n[aws]\nregion = "us-east-1"\n[keys]\ndir = "keys"\ngenerate = true\n' "$name"
    printf '[s3]\ncreate_bucket = true\n[provider]\nthumbprints = ["%s"]\n[tags]\ncluster = "%s"\n' "$(printf 'a%.0s' $(seq 40))" "$name"
    for _ in $(seq 2 "$n"); do
      printf '[[accounts]]\nassume_role = "arn:aws:iam::%012d:role/irsa-admin"\n' "$(( (RANDOM << 30 | RANDOM << 15 | RANDOM) % 1000000000000 ))"
    done
    for r in $(seq "$roles"); do
      printf '[[roles]]\nname = "%s-app%d"\nservice_accounts = ["team%d/app"]\ninline_policies = { read = "read.json" }\n' "$name" "$r" "$r"
    done
  } >"$dir/cluster.toml"
  echo "$dir/cluster.toml"
}

ms() { date +%s%N; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%d", a[int((NR+1)/2)]}'; }
range() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%d-%d", a[1], a[NR]}'; }

echo "N accounts x $roles roles, $latency ms per AWS call, $(nproc) cores, dev-profile binaries"
printf '%-7s %-9s %14s %16s %14s\n' binary accounts "first apply" "re-apply median" "(min-max)"
# Credentials for a fresh moto account (AssumeRole into a random account ID: moto files what
# they create under it), so that no run reads another's roles.
fresh_account() {
  AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" "$py" - <<'PY'
import random, boto3
c = boto3.client("sts", region_name="us-east-1").assume_role(
    RoleArn="arn:aws:iam::%012d:role/bench" % random.randrange(10**12), RoleSessionName="bench"
)["Credentials"]
print("export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_SESSION_TOKEN=%s"
      % (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]))
PY
}

for i in "${!bins[@]}"; do
  bin=${bins[$i]}
  for n in $accounts; do
    name="fb${names[$i]:0:1}$n-$RANDOM"
    f=$(write_file "$name" "$n")
    creds=$(fresh_account)
    eval "$creds"
    t0=$(ms)
    "$bin" apply -f "$f" --yes >"$work/$name/first.log" 2>&1 || { cat "$work/$name/first.log" >&2; exit 1; }
    t1=$(ms)
    first=$(( (t1 - t0) / 1000000 ))
    again=()
    for _ in $(seq "$repeats"); do
      t0=$(ms)
      "$bin" apply -f "$f" --yes >"$work/$name/again.log" 2>&1 || { cat "$work/$name/again.log" >&2; exit 1; }
      t1=$(ms)
      again+=($(( (t1 - t0) / 1000000 )))
    done
    if ! "$bin" apply -f "$f" --plan >"$work/$name/plan.log" 2>&1; then
      echo "${names[$i]}, $n accounts: the re-apply was not a no-op:" >&2; cat "$work/$name/plan.log" >&2; exit 1
    fi
    printf '%-7s %-9s %11d ms %13d ms %14s\n' "${names[$i]}" "$n" "$first" "$(median "${again[@]}")" "($(range "${again[@]}") ms)"
  done
done
