#!/usr/bin/env bash
# Production pretraining launcher (the original project's pretrain.sh, with every variable honoured).
#
#   scripts/pretrain.sh [2b|5b|3b|tiny]          model preset (default 2b = configs/moai-2.85b.json)
#
# Every setting below can be given in the environment; the defaults are the original's. The script
# prints the resolved plan, then runs `mpirun -np RANKS moai train ...` (or plain `moai train` for one rank).
#
#   NUM_GPUS        GPUs to use (default: detected with nvidia-smi; 0 when none). See the note on GPUs below.
#   GPU_MEMORY      GB per GPU (default: detected; picks BATCH_SIZE/GRADIENT_ACCUMULATION_STEPS as the
#                   original's table: 32 -> 4x24, 48 -> 12x4, 80 -> 24x4, 5b -> 1x96)
#   BATCH_SIZE      micro-batch per rank (overrides the table)
#   GRADIENT_ACCUMULATION_STEPS   micro-batches per step (overrides the table; the original ignored this)
#   NUM_RANKS       data-parallel ranks (default NUM_GPUS, or on CPU: 1)
#   THREADS         CPU threads per rank (default: cores / NUM_RANKS)
#   DATASETS        space-separated prepared datasets or text files (default: data/pretrain)
#   TOKENIZER_PATH  (default tokenizers/moai)
#   MAX_SEQ_LENGTH  (1024)   LEARNING_RATE (1e-4)   WARMUP_STEPS (2000)   NUM_EPOCHS (2)   MAX_STEPS (-1)
#   LR_SCHEDULER    (wsd)    SAVE_STEPS (500)       SAVE_TOTAL_LIMIT (3)  LOGGING_STEPS (10)  EVAL_STEPS (500)
#   OUTPUT_DIR      (outputs/pretrain-<size>)
#   MOAI            the moai binary (default: build/moai, else moai on PATH)
#   EXTRA_ARGS      appended to the moai train command line
#   DRY_RUN=1       print the command without running it
#
# GPUs: `moai train` currently runs its steps on the CPU backend (the CUDA backend exists in the library
# but is not wired into the trainer yet); with GPUs present the script says so and still runs CPU ranks.
# Resuming: the command always passes --resume_from_checkpoint auto, so rerunning the script continues
# from the latest complete checkpoint in OUTPUT_DIR.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONFIG_SIZE=${1:-2b}
case $CONFIG_SIZE in
  2b) MODEL_CONFIG=$ROOT/configs/moai-2.85b.json ;;
  5b) MODEL_CONFIG=$ROOT/configs/moai-5.25b.json ;;
  3b) MODEL_CONFIG=$ROOT/configs/moai-3.0b.json ;;
  tiny) MODEL_CONFIG=$ROOT/configs/tiny.json ;;
  *) echo "Unknown config size: $CONFIG_SIZE (use 2b, 5b, 3b or tiny)" >&2; exit 2 ;;
esac

detected_gpus=0
detected_memory=0
if command -v nvidia-smi > /dev/null 2>&1 && nvidia-smi -L > /dev/null 2>&1; then
  detected_gpus=$(nvidia-smi -L | grep -c '^GPU' || true)
  detected_memory=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | head -1 | awk '{ printf "%d", $1 / 1024 + 0.5 }')
fi
NUM_GPUS=${NUM_GPUS:-$detected_gpus}
GPU_MEMORY=${GPU_MEMORY:-$detected_memory}

# The original's batch table, used unless BATCH_SIZE / GRADIENT_ACCUMULATION_STEPS are set.
if [[ $CONFIG_SIZE == 5b ]]; then table_batch=1; table_ga=96
elif [[ $NUM_GPUS -eq 0 ]]; then table_batch=1; table_ga=8
else
  case $GPU_MEMORY in
    32) table_batch=4; table_ga=24 ;;
    48) table_batch=12; table_ga=4 ;;
    80) table_batch=24; table_ga=4 ;;
    *) table_batch=4; table_ga=24 ;;
  esac
