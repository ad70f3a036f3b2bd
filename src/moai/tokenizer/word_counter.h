#pragma once
// Word counting for BPE training, as HF's Trainer::feed does it: each input sequence is normalized,
// pre-tokenized into words, and every distinct word is counted. Words are kept as raw UTF-8 bytes
// while counting (cheaper than mapping every occurrence) and mapped to the GPT-2 byte-level
// alphabet once per distinct word at the end.
//
// HF's train_from_files feeds a text file line by line with each line's "\n" kept; count_lines()
// does the same. Structured inputs (JSON/JSONL records) are fed one record per add_sequence() call.
// Invalid UTF-8 is replaced by U+FFFD (as Rust's from_utf8_lossy does) and counted, never dropped.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "moai/tokenizer/bpe_trainer.h"  // WordCount
#include "moai/tokenizer/normalizer.h"
#include "moai/tokenizer/pre_tokenizer.h"

namespace moai {
class ProgressBar;
}

namespace moai::tok {

struct WordCounterStats {
  uint64_t sequences = 0;       // texts fed (lines for count_lines)
  uint64_t bytes = 0;           // input bytes fed
  uint64_t words = 0;           // word occurrences
  uint64_t invalid_utf8 = 0;    // sequences that contained invalid UTF-8
  uint64_t replaced_chars = 0;  // U+FFFD substitutions made in them
  uint64_t sampled_out = 0;     // sequences skipped by set_sample_every
};

class WordCounter {
 public:
  // Both must outlive the counter; they are only read, so several counters may share them.
  WordCounter(const Normalizer& normalizer, const PreTokenizer& pre_tokenizer);

  // Counts the words of one sequence. Not thread-safe: use one counter per thread and merge().
  void add_sequence(std::string_view text);
  // Splits `text` into lines, each keeping its "\n", and feeds them on `num_threads` threads
  // (0: default_thread_count()). Polls Ctrl-C; `progress` (optional) advances by bytes.
  void count_lines(std::string_view text, size_t num_threads, ProgressBar* progress = nullptr);
  // Feeds each text as one sequence, spread over `num_threads` threads (0: default_thread_count()).
  void count_texts(const std::vector<std::string>& texts, size_t num_threads);
  // Keep only every n-th sequence (n >= 1) of each count_lines chunk / count_texts batch: the
  // --ultrafast sampling. Deterministic whatever the thread count. Skipped sequences are counted.
  void set_sample_every(uint32_t n) { sample_every_ = n == 0 ? 1 : n; }
  // Adds another counter's words and stats.
  void merge(WordCounter&& other);

  size_t distinct_words() const { return counts_.size(); }
  const WordCounterStats& stats() const { return stats_; }
  // The distinct words in the byte-level alphabet with their counts, sorted by word
  // (deterministic).
  std::vector<WordCount> byte_level_words() const;
  // The distinct words as raw UTF-8 (before the byte-level mapping), sorted by word.
  std::vector<WordCount> raw_words() const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  void count_words(std::string_view text);

  const Normalizer& normalizer_;
  const PreTokenizer& pre_tokenizer_;
  std::unordered_map<std::string, uint64_t, StringHash, std::equal_to<>> counts_;
  WordCounterStats stats_;
  uint32_t sample_every_ = 1;
  // Scratch reused between sequences.
  std::string normalized_;
  std::string prepared_;
  std::vector<std::pair<uint32_t, uint32_t>> spans_;
};

}  // namespace moai::tok
