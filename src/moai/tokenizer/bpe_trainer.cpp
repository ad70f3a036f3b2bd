// BPE trainer; the semantics are HF tokenizers' BpeTrainer::do_train (see bpe_trainer.h). Layout:
// every word's symbol ids live in one flat array (merges shrink a word in place), pair counts in an
// open-addressing hash map, and a lazy max-heap holds (count, pair, word list) entries.
#include "moai/tokenizer/bpe_trainer.h"

#include <algorithm>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "moai/core/error.h"
#include "moai/core/interrupt.h"
#include "moai/core/progress.h"
#include "moai/tokenizer/train_pair_map.h"

namespace moai::tok {
namespace {

using Pair =
    uint64_t;  // (left id << 32) | right id: integer order == HF's (left, right) tuple order
constexpr Pair make_pair_key(uint32_t left, uint32_t right) {
  return (static_cast<uint64_t>(left) << 32) | right;
}
constexpr uint32_t pair_left(Pair pair) {
  return static_cast<uint32_t>(pair >> 32);
}
constexpr uint32_t pair_right(Pair pair) {
  return static_cast<uint32_t>(pair);
}

// Decodes one UTF-8 character starting at text[pos]; advances pos. Malformed bytes decode one by
// one as themselves so a bad word cannot stall the loop (the counter never produces them).
char32_t next_char(std::string_view text, size_t& pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  if (lead >= 0x80 && lead < 0xC0) length = 1;
  if (pos + length > text.size()) length = 1;
  char32_t code = length == 1 ? lead : lead & (0x7F >> length);
  for (size_t i = 1; i < length; ++i)
    code = (code << 6) | (static_cast<unsigned char>(text[pos + i]) & 0x3F);
  pos += length;
  return code;
}

std::string utf8_encode(char32_t code) {
  std::string out;
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
  return out;
}

// A heap entry. As in HF, each entry owns the list of words it was pushed with (`positions`, an
// index into the pool); a stale entry is re-pushed with its current count but keeps its word list.
struct QueueEntry {
  uint64_t count;
  Pair pair;
  uint32_t positions;
};
// std heap functions build a max-heap on "less": higher count first, then the smaller pair.
struct QueueLess {
  bool operator()(const QueueEntry& a, const QueueEntry& b) const {
    if (a.count != b.count) return a.count < b.count;
    return a.pair > b.pair;
  }
};

class Vocabulary {
 public:
  uint32_t add_if_missing(const std::string& token) {
    auto [it, inserted] = ids_.try_emplace(token, static_cast<uint32_t>(tokens_.size()));
    if (inserted) tokens_.push_back(token);
    return it->second;
  }
  const uint32_t* find(const std::string& token) const {
    auto it = ids_.find(token);
    return it == ids_.end() ? nullptr : &it->second;
  }
  // An id the vocabulary skips (extension of a base with gaps): no string maps to it.
  void add_placeholder() { tokens_.emplace_back(); }
  const std::string& token(uint32_t id) const { return tokens_[id]; }
  size_t ids_used() const { return tokens_.size(); }
  // Distinct token strings: HF's word_to_id.len(), which vocab_size is compared with.
  size_t size() const { return ids_.size(); }
  std::vector<std::string> release() { return std::move(tokens_); }

 private:
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<std::string> tokens_;
};

// One training run: HF's do_train, step by step.
class BpeTrainingRun {
 public:
  BpeTrainingRun(std::span<const WordCount> words, const BpeTrainerOptions& options)
      : words_(words), options_(options) {}

  BpeTrainResult continue_from(const std::vector<std::string>& base_vocab,
                               std::span<const EncodedWord> words) {
    for (const std::string& token : base_vocab) {
      if (token.empty()) {
        vocab_.add_placeholder();
      } else {
        vocab_.add_if_missing(token);
      }
    }
    words_info_.reserve(words.size());
    for (const EncodedWord& word : words) {
      words_info_.push_back({symbols_.size(), word.count, static_cast<uint32_t>(word.ids.size())});
      symbols_.insert(symbols_.end(), word.ids.begin(), word.ids.end());
    }
    BpeTrainResult result;
    if (options_.vocab_size > vocab_.size()) {
      count_pairs();
      result.stop_reason = merge_until_done();
    }
    result.merges = final_merges();
    result.vocab = vocab_.release();
    return result;
  }

