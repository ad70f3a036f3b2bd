#!/usr/bin/env python3
"""Encode throughput of moai's tokenizer against HF tokenizers (Rust, npm @anush008/tokenizers) on the
shared corpora, measured in the same run, medians of several runs.

  bench/tokenizer_encode.py [--moai build/moai] [--runs 5] [--langs en,ko,ja,zh] [--tokenizer qwen3]

moai:  `moai tokenizer bench` (cold word cache each run; 1 and 2 threads).
HF:    ../shared/peers/bench_encode.mjs hf-rust-seq (one document at a time) and hf-rust-batch
       (encodeBatch, Rayon over all cores), each run a fresh process. Needs node and the npm package
       (tests/peers/install.sh); without them only moai is measured.
Both split documents on blank lines and encode without special tokens; the FNV-1a hash of all ids is
checked to be equal, so the peers provably did the same work. Prints a Markdown table.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_json_lines(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--moai", default=os.path.join(ROOT, "build", "moai"))
    ap.add_argument("--shared", default=os.environ.get("MOAI_SHARED_DIR", os.path.join(ROOT, "..", "shared")))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--langs", default="en,ko,ja,zh")
    args = ap.parse_args()

    tok = os.path.join(args.shared, "assets", "qwen3", "tokenizer.json")
    peer_script = os.path.join(args.shared, "peers", "bench_encode.mjs")
    node_modules = os.path.join(ROOT, "tests", "peers", "node_modules")
    have_peer = shutil.which("node") and os.path.exists(
        os.path.join(node_modules, "@anush008", "tokenizers", "package.json"))
    env = dict(os.environ, NODE_PATH=node_modules)
    if not have_peer:
        print("note: node or @anush008/tokenizers missing (tests/peers/install.sh); measuring moai only",
              file=sys.stderr)

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
