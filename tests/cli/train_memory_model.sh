#!/usr/bin/env bash
# The memory model of `moai model info` against measured peak RSS: a 6.7M-parameter model (vocab 50000,
# so the model state, the checkpoint copies and the CPU classifier's logits scratch dominate) trained for 2
# fp32 steps on 1 rank, and on 2 ranks with ZeRO-0 and ZeRO-1. Each rank prints its peak RSS (VmHWM) and its
# resident memory before the model was built (the runtime baseline: libraries, MPI, tokenizer); model info
# gets that baseline with --baseline_mib and must predict every rank's peak within 10%.
source "$(dirname "$0")/train_common.bash"
if ! command -v mpirun > /dev/null; then echo "SKIP: mpirun not installed"; exit 0; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
cat > "$WORK/m128.json" <<'JSON'
{"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 50000, "hidden_size": 128,
 "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
 "head_dim": 32, "max_position_embeddings": 128, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
 "tie_word_embeddings": true, "initializer_range": 0.02}
JSON
args=(train --mode pretrain --dataset "$WORK/data" --model_config "$WORK/m128.json" --max_steps 2
      --max_seq_length 64 --batch_size 2 --gradient_accumulation_steps 1 --save_steps 0
      --evaluation_strategy no --threads 1 --quiet)

# "123.4 MB" (decimal units, as format_bytes prints them) -> bytes.
to_bytes() { awk -v v="$1" -v u="$2" 'BEGIN { m = u == "kB" ? 1e3 : u == "MB" ? 1e6 : u == "GB" ? 1e9 : 1; printf "%.0f", v * m }'; }

# check RANKS ZERO LOG: every rank's measured peak against the model's total for that rank.
check() {
  local ranks=$1 zero=$2 log=$3 line rank peak base total
  [[ $(grep -c '^rank [0-9]*: peak RSS' "$log") -eq $ranks ]] || { echo "FAIL: no peak RSS lines"; cat "$log"; exit 1; }
  while read -r line; do
    rank=$(sed -E 's/^rank ([0-9]+):.*/\1/' <<< "$line")
    peak=$(sed -E 's/.*peak RSS ([0-9.]+) MiB.*/\1/' <<< "$line")
    base=$(sed -E 's/.*\(([0-9.]+) MiB before.*/\1/' <<< "$line")
    total=$("$MOAI_BIN" model info "$WORK/m128.json" --batch_size 2 --seq_len 64 --precision fp32 \
      --world_size "$ranks" --zero_stage "$zero" --baseline_mib "$base" | grep '^  total')
    if [[ $rank -eq 0 ]]; then total=$(sed -E 's/.*total +([0-9.]+) ([kMG]?B) on rank 0.*/\1 \2/' <<< "$total")
    else total=$(sed -E 's/.*, ([0-9.]+) ([kMG]?B) on the others.*/\1 \2/' <<< "$total"); fi
    total=$(to_bytes $total)
    awk -v p="$peak" -v t="$total" -v what="$ranks rank(s), ZeRO-$zero, rank $rank" 'BEGIN {
      m = p * 1048576; d = (t - m) / m;
      printf "%s: measured %.1f MB, model %.1f MB (%+.1f%%)\n", what, m / 1e6, t / 1e6, 100 * d;
      if (d > 0.10 || d < -0.10) { print "FAIL: memory model off by more than 10%"; exit 1 } }'
  done < <(grep '^rank [0-9]*: peak RSS' "$log")
}

"$MOAI_BIN" "${args[@]}" --output_dir "$WORK/one" 2> "$WORK/one.log"
check 1 0 "$WORK/one.log"
for zero in 0 1; do
  mpirun --allow-run-as-root --oversubscribe -np 2 "$MOAI_BIN" "${args[@]}" --zero_stage $zero \
    --output_dir "$WORK/two$zero" > /dev/null 2> "$WORK/two$zero.log" ||
    { echo "FAIL: 2-rank ZeRO-$zero run failed"; tail -20 "$WORK/two$zero.log"; exit 1; }
  check 2 $zero "$WORK/two$zero.log"
done
echo "OK: train_memory_model"
