#!/usr/bin/env bash
# End-to-end: Hub datasets by name (moai data info / data prepare / tokenizer train) against the Hub
# double (build/tests/moai_hub_double, tests/data/hub_double.h): configs from the dataset card, NAME:CONFIG,
# split slicing, the shared cache layout, a second run fully offline, gated repos and clear errors.
set -euo pipefail
MOAI_BIN=${MOAI_BIN:?set MOAI_BIN}
SRC=${MOAI_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DOUBLE=${MOAI_HUB_DOUBLE:-$(dirname "$MOAI_BIN")/tests/moai_hub_double}
if [ ! -x "$DOUBLE" ]; then echo "SKIP: moai_hub_double not built"; exit 0; fi
WORK=$(mktemp -d)
"$DOUBLE" > "$WORK/endpoint" &
DOUBLE_PID=$!
trap 'kill "$DOUBLE_PID" 2>/dev/null; wait "$DOUBLE_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
for _ in $(seq 100); do [ -s "$WORK/endpoint" ] && break; sleep 0.05; done
export HF_ENDPOINT=$(head -n1 "$WORK/endpoint")
[ -n "$HF_ENDPOINT" ] || fail "the Hub double did not start"
export HF_HOME="$WORK/hf" HF_HUB_CACHE="$WORK/hub" MOAI_HUB_RETRY_BASE_MS=10
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_TOKEN_PATH HF_HUB_OFFLINE HF_DATASETS_OFFLINE
TOKENIZER="$WORK/tok"
prepare() { "$MOAI_BIN" data prepare --tokenizer_path "$TOKENIZER" --quiet "$@"; }

# data info: configs, splits, files and sizes, without downloading data files.
"$MOAI_BIN" data info --dataset moai-test/tiny-text > "$WORK/info.log"
grep -q "^config plain (default), from the dataset card" "$WORK/info.log" || fail "info: $(cat "$WORK/info.log")"
grep -q "^config lines, from the dataset card" "$WORK/info.log" || fail "info: lines config"
grep -q "^  split train: 2 file(s), 324 B" "$WORK/info.log" || fail "info: train size"
grep -q "^  split validation: 1 file(s)" "$WORK/info.log" || fail "info: validation split"
[ ! -e "$WORK/hub/datasets--moai-test--tiny-text/snapshots/1111111111111111111111111111111111111111/plain" ] ||
  fail "info downloaded data files"

# tokenizer train from a Hub dataset, as the original's train_tokenizer.py --dataset/--dataset_config; the
# steps below use this tokenizer (no ../shared needed).
"$MOAI_BIN" tokenizer train --dataset moai-test/tiny-text --dataset_config plain --vocab_size 300 \
  --min_frequency 1 --output_dir "$WORK/tok" --quiet > "$WORK/tok.log"
[ -f "$WORK/tok/tokenizer.json" ] || fail "tokenizer train: $(cat "$WORK/tok.log")"

# prepare with --dataset_config: the card's "lines" config (one text file of two blocks).
prepare --dataset moai-test/tiny-text --dataset_config lines --output_dir "$WORK/lines" > "$WORK/lines.log"
grep -q "^documents 2 (train 2" "$WORK/lines.log" || fail "lines config: $(cat "$WORK/lines.log")"
REPO="$WORK/hub/datasets--moai-test--tiny-text"
[ "$(cat "$REPO/refs/main")" = 1111111111111111111111111111111111111111 ] || fail "refs/main"
LINK="$REPO/snapshots/1111111111111111111111111111111111111111/lines/part-0.txt"
[ -L "$LINK" ] || fail "snapshot entry is not a symlink"
case "$(readlink "$LINK")" in ../../../blobs/*) ;; *) fail "symlink not relative: $(readlink "$LINK")" ;; esac

# The default config, a slice, and a second Hub dataset with NAME:CONFIG.
prepare --dataset moai-test/tiny-text --split 'train[:25%]' --output_dir "$WORK/slice" > "$WORK/slice.log"
grep -q "^documents 3 (train 3" "$WORK/slice.log" || fail "slice: $(cat "$WORK/slice.log")"
prepare --dataset moai-test/tiny-text:lines --dataset moai-test/tiny-text:plain \
  --output_dir "$WORK/both" > "$WORK/both.log"
grep -q "^documents 14 (train 14" "$WORK/both.log" || fail "NAME:CONFIG: $(cat "$WORK/both.log")"

# SFT from a chat dataset whose splits come from its file names.
prepare --mode sft --dataset moai-test/tiny-chat --split 'train[:50%]' --output_dir "$WORK/sft" > "$WORK/sft.log"
grep -q "^documents 4 (train 4" "$WORK/sft.log" || fail "sft: $(cat "$WORK/sft.log")"

# moai train from a Hub dataset, its validation split as the evaluation set.
cat > "$WORK/model.json" <<'JSON'
{"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 512, "hidden_size": 16,
 "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
 "head_dim": 8, "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
 "tie_word_embeddings": true, "initializer_range": 0.02}
JSON
"$MOAI_BIN" train --mode pretrain --dataset moai-test/tiny-text --dataset_config plain \
  --eval_dataset moai-test/tiny-text --tokenizer_path "$TOKENIZER" --model_config "$WORK/model.json" \
  --max_steps 2 --batch_size 1 --max_seq_length 16 --threads 1 --quiet \
  --output_dir "$WORK/train" > "$WORK/train.log" 2>&1 || fail "train: $(tail -5 "$WORK/train.log")"
"$MOAI_BIN" data info --dataset "$WORK/train/prepared" > "$WORK/train_info.log"
grep -Eq "^  documents +12$" "$WORK/train_info.log" || fail "train data: $(cat "$WORK/train_info.log")"
"$MOAI_BIN" data info --dataset "$WORK/train/prepared_eval" > "$WORK/eval_info.log"
grep -Eq "^  documents +3$" "$WORK/eval_info.log" || fail "eval data: $(cat "$WORK/eval_info.log")"

# Offline, with nothing listening: the same commands work from the cache alone.
HF_HUB_OFFLINE=1 HF_ENDPOINT=http://127.0.0.1:9 prepare --dataset moai-test/tiny-text \
  --dataset_config lines --output_dir "$WORK/offline" > "$WORK/offline.log"
grep -q "^documents 2 (train 2" "$WORK/offline.log" || fail "offline: $(cat "$WORK/offline.log")"
set +e
HF_HUB_OFFLINE=1 HF_ENDPOINT=http://127.0.0.1:9 prepare --mode sft --dataset moai-test/tiny-chat \
  --split test --output_dir "$WORK/offline2" 2> "$WORK/offline.err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "offline without the files: exit $rc, expected 2"
grep -q "HF_HUB_OFFLINE" "$WORK/offline.err" || fail "offline error: $(cat "$WORK/offline.err")"

# Gated: exit 2 naming the repo and HF_TOKEN; with the token (from the token file) it works.
set +e
prepare --dataset moai-test/gated --output_dir "$WORK/gated" 2> "$WORK/gated.err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "gated: exit $rc, expected 2"
grep -q "moai-test/gated.*HF_TOKEN" "$WORK/gated.err" || fail "gated error: $(cat "$WORK/gated.err")"
mkdir -p "$HF_HOME" && echo hf_test_token > "$HF_HOME/token"
prepare --dataset moai-test/gated --output_dir "$WORK/gated" > "$WORK/gated.log"
grep -q "^documents 2 " "$WORK/gated.log" || fail "gated with token: $(cat "$WORK/gated.log")"

# Unknown names and configs: exit 2.
for args in "--dataset moai-test/nope" "--dataset moai-test/tiny-text --dataset_config nope"; do
  set +e
  # shellcheck disable=SC2086
  prepare $args --output_dir "$WORK/bad" 2> "$WORK/bad.err"
  rc=$?
  set -e
  [ "$rc" = 2 ] || fail "$args: exit $rc, expected 2"
done
echo "hub_dataset: ok"
