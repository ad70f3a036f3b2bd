#!/usr/bin/env bash
# A peer that hangs mid-run (rank 1 sleeps before step 3's collectives: the test hook
# MOAI_TEST_STALL_RANK=1:3) must not hang the job: rank 0, waiting in the step's token vote, reports
# the collective, its rank and the step after --collective_timeout seconds and aborts the job
# (MPI_Abort, non-zero exit) well before the stalled rank would wake. Without the hook the same
# settings train to the end (the watchdog does not fire on healthy steps).
source "$(dirname "$0")/train_common.bash"
if ! command -v mpirun > /dev/null; then echo "SKIP: mpirun not installed"; exit 0; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

args=(train --mode pretrain --dataset "$WORK/data" --model_config "$WORK/model.json" --max_steps 4
      --batch_size 1 --gradient_accumulation_steps 1 --max_seq_length 32 --save_steps 0
      --evaluation_strategy no --threads 1 --quiet --collective_timeout 3)

mpirun --allow-run-as-root --oversubscribe -np 2 "$MOAI_BIN" "${args[@]}" \
  --output_dir "$WORK/healthy" > /dev/null 2> "$WORK/healthy.log" ||
  { echo "FAIL: the healthy 2-rank run failed"; tail -20 "$WORK/healthy.log"; exit 1; }

status=0
start=$SECONDS
MOAI_TEST_STALL_RANK=1:3 timeout 120 mpirun --allow-run-as-root --oversubscribe \
  -x MOAI_TEST_STALL_RANK -np 2 "$MOAI_BIN" "${args[@]}" --output_dir "$WORK/stalled" \
  > /dev/null 2> "$WORK/stalled.log" || status=$?
elapsed=$((SECONDS - start))
[[ $status -ne 0 && $status -ne 124 ]] ||
  { echo "FAIL: stalled rank: expected a non-zero exit before the 120 s guard, got $status"; cat "$WORK/stalled.log"; exit 1; }
grep -Eq "rank 0 of 2: waited [0-9.]+ s in allreduce_sum\(double\) at step 3 \(--collective_timeout 3\)" "$WORK/stalled.log" ||
  { echo "FAIL: the waiting rank did not name the collective and step"; cat "$WORK/stalled.log"; exit 1; }
(( elapsed < 60 )) || { echo "FAIL: took $elapsed s to abort"; exit 1; }
echo "OK: healthy run completes; a rank stalled at step 3 is reported by rank 0 and the job exits $status in $elapsed s"
