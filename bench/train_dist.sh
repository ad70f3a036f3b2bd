#!/usr/bin/env bash
# Data-parallel training on this machine: `mpirun -np 2` (1 thread per rank, 4 rows per rank, 8 per optimizer
# step) with ZeRO-0 and ZeRO-1, each with and without --overlap_comm. Reports per variant the median step time
# (median over rounds of each run's median step, first two steps skipped), every rank's peak RSS, and what
# `moai model info` predicts for that rank from its measured pre-model baseline. Rounds alternate the variants.
#
# usage: bench/train_dist.sh MOAI_BIN [ROUNDS] [STEPS]
set -euo pipefail
moai=${1:?usage: train_dist.sh MOAI_BIN [ROUNDS] [STEPS]}
rounds=${2:-3}
steps=${3:-12}
here=$(cd "$(dirname "$0")/.." && pwd)
assets=${MOAI_ASSETS_DIR:-$here/../shared/assets}
work=$(mktemp -d /tmp/moai_train_dist.XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$here/bench/train_common.bash"
bench_prepare "$moai" "$work" "$assets"
common=(train --mode pretrain --dataset "$work/data" --model_config "$work/model.json" --max_seq_length 128
        --gradient_accumulation_steps 1 --batch_size 4 --threads 1 --max_steps "$steps" --logging_steps 1
        --save_steps 0 --evaluation_strategy no --quiet --seed 1)
for r in $(seq "$rounds"); do
  for zero in 0 1; do
    for overlap in false true; do
      out=$work/z${zero}_o${overlap}_$r
      flags=(--zero_stage "$zero"); [[ $overlap == true ]] && flags+=(--overlap_comm)
      mpirun --allow-run-as-root --oversubscribe -np 2 "$moai" "${common[@]}" "${flags[@]}" \
        --output_dir "$out" > "$out.log" 2>&1
      python3 - "$out/metrics.jsonl" "$out.log" "$zero" "$overlap" "$r" <<'PY' >> "$work/rows"
import json, re, statistics, sys
t = [json.loads(l)["elapsed_s"] for l in open(sys.argv[1]) if '"type":"train"' in l]
step = statistics.median([b - a for a, b in zip(t[2:], t[3:])])
ranks = re.findall(r"rank (\d+): peak RSS ([0-9.]+) MiB \(([0-9.]+) MiB before", open(sys.argv[2]).read())
print(json.dumps({"zero": int(sys.argv[3]), "overlap": sys.argv[4], "round": int(sys.argv[5]), "step_s": step,
                  "ranks": [[int(a), float(b), float(c)] for a, b, c in ranks]}))
PY
      tail -1 "$work/rows"
    done
  done
done
python3 - "$work/rows" "$moai" "$work/model.json" <<'PY'
import json, re, statistics, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| ZeRO | overlap | step s (median) | tok/s | rank: peak RSS MiB (model info prediction, error) |")
print("|---|---|---|---|---|")
for zero in (0, 1):
    for overlap in ("false", "true"):
        sel = [r for r in rows if r["zero"] == zero and r["overlap"] == overlap]
        step = statistics.median(r["step_s"] for r in sel)
        cells = []
        for rank in sorted({k[0] for r in sel for k in r["ranks"]}):
            peak = statistics.median(k[1] for r in sel for k in r["ranks"] if k[0] == rank)
            base = statistics.median(k[2] for r in sel for k in r["ranks"] if k[0] == rank)
            info = subprocess.run([sys.argv[2], "model", "info", sys.argv[3], "--batch_size", "4", "--seq_len", "128",
                                   "--precision", "fp32", "--world_size", "2", "--zero_stage", str(zero),
                                   "--baseline_mib", str(base)], capture_output=True, text=True).stdout
            total = re.search(r"total\s+([0-9.]+) MB on rank 0, ([0-9.]+) MB on the others", info)
            pred = float(total.group(1 if rank == 0 else 2)) / 1.048576 if total else float("nan")
            cells.append(f"{rank}: {peak:.1f} ({pred:.1f}, {100 * (pred / peak - 1):+.1f}%)")
        print(f"| {zero} | {overlap} | {step:.3f} | {8 * 128 / step:.0f} | {'; '.join(cells)} |")
PY
