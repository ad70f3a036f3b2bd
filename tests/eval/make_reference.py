#!/usr/bin/python3
"""Reference twin for tests/eval: lm-evaluation-harness v0.4.9.2 scoring re-done in plain Python +
PyTorch on synthetic items, written to JSON so the C++ tests run without either.

Run from the repository root with Debian's python3-torch (use /usr/bin/python3) after
tests/peers/install.sh (HF tokenizers through npm, for training the tiny tokenizer and for every
encode):
    /usr/bin/python3 tests/eval/make_reference.py [--shared ../shared]

Writes tests/eval/data/:
  tiny_model/      HF dir: config.json, model.safetensors (random tiny Qwen3), tokenizer.json,
                   tokenizer_config.json (byte-level BPE trained on the items, + <|endoftext|>)
  datasets/<hub repo>/[<config>/]<split>.jsonl   synthetic items in each task's Hub schema
  reference.json   per run (num_fewshot), task and document: the requests (context,
                   continuation), their token ids (_encode_pair), every log-likelihood and
                   is_greedy, acc/acc_norm/f1 items; per task the aggregated metrics and stderrs;
                   group aggregates (size-weighted mean, pooled stderr) over the tasks present
  py_random.json   random.Random(seed).sample(range(n), k) sequences (plain Python)

Everything the harness does is re-implemented here from its source (task yaml/utils.py,
api/task.py, api/samplers.py, api/model.py _encode_pair, models/huggingface.py, utils.py rolling
windows, api/metrics.py), one request at a time (the "twin scoring one choice at a time").
No harness or dataset text is copied: items are synthetic.
"""
import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "data")

EN = ("the a cat dog man woman child runs jumps walks sits stands quickly slowly red blue green "
      "house car tree river mountain ball book table chair water fire stone paper window door "
      "kitchen garden opens closes picks puts takes gives finds holds throws catches").split()
KO = ("고양이 강아지 사람 아이 집 자동차 나무 강 산 공 책 물 불 돌 종이 창문 문 부엌 정원 "
      "달린다 걷는다 앉는다 먹는다 본다 연다 닫는다 빠르게 천천히 빨간 파란").split()


def words(rnd, pool, n):
    return " ".join(rnd.choice(pool) for _ in range(n))


def sentence(rnd, pool, n):
    return words(rnd, pool, n) + "."


