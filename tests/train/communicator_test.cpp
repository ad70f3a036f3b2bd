// The single-process communicator, and the MPI one run for real under `mpirun -np 2` (this test
// binary re-launches itself with a filter that selects the child test).
#include "moai/train/communicator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace moai::train {
namespace {

TEST(Communicator, SingleProcessIsIdentity) {
  auto comm = make_single_process_communicator();
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->world_size(), 1);
  std::vector<float> data = {1.5f, -2.0f};
  comm->allreduce_average(data.data(), 2);
  EXPECT_EQ(data, (std::vector<float>{1.5f, -2.0f}));
}

TEST(Communicator, ShardRangesCoverTheBufferAligned) {
  for (int64_t count : {0, 1, 15, 16, 17, 1000, 1001}) {
    for (int world : {1, 2, 3, 4}) {
      int64_t next = 0;
      for (int rank = 0; rank < world; ++rank) {
        const ShardRange range = shard_range(count, rank, world);
        EXPECT_EQ(range.begin, next) << count << " " << world << " " << rank;
        EXPECT_GE(range.size(), 0);
        if (range.size() > 0) {
          EXPECT_EQ(range.begin % 16, 0);
        }
        next = range.end;
      }
      EXPECT_EQ(next, count) << count << " " << world;
    }
  }
  EXPECT_EQ(shard_range(1000, 1, 4).begin, 256);  // ceil(1000 / 4) = 250 -> 256
  EXPECT_EQ(shard_range(1000, 3, 4).end, 1000);
}

// Runs only inside mpirun (skipped in a normal test run).
TEST(CommunicatorMpiChild, TwoRanks) {
  if (!launched_by_mpi()) GTEST_SKIP() << "runs under mpirun only";
  auto comm = make_mpi_communicator();
  ASSERT_EQ(comm->world_size(), 2);
  const int rank = comm->rank();
  std::vector<float> values(10, static_cast<float>(rank + 1));  // 1 on rank 0, 2 on rank 1
  comm->allreduce_sum_bucketed(values.data(), 10, 3);           // several buckets
  for (float value : values) EXPECT_EQ(value, 3.0f);
  std::vector<float> average = {static_cast<float>(rank) * 4.0f};
  comm->allreduce_average(average.data(), 1);
  EXPECT_EQ(average[0], 2.0f);
  double count = 10.0 + rank;
  comm->allreduce_sum(&count, 1);
  EXPECT_EQ(count, 21.0);
  int64_t flag = rank == 1 ? 7 : 0;
  comm->allreduce_max(&flag, 1);
  EXPECT_EQ(flag, 7);
  char text[6] = "xxxxx";
  if (rank == 0) std::snprintf(text, sizeof(text), "root!");
  comm->broadcast(text, sizeof(text), 0);
  EXPECT_STREQ(text, "root!");
  // ZeRO-1: reduce-scatter then all-gather is an all-reduce. 37 floats: shards 0..31 and 32..36.
  std::vector<float> grads(37);
  for (size_t i = 0; i < grads.size(); ++i) grads[i] = static_cast<float>(i) * (rank + 1);
  comm->reduce_scatter_sum(grads.data(), 37);
  const ShardRange mine = shard_range(37, rank, 2);
  EXPECT_EQ(mine.size(), rank == 0 ? 32 : 5);
  for (int64_t i = mine.begin; i < mine.end; ++i) EXPECT_EQ(grads[size_t(i)], 3.0f * i) << i;
  for (int64_t i = 0; i < 37; ++i)
    if (i < mine.begin || i >= mine.end) grads[size_t(i)] = -1.0f;  // others' shards: garbage
  comm->all_gather(grads.data(), 37);
  for (int64_t i = 0; i < 37; ++i) EXPECT_EQ(grads[size_t(i)], 3.0f * i) << i;
  comm->barrier();
}

// "Slow" in the suite name keeps it out of the ASan pass (OpenMPI's own allocations trip
// LeakSanitizer).
TEST(CommunicatorMpiSlow, TwoRanksUnderMpirun) {
  if (launched_by_mpi()) GTEST_SKIP() << "already inside mpirun";
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun not installed";
  char self[4096] = {};
  const ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
  ASSERT_GT(length, 0);
  const std::string command = std::string("mpirun --allow-run-as-root --oversubscribe -np 2 ") +
                              self +
                              " --gtest_filter=CommunicatorMpiChild.TwoRanks > /dev/null 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

}  // namespace
}  // namespace moai::train
