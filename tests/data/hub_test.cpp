// The Hub client, the shared cache and name/config/split resolution, against the Hub double
// (hub_double.h); split slicing and file-name split inference as HF `datasets` does them.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "hub_double.h"
#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/data/hub_dataset.h"
#include "moai/data/prepare.h"
#include "moai/data/record_reader.h"
#include "test_paths.h"

namespace moai::data {
namespace {

namespace fs = std::filesystem;
using hub::HubClient;
using hub::HubEnv;
using moai::testing::HubDouble;

class HubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    double_.add_standard_repos();
    cache_ = test::temp_dir("hub_cache");
    env_.endpoint = double_.endpoint();
    env_.cache_dir = cache_;
    env_.retry_base_ms = 1;
    env_.max_retries = 3;
  }

  HubEnv offline_env() const {
    HubEnv env = env_;
    env.offline = true;
    env.endpoint = "http://127.0.0.1:9";  // nothing listens: any request would fail
    return env;
  }

  // The texts of `sources` as the readers deliver them, with the sources' slices applied.
  static std::vector<std::string> texts_of(const hub::DatasetSources& sources) {
    PrepareOptions options;
    options.inputs = sources.inputs;
    options.slices = sources.slices;
    std::vector<uint64_t> totals;
    for (const auto& s : sources.slices) totals.push_back(count_records(options, s.files));
    RowSelector selector(sources.slices, totals);
    std::vector<std::string> out;
    read_texts(sources.inputs, ReaderOptions{},
               [&](std::string_view text, const std::string& file, long long) {
                 if (selector.keep(file)) out.emplace_back(text);
               });
    return out;
  }

  HubDouble double_;
  std::string cache_;
  HubEnv env_;
};

TEST(SplitSpecTest, ParsesHfSyntax) {
  auto parts = parse_split_spec("train[:10%]+validation", "--split");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].text(), "train[:10%]");
  EXPECT_TRUE(parts[0].percent);
  EXPECT_EQ(parts[1].text(), "validation");
  EXPECT_EQ(parse_split_spec("test[-3:]", "x")[0].text(), "test[-3:]");
  for (const char* bad :
       {"train[5]", "train[a:b]", "train[:10%", "train[1%:5]", "train[:101%]", "", "tr ain[x]"}) {
    EXPECT_THROW(parse_split_spec(bad, "--split"), InputError) << bad;
  }
}

TEST(SplitSpecTest, RoundsPercentToClosestTiesToEven) {
  // datasets' ReadInstruction, rounding "closest": int(round(pct * n / 100)).
  auto range = [](const std::string& spec, uint64_t n) {
    return parse_split_spec(spec, "x")[0].resolve(n);
  };
  EXPECT_EQ(range("train[:25%]", 10), std::make_pair(uint64_t{0}, uint64_t{2}));  // 2.5 -> 2
  EXPECT_EQ(range("train[:35%]", 10), std::make_pair(uint64_t{0}, uint64_t{4}));  // 3.5 -> 4
  EXPECT_EQ(range("train[:1%]", 150), std::make_pair(uint64_t{0}, uint64_t{2}));  // 1.5 -> 2
  EXPECT_EQ(range("train[:1%]", 49), std::make_pair(uint64_t{0}, uint64_t{0}));   // 0.49 -> 0
  EXPECT_EQ(range("train[-30%:]", 10), std::make_pair(uint64_t{7}, uint64_t{10}));
  EXPECT_EQ(range("train[10:20]", 15), std::make_pair(uint64_t{10}, uint64_t{15}));
  EXPECT_EQ(range("train[-5:-2]", 4), std::make_pair(uint64_t{0}, uint64_t{2}));
  EXPECT_EQ(range("train[8:3]", 10), std::make_pair(uint64_t{8}, uint64_t{8}));
}

