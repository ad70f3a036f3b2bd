// The MPI implementation of Communicator over MPI_COMM_WORLD (OpenMPI from Debian). Buffers are
// host memory; a CUDA run would stage through the host here or, better, use a NCCL communicator
// instead.
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>

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
      check_mpi(MPI_Init(nullptr, nullptr), "MPI_Init");
      std::atexit(finalize_mpi);
    }
    // Errors come back as codes we turn into exceptions instead of aborting the job silently.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &world_size_), "MPI_Comm_size");
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  std::string name() const override { return "mpi (" + std::to_string(world_size_) + " ranks)"; }

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

 private:
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
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() {
  return std::make_unique<MpiCommunicator>();
}

}  // namespace moai::train
