#!/usr/bin/python3
"""PyTorch side of tests/cli/train_paths.sh (Debian's python3-torch: run with /usr/bin/python3).

The model is ../shared/peers/torch_qwen3_tiny.py (an independent PyTorch Qwen3); the loss formulas
below are written out here from their definitions, not taken from moai.

  init CONFIG OUT [--seed S --init-std X]   random weights -> HF dir OUT (config.json, model.safetensors)
  loss MODEL DATA --seq T --loss NAME ...   first-step loss of a one-window pretrain split (DATA: a
                                            `moai data prepare` dir) or of a one-conversation SFT split
                                            (--sft: mask computed here from the ChatML markers)
  targets DATA TOKENIZER                    number of SFT targets by the ChatML markers (no PyTorch)
  batch OUT --vocab V --seed S              a random [2, 12] input_ids/labels batch for `moai model verify`
  logits MODEL BATCH VERIFY_OUT             max |twin - moai| / max |twin| over the logits
"""
import argparse
import glob
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
torch = F = twin = None  # imported by import_torch(): `targets` runs without PyTorch


def import_torch():
    global torch, F, twin
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.environ.get("MOAI_PEERS_DIR", os.path.join(HERE, "..", "..", "..", "shared", "peers")))
    import torch_qwen3_tiny as twin


DTYPES = {"F32": "float32", "I64": "int64", "I32": "int32", "F64": "float64"}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        data = bytearray(raw[8 + n + a:8 + n + b])
        out[name] = torch.frombuffer(data, dtype=getattr(torch, DTYPES[info["dtype"]])).reshape(info["shape"]).clone()
    return out


def twin_config(hf):
    return dict(vocab=hf["vocab_size"], hidden=hf["hidden_size"], layers=hf["num_hidden_layers"],
                heads=hf["num_attention_heads"], kv_heads=hf["num_key_value_heads"], head_dim=hf["head_dim"],
                ffn=hf["intermediate_size"], eps=hf["rms_norm_eps"], theta=hf["rope_theta"],
                tied=hf.get("tie_word_embeddings", True), init_std=hf.get("initializer_range", 0.02))


