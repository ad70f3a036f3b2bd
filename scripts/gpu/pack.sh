#!/usr/bin/env bash
# Build the CUDA binaries HERE (a machine with the CUDA toolkit and moai's Debian build dependencies, no GPU
# needed) and gather what a GPU machine needs to run them into build-cuda-pack/pack/ (an ignored path):
#   bin/moai_cuda_tests   op-by-op parity with the CPU backend (GoogleTest)
#   bin/moai_cuda_check   whole-model checks (train-compare, hf-forward) and the training-step benchmark
#   bin/moai_nccl_check   the NCCL communicator at world size 1
#   bin/moai              the CLI (gpu-check.sh runs moai train / generate --device cuda --precision bf16)
#   lib/                  the shared libraries they need that a bare GPU machine may lack (OpenBLAS and its
#                         Fortran runtime, libgomp, OpenMPI); glibc, libstdc++ and the big CUDA libraries (cuBLAS,
#                         cuBLASLt, NCCL) are taken from the GPU machine, whose CUDA 13 matches this build.
# Then, from a session that holds a GPU, run scripts/gpu-check.sh with the pack carried along:
#   run(command="scripts/gpu-check.sh build-cuda-pack/pack", carry=["build-cuda-pack/pack"], timeout_s=540)
set -euo pipefail
cd "$(dirname "$0")/../.."
# A build tree of its own: -march=native is off here (the GPU machine has another CPU).
BUILD=${BUILD:-build-cuda-pack}
PACK="$BUILD/pack"
JOBS=${JOBS:-2}

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOAI_CUDA=ON -DMOAI_BUILD_TESTS=ON \
  -DMOAI_BUILD_BENCH=OFF -DMOAI_NATIVE=OFF >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target moai_cuda_tests moai_cuda_check moai_nccl_check moai

rm -rf "$PACK"
mkdir -p "$PACK/bin" "$PACK/lib"
cp "$BUILD/moai_cuda_tests" "$BUILD/moai_cuda_check" "$BUILD/moai_nccl_check" "$BUILD/moai" "$PACK/bin/"
# Libraries to carry: everything ldd resolves except glibc, the C++ runtime and the CUDA/driver libraries.
skip='^(linux-vdso|ld-linux|libc\.|libm\.|libdl\.|libpthread\.|librt\.|libstdc\+\+|libgcc_s|libcuda\.|libcublas|libnccl|libcudnn)'
for binary in "$PACK"/bin/*; do
  ldd "$binary" | awk '$3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
  if [[ ! "$name" =~ $skip ]]; then cp -L "$path" "$PACK/lib/$name"; fi
done
strip --strip-debug "$PACK"/bin/* 2>/dev/null || true
# The GPU machine runs the same kernels the tests here compiled: record what was built, from which commit.
{
  echo "commit $(git rev-parse HEAD)$(git diff --quiet || echo ' (with uncommitted changes)')"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
  /usr/local/cuda/bin/nvcc --version | tail -1
} >"$PACK/BUILD_INFO"
du -sh "$PACK"/bin "$PACK"/lib
echo "packed $PACK ($(du -sh "$PACK" | cut -f1)); carry it with scripts/gpu-check.sh (see this file's header)"
