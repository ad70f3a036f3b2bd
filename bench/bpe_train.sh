#!/usr/bin/env bash
# BPE training speed and peak memory: moai vs HF tokenizers' BpeTrainer (Rust, through the npm binding
# @anush008/tokenizers 0.6.0 = tokenizers 0.22.2; ../shared/peers/train_bpe.mjs) on the same four corpora,
# vocab 30000, HF's defaults (min_frequency 0, no special tokens, alphabet = characters seen), measured
# alternately in the same run. Prints the median wall time and peak RSS of each and checks that both
# produce the same vocabulary and merges. CPU time (user + sys) is printed too: on a shared, loaded
# machine it is the steadier figure.
#
# usage: bench/bpe_train.sh MOAI_BIN PEER_DIR [RUNS] [THREADS]
#   PEER_DIR: a directory holding train_bpe.mjs with node_modules/@anush008/tokenizers installed
#   (e.g. mkdir -p /tmp/bpe-peers/peers; cp ../shared/peers/train_bpe.mjs there; npm install
#   @anush008/tokenizers@0.6.0 in it; ln -s ../shared/assets /tmp/bpe-peers/assets).
set -euo pipefail
moai=${1:?usage: bpe_train.sh MOAI_BIN PEER_DIR [RUNS] [THREADS]}
peer=${2:?usage: bpe_train.sh MOAI_BIN PEER_DIR [RUNS] [THREADS]}
runs=${3:-5}
threads=${4:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
corpora=${MOAI_ASSETS_DIR:-$here/../shared/assets}/corpora
files=("$corpora/en.txt" "$corpora/ko.txt" "$corpora/ja.txt" "$corpora/zh.txt")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ours=()
hf=()
for ((run = 0; run < runs; ++run)); do
  /usr/bin/time -f "%e %M %U %S" -o "$work/t_moai" "$moai" tokenizer train --input_files "${files[@]}" \
    --vocab_size 30000 --min_frequency 0 --special_tokens none --no_byte_alphabet \
    --threads "$threads" --quiet --output_dir "$work/moai" >/dev/null
  ours+=("$(cat "$work/t_moai")")
  RAYON_NUM_THREADS=$threads /usr/bin/time -f "%e %M %U %S" -o "$work/t_hf" \
    node "$peer/train_bpe.mjs" "$work/hf.json" "${files[@]}" >/dev/null
  hf+=("$(cat "$work/t_hf")")
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
moai_s=$(printf '%s\n' "${ours[@]}" | cut -d' ' -f1 | median)
moai_kb=$(printf '%s\n' "${ours[@]}" | cut -d' ' -f2 | median)
hf_s=$(printf '%s\n' "${hf[@]}" | cut -d' ' -f1 | median)
hf_kb=$(printf '%s\n' "${hf[@]}" | cut -d' ' -f2 | median)
cpu() { awk '{print $3 + $4}'; }
moai_cpu=$(printf '%s\n' "${ours[@]}" | cpu | median)
hf_cpu=$(printf '%s\n' "${hf[@]}" | cpu | median)

same=$(python3 - "$work/moai/tokenizer.json" "$work/hf.json" <<'PY'
import json, sys
a, b = (json.load(open(p))["model"] for p in sys.argv[1:3])
norm = lambda m: [tuple(x.split(" ")) if isinstance(x, str) else tuple(x) for x in m]
print("yes" if a["vocab"] == b["vocab"] and norm(a["merges"]) == norm(b["merges"]) else "NO")
PY
)
echo "threads=$threads runs=$runs"
echo "moai:            wall ${moai_s} s  CPU ${moai_cpu} s  peak RSS $((moai_kb / 1024)) MB"
echo "HF tokenizers:   wall ${hf_s} s  CPU ${hf_cpu} s  peak RSS $((hf_kb / 1024)) MB"
echo "speed-up: wall $(awk -v a="$hf_s" -v b="$moai_s" 'BEGIN {printf "%.1fx", a / b}'), CPU $(awk -v a="$hf_cpu" -v b="$moai_cpu" 'BEGIN {printf "%.1fx", a / b}')   same vocab and merges: $same"
echo "(each run: wall_s peak_KB user_s sys_s) moai: ${ours[*]} | HF: ${hf[*]}"
