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
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
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
