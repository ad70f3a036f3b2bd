#!/usr/bin/env bash
# Turns a Debian FAQ plain-text edition (debian-faq / debian-faq-LANG packages:
# /usr/share/doc/debian/FAQ/debian-faq.LANG.txt.gz) into question/answer JSONL, one
# {"id","lang","question","answer"} per FAQ section whose title ends in "?" — the layout of
# ../shared/assets/corpora/qa_debian_faq.*.jsonl, for machines without ../shared (scripts/quickstart.sh).
# Usage: scripts/faq_to_qa.sh debian-faq.en.txt.gz LANG > qa_debian_faq.LANG.jsonl
set -euo pipefail
src=${1:?usage: faq_to_qa.sh FAQ.txt.gz LANG}
lang=${2:?usage: faq_to_qa.sh FAQ.txt.gz LANG}
# Section titles start at column 0 ("2.3. Title", wrapped lines also at column 0); the table of contents
# is indented, answers are indented paragraphs. Paragraph lines are joined with a space, paragraphs
# with a newline (written as the two characters \n, turned into a newline by jq).
# Non-breaking spaces (the English edition uses them after section numbers) become spaces.
zcat -f "$src" | sed 's/\xc2\xa0/ /g' | awk '
  function flush() {
    if (title != "" && title ~ /[?？]$/ && answer != "") printf "%s\t%s\t%s\n", id, title, answer
    title = ""; answer = ""; para = ""
  }
  function end_para() {
    if (para != "") { answer = answer (answer == "" ? "" : "\\n") para; para = "" }
  }
  /^[0-9]+(\.[0-9]+)*\. / {
    end_para(); flush()
    in_title = 1
    id = $1; sub(/\.$/, "", id)
    t = $0; sub(/^[0-9.]+ /, "", t); title = t
    next
  }
  in_title && /^[^ \t]/ { title = title " " $0; next }
  { in_title = 0 }
  /^[^ \t]/ { end_para(); flush(); next }  # "Chapter N. ..." and other unindented lines end a section
  /^[ \t]*$/ { end_para(); next }
  title != "" { line = $0; gsub(/^[ \t]+|[ \t]+$/, "", line); gsub(/  +/, " ", line); para = para (para == "" ? "" : " ") line }
  END { end_para(); flush() }
' | jq -Rc --arg lang "$lang" 'split("\t") | {id: ("section-" + .[0]), lang: $lang,
  question: .[1], answer: (.[2] | gsub("\\\\n"; "\n"))}'