TEST(HubFilesTest, InfersSplitsFromFileNames) {
  using hub::RepoFile;
  auto splits = hub::infer_splits({{"README.md", 1},
                                   {"data/train-00000-of-00002.parquet", 1},
                                   {"data/train-00001-of-00002.parquet", 1},
                                   {"data/validation-00000-of-00001.parquet", 1},
                                   {"wiki.test.txt", 1},
                                   {"notes/attrain.json", 1}});
  ASSERT_EQ(splits.size(), 3u);
  EXPECT_EQ(splits[0].split, "train");
  EXPECT_EQ(splits[0].files.size(), 2u);  // "attrain" names no split
  EXPECT_EQ(splits[1].split, "validation");
  EXPECT_EQ(splits[2].split, "test");
  EXPECT_EQ(splits[2].files[0].path, "wiki.test.txt");

  auto by_dir = hub::infer_splits({{"dev/a.csv", 1}, {"train/b.csv", 1}, {"train/c.csv", 1}});
  ASSERT_EQ(by_dir.size(), 2u);
  EXPECT_EQ(by_dir[0].split, "train");
  EXPECT_EQ(by_dir[1].split, "validation");

  auto all = hub::infer_splits({{"corpus.jsonl", 1}, {"script.py", 1}});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].split, "train");
  EXPECT_EQ(all[0].files.size(), 1u);
}

TEST(HubFilesTest, GlobsAsFsspec) {
  EXPECT_TRUE(hub::glob_match("data/train-*", "data/train-00000-of-00001.parquet"));
  EXPECT_FALSE(hub::glob_match("data/*", "data/sub/x.json"));
  EXPECT_TRUE(hub::glob_match("data/**", "data/sub/x.json"));
  EXPECT_TRUE(hub::glob_match("**/*.jsonl", "a.jsonl"));
  EXPECT_TRUE(hub::glob_match("part-[0-9].txt", "part-3.txt"));
  EXPECT_FALSE(hub::glob_match("part-[!0-9].txt", "part-3.txt"));
}

TEST(HubFilesTest, CardConfigs) {
  const std::string card =
      "---\nconfigs:\n- config_name: a\n  data_files:\n  - split: train\n    path:\n    - x/*.csv\n"
      "  default: true\n- config_name: b\n  data_files: y.jsonl\n---\ntext\n";
  auto configs = hub::parse_card_configs(card, "README.md");
  ASSERT_EQ(configs.size(), 2u);
  EXPECT_EQ(configs[0].name, "a");
  EXPECT_TRUE(configs[0].is_default);
  EXPECT_EQ(configs[0].splits[0].patterns, std::vector<std::string>{"x/*.csv"});
  EXPECT_EQ(configs[1].splits[0].split, "train");
  EXPECT_TRUE(hub::parse_card_configs("# no front matter\n", "README.md").empty());
  EXPECT_THROW(hub::parse_card_configs("---\nconfigs: [\n---\n", "README.md"), InputError);
}

TEST_F(HubTest, DownloadsIntoThePythonCacheLayout) {
  env_.token = "hf_test_token";
  HubClient client(env_, "moai-test/tiny-text");
  const std::string path = client.download("plain/train-00001-of-00002.jsonl");
  const std::string repo = cache_ + "/datasets--moai-test--tiny-text";
  const std::string commit = "1111111111111111111111111111111111111111";
  EXPECT_EQ(path, repo + "/snapshots/" + commit + "/plain/train-00001-of-00002.jsonl");
  EXPECT_EQ(read_file(repo + "/refs/main"), commit);
  ASSERT_TRUE(fs::is_symlink(path));
  const std::string etag = HubDouble::etag_of(read_file(path));
  EXPECT_EQ(fs::read_symlink(path).string(), "../../../blobs/" + etag);  // relative
  EXPECT_TRUE(fs::is_regular_file(repo + "/blobs/" + etag));
  EXPECT_FALSE(fs::exists(repo + "/blobs/" + etag + ".incomplete"));
  EXPECT_TRUE(fs::exists(cache_ + "/.locks/datasets--moai-test--tiny-text/" + etag + ".lock"));
  // The large file came from the CDN, without the token.
  const auto auth = double_.cdn_authorization_headers();
  ASSERT_EQ(auth.size(), 1u);
  EXPECT_EQ(auth[0], "");
  // A small file is stored under its (git) ETag, straight from the Hub.
  const std::string readme = client.download("README.md");
  EXPECT_EQ(fs::read_symlink(readme).parent_path().string(), "../../blobs");
  EXPECT_EQ(double_.cdn_authorization_headers().size(), 1u);
}

