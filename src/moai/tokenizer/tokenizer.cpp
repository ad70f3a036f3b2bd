#include "moai/tokenizer/tokenizer.h"

#include <algorithm>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/thread_pool.h"
#include "moai/tokenizer/byte_level.h"
#include "moai/tokenizer/tokenizer_impl.h"
#include "moai/tokenizer/unicode.h"

namespace moai::tok {

// ---- TokenizerImpl: loading helpers
// -----------------------------------------------------------------

void TokenizerImpl::finish_loading() {
  std::vector<AddedToken> raw, normalized;
  std::vector<std::string> raw_patterns, normalized_patterns;
  for (const AddedToken& t : added_tokens_) {
    if (t.normalized) {
      std::string norm;
      normalized_patterns.push_back(normalizer_.apply(t.content, norm) ? norm : t.content);
      normalized.push_back(t);
    } else {
      raw_patterns.push_back(t.content);
      raw.push_back(t);
    }
  }
  raw_matcher_ = AddedTokenMatcher(std::move(raw), std::move(raw_patterns));
  normalized_matcher_ = AddedTokenMatcher(std::move(normalized), std::move(normalized_patterns));

  // HF decides "special" by the token string: any id whose string is a special added token's
  // content.
  special_flags_.assign(vocab_size(), false);
  for (const AddedToken& t : added_tokens_) {
    if (!t.special) continue;
    special_flags_[t.id] = true;
    if (auto id = model_->token_to_id(t.content)) {
      if (!added_by_id_.count(*id)) special_flags_[*id] = true;
    }
  }
  resolve_special_ids();
}

void TokenizerImpl::resolve_special_ids() {
  // A configured role (tokenizer_config.json / special_tokens_map.json) is authoritative, null
  // included. Otherwise the first well-known string that is an added token (not just any vocabulary
  // entry: Qwen3's BPE vocabulary happens to contain "<s>" as ordinary text).
  auto resolve = [&](const std::optional<std::string>& configured,
                     std::initializer_list<const char*> fallback) -> std::optional<TokenId> {
    if (configured) {
      if (configured->empty()) return std::nullopt;
      return token_to_id(*configured);
    }
    for (const char* name : fallback)
      if (auto it = added_by_content_.find(name); it != added_by_content_.end()) return it->second;
    return std::nullopt;
  };
  special_ids = SpecialTokenIds{};
  special_ids.bos = resolve(bos_token, {"<s>"});
  special_ids.eos = resolve(eos_token, {"</s>", "<|im_end|>", "<|endoftext|>"});
  special_ids.pad = resolve(pad_token, {"<pad>", "<|endoftext|>"});
  if (!unk_token && model_->options().unk_token)
    special_ids.unk = token_to_id(*model_->options().unk_token);
  else
    special_ids.unk = resolve(unk_token, {"<unk>"});
  special_ids.im_start = resolve(std::nullopt, {"<|im_start|>"});
  special_ids.im_end = resolve(std::nullopt, {"<|im_end|>"});
  special_ids.endoftext = resolve(std::nullopt, {"<|endoftext|>"});
}

// ---- TokenizerImpl: encode
// --------------------------------------------------------------------------

void TokenizerImpl::encode(std::string_view text, bool add_special_tokens,
                           std::vector<TokenId>& out) const {
  std::string sanitized;
  if (valid_utf8_prefix(text) != text.size()) {
    sanitized = sanitize_utf8(text);
    text = sanitized;
  }
  auto encode_sequence = [&] {
    std::vector<TextPiece> pieces;
    raw_matcher_.split(text, pieces);
    for (const TextPiece& p : pieces) {
      if (p.token >= 0)
        out.push_back(static_cast<TokenId>(p.token));
      else
        encode_piece(text.substr(p.begin, p.end - p.begin), out);
    }
  };
  if (!add_special_tokens || single_template_.empty()) {
    encode_sequence();
    return;
  }
  for (const TemplatePiece& piece : single_template_) {
    if (piece.is_sequence)
      encode_sequence();
    else
      out.insert(out.end(), piece.ids.begin(), piece.ids.end());
  }
}

// One piece of raw text between non-normalized added tokens: normalize, then split out normalized
// added tokens, then pre-tokenize and run BPE.
void TokenizerImpl::encode_piece(std::string_view piece, std::vector<TokenId>& out) const {
  if (piece.empty()) return;
  std::string normalized;
  std::string_view text =
      normalizer_.apply(piece, normalized) ? std::string_view(normalized) : piece;
  if (normalized_matcher_.empty()) {
    encode_words(text, out);
    return;
  }
  std::vector<TextPiece> pieces;
  normalized_matcher_.split(text, pieces);
  for (const TextPiece& p : pieces) {
    if (p.token >= 0)
      out.push_back(static_cast<TokenId>(p.token));
    else
      encode_words(text.substr(p.begin, p.end - p.begin), out);
  }
}

void TokenizerImpl::encode_words(std::string_view text, std::vector<TokenId>& out) const {
  if (text.empty()) return;
  std::string prefixed;
  text = pre_tokenizer_->prepare(text, prefixed);
  thread_local std::vector<std::pair<uint32_t, uint32_t>> spans;
  spans.clear();
  pre_tokenizer_->split(text, spans);
  std::string word_buf;
  for (auto [b, e] : spans) {
    std::string_view word = text.substr(b, e - b);
    if (prefix_space_per_word_ && word.front() != ' ') {
      word_buf.clear();
      word_buf.push_back(' ');
      word_buf.append(word);
      word = word_buf;
    }
    model_->encode_word(word, out);
  }
}

std::string TokenizerImpl::normalized_text(std::string_view text) const {
  std::string sanitized = sanitize_utf8(text);
  std::vector<TextPiece> pieces;
  raw_matcher_.split(sanitized, pieces);
  std::string out;
  for (const TextPiece& p : pieces) {
    std::string_view piece = std::string_view(sanitized).substr(p.begin, p.end - p.begin);
    std::string normalized;
    if (p.token < 0 && normalizer_.apply(piece, normalized))
      out += normalized;
    else
      out += piece;
  }
  return out;
}

const nlohmann::json& TokenizerImpl::component_json(const std::string& name) const {
  if (name == "normalizer") return normalizer_json_;
  if (name == "pre_tokenizer") return pre_tokenizer_json_;
  if (name == "post_processor") return post_processor_json_;
  if (name == "decoder") return decoder_json_;
  throw_internal_error(__FILE__, __LINE__, "unknown component " + name);
}

// ---- TokenizerImpl: decode and lookups
// --------------------------------------------------------------

std::string TokenizerImpl::decode(std::span<const TokenId> ids, bool skip_special_tokens) const {
  std::string bytes;
  bool first = true;
  for (TokenId id : ids) {
    if (skip_special_tokens && is_special(id)) continue;
    const std::string* token = nullptr;
    if (auto it = added_by_id_.find(id); it != added_by_id_.end())
      token = &added_tokens_[it->second].content;
    else
      token = model_->id_to_token(id);
    if (!token) continue;  // HF drops ids it does not know
    if (decoder_ == DecoderKind::kByteLevel) {
      if (!byte_level_decode_token(*token, bytes)) bytes += *token;
    } else {
      if (!first) bytes.push_back(' ');
      bytes += *token;
    }
    first = false;
  }
  return sanitize_utf8(bytes);
}

size_t TokenizerImpl::vocab_size() const {
  size_t n = model_->vocab_size() == 0 ? 0 : size_t{model_->max_id()} + 1;
  for (const AddedToken& t : added_tokens_) n = std::max(n, size_t{t.id} + 1);
  return n;
}

std::optional<TokenId> TokenizerImpl::token_to_id(std::string_view token) const {
  if (auto it = added_by_content_.find(std::string(token)); it != added_by_content_.end())
    return it->second;
  return model_->token_to_id(token);
}

std::optional<std::string> TokenizerImpl::id_to_token(TokenId id) const {
  if (auto it = added_by_id_.find(id); it != added_by_id_.end())
    return added_tokens_[it->second].content;
  if (const std::string* t = model_->id_to_token(id)) return *t;
  return std::nullopt;
}

bool TokenizerImpl::is_special(TokenId id) const {
  return id < special_flags_.size() && special_flags_[id];
}

// ---- Tokenizer
// --------------------------------------------------------------------------------------

Tokenizer::Tokenizer(std::unique_ptr<TokenizerImpl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::string& path) {
  if (is_directory(path)) {
    const std::string file = path + "/tokenizer.json";
    if (!file_exists(file)) throw_input_error(path, "directory has no tokenizer.json");
    auto impl = TokenizerImpl::from_json(read_file(file), file);
    impl->read_config_files(path);
    return Tokenizer(std::move(impl));
  }
  if (!file_exists(path)) throw_input_error(path, "tokenizer file not found");
  return Tokenizer(TokenizerImpl::from_json(read_file(path), path));
}

Tokenizer Tokenizer::from_json(std::string_view json_text, const std::string& origin) {
  return Tokenizer(TokenizerImpl::from_json(json_text, origin));
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 4);
  impl_->encode(text, add_special_tokens, ids);
  return ids;
}