  BpeTrainResult run() {
    BpeTrainResult result;
    for (const std::string& special : options_.special_tokens) vocab_.add_if_missing(special);
    result.num_special_tokens = vocab_.size();
    add_alphabet();
    result.alphabet_size = vocab_.size() - result.num_special_tokens;
    if (options_.vocab_size < vocab_.size()) {
      throw_input_error("vocab_size",
                        std::to_string(options_.vocab_size) +
                            " is smaller than the special tokens plus the alphabet (" +
                            std::to_string(vocab_.size()) + ")");
    }
    encode_words();
    count_pairs();
    result.stop_reason = merge_until_done();
    result.merges = final_merges();
    result.vocab = vocab_.release();
    return result;
  }

 private:
  // Step 2: the alphabet. Characters are weighted by word counts; initial_alphabet characters count
  // as infinitely frequent so limit_alphabet never drops them unless the limit is below their
  // number.
  void add_alphabet() {
    std::unordered_map<char32_t, uint64_t> frequency;
    for (const WordCount& word : words_) {
      for (size_t pos = 0; pos < word.word.size();) {
        uint64_t& total = frequency[next_char(word.word, pos)];
        total = total > UINT64_MAX - word.count ? UINT64_MAX : total + word.count;
      }
    }
    for (const std::string& text : options_.initial_alphabet) {
      if (text.empty()) continue;
      size_t pos = 0;
      frequency[next_char(text, pos)] = UINT64_MAX;
    }
    std::vector<std::pair<char32_t, uint64_t>> kept(frequency.begin(), frequency.end());
    if (options_.limit_alphabet && kept.size() > *options_.limit_alphabet) {
      // HF sorts by count with an unstable sort, so which of several equally rare characters goes
      // is unspecified there; we drop the higher code point first, deterministically.
      std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second < b.second : a.first > b.first;
      });
      kept.erase(kept.begin(), kept.begin() + (kept.size() - *options_.limit_alphabet));
    }
    std::sort(kept.begin(), kept.end());
    for (const auto& [code, count] : kept) vocab_.add_if_missing(utf8_encode(code));
  }

  // Step 3: words as symbol ids. A character whose one-character string is not a token (dropped by
  // limit_alphabet) is skipped, as HF does, so its neighbours become adjacent.
  void encode_words() {
    std::unordered_map<char32_t, int64_t> char_ids;  // -1: not a token
    words_info_.reserve(words_.size());
    for (const WordCount& word : words_) {
      const size_t begin = symbols_.size();
      for (size_t pos = 0; pos < word.word.size();) {
        const char32_t code = next_char(word.word, pos);
        auto [it, inserted] = char_ids.try_emplace(code, -1);
        if (inserted) {
          if (const uint32_t* id = vocab_.find(utf8_encode(code))) it->second = *id;
        }
        if (it->second >= 0) symbols_.push_back(static_cast<uint32_t>(it->second));
      }
      words_info_.push_back({begin, word.count, static_cast<uint32_t>(symbols_.size() - begin)});
    }
  }

  // Step 4: initial pair counts and, per pair, the words containing it; one heap entry per pair.
  void count_pairs() {
    PairCountMap list_of_pair(words_info_.size());  // pair -> position list index + 1
    for (uint32_t w = 0; w < words_info_.size(); ++w) {
      const uint32_t* symbols = &symbols_[words_info_[w].begin];
      for (uint32_t i = 0; i + 1 < words_info_[w].size; ++i) {
        const Pair pair = make_pair_key(symbols[i], symbols[i + 1]);
        pair_counts_[pair] += static_cast<int64_t>(words_info_[w].count);
        int64_t& list = list_of_pair[pair];
        if (list == 0) list = static_cast<int64_t>(new_position_list()) + 1;
        std::vector<uint32_t>& positions = position_pool_[list - 1];
        if (positions.empty() || positions.back() != w) positions.push_back(w);
      }
    }
    queue_.reserve(list_of_pair.size());
    list_of_pair.for_each([&](uint64_t pair, int64_t list) {
      const int64_t count = pair_counts_.get(pair);
      if (count > 0) {
        queue_.push_back({static_cast<uint64_t>(count), pair, static_cast<uint32_t>(list - 1)});
      } else {
        release_position_list(static_cast<uint32_t>(list - 1));
      }
    });
    std::make_heap(queue_.begin(), queue_.end(), QueueLess{});
  }

