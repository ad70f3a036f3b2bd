// End-to-end checks of `moai generate` and `moai chat` on a tiny random model (the moai binary,
// driven through pipes), plus the generation loop against the library.
#include <signal.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "infer_fixtures.h"
#include "moai/core/file_util.h"
#include "moai/infer/generator.h"
#include "moai/infer/loaded_model.h"
#include "test_paths.h"

namespace moai::infer {
namespace {

using nlohmann::json;

class InferCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (test::assets_dir().empty()) return;
    dir_ = new std::string(test::temp_dir("infer_cli_model"));
    test::TinyModelSpec spec;
    spec.tokenizer_json = test::assets_dir() + "/moai_kor_eng/tokenizer.json";
    test::write_tiny_model(*dir_, spec);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    MOAI_REQUIRE_ASSETS();
    if (!file_exists(test::moai_binary()))
      GTEST_SKIP() << "moai binary not built: " << test::moai_binary();
  }
  static std::string moai() { return test::moai_binary(); }
  static std::string* dir_;
};
std::string* InferCli::dir_ = nullptr;

TEST_F(InferCli, GenerateJsonIsGreedyDeterministicAndMatchesTheLibrary) {
  std::string out, err;
  const std::string cmd =
      moai() + " generate --model_path " + *dir_ +
      " --prompt 'Hello world' --prompt '안녕하세요' --json --temperature 0 --max_new_tokens 12";
  ASSERT_EQ(test::run_command(cmd, &out, &err), 0) << err;
  std::istringstream lines(out);
  std::vector<json> results;
  for (std::string line; std::getline(lines, line);) results.push_back(json::parse(line));
  ASSERT_EQ(results.size(), 2u) << out;
  std::string again;
  ASSERT_EQ(test::run_command(cmd, &again, &err), 0);
  EXPECT_EQ(out.substr(0, out.find("\"timings\"")), again.substr(0, again.find("\"timings\"")));

  LoadedModel lm = load_model(*dir_);
  for (const json& r : results) {
    EXPECT_LE(r["tokens"].size(), 12u);
    EXPECT_TRUE(r["finish_reason"] == "length" || r["finish_reason"] == "stop");
    EXPECT_GT(r["timings"]["decode_tokens_per_s"].get<double>(), 0.0);
    const auto prompt = lm.tokenizer->encode(r["prompt"].get<std::string>());
    EXPECT_EQ(r["prompt_tokens"].get<size_t>(), prompt.size());
    Session session(*lm.model);
    GenerateOptions options;
    options.sampling.temperature = 0;
    options.max_new_tokens = 12;
    const GenerateResult lib = generate(*lm.model, session, *lm.tokenizer, prompt, options);
    EXPECT_EQ(r["tokens"].get<std::vector<uint32_t>>(), lib.tokens);
    EXPECT_EQ(r["text"].get<std::string>(), lib.text);
    EXPECT_EQ(lib.text, lm.tokenizer->decode(lib.tokens, true));
  }
}

TEST_F(InferCli, GenerateSeededSamplingRepeatsAndPromptFileIsABatch) {
  const std::string file = test::temp_dir("infer_prompts") + "/prompts.txt";
  write_file_atomic(file, "first prompt\n\nsecond prompt\r\nthird\n");
  const std::string cmd =
      moai() + " generate --model_path " + *dir_ + " --prompt_file " + file +
      " --json --temperature 1.0 --top_k 40 --top_p 0.95 --seed 11 --max_new_tokens 6";
  std::string a, b, err;
  ASSERT_EQ(test::run_command(cmd, &a, &err), 0) << err;
  ASSERT_EQ(test::run_command(cmd, &b, &err), 0) << err;
  std::istringstream la(a), lb(b);
  int n = 0;
  for (std::string x, y; std::getline(la, x) && std::getline(lb, y); ++n)
    EXPECT_EQ(json::parse(x)["tokens"], json::parse(y)["tokens"]);
  EXPECT_EQ(n, 3);
}

TEST_F(InferCli, GenerateBadInputExitsTwoWithAClearMessage) {
  std::string out, err;
  EXPECT_EQ(test::run_command(moai() + " generate --model_path /nonexistent/model --prompt hi",
                              &out, &err),
            2);
  EXPECT_NE(err.find("/nonexistent/model"), std::string::npos) << err;
  EXPECT_EQ(test::run_command(moai() + " generate --model_path " + *dir_, &out, &err), 2);
  EXPECT_NE(err.find("--prompt"), std::string::npos) << err;
  // A prompt longer than the context.
  std::string longp(400, 'x');
  for (size_t i = 1; i < longp.size(); i += 2) longp[i] = ' ';
  EXPECT_EQ(test::run_command(moai() + " generate --model_path " + *dir_ +
                                  " --max_context 32 --prompt '" + longp + "'",
                              &out, &err),
            2);
  EXPECT_NE(err.find("context"), std::string::npos) << err;
  EXPECT_EQ(test::run_command(moai() + " generate --model_path " + *dir_ + " --prompt hi --top_p 7",
                              &out, &err),
            2);
  EXPECT_NE(err.find("top_p"), std::string::npos) << err;
  // A tokenizer larger than the model's vocabulary is a mismatch.
  EXPECT_EQ(test::run_command(moai() + " generate --model_path " + *dir_ + " --tokenizer_path " +
                                  test::assets_dir() + "/qwen3 --prompt hi",
                              &out, &err),
            2);
  EXPECT_NE(err.find("mismatched"), std::string::npos) << err;
}

TEST_F(InferCli, ChatFromAPipeRunsScriptedTurnsAndCommands) {
  test::Child chat(
      {moai(), "chat", "--model_path", *dir_, "--max_new_tokens", "5", "--temperature", "0"});
  chat.write_stdin(
      "hi there\n/system You are terse.\nhello\n\n/reset\n안녕\n/exit\nnever answered\n");
  const int code = chat.wait(60000);
  const std::string out = chat.drain_stdout(), err = chat.drain_stderr();
  EXPECT_EQ(code, 0) << err;
  size_t replies = 0;
  for (size_t at = out.find("Assistant: "); at != std::string::npos;
       at = out.find("Assistant: ", at + 1))
    ++replies;
  EXPECT_EQ(replies, 3u) << out;
  EXPECT_NE(out.find("[system prompt set]"), std::string::npos) << out;
  EXPECT_NE(out.find("[conversation reset]"), std::string::npos) << out;
  EXPECT_NE(err.find("tok/s"), std::string::npos) << err;
}

TEST_F(InferCli, ChatCtrlCStopsTheReplyButNotTheProgram) {
  // Unbounded reply length on a large context: only Ctrl-C ends the first reply early.
  test::Child chat({moai(), "chat", "--model_path", *dir_, "--max_new_tokens", "19000",
                    "--max_context", "20000", "--temperature", "1", "--no_stats"});
  chat.write_stdin("tell me everything\n");
  chat.read_stdout_until("Assistant: ", 30000);
  usleep(300000);
  chat.signal(SIGINT);
  chat.read_stdout_until("\n", 10000);  // wait until the reply line ended
  usleep(200000);
  chat.write_stdin("/exit\n");
  const int code = chat.wait(30000);
  EXPECT_EQ(code, 0) << chat.drain_stderr();
  EXPECT_NE(chat.drain_stderr().find("[stopped]"), std::string::npos) << chat.drain_stderr();
}

}  // namespace
}  // namespace moai::infer