# ---------------------------------------------------------------- synthetic items (Hub schemas)
def make_items(rnd):
    ds = {}  # (repo, config) -> {split: [records]}

    def hellaswag(n):
        out = []
        for i in range(n):
            ctx_b = words(rnd, EN, 3)
            if i % 3 == 0:
                ctx_b = ctx_b.upper()  # capitalize() lower-cases the rest
            ctx_a = sentence(rnd, EN, 5) + (" [header] Step one" if i % 4 == 1 else "")
            endings = [words(rnd, EN, rnd.randint(2, 6)) + ("  [title] more" if i % 2 else "")
                       for _ in range(4)]
            out.append({"ind": i, "activity_label": words(rnd, EN, 2).title(), "ctx_a": ctx_a,
                        "ctx_b": ctx_b, "ctx": ctx_a + " " + ctx_b, "endings": endings,
                        "source_id": "synthetic", "split": "val", "split_type": "indomain",
                        "label": str(rnd.randint(0, 3))})
        return out

    ds[("Rowan/hellaswag", "")] = {"validation": hellaswag(8), "train": hellaswag(6)}

    def arc(n, numeric):
        out = []
        for i in range(n):
            k = 4 if i % 3 else 3
            labels = [str(j + 1) for j in range(k)] if numeric and i % 2 else list("ABCD"[:k])
            out.append({"id": f"syn-{i}", "question": words(rnd, EN, 6) + "?",
                        "choices": {"text": [words(rnd, EN, rnd.randint(1, 4)) for _ in range(k)],
                                    "label": labels},
                        "answerKey": rnd.choice(labels)})
        return out

    ds[("allenai/ai2_arc", "ARC-Easy")] = {"test": arc(6, False), "train": arc(5, False)}
    ds[("allenai/ai2_arc", "ARC-Challenge")] = {"test": arc(5, True), "train": arc(4, True)}

    def piqa(n):
        return [{"goal": words(rnd, EN, 5), "sol1": words(rnd, EN, rnd.randint(2, 7)),
                 "sol2": words(rnd, EN, rnd.randint(2, 7)), "label": rnd.randint(0, 1)}
                for _ in range(n)]

    ds[("baber/piqa", "")] = {"validation": piqa(6), "train": piqa(5)}

    def mmlu(subject, n):
        return [{"question": "  " + words(rnd, EN, 6) + "? ", "subject": subject,
                 "choices": [words(rnd, EN, rnd.randint(1, 3)) for _ in range(4)],
                 "answer": rnd.randint(0, 3)} for _ in range(n)]

    for subject in ("abstract_algebra", "world_religions"):
        ds[("cais/mmlu", subject)] = {"test": mmlu(subject, 4), "dev": mmlu(subject, 3)}

    def kmmlu(n):
        return [{"question": words(rnd, KO, 5) + "? ", "answer": rnd.randint(1, 4),
                 "A": words(rnd, KO, 2), "B": words(rnd, KO, 2), "C": words(rnd, KO, 2),
                 "D": words(rnd, KO, 2), "Category": "Accounting", "Human Accuracy": 0.5}
                for _ in range(n)]

    ds[("HAERAE-HUB/KMMLU", "Accounting")] = {"test": kmmlu(4), "dev": kmmlu(3)}

    def kobest(config, n):
        out = []
        for i in range(n):
            if config == "boolq":
                out.append({"paragraph": sentence(rnd, KO, 6), "question": words(rnd, KO, 3) + "?",
                            "label": rnd.randint(0, 1)})
            elif config == "copa":
                out.append({"premise": sentence(rnd, KO, 4), "question": ["원인", "결과"][i % 2],
                            "alternative_1": sentence(rnd, KO, 3),
                            "alternative_2": sentence(rnd, KO, 3), "label": rnd.randint(0, 1)})
            elif config == "hellaswag":
                d = {"context": sentence(rnd, KO, 5), "label": rnd.randint(0, 3)}
                for j in range(1, 5):
                    d[f"ending_{j}"] = words(rnd, KO, rnd.randint(1, 4))
                out.append(d)
            elif config == "sentineg":
                out.append({"sentence": sentence(rnd, KO, 5), "label": rnd.randint(0, 1)})
            elif config == "wic":
                w = rnd.choice(KO)
                out.append({"word": w, "context_1": words(rnd, KO, 3) + " " + w,
                            "context_2": w + " " + words(rnd, KO, 3), "label": rnd.randint(0, 1)})
        return out

    for config in ("boolq", "copa", "hellaswag", "sentineg", "wic"):
        ds[("skt/kobest_v1", config)] = {"test": kobest(config, 5), "train": kobest(config, 3)}

    def wiki_page(paragraphs):
        lines = [" = " + words(rnd, EN, 2).title() + " = ", ""]
        for p in range(paragraphs):
            lines.append(" = = Part " + str(p) + " = = ")
            body = []
            for _ in range(4):
                body.append(words(rnd, EN, 6) + " , " + str(rnd.randint(1, 99)) + " @,@ 000 ( "
                            + words(rnd, EN, 2) + " ) \" " + words(rnd, EN, 2) + " \" . ")
            lines.append(" " + " ".join(body) + "the cats ' ball 1 @.@ 5 km ; N of 3 @-@ 4 's .")
            lines.append("")
        return "\n".join(lines) + "\n"

    ds[("EleutherAI/wikitext_document_level", "wikitext-2-raw-v1")] = {
        "test": [{"page": wiki_page(5)}, {"page": wiki_page(1)}], "train": [{"page": wiki_page(1)}]}
    return ds