fi
BATCH_SIZE=${BATCH_SIZE:-$table_batch}
GRADIENT_ACCUMULATION_STEPS=${GRADIENT_ACCUMULATION_STEPS:-$table_ga}
NUM_RANKS=${NUM_RANKS:-$(( NUM_GPUS > 0 ? NUM_GPUS : 1 ))}
CORES=$(nproc)
THREADS=${THREADS:-$(( CORES / NUM_RANKS > 0 ? CORES / NUM_RANKS : 1 ))}
DATASETS=${DATASETS:-data/pretrain}
TOKENIZER_PATH=${TOKENIZER_PATH:-tokenizers/moai}
MAX_SEQ_LENGTH=${MAX_SEQ_LENGTH:-1024}
LEARNING_RATE=${LEARNING_RATE:-1e-4}
WARMUP_STEPS=${WARMUP_STEPS:-2000}
NUM_EPOCHS=${NUM_EPOCHS:-2}
MAX_STEPS=${MAX_STEPS:--1}
LR_SCHEDULER=${LR_SCHEDULER:-wsd}
SAVE_STEPS=${SAVE_STEPS:-500}
SAVE_TOTAL_LIMIT=${SAVE_TOTAL_LIMIT:-3}
LOGGING_STEPS=${LOGGING_STEPS:-10}
EVAL_STEPS=${EVAL_STEPS:-500}
OUTPUT_DIR=${OUTPUT_DIR:-outputs/pretrain-$CONFIG_SIZE}
if [[ -z ${MOAI:-} ]]; then
  if [[ -x $ROOT/build/moai ]]; then MOAI=$ROOT/build/moai; else MOAI=moai; fi
fi

read -r -a dataset_list <<< "$DATASETS"
cmd=("$MOAI" train --mode pretrain --dataset "${dataset_list[@]}" --tokenizer_path "$TOKENIZER_PATH"
     --model_config "$MODEL_CONFIG" --output_dir "$OUTPUT_DIR" --batch_size "$BATCH_SIZE"
     --gradient_accumulation_steps "$GRADIENT_ACCUMULATION_STEPS" --max_seq_length "$MAX_SEQ_LENGTH"
     --learning_rate "$LEARNING_RATE" --warmup_steps "$WARMUP_STEPS" --num_epochs "$NUM_EPOCHS"
     --max_steps "$MAX_STEPS" --lr_scheduler "$LR_SCHEDULER" --logging_steps "$LOGGING_STEPS"
     --save_steps "$SAVE_STEPS" --save_total_limit "$SAVE_TOTAL_LIMIT" --eval_steps "$EVAL_STEPS"
     --gradient_checkpointing --threads "$THREADS" --resume_from_checkpoint auto)
if [[ -n ${EXTRA_ARGS:-} ]]; then read -r -a extra <<< "$EXTRA_ARGS"; cmd+=("${extra[@]}"); fi
if [[ $NUM_RANKS -gt 1 ]]; then
  launch=(mpirun -np "$NUM_RANKS" --bind-to none)
  [[ $(id -u) -eq 0 ]] && launch+=(--allow-run-as-root)
  cmd=("${launch[@]}" "${cmd[@]}")
fi

cat <<INFO
moai pretraining
  model config        $MODEL_CONFIG ($CONFIG_SIZE)
  tokenizer           $TOKENIZER_PATH
  datasets            $DATASETS
  output              $OUTPUT_DIR
  GPUs                $NUM_GPUS (detected $detected_gpus), GPU memory ${GPU_MEMORY} GB
  ranks x threads     $NUM_RANKS x $THREADS
  batch / accumulation $BATCH_SIZE / $GRADIENT_ACCUMULATION_STEPS (effective $(( BATCH_SIZE * NUM_RANKS * GRADIENT_ACCUMULATION_STEPS )) sequences of $MAX_SEQ_LENGTH tokens)
  learning rate       $LEARNING_RATE ($LR_SCHEDULER, warmup $WARMUP_STEPS), epochs $NUM_EPOCHS, max steps $MAX_STEPS
INFO
if [[ $NUM_GPUS -gt 0 ]]; then
  echo "note: moai train runs on the CPU backend for now; the $NUM_GPUS GPU(s) are not used by this run" >&2
fi
echo "+ ${cmd[*]}"
if [[ ${DRY_RUN:-0} == 1 ]]; then exit 0; fi
"${cmd[@]}"
echo "Model saved to: $OUTPUT_DIR/final_model"
