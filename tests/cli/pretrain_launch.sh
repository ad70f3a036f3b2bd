#!/usr/bin/env bash
# scripts/pretrain.sh launch plans (DRY_RUN=1 prints the command): one CPU rank without a launcher; a
# HOSTFILE of two 8-GPU nodes under mpirun with --device cuda --precision bf16 and a host check per node;
# srun inside a Slurm allocation; bad NNODES / HOSTFILE exit 2; an unreachable host stops the launch.
set -euo pipefail
SRC=${MOAI_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
script=$SRC/scripts/pretrain.sh
TMP=$(mktemp -d "${TMPDIR:-/tmp}/moai_pretrain_launch.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
run() { env -u SLURM_JOB_ID -u SLURM_NNODES DRY_RUN=1 MOAI=moai "$@" bash "$script" tiny 2>&1; }
expect() { grep -qF -- "$2" <<< "$1" || { echo "FAIL: expected '$2' in:"; echo "$1"; exit 1; }; }
refuse() { grep -qF -- "$2" <<< "$1" && { echo "FAIL: unexpected '$2' in:"; echo "$1"; exit 1; }; true; }

out=$(run NUM_GPUS=0)
expect "$out" "+ moai train --mode pretrain"
refuse "$out" "mpirun"
refuse "$out" "--device cuda"

printf 'node-a slots=8\n# a comment\nnode-b slots=8\n' > "$TMP/hosts"
out=$(run NUM_GPUS=8 GPU_MEMORY=80 HOSTFILE="$TMP/hosts")
expect "$out" "nodes x ranks x threads 2 x 8"
expect "$out" "+ checking host: ssh -o BatchMode=yes -o ConnectTimeout=10 node-a true"
expect "$out" "+ checking host: ssh -o BatchMode=yes -o ConnectTimeout=10 node-b true"
expect "$out" "mpirun -np 16 --bind-to none --hostfile $TMP/hosts --map-by ppr:8:node"
expect "$out" "--device cuda --precision bf16"
expect "$out" "(effective 1536 sequences"  # 24 rows x 16 ranks x 4

out=$(run SLURM_JOB_ID=42 SLURM_NNODES=2 NUM_GPUS=4 GPU_MEMORY=80 ZERO_STAGE=1)
expect "$out" "+ checking nodes: timeout 60 srun --nodes=2 --ntasks-per-node=1"
expect "$out" "+ srun --nodes=2 --ntasks-per-node=4"
expect "$out" "--zero_stage 1"
refuse "$out" "mpirun"

for bad in "NNODES=2" "HOSTFILE=$TMP/missing" "NNODES=x"; do
  status=0
  env -u SLURM_JOB_ID -u SLURM_NNODES DRY_RUN=1 MOAI=moai $bad bash "$script" tiny > "$TMP/out" 2>&1 || status=$?
  [[ $status -eq 2 ]] || { echo "FAIL: $bad: expected exit 2, got $status"; cat "$TMP/out"; exit 1; }
done

# A host that cannot be reached stops the launch before mpirun (exit 3), without DRY_RUN.
printf 'unreachable-host.invalid slots=1\nsecond-host.invalid slots=1\n' > "$TMP/dead"
status=0
env -u SLURM_JOB_ID -u SLURM_NNODES MOAI=/bin/false NUM_GPUS=0 HOSTFILE="$TMP/dead" \
  bash "$script" tiny > "$TMP/out" 2>&1 || status=$?
[[ $status -eq 3 ]] && grep -q "unreachable-host.invalid is unreachable" "$TMP/out" ||
  { echo "FAIL: unreachable host: exit $status"; cat "$TMP/out"; exit 1; }
echo "OK: pretrain.sh launch plans"
