#include "moai/tokenizer/word_counter.h"

#include <algorithm>
#include <memory>

#include "moai/core/error.h"
#include "moai/core/interrupt.h"
#include "moai/core/progress.h"
#include "moai/core/thread_pool.h"
#include "moai/tokenizer/byte_level.h"
#include "moai/tokenizer/unicode.h"

namespace moai::tok {

WordCounter::WordCounter(const Normalizer& normalizer, const PreTokenizer& pre_tokenizer)
    : normalizer_(normalizer), pre_tokenizer_(pre_tokenizer) {}

void WordCounter::add_sequence(std::string_view text) {
  ++stats_.sequences;
  stats_.bytes += text.size();
  if (valid_utf8_prefix(text) == text.size()) {
    count_words(text);
    return;
  }
  size_t replaced = 0;
  const std::string clean = sanitize_utf8(text, &replaced);
  ++stats_.invalid_utf8;
  stats_.replaced_chars += replaced;
  count_words(clean);
}

void WordCounter::count_words(std::string_view text) {
  if (normalizer_.apply(text, normalized_)) text = normalized_;
  text = pre_tokenizer_.prepare(text, prepared_);
  spans_.clear();
  pre_tokenizer_.split(text, spans_);
  stats_.words += spans_.size();
  for (const auto& [begin, end] : spans_) {
    const std::string_view word = text.substr(begin, end - begin);
    auto it = counts_.find(word);
    if (it != counts_.end()) {
      ++it->second;
    } else {
      counts_.emplace(std::string(word), 1);
    }
  }
}

void WordCounter::merge(WordCounter&& other) {
  if (other.counts_.size() > counts_.size()) counts_.swap(other.counts_);
  for (auto& [word, count] : other.counts_) counts_[word] += count;
  other.counts_.clear();
  stats_.sequences += other.stats_.sequences;
  stats_.bytes += other.stats_.bytes;
  stats_.words += other.stats_.words;
  stats_.invalid_utf8 += other.stats_.invalid_utf8;
  stats_.replaced_chars += other.stats_.replaced_chars;
  stats_.sampled_out += other.stats_.sampled_out;
}

void WordCounter::count_lines(std::string_view text, size_t num_threads, ProgressBar* progress) {
  if (num_threads == 0) num_threads = default_thread_count();
  // Chunks of ~1 MB cut after a '\n', so no line straddles two chunks; many more chunks than
  // threads keeps the threads busy to the end.
  constexpr size_t kChunkBytes = 1 << 20;
  std::vector<std::string_view> chunks;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = std::min(text.size(), begin + kChunkBytes);
    if (end < text.size()) {
      const size_t newline = text.find('\n', end - 1);
      end = newline == std::string_view::npos ? text.size() : newline + 1;
    }
    chunks.push_back(text.substr(begin, end - begin));
    begin = end;
  }
  auto count_chunk = [&](std::string_view chunk, WordCounter& counter) {
    uint64_t line_index = 0;
    for (size_t begin = 0; begin < chunk.size(); ++line_index) {
      if (interrupt_requested()) return;
      const size_t newline = chunk.find('\n', begin);
      const size_t end = newline == std::string_view::npos ? chunk.size() : newline + 1;
      if (line_index % sample_every_ == 0) {
        counter.add_sequence(chunk.substr(begin, end - begin));
      } else {
        ++counter.stats_.sampled_out;
      }
      begin = end;
    }
    if (progress) progress->add(chunk.size());
  };
  if (num_threads == 1 || chunks.size() == 1) {
    for (const std::string_view chunk : chunks) count_chunk(chunk, *this);
  } else {
    std::vector<std::unique_ptr<WordCounter>> partial(chunks.size());
    ThreadPool pool(std::min(num_threads, chunks.size()));
    pool.parallel_for(chunks.size(), [&](size_t index) {
      partial[index] = std::make_unique<WordCounter>(normalizer_, pre_tokenizer_);
      partial[index]->sample_every_ = sample_every_;
      count_chunk(chunks[index], *partial[index]);
    });
    for (auto& counter : partial) merge(std::move(*counter));
  }
  if (interrupt_requested()) throw Error("interrupted while counting words; nothing was written");
}

void WordCounter::count_texts(const std::vector<std::string>& texts, size_t num_threads) {
  if (num_threads == 0) num_threads = default_thread_count();
  auto count_slice = [&](size_t begin, size_t end, WordCounter& counter) {
    for (size_t index = begin; index < end; ++index) {
      if (interrupt_requested()) return;
      if (index % sample_every_ == 0) {
        counter.add_sequence(texts[index]);
      } else {
        ++counter.stats_.sampled_out;
      }
    }
  };
  num_threads = std::min(num_threads, texts.size());
  if (num_threads <= 1) {
    count_slice(0, texts.size(), *this);
  } else {
    // Slices of ~64 texts handed out dynamically: records vary a lot in length.
    constexpr size_t kSlice = 64;
    const size_t num_slices = (texts.size() + kSlice - 1) / kSlice;
    std::vector<std::unique_ptr<WordCounter>> partial(num_slices);
    ThreadPool pool(num_threads);
    pool.parallel_for(num_slices, [&](size_t slice) {
      partial[slice] = std::make_unique<WordCounter>(normalizer_, pre_tokenizer_);
      partial[slice]->sample_every_ = sample_every_;
      count_slice(slice * kSlice, std::min(texts.size(), (slice + 1) * kSlice), *partial[slice]);
    });
    for (auto& counter : partial) merge(std::move(*counter));
  }
  if (interrupt_requested()) throw Error("interrupted while counting words; nothing was written");
}

std::vector<WordCount> WordCounter::byte_level_words() const {
  std::vector<WordCount> words;
  words.reserve(counts_.size());
  for (const auto& [word, count] : counts_) words.push_back({byte_level_encode(word), count});
  std::sort(words.begin(), words.end(),
            [](const WordCount& a, const WordCount& b) { return a.word < b.word; });
  return words;
}

}  // namespace moai::tok

namespace moai::tok {

std::vector<WordCount> WordCounter::raw_words() const {
  std::vector<WordCount> words;
  words.reserve(counts_.size());
  for (const auto& [word, count] : counts_) words.push_back({word, count});
  std::sort(words.begin(), words.end(),
            [](const WordCount& a, const WordCount& b) { return a.word < b.word; });
  return words;
}

}  // namespace moai::tok
