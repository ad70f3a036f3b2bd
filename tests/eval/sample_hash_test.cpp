// doc_hash / prompt_hash / target_hash of samples_<task>.jsonl against CPython's json.dumps and
// hashlib (tests/eval/make_hash_reference.py -> tests/eval/data/sample_hashes.json): non-ASCII
// text, control characters, floats of every repr form, big integers, nested and empty containers,
// keys out of sorted order, SHA-256 padding boundaries, and the evaluator's own sample record.
#include <gtest/gtest.h>

#include "eval_test_util.h"
#include "moai/eval/eval_model.h"
#include "moai/eval/evaluator.h"
#include "moai/eval/sample_hash.h"

namespace moai::eval {
namespace {

nlohmann::ordered_json expected() {
  std::ifstream in(test::eval_data_dir() + "/sample_hashes.json");
  return nlohmann::ordered_json::parse(in);
}

TEST(SampleHashTest, DumpsAsPythonJson) {
  const nlohmann::ordered_json want = expected();
  ASSERT_GE(want["docs"].size(), 5u);
  for (const auto& c : want["docs"]) {
    const std::string dumped = python_json_dumps(c["doc"], 2);
    EXPECT_EQ(dumped, c["dumps"].get<std::string>());
    EXPECT_EQ(sha256_hex(dumped), c["doc_hash"].get<std::string>());
  }
}

TEST(SampleHashTest, Sha256OfStrings) {
  const nlohmann::ordered_json want = expected();
  for (const auto& c : want["strings"])
    EXPECT_EQ(sha256_hex(c["string"].get<std::string>()), c["hash"].get<std::string>())
        << c["string"].get<std::string>().size() << " bytes";
  for (const auto& c : want["targets"]) {
    EXPECT_EQ(python_str(c["target"]), c["str"].get<std::string>());
    EXPECT_EQ(sha256_hex(python_str(c["target"])), c["hash"].get<std::string>());
  }
}

TEST(SampleHashTest, EvaluatorWritesTheHashes) {
  const nlohmann::ordered_json want = expected();
  const nlohmann::json ref = test::read_json(test::eval_data_dir() + "/reference.json");
  const nlohmann::json& ref_doc = ref["runs"][0]["tasks"]["arc_easy"]["docs"][0];
  EvalModelOptions model_options;
  model_options.threads = 1;
  EvalModel model = load_eval_model(test::eval_data_dir() + "/tiny_model", model_options);
  EvalOptions options;
  options.limit = 1;
  options.log_samples = true;
  const EvalResults results = evaluate(*model.scorer, *model.tokenizer, {"arc_easy"},
                                       {test::eval_data_dir() + "/datasets"}, options);
  const nlohmann::ordered_json& got = results.tasks.at(0).sample_records.at(0);
  EXPECT_EQ(got["doc_hash"], want["arc_easy_first"]["doc_hash"].get<std::string>());
  // The twin's context string (its first request's arguments[0]) and str(gold).
  EXPECT_EQ(got["prompt_hash"], sha256_hex(ref_doc["arguments"][0][0].get<std::string>()));
  EXPECT_EQ(got["target_hash"], sha256_hex(std::to_string(ref_doc["gold"].get<int>())));
  // lm-eval's key order: the hashes follow "metrics", then the per-item metric values.
  std::vector<std::string> keys;
  for (auto it = got.begin(); it != got.end(); ++it) keys.push_back(it.key());
  const std::vector<std::string> order = {
      "doc_id",  "doc",      "target",      "arguments",   "resps", "filtered_resps", "filter",
      "metrics", "doc_hash", "prompt_hash", "target_hash", "acc",   "acc_norm"};
  EXPECT_EQ(keys, order);
}

}  // namespace
}  // namespace moai::eval
