#!/usr/bin/env bash
# --sequential: two datasets trained one after another. Stage 2 must start from stage 1's final model,
# the last stage's model must land in output_dir/final_model, and a re-run with
# --resume_from_checkpoint auto must skip the finished stages and leave the result unchanged.
source "$(dirname "$0")/train_common.bash"

head -c 60000 "$ASSETS/corpora/en.txt" | tail -c 30000 > "$WORK/second.txt"
"$MOAI_BIN" data prepare --mode pretrain --dataset "$WORK/second.txt" \
  --tokenizer_path "$ASSETS/moai_kor_eng" --output_dir "$WORK/data2" \
  --validation_split_percentage 25 --quiet > /dev/null

args=(train --mode pretrain --sequential --dataset "$WORK/data" --dataset "$WORK/data2"
      --model_config "$WORK/model.json" --max_steps 4 --batch_size 2 --max_seq_length 32
      --save_steps 2 --logging_steps 1 --threads 1 --learning_rate 2e-3 --warmup_steps 1 --seed 3 --quiet
      --output_dir "$WORK/run")
"$MOAI_BIN" "${args[@]}" 2> "$WORK/run.log" || { echo "FAIL: sequential run failed"; cat "$WORK/run.log"; exit 1; }

for k in 1 2; do
  [[ -f $WORK/run/stage_$k/STAGE_COMPLETE && -f $WORK/run/stage_$k/final_model/model.safetensors ]] ||
    { echo "FAIL: stage $k did not complete"; cat "$WORK/run.log"; exit 1; }
  [[ $(grep -c '"type":"train"' "$WORK/run/stage_$k/metrics.jsonl") -eq 4 ]] ||
    { echo "FAIL: stage $k should log 4 train steps"; exit 1; }
done
cmp "$WORK/run/stage_2/final_model/model.safetensors" "$WORK/run/final_model/model.safetensors" ||
  { echo "FAIL: final_model is not the last stage's model"; exit 1; }
[[ -f $WORK/run/final_model/tokenizer.json ]] || { echo "FAIL: final_model has no tokenizer"; exit 1; }
grep -q "stage 2/2" "$WORK/run.log" || { echo "FAIL: no stage 2 message"; exit 1; }

# Stage 2 continued from stage 1: training stage 2's data alone from scratch gives other weights.
"$MOAI_BIN" train --mode pretrain --dataset "$WORK/data2" --model_config "$WORK/model.json" \
  --max_steps 4 --batch_size 2 --max_seq_length 32 --threads 1 --learning_rate 2e-3 \
  --warmup_steps 1 --seed 3 --quiet --output_dir "$WORK/alone" 2> /dev/null
if cmp -s "$WORK/alone/final_model/model.safetensors" "$WORK/run/final_model/model.safetensors"; then
  echo "FAIL: stage 2 did not start from stage 1's model"; exit 1
fi

cp "$WORK/run/final_model/model.safetensors" "$WORK/before.safetensors"
"$MOAI_BIN" "${args[@]}" --resume_from_checkpoint auto 2> "$WORK/resume.log"
[[ $(grep -c "already complete" "$WORK/resume.log") -eq 2 ]] ||
  { echo "FAIL: a finished stage was not skipped"; cat "$WORK/resume.log"; exit 1; }
cmp "$WORK/before.safetensors" "$WORK/run/final_model/model.safetensors" ||
  { echo "FAIL: the resumed run changed the final model"; exit 1; }

# Only auto is accepted as a resume target.
status=0
"$MOAI_BIN" "${args[@]}" --resume_from_checkpoint "$WORK/run/stage_1/checkpoint-2" 2> "$WORK/err" || status=$?
[[ $status -eq 2 ]] && grep -q "only auto" "$WORK/err" || { echo "FAIL: expected exit 2 for an explicit resume path"; exit 1; }
echo "OK: two stages, chained, final_model written, resume skips finished stages"
