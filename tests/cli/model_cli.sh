#!/usr/bin/env bash
# moai model info on every preset, model verify on the PyTorch golden (loss and exit codes), bad input -> 2.
set -euo pipefail
MOAI_BIN=${MOAI_BIN:-build/moai}
SRC=${MOAI_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
GOLDEN=${MOAI_GOLDEN_DIR:-$SRC/../shared/golden}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

for preset in "$SRC"/configs/*.json; do
  "$MOAI_BIN" model info "$preset" --batch 1 --seq 512 > "$TMP/info.txt"
  grep -q "^parameters" "$TMP/info.txt" || { echo "no parameter line for $preset"; exit 1; }
done
"$MOAI_BIN" model info "$SRC/configs/moai-2.85b.json" | grep -q "2845700864" || { echo "2.85b count wrong"; exit 1; }
"$MOAI_BIN" model info "$SRC/configs/moai-5.25b.json" | grep -q "5249659648" || { echo "5.25b count wrong"; exit 1; }
# ZeRO-1 over 4 ranks: each rank holds a quarter of the AdamW moments (the fp32 line), ZeRO-0 all of them.
moments() { "$MOAI_BIN" model info "$SRC/configs/moai-2.85b.json" "$@" | grep -m1 "AdamW moments" | awk '{print $3, $4}'; }
read -r full full_unit < <(moments --world_size 4 --zero_stage 0)
read -r quarter quarter_unit < <(moments --world_size 4)
[[ $full_unit == "$quarter_unit" ]] && awk -v a="$full" -v b="$quarter" 'BEGIN { r = a / b; exit !(r > 3.99 && r < 4.01) }' ||
  { echo "ZeRO-1 moments per rank not 1/4: $full $full_unit vs $quarter $quarter_unit"; exit 1; }
"$MOAI_BIN" model info "$SRC/configs/moai-2.85b.json" --world_size 4 | grep -q "per rank of 4 (ZeRO-1)" ||
  { echo "model info does not name the world size and ZeRO stage"; exit 1; }

# Bad input: exit code 2 and a message naming the field.
echo '{"vocab_size": 10, "hidden_size": 16, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 3}' > "$TMP/bad.json"
set +e
"$MOAI_BIN" model info "$TMP/bad.json" 2> "$TMP/err.txt"
code=$?
set -e
[ "$code" = 2 ] || { echo "expected exit 2, got $code"; exit 1; }
grep -q "num_key_value_heads" "$TMP/err.txt" || { echo "error does not name the field"; cat "$TMP/err.txt"; exit 1; }

if [ -d "$GOLDEN/model/tiny_tied" ]; then
  mkdir -p "$TMP/model"
  cp "$GOLDEN/model/tiny_tied/config.json" "$TMP/model/"
  cp "$GOLDEN/model/tiny_tied/weights.safetensors" "$TMP/model/model.safetensors"
  "$MOAI_BIN" model verify --model_path "$TMP/model" --batch "$GOLDEN/model/tiny_tied/io.safetensors" \
    --out "$TMP/out.safetensors" --threads 1 > "$TMP/verify.txt"
  cat "$TMP/verify.txt"
  # golden loss 6.6258893
  grep -Eq "^loss 6\.62588[89]" "$TMP/verify.txt" || { echo "verify loss differs from the golden"; exit 1; }
  [ -s "$TMP/out.safetensors" ] || { echo "no output file"; exit 1; }
  set +e
  "$MOAI_BIN" model verify --model_path "$TMP/model" --batch "$TMP/bad.json" --out "$TMP/o2.safetensors" 2> "$TMP/err.txt"
  code=$?
  set -e
  [ "$code" = 2 ] || { echo "verify on a bad batch: expected exit 2, got $code"; exit 1; }
fi
echo "model_cli: ok"
