#!/usr/bin/env bash
# End-to-end: `moai tokenizer encode|decode|test|bench` on the shared corpora. encode --format bin must
# reproduce the golden .ids.bin byte for byte; decode must invert encode; bad input must exit 2.
set -euo pipefail
MOAI_BIN=${MOAI_BIN:?set MOAI_BIN to the moai binary}
SRC=${MOAI_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
SHARED=${MOAI_SHARED_DIR:-$SRC/../shared}
if [ ! -d "$SHARED/golden/tokenizer" ]; then
  echo "SKIP: shared goldens not found at $SHARED"
  exit 0
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
QWEN=$SHARED/assets/qwen3
MOAI_TOK=$SHARED/assets/moai_kor_eng/tokenizer.json
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. encode --format bin == golden ids.bin (sha256 from the golden .json), for two tokenizers.
for spec in "qwen3:$QWEN:ko" "moai_kor_eng:$MOAI_TOK:zh"; do
  IFS=: read -r name tok lang <<<"$spec"
  "$MOAI_BIN" tokenizer encode --tokenizer_path "$tok" --input "$SHARED/assets/corpora/$lang.txt" \
    --format bin --output "$TMP/$name.$lang.ids.bin" 2>/dev/null
  want=$(sed -n 's/.*"ids_bin_sha256": "\([0-9a-f]*\)".*/\1/p' "$SHARED/golden/tokenizer/$name.$lang.json")
  got=$(sha256sum "$TMP/$name.$lang.ids.bin" | cut -d' ' -f1)
  [ "$want" = "$got" ] || fail "$name.$lang: ids.bin sha256 $got, golden $want"
done

# 2. decode inverts encode (text format, line documents, from stdin to stdout).
printf 'Hello, world!\n안녕하세요 <|im_start|>user\n\n東京 123\n' > "$TMP/in.txt"
"$MOAI_BIN" tokenizer encode --tokenizer_path "$QWEN" --split_docs line < "$TMP/in.txt" > "$TMP/ids.txt"
[ "$(wc -l < "$TMP/ids.txt")" -eq 4 ] || fail "expected 4 documents, got $(wc -l < "$TMP/ids.txt")"
"$MOAI_BIN" tokenizer decode --tokenizer_path "$QWEN" --split_docs line --input "$TMP/ids.txt" > "$TMP/out.txt"
cmp -s "$TMP/in.txt" "$TMP/out.txt" || fail "decode(encode(x)) != x"
# --add_special_tokens applies moai_kor_eng's <s> ... </s> template.
ids=$(printf 'hi' | "$MOAI_BIN" tokenizer encode --tokenizer_path "$MOAI_TOK" --split_docs none --add_special_tokens)
case "$ids" in "1 "*" 2") ;; *) fail "expected <s> ... </s> ids, got '$ids'" ;; esac
# bin round trip.
"$MOAI_BIN" tokenizer decode --tokenizer_path "$QWEN" --format bin --input "$TMP/qwen3.ko.ids.bin" > "$TMP/ko.txt"
"$MOAI_BIN" tokenizer encode --tokenizer_path "$QWEN" --input "$TMP/ko.txt" --format bin 2>/dev/null |
  cmp -s - "$TMP/qwen3.ko.ids.bin" || fail "encode(decode(ids)) != ids on ko"

# 3. test and bench run and report.
out=$("$MOAI_BIN" tokenizer test --tokenizer_path "$QWEN" --input_file "en=$SHARED/assets/corpora/en.txt")
grep -q "vocab size 151669" <<<"$out" || fail "tokenizer test: no vocab size line"
grep -qE "^  en +217 .* ok$" <<<"$out" || fail "tokenizer test: en row missing or round trip failed: $out"
out=$("$MOAI_BIN" tokenizer test --tokenizer_path "$QWEN" --compare "$MOAI_TOK" --text "hello world")
grep -q "moai_kor_eng/tokenizer.json" <<<"$out" || fail "tokenizer test --compare: no row for the second tokenizer"
"$MOAI_BIN" tokenizer bench --tokenizer_path "$MOAI_TOK" --input_file "$SHARED/assets/corpora/ko.txt" \
  --repeat 1 | grep -q '"fnv": "f9411d96"' || fail "bench: hash differs from the golden"

# 4. bad input exits 2 with a message.
expect_exit2() {
  set +e
  "$@" > /dev/null 2> "$TMP/err"
  local rc=$?
  set -e
  [ $rc -eq 2 ] || fail "expected exit 2, got $rc: $*"
  [ -s "$TMP/err" ] || fail "no error message: $*"
}
expect_exit2 "$MOAI_BIN" tokenizer encode --tokenizer_path "$TMP/missing.json" --input "$TMP/in.txt"
echo '{"model": {"type": "Unigram"}}' > "$TMP/bad.json"
expect_exit2 "$MOAI_BIN" tokenizer encode --tokenizer_path "$TMP/bad.json" --input "$TMP/in.txt"
expect_exit2 "$MOAI_BIN" tokenizer encode --tokenizer_path "$QWEN" --input "$TMP/in.txt" --split_docs para
echo "1 2 x" > "$TMP/bad_ids.txt"
expect_exit2 "$MOAI_BIN" tokenizer decode --tokenizer_path "$QWEN" --input "$TMP/bad_ids.txt"
echo "999999999" > "$TMP/big_ids.txt"
expect_exit2 "$MOAI_BIN" tokenizer decode --tokenizer_path "$QWEN" --input "$TMP/big_ids.txt"
printf '\x05\x00\x00\x00\x01\x00' > "$TMP/trunc.bin"
expect_exit2 "$MOAI_BIN" tokenizer decode --tokenizer_path "$QWEN" --format bin --input "$TMP/trunc.bin"
: > "$TMP/empty.txt"
expect_exit2 "$MOAI_BIN" tokenizer test --tokenizer_path "$QWEN" --input_file "$TMP/empty.txt"
echo "OK"
