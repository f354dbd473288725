// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file config.hpp
//! Compiler and backend macros. Nothing here includes a CUDA header: on a host compiler the
//! device annotations expand to nothing, so every header outside cuda/ builds with plain g++.

#include "vprim/version.hpp"

//! 1 when the translation unit is compiled by a CUDA-aware compiler (nvcc, clang -x cuda).
#if defined(__CUDACC__)
#define VPRIM_HAS_CUDA() 1
#else
#define VPRIM_HAS_CUDA() 0
#endif

//! 1 during a device compilation pass (inside __CUDA_ARCH__).
#if defined(__CUDA_ARCH__)
#define VPRIM_DEVICE_COMPILATION() 1
#else
#define VPRIM_DEVICE_COMPILATION() 0
#endif

#if VPRIM_HAS_CUDA()
#define VPRIM_HOST_DEVICE __host__ __device__
#define VPRIM_DEVICE __device__
#else
#define VPRIM_HOST_DEVICE
#define VPRIM_DEVICE
#endif

//! Versioned inline namespace: two vprim versions linked into one program cannot collide.
//! Vendors may wrap everything in their own namespace with VPRIM_WRAPPED_NAMESPACE.
#define VPRIM_ABI_CONCAT_(a, b, c) v##a##_##b##_##c
#define VPRIM_ABI_CONCAT(a, b, c) VPRIM_ABI_CONCAT_(a, b, c)
#define VPRIM_ABI_NAMESPACE VPRIM_ABI_CONCAT(VPRIM_VERSION_MAJOR, VPRIM_VERSION_MINOR, VPRIM_VERSION_PATCH)

#if defined(VPRIM_WRAPPED_NAMESPACE)
#define VPRIM_NAMESPACE_BEGIN                                                                      \
  namespace VPRIM_WRAPPED_NAMESPACE {                                                              \
  namespace vprim {                                                                                \
  inline namespace VPRIM_ABI_NAMESPACE {
#define VPRIM_NAMESPACE_END                                                                        \
  }                                                                                                \
  }                                                                                                \
  }
#else
#define VPRIM_NAMESPACE_BEGIN                                                                      \
  namespace vprim {                                                                                \
  inline namespace VPRIM_ABI_NAMESPACE {
#define VPRIM_NAMESPACE_END                                                                        \
  }                                                                                                \
  }
#endif

//! Opt-in internal assertions (off by default: kernels report problems through status).
#if defined(VPRIM_ENABLE_ASSERTIONS)
#include <cassert>
#define VPRIM_ASSERT(cond) assert(cond)
#else
#define VPRIM_ASSERT(cond) ((void)0)
#endif
