#!/usr/bin/env python3
"""`moai serve` throughput: 1 request at a time vs N concurrent requests, with the engine decoding them
together (--max_batch N) and, for comparison, one at a time (--max_batch 1, requests queue). Each request
is a greedy /v1/completions of --tokens tokens; throughput = generated tokens / wall seconds of the
round; medians over --rounds.

  bench/serve_throughput.py --moai build/moai --model DIR [--streams 8] [--tokens 64] [--rounds 3]

DIR is any HF model directory with a tokenizer (bench/infer_vs_llama.sh's 102M model:
MOAI_BENCH_DIR=DIR build/bench/infer_bench --benchmark_filter=Prefill writes one).
"""
import argparse
import json
import statistics
import subprocess
import threading
import time
import urllib.request


def start_server(moai, model, max_batch, threads):
    proc = subprocess.Popen([moai, "serve", "--model_path", model, "--port", "0", "--threads", str(threads),
                             "--max_batch", str(max_batch), "--max_queue", "64", "--max_context", "1024"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    port = int(line.rsplit(":", 1)[1])
    return proc, port


def complete(port, prompt, tokens, out, index):
    body = json.dumps({"prompt": prompt, "max_tokens": tokens, "temperature": 0}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", body,
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        out[index] = json.loads(r.read())["usage"]["completion_tokens"]


def round_tokens_per_second(port, streams, tokens):
    counts = [0] * streams
    threads = [threading.Thread(target=complete, args=(port, f"Request {i}: once upon a time", tokens, counts, i))
               for i in range(streams)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--moai", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    results = {}
    for label, max_batch in (("batched", a.streams), ("queued", 1)):
        proc, port = start_server(a.moai, a.model, max_batch, a.threads)
        try:
            round_tokens_per_second(port, 1, 4)  # warm-up
            one = [round_tokens_per_second(port, 1, a.tokens) for _ in range(a.rounds)]
            many = [round_tokens_per_second(port, a.streams, a.tokens) for _ in range(a.rounds)]
        finally:
            proc.terminate()
            proc.wait()
        results[label] = (statistics.median(one), statistics.median(many))
        print(json.dumps({"server": f"--max_batch {max_batch}", "one_stream_tok_s": round(results[label][0], 1),
                          f"{a.streams}_streams_tok_s": round(results[label][1], 1),
                          "ratio": round(results[label][1] / results[label][0], 2)}))


if __name__ == "__main__":
    main()
