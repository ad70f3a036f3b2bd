#pragma once
// train::Communicator over NCCL, for data parallelism with the CUDA backend: one process per GPU,
// collectives on device memory, queued on the backend's stream so they order with its kernels (no
// host round trip).
//
// Bootstrap: rank 0 creates the NCCL unique id and `bootstrap` (the MPI communicator under mpirun,
// or the single-process one for world size 1) broadcasts it; every rank then joins the NCCL
// communicator with its rank and world size. Each rank must have created its backend on its own GPU
// (local rank), e.g. make_cuda_backend({.device = local_rank % cuda_device_count()}).
//
// Pointers may be device memory (gradients: no copies) or host memory (loss sums, stop flags:
// staged through a small device buffer and waited for). barrier() is an all-reduce of one value,
// waited for.
//
// Note for the trainer: Communicator::allreduce_average() scales on the host after the sum, so with
// device gradients call allreduce_sum() and fold 1/world_size into the optimizer's grad_scale
// instead.
#include <memory>

#include "moai/ops/ops.h"
#include "moai/train/communicator.h"

namespace moai::train {

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap,
                                                     ops::Backend& cuda_backend);

}  // namespace moai::train
