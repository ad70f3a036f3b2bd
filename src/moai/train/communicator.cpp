#include "moai/train/communicator.h"

#include <algorithm>
#include <cstdlib>

namespace moai::train {

void Communicator::abort_job(int code) {
  std::_Exit(code);
}

void Communicator::allreduce_average(float* data, int64_t count) {
  allreduce_sum_bucketed(data, count);
  if (world_size() == 1) return;
  const float inverse = 1.0f / static_cast<float>(world_size());
  for (int64_t i = 0; i < count; ++i) data[i] *= inverse;
}

void Communicator::allreduce_sum_bucketed(float* data, int64_t count, int64_t bucket_floats) {
  if (world_size() == 1) return;
  for (int64_t start = 0; start < count; start += bucket_floats)
    allreduce_sum(data + start, std::min(bucket_floats, count - start));
}

ShardRange shard_range(int64_t count, int rank, int world) {
  const int64_t piece = ((count + world - 1) / world + 15) / 16 * 16;
  ShardRange range;
  range.begin = std::min(count, piece * rank);
  range.end = std::min(count, range.begin + piece);
  return range;
}

namespace {

class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string name() const override { return "single process"; }
  void allreduce_sum(float*, int64_t) override {}
  void allreduce_sum(double*, int64_t) override {}
  void allreduce_max(int64_t*, int64_t) override {}
  void broadcast(void*, size_t, int) override {}
  void barrier() override {}
  void reduce_scatter_sum(float*, int64_t) override {}
  void all_gather(float*, int64_t) override {}
  void reduce_scatter_sum_range(float*, int64_t, int64_t, int64_t) override {}
};

}  // namespace

std::unique_ptr<Communicator> make_single_process_communicator() {
  return std::make_unique<SingleProcessCommunicator>();
}

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

}  // namespace moai::train
