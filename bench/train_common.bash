# Shared setup of the training benchmarks (bench/train_loop.sh, bench/train_dist.sh): sourced, not run.
# bench_prepare MOAI WORK ASSETS: writes WORK/model.json (configs/tiny.json with the moai_kor_eng tokenizer's
# 50,000-token vocabulary) and prepares WORK/data from the English corpus.
bench_prepare() {
  local moai=$1 work=$2 assets=$3 here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  python3 - "$here/configs/tiny.json" "$work/model.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["vocab_size"] = 50000
json.dump(c, open(sys.argv[2], "w"))
PY
  "$moai" data prepare --mode pretrain --dataset "$assets/corpora/en.txt" --tokenizer_path "$assets/moai_kor_eng" \
    --output_dir "$work/data" --validation_split_percentage 0 --quiet > /dev/null
}
