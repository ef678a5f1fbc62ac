# The CUDA backend's dependencies: nvcc, the CUDA runtime and cuBLAS (from
# the toolkit), cuDNN and NCCL (often installed apart: CUDNN_ROOT and
# NCCL_ROOT point at them). Sets ACCEL_WITH_CUDA.
#   ACCEL_CUDA=AUTO  build the backend when everything is found, else CPU-only
#   ACCEL_CUDA=ON    everything must be found; the error names what is not
#   ACCEL_CUDA=OFF   CPU-only
# A library kept beside the toolkit or under <PREFIX>_ROOT (a cache variable
# or the environment): sets <PREFIX>_INCLUDE_DIR and <PREFIX>_LIBRARY, or
# adds "<what> (set <PREFIX>_ROOT)" to `missing`.
macro(accel_find_cuda_library prefix header lib what)
  find_path(${prefix}_INCLUDE_DIR ${header}
            HINTS ${${prefix}_ROOT} $ENV{${prefix}_ROOT} ${CUDAToolkit_INCLUDE_DIRS}
            PATH_SUFFIXES include)
  find_library(${prefix}_LIBRARY ${lib}
               HINTS ${${prefix}_ROOT} $ENV{${prefix}_ROOT} ${CUDAToolkit_LIBRARY_DIR}
               PATH_SUFFIXES lib64 lib)
  if(NOT ${prefix}_INCLUDE_DIR OR NOT ${prefix}_LIBRARY)
    list(APPEND missing "${what} (set ${prefix}_ROOT)")
  endif()
endmacro()

set(ACCEL_WITH_CUDA OFF)
if(ACCEL_CUDA STREQUAL "OFF")
  message(STATUS "accel-train: ACCEL_CUDA=OFF: building CPU-only")
  return()
endif()

set(missing "")
include(CheckLanguage)
if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
endif()
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  list(APPEND missing "nvcc (the CUDA toolkit)")
else()
  get_filename_component(nvcc_bin "${CMAKE_CUDA_COMPILER}" DIRECTORY)
  get_filename_component(cuda_root "${nvcc_bin}" DIRECTORY)
  set(CUDAToolkit_ROOT "${cuda_root}")
  find_package(CUDAToolkit QUIET)
  if(NOT TARGET CUDA::cudart)
    list(APPEND missing "the CUDA runtime")
  endif()
  if(NOT TARGET CUDA::cublas)
    list(APPEND missing "cuBLAS")
  endif()
  accel_find_cuda_library(CUDNN cudnn.h cudnn "cuDNN")
  accel_find_cuda_library(NCCL nccl.h nccl "NCCL")
endif()

if(missing)
  string(REPLACE ";" ", " missing_text "${missing}")
  if(ACCEL_CUDA STREQUAL "ON")
    message(FATAL_ERROR "accel-train: ACCEL_CUDA=ON, but not found: ${missing_text}. "
                        "Install them, point CUDNN_ROOT / NCCL_ROOT at them, or use ACCEL_CUDA=OFF.")
  endif()
  message(STATUS "accel-train: no CUDA backend (not found: ${missing_text}); building CPU-only")
  return()
endif()

# Machine code for Turing (T4, 7.5; the oldest CUDA 13 supports), Ampere
# (8.0, which also runs on 8.6 and 8.9: A10, L4), Hopper (9.0) and
# Blackwell (10.0), and PTX of 10.0, which the driver compiles for anything
# newer. A GPU outside them is refused at start-up, naming this option.
if(NOT CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES 75-real 80-real 90-real 100)
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(ACCEL_WITH_CUDA ON)
message(STATUS "accel-train: building the CUDA backend: CUDA ${CUDAToolkit_VERSION}, "
               "architectures ${CMAKE_CUDA_ARCHITECTURES}, cuDNN ${CUDNN_LIBRARY}, "
               "NCCL ${NCCL_LIBRARY}")
