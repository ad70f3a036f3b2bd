#!/usr/bin/env bash
# Exact resume: a run killed with SIGKILL at several points (after an update, in the middle of writing a
# checkpoint, during evaluation, and once by an external kill -9 at an arbitrary moment), each time resumed
# with --resume_from_checkpoint auto, must end with bitwise-identical weights and the same loss curve as
# an uninterrupted run.
source "$(dirname "$0")/train_common.bash"

args=(train --mode pretrain --dataset "$WORK/data" --model_config "$WORK/model.json"
      --max_steps 14 --batch_size 2 --gradient_accumulation_steps 2 --max_seq_length 32
      --logging_steps 1 --save_steps 3 --save_total_limit 2 --eval_steps 4 --eval_batches 4
      --threads 1 --learning_rate 2e-3 --lr_scheduler wsd --warmup_steps 2 --seed 7 --quiet)

"$MOAI_BIN" "${args[@]}" --output_dir "$WORK/ref" 2> "$WORK/ref.log"

run=$WORK/run
expect_killed() {
  local status=0
  "$MOAI_BIN" "${args[@]}" --output_dir "$run" --resume_from_checkpoint auto "$@" 2>> "$WORK/run.log" || status=$?
  if [[ $status -ne 137 ]]; then
    echo "FAIL: expected the run to be killed (137) with $*, got exit $status"; tail "$WORK/run.log"; exit 1
  fi
}
expect_killed --debug_kill_at step:5     # after update 5; checkpoint-3 is the latest
expect_killed --debug_kill_at save:6     # weights of checkpoint-6 half written, no marker
[[ -d $run/checkpoint-6.partial && ! -d $run/checkpoint-6 ]] || { echo "FAIL: expected an unfinished checkpoint-6.partial"; exit 1; }
expect_killed --debug_kill_at eval:8     # in the middle of an evaluation
expect_killed --debug_kill_at step:10
# An external SIGKILL wherever the process happens to be.
"$MOAI_BIN" "${args[@]}" --output_dir "$run" --resume_from_checkpoint auto 2>> "$WORK/run.log" &
pid=$!
sleep 1.5
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
"$MOAI_BIN" "${args[@]}" --output_dir "$run" --resume_from_checkpoint auto 2>> "$WORK/run.log"

grep -q "resumed from" "$WORK/run.log" || { echo "FAIL: no resume happened"; exit 1; }
cmp "$WORK/ref/final_model/model.safetensors" "$run/final_model/model.safetensors" ||
  { echo "FAIL: weights differ after resume"; exit 1; }
if ! diff <(metrics_curve "$WORK/ref/metrics.jsonl") <(metrics_curve "$run/metrics.jsonl"); then
  echo "FAIL: loss curve differs after resume"; exit 1
fi
[[ $(grep -c '"type":"train"' "$run/metrics.jsonl") -eq 14 ]] || { echo "FAIL: expected 14 train lines"; exit 1; }
# save_total_limit 2: only the two newest complete checkpoints remain, no leftovers.
ls "$run" | grep -E '^checkpoint-' | sort > "$WORK/left"
[[ $(cat "$WORK/left" | tr '\n' ' ') == "checkpoint-12 checkpoint-14 " ]] ||
  { echo "FAIL: unexpected checkpoints left: $(cat "$WORK/left" | tr '\n' ' ')"; exit 1; }
echo "OK: resumed 5 times, weights and loss curve bit-identical"
