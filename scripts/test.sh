#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need on a fresh machine (openssl
# for cross-checks, a Python venv with the independent verifiers), then runs formatting and lint
# checks and every test. Usage: scripts/test.sh   (from anywhere in the checkout)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '==> %s\n' "$*" >&2; }

# 1. System tools the tests call: openssl (kid and TLS-chain cross-checks).
if ! command -v openssl >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing openssl"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
  else
    echo "openssl is required by the tests: install it (e.g. apt-get install openssl)" >&2
    exit 1
  fi
fi

# 2. Python venv with the independent verifiers (PyJWT), moto, the Kubernetes schema validator
#    and hadolint (tests/requirements.txt), rebuilt when the requirements change.
venv="$root/.venv-test"
stamp="$venv/.requirements.sha256"
want=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "creating the test venv in $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
  echo "$want" > "$stamp"
fi
export IRSA_TEST_PYTHON="$venv/bin/python"

# 3. moto's server on a free loopback port: the AWS stand-in (S3, IAM, STS) for the AWS tests,
#    through tests/py/moto_server.py, which adds the few calls moto lacks (see its docstring).
moto_port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p target
moto_log="$root/target/moto.log"
# moto records every request it serves (headers and body) in a file of its own: the tests read
# it to see which calls reached AWS, independently of irsa-issuer's own call recorder.
moto_recording="$root/target/moto-recording.jsonl"
: >"$moto_recording"
MOTO_ENABLE_RECORDING=True MOTO_RECORDER_FILEPATH="$moto_recording" \
  "$venv/bin/python" tests/py/moto_server.py -H 127.0.0.1 -p "$moto_port" >"$moto_log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  if "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$moto_port/moto-api/', timeout=1)" 2>/dev/null; then
    break
  fi
  kill -0 "$moto_pid" 2>/dev/null || { echo "moto_server exited; see $moto_log" >&2; cat "$moto_log" >&2; exit 1; }
  sleep 0.2
done
export IRSA_TEST_MOTO_ENDPOINT="http://127.0.0.1:$moto_port"
export IRSA_TEST_MOTO_LOG="$moto_log"
export IRSA_TEST_MOTO_RECORDING="$moto_recording"
say "moto listening on $IRSA_TEST_MOTO_ENDPOINT"

# 4. Checks and tests (dev profile).
say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
say "cargo test"
cargo test --all-targets --locked
