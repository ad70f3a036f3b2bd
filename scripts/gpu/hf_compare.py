#!/usr/bin/env python3
"""moai (CUDA backend) against HF transformers' Qwen3ForCausalLM on the same random weights and batch.

Runs ON the GPU machine (PyTorch + transformers there). For each config: build a random Qwen3 model in
transformers (fp32), save it as an HF directory, compute logits, loss and every parameter gradient in fp32 with
TF32 off (the reference), and again in bf16 (how far plain bf16 lands from the reference: the scale of error a
bf16 mixed-precision implementation is allowed). Then run `moai_cuda_check hf-forward` on the same directory
and batch, and compare. A tensor passes when its relative error ||moai - ref|| / ||ref|| is at most
max(2 x the bf16 error, floor), has no NaN, and has the reference's shape.

usage: hf_compare.py --bin path/to/moai_cuda_check --work DIR [--device cuda|cpu]
"""
import argparse
import copy
import json
import math
import os
import subprocess
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import Qwen3Config, Qwen3ForCausalLM

CONFIGS = {
    # name: (config kwargs, batch, seq)
    "tiny_tied": (dict(vocab_size=512, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=16, tie_word_embeddings=True), 2, 48),
    "qwen3_like_untied": (dict(vocab_size=4096, hidden_size=256, intermediate_size=704, num_hidden_layers=3,
                               num_attention_heads=4, num_key_value_heads=2, head_dim=128,
                               tie_word_embeddings=False), 2, 200),
}
FLOOR = 2e-3  # below this, differences are TF32 rounding in the matmuls


def rel_err(got, want):
    got, want = got.double(), want.double()
    if torch.isnan(got).any():
        return math.inf
    return (got - want).norm().item() / max(want.norm().item(), 1e-30)


def hf_outputs(model, ids, labels, dtype):
    model = copy.deepcopy(model).to(dtype)  # a copy: casting in place would round the reference weights
    model.zero_grad(set_to_none=True)
    logits = model(input_ids=ids).logits.float()
    loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)
    loss.backward()
    grads = {name: p.grad.float().clone() for name, p in model.named_parameters()}
    return logits.detach(), loss.detach(), grads


def run_config(name, kwargs, batch, seq, args):
    torch.manual_seed(1234)
    config = Qwen3Config(max_position_embeddings=4096, rope_theta=1e6, rms_norm_eps=1e-6,
                         attention_bias=False, initializer_range=0.1, **kwargs)
    config._attn_implementation = "sdpa"
    model = Qwen3ForCausalLM(config).cuda().float()
    with torch.no_grad():  # norms away from 1 so that they matter
        for pname, p in model.named_parameters():
            if pname.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
    model_dir = os.path.join(args.work, name)
    model.save_pretrained(model_dir)  # safetensors (the default; transformers 5 dropped the flag)
    # transformers 5 may write RoPE settings only under "rope_parameters"; moai's parser reads the classic
    # top-level "rope_theta" (same value either way here, written explicitly so the check does not depend on it).
    config_path = os.path.join(model_dir, "config.json")
    with open(config_path) as f:
        saved = json.load(f)
    saved.setdefault("rope_theta", (saved.get("rope_parameters") or {}).get("rope_theta", 1e6))
    saved.setdefault("head_dim", kwargs["head_dim"])
    with open(config_path, "w") as f:
        json.dump(saved, f, indent=1)
    ids = torch.randint(0, config.vocab_size, (batch, seq), device="cuda")
    labels = torch.roll(ids, -1, dims=1)
    labels[:, -1] = -100
    labels[torch.rand(labels.shape, device="cuda") < 0.1] = -100
    io_path = os.path.join(args.work, name + ".io.safetensors")
    save_file({"input_ids": ids.cpu().long(), "labels": labels.cpu().long()}, io_path)

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    ref_logits, ref_loss, ref_grads = hf_outputs(model, ids, labels, torch.float32)
    bf_logits, bf_loss, bf_grads = hf_outputs(model, ids, labels, torch.bfloat16)

    out_path = os.path.join(args.work, name + ".moai.safetensors")
    subprocess.run([args.bin, "hf-forward", "--model", model_dir, "--batch", io_path, "--out", out_path,
                    "--device", args.device], check=True)
    ours = load_file(out_path)
    rows = []

    def check(label, got, want, bf):
        if got is None or tuple(got.shape) != tuple(want.shape):
            rows.append((label, math.inf, 0.0, 0.0, False, "missing or shape %s vs %s" % (
                None if got is None else tuple(got.shape), tuple(want.shape))))
            return
        err, bf_err = rel_err(got, want.cpu()), rel_err(bf.cpu(), want.cpu())
        tol = max(2 * bf_err, FLOOR)
        rows.append((label, err, bf_err, tol, err <= tol, ""))

    check("loss", ours.get("loss").reshape(()), ref_loss.reshape(()), bf_loss.reshape(()))
    check("logits", ours.get("logits"), ref_logits, bf_logits)
    for pname, g in ref_grads.items():
        check("grad." + pname, ours.get("grad." + pname), g, bf_grads[pname])
    failed = [r for r in rows if not r[4]]
    print("== %s (batch %d x seq %d): loss moai %.6f  hf-fp32 %.6f  hf-bf16 %.6f" % (
        name, batch, seq, ours["loss"].item(), ref_loss.item(), bf_loss.item()))
    width = max(len(r[0]) for r in rows)
    for label, err, bf_err, tol, ok, note in rows:
        if not ok or label in ("loss", "logits") or args.verbose:
            print("  %-*s  moai %.2e  bf16 %.2e  tol %.2e  %s %s" % (width, label, err, bf_err, tol,
                                                                   "ok" if ok else "FAIL", note))
    worst = max(rows, key=lambda r: r[1] / max(r[3], 1e-30))
    print("  %d tensors, %d failed; worst (relative to tolerance): %s %.2e (tol %.2e)" % (
        len(rows), len(failed), worst[0], worst[1], worst[3]))
    return {"config": name, "tensors": len(rows), "failed": len(failed),
            "loss": {"moai": ours["loss"].item(), "hf_fp32": ref_loss.item(), "hf_bf16": bf_loss.item()},
            "errors": {r[0]: [r[1], r[2], r[3]] for r in rows}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--json", default="")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    results = [run_config(name, *spec, args) for name, spec in CONFIGS.items()]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    failed = sum(r["failed"] for r in results)
    print("hf-compare: %s" % ("OK" if failed == 0 else "FAILED (%d tensors)" % failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