def write_datasets(ds):
    for (repo, config), splits in ds.items():
        d = os.path.join(OUT, "datasets", repo, config)
        os.makedirs(d, exist_ok=True)
        for split, records in splits.items():
            with open(os.path.join(d, split + ".jsonl"), "w", encoding="utf-8") as f:
                for r in records:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- HF tokenizers through node
class HFTokenizer:
    def __init__(self, path):
        self.path = path
        self.cache = {}

    def prefetch(self, texts):
        todo = sorted({t for t in texts if t not in self.cache})
        if not todo:
            return
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"texts": todo, "add_special_tokens": False}, f)
            req = f.name
        out = subprocess.check_output(["node", os.path.join(ROOT, "tests/peers/hf_encode.mjs"),
                                       self.path, req])
        os.unlink(req)
        for t, ids in zip(todo, json.loads(out)["ids"]):
            self.cache[t] = ids

    def encode(self, text):
        if text not in self.cache:
            self.prefetch([text])
        return self.cache[text]


def train_tokenizer(ds, model_dir):
    corpus = []
    for splits in ds.values():
        for records in splits.values():
            for r in records:
                corpus.append(json.dumps(r, ensure_ascii=False))
    corpus.append("".join(chr(c) for c in range(32, 127)) + " 정답： 질문 답변 문장 긍부정 왜냐하면 그래서 "
                  "두 문장에서 가 같은 뜻으로 쓰였나 아니오 예 부정 긍정 ° :\n\t")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(corpus) * 3)
        corpus_file = f.name
    tok_file = os.path.join(model_dir, "tokenizer.json")
    env = dict(os.environ, NODE_PATH=os.path.join(ROOT, "tests/peers/node_modules"))
    subprocess.check_call(["node", os.path.join(SHARED, "peers/train_bpe.mjs"), tok_file,
                           corpus_file], stdout=subprocess.DEVNULL, env=env)
    os.unlink(corpus_file)
    with open(tok_file, encoding="utf-8") as f:
        tj = json.load(f)
    vocab = len(tj["model"]["vocab"])
    tj["added_tokens"] = [{"id": vocab, "content": "<|endoftext|>", "single_word": False,
                           "lstrip": False, "rstrip": False, "normalized": False, "special": True}]
    with open(tok_file, "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(model_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"eos_token": "<|endoftext|>", "bos_token": None, "pad_token": "<|endoftext|>",
                   "add_bos_token": False, "model_max_length": 64}, f, indent=1)
    return vocab + 1, vocab  # vocab size, eos id


# ---------------------------------------------------------------- tasks (harness semantics)
def preprocess_hellaswag(text):
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    text = text.replace("  ", " ")
    return text


def detok_wikitext(string):
    string = string.replace("s '", "s'")
    string = re.sub(r"/' [0-9]/", r"/'[0-9]/", string)
    string = string.replace(" @-@ ", "-")
    string = string.replace(" @,@ ", ",")
    string = string.replace(" @.@ ", ".")
    string = string.replace(" : ", ": ")
    string = string.replace(" ; ", "; ")
    string = string.replace(" . ", ". ")
    string = string.replace(" ! ", "! ")
    string = string.replace(" ? ", "? ")
    string = string.replace(" , ", ", ")
    string = re.sub(r"\(\s*([^\)]*?)\s*\)", r"(\1)", string)
    string = re.sub(r"\[\s*([^\]]*?)\s*\]", r"[\1]", string)
    string = re.sub(r"{\s*([^}]*?)\s*}", r"{\1}", string)
    string = re.sub(r"\"\s*([^\"]*?)\s*\"", r'"\1"', string)
    string = re.sub(r"'\s*([^']*?)\s*'", r"'\1'", string)
    string = string.replace("= = = =", "====")
    string = string.replace("= = =", "===")
    string = string.replace("= =", "==")
    string = string.replace(" " + chr(176) + " ", chr(176))
    string = string.replace(" \n", "\n")
    string = string.replace("\n ", "\n")
    string = string.replace(" N ", " 1 ")
    string = string.replace(" 's", "'s")
    return string


