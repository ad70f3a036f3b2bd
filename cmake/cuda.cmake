# CUDA backend (-DMOAI_CUDA=ON): bf16 kernels for sm_90 (Hopper: H100/H200) and sm_80 (Ampere: A100) as the
# older target. Builds without a GPU; needs the toolkit at /usr/local/cuda (nvcc, cuBLASLt, NCCL).
set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc CACHE FILEPATH "nvcc")
# sm_90 and sm_80 machine code, plus compute_90 PTX so a newer GPU can still JIT the kernels.
set(CMAKE_CUDA_ARCHITECTURES "90-real;80-real;90-virtual" CACHE STRING "CUDA architectures")
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
# CMake 3.25 does not know that nvcc >= 12 speaks C++20 (CUDA sources inherit CXX_STANDARD 20 and the
# configure step would fail): teach it the flag.
if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_COMPILE_FEATURES cuda_std_20)
  list(APPEND CMAKE_CUDA_COMPILE_FEATURES cuda_std_20)
endif()

# NCCL ships inside this toolkit tree (include/nccl.h, lib64/libnccl.so); a system install works too.
find_path(MOAI_NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/include)
find_library(MOAI_NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/lib/x86_64-linux-gnu)
if(NOT MOAI_NCCL_INCLUDE_DIR OR NOT MOAI_NCCL_LIBRARY)
  message(FATAL_ERROR "MOAI_CUDA=ON needs NCCL (nccl.h and libnccl.so) beside the CUDA toolkit")
endif()

set(MOAI_CUDA_FLAGS --expt-relaxed-constexpr -lineinfo -Xcompiler=-Wall,-Wextra,-Wno-unused-parameter
    # Warnings from nvcc itself and ptxas (spills, stack use) are treated as worth reading; -Xptxas -v can be
    # added by hand to see register/shared-memory use per kernel.
    -Wno-deprecated-gpu-targets)

file(GLOB MOAI_CUDA_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/moai/ops/cuda/*.cu
     ${PROJECT_SOURCE_DIR}/src/moai/ops/cuda/*.cpp)
add_library(moai_ops_cuda STATIC ${MOAI_CUDA_SOURCES})
target_include_directories(moai_ops_cuda PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(moai_ops_cuda PUBLIC moai_ops CUDA::cudart CUDA::cublas CUDA::cublasLt)
target_compile_definitions(moai_ops_cuda PUBLIC MOAI_HAVE_CUDA=1)
target_compile_options(moai_ops_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:${MOAI_CUDA_FLAGS}>)
set_target_properties(moai_ops_cuda PROPERTIES CUDA_STANDARD 20 CUDA_STANDARD_REQUIRED ON
                      CUDA_EXTENSIONS OFF POSITION_INDEPENDENT_CODE ON)

# NCCL communicator (src/moai/train/nccl/): a train::Communicator, so it sits above the train layer in its
# own library; the moai binary links it for `mpirun ... moai train --device cuda`.
file(GLOB MOAI_NCCL_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/moai/train/nccl/*.cpp)
add_library(moai_nccl STATIC ${MOAI_NCCL_SOURCES})
target_include_directories(moai_nccl PRIVATE ${MOAI_NCCL_INCLUDE_DIR})
target_link_libraries(moai_nccl PUBLIC moai_train moai_ops_cuda ${MOAI_NCCL_LIBRARY})
target_compile_options(moai_nccl PRIVATE -Wall -Wextra)

# GPU tests: tests/ops/cuda_*_test.cpp -> moai_cuda_tests (label "gpu"). They skip with a message when no GPU
# is present. The same files are globbed into moai_ops_tests of the CPU build, where they compile to nothing
# (#ifdef MOAI_HAVE_CUDA), so the CPU build never depends on them.
if(MOAI_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
  file(GLOB MOAI_CUDA_TEST_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/ops/cuda_*_test.cpp)
  add_executable(moai_cuda_tests ${MOAI_CUDA_TEST_SOURCES} ${PROJECT_SOURCE_DIR}/tests/test_paths.cpp)
  target_include_directories(moai_cuda_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(moai_cuda_tests PRIVATE moai_ops_cuda moai_model GTest::gtest_main GTest::gmock)
  target_compile_definitions(moai_cuda_tests PRIVATE MOAI_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                             MOAI_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(moai_cuda_tests DISCOVERY_MODE PRE_TEST PROPERTIES LABELS gpu)
endif()

# moai_cuda_check (bench/cuda/cuda_check.cpp): whole-model checks and the training-step benchmark that
# scripts/gpu-check.sh runs on a GPU machine. Links the model layer but not train/ (no MPI), so it runs where
# only the CUDA libraries are present.
add_executable(moai_cuda_check ${PROJECT_SOURCE_DIR}/bench/cuda/cuda_check.cpp)
target_link_libraries(moai_cuda_check PRIVATE moai_ops_cuda moai_model)

# moai_nccl_check (bench/cuda/nccl_check.cpp): the NCCL communicator at world size 1 (or under mpirun).
add_executable(moai_nccl_check ${PROJECT_SOURCE_DIR}/bench/cuda/nccl_check.cpp)
target_link_libraries(moai_nccl_check PRIVATE moai_nccl)

# ops::make_backend (src/moai/ops/backend_factory.cpp) builds the CUDA backend in this build.
target_compile_definitions(moai_ops PRIVATE MOAI_HAVE_CUDA=1)
target_link_libraries(moai_ops PUBLIC moai_ops_cuda)
