"""Pieces shared by the Python benchmark drivers in bench/: the common command line and the HF
tokenizers peer (node + npm @anush008/tokenizers installed by tests/peers/install.sh)."""
import argparse
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_common_args(description, default_runs):
    """--moai, --shared, --runs and --langs, as every driver takes them."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--moai", default=os.path.join(ROOT, "build", "moai"))
    ap.add_argument("--shared", default=os.environ.get("MOAI_SHARED_DIR", os.path.join(ROOT, "..", "shared")))
    ap.add_argument("--runs", type=int, default=default_runs)
    ap.add_argument("--langs", default="en,ko,ja,zh")
    return ap.parse_args()


class HfPeer:
    """Where the HF tokenizers peer script lives, whether it can run here, and its environment."""

    def __init__(self, shared, missing_note):
        self.tokenizer = os.path.join(shared, "assets", "qwen3", "tokenizer.json")
        self.script = os.path.join(shared, "peers", "bench_encode.mjs")
        node_modules = os.path.join(ROOT, "tests", "peers", "node_modules")
        self.available = bool(shutil.which("node")) and os.path.exists(
            os.path.join(node_modules, "@anush008", "tokenizers", "package.json"))
        self.env = dict(os.environ, NODE_PATH=node_modules)
        if not self.available:
            print("note: node or @anush008/tokenizers missing (tests/peers/install.sh); " + missing_note,
                  file=sys.stderr)
