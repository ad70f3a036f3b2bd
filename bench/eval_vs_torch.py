#!/usr/bin/python3
"""Benchmark: hellaswag-format items/s, `moai eval` (context shared per item, batched) vs the PyTorch twin of
tests/eval/make_reference.py scoring one choice at a time (lm-eval's per-request log-likelihood
with the same model, same requests). Both on CPU, fp32, the same thread count.

    /usr/bin/python3 bench/eval_vs_torch.py [--items 40] [--threads 2] [--moai build/moai]
                                            [--baseline OTHER_MOAI]

Model: a random Qwen3 (torch_qwen3_tiny config "a" shape: hidden 256, 4 layers) with the Qwen3
tokenizer (../shared/assets/qwen3, vocab 151669), written as an HF directory in a temp dir.
Items: synthetic hellaswag records (make_reference.py's generator). Needs tests/peers/install.sh
(HF tokenizers through node, for the twin's encodes; not timed).
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/eval"))
import make_reference as mr  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch_size", type=int, default=8)
    ap.add_argument("--moai", default=os.path.join(ROOT, "build/moai"))
    ap.add_argument("--baseline", help="another moai binary timed on the same items (e.g. an older build)")
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    a = ap.parse_args()
    shared = os.path.abspath(a.shared)
    import torch
    sys.path.insert(0, os.path.join(shared, "peers"))
    torch.set_num_threads(a.threads)

    work = tempfile.mkdtemp(prefix="moai_eval_bench.")
    try:
        model_dir = os.path.join(work, "model")
        os.makedirs(model_dir)
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(shared, "assets/qwen3", f), model_dir)
        c = dict(vocab=151669, hidden=256, layers=4, heads=4, kv_heads=2, head_dim=64, ffn=768,
                 theta=1e6, eps=1e-6, tied=True, init_std=0.02)
        model = mr.save_random_model(model_dir, c, 2048)
        rnd = random.Random(3)
        items = mr.make_items(rnd)[("Rowan/hellaswag", "")]["validation"]
        while len(items) < a.items:
            items += mr.make_items(rnd)[("Rowan/hellaswag", "")]["validation"]
        items = items[: a.items]
        ds = os.path.join(work, "datasets/Rowan/hellaswag")
        os.makedirs(ds)
        with open(os.path.join(ds, "validation.jsonl"), "w") as f:
            for r in items:
                f.write(json.dumps(r) + "\n")

        def time_moai(binary):
            cmd = [binary, "eval", "--model_path", model_dir, "--tasks", "hellaswag", "--dataset_path",
                   os.path.join(work, "datasets"), "--threads", str(a.threads), "--batch_size",
                   str(a.batch_size)]
            t0 = time.perf_counter()
            subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
            return time.perf_counter() - t0  # includes loading the model and tokenizer

        moai_s = time_moai(a.moai)
        baseline_s = time_moai(a.baseline) if a.baseline else None

        tok = mr.HFTokenizer(os.path.join(model_dir, "tokenizer.json"))
        docs = [mr.process("hellaswag", d) for d in items]
        texts = []
        for d in docs:
            texts.append(d["text"])
            texts += [d["text"] + " " + ch for ch in d["choices"]]
        tok.prefetch(texts)
        requests = [mr.encode_pair(tok, d["text"], " " + ch) for d in docs for ch in d["choices"]]
        t0 = time.perf_counter()
        for ctx, cont in requests:
            mr.score(model, ctx, cont, 2048)
        torch_s = time.perf_counter() - t0  # forwards only
        res = {"items": a.items, "requests": len(requests), "threads": a.threads,
               "moai_items_per_s": round(a.items / moai_s, 2),
               "torch_items_per_s": round(a.items / torch_s, 2),
               "ratio": round(torch_s / moai_s, 2), "torch": torch.__version__,
               **({"baseline_items_per_s": round(a.items / baseline_s, 2)} if baseline_s else {}),
               "note": "moai time includes model load and tokenization; torch time is forwards only"}
        print(json.dumps(res))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
