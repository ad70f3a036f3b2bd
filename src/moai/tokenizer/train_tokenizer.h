#pragma once
// From a trained BPE to files HF tokenizers and moai load: the tokenizer.json of a Qwen3-style
// byte-level BPE (normalizer NFC, Split with the Qwen2 pattern + ByteLevel pre-tokenizer, ByteLevel
// post-processor and decoder, special tokens as added tokens), serialized the way HF's
// Tokenizer::save(pretty=false) does, so training HF's defaults on the same words gives a
// byte-identical file. Plus tokenizer_config.json and special_tokens_map.json in the layout
// transformers writes.
#include <memory>
#include <string>
#include <vector>

#include "moai/tokenizer/bpe_trainer.h"
#include "moai/tokenizer/normalizer.h"
#include "moai/tokenizer/pre_tokenizer.h"

namespace moai::tok {

// The original project's special tokens, ids 0..6 (inventory §2.3).
extern const std::vector<std::string> kDefaultSpecialTokens;

// The GPT-2 byte-level alphabet: the 256 characters bytes map to (HF ByteLevel.alphabet()).
std::vector<std::string> byte_level_alphabet();

// What the trained tokenizer normalizes with. The pre-tokenizer is always Qwen3's: Split(Qwen2
// pattern, Isolated) + ByteLevel(add_prefix_space=false). (The original used NFKC + GPT-2 ByteLevel
// with add_prefix_space; NFKC stays available, the GPT-2 split does not.)
struct TokenizerRecipe {
  NormalForm normal_form = NormalForm::kNfc;  // kNfc or kNfkc
};

// The normalizer and pre-tokenizer a recipe trains with (the same the saved file declares).
Normalizer make_recipe_normalizer(const TokenizerRecipe& recipe);
std::unique_ptr<PreTokenizer> make_recipe_pre_tokenizer(const TokenizerRecipe& recipe);

// tokenizer.json text: vocab in id order, merges as [left, right] pairs in rank order; every
// special token of the result (ids < num_special_tokens) is an added token with special=true.
std::string tokenizer_json_text(const BpeTrainResult& result, const TokenizerRecipe& recipe);

// Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into dir (created if
// missing), each atomically. Roles come from the token strings: <s> bos, </s> eos, <unk> unk, <pad>
// pad; other specials are additional_special_tokens.
void save_trained_tokenizer(const std::string& dir, const BpeTrainResult& result,
                            const TokenizerRecipe& recipe);

}  // namespace moai::tok
