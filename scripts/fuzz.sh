#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo-fuzz on nightly) one after the other, each for the given
# time, one job at a time. Not part of CI (which stays on stable): crashing inputs go to
# fuzz/artifacts/TARGET/ and, once fixed, become cases in tests/fuzz_regressions.rs.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 600 s, all targets)
#   FUZZ_SANITIZER=address scripts/fuzz.sh 60 keys   # with AddressSanitizer (default: none; the
#                                                    # library is safe Rust, and ASan halves speed)
# Needs: rustup's nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`); installs both
# when missing. Each target's libFuzzer summary (executions, time, corpus) is printed at the
# end and kept in target/fuzz-logs/TARGET.log.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS_ALL=(keys documents token config issuer admission_review)

secs=${1:-600}
shift || true
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${TARGETS_ALL[@]}"); fi
sanitizer=${FUZZ_SANITIZER:-none}

say() { printf '==> %s\n' "$*" >&2; }

if ! rustup toolchain list | grep -q '^nightly'; then
  say "installing the nightly toolchain (fuzzing only)"
  rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  say "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

logs=target/fuzz-logs
mkdir -p "$logs"
say "building the fuzz targets (sanitizer: $sanitizer)"
(cd fuzz && cargo +nightly fuzz build -s "$sanitizer")

failed=()
for t in "${targets[@]}"; do
  corpus=fuzz/corpus/$t
  mkdir -p "$corpus"
  # Seeds (fuzz/seeds/TARGET: the example configuration, real documents, a real token, the
  # golden pods as AdmissionReviews; the key fixtures for keys), then the corpus earlier runs grew (fuzz/corpus/,
  # not committed).
  if [ -d "fuzz/seeds/$t" ]; then cp -n "fuzz/seeds/$t"/* "$corpus"/ 2>/dev/null || true; fi
  if [ "$t" = keys ]; then
    for f in tests/fixtures/*.key tests/fixtures/*.pub tests/fixtures/*.pem tests/fixtures/*.crt tests/fixtures/*.der; do
      cp -n "$f" "$corpus"/ 2>/dev/null || true
    done
  fi
  say "fuzzing $t for ${secs}s"
  if (cd fuzz && cargo +nightly fuzz run -s "$sanitizer" "$t" "corpus/$t" -- \
        -jobs=1 -workers=1 -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1) >"$logs/$t.log" 2>&1; then
    status=0
  else
    status=$?
  fi
  # With -jobs, libFuzzer's worker writes its own log (fuzz/fuzz-0.log): keep it with ours.
  if [ -f fuzz/fuzz-0.log ]; then cat fuzz/fuzz-0.log >>"$logs/$t.log"; rm -f fuzz/fuzz-0.log; fi
  if [ "$status" != 0 ] || grep -qE 'deadly signal|panicked at|ERROR: libFuzzer|SUMMARY: libFuzzer' "$logs/$t.log"; then
    failed+=("$t")
  fi
done

for t in "${targets[@]}"; do
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$t.log" | grep -o '[0-9]*$' | tail -1 || true)
  took=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$logs/$t.log" | tail -1 || true)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$logs/$t.log" | tail -1 || true)
  printf '%-16s executions=%s  %s  %s\n' "$t" "${execs:-?}" "${took:-}" "${cov:-}"
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashed or hung: ${failed[*]} (inputs under fuzz/artifacts/; logs in $logs/)" >&2
  exit 1
fi
