#!/usr/bin/env bash
# Trainer overhead and data-parallel scaling on this machine: the bare model step (`moai bench train`)
# against a real `moai train` step on prepared data with the same shapes, and 1 rank x 2 threads
# against `mpirun -np 2` x 1 thread with the same 8 rows per optimizer step. Rounds alternate, and each
# figure is the median over rounds of the per-run median step time (steps after the first two).
#
# usage: bench/train_loop.sh MOAI_BIN [ROUNDS] [STEPS]
set -euo pipefail
moai=${1:?usage: train_loop.sh MOAI_BIN [ROUNDS] [STEPS]}
rounds=${2:-3}
steps=${3:-10}
here=$(cd "$(dirname "$0")/.." && pwd)
assets=${MOAI_ASSETS_DIR:-$here/../shared/assets}
work=$(mktemp -d /tmp/moai_train_loop.XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$here/bench/train_common.bash"
bench_prepare "$moai" "$work" "$assets"

# Median seconds between consecutive train lines of a metrics.jsonl, skipping the first two steps.
step_median() {
  python3 - "$1" <<'PY'
import json, statistics, sys
t = [json.loads(l)["elapsed_s"] for l in open(sys.argv[1]) if '"type":"train"' in l]
print(statistics.median([b - a for a, b in zip(t[2:], t[3:])]))
PY
}
common=(train --mode pretrain --dataset "$work/data" --model_config "$work/model.json" --max_seq_length 128
        --gradient_accumulation_steps 1
        --max_steps "$steps" --logging_steps 1 --save_steps 0 --evaluation_strategy no --quiet --seed 1)
bare=(); one=(); two=()
for r in $(seq "$rounds"); do
  b=$("$moai" bench train --config "$work/model.json" --batch 8 --seq 128 --steps "$steps" --warmup 2 --threads 2 --json |
      python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["step_s_median"])')
  rm -rf "$work/one" "$work/two"
  "$moai" "${common[@]}" --batch_size 8 --threads 2 --output_dir "$work/one" > /dev/null 2>&1
  mpirun --allow-run-as-root --oversubscribe -np 2 "$moai" "${common[@]}" --batch_size 4 --threads 1 \
    --output_dir "$work/two" > /dev/null 2>&1
  o=$(step_median "$work/one/metrics.jsonl"); t=$(step_median "$work/two/metrics.jsonl")
  printf 'round %d: bare step %.3f s | moai train 1 rank x 2 threads %.3f s | 2 ranks x 1 thread %.3f s\n' "$r" "$b" "$o" "$t"
  bare+=("$b"); one+=("$o"); two+=("$t")
done
python3 - "${bare[*]}" "${one[*]}" "${two[*]}" <<'PY'
import statistics, sys
b, o, t = (statistics.median(float(x) for x in a.split()) for a in sys.argv[1:4])
tokens = 8 * 128
print(f"medians: bare {b:.3f} s ({tokens / b:.0f} tok/s) | train 1 rank {o:.3f} s ({tokens / o:.0f} tok/s, "
      f"overhead {100 * (o / b - 1):+.1f}%) | 2 ranks {t:.3f} s ({tokens / t:.0f} tok/s, {o / t:.2f}x of 1 rank)")
PY
