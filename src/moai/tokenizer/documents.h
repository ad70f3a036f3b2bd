#pragma once
// Documents and id files for the tokenizer CLI (encode/decode/bench) and tests: how a text is cut
// into documents, and the two id layouts (text: one document per line, ids separated by spaces;
// bin: the golden .ids.bin layout, little-endian uint32 count then ids, per document).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "moai/tokenizer/tokenizer.h"

namespace moai::tok {

enum class DocSplit {
  kBlank,  // text between blank lines ("\n\n"), each followed by "\n\n"; empty pieces dropped
           // (goldens)
  kLine,   // each line without its "\n" (a final line without "\n" counts; empty lines are
           // documents)
  kNone,   // the whole text is one document
};
DocSplit parse_doc_split(const std::string& value);  // InputError for anything but blank|line|none

std::vector<std::string> split_documents(std::string_view text, DocSplit mode);

std::string format_ids_text(const std::vector<std::vector<TokenId>>& docs);
void append_ids_bin(const std::vector<TokenId>& ids, std::string& out);
// Parse the two layouts back; origin names the input in errors (file:line for text).
std::vector<std::vector<TokenId>> parse_ids_text(std::string_view text, const std::string& origin);
std::vector<std::vector<TokenId>> parse_ids_bin(std::string_view bytes, const std::string& origin);

}  // namespace moai::tok
