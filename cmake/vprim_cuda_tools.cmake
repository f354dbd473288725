# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# CUDA for vprim's own tests, golden tool and benchmarks, never for a consumer: included by the
# top-level CMakeLists only when those are built.

# Enables the CUDA language when VPRIM_ENABLE_CUDA is on and nvcc is found, compiling for sm_90a
# unless the caller chose architectures. Sets VPRIM_CUDA_TOOLS to whether it did.
macro(vprim_enable_cuda_tools)
  set(VPRIM_CUDA_TOOLS OFF)
  if(VPRIM_ENABLE_CUDA AND TARGET vprim::cuda)
    include(CheckLanguage)
    check_language(CUDA)
    if(CMAKE_CUDA_COMPILER)
      if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
        set(CMAKE_CUDA_ARCHITECTURES 90a)
      endif()
      enable_language(CUDA)
      set(VPRIM_CUDA_TOOLS ON)
    endif()
  endif()
endmacro()

# A target of .cu sources with the project's nvcc flags (warnings are errors under VPRIM_WERROR).
# CMake 3.25 does not know nvcc 13's C++20 flag, so the dialect is passed directly.
function(vprim_cuda_target target)
  target_link_libraries(${target} PRIVATE vprim::cuda)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20>
                         $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${VPRIM_WERROR}>>:-Werror all-warnings>)
endfunction()
