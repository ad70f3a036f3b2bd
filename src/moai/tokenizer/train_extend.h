#pragma once
// Extending an existing byte-level BPE tokenizer with new data (`moai tokenizer train
// --base_tokenizer`).
//
// The original (inventory §2.3) trained a separate tokenizer and copied its tokens over, so many
// added tokens had no merge path and could never be produced. Here training *continues* the base:
// the new corpus is split with the base's own normalizer and pre-tokenizer, every word is encoded
// with the base model, and the HF merge loop runs on from there. Every old id and merge is kept;
// each new token is the result of a new merge (ranked after all old ones) of two tokens that appear
// in the encoded words, so encoding its text produces it. extend() checks that (is_reachable) for
// every new token and reports any exception.
#include <memory>
#include <string>
#include <vector>

#include "moai/tokenizer/bpe_trainer.h"
#include "moai/tokenizer/normalizer.h"
#include "moai/tokenizer/pre_tokenizer.h"
#include "moai/tokenizer/tokenizer.h"

namespace moai::tok {

class WordCounter;

// The reachability promise: a token whose bytes are valid UTF-8 is what encoding that text gives
// (exactly [id]); a token holding part of a multi-byte character (no text of its own) is what the
// BPE model makes of its bytes as one word.
bool is_reachable(const Tokenizer& tokenizer, TokenId id);

struct ExtendReport {
  size_t base_vocab_size = 0;  // ids in use before (max id + 1)
  size_t final_vocab_size = 0;
  size_t base_merges = 0;
  size_t new_merges = 0;
  std::vector<TokenId> new_token_ids;
  std::vector<TokenId>
      unreachable_ids;  // new tokens whose text does not encode to them (expected none)
  BpeStopReason stop_reason = BpeStopReason::kVocabFull;
};

class BaseTokenizer {
 public:
  // path: a tokenizer.json or a directory holding one (its tokenizer_config.json and
  // special_tokens_map.json are carried over). The model must be BPE with a normalizer and
  // pre-tokenizer moai can train with (NFC/NFKC/none; Qwen2 Split + ByteLevel, or ByteLevel with
  // its GPT-2 regex); anything else is an InputError naming the field.
  static BaseTokenizer load(const std::string& path);

  const Normalizer& normalizer() const { return normalizer_; }
  const PreTokenizer& pre_tokenizer() const { return *pre_tokenizer_; }
  size_t vocab_size() const { return tokenizer_->vocab_size(); }

  // Continues training on `counts` (counted with normalizer() and pre_tokenizer()) up to
  // options.vocab_size tokens in total, then writes the extended tokenizer into out_dir.
  ExtendReport extend(const WordCounter& counts, const BpeTrainerOptions& options,
                      const std::string& out_dir) const;

 private:
  std::string source_dir_;  // directory of the base (config files copied from there), may be empty
  std::string json_text_;
  Normalizer normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Tokenizer> tokenizer_;
};

}  // namespace moai::tok
