// moai_nccl_check: exercises the NCCL communicator with world size 1 on one GPU (bootstrapped by
// the single-process communicator), or with N ranks under `mpirun -np N moai_nccl_check --mpi`.
// Checks the sum, max and broadcast results on device and host buffers; exit code 0 when all match.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "moai/core/error.h"
#include "moai/ops/cuda/cuda_backend.h"
#include "moai/train/communicator.h"
#include "moai/train/nccl/nccl_communicator.h"

int main(int argc, char** argv) {
  try {
    const bool use_mpi = argc > 1 && std::strcmp(argv[1], "--mpi") == 0;
    auto bootstrap = use_mpi ? moai::train::make_mpi_communicator()
                             : moai::train::make_single_process_communicator();
    const int rank = bootstrap->rank(), world = bootstrap->world_size();
    const int devices = moai::ops::cuda_device_count();
    if (devices == 0) throw moai::InputError("no CUDA device: moai_nccl_check needs a GPU");
    auto backend = moai::ops::make_cuda_backend({rank % devices, true});
    auto comm = moai::train::make_nccl_communicator(*bootstrap, *backend);
    int failures = 0;
    auto expect = [&](bool ok, const std::string& what) {
      if (!ok) ++failures;
      std::printf("rank %d: %-40s %s\n", rank, what.c_str(), ok ? "ok" : "FAILED");
    };
    // Device buffer: every rank contributes rank + i; the sum is world*i + world*(world-1)/2.
    const int64_t count = (int64_t(1) << 20) + 3;
    std::vector<float> host(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) host[size_t(i)] = float(rank) + float(i % 1000);
    auto* device = static_cast<float*>(backend->allocate(size_t(count) * sizeof(float)));
    backend->copy_to_device(device, host.data(), host.size() * sizeof(float));
    comm->allreduce_sum(device, count);
    backend->copy_to_host(host.data(), device, host.size() * sizeof(float));
    bool ok = true;
    for (int64_t i = 0; i < count; ++i)
      ok &= host[size_t(i)] == float(world) * float(i % 1000) + float(world * (world - 1) / 2);
    expect(ok, "allreduce_sum float (device buffer)");
    double host_sum[2] = {1.5, double(rank)};
    comm->allreduce_sum(host_sum, 2);
    expect(host_sum[0] == 1.5 * world && host_sum[1] == double(world * (world - 1) / 2),
           "allreduce_sum double (host buffer)");
    int64_t flags[1] = {rank == world - 1 ? 7 : 0};
    comm->allreduce_max(flags, 1);
    expect(flags[0] == 7, "allreduce_max int64 (host buffer)");
    char text[16] = {};
    if (rank == 0) std::strcpy(text, "from rank 0");
    comm->broadcast(text, sizeof(text), 0);
    expect(std::strcmp(text, "from rank 0") == 0, "broadcast (host buffer)");
    comm->barrier();
    backend->deallocate(device);
    std::printf("rank %d of %d: %s: %s\n", rank, world, comm->name().c_str(),
                failures ? "FAILED" : "OK");
    return failures ? 1 : 0;
  } catch (const moai::Error& error) {
    std::fprintf(stderr, "moai_nccl_check: %s\n", error.what());
    return error.exit_code();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "moai_nccl_check: %s\n", error.what());
    return 1;
  }
}
