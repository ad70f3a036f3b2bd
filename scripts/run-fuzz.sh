#!/usr/bin/env bash
# Runs built libFuzzer targets (make fuzz). Usage: scripts/run-fuzz.sh BUILD_DIR RUNS TARGET...
# FUZZ_SECONDS=S (environment) also stops each target after S seconds.
# Each target starts from its committed corpus (tests/fuzz/corpus/<target>, read-only) plus a working
# corpus in BUILD_DIR/fuzz-corpus/<target> that keeps what libFuzzer finds across runs. A crash, leak,
# timeout (> 10 s per input) or allocation over 2 GiB stops the target and leaves the input in
# BUILD_DIR/fuzz-artifacts/; the script then exits 1. Prints one summary line per target.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:?build dir}
RUNS=${2:?runs}
shift 2
mkdir -p "$BUILD/fuzz-artifacts"
summary=()
failed=0
for target in "$@"; do
  bin=$BUILD/tests/fuzz/fuzz_$target
  work=$BUILD/fuzz-corpus/$target
  log=$BUILD/fuzz-$target.log
  mkdir -p "$work"
  status=0
  # Run from the source root: entry points that need assets find ../shared from there.
  time_limit=()
  [[ -n ${FUZZ_SECONDS:-} ]] && time_limit=(-max_total_time="$FUZZ_SECONDS")
  (cd "$ROOT" && "$bin" -runs="$RUNS" "${time_limit[@]}" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$BUILD/fuzz-artifacts/$target-" -print_final_stats=1 \
    "$work" "$ROOT/tests/fuzz/corpus/$target") > "$log" 2>&1 || status=$?
  done_line=$(grep -E '^Done [0-9]+ runs in' "$log" | tail -1 || true)
  if [[ $status -ne 0 ]]; then
    failed=1
    summary+=("$target: FAILED (exit $status), see $log")
  else
    summary+=("$target: ${done_line:-no summary} (corpus $(ls "$work" | wc -l) files)")
  fi
done
printf '%s\n' "${summary[@]}"
exit $failed
