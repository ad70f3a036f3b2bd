#!/usr/bin/env bash
# `make bench`: every benchmark whose peer is available here, each measuring moai and its peer in the same
# run (ratios go to docs/BENCHMARKS.md). A benchmark whose peer is missing says so and is skipped.
# Usage: scripts/bench.sh BUILD_DIR
set -uo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${MOAI_SHARED_DIR:-$ROOT/../shared}
MOAI=$BUILD/moai
"$ROOT/tests/peers/install.sh" || true

for cfg in a b; do
  config=$ROOT/configs/tiny.json
  [[ $cfg == b ]] && config=$ROOT/bench/configs/torch_peer_b.json
  echo "== training step, config $cfg: moai bench train fp32 and bf16 vs PyTorch fp32 and autocast-bf16 (batch 8 x seq 256, 2 threads)"
  for precision in fp32 bf16; do
    "$MOAI" bench train --config "$config" --batch 8 --seq 256 --steps 8 --warmup 2 --threads 2 --sgemm_peak \
      --precision $precision --json
  done
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    for mode in "" --autocast-bf16; do
      (cd "$SHARED/peers" && LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/blis-openmp OMP_NUM_THREADS=2 \
        /usr/bin/python3 torch_qwen3_tiny.py --config $cfg --json --steps 8 --warmup 2 $mode)
    done
  else
    echo "(peer skipped: apt-get install python3-torch for the PyTorch peer)"
  fi
done

echo "== trainer loop: overhead over the bare step, 1 vs 2 MPI ranks"
"$ROOT/bench/train_loop.sh" "$MOAI" 3 10

echo "== data parallel: 2 ranks, ZeRO-0/1 x overlap off/on, per-rank peak RSS vs moai model info"
"$ROOT/bench/train_dist.sh" "$MOAI" 3 12

echo "== tokenizer encode: moai vs HF tokenizers"
python3 "$ROOT/bench/tokenizer_encode.py" --moai "$MOAI" --shared "$SHARED" --runs 3

echo "== data prepare"
python3 "$ROOT/bench/data_prepare.py" --moai "$MOAI" --shared "$SHARED" --runs 3 --langs en,ko

if [[ -n ${MOAI_BPE_PEERS:-} ]]; then
  echo "== BPE training: moai vs HF BpeTrainer"
  "$ROOT/bench/bpe_train.sh" "$MOAI" "$MOAI_BPE_PEERS" 3 2
else
  echo "== BPE training skipped: set MOAI_BPE_PEERS (see bench/bpe_train.sh)"
fi

if [[ -n ${MOAI_LLAMA_PEERS:-} ]]; then
  for precision in fp32 bf16; do
    echo "== generation ($precision; BF16 GGUF for bf16): moai vs llama.cpp"
    "$ROOT/bench/infer_vs_llama.sh" "$BUILD" "$MOAI_LLAMA_PEERS" 5 $precision
  done
else
  echo "== generation skipped: set MOAI_LLAMA_PEERS to a folder with bench_gen_llama.mjs and node-llama-cpp"
fi

echo "== server under load and abuse: 64 clients, 4 rounds against one server (outcomes, p50/p99, RSS plateau)"
"$ROOT/bench/serve_load.sh" "$MOAI" 4 2
