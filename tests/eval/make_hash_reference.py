#!/usr/bin/env python3
"""Expected lm-eval sample hashes (tests/eval/data/sample_hashes.json) for tests/eval/sample_hash_test.cpp.

lm-evaluation-harness v0.4.9.2 (lm_eval/evaluator.py evaluate, lm_eval/utils.py hash_string) writes
  doc_hash    = sha256(json.dumps(doc, indent=2, default=handle_non_serializable, ensure_ascii=False))
  prompt_hash = sha256(requests[0].arguments[0]);  target_hash = sha256(str(target))
(hash_string = hashlib.sha256(string.encode("utf-8")).hexdigest()). This script computes them with
CPython's json and hashlib for documents with non-ASCII text, control characters, floats of every repr
form, big integers, nested and empty containers and keys out of sorted order, and for the first record of
the committed ARC-Easy test file (the evaluator's doc_hash end to end). Run: python3 tests/eval/make_hash_reference.py
"""
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def hash_string(s):
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


DOCS = [
    {"zeta": 1, "alpha": "é 한국어 😀 中文", "mid": [1, [2, [3, []]], {}], "b": None, "t": True},
    {"quote": "say \"hi\" \\ back", "ctrl": "a\tb\nc\rd\x08e\x0cf\x01g\x1f\x7f\u2028h", "e": ""},
    {"floats": [0.1, 1e-05, 0.0001, 1e16, 1e15, 123456789.0, -0.0, 0.0, 1.5e300, 5e-324, 2.5,
                1234567890123456.7, 9007199254740993.0, -3.14159, 1e22, 1.7976931348623157e308]},
    {"ints": [0, -1, 9223372036854775807, -9223372036854775808, 18446744073709551615],
     "nested": {"z": {"y": [{"x": 1.0}, {"w": [True, False, None]}]}, "a": "정답：A"}},
    [1, "two", [3.0, {"four": 4}], []],
]

STRINGS = ["", "x" * 55, "y" * 56, "z" * 64, "w" * 119, "Question: 2+2?\nAnswer:", "정답：", "The following are multiple choice questions (with answers)\n\n", "0", "3"]


def main():
    cases = []
    for doc in DOCS:
        dumped = json.dumps(doc, indent=2, ensure_ascii=False)
        cases.append({"doc": doc, "dumps": dumped, "doc_hash": hash_string(dumped)})
    with open(os.path.join(HERE, "data/datasets/allenai/ai2_arc/ARC-Easy/test.jsonl"), encoding="utf-8") as f:
        arc = json.loads(f.readline())
    dumped = json.dumps(arc, indent=2, ensure_ascii=False)
    strings = [{"string": s, "hash": hash_string(s)} for s in STRINGS]
    targets = [{"target": t, "str": str(t), "hash": hash_string(str(t))} for t in [0, 3, "a page\n", 2.5]]
    out = {"docs": cases, "strings": strings, "targets": targets,
           "arc_easy_first": {"doc_hash": hash_string(dumped)}}
    with open(os.path.join(HERE, "data/sample_hashes.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
