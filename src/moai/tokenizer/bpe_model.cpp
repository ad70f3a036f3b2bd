#include "moai/tokenizer/bpe_model.h"

#include <algorithm>
#include <mutex>
#include <queue>

#include "moai/core/error.h"
#include "moai/tokenizer/byte_level.h"

namespace moai::tok {

// ---- MergeTable
// -------------------------------------------------------------------------------------

void MergeTable::reserve(size_t count) {
  size_t cap = 16;
  while (cap < count * 2) cap <<= 1;
  if (cap <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  size_ = 0;
  for (const Slot& s : old)
    if (s.key != kEmpty)
      insert(static_cast<TokenId>(s.key >> 32), static_cast<TokenId>(s.key), s.rank, s.merged);
}

void MergeTable::grow() {
  reserve(std::max<size_t>(16, size_ * 2 + 2));
}

bool MergeTable::insert(TokenId left, TokenId right, uint32_t rank, TokenId merged) {
  if (slots_.empty() || (size_ + 1) * 2 > slots_.size()) grow();
  const uint64_t key = (uint64_t{left} << 32) | right;
  size_t i = hash(key) & mask_;
  while (slots_[i].key != kEmpty) {
    if (slots_[i].key == key) return false;
    i = (i + 1) & mask_;
  }
  slots_[i] = Slot{key, rank, merged};
  ++size_;
  return true;
}

// ---- Word cache
// -------------------------------------------------------------------------------------

// Sharded so threads encoding different documents rarely contend; each shard stops growing at a
// fixed size (the vocabulary of real text is Zipfian, so the early entries are the useful ones).
struct BpeModel::Cache {
  static constexpr size_t kShards = 64;
  static constexpr size_t kMaxPerShard = 16384;
  static constexpr size_t kMaxWordBytes = 64;
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<TokenId>, StringHash, std::equal_to<>> map;
  };
  Shard shards[kShards];
};

// ---- BpeModel
// ---------------------------------------------------------------------------------------

BpeModel::BpeModel(const std::unordered_map<std::string, TokenId>& vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges,
                   BpeOptions options, const std::string& origin)
    : options_(std::move(options)), cache_(std::make_unique<Cache>()) {
  TokenId max_id = 0;
  for (const auto& [token, id] : vocab) max_id = std::max(max_id, id);
  id_to_token_.resize(vocab.empty() ? 0 : size_t{max_id} + 1);
  has_id_.assign(id_to_token_.size(), false);
  for (auto& [token, id] : vocab) {
    if (has_id_[id])
      throw_input_error(origin + ": model.vocab", "id " + std::to_string(id) +
                                                      " is used by two tokens ('" +
                                                      id_to_token_[id] + "' and '" + token + "')");
    id_to_token_[id] = token;
    has_id_[id] = true;
  }
  vocab_.reserve(vocab.size());
  for (auto& [token, id] : vocab) vocab_.emplace(token, id);

  merge_table_.reserve(merges.size());
  merge_list_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    auto ia = vocab_.find(a), ib = vocab_.find(b);
    auto im = vocab_.find(a + b);
    const std::string where = origin + ": model.merges[" + std::to_string(rank) + "]";
    if (ia == vocab_.end()) throw_input_error(where, "token '" + a + "' is not in model.vocab");
    if (ib == vocab_.end()) throw_input_error(where, "token '" + b + "' is not in model.vocab");
    if (im == vocab_.end())
      throw_input_error(where, "merged token '" + a + b + "' is not in model.vocab");
    merge_table_.insert(ia->second, ib->second, static_cast<uint32_t>(rank), im->second);
    merge_list_.emplace_back(ia->second, ib->second);
  }
  for (int b = 0; b < 256; ++b) {
    auto it = vocab_.find(byte_to_unicode(static_cast<uint8_t>(b)));
    byte_ids_[b] = it == vocab_.end() ? -1 : int64_t{it->second};
  }
  if (options_.unk_token) {
    auto it = vocab_.find(*options_.unk_token);
    if (it == vocab_.end())
      throw_input_error(origin + ": model.unk_token",
                        "'" + *options_.unk_token + "' is not in model.vocab");
    unk_id_ = it->second;
  }
}

BpeModel::~BpeModel() = default;

void BpeModel::clear_cache() const {
  for (auto& shard : cache_->shards) {
    std::lock_guard<std::mutex> lock(shard.mutex);
    shard.map.clear();
  }
}

std::optional<TokenId> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(TokenId id) const {
  if (id >= id_to_token_.size() || !has_id_[id]) return nullptr;
  return &id_to_token_[id];
}

