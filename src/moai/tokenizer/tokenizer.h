#pragma once
// The public tokenizer API every other layer uses. A Tokenizer is loaded from a HuggingFace
// tokenizer.json (or a directory holding one plus tokenizer_config.json) and encodes/decodes
// exactly as HF tokenizers 0.22. It is immutable after loading, so one instance may be shared by
// many threads.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moai::tok {

using TokenId = uint32_t;

// Ids of the roles the rest of moai needs. Filled from tokenizer_config.json /
// special_tokens_map.json when present, else from well-known token strings (<|endoftext|>,
// <|im_end|>, <s>, </s>, <pad>, <unk>).
struct SpecialTokenIds {
  std::optional<TokenId> bos;
  std::optional<TokenId> eos;
  std::optional<TokenId> pad;
  std::optional<TokenId> unk;
  std::optional<TokenId> im_start;   // <|im_start|>, for ChatML
  std::optional<TokenId> im_end;     // <|im_end|>
  std::optional<TokenId> endoftext;  // <|endoftext|>
};

class TokenizerImpl;

class Tokenizer {
 public:
  // path: a tokenizer.json file or a directory containing tokenizer.json (and optionally
  // tokenizer_config.json, special_tokens_map.json). Throws InputError naming the file and the JSON
  // field for malformed files or unsupported components.
  static Tokenizer load(const std::string& path);
  // Builds a tokenizer from tokenizer.json text held in memory (e.g. written by the BPE trainer);
  // origin names it in error messages.
  static Tokenizer from_json(std::string_view json_text,
                             const std::string& origin = "<tokenizer.json>");

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // HF semantics: added tokens are matched in the text whatever add_special_tokens says;
  // add_special_tokens only controls the post-processor (e.g. moai_kor_eng's <s> ... </s>).
  std::vector<TokenId> encode(std::string_view text, bool add_special_tokens = false) const;
  // Encodes documents in parallel (num_threads == 0: default thread count); output order = input
  // order.
  std::vector<std::vector<TokenId>> encode_batch(const std::vector<std::string>& texts,
                                                 bool add_special_tokens = false,
                                                 size_t num_threads = 0) const;
  std::string decode(std::span<const TokenId> ids, bool skip_special_tokens = false) const;

  size_t vocab_size() const;  // largest id + 1, added tokens included
  std::optional<TokenId> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(TokenId id) const;
  bool is_special(TokenId id) const;  // an added token with "special": true
  const SpecialTokenIds& special_ids() const;

  // The Jinja chat_template string from tokenizer_config.json (empty when none). moai renders
  // ChatML itself (chat_template.h); this string is kept so saved directories round-trip.
  const std::string& chat_template_source() const;

  // Writes tokenizer.json, tokenizer_config.json (with a ChatML chat_template) and
  // special_tokens_map.json into dir (created if missing), atomically per file. HF tokenizers loads
  // the result and encodes identically.
  void save(const std::string& dir) const;

  TokenizerImpl& impl() { return *impl_; }
  const TokenizerImpl& impl() const { return *impl_; }
  explicit Tokenizer(std::unique_ptr<TokenizerImpl> impl);

 private:
  std::unique_ptr<TokenizerImpl> impl_;
};

}  // namespace moai::tok