def mc(doc, text, choices, gold):
    return {"doc": doc, "text": text, "choices": choices, "gold": gold}


def process(fmt, d):
    if fmt == "hellaswag":
        ctx = d["ctx_a"] + " " + d["ctx_b"].capitalize()
        return mc(d, preprocess_hellaswag(d["activity_label"] + ": " + ctx),
                  [preprocess_hellaswag(e) for e in d["endings"]], int(d["label"]))
    if fmt == "arc":
        return mc(d, "Question: " + d["question"] + "\nAnswer:", d["choices"]["text"],
                  d["choices"]["label"].index(d["answerKey"]))
    if fmt == "piqa":
        return mc(d, "Question: " + d["goal"] + "\nAnswer:", [d["sol1"], d["sol2"]], d["label"])
    if fmt == "mmlu":
        c = d["choices"]
        return mc(d, f"{d['question'].strip()}\nA. {c[0]}\nB. {c[1]}\nC. {c[2]}\nD. {c[3]}\nAnswer:",
                  ["A", "B", "C", "D"], d["answer"])
    if fmt == "kmmlu":
        return mc(d, f"{d['question'].strip()}\nA. {d['A']}\nB. {d['B']}\nC. {d['C']}\nD. {d['D']}\n정답：",
                  ["A", "B", "C", "D"], d["answer"] - 1)
    if fmt == "kobest_boolq":
        return mc(d, f"{d['paragraph']} 질문: {d['question']} 답변: ", ["아니오", "예"], d["label"])
    if fmt == "kobest_copa":
        connector = {"원인": " 왜냐하면", "결과": " 그래서"}[d["question"].strip()]
        choices = [d["alternative_1"], d["alternative_2"]]
        target = d["alternative_1"] if d["label"] == 0 else d["alternative_2"]
        return mc(d, f"{d['premise']} {connector}", choices, choices.index(target))
    if fmt == "kobest_hellaswag":
        return mc(d, f"문장: {d['context']}", [d[f"ending_{j}"] for j in range(1, 5)], d["label"])
    if fmt == "kobest_sentineg":
        return mc(d, f"문장: {d['sentence']} 긍부정:", ["부정", "긍정"], d["label"])
    if fmt == "kobest_wic":
        return mc(d, f"문장1: {d['context_1']} 문장2: {d['context_2']} 두 문장에서 {d['word']}가 같은 뜻으로 쓰였나?",
                  ["아니오", "예"], d["label"])
    if fmt == "wikitext":
        return {"doc": d, "target": detok_wikitext(d["page"]),
                "words": len(re.split(r"\s+", d["page"])), "bytes": len(d["page"].encode("utf-8"))}
    raise ValueError(fmt)


