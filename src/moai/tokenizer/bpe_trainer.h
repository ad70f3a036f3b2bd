#pragma once
// BPE training with the exact semantics of HuggingFace tokenizers' BpeTrainer (tokenizers 0.22,
// models/bpe/trainer.rs), so the same word counts give the same vocabulary, ids and merge ranks:
//
//  1. Special tokens take ids 0.. in the order given.
//  2. The alphabet is every character of the words (weighted by word count) plus `initial_alphabet`
//     (which always survives); `limit_alphabet` drops the rarest characters first; the survivors
//     get the next ids in code point order. Characters outside the alphabet are dropped from the
//     words.
//  3. Merges: repeatedly take the pair with the highest count; ties go to the smaller (left id,
//  right id).
//     The merged token gets the next id (or its existing id when the string already exists).
//     Training stops at vocab_size tokens (specials included), when no pair is left, or when the
//     best count is below min_frequency.
//
// Counts are updated incrementally: merging a pair rewrites only the words that contain it and
// adjusts the counts of the neighbouring pairs; a lazy max-heap re-checks an entry's count when it
// reaches the top. HF's quirks are kept on purpose (see bpe_trainer.cpp): the merged pair's own
// count is never reset, each heap entry carries the word list it was pushed with, and a pair merged
// twice keeps only its later rank.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace moai::tok {

// One distinct pre-tokenized word, spelled in the model's alphabet (for byte-level BPE: the GPT-2
// byte-to-unicode characters), and how often it occurred.
struct WordCount {
  std::string word;
  uint64_t count = 0;
};

struct BpeTrainerOptions {
  size_t vocab_size = 30000;                  // final size including special tokens
  uint64_t min_frequency = 0;                 // a merge needs a pair count >= this
  std::vector<std::string> special_tokens;    // ids 0.. in this order
  std::vector<std::string> initial_alphabet;  // single characters (UTF-8) kept whatever their count
  std::optional<size_t> limit_alphabet;       // keep at most this many alphabet characters
  bool show_progress = false;
  // Worker threads for applying a merge to many words at once (0: default_thread_count()).
  size_t num_threads = 0;
};

enum class BpeStopReason { kVocabFull, kNoPairsLeft, kBelowMinFrequency };

struct BpeTrainResult {
  std::vector<std::string> vocab;  // id -> token string; specials first, then alphabet, then merges
  std::vector<std::pair<std::string, std::string>> merges;  // rank order
  size_t num_special_tokens = 0;
  size_t alphabet_size = 0;
  BpeStopReason stop_reason = BpeStopReason::kVocabFull;
};

// Trains on distinct words. Throws InputError when vocab_size is smaller than specials + alphabet,
// and moai::Error when Ctrl-C was requested (moai/core/interrupt.h) before training finished.
BpeTrainResult train_bpe(std::span<const WordCount> words, const BpeTrainerOptions& options);

// Extension: continues training an existing BPE. `base_vocab` is the base vocabulary by id (an
// empty string marks an id the base does not use); every word arrives as the base model's encoding
// of it. options.vocab_size is the final number of tokens; specials and alphabet options are
// ignored. New tokens take ids from base_vocab.size() on; result.vocab is the whole table and
// result.merges holds only the new merges, which rank after every base merge.
struct EncodedWord {
  std::vector<uint32_t> ids;
  uint64_t count = 0;
};
BpeTrainResult continue_bpe(const std::vector<std::string>& base_vocab,
                            std::span<const EncodedWord> words, const BpeTrainerOptions& options);

const char* to_string(BpeStopReason reason);

}  // namespace moai::tok
