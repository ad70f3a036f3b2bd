// moai data prepare as a library: shard contents against the tokenizer, the cache (reuse, keys,
// stale and interrupted entries), the validation split, SFT masks/over-long handling, and corrupt
// shards.
#include "moai/data/prepare.h"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>

#include "data_test_util.h"
#include "moai/core/interrupt.h"
#include "moai/core/progress.h"
#include "moai/data/dataset_info.h"
#include "moai/data/loader.h"
#include "moai/tokenizer/tokenizer.h"

namespace moai::data {
namespace {

namespace fs = std::filesystem;

// The first `count` documents of a corpus file, as a small test corpus.
std::string small_corpus(const std::string& dir, const std::string& lang, size_t count,
                         std::vector<std::string>* docs_out = nullptr) {
  std::vector<std::string> docs;
  read_texts({test::assets_dir() + "/corpora/" + lang + ".txt"}, {},
             [&](std::string_view text, const std::string&, long long) {
               if (docs.size() < count) docs.emplace_back(text);
             });
  std::string joined;
  for (const auto& doc : docs) joined += doc + "\n\n";
  if (docs_out) *docs_out = docs;
  return testing::write_text(dir, lang + ".txt", joined);
}

PrepareOptions pretrain_options(const std::string& input, const std::string& out,
                                const std::string& tokenizer) {
  PrepareOptions o;
  o.inputs = {input};
  o.output_dir = out;
  o.tokenizer_path = tokenizer;
  o.show_progress = false;
  o.num_threads = 2;
  return o;
}

TEST(DataPrepareSlow, PretrainShardsCacheAndValidationSplit) {
  MOAI_REQUIRE_ASSETS();
  ProgressBar::set_enabled(false);
  std::string dir = test::temp_dir("prepare_pretrain");
  std::vector<std::string> docs;
  std::string corpus = small_corpus(dir, "ko", 60, &docs);
  std::string tok_path = test::assets_dir() + "/qwen3/tokenizer.json";
  PrepareOptions o = pretrain_options(corpus, dir + "/out", tok_path);
  o.validation_split_percentage = 20;
  o.shard_tokens = 2000;  // several shards

  PrepareResult first = prepare_dataset(o);
  EXPECT_FALSE(first.reused);
  PrepareResult second = prepare_dataset(o);
  EXPECT_TRUE(second.reused);
  EXPECT_EQ(second.entry_dir, first.entry_dir);

  PreparedDataset dataset = PreparedDataset::open(o.output_dir);
  const DatasetManifest& m = dataset.manifest();
  EXPECT_EQ(m.train.documents + m.validation.documents, docs.size());
  EXPECT_GT(m.validation.documents, 0u);
  EXPECT_GT(m.train.shards.size(), 1u);
  // Every document is encode(text) + <|endoftext|>, in order within its split.
  tok::Tokenizer tokenizer = tok::Tokenizer::load(tok_path);
  const uint32_t endoftext = *tokenizer.special_ids().endoftext;
  uint64_t train_index = 0;
  uint64_t validation_index = 0;
  std::vector<std::string> validation_docs;
  for (const std::string& doc : docs) {
    std::vector<uint32_t> expected = tokenizer.encode(doc, true);
    expected.push_back(endoftext);
    bool in_train =
        train_index < dataset.num_documents("train") &&
        std::vector<uint32_t>(dataset.document("train", train_index).tokens.begin(),
                              dataset.document("train", train_index).tokens.end()) == expected;
    if (in_train) {
      ++train_index;
    } else {
      auto view = dataset.document("validation", validation_index++);
      ASSERT_EQ(std::vector<uint32_t>(view.tokens.begin(), view.tokens.end()), expected);
      validation_docs.push_back(doc);
    }
  }
  EXPECT_EQ(train_index, m.train.documents);

  // The split depends on content, not order: a reversed corpus holds out the same documents.
  std::string reversed;
  for (auto it = docs.rbegin(); it != docs.rend(); ++it) reversed += *it + "\n\n";
  PrepareOptions r = o;
  r.inputs = {testing::write_text(dir, "reversed.txt", reversed)};
  r.output_dir = dir + "/out_reversed";
  PreparedDataset reversed_set = PreparedDataset::open(prepare_dataset(r).entry_dir);
  EXPECT_EQ(reversed_set.manifest().validation.documents, m.validation.documents);
  EXPECT_EQ(reversed_set.manifest().validation.tokens, m.validation.tokens);

  // Another option is another cache entry.
  PrepareOptions other = o;
  other.validation_split_percentage = 0;
  EXPECT_NE(dataset_cache_key(other), dataset_cache_key(o));

  std::string report = format_dataset_report(dataset);
  EXPECT_NE(report.find("bytes/token"), std::string::npos);
  EXPECT_NE(report.find("validation:"), std::string::npos);
}

TEST(DataPrepareSlow, InterruptedOrIncompleteEntriesAreNeverAccepted) {
  MOAI_REQUIRE_ASSETS();
  ProgressBar::set_enabled(false);
  std::string dir = test::temp_dir("prepare_interrupt");
  std::string corpus = small_corpus(dir, "en", 5);
  PrepareOptions o =
      pretrain_options(corpus, dir + "/out", test::assets_dir() + "/moai_kor_eng/tokenizer.json");
  const std::string key = dataset_cache_key(o);
  const std::string entry = o.output_dir + "/" + key;

  // Ctrl-C while reading: Interrupted, and nothing a later run would take.
  install_interrupt_handler();
  std::raise(SIGINT);
  EXPECT_THROW(prepare_dataset(o), Interrupted);
  clear_interrupt();
  EXPECT_FALSE(fs::exists(entry));
  EXPECT_FALSE(fs::exists(o.output_dir + "/dataset.json"));
  for (const auto& e : fs::directory_iterator(o.output_dir)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }

  // A crash could leave a temporary directory and an entry without its manifest: both are ignored,
  // cleaned up, and rebuilt.
  fs::create_directories(o.output_dir + "/" + key + ".tmp-99999");
  testing::write_text(o.output_dir + "/" + key + ".tmp-99999", "train-00000.bin", "partial");
  fs::create_directories(entry);
  testing::write_text(entry, "train-00000.bin", "partial");
  EXPECT_THROW(PreparedDataset::open(entry), InputError);
  PrepareResult result = prepare_dataset(o);
  EXPECT_FALSE(result.reused);
  EXPECT_FALSE(fs::exists(o.output_dir + "/" + key + ".tmp-99999"));
  PreparedDataset dataset = PreparedDataset::open(o.output_dir);
  EXPECT_EQ(dataset.manifest().train.documents, 5u);
  // moai_kor_eng's post-processor wraps each document as <s> ... </s>; nothing more is appended.
  auto doc = dataset.document("train", 0).tokens;
  EXPECT_EQ(doc.front(), 1u);
  EXPECT_EQ(doc.back(), 2u);
  EXPECT_NE(doc[doc.size() - 2], 2u);

  // A corrupted shard is refused when the cache is checked, and --force rebuilds it.
  std::string shard = result.entry_dir + "/" + dataset.manifest().train.shards[0];
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x7f');
  }
  EXPECT_THROW(prepare_dataset(o), InputError);
  o.force = true;
  EXPECT_FALSE(prepare_dataset(o).reused);
  EXPECT_NO_THROW(PreparedDataset::open(o.output_dir));
}

TEST(DataPrepareSlow, SftFaqMasksAndOverlongSamples) {
  MOAI_REQUIRE_ASSETS();
  ProgressBar::set_enabled(false);
  std::string dir = test::temp_dir("prepare_sft");
  // All four FAQ languages through a glob.
  PrepareOptions o = pretrain_options(test::assets_dir() + "/corpora/qa_debian_faq.*.jsonl",
                                      dir + "/out", test::assets_dir() + "/qwen3/tokenizer.json");
  o.mode = DatasetMode::kSft;
  o.max_seq_length = 2048;
  PrepareResult full = prepare_dataset(o);
  const DatasetManifest& m = full.manifest;
  EXPECT_EQ(m.train.documents + m.dropped_samples, 119u + 120u + 120u + 119u);
  ASSERT_EQ(m.sft_formats.size(), 4u);
  for (const auto& format : m.sft_formats) {
    EXPECT_NE(format.find("question_answer"), std::string::npos) << format;
  }
  EXPECT_GT(m.train.trained_tokens, m.train.tokens / 2);  // answers are longer than questions
  EXPECT_LT(m.train.trained_tokens, m.train.tokens);

  // Packing into 2048-token rows: >= 95% of the row tokens are real, and the row count is the lower
  // bound ceil(tokens / 2048), so no packer could do better.
  PreparedDataset dataset = PreparedDataset::open(full.entry_dir);
  LoaderOptions lo;
  lo.seq_len = 2048;
  auto loader = make_loader(dataset, lo);
  double efficiency = loader->token_efficiency();
  std::printf("FAQ (4 languages) packed into 2048-token rows: %.4f of tokens used, %llu rows\n",
              efficiency, static_cast<unsigned long long>(loader->batches_per_epoch()));
  EXPECT_GE(efficiency, 0.95);
  EXPECT_EQ(loader->batches_per_epoch(), (m.train.tokens + 2047) / 2048);

  o.inputs = {test::assets_dir() + "/corpora/qa_debian_faq.en.jsonl"};
  o.max_seq_length = 128;
  PrepareResult truncated = prepare_dataset(o);
  EXPECT_GT(truncated.manifest.truncated_samples, 0u);
  EXPECT_EQ(truncated.manifest.train.documents + truncated.manifest.dropped_samples, 119u);
  o.overlong = OverlongPolicy::kDrop;
  PrepareResult dropped = prepare_dataset(o);
  EXPECT_EQ(dropped.manifest.truncated_samples, 0u);
  EXPECT_EQ(dropped.manifest.train.documents + dropped.manifest.dropped_samples, 119u);
  EXPECT_GT(dropped.manifest.dropped_samples, 0u);

  // Plain text has no fields for SFT.
  o.inputs = {testing::write_text(dir, "plain.txt", "just text\n")};
  EXPECT_THROW(prepare_dataset(o), InputError);
}

}  // namespace
}  // namespace moai::data