# name, format, (repo, config), eval split, fewshot split, extra draw, first_n, description, metrics
TASKS = [
    ("hellaswag", "hellaswag", ("Rowan/hellaswag", ""), "validation", "train", True, False, "", ["acc", "acc_norm"]),
    ("arc_easy", "arc", ("allenai/ai2_arc", "ARC-Easy"), "test", "train", False, False, "", ["acc", "acc_norm"]),
    ("arc_challenge", "arc", ("allenai/ai2_arc", "ARC-Challenge"), "test", "train", False, False, "", ["acc", "acc_norm"]),
    ("piqa", "piqa", ("baber/piqa", ""), "validation", "train", True, False, "", ["acc", "acc_norm"]),
    ("mmlu_abstract_algebra", "mmlu", ("cais/mmlu", "abstract_algebra"), "test", "dev", False, True,
     "The following are multiple choice questions (with answers) about abstract algebra.\n\n", ["acc"]),
    ("mmlu_world_religions", "mmlu", ("cais/mmlu", "world_religions"), "test", "dev", False, True,
     "The following are multiple choice questions (with answers) about world religions.\n\n", ["acc"]),
    ("kmmlu_accounting", "kmmlu", ("HAERAE-HUB/KMMLU", "Accounting"), "test", "dev", False, False, "", ["acc"]),
    ("kobest_boolq", "kobest_boolq", ("skt/kobest_v1", "boolq"), "test", "train", False, False, "", ["acc", "f1"]),
    ("kobest_copa", "kobest_copa", ("skt/kobest_v1", "copa"), "test", "train", False, False, "", ["acc", "f1"]),
    ("kobest_hellaswag", "kobest_hellaswag", ("skt/kobest_v1", "hellaswag"), "test", "train", False, False, "", ["acc", "acc_norm", "f1"]),
    ("kobest_sentineg", "kobest_sentineg", ("skt/kobest_v1", "sentineg"), "test", "train", False, False, "", ["acc", "f1"]),
    ("kobest_wic", "kobest_wic", ("skt/kobest_v1", "wic"), "test", "train", False, False, "", ["acc", "f1"]),
    ("wikitext", "wikitext", ("EleutherAI/wikitext_document_level", "wikitext-2-raw-v1"), "test", "train", False, False, "",
     ["word_perplexity", "byte_perplexity", "bits_per_byte"]),
]


def fewshot_context(task, doc, fewshot_docs, k, rnd):
    name, fmt, _, _, _, extra, first_n, description, _ = task
    labeled = description
    if k > 0:
        n = k + 1 if extra else k
        picked = fewshot_docs[:n] if first_n else rnd.sample(fewshot_docs, n)
        picked = [x for x in picked if x["doc"] != doc["doc"]][:k]
        for ex in picked:
            labeled += ex["text"] + " " + ex["choices"][ex["gold"]] + "\n\n"
    return labeled + doc["text"]


def encode_pair(tok, context, continuation):
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = tok.encode(context + continuation)
    ctx = tok.encode(context)
    return ctx, whole[len(ctx):]


def rolling_windows(tokens, prefix, max_len):
    # utils.get_rolling_token_windows(context_len=1) + make_disjoint_window
    out = []
    if not tokens:
        return out
    pred_len = max_len
    first = min(max_len, len(tokens))
    a, b = [prefix] + tokens[: first - 1], tokens[:first]
    out.append((a[: len(a) - (len(b) - 1)], b))
    predicted = first
    while predicted < len(tokens):
        wpl = min(len(tokens) - predicted, pred_len)
        end = predicted + wpl
        a, b = tokens[end - max_len - 1: end - 1], tokens[end - wpl: end]
        out.append((a[: len(a) - (len(b) - 1)], b))
        predicted += wpl
    return out


def score(model, ctx, cont, max_len):
    import torch
    inp = (ctx + cont)[-(max_len + 1):][:-1]
    with torch.no_grad():
        logits, _ = model(torch.tensor([inp]))
        lp = torch.log_softmax(logits[0, len(inp) - len(cont):].double(), dim=-1)
    target = torch.tensor(cont)
    ll = float(lp.gather(1, target[:, None]).sum())
    greedy = bool((lp.argmax(-1) == target).all())
    return ll, greedy


