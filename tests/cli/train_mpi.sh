#!/usr/bin/env bash
# Data parallel: `mpirun -np 2` with micro-batch B must give the same loss curve as 1 rank with 2B (the
# same rows per step, losses normalised by the step-wide token count), up to fp32 summation order.
# Also gradient accumulation: 1 micro-batch of 8 rows vs 4 micro-batches of 2 rows.
source "$(dirname "$0")/train_common.bash"
if ! command -v mpirun > /dev/null; then echo "SKIP: mpirun not installed"; exit 0; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

args=(train --mode pretrain --dataset "$WORK/data" --model_config "$WORK/model.json" --max_steps 8
      --max_seq_length 32 --logging_steps 1 --save_steps 0 --eval_steps 4 --eval_batches 2 --threads 1
      --learning_rate 2e-3 --lr_scheduler cosine --warmup_steps 1 --seed 3 --quiet)

"$MOAI_BIN" "${args[@]}" --batch_size 4 --gradient_accumulation_steps 2 --output_dir "$WORK/one" 2> "$WORK/one.log"
mpirun --allow-run-as-root --oversubscribe -np 2 "$MOAI_BIN" "${args[@]}" --batch_size 2 \
  --gradient_accumulation_steps 2 --output_dir "$WORK/two" 2> "$WORK/two.log" > /dev/null ||
  { echo "FAIL: mpirun run failed"; tail -20 "$WORK/two.log"; exit 1; }
grep -q "mpi (2 ranks)" "$WORK/two.log" || { echo "FAIL: the mpirun job did not run as 2 ranks"; exit 1; }

# (--eval_batches counts micro-batches, which differ in size here, so these two compare train loss only.)
"$MOAI_BIN" "${args[@]}" --batch_size 8 --gradient_accumulation_steps 1 --evaluation_strategy no \
  --output_dir "$WORK/acc1" 2> /dev/null
"$MOAI_BIN" "${args[@]}" --batch_size 2 --gradient_accumulation_steps 4 --evaluation_strategy no \
  --output_dir "$WORK/acc4" 2> /dev/null

# Compares loss (train) and eval_loss per line: relative difference within 1e-5 (fp32 rounding of
# differently ordered sums, compounded over 8 steps), and the same number of lines.
compare() {
  jq -r 'select(.type=="train" or .type=="eval") | "\(.type) \(.step) \(.loss // .eval_loss)"' "$1" > "$WORK/a"
  jq -r 'select(.type=="train" or .type=="eval") | "\(.type) \(.step) \(.loss // .eval_loss)"' "$2" > "$WORK/b"
  [[ $(wc -l < "$WORK/a") -ge 8 && $(wc -l < "$WORK/a") -eq $(wc -l < "$WORK/b") ]] ||
    { echo "FAIL: $3: different metric lines"; exit 1; }
  paste "$WORK/a" "$WORK/b" | awk -v what="$3" '
    { if ($1 != $4 || $2 != $5) { print "FAIL: " what ": lines out of step"; bad = 1; exit 1 }
      d = $3 - $6; if (d < 0) d = -d; s = $3 < 0 ? -$3 : $3;
      if (d > 1e-5 * s) { printf "FAIL: %s: %s step %s: %.9g vs %.9g\n", what, $1, $2, $3, $6; bad = 1; exit 1 }
      if (d > worst) worst = d }
    END { if (!bad) printf "OK: %s: %d values agree (largest difference %.3g)\n", what, NR, worst }'
}
compare "$WORK/one/metrics.jsonl" "$WORK/two/metrics.jsonl" "1 rank x 4 rows vs 2 ranks x 2 rows"
compare "$WORK/acc1/metrics.jsonl" "$WORK/acc4/metrics.jsonl" "1 x 8 rows vs 4 micro-batches x 2 rows"
# The loss must move (a test where nothing trains could not fail).
first=$(jq -r 'select(.type=="train") | .loss' "$WORK/one/metrics.jsonl" | head -1)
last=$(jq -r 'select(.type=="train") | .loss' "$WORK/one/metrics.jsonl" | tail -1)
awk -v a="$first" -v b="$last" 'BEGIN { if (!(b < a)) { print "FAIL: loss did not fall: " a " -> " b; exit 1 } }'
