#!/usr/bin/env bash
# clang-tidy (the profile in .clang-tidy) over every source file under src/ that the build compiles,
# with that build's compile_commands.json. Usage: scripts/run-tidy.sh BUILD_DIR [JOBS]. Exits 1 when
# any check fires (WarningsAsErrors), printing the findings; clang's "N warnings generated" lines
# (from headers outside src/, which the profile does not report) are dropped.
set -euo pipefail
build=${1:?usage: scripts/run-tidy.sh BUILD_DIR [JOBS]}
jobs=${2:-$(nproc)}
root=$(cd "$(dirname "$0")/.." && pwd)
tidy=$(command -v clang-tidy-14 || command -v clang-tidy) || { echo "run-tidy: clang-tidy not found" >&2; exit 2; }
[[ -f $build/compile_commands.json ]] || { echo "run-tidy: no $build/compile_commands.json" >&2; exit 2; }
start=$SECONDS
files=$(jq -r '.[].file' "$build/compile_commands.json" | grep "^$root/src/" | sort -u)
set +e
echo "$files" | xargs -P "$jobs" -n 4 "$tidy" -p "$build" --quiet 2>&1 | grep -v '^[0-9]* warnings\? generated\.$'
status=${PIPESTATUS[1]}  # xargs: 123 when a clang-tidy call reported findings
set -e
echo "tidy: $(echo "$files" | wc -l) files, $((SECONDS - start)) s, $([[ $status -eq 0 ]] && echo clean || echo FINDINGS)"
[[ $status -eq 0 ]] || exit 1
