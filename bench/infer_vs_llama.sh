#!/usr/bin/env bash
# moai vs llama.cpp on the same random 102M Qwen3 (2 threads): prefill 256 tokens and greedy decode.
# Usage: bench/infer_vs_llama.sh BUILD_DIR PEERS_DIR [RUNS] [PRECISION]
#   PRECISION: fp32 (default) or bf16 -- moai runs --precision bf16 and the GGUF is exported as BF16,
#   so both sides run the same weights at the same precision.
#   PEERS_DIR: a folder with bench_gen_llama.mjs and node_modules/node-llama-cpp (npm i node-llama-cpp@3.21.1)
# Prints each run and the medians; both sides are measured in this same invocation, alternating.
set -euo pipefail
BUILD=${1:?build dir}
PEERS=${2:?peers dir}
RUNS=${3:-5}
PRECISION=${4:-fp32}
case $PRECISION in fp32|bf16) ;; *) echo "infer_vs_llama: PRECISION must be fp32 or bf16, not $PRECISION" >&2; exit 2 ;; esac
export MOAI_BENCH_PRECISION=$PRECISION
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/moai_infer_bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export MOAI_THREADS=2 OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1
# First run writes the model directory and its GGUF export (same weights for both sides).
MOAI_BENCH_DIR=$WORK MOAI_BENCH_TOKENIZER=$ROOT/../shared/assets/qwen3/tokenizer.json \
  "$BUILD/bench/infer_bench" --benchmark_filter=Prefill --benchmark_min_time=0.5 >/dev/null
moai_pre=(); moai_dec=(); llama_pre=(); llama_dec=()
for i in $(seq "$RUNS"); do
  out=$("$BUILD/bench/infer_bench" --benchmark_format=json --benchmark_min_time=1 2>/dev/null)
  p=$(echo "$out" | python3 -c 'import json,sys; b=json.load(sys.stdin)["benchmarks"]; print([x["tok_s"] for x in b if "Prefill" in x["name"]][0])')
  d=$(echo "$out" | python3 -c 'import json,sys; b=json.load(sys.stdin)["benchmarks"]; print([x["tok_s"] for x in b if "Decode" in x["name"]][0])')
  l=$(cd "$PEERS" && node bench_gen_llama.mjs "$WORK/model.gguf" 256 64 | tail -1)
  lp=$(echo "$l" | python3 -c 'import json,sys; print(json.load(sys.stdin)["prefill_tok_s"])')
  ld=$(echo "$l" | python3 -c 'import json,sys; print(json.load(sys.stdin)["decode_tok_s"])')
  printf '%s run %d: moai prefill %.1f tok/s decode %.1f tok/s | llama.cpp prefill %.1f decode %.1f\n' "$PRECISION" "$i" "$p" "$d" "$lp" "$ld"
  moai_pre+=("$p"); moai_dec+=("$d"); llama_pre+=("$lp"); llama_dec+=("$ld")
done
python3 - "${moai_pre[*]}" "${moai_dec[*]}" "${llama_pre[*]}" "${llama_dec[*]}" "$PRECISION" <<'PY'
import statistics, sys
mp, md, lp, ld = ([float(x) for x in a.split()] for a in sys.argv[1:5])
m = statistics.median
print(f"precision {sys.argv[5]}")
print(f"median prefill-256: moai {m(mp):.1f} tok/s, llama.cpp {m(lp):.1f} tok/s, ratio {m(mp)/m(lp):.2f}x")
print(f"median decode:      moai {m(md):.1f} tok/s, llama.cpp {m(ld):.1f} tok/s, ratio {m(md)/m(ld):.2f}x")
PY
