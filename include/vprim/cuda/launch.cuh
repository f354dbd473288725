// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file launch.cuh
//! What every CUDA entry point shares:
//! - VPRIM_KERNEL: kernels have internal linkage. A header-only library's non-template kernel
//!   would otherwise be defined (its host stub with it) in every translation unit that includes
//!   it, and two such units would not link; and no shared library that vendors vprim exports or
//!   shares a kernel symbol with another.
//! - workspace: device scratch owned by the caller. Entry points that need one take it by value
//!   and follow CUB's two-phase protocol: called with ptr == nullptr they only set `bytes`;
//!   called again with that much memory they run. vprim never allocates behind the caller.
//! - carve(): slices a workspace into aligned typed arrays, identically in both phases.

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "vprim/cuda/error.cuh"

#if defined(__CUDACC__)
#define VPRIM_KERNEL static __global__
#endif

VPRIM_NAMESPACE_BEGIN
namespace cuda {

struct workspace {
  void* ptr = nullptr;     //!< nullptr: a size query
  std::size_t bytes = 0;   //!< in: what ptr holds; out (query): what the call needs
};

[[nodiscard]] constexpr std::size_t ceil_div(std::size_t a, std::size_t b) noexcept { return (a + b - 1) / b; }

namespace detail {
//! Whether p sits on a multiple of `bytes` (vector loads, TMA bases).
[[nodiscard]] inline bool aligned_to(const void* p, std::size_t bytes) noexcept { return reinterpret_cast<std::uintptr_t>(p) % bytes == 0; }

//! Hands out 256-byte aligned slices of a workspace in order; `need` grows in both phases, and
//! `fits` tells, in the run phase, whether the caller's workspace was large enough.
class carve {
 public:
  explicit carve(const workspace& ws) noexcept : base_(static_cast<char*>(ws.ptr)), have_(ws.bytes) {}
  template <class T>
  T* take(std::size_t count) noexcept {
    const std::size_t at = (need_ + 255) / 256 * 256;
    need_ = at + count * sizeof(T);
    return base_ != nullptr && need_ <= have_ ? reinterpret_cast<T*>(base_ + at) : nullptr;
  }
  //! Raw bytes for a CUB call, which does its own alignment inside them.
  void* take_bytes(std::size_t bytes) noexcept { return take<char>(bytes); }
  [[nodiscard]] std::size_t need() const noexcept { return need_; }
  [[nodiscard]] bool query() const noexcept { return base_ == nullptr; }
  [[nodiscard]] bool fits() const noexcept { return need_ <= have_; }

 private:
  char* base_;
  std::size_t have_, need_ = 0;
};

//! The launch that just happened, as a status (launch configuration errors, missing kernel
//! images); asynchronous faults surface at the caller's next synchronisation.
[[nodiscard]] inline status launched() noexcept { return last_launch_status(); }
}  // namespace detail

}  // namespace cuda
VPRIM_NAMESPACE_END
