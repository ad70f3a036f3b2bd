#!/usr/bin/env bash
# Issue 10's training check: pretrain configs/tiny.json on real text (the English corpus of
# ../shared/assets/corpora) for 300 steps in fp32 and in bf16 from the same seed and data, and
# compare the final validation loss (goal: bf16 within 2% of fp32). Prints one line per run and a
# verdict; exits 1 when the bf16 loss is off by more than 2%.
#
#   scripts/bf16_check.sh [work_dir]      (default: a fresh temporary directory)
#   MOAI=build/moai STEPS=300 BATCH=4 SEQ=128 THREADS=2 CORPUS=... scripts/bf16_check.sh
#
# The tokenizer is trained first on the same corpus (8000 tokens: configs/tiny.json has a 32000-row
# vocabulary, larger than needed). Each run holds out the same 1% of documents for evaluation.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MOAI=${MOAI:-$ROOT/build/moai}
STEPS=${STEPS:-300}
BATCH=${BATCH:-4}
SEQ=${SEQ:-128}
THREADS=${THREADS:-2}
CORPUS=${CORPUS:-$ROOT/../shared/assets/corpora/en.txt}
WORK=${1:-$(mktemp -d)}
[[ -x $MOAI ]] || { echo "bf16_check: $MOAI is not built (cmake --build build --target moai)" >&2; exit 2; }
[[ -f $CORPUS ]] || { echo "bf16_check: corpus $CORPUS not found" >&2; exit 2; }
mkdir -p "$WORK"

"$MOAI" tokenizer train --input_files "$CORPUS" --vocab_size 8000 --output_dir "$WORK/tokenizer" \
  > "$WORK/tokenizer.log" 2>&1

# final_eval_loss PRECISION: trains one run and prints its last eval loss (from metrics.jsonl).
final_eval_loss() {
  local precision=$1 out=$WORK/run-$1
  rm -rf "$out"
  local start=$SECONDS
  "$MOAI" train --model_config "$ROOT/configs/tiny.json" --dataset "$CORPUS" \
    --tokenizer_path "$WORK/tokenizer" --output_dir "$out" --precision "$precision" \
    --batch_size "$BATCH" --gradient_accumulation_steps 1 --max_seq_length "$SEQ" \
    --max_steps "$STEPS" --eval_steps "$STEPS" --logging_steps 50 --save_steps 0 \
    --threads "$THREADS" --seed 42 > "$out.log" 2>&1 ||
    { echo "bf16_check: the $precision run failed (see $out.log)" >&2; exit 1; }
  local loss
  loss=$(grep '"type":"eval"' "$out/metrics.jsonl" | tail -1 | sed 's/.*"eval_loss":\([0-9.eE+-]*\).*/\1/')
  echo "$precision: $STEPS steps x $BATCH x $SEQ tokens, final eval loss $loss ($((SECONDS - start)) s)" >&2
  echo "$loss"
}

fp32=$(final_eval_loss fp32)
bf16=$(final_eval_loss bf16)
awk -v a="$fp32" -v b="$bf16" 'BEGIN {
  rel = (b - a) / a; if (rel < 0) rel = -rel;
  printf "fp32 %.4f  bf16 %.4f  relative difference %.2f%% (goal <= 2%%): %s\n", a, b, 100 * rel,
         rel <= 0.02 ? "PASS" : "FAIL";
  exit rel <= 0.02 ? 0 : 1 }'
