#!/usr/bin/env bash
# Builds the tokenizer libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined) and runs each
# for RUNS executions (default 1,000,000). Usage: tests/tokenizer/fuzz/run.sh [RUNS] [load|encode]...
# Needs clang with libFuzzer (Debian clang). Corpora live in build-fuzz/ (not in git).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
RUNS=${1:-1000000}
shift || true
TARGETS=${*:-load encode}
OUT=$ROOT/build-fuzz
mkdir -p "$OUT"
SRC=$ROOT/src/moai
LIB_SOURCES=(
  $SRC/tokenizer/{unicode,normalizer,byte_level,pre_tokenizer,bpe_model,added_tokens}.cpp
  $SRC/tokenizer/{tokenizer_json,tokenizer,tokenizer_save,chat_template}.cpp
  $SRC/core/{error,file_util,thread_pool,log}.cpp
)
FLAGS=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I"$ROOT/src")
for t in $TARGETS; do
  clang++ "${FLAGS[@]}" "$ROOT/tests/tokenizer/fuzz/fuzz_$t.cpp" "${LIB_SOURCES[@]}" \
    $(pkg-config --cflags --libs libutf8proc) -pthread -o "$OUT/fuzz_$t"
  mkdir -p "$OUT/corpus_$t"
  if [ "$t" = load ]; then
    # Seed: a small valid tokenizer.json, so mutations explore the structure of real files.
    cp "$ROOT/tests/tokenizer/fuzz/seed_tokenizer.json" "$OUT/corpus_$t/seed.json"
  fi
  (cd "$ROOT" && "$OUT/fuzz_$t" -runs="$RUNS" -artifact_prefix="$OUT/" -max_len=4096 -rss_limit_mb=4096 "$OUT/corpus_$t")
done
