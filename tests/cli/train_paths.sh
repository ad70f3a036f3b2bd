#!/usr/bin/env bash
# The training paths end to end, checked against an independent PyTorch computation
# (tests/cli/train_paths.py on ../shared/peers/torch_qwen3_tiny.py, Debian's python3-torch):
#  1. each --loss_type: the logged first-step loss equals the loss formula (loss.h) applied by the
#     PyTorch twin to the same weights and the same (single-window) batch;
#  2. --gradient_checkpointing: the same loss curve bit for bit, and a lower peak RSS;
#  3. --mode sft: the logged loss is the mean over assistant tokens only (mask computed from the
#     ChatML markers in Python), and differs from the all-token mean;
#  4. a trained final_model, loaded from its safetensors into the twin, gives moai's logits.
# The PyTorch checks skip with a message when /usr/bin/python3 cannot import torch; the
# gradient-checkpointing check and the SFT target count run without it.
source "$(dirname "$0")/train_common.bash"

PY=$SRC/tests/cli/train_paths.py
TOKENIZER=$ASSETS/moai_kor_eng/tokenizer.json
fail() { echo "FAIL: $*"; exit 1; }
have_torch=1
/usr/bin/python3 -c 'import torch' 2> /dev/null || have_torch=0
export MOAI_PEERS_DIR=${MOAI_PEERS_DIR:-$SRC/../shared/peers}
[[ -f $MOAI_PEERS_DIR/torch_qwen3_tiny.py ]] || have_torch=0
twin() { /usr/bin/python3 "$PY" "$@"; }
json_field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1"; }
# close A B REL: |A - B| <= REL * |B|
close() { python3 -c 'import sys; a, b, r = map(float, sys.argv[1:]); sys.exit(abs(a - b) > r * abs(b))' "$@"; }
step1() { head -n 1 "$1/metrics.jsonl" | json_field "$2"; }

one=(train --batch_size 1 --gradient_accumulation_steps 1 --logging_steps 1 --evaluation_strategy no
     --threads 1 --seed 7 --quiet)

# --- 2. gradient checkpointing (no PyTorch needed): 8 layers x 512 tokens so activations dominate.
sed 's/"num_hidden_layers": 2/"num_hidden_layers": 8/; s/"max_position_embeddings": 128/"max_position_embeddings": 512/' \
  "$WORK/model.json" > "$WORK/deep.json"
gc_args=(train --mode pretrain --dataset "$WORK/data" --model_config "$WORK/deep.json" --max_steps 3
         --batch_size 4 --gradient_accumulation_steps 1 --max_seq_length 512 --logging_steps 1
         --evaluation_strategy no --threads 1 --seed 7 --quiet)
for gc in plain checkpointed; do
  flag=()
  [[ $gc == checkpointed ]] && flag=(--gradient_checkpointing)
  /usr/bin/time -f %M -o "$WORK/rss_$gc" "$MOAI_BIN" "${gc_args[@]}" "${flag[@]}" --output_dir "$WORK/gc_$gc" \
    2> "$WORK/gc_$gc.log" || { cat "$WORK/gc_$gc.log"; fail "gradient checkpointing run ($gc)"; }
done
diff <(metrics_curve "$WORK/gc_plain/metrics.jsonl") <(metrics_curve "$WORK/gc_checkpointed/metrics.jsonl") ||
  fail "--gradient_checkpointing changed the loss curve"
rss_plain=$(tail -n 1 "$WORK/rss_plain") rss_gc=$(tail -n 1 "$WORK/rss_checkpointed")
echo "peak RSS: ${rss_plain} KB without, ${rss_gc} KB with --gradient_checkpointing"
((rss_gc < rss_plain)) || fail "--gradient_checkpointing did not lower the peak RSS"

# --- 3a. SFT target count (no PyTorch needed): one conversation, two assistant turns.
cat > "$WORK/chat.jsonl" <<'EOF'
{"messages": [{"role": "system", "content": "You are a careful gardener."}, {"role": "user", "content": "Where did the cat sit?"}, {"role": "assistant", "content": "The cat sat on the mat."}, {"role": "user", "content": "And then what did it do for a long while?"}, {"role": "assistant", "content": "It looked at the garden."}]}
EOF
"$MOAI_BIN" data prepare --mode sft --dataset "$WORK/chat.jsonl" --tokenizer_path "$ASSETS/moai_kor_eng" \
  --output_dir "$WORK/sft" --max_seq_length 128 --quiet > /dev/null
sft_run() {  # sft_run OUT [--pretrained_model DIR | --model_config FILE]
  local out=$1
  shift
  "$MOAI_BIN" "${one[@]}" --mode sft --dataset "$WORK/sft" --tokenizer_path "$ASSETS/moai_kor_eng" "$@" \
    --max_steps 1 --max_seq_length 128 --output_dir "$out" 2> "$out.log" || { cat "$out.log"; fail "sft run"; }
}
sft_run "$WORK/sft_count" --model_config "$WORK/model.json"
expected=$(python3 "$PY" targets "$WORK/sft" "$TOKENIZER")
[[ $(step1 "$WORK/sft_count" tokens) -eq $expected ]] ||
  fail "sft trained on $(step1 "$WORK/sft_count" tokens) tokens, the assistant turns have $expected"

