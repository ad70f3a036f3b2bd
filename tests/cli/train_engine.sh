#!/usr/bin/env bash
# The engine flags end to end: --device cuda in a build without CUDA and --fp16 exit 2 with a clear
# message (train, bench train, generate); generate runs in bf16 and fp32; a --precision bf16 run killed and resumed ends with the
# same weights and loss curve as an uninterrupted bf16 run; --save_dtype bf16 writes a bfloat16 HF
# directory that loads again.
source "$(dirname "$0")/train_common.bash"

expect_exit2() {  # expect_exit2 PATTERN ARGS...: exit code 2 and PATTERN in stderr
  local pattern=$1 status=0
  shift
  "$MOAI_BIN" "$@" > /dev/null 2> "$WORK/err.txt" || status=$?
  [[ $status -eq 2 ]] || { echo "FAIL: expected exit 2 from $*, got $status"; cat "$WORK/err.txt"; exit 1; }
  grep -q -- "$pattern" "$WORK/err.txt" || { echo "FAIL: no '$pattern' in: $(cat "$WORK/err.txt")"; exit 1; }
}

args=(train --mode pretrain --dataset "$WORK/data" --model_config "$WORK/model.json"
      --max_steps 8 --batch_size 2 --gradient_accumulation_steps 2 --max_seq_length 32
      --logging_steps 1 --save_steps 3 --save_total_limit 2 --eval_steps 4 --eval_batches 2
      --threads 1 --learning_rate 2e-3 --seed 7 --quiet --precision bf16)

expect_exit2 "fp16" "${args[@]}" --output_dir "$WORK/fp16" --fp16
expect_exit2 "fp16" bench train --config "$WORK/model.json" --steps 1 --warmup 0 --fp16
if ! "$MOAI_BIN" --version 2>/dev/null | grep -qi cuda; then
  expect_exit2 "make cuda" "${args[@]}" --output_dir "$WORK/cuda" --device cuda
  expect_exit2 "make cuda" bench train --config "$WORK/model.json" --steps 1 --warmup 0 --device cuda:1
  cuda_build=0
else
  cuda_build=1
fi
expect_exit2 "unknown device" "${args[@]}" --output_dir "$WORK/bad" --device tpu
expect_exit2 "precision" "${args[@]}" --output_dir "$WORK/bad" --precision fp8

"$MOAI_BIN" "${args[@]}" --device cpu --output_dir "$WORK/ref" --save_dtype bf16 2> "$WORK/ref.log"
grep -q "precision bf16" "$WORK/ref.log" || { echo "FAIL: no precision in the start line"; cat "$WORK/ref.log"; exit 1; }
grep -q '"torch_dtype": "bfloat16"' "$WORK/ref/final_model/config.json" ||
  { echo "FAIL: --save_dtype bf16 did not write torch_dtype bfloat16"; exit 1; }
[[ $cuda_build -eq 1 ]] ||
  expect_exit2 "make cuda" generate --model_path "$WORK/ref/final_model" --prompt "Hello" --device cuda
expect_exit2 "fp16" generate --model_path "$WORK/ref/final_model" --prompt "Hello" --precision fp16
# Generation runs on the shared engine in either precision: greedy text comes out and the engine line
# names the precision. Without --precision this bfloat16 checkpoint runs in bf16 on a CPU with
# AVX512-BF16 (and AVX512-BW), in fp32 on other CPUs.
for precision in bf16 fp32; do
  "$MOAI_BIN" generate --model_path "$WORK/ref/final_model" --prompt "Hello" --temperature 0 \
    --max_new_tokens 8 --precision $precision --device cpu > "$WORK/gen_$precision.txt" 2> "$WORK/gen.log" ||
    { echo "FAIL: generate --precision $precision"; cat "$WORK/gen.log"; exit 1; }
  grep -q "precision $precision" "$WORK/gen.log" || { echo "FAIL: no precision $precision in: $(cat "$WORK/gen.log")"; exit 1; }
  [[ -s "$WORK/gen_$precision.txt" ]] || { echo "FAIL: generate --precision $precision wrote nothing"; exit 1; }
done
"$MOAI_BIN" generate --model_path "$WORK/ref/final_model" --prompt "Hello" --temperature 0 \
  --max_new_tokens 2 --device cpu > /dev/null 2> "$WORK/gen.log"
want=fp32
grep -q avx512_bf16 /proc/cpuinfo && grep -q avx512bw /proc/cpuinfo && want=bf16
grep -q "precision $want" "$WORK/gen.log" || { echo "FAIL: CPU default is not $want: $(cat "$WORK/gen.log")"; exit 1; }

run=$WORK/run
status=0
"$MOAI_BIN" "${args[@]}" --device cpu --output_dir "$run" --save_dtype bf16 --debug_kill_at step:5 2> "$WORK/run.log" || status=$?
[[ $status -eq 137 ]] || { echo "FAIL: expected the run to be killed (137), got $status"; exit 1; }
"$MOAI_BIN" "${args[@]}" --device cpu --output_dir "$run" --save_dtype bf16 --resume_from_checkpoint auto 2>> "$WORK/run.log"
grep -q "resumed from" "$WORK/run.log" || { echo "FAIL: no resume happened"; exit 1; }
cmp "$WORK/ref/final_model/model.safetensors" "$run/final_model/model.safetensors" ||
  { echo "FAIL: bf16 weights differ after resume"; exit 1; }
cmp "$WORK/ref/checkpoint-8/model.safetensors" "$run/checkpoint-8/model.safetensors" ||
  { echo "FAIL: fp32 master weights differ after resume"; exit 1; }
if ! diff <(metrics_curve "$WORK/ref/metrics.jsonl") <(metrics_curve "$run/metrics.jsonl"); then
  echo "FAIL: bf16 loss curve differs after resume"; exit 1
fi
echo "OK: engine flags checked; bf16 run resumed bit-identically; bf16 HF dir written"
