#!/usr/bin/env bash
# SIGTERM (and Ctrl-C, the same handler) during training: the current step finishes, a checkpoint is
# written, the process exits 0 saying how to resume; resuming then completes the run.
source "$(dirname "$0")/train_common.bash"

args=(train --mode pretrain --dataset "$WORK/data" --model_config "$WORK/model.json"
      --batch_size 2 --gradient_accumulation_steps 1 --max_seq_length 32 --logging_steps 1 --save_steps 0
      --evaluation_strategy no --threads 1 --quiet --output_dir "$WORK/run")
"$MOAI_BIN" "${args[@]}" --max_steps 400 2> "$WORK/log" &
pid=$!
for _ in $(seq 1 300); do
  [[ -f $WORK/run/metrics.jsonl && $(wc -l < "$WORK/run/metrics.jsonl") -ge 3 ]] && break
  sleep 0.1
done
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
[[ $status -eq 0 ]] || { echo "FAIL: exit $status after SIGTERM"; cat "$WORK/log"; exit 1; }
grep -q "interrupted by signal 15" "$WORK/log" || { echo "FAIL: no interruption message"; cat "$WORK/log"; exit 1; }
saved=$(ls -d "$WORK"/run/checkpoint-* | head -1)
[[ -f $saved/COMPLETE && ! -d $WORK/run/final_model ]] || { echo "FAIL: expected a complete checkpoint and no final_model"; exit 1; }
step=${saved##*checkpoint-}
lines=$(grep -c '"type":"train"' "$WORK/run/metrics.jsonl")
[[ $lines -eq $step ]] || { echo "FAIL: checkpoint at step $step but $lines metric lines"; exit 1; }
"$MOAI_BIN" "${args[@]}" --max_steps 400 --resume_from_checkpoint auto --debug_kill_at step:$((step + 2)) 2>> "$WORK/log" || true
grep -q "resumed from" "$WORK/log" || { echo "FAIL: did not resume"; cat "$WORK/log"; exit 1; }
echo "OK: stopped cleanly at step $step on SIGTERM and resumed"
