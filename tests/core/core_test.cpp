#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/hash.h"
#include "moai/core/mmap_file.h"
#include "moai/core/progress.h"
#include "moai/core/safetensors.h"
#include "moai/core/thread_pool.h"
#include "test_paths.h"

namespace moai {
namespace {

TEST(Error, InputErrorExitsWithTwoAndNamesTheLocation) {
  try {
    throw_input_error(file_line("data.jsonl", 12), "\"text\" is a number, expected a string");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_STREQ(e.what(), "data.jsonl:12: \"text\" is a number, expected a string");
  }
}

TEST(Error, CheckThrowsInternalError) {
  EXPECT_THROW(MOAI_CHECK(1 + 1 == 3), InternalError);
}

TEST(ThreadPool, ParallelForVisitsEveryIndexOnce) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  pool.parallel_for(hits.size(), [&](size_t i) { hits[i]++; });
  for (auto& hit : hits) EXPECT_EQ(hit.load(), 1);
}

TEST(ThreadPool, ParallelForRethrows) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.parallel_for(10,
                                 [](size_t i) {
                                   if (i == 7) throw InputError("bad");
                                 }),
               InputError);
}

TEST(FileUtil, AtomicWriteReplacesAndLeavesNoTemporary) {
  const std::string dir = test::temp_dir("atomic_write");
  const std::string path = dir + "/out.txt";
  write_file_atomic(path, "first");
  write_file_atomic(path, "second");
  EXPECT_EQ(read_file(path), "second");
  int entries = 0;
  for (auto& entry : std::filesystem::directory_iterator(dir)) entries += entry.is_regular_file();
  EXPECT_EQ(entries, 1);
}

TEST(FileUtil, FailedWriterKeepsTheOldFile) {
  const std::string path = test::temp_dir("atomic_fail") + "/keep.txt";
  write_file_atomic(path, "precious");
  EXPECT_THROW(write_file_atomic(path,
                                 [](std::ostream& out) {
                                   out << "partial";
                                   throw IoError("simulated");
                                 }),
               IoError);
  EXPECT_EQ(read_file(path), "precious");
}

TEST(MappedFile, MapsContentsAndRejectsMissingFiles) {
  const std::string path = test::temp_dir("mmap") + "/f.bin";
  write_file_atomic(path, "hello");
  MappedFile file(path);
  EXPECT_EQ(file.text(), "hello");
  EXPECT_THROW(MappedFile(path + ".missing"), InputError);
  const std::string empty = path + ".empty";
  write_file_atomic(empty, "");
  EXPECT_EQ(MappedFile(empty).size(), 0u);
}

TEST(Hash, Fnv1aMatchesTheGoldenDefinition) {
  // h = 0x811c9dc5; h = (h ^ id) * 16777619 mod 2^32, computed by hand for ids {1, 2}.
  const std::vector<uint32_t> ids = {1, 2};
  uint32_t expected = 0x811c9dc5u;
  expected = (expected ^ 1u) * 16777619u;
  expected = (expected ^ 2u) * 16777619u;
  EXPECT_EQ(fnv1a32_ids(ids), expected);
  EXPECT_EQ(fnv1a32_ids({}), 0x811c9dc5u);
}

TEST(Hash, ContentHashIsStableAndSensitive) {
  EXPECT_EQ(hash_bytes_hex("abc"), hash_bytes_hex("abc"));
  EXPECT_NE(hash_bytes_hex("abc"), hash_bytes_hex("abd"));
  EXPECT_EQ(hash_bytes_hex("abc").size(), 32u);
}

TEST(Progress, FormatsBytesAndDurations) {
  EXPECT_EQ(format_bytes(999), "999 B");
  EXPECT_EQ(format_bytes(1500000), "1.5 MB");
  EXPECT_EQ(format_duration(62), "1:02");
  EXPECT_EQ(format_duration(3723), "1:02:03");
}

// I8 bytes are two's complement; U8 bytes are not.
TEST(Safetensors, IntegerBytesWidenWithTheirSign) {
  const std::string header = R"({"i":{"dtype":"I8","shape":[4],"data_offsets":[0,4]},)"
                             R"("u":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})";
  std::vector<uint8_t> file(8 + header.size());
  const uint64_t length = header.size();
  std::memcpy(file.data(), &length, 8);
  std::memcpy(file.data() + 8, header.data(), header.size());
  for (uint8_t byte : {0x00, 0x7F, 0x80, 0xFF, 0x00, 0x7F, 0x80, 0xFF}) file.push_back(byte);
  const SafetensorsFile st(file, "test.safetensors");
  std::vector<int64_t> out(4);
  st.find("i")->to_i64(out.data(), "test");
  EXPECT_EQ(out, (std::vector<int64_t>{0, 127, -128, -1}));
  st.find("u")->to_i64(out.data(), "test");
  EXPECT_EQ(out, (std::vector<int64_t>{0, 127, 128, 255}));
}

}  // namespace
}  // namespace moai
