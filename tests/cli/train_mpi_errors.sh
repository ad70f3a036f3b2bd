#!/usr/bin/env bash
# Bad distributed starts: ranks launched with different settings stop with exit 2 and the message on
# every rank; a rank that does not reach the start-up agreement (delayed here by the test hook
# MOAI_TEST_STARTUP_DELAY_RANK) is reported by the waiting rank within MOAI_STARTUP_TIMEOUT_S (exit 3)
# instead of a hang.
source "$(dirname "$0")/train_common.bash"
if ! command -v mpirun > /dev/null; then echo "SKIP: mpirun not installed"; exit 0; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

args=(train --mode pretrain --dataset "$WORK/data" --model_config "$WORK/model.json" --max_steps 2
      --batch_size 1 --gradient_accumulation_steps 1 --max_seq_length 32 --save_steps 0
      --evaluation_strategy no --threads 1 --quiet --output_dir "$WORK/out")

status=0
mpirun --allow-run-as-root --oversubscribe -np 1 "$MOAI_BIN" "${args[@]}" --learning_rate 1e-3 : \
  -np 1 "$MOAI_BIN" "${args[@]}" --learning_rate 2e-3 > /dev/null 2> "$WORK/mismatch.log" || status=$?
[[ $status -eq 2 ]] || { echo "FAIL: mismatched settings: expected exit 2, got $status"; cat "$WORK/mismatch.log"; exit 1; }
count=$(grep -c "ranks were started with different settings" "$WORK/mismatch.log" || true)
[[ $count -eq 2 ]] || { echo "FAIL: expected the error from both ranks, got $count"; cat "$WORK/mismatch.log"; exit 1; }

status=0
start=$SECONDS
MOAI_STARTUP_TIMEOUT_S=2 MOAI_TEST_STARTUP_DELAY_RANK=1:30 \
  mpirun --allow-run-as-root --oversubscribe -x MOAI_STARTUP_TIMEOUT_S -x MOAI_TEST_STARTUP_DELAY_RANK \
  -np 2 "$MOAI_BIN" "${args[@]}" > /dev/null 2> "$WORK/dead.log" || status=$?
[[ $status -ne 0 ]] && grep -q "rank 0 of 2: no answer from the other ranks within 2 s" "$WORK/dead.log" ||
  { echo "FAIL: stuck rank not reported (exit $status)"; cat "$WORK/dead.log"; exit 1; }
(( SECONDS - start < 25 )) || { echo "FAIL: took $((SECONDS - start)) s to report the stuck rank"; exit 1; }
echo "OK: mismatched settings exit 2 on every rank; a stuck rank is reported in $((SECONDS - start)) s"