TEST_F(HubTest, ResolvesCardConfigsAndWorksOfflineAfterwards) {
  hub::DatasetSelection selection;
  selection.show_progress = false;
  auto sources = hub::resolve_dataset_sources({"moai-test/tiny-text"}, selection, env_);
  ASSERT_EQ(sources.inputs.size(), 2u);  // default config "plain", split train: two files
  EXPECT_EQ(texts_of(sources).size(), 12u);

  selection.config = "lines";
  auto lines = hub::resolve_dataset_sources({"moai-test/tiny-text"}, selection, env_);
  EXPECT_EQ(texts_of(lines),
            (std::vector<std::string>{"first block of lines", "second block of lines"}));

  // The tree listing paginates: more than one request per listing.
  EXPECT_GE(double_.tree_requests(), 3);

  // Offline: the same selections resolve from the cache alone.
  const int api_before = double_.api_requests();
  auto offline = hub::resolve_dataset_sources({"moai-test/tiny-text"}, selection, offline_env());
  EXPECT_EQ(texts_of(offline), texts_of(lines));
  EXPECT_EQ(double_.api_requests(), api_before);
  // Not offline but unreachable: the cached revision and files serve, with a warning.
  HubEnv unreachable = offline_env();
  unreachable.offline = false;
  auto fallback = hub::resolve_dataset_sources({"moai-test/tiny-text"}, selection, unreachable);
  EXPECT_EQ(texts_of(fallback), texts_of(lines));
  selection.config = "";
  selection.split = "validation";  // never downloaded
  try {
    hub::resolve_dataset_sources({"moai-test/tiny-text"}, selection, offline_env());
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("HF_HUB_OFFLINE"), std::string::npos) << e.what();
  }
}

TEST_F(HubTest, SplitSlicesPickTheRightRows) {
  hub::DatasetSelection selection;
  selection.show_progress = false;
  selection.split = "train[2:5]";
  auto sliced = hub::resolve_dataset_sources({"moai-test/tiny-text"}, selection, env_);
  EXPECT_EQ(texts_of(sliced),
            (std::vector<std::string>{"plain train a 2", "plain train a 3", "plain train a 4"}));
  selection.split = "train[-25%:]+validation[:1]";  // 12 records: 25% = 3
  auto tail = hub::resolve_dataset_sources({"moai-test/tiny-text"}, selection, env_);
  EXPECT_EQ(texts_of(tail), (std::vector<std::string>{"plain train b 3", "plain train b 4",
                                                      "plain train b 5", "plain validation 0"}));
  selection.split = "train[:2]+train[5:6]";  // one file in two parts: refused, not misread
  EXPECT_THROW(hub::resolve_dataset_sources({"moai-test/tiny-text"}, selection, env_), InputError);
  selection.split = "nosuch";
  EXPECT_THROW(hub::resolve_dataset_sources({"moai-test/tiny-text"}, selection, env_), InputError);
}

TEST_F(HubTest, BoundedSliceDownloadsOnlyTheFilesItNeeds) {
  hub::DatasetSelection selection;
  selection.show_progress = false;
  selection.split = "train[:4]";
  selection.count_records = [](const std::string& path) {
    PrepareOptions options;
    return count_records(options, {path});
  };
  auto sources = hub::resolve_dataset_sources({"moai-test/tiny-text"}, selection, env_);
  EXPECT_EQ(sources.inputs.size(), 1u);
  EXPECT_EQ(double_.cdn_authorization_headers().size(), 0u);  // the second (CDN) file not fetched
  EXPECT_EQ(texts_of(sources).size(), 4u);
}

