#!/usr/bin/env bash
# ZeRO-1 (--zero_stage 1): each rank keeps the AdamW moments of 1/N of the parameters, gradients are
# reduce-scattered and parameters all-gathered. The final weights must equal --zero_stage 0 (plain
# all-reduce) within 1e-6 norm-wise relative, and the 1-rank run with the same global batch; in fp32
# and bf16; on 2 and 4 ranks. The checkpoint holds one optimizer shard per rank, and a 2-rank ZeRO-1
# run killed after a checkpoint resumes bit-exactly. --overlap_comm leaves the weights unchanged.
source "$(dirname "$0")/train_common.bash"
if ! command -v mpirun > /dev/null; then echo "SKIP: mpirun not installed"; exit 0; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
close=$SRC/tests/cli/weights_close.py

args=(train --mode pretrain --dataset "$WORK/data" --model_config "$WORK/model.json" --max_steps 6
      --max_seq_length 32 --logging_steps 1 --save_steps 3 --evaluation_strategy no --threads 1
      --learning_rate 2e-3 --lr_scheduler cosine --warmup_steps 1 --max_grad_norm 0.5 --seed 3 --quiet)
mpi() {
  local np=$1 out=$2; shift 2
  mpirun --allow-run-as-root --oversubscribe -np "$np" "$MOAI_BIN" "${args[@]}" "$@" \
    --output_dir "$WORK/$out" 2> "$WORK/$out.log" > /dev/null ||
    { echo "FAIL: mpirun -np $np ($out) failed"; tail -20 "$WORK/$out.log"; exit 1; }
}
weights() { echo "$WORK/$1/final_model/model.safetensors"; }

"$MOAI_BIN" "${args[@]}" --batch_size 4 --gradient_accumulation_steps 2 --output_dir "$WORK/one" \
  2> "$WORK/one.log"
mpi 2 z0 --batch_size 2 --gradient_accumulation_steps 2 --zero_stage 0
mpi 2 z1 --batch_size 2 --gradient_accumulation_steps 2 --zero_stage 1
mpi 4 z1x4 --batch_size 1 --gradient_accumulation_steps 2  # ZeRO-1 is the default with > 1 rank

grep -q "zero stage 0: AdamW state" "$WORK/z0.log" || { echo "FAIL: z0 not ZeRO-0"; exit 1; }
grep -q "zero stage 1: AdamW state" "$WORK/z1x4.log" || { echo "FAIL: 4 ranks not ZeRO-1 by default"; exit 1; }
# Per-rank optimizer memory: floats of this rank's shard vs all (1/N, rounded up to 16 floats).
read -r full shard < <(sed -nE 's/.*zero stage 0: AdamW state .* \(([0-9]+) of ([0-9]+) floats\).*/\2 \1/p' "$WORK/z0.log")
read -r shard2 < <(sed -nE 's/.*zero stage 1: AdamW state .* \(([0-9]+) of [0-9]+ floats\).*/\1/p' "$WORK/z1.log")
read -r shard4 < <(sed -nE 's/.*zero stage 1: AdamW state .* \(([0-9]+) of [0-9]+ floats\).*/\1/p' "$WORK/z1x4.log")
[[ $shard == "$full" && $((shard2 * 2 - full)) -lt 32 && $((shard2 * 2)) -ge $full &&
   $((shard4 * 4 - full)) -lt 64 && $((shard4 * 4)) -ge $full ]] ||
  { echo "FAIL: shard sizes $shard2 (2 ranks), $shard4 (4 ranks) of $full"; exit 1; }

echo -n "ZeRO-1 vs ZeRO-0, 2 ranks: "; python3 "$close" "$(weights z1)" "$(weights z0)" 1e-6
echo -n "ZeRO-1 2 ranks vs 1 rank: "; python3 "$close" "$(weights z1)" "$(weights one)" 1e-6
echo -n "ZeRO-1 4 ranks vs 1 rank: "; python3 "$close" "$(weights z1x4)" "$(weights one)" 1e-6
# A test where nothing trains could not fail: the weights must have moved from the first checkpoint.
if python3 "$close" "$(weights z1)" "$WORK/z1/checkpoint-3/model.safetensors" 1e-3 > /dev/null 2>&1; then
  echo "FAIL: the weights did not move between step 3 and the end"; exit 1
fi

# --overlap_comm: each layer's bucket is reduced on a communication thread during the backward; on 2
# ranks the sums are the same two-term additions, so the weights must be bit-identical.
mpi 2 z0o --batch_size 2 --gradient_accumulation_steps 2 --zero_stage 0 --overlap_comm
mpi 2 z1o --batch_size 2 --gradient_accumulation_steps 2 --zero_stage 1 --overlap_comm
grep -q "overlapped with the backward (2 layer buckets)" "$WORK/z1o.log" || { echo "FAIL: overlap was not enabled"; exit 1; }
cmp "$(weights z0o)" "$(weights z0)" || { echo "FAIL: ZeRO-0 with overlap differs"; exit 1; }
cmp "$(weights z1o)" "$(weights z1)" || { echo "FAIL: ZeRO-1 with overlap differs"; exit 1; }
echo "OK: overlapped communication gives the same weights (ZeRO-0 and ZeRO-1)"

# One optimizer file per rank beside the shared model files, none for the whole buffer.
for rank in 0 1; do
  [[ -f $WORK/z1/checkpoint-3/optimizer-rank0000$rank-of-00002.safetensors ]] ||
    { echo "FAIL: checkpoint-3 lacks rank $rank's optimizer shard"; ls "$WORK/z1/checkpoint-3"; exit 1; }
done
[[ ! -f $WORK/z1/checkpoint-3/optimizer.safetensors && -f $WORK/z0/checkpoint-3/optimizer.safetensors ]] ||
  { echo "FAIL: ZeRO-1 wrote the whole optimizer file, or ZeRO-0 did not"; exit 1; }

# bf16 mixed precision: the bf16 working copy is refreshed from the gathered fp32 masters.
mpi 2 b0 --batch_size 2 --gradient_accumulation_steps 2 --zero_stage 0 --precision bf16
mpi 2 b1 --batch_size 2 --gradient_accumulation_steps 2 --zero_stage 1 --precision bf16
echo -n "bf16 ZeRO-1 vs ZeRO-0, 2 ranks: "; python3 "$close" "$(weights b1)" "$(weights b0)" 1e-6

# Killed after the step-3 checkpoint (step 4), resumed on the same 2 ranks: bit-exact.
status=0
mpi_kill() { mpirun --allow-run-as-root --oversubscribe -np 2 "$MOAI_BIN" "${args[@]}" "$@"; }
mpi_kill --batch_size 2 --gradient_accumulation_steps 2 --output_dir "$WORK/killed" \
  --debug_kill_at step:4 > /dev/null 2> "$WORK/killed.log" || status=$?
[[ $status -ne 0 && ! -d $WORK/killed/final_model && -d $WORK/killed/checkpoint-3 ]] ||
  { echo "FAIL: the killed run did not stop after checkpoint-3 (exit $status)"; exit 1; }
mpi 2 killed --batch_size 2 --gradient_accumulation_steps 2 --resume_from_checkpoint auto
grep -q "resumed from" "$WORK/killed.log" || { echo "FAIL: no resume happened"; exit 1; }
cmp "$(weights killed)" "$(weights z1)" || { echo "FAIL: ZeRO-1 resume is not bit-exact"; exit 1; }
echo "OK: ZeRO-1 resume on 2 ranks is bit-exact"
