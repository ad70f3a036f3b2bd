#pragma once
// The BPE model of HF tokenizers (no dropout, no byte fallback): a vocabulary, a ranked merge
// table, and the encoding of one pre-tokenized word. Words arrive as raw bytes; with the ByteLevel
// alphabet each byte is one initial symbol (the vocabulary entry of its mapped character). A byte
// whose symbol is missing from the vocabulary becomes unk_token when the model has one, otherwise
// it is dropped before merging, so its neighbours may merge across the gap (HF does the same).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "moai/tokenizer/tokenizer.h"

namespace moai::tok {

struct BpeOptions {
  std::optional<std::string> unk_token;
  bool fuse_unk = false;
  bool ignore_merges = false;
};

// Open-addressing map from a merge pair (left id, right id) to (rank, merged id).
class MergeTable {
 public:
  void reserve(size_t count);
  // Returns false when the pair was already present (the first rank wins, as in HF).
  bool insert(TokenId left, TokenId right, uint32_t rank, TokenId merged);
  // rank and merged id of (left, right); rank == UINT32_MAX when the pair does not merge.
  std::pair<uint32_t, TokenId> find(TokenId left, TokenId right) const {
    if (slots_.empty()) return {UINT32_MAX, 0};
    const uint64_t key = (uint64_t{left} << 32) | right;
    size_t i = hash(key) & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.key == key) return {s.rank, s.merged};
      if (s.key == kEmpty) return {UINT32_MAX, 0};
      i = (i + 1) & mask_;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    uint64_t key = kEmpty;
    uint32_t rank = 0;
    TokenId merged = 0;
  };
  static size_t hash(uint64_t key) {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 20);
  }
  void grow();
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

class BpeModel {
 public:
  // vocab: token string -> id. merges: pairs of token strings in rank order. origin names the file
  // for errors (a merge whose parts or result are not in the vocabulary is an InputError, as in
  // HF).
  BpeModel(const std::unordered_map<std::string, TokenId>& vocab,
           const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
           const std::string& origin);
  ~BpeModel();

  // Appends the ids of one word (raw bytes, before the ByteLevel mapping). Thread-safe; results of
  // short words are cached.
  void encode_word(std::string_view word, std::vector<TokenId>& out) const;
  // Same, without the cache (tests compare both).
  void encode_word_uncached(std::string_view word, std::vector<TokenId>& out) const;

  // Empties the word cache (benchmarks measure a cold start this way).
  void clear_cache() const;

  std::optional<TokenId> token_to_id(std::string_view token) const;
  const std::string* id_to_token(TokenId id) const;  // nullptr for ids the model does not have
  size_t vocab_size() const { return vocab_.size(); }
  TokenId max_id() const { return static_cast<TokenId>(id_to_token_.size()) - 1; }
  const std::vector<std::pair<TokenId, TokenId>>& merges() const { return merge_list_; }
  const BpeOptions& options() const { return options_; }

 private:
  void merge_small(std::vector<TokenId>& symbols) const;
  void merge_large(std::vector<TokenId>& symbols) const;

  struct Cache;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_id_;
  std::vector<std::pair<TokenId, TokenId>> merge_list_;
  MergeTable merge_table_;
  int64_t
      byte_ids_[256];  // id of each byte's ByteLevel symbol, -1 when missing from the vocabulary
  std::optional<TokenId> unk_id_;
  BpeOptions options_;
  std::unique_ptr<Cache> cache_;
};

}  // namespace moai::tok
