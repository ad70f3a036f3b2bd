// Loaders over hand-built shards: window layout, position/segment/label conventions, rank sharding
// (nothing missed, nothing twice), resume, SFT packing with masks, and the packer's efficiency.
#include "moai/data/loader.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "data_test_util.h"
#include "moai/core/error.h"
#include "moai/data/packer.h"

namespace moai::data {
namespace {

using testing::make_dataset;

// Documents with distinct token values: doc d holds tokens 1000*d + 1 ... so a token names its
// document.
std::vector<std::vector<uint32_t>> numbered_docs(const std::vector<size_t>& lengths) {
  std::vector<std::vector<uint32_t>> docs;
  for (size_t d = 0; d < lengths.size(); ++d) {
    std::vector<uint32_t> doc;
    for (size_t i = 0; i < lengths[d]; ++i)
      doc.push_back(static_cast<uint32_t>(1000 * (d + 1) + i));
    docs.push_back(doc);
  }
  return docs;
}

TEST(PretrainLoader, WindowPositionsSegmentsAndLabels) {
  std::string dir = make_dataset(test::temp_dir("loader_window"), numbered_docs({3, 4}), {}, 1);
  PreparedDataset dataset = PreparedDataset::open(dir);
  LoaderOptions options;
  options.seq_len = 8;
  options.shuffle = false;
  auto loader = make_loader(dataset, options);
  EXPECT_EQ(loader->batches_per_epoch(), 1u);  // 7 tokens -> one window of 6 inputs, padded
  Batch b;
  loader->next(b);
  // Stream: 1000 1001 1002 | 2000 2001 2002 2003 (two shards).
  EXPECT_EQ(b.input_ids, (std::vector<int32_t>{1000, 1001, 1002, 2000, 2001, 2002, 0, 0}));
  // The label of a document's last token would be the next document's first: masked.
  EXPECT_EQ(b.labels, (std::vector<int32_t>{1001, 1002, -100, 2001, 2002, 2003, -100, -100}));
  EXPECT_EQ(b.position_ids, (std::vector<int32_t>{0, 1, 2, 0, 1, 2, 0, 0}));
  EXPECT_EQ(b.segment_ids, (std::vector<int32_t>{0, 0, 0, 1, 1, 1, 2, 2}));
  EXPECT_EQ(b.num_target_tokens, 5);
  EXPECT_EQ(b.num_real_tokens, 6);

  options.document_masking = false;
  auto plain = make_loader(dataset, options);
  plain->next(b);
  EXPECT_EQ(b.labels, (std::vector<int32_t>{1001, 1002, 2000, 2001, 2002, 2003, -100, -100}));
  EXPECT_EQ(b.position_ids, (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 0, 0}));
  EXPECT_EQ(b.segment_ids, (std::vector<int32_t>{0, 0, 0, 0, 0, 0, 1, 1}));
}

TEST(PretrainLoader, WindowStartingMidDocumentRestartsPositionsAtTheRow) {
  std::string dir = make_dataset(test::temp_dir("loader_mid"), numbered_docs({6, 5}));
  PreparedDataset dataset = PreparedDataset::open(dir);
  LoaderOptions options;
  options.seq_len = 4;
  options.shuffle = false;
  auto loader = make_loader(dataset, options);
  Batch b;
  loader->next(b);  // stream[0..4]
  loader->next(b);  // stream[4..8]: 1004 1005 | 2000 2001, target 2002
  EXPECT_EQ(b.input_ids, (std::vector<int32_t>{1004, 1005, 2000, 2001}));
  EXPECT_EQ(b.labels, (std::vector<int32_t>{1005, -100, 2001, 2002}));
  EXPECT_EQ(b.position_ids, (std::vector<int32_t>{0, 1, 0, 1}));
  EXPECT_EQ(b.segment_ids, (std::vector<int32_t>{0, 0, 1, 1}));
}

// Every (input, label) pair of the stream is produced exactly once per epoch across ranks.
TEST(PretrainLoader, TwoRanksCoverEveryTokenExactlyOnce) {
  std::vector<size_t> lengths;
  std::mt19937 rng(7);
  for (int d = 0; d < 60; ++d) lengths.push_back(1 + rng() % 50);
  auto docs = numbered_docs(lengths);
  std::string dir = make_dataset(test::temp_dir("loader_ranks"), docs, {}, 17);
  PreparedDataset dataset = PreparedDataset::open(dir);
  std::multiset<int32_t> seen_inputs;
  uint64_t steps = 0;
  for (int rank = 0; rank < 2; ++rank) {
    LoaderOptions options;
    options.seq_len = 16;
    options.batch_size = 3;
    options.rank = rank;
    options.world_size = 2;
    options.seed = 5;
    auto loader = make_loader(dataset, options);
    if (rank == 0) steps = loader->batches_per_epoch();
    EXPECT_EQ(loader->batches_per_epoch(), steps);  // same step count on every rank
    Batch b;
    for (uint64_t s = 0; s < loader->batches_per_epoch(); ++s) {
      loader->next(b);
      for (size_t i = 0; i < b.input_ids.size(); ++i) {
        bool padding = b.labels[i] == -100 && b.input_ids[i] == 0;
        if (!padding) seen_inputs.insert(b.input_ids[i]);
      }
    }
  }
  // Every stream token except the very last one is an input exactly once.
  std::multiset<int32_t> expected;
  std::vector<uint32_t> stream;
  for (const auto& doc : docs) stream.insert(stream.end(), doc.begin(), doc.end());
  for (size_t i = 0; i + 1 < stream.size(); ++i) expected.insert(static_cast<int32_t>(stream[i]));
  EXPECT_EQ(seen_inputs, expected);
}

TEST(PretrainLoader, ResumeGivesTheSameBatchesAcrossEpochs) {
  std::string dir =
      make_dataset(test::temp_dir("loader_resume"), numbered_docs({40, 33, 51, 12, 9}));
  PreparedDataset dataset = PreparedDataset::open(dir);
  LoaderOptions options;
  options.seq_len = 8;
  options.batch_size = 2;
  options.seed = 11;
  auto reference = make_loader(dataset, options);
  std::vector<Batch> expected(25);
  for (auto& b : expected) reference->next(b);  // crosses several epochs
  auto first = make_loader(dataset, options);
  Batch b;
  for (int i = 0; i < 13; ++i) first->next(b);
  LoaderState saved = LoaderState::from_json(first->state().to_json());
  auto resumed = make_loader(dataset, options);
  resumed->restore(saved);
  for (size_t i = 13; i < expected.size(); ++i) {
    resumed->next(b);
    EXPECT_EQ(b.input_ids, expected[i].input_ids) << "batch " << i;
    EXPECT_EQ(b.labels, expected[i].labels) << "batch " << i;
    EXPECT_EQ(b.position_ids, expected[i].position_ids) << "batch " << i;
  }
  // Epochs are shuffled differently but each is a permutation of the same windows.
  uint64_t per_epoch = reference->batches_per_epoch();
  EXPECT_NE(expected[0].input_ids, expected[per_epoch].input_ids);
  LoaderState other = saved;
  other.seed = 12;
  EXPECT_THROW(resumed->restore(other), InputError);
}

TEST(PretrainLoader, BadOptionsAreInputErrors) {
  std::string dir = make_dataset(test::temp_dir("loader_bad"), numbered_docs({5}));
  PreparedDataset dataset = PreparedDataset::open(dir);
  LoaderOptions options;
  options.seq_len = 1;
  EXPECT_THROW(make_loader(dataset, options), InputError);
  options.seq_len = 4;
  options.rank = 2;
  options.world_size = 2;
  EXPECT_THROW(make_loader(dataset, options), InputError);
  options.rank = 0;
  options.split = "validation";  // empty split
  EXPECT_THROW(make_loader(dataset, options), InputError);
}

TEST(SftLoader, PackedRowsKeepMasksAndBoundaries) {
  // Sample 0: 3 prompt tokens then 2 trained; sample 1: 2 prompt then 3 trained.
  std::vector<std::vector<uint32_t>> docs = {{11, 12, 13, 14, 15}, {21, 22, 23, 24, 25}};
  std::vector<std::vector<uint8_t>> masks = {{0, 0, 0, 1, 1}, {0, 0, 1, 1, 1}};
  std::string dir = make_dataset(test::temp_dir("sft_packed"), docs, masks);
  PreparedDataset dataset = PreparedDataset::open(dir);
  LoaderOptions options;
  options.seq_len = 12;
  options.shuffle = false;
  auto loader = make_loader(dataset, options);
  EXPECT_EQ(loader->batches_per_epoch(), 1u);
  Batch b;
  loader->next(b);
  EXPECT_EQ(b.input_ids, (std::vector<int32_t>{11, 12, 13, 14, 15, 21, 22, 23, 24, 25, 0, 0}));
  EXPECT_EQ(b.labels,
            (std::vector<int32_t>{-100, -100, 14, 15, -100, -100, 23, 24, 25, -100, -100, -100}));
  EXPECT_EQ(b.position_ids, (std::vector<int32_t>{0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 0}));
  EXPECT_EQ(b.segment_ids, (std::vector<int32_t>{0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2}));
  EXPECT_EQ(b.num_target_tokens, 5);

  options.packing = false;
  auto padded = make_loader(dataset, options);
  EXPECT_EQ(padded->batches_per_epoch(), 2u);
  padded->next(b);
  EXPECT_EQ(b.input_ids, (std::vector<int32_t>{11, 12, 13, 14, 15, 0, 0, 0, 0, 0, 0, 0}));

  options.seq_len = 4;  // shorter than a sample: a clear error, not a silent cut
  EXPECT_THROW(make_loader(dataset, options), InputError);
}

TEST(SftLoader, TwoRanksSeeEverySampleOnce) {
  std::vector<std::vector<uint32_t>> docs;
  std::vector<std::vector<uint8_t>> masks;
  std::mt19937 rng(3);
  for (uint32_t s = 0; s < 101; ++s) {
    size_t length = 2 + rng() % 60;
    docs.push_back(std::vector<uint32_t>(length, s + 1));
    masks.push_back(std::vector<uint8_t>(length, 1));
  }
  std::string dir = make_dataset(test::temp_dir("sft_ranks"), docs, masks, 30);
  PreparedDataset dataset = PreparedDataset::open(dir);
  std::map<int32_t, int> tokens_of_sample;
  for (int rank = 0; rank < 2; ++rank) {
    LoaderOptions options;
    options.seq_len = 64;
    options.batch_size = 4;
    options.rank = rank;
    options.world_size = 2;
    auto loader = make_loader(dataset, options);
    Batch b;
    for (uint64_t s = 0; s < loader->batches_per_epoch(); ++s) {
      loader->next(b);
      for (int32_t id : b.input_ids) {
        if (id != 0) ++tokens_of_sample[id];
      }
    }
  }
  ASSERT_EQ(tokens_of_sample.size(), docs.size());
  for (uint32_t s = 0; s < docs.size(); ++s) {
    EXPECT_EQ(tokens_of_sample[static_cast<int32_t>(s + 1)], static_cast<int>(docs[s].size()))
        << "sample " << s;
  }
}

TEST(Packer, BestFitDecreasingIsValidAndTight) {
  std::vector<uint32_t> lengths = {7, 5, 5, 4, 3, 3, 2, 1};
  auto rows = pack_best_fit_decreasing(lengths, 10);
  std::set<uint32_t> placed;
  for (const auto& row : rows) {
    uint64_t used = 0;
    for (uint32_t s : row.samples) {
      EXPECT_TRUE(placed.insert(s).second);
      used += lengths[s];
    }
    EXPECT_EQ(used, row.used);
    EXPECT_LE(used, 10u);
  }
  EXPECT_EQ(placed.size(), lengths.size());
  // 30 tokens into rows of 10: BFD finds the perfect 7+3 | 5+5 | 4+3+2+1.
  EXPECT_EQ(rows.size(), 3u);
  EXPECT_DOUBLE_EQ(packing_efficiency(rows, 10), 1.0);
}

// A documented SFT-like distribution: log-normal lengths (median ~300 tokens, long tail), clipped
// to [16, 2048], 20,000 samples packed into rows of 2048 in windows of 8192 samples.
TEST(Packer, EfficiencyOnALogNormalDistribution) {
  std::mt19937_64 rng(2024);
  std::lognormal_distribution<double> dist(std::log(300.0), 0.9);
  std::vector<uint32_t> lengths;
  for (int i = 0; i < 20000; ++i) {
    lengths.push_back(static_cast<uint32_t>(std::clamp(dist(rng), 16.0, 2048.0)));
  }
  double total_used = 0;
  double total_rows = 0;
  for (size_t start = 0; start < lengths.size(); start += 8192) {
    size_t stop = std::min(lengths.size(), start + 8192);
    auto rows = pack_best_fit_decreasing(
        std::span<const uint32_t>(lengths).subspan(start, stop - start), 2048);
    for (const auto& row : rows) total_used += row.used;
    total_rows += rows.size();
  }
  double efficiency = total_used / (total_rows * 2048);
  EXPECT_GE(efficiency, 0.95) << "efficiency " << efficiency;
}

}  // namespace
}  // namespace moai::data
