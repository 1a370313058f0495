# Sourced by scripts/bench-fleet.sh and scripts/bench-race.sh (not run on its own): the test
# venv, the dev binaries to time (target/debug/irsa-issuer as "now", and $BEFORE as "before"
# when set), moto's server on a free loopback port behind tests/py/aws_proxy.py adding
# $latency ms per call, and the AWS environment pointing at the proxy. Sets py, bins, names,
# work (a temporary directory), moto_port and proxy; everything started is stopped on exit.
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