TEST_F(HubTest, ReusesACacheLaidOutByPython) {
  // huggingface_hub's layout, written by hand: refs/main, blobs/<etag>, a relative snapshot
  // symlink.
  const std::string repo = cache_ + "/datasets--moai-test--tiny-chat";
  const std::string commit = "2222222222222222222222222222222222222222";
  const std::string content =
      "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, "
      "{\"role\": \"assistant\", \"content\": \"from python\"}]}\n";
  fs::create_directories(repo + "/refs");
  fs::create_directories(repo + "/blobs");
  fs::create_directories(repo + "/snapshots/" + commit + "/data");
  std::ofstream(repo + "/refs/main") << commit;
  const std::string etag = HubDouble::etag_of(content);
  std::ofstream(repo + "/blobs/" + etag) << content;
  fs::create_symlink("../../../blobs/" + etag, repo + "/snapshots/" + commit + "/data/train.jsonl");
  hub::DatasetSelection selection;
  selection.show_progress = false;
  auto offline = hub::resolve_dataset_sources({"moai-test/tiny-chat"}, selection, offline_env());
  ASSERT_EQ(offline.inputs.size(), 1u);
  EXPECT_EQ(read_file(offline.inputs[0]), content);
  // Online, a blob already in the cache under the Hub's ETag is not fetched again.
  const std::string real =
      read_file(HubClient(offline_env(), "moai-test/tiny-chat").download("data/train.jsonl"));
  HubEnv other = env_;
  other.cache_dir = test::temp_dir("hub_cache_python");
  const std::string fetched =
      read_file(HubClient(other, "moai-test/tiny-chat").download("data/train.jsonl"));
  const std::string other_repo = other.cache_dir + "/datasets--moai-test--tiny-chat";
  fs::remove(other_repo + "/snapshots/" + commit + "/data/train.jsonl");  // keep only the blob
  HubClient(other, "moai-test/tiny-chat").download("data/train.jsonl");
  EXPECT_EQ(double_.cdn_downloads(fetched), 1);
  EXPECT_EQ(real, content);
}

TEST_F(HubTest, InterruptedDownloadResumesWithRange) {
  HubClient client(env_, "moai-test/tiny-chat");
  const std::string expected_start = "{\"messages\"";
  // Find the content through a first client to learn it, then cut the real download.
  HubEnv other = env_;
  other.cache_dir = test::temp_dir("hub_cache_peek");
  const std::string content =
      read_file(HubClient(other, "moai-test/tiny-chat").download("data/train.jsonl"));
  double_.cut_next_download(content, 100);
  const std::string path = client.download("data/train.jsonl");
  EXPECT_EQ(read_file(path), content);
  const auto ranges = double_.cdn_range_headers();
  ASSERT_EQ(ranges.size(), 3u);  // peek, the cut one, the resumed one
  EXPECT_EQ(ranges[1], "");
  EXPECT_EQ(ranges[2], "bytes=100-");
}

TEST_F(HubTest, ConcurrentDownloadsFetchOnce) {
  double_.set_cdn_delay_ms(300);
  std::string a, b;
  std::thread first(
      [&] { a = HubClient(env_, "moai-test/tiny-chat").download("data/train.jsonl", false); });
  std::thread second(
      [&] { b = HubClient(env_, "moai-test/tiny-chat").download("data/train.jsonl", false); });
  first.join();
  second.join();
  EXPECT_EQ(a, b);
  EXPECT_EQ(double_.cdn_downloads(read_file(a)), 1);
}

TEST_F(HubTest, GatedRepoNeedsTheToken) {
  try {
    HubClient(env_, "moai-test/gated").commit();
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("moai-test/gated"), std::string::npos) << what;
    EXPECT_NE(what.find("HF_TOKEN"), std::string::npos) << what;
    EXPECT_NE(what.find("401"), std::string::npos) << what;
  }
  env_.token = "hf_test_token";
  hub::DatasetSelection selection;
  selection.show_progress = false;
  auto sources = hub::resolve_dataset_sources({"moai-test/gated"}, selection, env_);
  EXPECT_EQ(texts_of(sources).size(), 2u);
}

