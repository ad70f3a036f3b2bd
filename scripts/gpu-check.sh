#!/usr/bin/env bash
# The one-call GPU verification of moai's CUDA backend. Runs ON a GPU machine (H100/H200), in under ~9 minutes:
#   1. op parity: moai_cuda_tests (every backend op vs the CPU reference on fresh random inputs; NaN-poisoned
#      outputs catch unwritten elements)
#   2. train-compare: 50 steps of a tiny model on CPU and CUDA, loss curves within tolerance
#   3. hf-compare: logits, loss and every gradient vs HF transformers' Qwen3ForCausalLM (scripts/gpu/hf_compare.py)
#   4. nccl: the NCCL communicator at world size 1 (moai_nccl_check)
#   4b. bf16 commands: `moai train --device cuda --precision bf16` (30 steps of configs/tiny.json on the repo's
#      docs as text) against the same run on the CPU (final eval loss within 2%), then `moai generate --device
#      cuda --precision bf16` on the trained model
#   5. benchmark: training step tokens/s, MFU, peak memory of moai and HF transformers, Qwen3-0.6B/1.7B shapes at
#      seq 2048 and 4096, in the same call, and whether the ~3B preset (configs/moai-3.0b.json) trains at seq
#      4096 on the card (skipped with --no-bench)
# Prebuilt binaries come from scripts/gpu/pack.sh, run beforehand on the build machine; from a session with a GPU:
#   run(command="scripts/gpu-check.sh build-cuda-pack/pack", carry=["build-cuda-pack/pack"], timeout_s=570)
# Logs and a JSON summary go to $OUT (when set, as on the device machine) or ./gpu-check-out/.
set -uo pipefail
cd "$(dirname "$0")/.."
PACK=${1:-build-cuda-pack/pack}
shift || true
BENCH=1
for arg in "$@"; do
  case "$arg" in
    --no-bench) BENCH=0 ;;
    *) echo "gpu-check.sh: unknown option $arg (known: --no-bench)" >&2; exit 2 ;;
  esac
done
OUTDIR=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUTDIR"
WORK=$(mktemp -d)
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1

if [[ ! -x "$PACK/bin/moai_cuda_check" ]]; then
  echo "gpu-check.sh: $PACK/bin/moai_cuda_check not found: run scripts/gpu/pack.sh on the build machine and carry" \
       "its output (see this file's header)" >&2
  exit 2
fi
# Libraries: the pack's own (OpenBLAS...), then the GPU machine's CUDA 13 (toolkit, or the nvidia-* wheels that
# PyTorch brings).
LIBS="$(cd "$PACK/lib" && pwd)"
for dir in /usr/local/cuda/lib64 /usr/local/cuda/lib; do [[ -d $dir ]] && LIBS="$LIBS:$dir"; done
WHEEL_LIBS=$($PY - <<'PYEOF' 2>/dev/null
import glob, os
try:
    import nvidia
    roots = list(nvidia.__path__)
except Exception:
    roots = []
print(":".join(sorted({os.path.dirname(p) for r in roots for p in glob.glob(os.path.join(r, "**", "lib*.so*"), recursive=True)})))
PYEOF
)
[[ -n "$WHEEL_LIBS" ]] && LIBS="$LIBS:$WHEEL_LIBS"
export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

declare -A RESULT
# Steps that would start after this many seconds are skipped, so the whole call stays inside the device tool's
# 10-minute limit and the summary still prints.
DEADLINE=${GPU_CHECK_DEADLINE:-480}
run_step() {  # name, time limit in seconds, command...
  local name=$1 limit=$2
  shift 2
  if (( SECONDS + 10 > DEADLINE )); then
    echo "=== $name: skipped (past the ${DEADLINE}s budget)" | tee "$OUTDIR/$name.log"
    RESULT[$name]="skipped"
    return
  fi
  (( SECONDS + limit > DEADLINE )) && limit=$((DEADLINE - SECONDS))
  echo "=== $name ($(date -u +%H:%M:%S), limit ${limit}s): $*"
  local start=$SECONDS
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$OUTDIR/$name.log"
  local rc=${PIPESTATUS[0]}
  RESULT[$name]="rc=$rc $((SECONDS - start))s"
  echo "=== $name: rc=$rc in $((SECONDS - start))s"
}

{
  cat "$PACK/BUILD_INFO" 2>/dev/null
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1
  $PY -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" 2>&1
  ldd "$PACK/bin/moai_cuda_check" | grep -E "not found|cublas|cudart" || true
} | tee "$OUTDIR/environment.log"

run_step op-parity 120 "$PACK/bin/moai_cuda_tests" --gtest_color=no
# All-skipped tests mean the binary saw no GPU: that is a failure here, not a pass.
if grep -q "GPU parity tests skipped" "$OUTDIR/op-parity.log" 2>/dev/null; then
  RESULT[op-parity]="rc=1 (tests skipped: the binary saw no GPU)"
fi
run_step train-compare 120 "$PACK/bin/moai_cuda_check" train-compare --steps 50
run_step hf-compare 150 $PY scripts/gpu/hf_compare.py --bin "$PACK/bin/moai_cuda_check" --work "$WORK/hf" \
  --json "$OUTDIR/hf_compare.json"