def hf_decode(tok, ids_list):
    """decode(ids, skip_special_tokens=True) of each, by HF tokenizers."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"texts": [], "add_special_tokens": False, "decode": ids_list}, f)
        req = f.name
    out = subprocess.check_output(["node", os.path.join(ROOT, "tests/peers/hf_encode.mjs"), tok.path, req])
    os.unlink(req)
    return json.loads(out)["decoded_skip_special"]


def greedy_tokens(model, context_enc, max_gen_toks, eos):
    """HF greedy generate (do_sample=False): first arg-max, at most max_gen_toks, ends at EOS."""
    import torch
    ids, gen = list(context_enc), []
    with torch.no_grad():
        for _ in range(max_gen_toks):
            logits, _ = model(torch.tensor([ids]))
            nxt = int(torch.argmax(logits[0, -1]))
            gen.append(nxt)
            ids.append(nxt)
            if nxt == eos:
                break
    return gen


def generation_reference(ds, tok, model, eos, max_len):
    """lm-eval's generate_until (HFLM.generate_until): context cut on the left to max_length -
    max_gen_toks, greedy tokens, decode(skip_special_tokens=True), then s = s.split(term)[0] for each
    term of until + [decode(eot)]. The stop string of the second request of each prompt is taken from
    the middle of the first's output, so that the cut is exercised."""
    prompts = [preprocess_hellaswag(d["ctx_a"]) for d in ds[("Rowan/hellaswag", "")]["validation"][:3]]
    prompts.append(" ".join(prompts) * 3)  # longer than max_length - max_gen_toks: left cut
    cases = []
    for i, p in enumerate(prompts):
        max_gen_toks = 12 if i % 2 else 20
        enc = tok.encode(p)[-(max_len - max_gen_toks):]
        cases.append({"context": p, "max_gen_toks": max_gen_toks, "context_enc": enc,
                      "tokens": greedy_tokens(model, enc, max_gen_toks, eos)})
    texts = hf_decode(tok, [c["tokens"] for c in cases])
    eot_text = "<|endoftext|>"
    out = []
    for c, text in zip(cases, texts):
        mid = len(text) // 2
        for until in ([], [text[mid:mid + 2]] if text[mid:mid + 2].strip() else ["\n\n"]):
            cut = text
            for term in until + [eot_text]:
                if term:
                    cut = cut.split(term)[0]
            out.append(dict(c, until=until, text=cut))
    return out


def mean_stderr(xs):
    if len(xs) < 2:
        return None
    mu = sum(xs) / len(xs)
    return math.sqrt(sum((x - mu) ** 2 for x in xs) / (len(xs) - 1)) / math.sqrt(len(xs))


def macro_f1(golds, preds):
    labels = sorted(set(golds) | set(preds))
    total = 0.0
    for lab in labels:
        tp = sum(1 for g, p in zip(golds, preds) if g == lab and p == lab)
        fp = sum(1 for g, p in zip(golds, preds) if g != lab and p == lab)
        fn = sum(1 for g, p in zip(golds, preds) if g == lab and p != lab)
        total += 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0
    return total / len(labels)