void BpeModel::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  if (word.size() <= 1 || word.size() > Cache::kMaxWordBytes) {
    encode_word_uncached(word, out);
    return;
  }
  auto& shard = cache_->shards[StringHash{}(word) % Cache::kShards];
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.map.find(word);
    if (it != shard.map.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t start = out.size();
  encode_word_uncached(word, out);
  std::lock_guard<std::mutex> lock(shard.mutex);
  if (shard.map.size() < Cache::kMaxPerShard)
    shard.map.emplace(std::string(word), std::vector<TokenId>(out.begin() + start, out.end()));
}

void BpeModel::encode_word_uncached(std::string_view word, std::vector<TokenId>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (auto id = token_to_id(byte_level_encode(word))) {
      out.push_back(*id);
      return;
    }
  }
  std::vector<TokenId> symbols;
  symbols.reserve(word.size());
  bool last_was_unk = false;
  for (char c : word) {
    const int64_t id = byte_ids_[static_cast<uint8_t>(c)];
    if (id >= 0) {
      symbols.push_back(static_cast<TokenId>(id));
      last_was_unk = false;
    } else if (unk_id_) {
      if (!(options_.fuse_unk && last_was_unk)) symbols.push_back(*unk_id_);
      last_was_unk = true;
    }
    // else: no unk token, HF drops the symbol and its neighbours become adjacent.
  }
  if (symbols.size() > 1) {
    if (symbols.size() <= 64)
      merge_small(symbols);
    else
      merge_large(symbols);
  }
  out.insert(out.end(), symbols.begin(), symbols.end());
}

// Repeatedly merges the lowest-rank adjacent pair, leftmost first: ranks of all adjacent pairs are
// kept in an array, and only the two neighbours of a merge are looked up again.
void BpeModel::merge_small(std::vector<TokenId>& symbols) const {
  size_t n = symbols.size();
  uint32_t ranks[64];
  TokenId merged[64];
  for (size_t i = 0; i + 1 < n; ++i) {
    auto [r, m] = merge_table_.find(symbols[i], symbols[i + 1]);
    ranks[i] = r;
    merged[i] = m;
  }
  while (n > 1) {
    size_t best = 0;
    uint32_t best_rank = ranks[0];
    for (size_t i = 1; i + 1 < n; ++i) {
      if (ranks[i] < best_rank) {
        best_rank = ranks[i];
        best = i;
      }
    }
    if (best_rank == UINT32_MAX) break;
    symbols[best] = merged[best];
    // Remove symbol best+1 and pair best+1.
    for (size_t i = best + 1; i + 1 < n; ++i) symbols[i] = symbols[i + 1];
    for (size_t i = best + 1; i + 2 < n; ++i) {
      ranks[i] = ranks[i + 1];
      merged[i] = merged[i + 1];
    }
    --n;
    if (best > 0) {
      auto [r, m] = merge_table_.find(symbols[best - 1], symbols[best]);
      ranks[best - 1] = r;
      merged[best - 1] = m;
    }
    if (best + 1 < n) {
      auto [r, m] = merge_table_.find(symbols[best], symbols[best + 1]);
      ranks[best] = r;
      merged[best] = m;
    }
  }
  symbols.resize(n);
}

// Long words: a doubly linked list of symbols and a min-heap of candidate merges keyed by (rank,
// position). Stale heap entries (a side already merged away) are skipped when popped.
void BpeModel::merge_large(std::vector<TokenId>& symbols) const {
  const size_t n = symbols.size();
  std::vector<int64_t> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int64_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int64_t>(i + 1) : -1;
  }
  struct Candidate {
    uint32_t rank;
    uint32_t pos;
    TokenId left, right;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto push = [&](int64_t pos) {
    if (pos < 0 || next[pos] < 0) return;
    auto [r, m] = merge_table_.find(symbols[pos], symbols[next[pos]]);
    if (r != UINT32_MAX)
      heap.push({r, static_cast<uint32_t>(pos), symbols[pos], symbols[next[pos]]});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int64_t>(i));
  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    const int64_t pos = c.pos;
    if (!alive[pos] || next[pos] < 0) continue;
    const int64_t right = next[pos];
    if (symbols[pos] != c.left || symbols[right] != c.right) continue;
    auto [r, m] = merge_table_.find(c.left, c.right);
    symbols[pos] = m;
    alive[right] = false;
    next[pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = pos;
    push(prev[pos]);
    push(pos);
  }
  size_t k = 0;
  for (int64_t i = 0; i >= 0; i = next[i]) symbols[k++] = symbols[i];
  symbols.resize(k);
}

}  // namespace moai::tok