  // Step 5.
  BpeStopReason merge_until_done() {
    std::unique_ptr<ProgressBar> progress;
    if (options_.show_progress) {
      progress = std::make_unique<ProgressBar>("Compute merges",
                                               options_.vocab_size - vocab_.size(), "merges");
    }
    BpeStopReason reason = BpeStopReason::kVocabFull;
    while (vocab_.size() < options_.vocab_size) {
      if (queue_.empty()) {
        reason = BpeStopReason::kNoPairsLeft;
        break;
      }
      std::pop_heap(queue_.begin(), queue_.end(), QueueLess{});
      QueueEntry top = queue_.back();
      queue_.pop_back();
      const auto current = static_cast<uint64_t>(pair_counts_.get(top.pair));
      if (top.count != current) {
        top.count = current;
        queue_.push_back(top);
        std::push_heap(queue_.begin(), queue_.end(), QueueLess{});
        continue;
      }
      if (top.count < 1) {
        reason = BpeStopReason::kNoPairsLeft;
        break;
      }
      if (options_.min_frequency > top.count) {
        reason = BpeStopReason::kBelowMinFrequency;
        break;
      }
      if (interrupt_requested()) {
        throw Error("interrupted: BPE training stopped after " + std::to_string(merges_.size()) +
                    " merges; nothing was written");
      }
      apply_merge(top);
      if (progress) progress->add(1);
    }
    if (progress) progress->finish();
    return reason;
  }

  void apply_merge(const QueueEntry& top) {
    const uint32_t left = pair_left(top.pair);
    const uint32_t right = pair_right(top.pair);
    const uint32_t new_id = vocab_.add_if_missing(vocab_.token(left) + vocab_.token(right));
    merges_.push_back({top.pair, new_id});

    // Take the word list out of the pool: note_gain() adds lists, which may move the pool.
    std::vector<uint32_t>& positions = merging_words_;
    positions.swap(position_pool_[top.positions]);
    release_position_list(top.positions);
    // The words are scattered in memory; fetch a few ahead so their cache misses overlap.
    constexpr size_t kAhead = 8;
    for (size_t i = 0; i < positions.size(); ++i) {
      if (i + kAhead < positions.size()) __builtin_prefetch(&words_info_[positions[i + kAhead]]);
      if (i + kAhead / 2 < positions.size()) {
        __builtin_prefetch(&symbols_[words_info_[positions[i + kAhead / 2]].begin]);
      }
      merge_in_word(positions[i], left, right, new_id);
    }
    positions.clear();

    // HF pushes one entry per pair that gained occurrences, carrying exactly the words where it
    // gained (and only if the pair's total count is positive).
    for (const Gain& gain : gains_) {
      gain_slot_[gain.side][gain.other] = -1;
      const int64_t count = pair_counts_.get(gain.pair);
      if (count > 0) {
        queue_.push_back({static_cast<uint64_t>(count), gain.pair, gain.list});
        std::push_heap(queue_.begin(), queue_.end(), QueueLess{});
      } else {
        release_position_list(gain.list);
      }
    }
    gains_.clear();
  }

  // Records that word w gained an occurrence of (other, new id) (side 0) or (new id, other) (side
  // 1). Every gained pair of one merge contains the new id, so (side, other) identifies it and a
  // flat table indexed by id groups the words per pair without hashing or sorting.
  void note_gain(int side, uint32_t other, Pair pair, uint32_t w) {
    if (pair_left(pair) == pair_right(pair)) side = 0;  // (new, new) may arrive from either side
    std::vector<int32_t>& slots = gain_slot_[side];
    if (other >= slots.size()) slots.resize(std::max<size_t>(other + 1, vocab_.ids_used() * 2), -1);
    int32_t& slot = slots[other];
    if (slot < 0) {
      slot = static_cast<int32_t>(gains_.size());
      gains_.push_back({pair, new_position_list(), static_cast<uint8_t>(side), other});
    }
    std::vector<uint32_t>& words = position_pool_[gains_[slot].list];
    if (words.empty() || words.back() != w) words.push_back(w);
  }

