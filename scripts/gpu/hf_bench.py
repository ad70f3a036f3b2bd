#!/usr/bin/env python3
"""Training-step throughput of HF transformers' Qwen3ForCausalLM: the peer that moai_cuda_check bench is
measured against, in the same call on the same GPU.

Setup as the original MOAI-LLM trains: random init, sdpa attention, bf16 weights (the original casts the model to
bf16, no fp32 master copy) or --mode amp (fp32 weights, bf16 autocast), torch.optim.AdamW(fused=True), loss in
fp32 over the full logits. One step = zero_grad, forward, loss, backward, optimizer step; timed with CUDA events
after warm-up. MFU counts the same FLOPs per token as moai's model_stats (6 x matmul parameters incl. the
classifier + 12 x layers x q_dim x seq for attention, no causal halving) against --peak-tflops (989 = H100 SXM
dense bf16). Prints one JSON line in the format of moai_cuda_check bench.
"""
import argparse
import json

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

PRESETS = {
    "0.6b": dict(hidden_size=1024, intermediate_size=3072),
    "1.7b": dict(hidden_size=2048, intermediate_size=6144),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="0.6b", choices=sorted(PRESETS))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seq", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--mode", default="bf16", choices=["bf16", "amp"])
    parser.add_argument("--checkpointing", action="store_true")
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    args = parser.parse_args()

    config = Qwen3Config(vocab_size=151936, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8,
                         head_dim=128, max_position_embeddings=40960, tie_word_embeddings=True,
                         rope_theta=1e6, rms_norm_eps=1e-6, **PRESETS[args.preset])
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config).cuda()
    if args.mode == "bf16":
        model = model.to(torch.bfloat16)
    if args.checkpointing:
        model.gradient_checkpointing_enable()
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    ids = torch.randint(0, config.vocab_size, (args.batch, args.seq), device="cuda")
    labels = torch.randint(0, config.vocab_size, (args.batch, args.seq), device="cuda")

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=args.mode == "amp"):
            logits = model(input_ids=ids).logits
        loss = torch.nn.functional.cross_entropy(logits.float().view(-1, logits.shape[-1]), labels.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(args.steps):
        loss = step()
    end.record()
    torch.cuda.synchronize()
    seconds = start.elapsed_time(end) / 1000.0
    tokens_per_s = args.batch * args.seq * args.steps / seconds
    c = config
    q_dim, kv_dim = c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim
    per_layer = c.hidden_size * (q_dim + 2 * kv_dim) + q_dim * c.hidden_size + 3 * c.hidden_size * c.intermediate_size
    matmul = per_layer * c.num_hidden_layers + c.vocab_size * c.hidden_size
    flops_per_token = 6.0 * matmul + 12.0 * c.num_hidden_layers * q_dim * args.seq
    print(json.dumps({
        "impl": "hf-transformers-" + args.mode, "preset": args.preset, "batch": args.batch, "seq": args.seq,
        "steps": args.steps, "tokens_per_s": round(tokens_per_s, 1),
        "mfu": round(tokens_per_s * flops_per_token / (args.peak_tflops * 1e12), 4),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2), "loss": round(loss.item(), 4),
        "checkpointing": args.checkpointing, "torch": torch.__version__,
        "device": torch.cuda.get_device_name()}))


if __name__ == "__main__":
    main()