if ((!have_torch)); then
  echo "SKIP: /usr/bin/python3 cannot import torch (or $MOAI_PEERS_DIR/torch_qwen3_tiny.py is absent): loss formulas," \
    "SFT masked loss and twin logits not checked"
  echo "OK: gradient checkpointing and SFT target count checked"
  exit 0
fi

# --- Weights with peaked predictions (so the four formulas differ widely): random twin weights,
# then 30 moai steps overfitting one short document. That document, alone in its split, is the
# first (and only) batch of every run below.
printf 'The cat sat on the mat and looked at the garden for a long while.\n' > "$WORK/doc.txt"
"$MOAI_BIN" data prepare --mode pretrain --dataset "$WORK/doc.txt" --tokenizer_path "$ASSETS/moai_kor_eng" \
  --output_dir "$WORK/doc" --quiet > /dev/null
twin init "$WORK/model.json" "$WORK/init" --seed 3 --init-std 0.3
doc_run() {  # doc_run OUT MODEL STEPS ARGS...
  local out=$1 model=$2 steps=$3
  shift 3
  "$MOAI_BIN" "${one[@]}" --mode pretrain --dataset "$WORK/doc" --pretrained_model "$model" \
    --max_seq_length 32 --max_steps "$steps" --output_dir "$out" "$@" 2> "$out.log" ||
    { cat "$out.log"; fail "training run $out"; }
}
doc_run "$WORK/warm" "$WORK/init" 30 --learning_rate 1e-2
warm=$WORK/warm/final_model

# --- 1. each loss type (non-default gamma, smoothing and weights, so the flags are checked too).
check_loss() {  # check_loss NAME MOAI_FLAGS -- TWIN_FLAGS
  local name=$1 moai=() py=()
  shift
  while [[ $1 != -- ]]; do moai+=("$1"); shift; done
  shift
  py=("$@")
  doc_run "$WORK/loss_$name" "$warm" 1 --loss_type "$name" "${moai[@]}"
  local got want
  got=$(step1 "$WORK/loss_$name" loss)
  want=$(twin loss "$warm" "$WORK/doc" --seq 32 --loss "$name" "${py[@]}" | json_field loss)
  echo "loss_type $name: moai $got, twin $want"
  close "$got" "$want" 1e-5 || fail "loss_type $name: first-step loss $got, formula gives $want"
}
check_loss cross_entropy --
check_loss focal --focal_gamma 3 -- --gamma 3
check_loss label_smoothing --smoothing 0.2 -- --smoothing 0.2
check_loss multi_objective --ce_weight 0.5 --focal_weight 0.25 --smooth_weight 0.25 --focal_gamma 2 \
  --smoothing 0.1 -- --weights 0.5 0.25 0.25 --gamma 2 --smoothing 0.1

# --- 3b. SFT loss: the mean over assistant targets only, which here differs from the mean over all
# tokens by far more than the tolerance (so counting user/system tokens fails the check).
sft_run "$WORK/sft_loss" --pretrained_model "$warm"
sft=$(twin loss "$warm" "$WORK/sft" --seq 128 --sft --tokenizer "$TOKENIZER")
got=$(step1 "$WORK/sft_loss" loss)
want=$(json_field loss <<< "$sft") all=$(json_field all_tokens_loss <<< "$sft")
echo "sft: moai $got, twin over assistant tokens $want, twin over all tokens $all"
close "$all" "$want" 1e-3 && fail "setup: masked and all-token losses are too close to tell apart"
close "$got" "$want" 1e-5 || fail "sft loss $got is not the assistant-only loss $want (all tokens: $all)"

# --- 4. The trained final_model's safetensors in the twin: same logits as moai model verify.
twin batch "$WORK/batch.safetensors" --vocab 50000 --seed 5
"$MOAI_BIN" model verify --model_path "$warm" --batch "$WORK/batch.safetensors" \
  --out "$WORK/verify.safetensors" --threads 1 > /dev/null 2> "$WORK/verify.log" || { cat "$WORK/verify.log"; fail "model verify"; }
diff=$(twin logits "$warm" "$WORK/batch.safetensors" "$WORK/verify.safetensors" | json_field rel_max_diff)
echo "final_model logits: max |twin - moai| / max |twin| = $diff"
python3 -c 'import sys; sys.exit(float(sys.argv[1]) > 1e-5)' "$diff" ||
  fail "final_model logits differ from the twin's by $diff (relative)"
echo "OK: loss types, gradient checkpointing, SFT masking and final_model logits match the twin"
