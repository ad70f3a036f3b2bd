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
