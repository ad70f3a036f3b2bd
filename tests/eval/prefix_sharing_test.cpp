// The choices of one item share their context: the scorer runs the common prefix of their input
// rows once and only each choice's remaining tokens after it, also where the left cut to
// max_length makes the rows differ; the log-likelihoods stay those of the reference twin
// (tests/eval/make_reference.py, 1e-4).
#include <gtest/gtest.h>

#include <algorithm>

#include "eval_test_util.h"
#include "moai/eval/eval_model.h"

namespace moai::eval {
namespace {

using Ids = std::vector<int32_t>;

// (context + continuation)[-(max_length + 1):][:-1], written out here independently.
Ids model_input(const TokenRequest& r, size_t max_length) {
  Ids whole = r.context;
  whole.insert(whole.end(), r.continuation.begin(), r.continuation.end());
  if (whole.size() > max_length + 1) whole.erase(whole.begin(), whole.end() - (max_length + 1));
  whole.pop_back();
  return whole;
}

struct Item {
  std::vector<TokenRequest> requests;
  std::vector<double> lls;
};

// The reference's items whose requests' inputs are (cut = true) or are not cut to max_length.
std::vector<Item> reference_items(const nlohmann::json& ref, bool cut) {
  const size_t max_length = ref["max_length"].get<size_t>();
  std::vector<Item> items;
  for (const auto& run : ref["runs"])
    for (const auto& [name, task] : run["tasks"].items())
      for (const auto& doc : task["docs"]) {
        if (!doc.contains("encodings") || name.starts_with("wikitext")) continue;
        Item item;
        bool any_cut = false;
        for (const auto& e : doc["encodings"]) {
          item.requests.push_back({e[0].get<Ids>(), e[1].get<Ids>()});
          any_cut |= e[0].size() + e[1].size() > max_length + 1;
        }
        item.lls = doc["lls"].get<std::vector<double>>();
        if (any_cut == cut && item.requests.size() > 1) items.push_back(std::move(item));
      }
  return items;
}

class PrefixSharingTest : public ::testing::TestWithParam<bool> {};

TEST_P(PrefixSharingTest, ContextRunsOncePerItem) {
  const nlohmann::json ref = test::read_json(test::eval_data_dir() + "/reference.json");
  const size_t max_length = ref["max_length"].get<size_t>();
  const std::vector<Item> items = reference_items(ref, GetParam());
  ASSERT_GE(items.size(), 3u);
  EvalModelOptions options;
  options.threads = 1;
  options.scorer.batch_size = 4;
  EvalModel model = load_eval_model(test::eval_data_dir() + "/tiny_model", options);
  int64_t unshared = 0;
  for (const Item& item : items) {
    std::vector<Ids> rows;
    for (const TokenRequest& r : item.requests) rows.push_back(model_input(r, max_length));
    // The common prefix, ending before the first position whose logits a continuation needs.
    size_t shared = rows[0].size();
    for (size_t i = 0; i < rows.size(); ++i) {
      shared = std::min(shared, rows[i].size() - item.requests[i].continuation.size());
      size_t same = 0;
      while (same < rows[i].size() && same < rows[0].size() && rows[i][same] == rows[0][same])
        ++same;
      shared = std::min(shared, same);
    }
    int64_t want = int64_t(shared);
    for (const Ids& row : rows) want += int64_t(row.size() - shared);
    for (const Ids& row : rows) unshared += int64_t(row.size());
    const int64_t before = model.scorer->tokens_forwarded();
    const std::vector<LoglikelihoodResult> got = model.scorer->loglikelihood(item.requests);
    EXPECT_EQ(model.scorer->tokens_forwarded() - before, want);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i].logprob, item.lls[i], 1e-4);
  }
  // Sharing ran fewer tokens than one row per choice would.
  EXPECT_LT(model.scorer->tokens_forwarded(), unshared);
}

// Items whose contexts share their first 30 tokens (a task's few-shot examples): within one
// loglikelihood() call, a later item copies that part of the previous item's prefix cache instead
// of recomputing it, with the log-likelihoods of scoring each item alone.
TEST(PrefixReuseTest, FewShotPrefixIsReusedAcrossItems) {
  EvalModelOptions options;
  options.threads = 1;
  options.scorer.batch_size = 4;  // one item per forward
  EvalModel model = load_eval_model(test::eval_data_dir() + "/tiny_model", options);
  const Ids fewshot = {11, 500, 32, 7, 640, 91, 13, 402, 88, 5,   300, 21, 77,  9, 150,
                       66, 812, 4,  3, 250, 17, 99, 123, 45, 600, 8,   19, 700, 2, 31};
  std::vector<TokenRequest> all;
  for (int item = 0; item < 3; ++item) {
    Ids context = fewshot;
    for (int t = 0; t < 5; ++t) context.push_back(int32_t(100 + 37 * item + 11 * t));
    for (int choice = 0; choice < 4; ++choice)
      all.push_back({context, {int32_t(200 + 50 * choice + item), int32_t(60 + choice), 42}});
  }
  int64_t separate = 0;
  std::vector<LoglikelihoodResult> alone;
  for (int item = 0; item < 3; ++item) {
    const int64_t before = model.scorer->tokens_forwarded();
    for (const LoglikelihoodResult& r :
         model.scorer->loglikelihood(std::span(all).subspan(size_t(4 * item), 4)))
      alone.push_back(r);
    separate += model.scorer->tokens_forwarded() - before;
  }
  const int64_t before = model.scorer->tokens_forwarded();
  const std::vector<LoglikelihoodResult> together = model.scorer->loglikelihood(all);
  EXPECT_EQ(model.scorer->tokens_forwarded() - before, separate - 2 * int64_t(fewshot.size()));
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_NEAR(together[i].logprob, alone[i].logprob, 1e-5) << i;
    EXPECT_EQ(together[i].is_greedy, alone[i].is_greedy) << i;
  }
}

// With --batch_size 1 every choice is a forward of its own; the context still runs once (the
// later choices copy the first one's prefix cache).
TEST(PrefixReuseTest, BatchSizeOneStillRunsTheContextOnce) {
  std::vector<TokenRequest> item;
  const Ids context = {5, 17, 300, 41, 92, 600, 13, 8, 77, 250, 3, 19};
  for (int choice = 0; choice < 4; ++choice)
    item.push_back({context, {int32_t(400 + 9 * choice), int32_t(30 + choice)}});
  std::vector<std::vector<LoglikelihoodResult>> results;
  std::vector<int64_t> forwarded;
  for (int64_t batch : {1, 4}) {
    EvalModelOptions options;
    options.threads = 1;
    options.scorer.batch_size = batch;
    EvalModel model = load_eval_model(test::eval_data_dir() + "/tiny_model", options);
    results.push_back(model.scorer->loglikelihood(item));
    forwarded.push_back(model.scorer->tokens_forwarded());
  }
  // The context minus its last token once, then each choice's last context token + continuation.
  EXPECT_EQ(forwarded[0], int64_t(context.size() - 1 + 4 * 2));
  EXPECT_EQ(forwarded[1], forwarded[0]);
  for (size_t i = 0; i < item.size(); ++i)
    EXPECT_NEAR(results[0][i].logprob, results[1][i].logprob, 1e-5) << i;
}

INSTANTIATE_TEST_SUITE_P(CutAndUncut, PrefixSharingTest, ::testing::Values(false, true));

}  // namespace
}  // namespace moai::eval
