#!/usr/bin/env bash
# moai eval end to end on the committed tiny model and synthetic datasets (tests/eval/data): the
# table, lm-eval's results/samples files, --limit and few-shot, and bad input -> exit 2 with a
# message naming the task list or the file:line.
set -euo pipefail
MOAI_BIN=${MOAI_BIN:-build/moai}
SRC=${MOAI_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DATA="$SRC/tests/eval/data"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

"$MOAI_BIN" eval --model_path "$DATA/tiny_model" --tasks hellaswag,kobest_copa,wikitext \
  --dataset_path "$DATA/datasets" --num_fewshot 1 --limit 4 --batch_size 3 --threads 1 \
  --output_path "$TMP/out" --log_samples > "$TMP/table.txt"
grep -q "^|hellaswag|1|1|acc_norm|" "$TMP/table.txt" || { echo "no hellaswag row"; cat "$TMP/table.txt"; exit 1; }
grep -q "^|wikitext|2|1|word_perplexity|" "$TMP/table.txt" || { echo "no wikitext row"; cat "$TMP/table.txt"; exit 1; }
results=$(ls "$TMP"/out/results_*.json)
python3 - "$results" "$TMP/out" <<'PY'
import glob, json, sys
r = json.load(open(sys.argv[1]))
assert "acc,none" in r["results"]["hellaswag"] and "acc_stderr,none" in r["results"]["hellaswag"], r["results"]
assert r["results"]["kobest_copa"]["f1_stderr,none"] == "N/A"
assert r["n-shot"]["hellaswag"] == 1 and r["versions"]["wikitext"] == 2.0
assert r["configs"]["hellaswag"]["fewshot_split"] == "train"
assert r["n-samples"]["hellaswag"]["effective"] == 4
lines = [json.loads(l) for l in open(glob.glob(sys.argv[2] + "/samples_hellaswag_*.jsonl")[0])]
assert len(lines) == 4 and lines[0]["doc_id"] == 0
s = lines[0]
assert len(s["arguments"]) == 4 and len(s["filtered_resps"]) == 4 and s["acc"] in (0.0, 1.0)
assert isinstance(s["filtered_resps"][0][0], float) and isinstance(s["filtered_resps"][0][1], bool)
assert "\n\n" in s["arguments"][0][0], "one few-shot example then the fewshot delimiter"
PY

# mpirun: documents split across 2 ranks give the single-process results (same contexts, same
# few-shot draws; log-likelihoods to fp32 noise of a different batching).
if command -v mpirun > /dev/null; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
  mpirun --allow-run-as-root --oversubscribe -np 2 "$MOAI_BIN" eval --model_path "$DATA/tiny_model" \
    --tasks hellaswag,kobest_copa,wikitext --dataset_path "$DATA/datasets" --num_fewshot 1 --limit 4 \
    --batch_size 3 --threads 1 --output_path "$TMP/mpi" --log_samples > "$TMP/mpi_table.txt" 2> "$TMP/mpi.log" ||
    { echo "mpirun eval failed"; cat "$TMP/mpi.log"; exit 1; }
  grep -q "mpi (2 ranks)" "$TMP/mpi.log" || { echo "not 2 ranks"; cat "$TMP/mpi.log"; exit 1; }
  python3 - "$TMP/out" "$TMP/mpi" <<'PY'
import glob, json, sys
for task in ("hellaswag", "kobest_copa", "wikitext"):
    a = [json.loads(l) for l in open(glob.glob(sys.argv[1] + f"/samples_{task}_*.jsonl")[0])]
    b = [json.loads(l) for l in open(glob.glob(sys.argv[2] + f"/samples_{task}_*.jsonl")[0])]
    assert len(a) == len(b) == 4 or task == "wikitext", (task, len(a), len(b))
    for x, y in zip(a, b):
        assert x["arguments"] == y["arguments"], task
        for rx, ry in zip(x["filtered_resps"], y["filtered_resps"]):
            rx, ry = (rx, ry) if isinstance(rx, list) else ([rx], [ry])
            assert abs(rx[0] - ry[0]) < 1e-4 and rx[1:] == ry[1:], (task, rx, ry)
        for m in ("acc", "acc_norm", "f1"):
            assert x.get(m) == y.get(m), (task, m)
PY
fi

expect_exit2() {  # expect_exit2 PATTERN ARGS...
  local pattern=$1
  shift
  set +e
  "$MOAI_BIN" eval "$@" > /dev/null 2> "$TMP/err.txt"
  local code=$?
  set -e
  [ "$code" = 2 ] || { echo "expected exit 2, got $code for: $*"; cat "$TMP/err.txt"; exit 1; }
  grep -q -- "$pattern" "$TMP/err.txt" || { echo "error lacks '$pattern'"; cat "$TMP/err.txt"; exit 1; }
}
expect_exit2 'unknown task "bogus"; known: .*hellaswag' --model_path "$DATA/tiny_model" --tasks hellaswag,bogus
mkdir -p "$TMP/bad/baber/piqa"
printf '%s\n' '{"goal":"g","sol1":"a","sol2":"b","label":0}' '{"goal":"g","sol1":"a","label":1}' \
  > "$TMP/bad/baber/piqa/validation.jsonl"
expect_exit2 'validation.jsonl:2: .*sol2' --model_path "$DATA/tiny_model" --tasks piqa --dataset_path "$TMP/bad"
expect_exit2 'no test split for arc_easy' --model_path "$DATA/tiny_model" --tasks arc_easy --dataset_path "$TMP/bad"
expect_exit2 'built without CUDA' --model_path "$DATA/tiny_model" --tasks hellaswag --device cuda \
  --dataset_path "$DATA/datasets"
expect_exit2 'fp16' --model_path "$DATA/tiny_model" --tasks hellaswag --fp16 --dataset_path "$DATA/datasets"

# --precision bf16 runs the same scoring on the bf16 engine: the same rows, accuracies within the
# noise of bf16 log-likelihoods (the tiny model's choices are close, so only the run is checked).
"$MOAI_BIN" eval --model_path "$DATA/tiny_model" --tasks hellaswag --dataset_path "$DATA/datasets" \
  --limit 4 --threads 1 --precision bf16 > "$TMP/bf16.txt" 2> "$TMP/bf16.err" ||
  { cat "$TMP/bf16.err"; exit 1; }
grep -q "precision bf16" "$TMP/bf16.err" || { echo "no bf16 engine line"; cat "$TMP/bf16.err"; exit 1; }
grep -q "^|hellaswag|1|0|acc_norm|" "$TMP/bf16.txt" || { echo "no bf16 hellaswag row"; cat "$TMP/bf16.txt"; exit 1; }
echo "eval cli ok"
