// `moai serve` end to end: the binary on a tiny random model, hit with raw HTTP (bad input,
// disconnects, overload) and with the official OpenAI npm client (tests/infer/openai_client.mjs)
// when it is installed.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "infer_fixtures.h"
#include "moai/core/file_util.h"
#include "test_paths.h"

namespace moai::infer {
namespace {

using nlohmann::json;

// Where `npm install openai` put the package: $MOAI_NODE_MODULES, tests/peers/node_modules
// (installed by tests/peers/install.sh, which .ci/run calls), ../shared/peers/node_modules,
// /tmp/peers.
std::string openai_package_dir() {
  std::vector<std::string> roots;
  if (const char* env = std::getenv("MOAI_NODE_MODULES")) roots.push_back(env);
  roots.push_back(test::source_dir() + "/tests/peers/node_modules");
  if (!test::shared_dir().empty()) roots.push_back(test::shared_dir() + "/peers/node_modules");
  roots.push_back("/tmp/peers/node_modules");
  for (const auto& r : roots)
    if (file_exists(r + "/openai/index.mjs")) return r + "/openai";
  return "";
}

class ServeE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    MOAI_REQUIRE_ASSETS();
    if (!file_exists(test::moai_binary())) GTEST_SKIP() << "moai binary not built";
    dir_ = test::temp_dir("serve_model");
    test::TinyModelSpec spec;
    spec.tokenizer_json = test::assets_dir() + "/moai_kor_eng/tokenizer.json";
    spec.dtype = "BF16";  // also covers loading bf16 weights
    test::write_tiny_model(dir_, spec);
  }
  std::unique_ptr<test::Child> start(std::vector<std::string> extra) {
    std::vector<std::string> argv{test::moai_binary(), "serve", "--model_path", dir_, "--port", "0",
                                  "--threads",         "1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto child = std::make_unique<test::Child>(argv);
    const std::string out = child->read_stdout_until("\n", 60000);
    const size_t at = out.find("listening on http://127.0.0.1:");
    EXPECT_NE(at, std::string::npos) << out << child->drain_stderr();
    if (at != std::string::npos) port_ = std::stoi(out.substr(at + 30));
    return child;
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }
  std::string dir_;
  int port_ = 0;
};

const char* kChat =
    R"({"messages": [{"role": "user", "content": "hello"}], "max_tokens": 6, "temperature": 0})";

TEST_F(ServeE2E, BadInputGetsOpenAiErrorsAndTheServerKeepsServing) {
  auto server = start({"--max_context", "64"});
  auto c = client();
  auto expect = [&](const std::string& body, int status, const std::string& param) {
    auto res = c.Post("/v1/chat/completions", body, "application/json");
    ASSERT_TRUE(res) << "no response for " << body;
    EXPECT_EQ(res->status, status) << body << " -> " << res->body;
    const json j = json::parse(res->body);
    EXPECT_TRUE(j["error"]["message"].is_string()) << res->body;
    if (!param.empty()) {
      EXPECT_EQ(j["error"]["param"], param) << res->body;
    }
  };
  expect("{not json", 400, "");
  expect(R"({"messages": 5})", 400, "messages");
  expect(R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": "ten"})", 400,
         "max_tokens");
  expect(R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 99999999999})", 400,
         "max_tokens");
  std::string long_text;
  for (int i = 0; i < 200; ++i) long_text += "word ";
  expect(R"({"messages": [{"role": "user", "content": ")" + long_text + R"("}]})", 400, "messages");
  auto res =
      c.Post("/v1/completions", R"({"prompt": "a b c", "max_tokens": 64})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;  // prompt + max_tokens > context 64
  res = c.Get("/v1/nothing");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_TRUE(json::parse(res->body)["error"].is_object());

  // Client disconnect mid-stream: read one chunk, then drop the connection.
  {
    httplib::Client s("127.0.0.1", port_);
    int chunks = 0;
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = R"({"prompt": "go", "max_tokens": 50, "stream": true})";
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 2; };
    s.send(req);
    EXPECT_GE(chunks, 1);
  }
  // Still serving, correctly.
  res = c.Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = c.Post("/v1/chat/completions", kChat, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json ok = json::parse(res->body);
  EXPECT_EQ(ok["object"], "chat.completion");
  EXPECT_LE(ok["usage"]["completion_tokens"].get<int>(), 6);
  server->signal(SIGINT);
  EXPECT_EQ(server->wait(30000), 0) << server->drain_stderr();
}

