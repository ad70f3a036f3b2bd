#!/usr/bin/env bash
# moai train --eval_tasks: benchmark tasks scored by the eval layer at each evaluation and logged
# to metrics.jsonl as <task>/<metric>; an unknown task fails before training (exit 2). Uses the
# committed tiny model's tokenizer/config and synthetic datasets (tests/eval/data).
set -euo pipefail
MOAI_BIN=${MOAI_BIN:-build/moai}
SRC=${MOAI_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DATA="$SRC/tests/eval/data"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for i in 1 2 3 4 5 6; do cat "$DATA"/datasets/Rowan/hellaswag/*.jsonl; done > "$TMP/corpus.jsonl"
"$MOAI_BIN" data prepare --mode pretrain --dataset "$TMP/corpus.jsonl" --tokenizer_path "$DATA/tiny_model" \
  --output_dir "$TMP/data" --validation_split_percentage 25 --quiet > /dev/null
common=(--mode pretrain --model_config "$DATA/tiny_model/config.json" --dataset "$TMP/data"
  --tokenizer_path "$DATA/tiny_model" --max_steps 2 --eval_steps 1 --batch_size 2
  --max_seq_length 32 --threads 1 --save_steps 0)
"$MOAI_BIN" train "${common[@]}" --output_dir "$TMP/out" --eval_tasks hellaswag,kobest_copa \
  --eval_limit 3 --eval_dataset_path "$DATA/datasets" > /dev/null 2> "$TMP/log.txt" || { cat "$TMP/log.txt"; exit 1; }
python3 - "$TMP/out/metrics.jsonl" <<'PY'
import json, sys
evals = [json.loads(l) for l in open(sys.argv[1]) if '"eval"' in l]
assert evals, "no eval lines"
for e in evals:
    for key in ("hellaswag/acc", "hellaswag/acc_norm", "kobest_copa/acc", "kobest_copa/f1"):
        assert key in e and 0.0 <= e[key] <= 1.0, (key, e)
PY
set +e
"$MOAI_BIN" train "${common[@]}" --output_dir "$TMP/out2" --eval_tasks hellaswag,nope > /dev/null 2> "$TMP/err.txt"
code=$?
set -e
[ "$code" = 2 ] || { echo "expected exit 2, got $code"; cat "$TMP/err.txt"; exit 1; }
grep -q 'unknown task "nope"' "$TMP/err.txt" || { cat "$TMP/err.txt"; exit 1; }
set +e
# Without --eval_dataset_path the task's Hub dataset is used: offline with an empty cache that is a
# clear error naming the dataset, before training starts.
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$TMP/empty-hf-cache" \
  "$MOAI_BIN" train "${common[@]}" --output_dir "$TMP/out3" --eval_tasks piqa > /dev/null 2> "$TMP/err.txt"
code=$?
set -e
[ "$code" = 2 ] || { echo "expected exit 2 without --eval_dataset_path, got $code"; cat "$TMP/err.txt"; exit 1; }
grep -q 'piqa' "$TMP/err.txt" || { cat "$TMP/err.txt"; exit 1; }
grep -q 'HF_HUB_OFFLINE' "$TMP/err.txt" || { cat "$TMP/err.txt"; exit 1; }
[ ! -e "$TMP/out3/metrics.jsonl" ] || { echo "training started before the dataset check"; exit 1; }
echo "train --eval_tasks ok"