  // Merges every non-overlapping (left, right), scanning left to right, and records the pair-count
  // changes exactly as HF's Word::merge emits them (the merged pair itself is not decremented).
  void merge_in_word(uint32_t w, uint32_t left, uint32_t right, uint32_t new_id) {
    WordInfo& info = words_info_[w];
    uint32_t* symbols = &symbols_[info.begin];
    const uint32_t size = info.size;
    const auto count = static_cast<int64_t>(info.count);
    uint32_t out = 0;
    for (uint32_t in = 0; in < size;) {
      if (symbols[in] == left && in + 1 < size && symbols[in + 1] == right) {
        if (out > 0) {
          const uint32_t prev = symbols[out - 1];
          pair_counts_[make_pair_key(prev, left)] -= count;
          pair_counts_[make_pair_key(prev, new_id)] += count;
          note_gain(0, prev, make_pair_key(prev, new_id), w);
        }
        if (in + 2 < size) {
          const uint32_t next = symbols[in + 2];
          pair_counts_[make_pair_key(right, next)] -= count;
          pair_counts_[make_pair_key(new_id, next)] += count;
          note_gain(1, next, make_pair_key(new_id, next), w);
        }
        symbols[out++] = new_id;
        in += 2;
      } else {
        symbols[out++] = symbols[in++];
      }
    }
    info.size = out;
  }

  uint32_t new_position_list() {
    if (!free_lists_.empty()) {
      const uint32_t list = free_lists_.back();
      free_lists_.pop_back();
      return list;
    }
    position_pool_.emplace_back();
    return static_cast<uint32_t>(position_pool_.size() - 1);
  }
  void release_position_list(uint32_t list) {
    std::vector<uint32_t>().swap(position_pool_[list]);
    free_lists_.push_back(list);
  }

  // HF stores merges in a map keyed by pair, so a pair merged twice keeps only its later rank.
  std::vector<std::pair<std::string, std::string>> final_merges() const {
    std::unordered_map<Pair, size_t> last_rank;
    for (size_t rank = 0; rank < merges_.size(); ++rank) last_rank[merges_[rank].first] = rank;
    std::vector<std::pair<std::string, std::string>> merges;
    merges.reserve(merges_.size());
    for (size_t rank = 0; rank < merges_.size(); ++rank) {
      const Pair pair = merges_[rank].first;
      if (last_rank[pair] != rank) continue;
      merges.emplace_back(vocab_.token(pair_left(pair)), vocab_.token(pair_right(pair)));
    }
    return merges;
  }

  std::span<const WordCount> words_;
  const BpeTrainerOptions& options_;
  Vocabulary vocab_;
  std::vector<uint32_t>
      symbols_;  // every word's symbol ids, word w at [begin, begin + size) of words_info_[w]
  // Per word, kept together so touching a word costs one cache line plus its symbols.
  struct WordInfo {
    uint64_t begin;  // offset in symbols_
    uint64_t count;  // occurrences in the corpus
    uint32_t size;   // current number of symbols (shrinks as merges apply)
  };
  std::vector<WordInfo> words_info_;
  PairCountMap pair_counts_{1 << 16};
  std::vector<QueueEntry> queue_;
  std::vector<std::vector<uint32_t>> position_pool_;  // word lists owned by queue entries
  std::vector<uint32_t> free_lists_;
  struct Gain {
    Pair pair;
    uint32_t list;  // position list of the words where it gained
    uint8_t side;
    uint32_t other;
  };
  std::vector<uint32_t> merging_words_;            // the word list of the merge being applied
  std::vector<Gain> gains_;                        // pairs that gained during the current merge
  std::vector<int32_t> gain_slot_[2];              // by other id: index into gains_, -1 when none
  std::vector<std::pair<Pair, uint32_t>> merges_;  // (pair, new id) in creation order
};

}  // namespace

BpeTrainResult train_bpe(std::span<const WordCount> words, const BpeTrainerOptions& options) {
  return BpeTrainingRun(words, options).run();
}

BpeTrainResult continue_bpe(const std::vector<std::string>& base_vocab,
                            std::span<const EncodedWord> words, const BpeTrainerOptions& options) {
  return BpeTrainingRun({}, options).continue_from(base_vocab, words);
}

const char* to_string(BpeStopReason reason) {
  switch (reason) {
    case BpeStopReason::kVocabFull:
      return "vocabulary full";
    case BpeStopReason::kNoPairsLeft:
      return "no pairs left to merge";
    case BpeStopReason::kBelowMinFrequency:
      return "best pair below min_frequency";
  }
  return "unknown";
}

}  // namespace moai::tok
