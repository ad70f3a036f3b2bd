#!/usr/bin/env python3
"""Compares two F32 safetensors files tensor by tensor (standard library only).

usage: weights_close.py A B TOLERANCE
Passes when every tensor has ||a - b|| <= TOLERANCE * ||b|| (norm-wise relative difference) and
both files hold the same tensor names and shapes; prints the largest relative difference.
"""
import array
import json
import math
import struct
import sys


def load(path):
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + length])
    base = 8 + length
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            sys.exit(f"{path}: {name}: expected F32, got {info['dtype']}")
        begin, end = info["data_offsets"]
        values = array.array("f")
        values.frombytes(blob[base + begin : base + end])
        tensors[name] = (info["shape"], values)
    return tensors


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    a, b, tolerance = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
    if sorted(a) != sorted(b):
        sys.exit("FAIL: different tensor names")
    worst, worst_name = 0.0, ""
    for name in sorted(a):
        (shape_a, x), (shape_b, y) = a[name], b[name]
        if shape_a != shape_b:
            sys.exit(f"FAIL: {name}: shape {shape_a} vs {shape_b}")
        diff = math.sqrt(sum((p - q) * (p - q) for p, q in zip(x, y)))
        norm = math.sqrt(sum(q * q for q in y))
        relative = diff / norm if norm > 0 else diff
        if relative > worst:
            worst, worst_name = relative, name
    if worst > tolerance:
        sys.exit(f"FAIL: {worst_name}: relative difference {worst:.3g} > {tolerance:g}")
    print(f"largest relative difference {worst:.3g} ({worst_name or 'all equal'})")


if __name__ == "__main__":
    main()
