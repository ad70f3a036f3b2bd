# CUDA backend: sm_90 (Hopper) plus sm_80 (Ampere) as the older target.
set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc CACHE FILEPATH "nvcc")
set(CMAKE_CUDA_ARCHITECTURES "90;80" CACHE STRING "CUDA architectures")
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 20)
find_package(CUDAToolkit REQUIRED)
file(GLOB MOAI_CUDA_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/moai/ops/cuda/*.cu
     ${PROJECT_SOURCE_DIR}/src/moai/ops/cuda/*.cpp)
add_library(moai_ops_cuda STATIC ${MOAI_CUDA_SOURCES})
target_include_directories(moai_ops_cuda PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(moai_ops_cuda PUBLIC moai_ops CUDA::cudart CUDA::cublas CUDA::cublasLt)
target_compile_options(moai_ops_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -Xcompiler=-Wall>)
