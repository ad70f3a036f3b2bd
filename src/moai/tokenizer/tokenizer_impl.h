#pragma once
// The pipeline behind Tokenizer: added-token extraction -> normalizer -> pre-tokenizer -> BPE ->
// post-processor, and the ByteLevel decoder. Built from a parsed tokenizer.json
// (tokenizer_json.cpp); immutable afterwards except for the BPE word cache, which is internally
// synchronized.
#include <nlohmann/json.hpp>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "moai/tokenizer/added_tokens.h"
#include "moai/tokenizer/bpe_model.h"
#include "moai/tokenizer/normalizer.h"
#include "moai/tokenizer/pre_tokenizer.h"
#include "moai/tokenizer/tokenizer.h"

namespace moai::tok {

// TemplateProcessing "single" template: a run of ids (special tokens) or the sequence itself.
struct TemplatePiece {
  bool is_sequence = false;
  std::vector<TokenId> ids;
};

enum class DecoderKind { kNone, kByteLevel };

class TokenizerImpl {
 public:
  // Parses tokenizer.json text; origin names it in errors.
  static std::unique_ptr<TokenizerImpl> from_json(std::string_view json_text,
                                                  const std::string& origin);
  // Applies tokenizer_config.json / special_tokens_map.json of a directory (either may be absent).
  void read_config_files(const std::string& dir);

  void encode(std::string_view text, bool add_special_tokens, std::vector<TokenId>& out) const;
  std::string decode(std::span<const TokenId> ids, bool skip_special_tokens) const;
  // The text the model sees after added-token extraction and normalization, concatenated: what
  // decode(encode(text)) gives back when every byte is in the vocabulary.
  std::string normalized_text(std::string_view text) const;
  size_t merge_count() const { return model_->merges().size(); }
  bool has_normalizer() const { return !normalizer_.empty(); }
  // The JSON of a pipeline component as loaded: "normalizer", "pre_tokenizer", "post_processor",
  // "decoder" (null when absent).
  const nlohmann::json& component_json(const std::string& name) const;

  size_t vocab_size() const;
  std::optional<TokenId> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(TokenId id) const;
  bool is_special(TokenId id) const;

  void save(const std::string& dir) const;
  std::string to_json() const;  // tokenizer.json content (HF layout, vocab in id order)

  const BpeModel& model() const { return *model_; }
  const std::vector<AddedToken>& added_tokens() const { return added_tokens_; }
  const std::string& origin() const { return origin_; }

  SpecialTokenIds special_ids;
  std::string chat_template;
  // Role strings from the config files, kept for save(): nullopt = not configured (roles then come
  // from well-known added tokens), "" = configured as null.
  std::optional<std::string> bos_token, eos_token, pad_token, unk_token;

 private:
  void encode_piece(std::string_view piece, std::vector<TokenId>& out) const;
  void encode_words(std::string_view text, std::vector<TokenId>& out) const;
  void finish_loading();  // builds matchers and special-token tables after parsing
  void resolve_special_ids();

  std::string origin_;
  Normalizer normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  bool prefix_space_per_word_ = false;  // Sequence[Split, ByteLevel(add_prefix_space=true)]
  std::unique_ptr<BpeModel> model_;
  std::vector<AddedToken> added_tokens_;
  std::unordered_map<std::string, TokenId> added_by_content_;
  std::unordered_map<TokenId, size_t> added_by_id_;
  std::vector<bool> special_flags_;  // by id: decode(skip_special_tokens) removes these
  AddedTokenMatcher raw_matcher_, normalized_matcher_;
  std::vector<TemplatePiece> single_template_;
  DecoderKind decoder_ = DecoderKind::kNone;
  // The original JSON of the components, written back unchanged by save().
  nlohmann::json normalizer_json_, pre_tokenizer_json_, post_processor_json_, decoder_json_;
  friend struct TokenizerJsonParser;
};

}  // namespace moai::tok
