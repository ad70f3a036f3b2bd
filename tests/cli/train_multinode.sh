#!/usr/bin/env bash
# A simulated two-node run on one host: MOAI_TEST_NODE_ID gives ranks 0-1 node 0 and ranks 2-3 node 1
# (mpirun MPMD), so the communicator splits them into 2 nodes of 2 ranks. The output_dir is on one
# filesystem, which the run must detect (data prepared once, by rank 0); threads are split per node;
# the final weights match the single-node 4-rank run within 1e-6 relative.
source "$(dirname "$0")/train_common.bash"
if ! command -v mpirun > /dev/null; then echo "SKIP: mpirun not installed"; exit 0; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
close=$SRC/tests/cli/weights_close.py

# Raw text (not the prepared data) so that this run prepares it.
args=(train --mode pretrain --dataset "$WORK/corpus.txt" --tokenizer_path "$ASSETS/moai_kor_eng"
      --model_config "$WORK/model.json" --max_steps 4 --batch_size 1 --gradient_accumulation_steps 2
      --max_seq_length 32 --logging_steps 1 --save_steps 0 --evaluation_strategy no
      --learning_rate 2e-3 --warmup_steps 1 --seed 3)  # no --threads: the per-node default

mpirun --allow-run-as-root --oversubscribe -np 4 "$MOAI_BIN" "${args[@]}" --output_dir "$WORK/single" \
  > /dev/null 2> "$WORK/single.log" || { echo "FAIL: single-node run"; tail "$WORK/single.log"; exit 1; }
mpirun --allow-run-as-root --oversubscribe \
  -np 2 env MOAI_TEST_NODE_ID=0 "$MOAI_BIN" "${args[@]}" --output_dir "$WORK/two" : \
  -np 2 env MOAI_TEST_NODE_ID=1 "$MOAI_BIN" "${args[@]}" --output_dir "$WORK/two" \
  > /dev/null 2> "$WORK/two.log" || { echo "FAIL: two-node run"; tail -20 "$WORK/two.log"; exit 1; }

grep -q "mpi (4 ranks, 2 nodes)" "$WORK/two.log" || { echo "FAIL: not split into 2 nodes"; tail "$WORK/two.log"; exit 1; }
grep -q "2 nodes: output_dir is shared by every node: data prepared once" "$WORK/two.log" ||
  { echo "FAIL: shared output_dir not detected"; exit 1; }
[[ $(grep -c "prepared data " "$WORK/two.log") -eq 1 ]] ||
  { echo "FAIL: data prepared $(grep -c "prepared data " "$WORK/two.log") times, expected once"; exit 1; }
# Threads per rank: the cores of a node over the ranks of that node (2 here, not 4).
grep -q "threads per rank: $(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 )) (2 ranks on this node)" "$WORK/two.log" ||
  { echo "FAIL: threads not split per node"; grep "threads per rank" "$WORK/two.log"; exit 1; }
echo -n "two simulated nodes vs one node: "
python3 "$close" "$WORK/two/final_model/model.safetensors" "$WORK/single/final_model/model.safetensors" 1e-6
