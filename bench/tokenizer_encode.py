#!/usr/bin/env python3
"""Encode throughput of moai's tokenizer against HF tokenizers (Rust, npm @anush008/tokenizers) on the
shared corpora, measured in the same run, medians of several runs.

  bench/tokenizer_encode.py [--moai build/moai] [--runs 5] [--langs en,ko,ja,zh]

moai:  `moai tokenizer bench` (cold word cache each run; 1 and 2 threads).
HF:    ../shared/peers/bench_encode.mjs hf-rust-seq (one document at a time) and hf-rust-batch
       (encodeBatch, Rayon over all cores), each run a fresh process. Needs node and the npm package
       (tests/peers/install.sh); without them only moai is measured.
Both split documents on blank lines and encode without special tokens; the FNV-1a hash of all ids is
checked to be equal, so the peers provably did the same work. Prints a Markdown table.
"""
import json
import os
import statistics
import subprocess
import sys

from bench_common import HfPeer, parse_common_args



def run_json_lines(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main():
    args = parse_common_args(__doc__, default_runs=5)
    peer = HfPeer(args.shared, "measuring moai only")
    tok, peer_script, have_peer, env = peer.tokenizer, peer.script, peer.available, peer.env

    rows = []
    for lang in args.langs.split(","):
        corpus = os.path.join(args.shared, "assets", "corpora", lang + ".txt")
        result = {"lang": lang}
        for threads in (1, 2):
            runs = run_json_lines([args.moai, "tokenizer", "bench", "--tokenizer_path", tok,
                                   "--input_file", corpus, "--threads", str(threads),
                                   "--repeat", str(args.runs)])
            result[f"moai{threads}"] = statistics.median(r["MB_per_s"] for r in runs)
            result["fnv"] = runs[0]["fnv"]
            result["MB"] = runs[0]["MB"]
        if have_peer:
            for impl in ("hf-rust-seq", "hf-rust-batch"):
                runs = []
                for _ in range(args.runs):
                    runs += run_json_lines(["node", peer_script, impl, corpus], env=env)
                if any(r["fnv"] != result["fnv"] for r in runs):
                    sys.exit(f"{impl} on {lang}: ids differ from moai's (fnv {runs[0]['fnv']} vs {result['fnv']})")
                result[impl] = statistics.median(r["MB_per_s"] for r in runs)
        rows.append(result)
        print(json.dumps(result), file=sys.stderr)

    print(f"| corpus | MB | moai 1 thread | moai 2 threads | HF seq | HF batch (2 threads) | "
          f"moai 1t / HF seq | moai 2t / HF batch |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        hs, hb = r.get("hf-rust-seq"), r.get("hf-rust-batch")
        fmt = lambda v: f"{v:.2f}" if v else "-"
        ratio = lambda a, b: f"{a / b:.1f}x" if b else "-"
        print(f"| {r['lang']} | {r['MB']:.2f} | {r['moai1']:.2f} | {r['moai2']:.2f} | {fmt(hs)} | {fmt(hb)} | "
              f"{ratio(r['moai1'], hs)} | {ratio(r['moai2'], hb)} |")


if __name__ == "__main__":
    main()