def run_task(task, ds, tok, model, eos, max_len, k):
    name, fmt, key, eval_split, fs_split, _, _, _, metrics = task
    docs = [process(fmt, d) for d in ds[key][eval_split]]
    fewshot = [process(fmt, d) for d in ds[key][fs_split]]
    rnd = random.Random(1234)
    out_docs, acc, acc_norm, golds, preds, lls_doc, words_, bytes_ = [], [], [], [], [], [], [], []
    if fmt != "wikitext":  # contexts first (same sampler order), then one batched encode
        contexts = [fewshot_context(task, doc, fewshot, k, rnd) for doc in docs]
        texts = []
        for ctx, doc in zip(contexts, docs):
            kept = ctx.rstrip()
            texts.append(kept)
            texts += [kept + ctx[len(kept):] + " " + ch for ch in doc["choices"]]
        tok.prefetch(texts)
    for doc_id, doc in enumerate(docs):
        if fmt == "wikitext":
            tokens = tok.encode(doc["target"])
            windows = rolling_windows(tokens, eos, max_len)
            ll = sum(score(model, c, t, max_len)[0] for c, t in windows)
            out_docs.append({"doc_id": doc_id, "target": doc["target"], "windows": len(windows),
                             "tokens": len(tokens), "loglikelihood": ll,
                             "words": doc["words"], "bytes": doc["bytes"]})
            lls_doc.append(ll)
            words_.append(doc["words"])
            bytes_.append(doc["bytes"])
            continue
        ctx = contexts[doc_id]
        args, encs, lls, greedy = [], [], [], []
        for choice in doc["choices"]:
            c_enc, t_enc = encode_pair(tok, ctx, " " + choice)
            ll, g = score(model, c_enc, t_enc, max_len)
            args.append([ctx, " " + choice])
            encs.append([c_enc, t_enc])
            lls.append(ll)
            greedy.append(g)
        pred = max(range(len(lls)), key=lambda i: (lls[i], -i))
        norm = [ll / float(len(c)) for ll, c in zip(lls, doc["choices"])]
        pred_norm = max(range(len(norm)), key=lambda i: (norm[i], -i))
        rec = {"doc_id": doc_id, "arguments": args, "encodings": encs, "lls": lls,
               "is_greedy": greedy, "gold": doc["gold"], "pred": pred, "pred_norm": pred_norm,
               "acc": 1.0 if pred == doc["gold"] else 0.0,
               "acc_norm": 1.0 if pred_norm == doc["gold"] else 0.0}
        out_docs.append(rec)
        acc.append(rec["acc"])
        acc_norm.append(rec["acc_norm"])
        golds.append(doc["gold"])
        preds.append(pred)
    res = {}
    for m in metrics:
        if m == "acc":
            res[m] = [sum(acc) / len(acc), mean_stderr(acc)]
        elif m == "acc_norm":
            res[m] = [sum(acc_norm) / len(acc_norm), mean_stderr(acc_norm)]
        elif m == "f1":
            res[m] = [macro_f1(golds, preds), None]
        elif m == "word_perplexity":
            res[m] = [math.exp(-sum(lls_doc) / sum(words_)), None]
        elif m == "byte_perplexity":
            res[m] = [math.exp(-sum(lls_doc) / sum(bytes_)), None]
        elif m == "bits_per_byte":
            res[m] = [-sum(lls_doc) / sum(bytes_) / math.log(2), None]
    return {"docs": out_docs, "metrics": res, "samples": len(docs)}


def group(tasks_out, members, metrics):
    out = {}
    for m in metrics:
        vals = [(tasks_out[t]["metrics"][m], tasks_out[t]["samples"]) for t in members
                if m in tasks_out[t]["metrics"]]
        sizes = [s for _, s in vals]
        value = sum(v[0] * s for v, s in vals) / sum(sizes)
        stderrs = [v[1] for v, _ in vals]
        if any(s is None for s in stderrs):
            se = None
        else:
            pooled = sum((s - 1) * e ** 2 * s for s, e in zip(sizes, stderrs)) / (sum(sizes) - len(sizes))
            se = math.sqrt(pooled / sum(sizes))
        out[m] = [value, se]
    return out


def add_greedy_items(ds, model, tok, tok_file):
    """hellaswag items whose gold ending is the model's greedy next word (a random model is rarely
    greedy on random text; these make is_greedy true somewhere)."""
    import torch
    with open(tok_file, encoding="utf-8") as f:
        id_to_tok = {v: k for k, v in json.load(f)["model"]["vocab"].items()}
    rnd = random.Random(11)
    added = 0
    while added < 2:
        cands = []
        for _ in range(40):
            d = {"ind": 100 + added, "activity_label": words(rnd, EN, 2).title(),
                 "ctx_a": sentence(rnd, EN, 5), "ctx_b": words(rnd, EN, 3), "source_id": "synthetic",
                 "split": "val", "split_type": "indomain",
                 "endings": [words(rnd, EN, 2) for _ in range(4)], "label": "0"}
            d["ctx"] = d["ctx_a"] + " " + d["ctx_b"]
            cands.append(d)
        queries = [process("hellaswag", d)["text"] for d in cands]
        tok.prefetch(queries)
        for d, q in zip(cands, queries):
            ids = tok.encode(q)
            with torch.no_grad():
                logits, _ = model(torch.tensor([ids]))
            word = id_to_tok[int(logits[0, -1].argmax())]
            if re.fullmatch("\u0120[a-z]+", word) and added < 2:
                d["endings"][0] = word[1:]
                ds[("Rowan/hellaswag", "")]["validation"].append(d)
                added += 1


