#!/usr/bin/env bash
# Mutation testing of the pure core and the engine's scheduling with cargo-mutants: each mutant
# (an operator flipped, a function body replaced by a default) is built and the unit tests run
# against it; a mutant no test kills is a behaviour no test pins. Not part of CI (on 2 cores the
# default scope takes about 35 minutes): run it after changing one of these files, and kill each new
# survivor with a test, or add it to EQUIVALENT below with the reason it cannot be killed.
#
# Usage: scripts/mutants.sh [FILE...]        (default: the scope below)
#   scripts/mutants.sh src/publish/lease.rs  # one file
#   MUTANTS_JOBS=2 scripts/mutants.sh        # two builds at once (default 1; 2 cores)
# Results: mutants.out/ (caught.txt, missed.txt, timeout.txt, unviable.txt); the counts are
# printed at the end.
#
# Scope (89 mutants, about 35 minutes on an idle 2-core machine): the unit-tested pure code
# where a wrong answer breaks a promise: the rotation state machine (when a key may be promoted
# and retired; its duration parser aside), the documents' objects and ETags, the lock's lease,
# and the scheduler's bounds. Display helpers (`describe`, `details`) are pinned by
# tests/golden.rs, and the AWS and file adapters by the integration tests against moto, both too
# slow to run per mutant. `scripts/mutants.sh FILE...` runs every mutant of the files given
# instead (src/aws/bucket.rs, src/aws/trust.rs and src/aws/owner.rs are the next candidates).
# Only the library's unit tests are built and run for each mutant (--cargo-arg=--lib): building
# every integration test too takes a minute per mutant.
# EQUIVALENT (mutants no test can kill, with why): none in this scope. The run of 2026-12-01:
# 89 mutants, 66 caught, 14 unviable (do not compile), 9 missed; each of the 9 was then killed
# by a unit test (jwks_kids, was_retired x3, confirm x2, the retire wait and --force report,
# next_step's wording), checked by running the survivors' functions again.
SCOPE=(
  src/rotation/state.rs
  src/publish/objects.rs
  src/publish/lease.rs
  src/reconcile/execute.rs
)
ONLY='^(src/rotation/state\.rs|src/publish/(objects|lease)\.rs|src/reconcile/execute\.rs:.*may_start)'
EXCLUDE='parse_duration|(replace|in) [A-Za-z:]*(details|describe)\b'

if ! command -v cargo-mutants >/dev/null 2>&1; then
  echo "==> installing cargo-mutants" >&2
  cargo install cargo-mutants --locked
fi
files=("$@")
args=()
if [ "${#files[@]}" -eq 0 ]; then
  files=("${SCOPE[@]}")
  args+=(--re "$ONLY" --exclude-re "$EXCLUDE")
fi
for f in "${files[@]}"; do args+=(-f "$f"); done
status=0
cargo mutants "${args[@]}" --jobs "${MUTANTS_JOBS:-1}" --timeout 120 --no-shuffle \
  --cargo-arg=--lib || status=$?
out=mutants.out
count() { [ -f "$out/$1" ] && grep -c . "$out/$1" || echo 0; }
echo "caught $(count caught.txt), missed $(count missed.txt), timeout $(count timeout.txt), unviable $(count unviable.txt)"
if [ -s "$out/missed.txt" ]; then
  echo "missed (no test failed):"
  sed 's/^/  /' "$out/missed.txt"
fi
# cargo-mutants exits 2 when mutants were missed, 3 on timeouts, 4 when the baseline fails.
exit "$status"