run_step nccl 60 "$PACK/bin/moai_nccl_check"

# The real commands in bf16. Text: the repository's own docs (real English; ../shared is not on the GPU machine).
if [[ -x "$PACK/bin/moai" ]]; then
  cat README.md docs/*.md > "$WORK/text.txt"
  run_step bf16-tokenizer 60 "$PACK/bin/moai" tokenizer train --input_files "$WORK/text.txt" --vocab_size 2000 \
    --output_dir "$WORK/tok"
  for device in cuda cpu; do
    run_step "bf16-train-$device" 120 "$PACK/bin/moai" train --device $device --precision bf16 \
      --model_config configs/tiny.json --dataset "$WORK/text.txt" --tokenizer_path "$WORK/tok" \
      --output_dir "$WORK/train-$device" --max_steps 30 --batch_size 4 --gradient_accumulation_steps 1 \
      --max_seq_length 128 --logging_steps 10 --save_steps 0 --eval_steps 30 --seed 3
  done
  run_step bf16-train-compare 30 $PY - "$WORK/train-cuda/metrics.jsonl" "$WORK/train-cpu/metrics.jsonl" <<'PYEOF'
import json, sys
def final_eval(path):
    rows = [json.loads(line) for line in open(path)]
    return [r["eval_loss"] for r in rows if r.get("type") == "eval"][-1]
cuda, cpu = final_eval(sys.argv[1]), final_eval(sys.argv[2])
rel = abs(cuda - cpu) / cpu
print(f"bf16 final eval loss: cuda {cuda:.4f}, cpu {cpu:.4f}, relative difference {100 * rel:.2f}% (bound 2%)")
sys.exit(0 if rel <= 0.02 else 1)
PYEOF
  run_step bf16-generate-cuda 60 "$PACK/bin/moai" generate --device cuda --precision bf16 \
    --model_path "$WORK/train-cuda/final_model" --prompt "The model" --max_new_tokens 16
else
  echo "=== bf16 commands: skipped ($PACK/bin/moai missing: rebuild the pack with scripts/gpu/pack.sh)"
fi

if [[ $BENCH == 1 ]]; then
  : >"$OUTDIR/bench.jsonl"
  for preset in 0.6b 1.7b; do
    for seq in 2048 4096; do
      run_step "bench-moai-$preset-$seq" 90 "$PACK/bin/moai_cuda_check" bench --preset $preset --seq $seq \
        --batch 1 --steps 5 --warmup 2
      grep '^{' "$OUTDIR/bench-moai-$preset-$seq.log" >>"$OUTDIR/bench.jsonl"
      run_step "bench-hf-$preset-$seq" 90 $PY scripts/gpu/hf_bench.py --preset $preset --seq $seq --batch 1 \
        --steps 5 --warmup 2
      grep '^{' "$OUTDIR/bench-hf-$preset-$seq.log" >>"$OUTDIR/bench.jsonl"
    done
  done
  # The ~3B preset must train on one 80 GB card at seq 4096 (with gradient checkpointing).
  run_step bench-moai-3b-4096 120 "$PACK/bin/moai_cuda_check" bench --config configs/moai-3.0b.json --seq 4096 \
    --batch 1 --steps 2 --warmup 1 --checkpointing
  grep '^{' "$OUTDIR/bench-moai-3b-4096.log" >>"$OUTDIR/bench.jsonl"
fi
rm -rf "$WORK"

echo
echo "=== summary (logs in $OUTDIR)"
status=0
for name in op-parity train-compare hf-compare nccl; do
  echo "  $name: ${RESULT[$name]:-not run}"
  [[ "${RESULT[$name]:-rc=1}" == rc=0* ]] || status=1
done
if [[ $BENCH == 1 && -s "$OUTDIR/bench.jsonl" ]]; then
  $PY - "$OUTDIR/bench.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
by_key = {}
for r in rows:
    by_key.setdefault((r["preset"].split("/")[-1], r["seq"]), {})["moai" if r["impl"] == "moai" else "hf"] = r
print("  %-6s %5s  %12s %12s %6s  %7s %7s  %9s %9s" % ("preset", "seq", "moai tok/s", "hf tok/s", "ratio",
                                                       "moai MFU", "hf MFU", "moai GiB", "hf GiB"))
for (preset, seq), pair in sorted(by_key.items()):
    m, h = pair.get("moai"), pair.get("hf")
    ratio = m["tokens_per_s"] / h["tokens_per_s"] if m and h else float("nan")
    f = lambda r, k, fmt: fmt % r[k] if r else "-"
    print("  %-6s %5d  %12s %12s %6.2f  %7s %7s  %9s %9s" % (preset, seq, f(m, "tokens_per_s", "%.0f"),
          f(h, "tokens_per_s", "%.0f"), ratio, f(m, "mfu", "%.3f"), f(h, "mfu", "%.3f"),
          f(m, "peak_memory_gib", "%.1f"), f(h, "peak_memory_gib", "%.1f")))
PYEOF
fi
exit $status
