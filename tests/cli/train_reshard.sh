#!/usr/bin/env bash
# Resume on a different world size: a 2-rank ZeRO-1 run (global batch 2 rows x 2 micro-batches x 2
# ranks = 8) killed with SIGKILL after its step-3 checkpoint resumes on 1 rank (accumulation derived: 4)
# and on 4 ranks with the micro-batch halved (accumulation 2): same step, optimizer shards re-cut,
# loader position converted, and final weights within 1e-5 relative of the uninterrupted 2-rank run. A
# --batch_size that cannot make the global batch is refused with exit 2.
source "$(dirname "$0")/train_common.bash"
if ! command -v mpirun > /dev/null; then echo "SKIP: mpirun not installed"; exit 0; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
close=$SRC/tests/cli/weights_close.py

args=(train --mode pretrain --dataset "$WORK/data" --model_config "$WORK/model.json" --max_steps 6
      --max_seq_length 32 --logging_steps 1 --save_steps 3 --evaluation_strategy no --threads 1
      --learning_rate 2e-3 --lr_scheduler cosine --warmup_steps 1 --max_grad_norm 0.5 --seed 3 --quiet)
mpi() { mpirun --allow-run-as-root --oversubscribe -np "$@"; }

mpi 2 "$MOAI_BIN" "${args[@]}" --batch_size 2 --gradient_accumulation_steps 2 --output_dir "$WORK/ref" \
  > /dev/null 2> "$WORK/ref.log" || { echo "FAIL: reference run"; tail "$WORK/ref.log"; exit 1; }
status=0
mpi 2 "$MOAI_BIN" "${args[@]}" --batch_size 2 --gradient_accumulation_steps 2 --output_dir "$WORK/killed" \
  --debug_kill_at step:4 > /dev/null 2> "$WORK/killed.log" || status=$?
[[ $status -ne 0 && -f $WORK/killed/checkpoint-3/COMPLETE && ! -d $WORK/killed/final_model ]] ||
  { echo "FAIL: the 2-rank run was not killed after checkpoint-3 (exit $status)"; exit 1; }

# 1 rank, same micro-batch: 4 micro-batches per step (the --gradient_accumulation_steps given is ignored).
cp -r "$WORK/killed" "$WORK/one"
"$MOAI_BIN" "${args[@]}" --batch_size 2 --gradient_accumulation_steps 1 --output_dir "$WORK/one" \
  --resume_from_checkpoint auto 2> "$WORK/one.log" || { echo "FAIL: 1-rank resume"; tail "$WORK/one.log"; exit 1; }
grep -q "resumed from .*checkpoint-3 (step 3)" "$WORK/one.log" || { echo "FAIL: 1 rank did not resume at step 3"; exit 1; }
grep -q "6 steps x 4 micro-batches" "$WORK/one.log" || { echo "FAIL: accumulation not derived as 4"; exit 1; }
echo -n "2 ranks -> 1 rank: "
python3 "$close" "$WORK/one/final_model/model.safetensors" "$WORK/ref/final_model/model.safetensors" 1e-5

# 4 ranks, micro-batch 1: 2 micro-batches per step.
cp -r "$WORK/killed" "$WORK/four"
mpi 4 "$MOAI_BIN" "${args[@]}" --batch_size 1 --output_dir "$WORK/four" --resume_from_checkpoint auto \
  > /dev/null 2> "$WORK/four.log" || { echo "FAIL: 4-rank resume"; tail "$WORK/four.log"; exit 1; }
grep -q "resumed from .*checkpoint-3 (step 3)" "$WORK/four.log" || { echo "FAIL: 4 ranks did not resume at step 3"; exit 1; }
echo -n "2 ranks -> 4 ranks: "
python3 "$close" "$WORK/four/final_model/model.safetensors" "$WORK/ref/final_model/model.safetensors" 1e-5
# The resumed run's shards are re-cut for 4 ranks.
ls "$WORK/four/checkpoint-6"/optimizer-rank0000[0-3]-of-00004.safetensors > /dev/null ||
  { echo "FAIL: the 4-rank checkpoint lacks 4 optimizer shards"; exit 1; }

# 3 rows per micro-batch on 1 rank cannot make 8 rows per step: exit 2, naming the flag.
cp -r "$WORK/killed" "$WORK/bad"
status=0
"$MOAI_BIN" "${args[@]}" --batch_size 3 --output_dir "$WORK/bad" --resume_from_checkpoint auto \
  2> "$WORK/bad.log" || status=$?
[[ $status -eq 2 ]] && grep -q "batch_size.*global batch of 8 rows" "$WORK/bad.log" ||
  { echo "FAIL: expected exit 2 naming the global batch, got $status"; cat "$WORK/bad.log"; exit 1; }
echo "OK: resume across world sizes"