def py_random_cases():
    cases = []
    for seed, draws in ((1234, [(40, 3), (40, 3), (5, 5), (1000, 7), (100000, 10), (3, 1)]),
                        (0, [(10, 4), (70000, 30)]), (2 ** 40 + 5, [(50, 6)])):
        rnd = random.Random(seed)
        cases.append({"seed": seed, "draws": [{"n": n, "k": k, "indices": rnd.sample(range(n), k)}
                                              for n, k in draws]})
    return cases



def save_random_model(model_dir, c, max_len):
    """A seeded random tied Qwen3Tiny saved as an HF directory (safetensors + config.json).
    The caller has put ../shared/peers on sys.path."""
    import torch
    import torch_qwen3_tiny as tq
    torch.manual_seed(0)
    model = tq.Qwen3Tiny(c).eval()
    weights = {tq.hf_name(k): v.detach().clone() for k, v in model.state_dict().items()
               if k != "lm_head.weight"}
    tq.save_safetensors(os.path.join(model_dir, "model.safetensors"), weights, {"format": "pt"})
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump(tq.hf_config(c, max_len), f, indent=2)
    return model

def main():
    global SHARED
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    a = ap.parse_args()
    SHARED = os.path.abspath(a.shared)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "py_random.json"), "w") as f:
        json.dump({"python": sys.version.split()[0], "cases": py_random_cases()}, f, indent=1)

    import torch
    sys.path.insert(0, os.path.join(SHARED, "peers"))

    ds = make_items(random.Random(7))
    write_datasets(ds)
    model_dir = os.path.join(OUT, "tiny_model")
    os.makedirs(model_dir, exist_ok=True)
    vocab, eos = train_tokenizer(ds, model_dir)
    max_len = 64
    c = dict(vocab=vocab, hidden=32, layers=2, heads=4, kv_heads=2, head_dim=8, ffn=64,
             theta=1e6, eps=1e-6, tied=True, init_std=0.25)
    model = save_random_model(model_dir, c, max_len)

    tok = HFTokenizer(os.path.join(model_dir, "tokenizer.json"))
    add_greedy_items(ds, model, tok, os.path.join(model_dir, "tokenizer.json"))
    write_datasets(ds)
    runs = []
    for k in (0, 2):
        tasks_out = {}
        for task in TASKS:
            if k and task[1] == "wikitext":
                continue
            tasks_out[task[0]] = run_task(task, ds, tok, model, eos, max_len, k)
        groups = {
            "mmlu": group(tasks_out, ["mmlu_abstract_algebra", "mmlu_world_religions"], ["acc"]),
            "kobest": group(tasks_out, ["kobest_boolq", "kobest_copa", "kobest_hellaswag",
                                        "kobest_sentineg", "kobest_wic"], ["acc", "acc_norm", "f1"]),
        }
        runs.append({"num_fewshot": k, "tasks": tasks_out, "groups": groups})
    ref = {"lm_eval": "v0.4.9.2 (ad3f4d0cad1cfcdb815f1e795f7947e49ed9f2e9)", "torch": torch.__version__,
           "max_length": max_len, "eos": eos, "runs": runs}
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, ensure_ascii=False, indent=0)
    with open(os.path.join(OUT, "generation.json"), "w") as f:
        json.dump({"max_length": max_len, "eos": eos,
                   "requests": generation_reference(ds, tok, model, eos, max_len)}, f, ensure_ascii=False, indent=1)
    print("reference written; vocab", vocab)


if __name__ == "__main__":
    main()