TEST_F(ServeE2E, FullQueueAnswers429AndEveryAcceptedRequestCompletes) {
  // One request decoding at a time, one waiting: the other four of six get 429.
  auto server = start({"--max_queue", "1", "--max_batch", "1", "--max_context", "4096"});
  std::atomic<int> ok{0}, busy{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      auto c = client();
      auto r = c.Post("/v1/completions", R"({"prompt": "x", "max_tokens": 400, "temperature": 1})",
                      "application/json");
      if (r && r->status == 200) {
        ++ok;
      } else if (r && r->status == 429) {
        EXPECT_EQ(json::parse(r->body)["error"]["code"], "queue_full");
        ++busy;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GE(ok.load(), 1);
  EXPECT_GE(busy.load(), 1);
  EXPECT_EQ(other.load(), 0);
  server->signal(SIGINT);
  EXPECT_EQ(server->wait(60000), 0) << server->drain_stderr();
}

TEST_F(ServeE2E, ConcurrentRequestsAreDecodedTogetherWithTheSameResults) {
  auto server = start({"--max_batch", "4", "--max_context", "512"});
  const std::vector<std::string> prompts = {"The weather", "A long time ago, in a distant",
                                            "Seoul is", "1 2 3 4 5"};
  auto body = [](const std::string& prompt) {
    return json{{"prompt", prompt}, {"max_tokens", 24}, {"temperature", 0}, {"stop", json::array()}}
        .dump();
  };
  // Alone, one after another...
  std::vector<std::string> alone;
  for (const auto& p : prompts) {
    auto r = client().Post("/v1/completions", body(p), "application/json");
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no response");
    alone.push_back(json::parse(r->body)["choices"][0]["text"]);
  }
  // ...then all at once, twice: greedy decoding gives each prompt the same text.
  for (int round = 0; round < 2; ++round) {
    std::vector<std::string> together(prompts.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < prompts.size(); ++i)
      threads.emplace_back([&, i] {
        auto r = client().Post("/v1/completions", body(prompts[i]), "application/json");
        if (r && r->status == 200) together[i] = json::parse(r->body)["choices"][0]["text"];
      });
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < prompts.size(); ++i)
      EXPECT_EQ(together[i], alone[i]) << "prompt " << i << ", round " << round;
  }
  auto health = client().Get("/health");
  ASSERT_TRUE(health && health->status == 200);
  const json h = json::parse(health->body);
  EXPECT_EQ(h["max_batch"], 4);
  EXPECT_GE(h["peak_batch"].get<int>(), 2) << "concurrent requests were never decoded together";
  server->signal(SIGINT);
  EXPECT_EQ(server->wait(60000), 0) << server->drain_stderr();
}

TEST_F(ServeE2E, OfficialOpenAiClientChatStreamingAndErrors) {
  const std::string pkg = openai_package_dir();
  std::string node_version;
  if (pkg.empty() || test::run_command("node --version", &node_version) != 0)
    GTEST_SKIP()
        << "the openai npm package is not installed (npm install openai in ../shared/peers or "
           "/tmp/peers, or set MOAI_NODE_MODULES)";
  auto server = start({"--api_key", "sekrit", "--max_context", "256"});
  const std::string model = std::filesystem::path(dir_).filename().string();
  std::string out, err;
  const int code =
      test::run_command("node " + test::source_dir() + "/tests/infer/openai_client.mjs " + pkg +
                            " http://127.0.0.1:" + std::to_string(port_) + "/v1 sekrit " + model,
                        &out, &err);
  EXPECT_EQ(code, 0) << out << err;
  EXPECT_NE(out.find("\"ok\":true"), std::string::npos) << out << err;
  std::printf("%s", out.c_str());
  server->signal(SIGINT);
  EXPECT_EQ(server->wait(30000), 0) << server->drain_stderr();
}

}  // namespace
}  // namespace moai::infer
