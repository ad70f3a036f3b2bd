#pragma once
// Collective communication between the ranks of a data-parallel run. The trainer talks only to this
// interface, so the single-process run, MPI (OpenMPI, CPU buffers) and a later NCCL implementation
// (device buffers on the CUDA backend; same calls, pointers on the device) are interchangeable.
//
// Every call is collective: all ranks call it in the same order with the same sizes. Results are
// the same bits on every rank (MPI_Allreduce gives every rank the identical reduced buffer).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace moai::train {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string name() const = 0;  // "single process", "mpi (4 ranks)"

  // In-place element-wise sum over ranks.
  virtual void allreduce_sum(float* data, int64_t count) = 0;
  virtual void allreduce_sum(double* data, int64_t count) = 0;
  // In-place element-wise max over ranks (agreeing on a stop request, the worst error code).
  virtual void allreduce_max(int64_t* data, int64_t count) = 0;
  // Root's bytes are copied to every rank.
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  virtual void barrier() = 0;

  // ZeRO-1 collectives over a buffer of `count` floats cut into world_size() shards by
  // shard_range(count, rank, world_size()). reduce_scatter_sum: this rank's shard receives the
  // element-wise sum over ranks; the rest of the buffer is left undefined. all_gather: every rank's
  // shard is copied into the same range on every rank.
  virtual void reduce_scatter_sum(float* data, int64_t count) = 0;
  virtual void all_gather(float* data, int64_t count) = 0;
  // reduce_scatter_sum restricted to [begin, end) of the buffer: each rank's shard of `count`
  // receives the sum of its part inside that range (one bucket of an overlapped reduction).
  virtual void reduce_scatter_sum_range(float* data, int64_t count, int64_t begin, int64_t end) = 0;
  // True when one other thread may run collectives while this one makes none (MPI's
  // THREAD_SERIALIZED): needed to overlap gradient communication with the backward.
  virtual bool allows_comm_thread() const { return true; }
  // Ends the whole job with `code` now, from any thread (MPI_Abort under MPI): the collective
  // watchdog's way out of a collective that never returns.
  [[noreturn]] virtual void abort_job(int code);

  // Sum, then divide by world_size on the host: host buffers only. The trainer does not use it (it
  // sums and divides by the step's global token count), and device buffers must not go through it.
  void allreduce_average(float* data, int64_t count);
  // Large buffers go in buckets of this many floats so a reduction never needs a second buffer the
  // size of the model (OpenMPI's ring allreduce is bandwidth-optimal per bucket above ~1 MB).
  void allreduce_sum_bucketed(float* data, int64_t count, int64_t bucket_floats = 1 << 22);

  bool is_root() const { return rank() == 0; }

  // This rank's place on its node (ranks sharing memory: MPI_Comm_split_type SHARED), and the
  // number of nodes. Threads and the memory guard are per node; local rank 0 prepares data on a
  // node-local filesystem. The environment variable MOAI_TEST_NODE_ID (an integer per rank, read by
  // the MPI communicator) overrides the node identity, so tests simulate several nodes on one host.
  virtual int local_rank() const { return rank(); }
  virtual int local_size() const { return world_size(); }
  virtual int node_count() const { return 1; }
};

// [begin, end) of a buffer of `count` floats owned by `rank` of `world` ranks: equal pieces of
// ceil(count / world) rounded up to 16 floats (64-byte aligned), the last ones shorter or empty.
struct ShardRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
};
ShardRange shard_range(int64_t count, int rank, int world);

// A world of one: every collective is a no-op (sum/average of one rank is itself).
std::unique_ptr<Communicator> make_single_process_communicator();

// MPI_COMM_WORLD. Initialises MPI on first use and finalises it at exit; throws IoError when MPI
// cannot start. Use it when the process was launched by mpirun (launched_by_mpi()).
std::unique_ptr<Communicator> make_mpi_communicator();

// True when an MPI launcher started this process (OpenMPI's OMPI_COMM_WORLD_SIZE, or PMI/PMIx
// variables). Reads the environment: call it from the CLI layer.
bool launched_by_mpi();

}  // namespace moai::train
