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
#   NUM_RANKS       data-parallel ranks per node (default NUM_GPUS, or on CPU: 1)
#   THREADS         CPU threads per rank (default: cores / NUM_RANKS)
#   NNODES          nodes (default: SLURM_NNODES under Slurm, else the HOSTFILE's lines, else 1)
#   HOSTFILE        OpenMPI hostfile ("host slots=N" per line) for a multi-node mpirun
#   CHECK_HOSTS=0   skip the reachability check of the hosts before launching (default 1)
#   LAUNCHER        auto (srun inside a Slurm allocation, else mpirun when > 1 rank), srun, mpirun
#   ZERO_STAGE      --zero_stage (default: moai's, 1 with more than one rank)
#   DATASETS        space-separated prepared datasets or text files (default: data/pretrain)
#   TOKENIZER_PATH  (default tokenizers/moai)
#   MAX_SEQ_LENGTH  (1024)   LEARNING_RATE (1e-4)   WARMUP_STEPS (2000)   NUM_EPOCHS (2)   MAX_STEPS (-1)
#   LR_SCHEDULER    (wsd)    SAVE_STEPS (500)       SAVE_TOTAL_LIMIT (3)  LOGGING_STEPS (10)  EVAL_STEPS (500)
#   OUTPUT_DIR      (outputs/pretrain-<size>)
#   MOAI            the moai binary (default: build/moai, else moai on PATH)
#   EXTRA_ARGS      appended to the moai train command line
#   DRY_RUN=1       print the command without running it
#
# GPUs: with GPUs present the command gets --device cuda --precision bf16 (one rank per GPU). Multi-node:
# the output directory must be on storage every node sees (checkpoints are written by rank 0, optimizer
# shards by every rank); moai detects a node-local output directory and then prepares data per node.
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
if [[ -n ${HOSTFILE:-} && ! -f $HOSTFILE ]]; then echo "HOSTFILE $HOSTFILE: no such file" >&2; exit 2; fi
hosts=()
if [[ -n ${HOSTFILE:-} ]]; then
  mapfile -t hosts < <(sed -E 's/#.*//; s/^[[:space:]]+//' "$HOSTFILE" | awk 'NF { print $1 }')
  [[ ${#hosts[@]} -gt 0 ]] || { echo "HOSTFILE $HOSTFILE: no hosts in it" >&2; exit 2; }
fi
if [[ -n ${SLURM_NNODES:-} ]]; then default_nodes=$SLURM_NNODES
elif [[ ${#hosts[@]} -gt 0 ]]; then default_nodes=${#hosts[@]}
else default_nodes=1; fi
NNODES=${NNODES:-$default_nodes}
[[ $NNODES =~ ^[1-9][0-9]*$ ]] || { echo "NNODES must be a positive integer, got '$NNODES'" >&2; exit 2; }
if [[ $NNODES -gt 1 && -z ${HOSTFILE:-} && -z ${SLURM_JOB_ID:-} ]]; then
  echo "NNODES=$NNODES needs a HOSTFILE (mpirun) or a Slurm allocation (srun)" >&2; exit 2
fi
if [[ ${#hosts[@]} -gt 0 && ${#hosts[@]} -lt $NNODES ]]; then
  echo "HOSTFILE $HOSTFILE lists ${#hosts[@]} host(s), NNODES is $NNODES" >&2; exit 2
fi
TOTAL_RANKS=$(( NUM_RANKS * NNODES ))
LAUNCHER=${LAUNCHER:-auto}
if [[ $LAUNCHER == auto ]]; then
  if [[ -n ${SLURM_JOB_ID:-} ]]; then LAUNCHER=srun
  elif [[ $TOTAL_RANKS -gt 1 ]]; then LAUNCHER=mpirun
  else LAUNCHER=none; fi
fi
case $LAUNCHER in srun|mpirun|none) ;; *) echo "LAUNCHER must be auto, srun or mpirun, got '$LAUNCHER'" >&2; exit 2 ;; esac
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
if [[ $NUM_GPUS -gt 0 ]]; then cmd+=(--device cuda --precision bf16); fi
if [[ -n ${ZERO_STAGE:-} ]]; then cmd+=(--zero_stage "$ZERO_STAGE"); fi
if [[ -n ${EXTRA_ARGS:-} ]]; then read -r -a extra <<< "$EXTRA_ARGS"; cmd+=("${extra[@]}"); fi
case $LAUNCHER in
  srun)
    launch=(srun --nodes="$NNODES" --ntasks-per-node="$NUM_RANKS" --cpus-per-task="$THREADS" --kill-on-bad-exit=1)
    check=(srun --nodes="$NNODES" --ntasks-per-node=1 --time=1 hostname) ;;
  mpirun)
    launch=(mpirun -np "$TOTAL_RANKS" --bind-to none)
    if [[ -n ${HOSTFILE:-} ]]; then launch+=(--hostfile "$HOSTFILE" --map-by "ppr:$NUM_RANKS:node"); fi
    [[ $(id -u) -eq 0 ]] && launch+=(--allow-run-as-root)
    check=() ;;
  none) launch=(); check=() ;;
esac
cmd=("${launch[@]}" "${cmd[@]}")

# Every host must answer before the job starts (a dead node would otherwise hang the start-up).
check_hosts() {
  if [[ ${CHECK_HOSTS:-1} == 0 ]]; then return 0; fi
  if [[ ${#check[@]} -gt 0 ]]; then
    echo "+ checking nodes: timeout 60 ${check[*]}"
    [[ ${DRY_RUN:-0} == 1 ]] && return 0
    timeout 60 "${check[@]}" > /dev/null || { echo "error: not every node answered srun within 60 s" >&2; exit 3; }
    return 0
  fi
  local host
  for host in "${hosts[@]:0:$NNODES}"; do
    case $host in localhost|127.0.0.1|"$(hostname)"|"$(hostname -f 2>/dev/null)") continue ;; esac
    echo "+ checking host: ssh -o BatchMode=yes -o ConnectTimeout=10 $host true"
    [[ ${DRY_RUN:-0} == 1 ]] && continue
    ssh -o BatchMode=yes -o ConnectTimeout=10 "$host" true ||
      { echo "error: host $host is unreachable by ssh (mpirun needs it)" >&2; exit 3; }
  done
}

cat <<INFO
moai pretraining
  model config        $MODEL_CONFIG ($CONFIG_SIZE)
  tokenizer           $TOKENIZER_PATH
  datasets            $DATASETS
  output              $OUTPUT_DIR
  GPUs                $NUM_GPUS (detected $detected_gpus), GPU memory ${GPU_MEMORY} GB
  nodes x ranks x threads $NNODES x $NUM_RANKS x $THREADS (launcher $LAUNCHER)
  batch / accumulation $BATCH_SIZE / $GRADIENT_ACCUMULATION_STEPS (effective $(( BATCH_SIZE * TOTAL_RANKS * GRADIENT_ACCUMULATION_STEPS )) sequences of $MAX_SEQ_LENGTH tokens)
  learning rate       $LEARNING_RATE ($LR_SCHEDULER, warmup $WARMUP_STEPS), epochs $NUM_EPOCHS, max steps $MAX_STEPS
INFO
check_hosts
echo "+ ${cmd[*]}"
if [[ ${DRY_RUN:-0} == 1 ]]; then exit 0; fi
"${cmd[@]}"
echo "Model saved to: $OUTPUT_DIR/final_model"