def load_model(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        c = twin_config(json.load(f))
    model = twin.Qwen3Tiny(c)
    weights = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    state = {}
    for name, value in weights.items():
        key = name[len("model."):] if name.startswith("model.") else name
        state[key] = value.float()
    if c["tied"]:
        state["lm_head.weight"] = state["embed_tokens.weight"]
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


def cmd_init(a):
    with open(a.config) as f:
        hf = json.load(f)
    c = twin_config(hf)
    c["init_std"] = a.init_std
    torch.manual_seed(a.seed)
    model = twin.Qwen3Tiny(c)
    os.makedirs(a.out, exist_ok=True)
    sd = {twin.hf_name(k): v for k, v in model.state_dict().items() if not (c["tied"] and k == "lm_head.weight")}
    twin.save_safetensors(os.path.join(a.out, "model.safetensors"), sd, {"format": "pt"})
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(dict(hf, torch_dtype="float32"), f, indent=1)


def read_shard(path):
    """tokens and loss mask (None for pretrain) of a token shard (src/moai/data/token_shard.h layout)."""
    with open(path, "rb") as f:
        raw = f.read()
    assert raw[:8] == b"MOAITOKS", path
    version, dtype, flags = struct.unpack("<III", raw[8:20])
    assert version == 2 and dtype == 1, (version, dtype)
    n, d = struct.unpack("<QQ", raw[24:40])
    start = 64 + 8 * (d + 1)
    tokens = list(struct.unpack(f"<{n}I", raw[start:start + 4 * n]))
    return tokens, d


def split_tokens(data_dir):
    shards = sorted(glob.glob(os.path.join(data_dir, "*", "train-*.bin")))
    assert len(shards) == 1, f"expected one train shard under {data_dir}, found {shards}"
    tokens, docs = read_shard(shards[0])
    assert docs == 1, f"expected one document, found {docs}"
    return tokens


def assistant_targets(tokens, vocab):
    """Target mask by the ChatML definition: assistant content and its <|im_end|> (role headers, the
    system/user turns and the newline after <|im_end|> are not targets)."""
    inv = {i: s for s, i in vocab.items()}
    im_start, im_end = vocab["<|im_start|>"], vocab["<|im_end|>"]
    mask = [False] * len(tokens)
    i = 0
    while i < len(tokens):
        if tokens[i] != im_start:
            i += 1
            continue
        j = i + 1
        header = ""
        while "\u010a" not in header:  # byte-level "\n" ends the role line
            header += inv[tokens[j]]
            j += 1
        assert header.endswith("\u010a"), f"role line merged into the content: {header!r}"
        end = tokens.index(im_end, j)
        if header == "assistant\u010a":
            for k in range(j, end + 1):
                mask[k] = True
        i = end + 1
    return mask


def loss_of(logits, targets, a):
    logp = F.log_softmax(logits.double(), dim=-1)
    nll = -logp.gather(1, targets[:, None])[:, 0]
    p = nll.neg().exp()
    V = logits.shape[-1]
    ce = nll
    focal = (1 - p) ** a.gamma * nll
    q = torch.full_like(logp, a.smoothing / (V - 1))
    q.scatter_(1, targets[:, None], 1 - a.smoothing)
    smooth = -(q * logp).sum(-1)
    w = {"cross_entropy": (1, 0, 0), "focal": (0, 1, 0), "label_smoothing": (0, 0, 1),
         "multi_objective": tuple(a.weights)}[a.loss]
    return (w[0] * ce + w[1] * focal + w[2] * smooth).mean().item()


def sft_targets(tokens, tokenizer_json):
    """keep[t]: whether the label of input t (token t + 1) is a training target."""
    with open(tokenizer_json) as f:
        tok = json.load(f)
    vocab = dict(tok["model"]["vocab"])
    for t in tok["added_tokens"]:
        vocab[t["content"]] = t["id"]
    return assistant_targets(tokens, vocab)[1:]


def cmd_targets(a):
    print(sum(sft_targets(split_tokens(a.data), a.tokenizer)))


def cmd_loss(a):
    model = load_model(a.model)
    tokens = split_tokens(a.data)
    assert len(tokens) <= a.seq + 1, f"{len(tokens)} tokens: more than one window of {a.seq}"
    ids = torch.tensor(tokens[:-1])[None]
    targets = torch.tensor(tokens[1:])
    if a.sft:
        keep = torch.tensor(sft_targets(tokens, a.tokenizer))
    else:
        keep = torch.ones(len(tokens) - 1, dtype=torch.bool)
    with torch.no_grad():
        logits, _ = model(ids)
    logits = logits[0]
    result = {"loss": loss_of(logits[keep], targets[keep], a), "targets": int(keep.sum()),
              "all_tokens_loss": loss_of(logits, targets, a)}
    print(json.dumps(result))


def cmd_batch(a):
    g = torch.Generator().manual_seed(a.seed)
    data = torch.randint(0, a.vocab, (2, 13), generator=g)
    twin.save_safetensors(a.out, {"input_ids": data[:, :-1].contiguous(), "labels": data[:, 1:].contiguous()})


def cmd_logits(a):
    model = load_model(a.model)
    ids = read_safetensors(a.batch)["input_ids"]
    moai = read_safetensors(a.verify)["logits"]
    with torch.no_grad():
        ref, _ = model(ids)
    print(json.dumps({"rel_max_diff": ((ref - moai).abs().max() / ref.abs().max()).item(),
                      "max_abs_logit": ref.abs().max().item()}))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("init")
    p.add_argument("config")
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init-std", type=float, default=0.02)
    p = sub.add_parser("loss")
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--seq", type=int, required=True)
    p.add_argument("--loss", default="cross_entropy")
    p.add_argument("--gamma", type=float, default=2.0)
    p.add_argument("--smoothing", type=float, default=0.1)
    p.add_argument("--weights", type=float, nargs=3, default=[0.6, 0.3, 0.1])
    p.add_argument("--sft", action="store_true")
    p.add_argument("--tokenizer", help="tokenizer.json (--sft)")
    p = sub.add_parser("targets")
    p.add_argument("data")
    p.add_argument("tokenizer")
    p = sub.add_parser("batch")
    p.add_argument("out")
    p.add_argument("--vocab", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("logits")
    p.add_argument("model")
    p.add_argument("batch")
    p.add_argument("verify")
    a = ap.parse_args()
    if a.cmd != "targets":
        import_torch()
    {"targets": cmd_targets, "init": cmd_init, "loss": cmd_loss, "batch": cmd_batch, "logits": cmd_logits}[a.cmd](a)


if __name__ == "__main__":
    main()
