#!/usr/bin/env bash
# `moai serve` under load and abuse (docs/BENCHMARKS.md, "Server under load and abuse"): one server with its
# default limits, ROUNDS runs of scripts/serve_load.py (64 clients x 5 requests, 30% abuse) against it, so the
# RSS after each round shows whether memory levels off. The model is tiny and random (hidden 32, 2 layers,
# the moai_kor_eng tokenizer's 50k vocabulary): the server, not the model, is the subject.
# Usage: bench/serve_load.sh MOAI_BIN [ROUNDS=4] [THREADS=2]
set -euo pipefail
MOAI=${1:?moai binary}
ROUNDS=${2:-4}
THREADS=${3:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ASSETS=${MOAI_ASSETS_DIR:-$ROOT/../shared/assets}
[[ -f $ASSETS/moai_kor_eng/tokenizer.json ]] || { echo "serve_load: assets not found (set MOAI_ASSETS_DIR)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/moai_serve_load.XXXXXX)
server=
cleanup() {
  [[ -n $server ]] && kill "$server" 2> /dev/null && wait "$server" 2> /dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

head -c 120000 "$ASSETS/corpora/en.txt" > "$WORK/corpus.txt"
# The tests' micro model (tests/cli/micro_model.json) with room for longer requests.
sed 's/"max_position_embeddings": 128/"max_position_embeddings": 512/' "$ROOT/tests/cli/micro_model.json" \
  > "$WORK/model.json"
"$MOAI" data prepare --mode pretrain --dataset "$WORK/corpus.txt" --tokenizer_path "$ASSETS/moai_kor_eng" \
  --output_dir "$WORK/data" --validation_split_percentage 0 --quiet > /dev/null
"$MOAI" train --mode pretrain --dataset "$WORK/data" --model_config "$WORK/model.json" --max_steps 1 \
  --batch_size 2 --max_seq_length 32 --evaluation_strategy no --threads 1 --quiet --output_dir "$WORK/run" \
  2> /dev/null

"$MOAI" serve --model_path "$WORK/run/final_model" --port 0 --threads "$THREADS" > "$WORK/serve.out" \
  2> "$WORK/serve.err" &
server=$!
for _ in $(seq 200); do
  grep -q "listening on" "$WORK/serve.out" 2> /dev/null && break
  sleep 0.1
done
port=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/serve.out" | head -1)
[[ -n $port ]] || { cat "$WORK/serve.err" >&2; echo "serve_load: the server did not start" >&2; exit 1; }
echo "server pid $server port $port, RSS at start $(awk '/VmRSS/ {print $2 " kB"}' /proc/$server/status)"
status=0
for round in $(seq "$ROUNDS"); do
  echo "--- round $round"
  python3 "$ROOT/scripts/serve_load.py" --port "$port" --pid "$server" --clients 64 --requests 5 || status=1
  echo "RSS after round $round: $(awk '/VmRSS/ {print $2 " kB"}' /proc/$server/status)"
done
exit $status
