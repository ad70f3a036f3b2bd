// The MPI implementation of Communicator over MPI_COMM_WORLD (OpenMPI from Debian). Buffers are
// host memory; a CUDA run would stage through the host here or, better, use a NCCL communicator
// instead.
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "moai/core/error.h"
#include "moai/train/communicator.h"

namespace moai::train {
namespace {

void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char message[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, message, &length);
  throw_io_error(call, std::string(message, static_cast<size_t>(length)));
}

void finalize_mpi() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &thread_level_),
                "MPI_Init_thread");
      std::atexit(finalize_mpi);
    }
    if (initialized) MPI_Query_thread(&thread_level_);
    // Errors come back as codes we turn into exceptions instead of aborting the job silently.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &world_size_), "MPI_Comm_size");
    split_nodes();
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && node_comm_ != MPI_COMM_NULL) MPI_Comm_free(&node_comm_);
  }

  [[noreturn]] void abort_job(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort should not return
  }

  int rank() const override { return rank_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  int node_count() const override { return node_count_; }
  int world_size() const override { return world_size_; }
  std::string name() const override {
    std::string text = "mpi (" + std::to_string(world_size_) + " ranks";
    if (node_count_ > 1) text += ", " + std::to_string(node_count_) + " nodes";
    return text + ")";
  }

  void allreduce_sum(float* data, int64_t count) override {
    reduce(data, count, MPI_FLOAT, MPI_SUM, "MPI_Allreduce(float, sum)");
  }
  void allreduce_sum(double* data, int64_t count) override {
    reduce(data, count, MPI_DOUBLE, MPI_SUM, "MPI_Allreduce(double, sum)");
  }
  void allreduce_max(int64_t* data, int64_t count) override {
    reduce(data, count, MPI_INT64_T, MPI_MAX, "MPI_Allreduce(int64, max)");
  }
  void broadcast(void* data, size_t bytes, int root) override {
    auto* cursor = static_cast<char*>(data);
    while (bytes > 0) {
      const int chunk = static_cast<int>(std::min<size_t>(bytes, INT_MAX));
      check_mpi(MPI_Bcast(cursor, chunk, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
      cursor += chunk;
      bytes -= static_cast<size_t>(chunk);
    }
  }
  void barrier() override { check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

  void reduce_scatter_sum(float* data, int64_t count) override {
    const Layout layout = shard_layout(count);
    // In place, MPI leaves this rank's reduced block at the start of the buffer: move it home.
    check_mpi(MPI_Reduce_scatter(MPI_IN_PLACE, data, layout.counts.data(), MPI_FLOAT, MPI_SUM,
                                 MPI_COMM_WORLD),
              "MPI_Reduce_scatter(float, sum)");
    const int64_t begin = layout.displacements[static_cast<size_t>(rank_)];
    if (begin > 0)
      std::memmove(data + begin, data,
                   sizeof(float) * static_cast<size_t>(layout.counts[static_cast<size_t>(rank_)]));
  }
  void reduce_scatter_sum_range(float* data, int64_t count, int64_t begin, int64_t end) override {
    for (int owner = 0; owner < world_size_; ++owner) {
      const ShardRange shard = shard_range(count, owner, world_size_);
      const int64_t first = std::max(begin, shard.begin), last = std::min(end, shard.end);
      if (first >= last) continue;
      float* piece = data + first;
      check_mpi(
          MPI_Reduce(owner == rank_ ? MPI_IN_PLACE : piece, piece, static_cast<int>(last - first),
                     MPI_FLOAT, MPI_SUM, owner, MPI_COMM_WORLD),
          "MPI_Reduce(float, sum)");
    }
  }
  bool allows_comm_thread() const override { return thread_level_ >= MPI_THREAD_SERIALIZED; }
  void all_gather(float* data, int64_t count) override {
    const Layout layout = shard_layout(count);
    check_mpi(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, layout.counts.data(),
                             layout.displacements.data(), MPI_FLOAT, MPI_COMM_WORLD),
              "MPI_Allgatherv(float)");
  }

 private:
  // Ranks on one node share a communicator; the node count is the number of local rank 0s.
  void split_nodes() {
    const char* test_node = std::getenv("MOAI_TEST_NODE_ID");
    if (test_node != nullptr && *test_node != '\0') {
      char* end = nullptr;
      const long node = std::strtol(test_node, &end, 10);
      if (*end != '\0' || node < 0)
        throw_input_error(
            "MOAI_TEST_NODE_ID",
            std::string("expected a non-negative integer, got \"") + test_node + "\"");
      check_mpi(MPI_Comm_split(MPI_COMM_WORLD, static_cast<int>(node), rank_, &node_comm_),
                "MPI_Comm_split");
    } else {
      check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL,
                                    &node_comm_),
                "MPI_Comm_split_type(SHARED)");
    }
    check_mpi(MPI_Comm_rank(node_comm_, &local_rank_), "MPI_Comm_rank(node)");
    check_mpi(MPI_Comm_size(node_comm_, &local_size_), "MPI_Comm_size(node)");
    int leader = local_rank_ == 0 ? 1 : 0;
    check_mpi(MPI_Allreduce(&leader, &node_count_, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce(node count)");
  }

  struct Layout {
    std::vector<int> counts;
    std::vector<int> displacements;
  };
  // MPI counts and displacements are int: a shard beyond 2^31 floats (8 GB) is refused.
  Layout shard_layout(int64_t count) const {
    Layout layout;
    for (int r = 0; r < world_size_; ++r) {
      const ShardRange range = shard_range(count, r, world_size_);
      if (range.end > INT_MAX)
        throw_io_error("MPI", "buffer of " + std::to_string(count) +
                                  " floats is too large for one MPI sharded collective");
      layout.counts.push_back(static_cast<int>(range.size()));
      layout.displacements.push_back(static_cast<int>(range.begin));
    }
    return layout;
  }

  // MPI counts are int: larger buffers go in pieces.
  template <typename T>
  void reduce(T* data, int64_t count, MPI_Datatype type, MPI_Op op, const char* what) {
    while (count > 0) {
      const int chunk = static_cast<int>(std::min<int64_t>(count, INT_MAX / 2));
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, data, chunk, type, op, MPI_COMM_WORLD), what);
      data += chunk;
      count -= chunk;
    }
  }

  int rank_ = 0;
  int world_size_ = 1;
  int thread_level_ = MPI_THREAD_SINGLE;
  MPI_Comm node_comm_ = MPI_COMM_NULL;
  int local_rank_ = 0;
  int local_size_ = 1;
  int node_count_ = 1;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() {
  return std::make_unique<MpiCommunicator>();
}

}  // namespace moai::train
