#!/usr/bin/env bash
# Builds the Parquet reader's libFuzzer target with clang (-fsanitize=fuzzer,address,undefined) and runs
# it for RUNS executions (default 1,000,000), seeded with the committed fixtures of tests/data/parquet.
# Usage: tests/data/fuzz/run.sh [RUNS] [extra libFuzzer flags]. Needs Debian clang (libFuzzer) and the
# codec/simdjson dev packages. Corpus and artifacts live in build-fuzz/ (not in git).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
RUNS=${1:-1000000}
shift || true
OUT=$ROOT/build-fuzz
mkdir -p "$OUT/corpus_parquet"
SRC=$ROOT/src/moai
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I"$ROOT/src" \
  "$ROOT/tests/data/fuzz/fuzz_parquet.cpp" $SRC/data/parquet_{meta,decode,reader}.cpp $SRC/core/error.cpp \
  $(pkg-config --cflags --libs simdjson snappy liblz4 libbrotlidec libzstd zlib) -pthread -o "$OUT/fuzz_parquet"
cp -n "$ROOT"/tests/data/parquet/*.parquet "$OUT/corpus_parquet/" 2>/dev/null || true
cd "$ROOT"
"$OUT/fuzz_parquet" -runs="$RUNS" -artifact_prefix="$OUT/" -max_len=16384 -rss_limit_mb=4096 -timeout=10 \
  "$@" "$OUT/corpus_parquet"
