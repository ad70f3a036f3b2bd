# Shared setup for the tests/cli/train_*.sh scripts (sourced, not run): a tiny model config
# (micro_model.json, also the model of bench/serve_load.sh), a small
# English corpus slice and the moai_kor_eng tokenizer from ../shared/assets. Exits 0 with a SKIP line when
# the assets are absent (CI always has them).
set -euo pipefail
MOAI_BIN=${MOAI_BIN:?set MOAI_BIN to the moai binary}
SRC=${MOAI_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
ASSETS=${MOAI_ASSETS_DIR:-$SRC/../shared/assets}
if [[ ! -f $ASSETS/moai_kor_eng/tokenizer.json || ! -f $ASSETS/corpora/en.txt ]]; then
  echo "SKIP: assets not found (set MOAI_ASSETS_DIR)"
  exit 0
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/moai_train_test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
head -c 120000 "$ASSETS/corpora/en.txt" > "$WORK/corpus.txt"
cp "$SRC/tests/cli/micro_model.json" "$WORK/model.json"
# Prepared once; every run below reads the same token shards.
"$MOAI_BIN" data prepare --mode pretrain --dataset "$WORK/corpus.txt" \
  --tokenizer_path "$ASSETS/moai_kor_eng" --output_dir "$WORK/data" \
  --validation_split_percentage 25 --quiet > /dev/null

# Train-loss/lr/grad-norm and eval lines of a metrics.jsonl without the timing fields.
metrics_curve() {
  sed -E 's/"tokens_per_s":[^,}]*,?//; s/"elapsed_s":[^,}]*,?//' "$1"
}
