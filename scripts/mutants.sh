#!/usr/bin/env bash
# Mutation testing of the pure core and the engine's scheduling with cargo-mutants: each mutant
# (an operator flipped, a function body replaced by a default) is built and the unit tests run
# against it; a mutant no test kills is a behaviour no test pins. Not part of CI (on 2 cores the
# default scope takes about an hour): run it after changing one of these files, and kill each new
# survivor with a test, or add it to EQUIVALENT below with the reason it cannot be killed.
#
# Usage: scripts/mutants.sh [FILE...]        (default: the scope below)
#   scripts/mutants.sh src/publish/lease.rs  # one file
#   MUTANTS_JOBS=1 scripts/mutants.sh        # one build at a time (default 2)
# Results: mutants.out/ (caught.txt, missed.txt, timeout.txt, unviable.txt); the counts are
# printed at the end.
#
# Scope: the unit-tested pure files where a wrong answer breaks a promise: the rotation state
# machine (when a key may be retired), the bucket policy merge and Block Public Access (what is
# public), trust policies and ownership (who may assume, what may be adopted), the documents and
# their ETags, the lock's lease, and the step scheduler (dependencies and bounds). The AWS and
# file adapters are covered by the integration tests against moto, too slow to run per mutant.
set -euo pipefail
cd "$(dirname "$0")/.."

SCOPE=(
  src/rotation/state.rs
  src/aws/bucket.rs
  src/aws/trust.rs
  src/aws/owner.rs
  src/oidc/documents.rs
  src/publish/objects.rs
  src/publish/lease.rs
  src/reconcile/execute.rs
)
# In execute.rs only the scheduler is pure; `execute`, `run` and `store` call AWS.
EXCLUDE='reconcile/execute\.rs:.*(replace (execute|run|store) | in (execute|run|store)$)'

if ! command -v cargo-mutants >/dev/null 2>&1; then
  echo "==> installing cargo-mutants" >&2
  cargo install cargo-mutants --locked
fi
files=("$@")
if [ "${#files[@]}" -eq 0 ]; then files=("${SCOPE[@]}"); fi
args=()
for f in "${files[@]}"; do args+=(-f "$f"); done
status=0
cargo mutants "${args[@]}" --exclude-re "$EXCLUDE" --jobs "${MUTANTS_JOBS:-2}" \
  --timeout 120 --no-shuffle -- --lib || status=$?
out=mutants.out
count() { [ -f "$out/$1" ] && grep -c . "$out/$1" || echo 0; }
echo "caught $(count caught.txt), missed $(count missed.txt), timeout $(count timeout.txt), unviable $(count unviable.txt)"
if [ -s "$out/missed.txt" ]; then
  echo "missed (no test failed):"
  sed 's/^/  /' "$out/missed.txt"
fi
# cargo-mutants exits 2 when mutants were missed, 3 on timeouts, 4 when the baseline fails.
exit "$status"
