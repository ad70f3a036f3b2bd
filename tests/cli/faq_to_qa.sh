#!/usr/bin/env bash
# scripts/faq_to_qa.sh (the quick start's Debian FAQ -> Q/A JSONL converter) on a small FAQ in the text
# edition's layout: an indented table of contents, "Chapter" lines, section titles at column 0 (wrapped,
# with a non-breaking space after the number), indented answer paragraphs.
set -euo pipefail
SRC=${MOAI_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v jq > /dev/null || { echo "SKIP: jq not installed"; exit 0; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
nbsp=$'\xc2\xa0'
cat > "$WORK/faq.txt" <<EOF2
The Debian GNU/Linux FAQ

    1.1. What is this FAQ?
    1.2. A statement, not a question

Chapter${nbsp}1.${nbsp}Definitions

1.1.${nbsp}What is this
FAQ?

    This document answers
    questions.

    A second paragraph.

1.2.${nbsp}A statement, not a question

    Skipped.

Chapter${nbsp}2.${nbsp}More

2.1.${nbsp}Is "quoting" kept?

    Yes "it" is.
EOF2
gzip -k "$WORK/faq.txt"
"$SRC/scripts/faq_to_qa.sh" "$WORK/faq.txt.gz" en > "$WORK/qa.jsonl"
[ "$(wc -l < "$WORK/qa.jsonl")" = 2 ] || fail "expected 2 pairs: $(cat "$WORK/qa.jsonl")"
first=$(sed -n 1p "$WORK/qa.jsonl")
[ "$(jq -r .id <<< "$first")" = section-1.1 ] || fail "id: $first"
[ "$(jq -r .question <<< "$first")" = "What is this FAQ?" ] || fail "question: $first"
[ "$(jq -r .answer <<< "$first")" = $'This document answers questions.\nA second paragraph.' ] || fail "answer: $first"
[ "$(sed -n 2p "$WORK/qa.jsonl" | jq -r .answer)" = 'Yes "it" is.' ] || fail "quotes: $(sed -n 2p "$WORK/qa.jsonl")"
echo "faq_to_qa: ok"
