#!/usr/bin/env python3
"""Throughput of `moai data prepare` (read + tokenize + shard, pretrain mode, 2 threads) on the shared
corpora, against the raw encode speed of moai's tokenizer and of HF tokenizers (Rust, npm
@anush008/tokenizers, encodeBatch over all cores) measured in the same run; medians of several runs.

  bench/data_prepare.py [--moai build/moai] [--runs 3] [--langs en,ko,ja,zh]

prepare: `moai data prepare --force --num_threads 2` on one corpus at a time (its own output dir); the
         MB/s it prints excludes loading the tokenizer (also true of both encode figures).
encode:  `moai tokenizer bench --threads 2` and ../shared/peers/bench_encode.mjs hf-rust-batch.
The issue's target: prepare within 80% of the raw 2-thread encode speed. Prints a Markdown table; peak
RSS of prepare is reported so memory can be compared across corpus sizes.
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

from bench_common import HfPeer, parse_common_args
import tempfile



def run(cmd, env=None):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout


def prepare_once(moai, corpus, tok, out):
    # GNU time gives the peak RSS; fall back to none if it is absent.
    timer = ["/usr/bin/time", "-f", "RSS_KB %M"] if os.path.exists("/usr/bin/time") else []
    proc = subprocess.run(timer + [moai, "data", "prepare", "--dataset", corpus, "--tokenizer_path", tok,
                                   "--output_dir", out, "--force", "--num_threads", "2", "--quiet"],
                          check=True, capture_output=True, text=True)
    m = re.search(r"([\d.]+) MB/s, (\d+) tokens/s", proc.stdout)
    rss = re.search(r"RSS_KB (\d+)", proc.stderr)
    return float(m.group(1)), int(m.group(2)), (int(rss.group(1)) / 1024 if rss else None)


def main():
    args = parse_common_args(__doc__, default_runs=3)
    peer = HfPeer(args.shared, "no HF column")
    tok, peer_script, have_peer, env = peer.tokenizer, peer.script, peer.available, peer.env

    rows = []
    work = tempfile.mkdtemp(prefix="moai_data_bench_")
    try:
        for lang in args.langs.split(","):
            corpus = os.path.join(args.shared, "assets", "corpora", lang + ".txt")
            r = {"lang": lang, "MB": os.path.getsize(corpus) / 1e6}
            prep = [prepare_once(args.moai, corpus, tok, os.path.join(work, lang)) for _ in range(args.runs)]
            r["prepare"] = statistics.median(p[0] for p in prep)
            r["tokens_per_s"] = statistics.median(p[1] for p in prep)
            r["rss_MB"] = max((p[2] or 0) for p in prep)
            enc = [json.loads(l) for l in run([args.moai, "tokenizer", "bench", "--tokenizer_path", tok,
                                               "--input_file", corpus, "--threads", "2", "--repeat",
                                               str(args.runs)]).splitlines() if l.startswith("{")]
            r["encode"] = statistics.median(e["MB_per_s"] for e in enc)
            if have_peer:
                hf = [json.loads(run(["node", peer_script, "hf-rust-batch", corpus], env=env).strip().splitlines()[-1])
                      for _ in range(args.runs)]
                r["hf"] = statistics.median(h["MB_per_s"] for h in hf)
            rows.append(r)
            print(json.dumps(r), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("| corpus | MB | prepare MB/s | prepare tokens/s | peak RSS MB | moai encode 2t MB/s | "
          "HF batch MB/s | prepare / moai encode | prepare / HF batch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        hf = r.get("hf")
        print(f"| {r['lang']} | {r['MB']:.2f} | {r['prepare']:.2f} | {r['tokens_per_s']:,} | {r['rss_MB']:.0f} | "
              f"{r['encode']:.2f} | {hf:.2f} | {r['prepare'] / r['encode']:.2f} | "
              f"{(r['prepare'] / hf) if hf else float('nan'):.2f} |" if hf else
              f"| {r['lang']} | {r['MB']:.2f} | {r['prepare']:.2f} | {r['tokens_per_s']:,} | {r['rss_MB']:.0f} | "
              f"{r['encode']:.2f} | - | {r['prepare'] / r['encode']:.2f} | - |")


if __name__ == "__main__":
    main()
