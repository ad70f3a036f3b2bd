#pragma once
// lm-evaluation-harness v0.4.9.2 lm_eval/tasks/wikitext/preprocess_wikitext.py
// wikitext_detokenizer, step by step, with Python's str.replace and re.sub semantics (`\s` is
// Python's Unicode whitespace, lazy groups bounded by the closing character).
#include <string>
#include <string_view>

namespace moai::eval {

std::string wikitext_detokenize(std::string_view page);

}  // namespace moai::eval
