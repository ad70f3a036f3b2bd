#!/usr/bin/env bash
# Trainer faults: an unwritable --output_dir fails before training (exit 2); NaN injected at chosen steps
# (MOAI_DEBUG_NAN_AT) is skipped and counted, and --max_bad_steps stops the run (exit 1, clear message,
# a checkpoint holding the last good weights); a disk that fills during a checkpoint (RLIMIT_FSIZE)
# fails the save clearly and leaves the previous checkpoint intact, even with --save_total_limit 1;
# corrupt checkpoints (truncated, bit-flipped) are refused by --resume_from_checkpoint auto, which falls
# back to the newest one that verifies.
source "$(dirname "$0")/train_common.bash"

args=(train --mode pretrain --dataset "$WORK/data" --model_config "$WORK/model.json"
      --batch_size 2 --max_seq_length 32 --logging_steps 1 --evaluation_strategy no
      --threads 1 --learning_rate 2e-3 --seed 7 --quiet)
fail() { echo "FAIL: $*"; exit 1; }

# 1. An output directory that cannot exist (a regular file is in the way): exit 2 before training.
touch "$WORK/blocker"
status=0
"$MOAI_BIN" "${args[@]}" --max_steps 4 --output_dir "$WORK/blocker/out" 2> "$WORK/unwritable.log" || status=$?
[[ $status -eq 2 ]] || { cat "$WORK/unwritable.log"; fail "unwritable output dir: expected exit 2, got $status"; }
grep -q -- "--output_dir" "$WORK/unwritable.log" || fail "the error does not name --output_dir"
grep -q "step" "$WORK/unwritable.log" && fail "training started despite the unwritable output dir"

# 2a. One NaN step is skipped and counted; the run finishes.
MOAI_DEBUG_NAN_AT=3 "$MOAI_BIN" "${args[@]}" --max_steps 5 --output_dir "$WORK/nan1" 2> "$WORK/nan1.log"
grep -q '"type":"skip","step":3' "$WORK/nan1/metrics.jsonl" ||
  grep -q '"step":3.*"type":"skip"\|"type": *"skip".*"step": *3' "$WORK/nan1/metrics.jsonl" ||
  { cat "$WORK/nan1/metrics.jsonl"; fail "no skip record for step 3"; }
[[ $(grep -c '"skip"' "$WORK/nan1/metrics.jsonl") -eq 1 ]] || fail "expected exactly one skipped step"
[[ -f $WORK/nan1/final_model/model.safetensors ]] || fail "the run with one NaN step did not finish"

# 2b. NaN from step 4 on with --max_bad_steps 2: stops at step 5 with exit 1 and a checkpoint whose
# weights are those of step 3 (the last good update).
status=0
MOAI_DEBUG_NAN_AT=4-100 "$MOAI_BIN" "${args[@]}" --max_steps 10 --save_steps 3 --max_bad_steps 2 \
  --output_dir "$WORK/nan2" 2> "$WORK/nan2.log" || status=$?
[[ $status -eq 1 ]] || { cat "$WORK/nan2.log"; fail "max_bad_steps: expected exit 1, got $status"; }
grep -q "training stopped: 2 steps in a row had non-finite loss" "$WORK/nan2.log" ||
  { cat "$WORK/nan2.log"; fail "no clear max_bad_steps message"; }
[[ -f $WORK/nan2/checkpoint-5/COMPLETE ]] || fail "no checkpoint written when max_bad_steps stopped the run"
cmp "$WORK/nan2/checkpoint-3/model.safetensors" "$WORK/nan2/checkpoint-5/model.safetensors" ||
  fail "the stop checkpoint does not hold the last good weights"
[[ ! -d $WORK/nan2/final_model ]] || fail "final_model written by a stopped run"

# 3. Disk full while writing checkpoint-4 (file size limit below the optimizer file's size): the save
# fails with a message naming the file, checkpoint-2 stays complete and a resume without the limit
# continues from it.
"$MOAI_BIN" "${args[@]}" --max_steps 6 --save_steps 2 --save_total_limit 1 --output_dir "$WORK/full" \
  --debug_kill_at step:3 2> /dev/null || true
