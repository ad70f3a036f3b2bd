#!/usr/bin/env bash
# End-to-end: Parquet input to moai data prepare (pretrain and SFT, same shards as the JSONL twin) and
# moai tokenizer train; bad Parquet files and other binary data exit 2 naming file, row group, column.
set -euo pipefail
MOAI_BIN=${MOAI_BIN:?set MOAI_BIN}
SRC=${MOAI_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
ASSETS=${MOAI_ASSETS_DIR:-$SRC/../shared/assets}
FIX=$SRC/tests/data/parquet
if [ ! -d "$ASSETS/qwen3" ]; then echo "SKIP: assets not found"; exit 0; fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
TOK=$ASSETS/qwen3/tokenizer.json

# Pretrain from Parquet and from the same rows as JSONL (as DuckDB read them): identical shards.
cp "$FIX/rows.expected.jsonl" "$WORK/rows.jsonl"
for input in "$FIX/duckdb_zstd.parquet" "$WORK/rows.jsonl"; do
  name=$(basename "$input" | tr . _)
  "$MOAI_BIN" data prepare --mode pretrain --dataset "$input" --tokenizer_path "$TOK" \
    --output_dir "$WORK/$name" --skip_bad_records --quiet > "$WORK/$name.log" 2>&1 ||
    fail "prepare $input: $(cat "$WORK/$name.log")"
done
ls "$WORK"/duckdb_zstd_parquet/*/train-*.bin > /dev/null || fail "no shards: $(ls -R "$WORK/duckdb_zstd_parquet")"
a=$(cat "$WORK"/duckdb_zstd_parquet/*/train-*.bin | md5sum)
b=$(cat "$WORK"/rows_jsonl/*/train-*.bin | md5sum)
[ "$a" = "$b" ] || fail "Parquet and JSONL shards differ"

# SFT: a messages list<struct<role, content>> column reads as conversations.
"$MOAI_BIN" data prepare --mode sft --dataset "$FIX/chat.parquet" --tokenizer_path "$TOK" \
  --output_dir "$WORK/sft" --quiet > "$WORK/sft.log" 2>&1 || fail "sft: $(cat "$WORK/sft.log")"
"$MOAI_BIN" data info --dataset "$WORK/sft" > "$WORK/sft_info.log"
grep -q "chat.parquet: chat$" "$WORK/sft_info.log" || fail "sft format not detected as chat: $(cat "$WORK/sft_info.log")"

# A Parquet file named .txt is still Parquet (never tokenized as text).
cp "$FIX/arrow_dict_lz4_raw.parquet" "$WORK/disguised.txt"
"$MOAI_BIN" tokenizer train --input_files "$WORK/disguised.txt" --skip_bad_records --vocab_size 300 --output_dir "$WORK/tok" \
  --quiet > "$WORK/tok.log" 2>&1 || fail "tokenizer train: $(cat "$WORK/tok.log")"

expect_exit2() {  # file, expected message fragment
  set +e
  "$MOAI_BIN" data prepare --dataset "$1" --tokenizer_path "$TOK" --output_dir "$WORK/bad" --skip_bad_records \
    --quiet 2> "$WORK/bad.err"
  local rc=$?
  set -e
  [ "$rc" = 2 ] || fail "$1: exit $rc, expected 2 ($(cat "$WORK/bad.err"))"
  grep -qF "$2" "$WORK/bad.err" || fail "$1: message lacks '$2': $(cat "$WORK/bad.err")"
}
size=$(stat -c %s "$FIX/duckdb_snappy.parquet")
head -c $((size / 2)) "$FIX/duckdb_snappy.parquet" > "$WORK/truncated.parquet"
expect_exit2 "$WORK/truncated.parquet" "truncated.parquet: no Parquet magic at the end of the file (truncated?)"
# Corrupt pages: overwrite bytes 700..2199, inside the text column chunk (bytes 658..2416 of this
# committed fixture, as DuckDB's parquet_metadata lists it); bad records are skipped, so only the
# corruption can stop the run.
cp "$FIX/duckdb_snappy.parquet" "$WORK/corrupt.parquet"
head -c 1500 /dev/zero | tr '\0' '\377' | dd of="$WORK/corrupt.parquet" bs=1 seek=700 conv=notrunc status=none
expect_exit2 "$WORK/corrupt.parquet" "corrupt.parquet: row group 0, column text: "
printf 'PK\003\004 not really a zip' > "$WORK/archive.jsonl"
expect_exit2 "$WORK/archive.jsonl" "archive.jsonl: zip data is not supported"
echo "OK"