std::vector<std::vector<TokenId>> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                                          bool add_special_tokens,
                                                          size_t num_threads) const {
  std::vector<std::vector<TokenId>> out(texts.size());
  if (num_threads == 0) num_threads = default_thread_count();
  num_threads = std::min(num_threads, texts.size());
  if (num_threads <= 1) {
    for (size_t i = 0; i < texts.size(); ++i) out[i] = encode(texts[i], add_special_tokens);
    return out;
  }
  ThreadPool pool(num_threads);
  pool.parallel_for(texts.size(), [&](size_t i) { out[i] = encode(texts[i], add_special_tokens); });
  return out;
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool skip_special_tokens) const {
  return impl_->decode(ids, skip_special_tokens);
}

size_t Tokenizer::vocab_size() const {
  return impl_->vocab_size();
}
std::optional<TokenId> Tokenizer::token_to_id(std::string_view token) const {
  return impl_->token_to_id(token);
}
std::optional<std::string> Tokenizer::id_to_token(TokenId id) const {
  return impl_->id_to_token(id);
}
bool Tokenizer::is_special(TokenId id) const {
  return impl_->is_special(id);
}
const SpecialTokenIds& Tokenizer::special_ids() const {
  return impl_->special_ids;
}
const std::string& Tokenizer::chat_template_source() const {
  return impl_->chat_template;
}
void Tokenizer::save(const std::string& dir) const {
  impl_->save(dir);
}

}  // namespace moai::tok
