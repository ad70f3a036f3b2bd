// NCCL communicator (see nccl_communicator.h).
#include "moai/train/nccl/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <string>

#include "moai/core/error.h"
#include "moai/ops/cuda/check.h"
#include "moai/ops/cuda/cuda_backend.h"

namespace moai::train {
namespace {

bool is_device_pointer(const void* ptr) {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, ptr) != cudaSuccess) {
    cudaGetLastError();  // plain host memory on old runtimes reports an error: clear it
    return false;
  }
  return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(Communicator& bootstrap, ops::Backend& backend)
      : rank_(bootstrap.rank()),
        world_(bootstrap.world_size()),
        stream_(static_cast<cudaStream_t>(ops::cuda_stream(backend))) {
    ncclUniqueId id{};
    if (rank_ == 0) MOAI_NCCL_CHECK(ncclGetUniqueId(&id));
    bootstrap.broadcast(&id, sizeof(id), 0);
    MOAI_NCCL_CHECK(ncclCommInitRank(&comm_, world_, id, rank_));
    MOAI_CUDA_CHECK(cudaMalloc(&staging_, kStagingBytes));
  }
  ~NcclCommunicator() override {
    if (staging_) cudaFree(staging_);
    if (comm_) ncclCommDestroy(comm_);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  std::string name() const override { return "nccl (" + std::to_string(world_) + " ranks)"; }

  void allreduce_sum(float* data, int64_t count) override {
    allreduce(data, count, ncclFloat32, ops::dtype_size(ops::DType::kF32), ncclSum);
  }
  void allreduce_sum(double* data, int64_t count) override {
    allreduce(data, count, ncclFloat64, sizeof(double), ncclSum);
  }
  void allreduce_max(int64_t* data, int64_t count) override {
    allreduce(data, count, ncclInt64, sizeof(int64_t), ncclMax);
  }
  void broadcast(void* data, size_t bytes, int root) override {
    if (bytes == 0) return;
    if (is_device_pointer(data)) {
      MOAI_NCCL_CHECK(ncclBroadcast(data, data, bytes, ncclUint8, root, comm_, stream_));
      return;
    }
    for (size_t done = 0; done < bytes; done += kStagingBytes) {
      const size_t piece = std::min(kStagingBytes, bytes - done);
      char* host = static_cast<char*>(data) + done;
      MOAI_CUDA_CHECK(cudaMemcpyAsync(staging_, host, piece, cudaMemcpyHostToDevice, stream_));
      MOAI_NCCL_CHECK(ncclBroadcast(staging_, staging_, piece, ncclUint8, root, comm_, stream_));
      MOAI_CUDA_CHECK(cudaMemcpyAsync(host, staging_, piece, cudaMemcpyDeviceToHost, stream_));
      MOAI_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
  }
  void barrier() override {
    int64_t token = 0;
    allreduce_max(&token, 1);  // host pointer: staged and waited for
  }

  // Shards may differ in size (the last is shorter), so these are one ncclReduce / ncclBroadcast
  // per owner in a group rather than ncclReduceScatter / ncclAllGather. Device buffers only.
  void reduce_scatter_sum(float* data, int64_t count) override {
    require_device(data, "reduce_scatter_sum");
    MOAI_NCCL_CHECK(ncclGroupStart());
    for (int owner = 0; owner < world_; ++owner) {
      const ShardRange range = shard_range(count, owner, world_);
      if (range.size() == 0) continue;
      MOAI_NCCL_CHECK(ncclReduce(data + range.begin, data + range.begin, size_t(range.size()),
                                 ncclFloat32, ncclSum, owner, comm_, stream_));
    }
    MOAI_NCCL_CHECK(ncclGroupEnd());
  }
  void reduce_scatter_sum_range(float* data, int64_t count, int64_t begin, int64_t end) override {
    require_device(data, "reduce_scatter_sum_range");
    MOAI_NCCL_CHECK(ncclGroupStart());
    for (int owner = 0; owner < world_; ++owner) {
      const ShardRange shard = shard_range(count, owner, world_);
      const int64_t first = std::max(begin, shard.begin), last = std::min(end, shard.end);
      if (first >= last) continue;
      MOAI_NCCL_CHECK(ncclReduce(data + first, data + first, size_t(last - first), ncclFloat32,
                                 ncclSum, owner, comm_, stream_));
    }
    MOAI_NCCL_CHECK(ncclGroupEnd());
  }
  void all_gather(float* data, int64_t count) override {
    require_device(data, "all_gather");
    MOAI_NCCL_CHECK(ncclGroupStart());
    for (int owner = 0; owner < world_; ++owner) {
      const ShardRange range = shard_range(count, owner, world_);
      if (range.size() == 0) continue;
      MOAI_NCCL_CHECK(ncclBroadcast(data + range.begin, data + range.begin, size_t(range.size()),
                                    ncclFloat32, owner, comm_, stream_));
    }
    MOAI_NCCL_CHECK(ncclGroupEnd());
  }

 private:
  static void require_device(const void* data, const char* what) {
    if (!is_device_pointer(data))
      throw InternalError(std::string("NcclCommunicator::") + what + ": needs a device buffer");
  }

  static constexpr size_t kStagingBytes = size_t{4} << 20;

  void allreduce(void* data, int64_t count, ncclDataType_t type, size_t element, ncclRedOp_t op) {
    if (count <= 0) return;
    if (is_device_pointer(data)) {
      MOAI_NCCL_CHECK(ncclAllReduce(data, data, size_t(count), type, op, comm_, stream_));
      return;
    }
    const size_t per_piece = kStagingBytes / element;
    for (size_t done = 0; done < size_t(count); done += per_piece) {
      const size_t piece = std::min(per_piece, size_t(count) - done);
      char* host = static_cast<char*>(data) + done * element;
      MOAI_CUDA_CHECK(
          cudaMemcpyAsync(staging_, host, piece * element, cudaMemcpyHostToDevice, stream_));
      MOAI_NCCL_CHECK(ncclAllReduce(staging_, staging_, piece, type, op, comm_, stream_));
      MOAI_CUDA_CHECK(
          cudaMemcpyAsync(host, staging_, piece * element, cudaMemcpyDeviceToHost, stream_));
      MOAI_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
  }

  int rank_;
  int world_;
  cudaStream_t stream_;
  ncclComm_t comm_ = nullptr;
  void* staging_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap,
                                                     ops::Backend& cuda_backend) {
  if (cuda_backend.device() != ops::DeviceKind::kCuda)
    throw InternalError("make_nccl_communicator: needs the CUDA backend, got " +
                        cuda_backend.name());
  return std::make_unique<NcclCommunicator>(bootstrap, cuda_backend);
}

}  // namespace moai::train
