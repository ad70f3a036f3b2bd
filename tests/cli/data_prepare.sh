#!/usr/bin/env bash
# End-to-end: moai data prepare (pretrain and SFT, cache reuse, bad input exit codes) and moai data info.
set -euo pipefail
MOAI_BIN=${MOAI_BIN:?set MOAI_BIN}
SRC=${MOAI_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
ASSETS=${MOAI_ASSETS_DIR:-$SRC/../shared/assets}
if [ ! -d "$ASSETS/corpora" ]; then echo "SKIP: assets not found"; exit 0; fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Pretrain on a slice of the Korean corpus.
head -c 200000 "$ASSETS/corpora/ko.txt" | awk 'BEGIN{RS="";ORS="\n\n"} NR<40' > "$WORK/ko.txt"
"$MOAI_BIN" data prepare --mode pretrain --dataset "$WORK/ko.txt" \
  --tokenizer_path "$ASSETS/qwen3/tokenizer.json" --output_dir "$WORK/pt" \
  --validation_split_percentage 10 --quiet > "$WORK/first.log"
grep -q "^wrote " "$WORK/first.log" || fail "first run did not write: $(cat "$WORK/first.log")"
"$MOAI_BIN" data prepare --mode pretrain --dataset "$WORK/ko.txt" \
  --tokenizer-path "$ASSETS/qwen3/tokenizer.json" --output-dir "$WORK/pt" \
  --validation-split-percentage 10 --quiet > "$WORK/second.log"
grep -q "^reusing cached shards" "$WORK/second.log" || fail "second run did not reuse the cache"
"$MOAI_BIN" data info --dataset "$WORK/pt" > "$WORK/info.log"
grep -q "^mode            pretrain" "$WORK/info.log" || fail "info: mode"
grep -q "bytes/token" "$WORK/info.log" || fail "info: bytes/token"

# SFT on the FAQ (question/answer), with the trained-token share.
"$MOAI_BIN" data prepare --mode sft --dataset "$ASSETS/corpora/qa_debian_faq.ko.jsonl" \
  --tokenizer_path "$ASSETS/qwen3/tokenizer.json" --output_dir "$WORK/sft" --quiet > "$WORK/sft.log"
"$MOAI_BIN" data info --dataset "$WORK/sft" > "$WORK/sft_info.log"
grep -q "question_answer" "$WORK/sft_info.log" || fail "info: sft format"
grep -q "trained tokens" "$WORK/sft_info.log" || fail "info: trained share"

# Bad input: exit code 2 with file:line.
printf '{"text": "ok"}\n{"text": 12}\n' > "$WORK/bad.jsonl"
set +e
"$MOAI_BIN" data prepare --dataset "$WORK/bad.jsonl" --tokenizer_path "$ASSETS/qwen3/tokenizer.json" \
  --output_dir "$WORK/bad" --quiet 2> "$WORK/bad.err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "bad record: exit $rc, expected 2"
grep -q "bad.jsonl:2: field \"text\" is a number, expected a string" "$WORK/bad.err" || fail "bad record message: $(cat "$WORK/bad.err")"
"$MOAI_BIN" data prepare --dataset "$WORK/bad.jsonl" --tokenizer_path "$ASSETS/qwen3/tokenizer.json" \
  --output_dir "$WORK/bad" --skip_bad_records --quiet > "$WORK/skip.log" 2>&1
grep -q "skipped 1 bad record" "$WORK/skip.log" || fail "skip_bad_records count: $(cat "$WORK/skip.log")"
set +e
"$MOAI_BIN" data info --dataset "$WORK/nothing" 2> "$WORK/info.err"; rc=$?
"$MOAI_BIN" data prepare --mode nope --dataset "$WORK/bad.jsonl" --tokenizer_path x --output_dir y 2>/dev/null; rc2=$?
set -e
[ "$rc" = 2 ] || fail "info on a missing dataset: exit $rc"
[ "$rc2" = 2 ] || fail "bad --mode: exit $rc2"
echo "OK"