TEST_F(HubTest, ClearErrorsForMissingThings) {
  auto message = [&](const std::string& name, const std::string& config) {
    hub::DatasetSelection selection;
    selection.config = config;
    selection.show_progress = false;
    try {
      hub::resolve_dataset_sources({name}, selection, env_);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("moai-test/nope", "").find("no such dataset"), std::string::npos);
  env_.token = "hf_test_token";
  EXPECT_NE(message("moai-test/nope", "").find("no such dataset"), std::string::npos);
  env_.token.clear();
  EXPECT_NE(message("moai-test/tiny-text", "wrong").find("plain, lines"), std::string::npos);
  EXPECT_NE(message("moai-test/script-only", "").find("script"), std::string::npos);
  EXPECT_NE(message("/no/such/dir/x.jsonl", "").find("no such file"), std::string::npos);
  EXPECT_NE(message("data/typo.jsonl", "").find("no such file"), std::string::npos);
  EXPECT_NE(message("a/b/c", "").find("neither a local path"), std::string::npos);
  EXPECT_THROW(HubClient(env_, "moai-test/tiny-text").download("no/such/file.jsonl"), InputError);
}

TEST_F(HubTest, LegacyNameFollowsTheRedirect) {
  HubClient client(env_, "tinytext");
  EXPECT_EQ(client.commit(), "1111111111111111111111111111111111111111");
  const std::string path = client.download("plain/validation.jsonl");
  EXPECT_NE(read_file(path).find("plain validation 0"), std::string::npos);
}

TEST_F(HubTest, UnknownHostFailsFast) {
  env_.endpoint = "http://no-such-host.invalid";
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(HubClient(env_, "moai-test/tiny-text").commit(), InputError);
  env_.retry_base_ms = 1000;
  EXPECT_THROW(HubClient(env_, "moai-test/tiny-text").commit(), InputError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));  // no backoff
}

TEST_F(HubTest, RetriesServerErrors) {
  double_.fail_next_api_requests(2);
  EXPECT_EQ(HubClient(env_, "moai-test/tiny-chat").commit(),
            "2222222222222222222222222222222222222222");
  double_.fail_next_api_requests(10);
  EXPECT_THROW(HubClient(env_, "moai-test/tiny-text").commit(), InputError);
}

TEST_F(HubTest, ParquetConversionIsTheLastResort) {
  auto configs = [&] {
    HubClient client(env_, "moai-test/parquet-only");
    return hub::list_hub_configs(client);
  }();
  ASSERT_EQ(configs.size(), 1u);
  EXPECT_EQ(configs[0].name, "default");
  EXPECT_TRUE(configs[0].parquet_branch);
  ASSERT_EQ(configs[0].splits.size(), 2u);
  EXPECT_EQ(configs[0].splits[0].split, "test");
  EXPECT_EQ(configs[0].splits[1].split, "train");
  HubClient branch = HubClient(env_, "moai-test/parquet-only").parquet_branch();
  const std::string path = branch.download("default/train/0000.parquet");
  EXPECT_EQ(read_file(path), "PAR1 not really parquet PAR1");
  // huggingface_hub writes refs/<revision>, so the conversion branch's ref is refs/refs/convert/...
  EXPECT_EQ(read_file(cache_ + "/datasets--moai-test--parquet-only/refs/refs/convert/parquet"),
            "6666666666666666666666666666666666666666");
}

TEST_F(HubTest, InfoListsConfigsSplitsAndSizesWithoutData) {
  HubClient client(env_, "moai-test/tiny-text");
  const std::string info = hub::format_hub_info(client);
  EXPECT_NE(info.find("config plain (default), from the dataset card"), std::string::npos) << info;
  EXPECT_NE(info.find("config lines"), std::string::npos) << info;
  EXPECT_NE(info.find("split validation: 1 file(s)"), std::string::npos) << info;
  EXPECT_NE(info.find("plain/train-00001-of-00002.jsonl"), std::string::npos) << info;
  EXPECT_TRUE(double_.cdn_authorization_headers().empty());  // no data file was downloaded
}

TEST_F(HubTest, PrepareReadsAHubChatDataset) {
  const std::string tokenizer = test::assets_dir() + "/qwen3/tokenizer.json";
  if (test::assets_dir().empty() || !file_exists(tokenizer)) GTEST_SKIP() << "assets not found";
  PrepareOptions options;
  options.mode = DatasetMode::kSft;
  options.tokenizer_path = tokenizer;
  options.output_dir = test::temp_dir("hub_prepare");
  options.show_progress = false;
  hub::DatasetSelection selection;
  selection.split = "train[:50%]";
  selection.show_progress = false;
  // resolve_prepare_inputs reads the environment: go through resolve_dataset_sources instead.
  auto sources = hub::resolve_dataset_sources({"moai-test/tiny-chat"}, selection, env_);
  options.inputs = sources.inputs;
  options.slices = sources.slices;
  PrepareResult result = prepare_dataset(options);
  EXPECT_EQ(result.manifest.train.documents, 4u);
  options.slices.clear();
  EXPECT_NE(dataset_cache_key(options), result.manifest.cache_key);
}

}  // namespace
}  // namespace moai::data
