#!/usr/bin/env bash
# The server under a short version of scripts/serve_load.py: concurrent valid JSON/SSE requests mixed
# with abuse (dropped streams, headers a byte at a time, an oversized body, deep nesting, malformed JSON,
# invalid UTF-8, huge max_tokens, wrong types). Every valid request must get 200 or 429, every abusive one
# a 4xx or a closed connection (the slow client by the --header_timeout watchdog), and the server must
# still answer /health afterwards.
source "$(dirname "$0")/train_common.bash"
command -v python3 > /dev/null || { echo "SKIP: python3 not found"; exit 0; }

"$MOAI_BIN" train --mode pretrain --dataset "$WORK/data" --model_config "$WORK/model.json" \
  --max_steps 1 --batch_size 2 --max_seq_length 32 --evaluation_strategy no --threads 1 --quiet \
  --output_dir "$WORK/run" 2> /dev/null

"$MOAI_BIN" serve --model_path "$WORK/run/final_model" --port 0 --max_batch 4 --max_queue 8 \
  --header_timeout 2 --max_body_bytes 1048576 > "$WORK/serve.out" 2> "$WORK/serve.err" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$WORK/serve.out" 2>/dev/null && break
  sleep 0.1
done
port=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/serve.out" | head -1)
[[ -n $port ]] || { cat "$WORK/serve.err"; echo "FAIL: the server did not start"; exit 1; }

if ! python3 "$SRC/scripts/serve_load.py" --port "$port" --pid "$server" --clients 12 --requests 3 \
    --duration 60 --timeout 60 --header_timeout 2 --slow_delay 0.2 --huge_mb 8; then
  tail -20 "$WORK/serve.err"
  echo "FAIL: serve_load"; exit 1
fi
grep -q "no complete request within" "$WORK/serve.err" || { echo "FAIL: the slow client was not cut off by the watchdog"; exit 1; }
echo "PASS: serve_abuse"