[[ -f $WORK/full/checkpoint-2/COMPLETE ]] || fail "setup: no checkpoint-2"
limit_kb=$(( $(stat -c %s "$WORK/full/checkpoint-2/model.safetensors") / 1024 + 64 ))
status=0
( trap '' XFSZ; ulimit -f "$limit_kb"
  exec "$MOAI_BIN" "${args[@]}" --max_steps 6 --save_steps 2 --save_total_limit 1 --output_dir "$WORK/full" \
    --resume_from_checkpoint auto ) 2> "$WORK/full.log" || status=$?
[[ $status -eq 1 ]] || { cat "$WORK/full.log"; fail "disk full: expected exit 1, got $status"; }
grep -q "optimizer.safetensors" "$WORK/full.log" || { cat "$WORK/full.log"; fail "the disk-full error does not name the file"; }
[[ -f $WORK/full/checkpoint-2/COMPLETE && ! -d $WORK/full/checkpoint-4 ]] ||
  fail "disk full: checkpoint-2 was not kept intact (or a broken checkpoint-4 looks complete)"
"$MOAI_BIN" "${args[@]}" --max_steps 6 --save_steps 2 --save_total_limit 1 --output_dir "$WORK/full" \
  --resume_from_checkpoint auto 2> "$WORK/full2.log" || { cat "$WORK/full2.log"; fail "resume after disk full failed"; }
grep -q "resumed from.*checkpoint-2" "$WORK/full2.log" || { cat "$WORK/full2.log"; fail "did not resume from checkpoint-2"; }

# 4. Corrupt checkpoints: checkpoint-6 truncated, checkpoint-4 with one flipped byte (same size). auto
# skips both with a message and resumes from checkpoint-2; an explicit path to a corrupt one is refused.
"$MOAI_BIN" "${args[@]}" --max_steps 8 --save_steps 2 --save_total_limit 3 --output_dir "$WORK/corrupt" \
  --debug_kill_at step:7 2> /dev/null || true
for s in 2 4 6; do [[ -f $WORK/corrupt/checkpoint-$s/COMPLETE ]] || fail "setup: no checkpoint-$s"; done
truncate -s -100 "$WORK/corrupt/checkpoint-6/model.safetensors"
size=$(stat -c %s "$WORK/corrupt/checkpoint-4/optimizer.safetensors")
printf '\x7f' | dd of="$WORK/corrupt/checkpoint-4/optimizer.safetensors" bs=1 seek=$((size - 10)) conv=notrunc 2> /dev/null
status=0
"$MOAI_BIN" "${args[@]}" --max_steps 8 --save_steps 2 --save_total_limit 3 --output_dir "$WORK/corrupt" \
  --resume_from_checkpoint "$WORK/corrupt/checkpoint-4" 2> "$WORK/explicit.log" || status=$?
[[ $status -eq 2 ]] || { cat "$WORK/explicit.log"; fail "explicit corrupt checkpoint: expected exit 2, got $status"; }
grep -q "checksum differs" "$WORK/explicit.log" || { cat "$WORK/explicit.log"; fail "no checksum message"; }
"$MOAI_BIN" "${args[@]}" --max_steps 8 --save_steps 2 --save_total_limit 3 --output_dir "$WORK/corrupt" \
  --resume_from_checkpoint auto 2> "$WORK/corrupt.log" || { cat "$WORK/corrupt.log"; fail "auto resume failed"; }
grep -q "skipping corrupt checkpoint.*checkpoint-6" "$WORK/corrupt.log" || { cat "$WORK/corrupt.log"; fail "no message for the truncated checkpoint-6"; }
grep -q "skipping corrupt checkpoint.*checkpoint-4" "$WORK/corrupt.log" || { cat "$WORK/corrupt.log"; fail "no message for the bit-flipped checkpoint-4"; }
grep -q "resumed from.*checkpoint-2" "$WORK/corrupt.log" || { cat "$WORK/corrupt.log"; fail "did not fall back to checkpoint-2"; }
[[ -f $WORK/corrupt/final_model/model.safetensors ]] || fail "the fallback run did not finish"
echo "PASS: train_faults"
