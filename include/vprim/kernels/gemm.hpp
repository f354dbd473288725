// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file gemm.hpp
//! Contract of the GEMMs (the Linear layout): C[M, N] (fp32) = A[M, K] * W[N, K]^T (+ bias[N])
//! (+ C when accumulating, the residual). A and C are row-major with row strides lda and ldc;
//! W is in the backend's storage: on the CPU packed panels (fp32 or bf16, cpu/gemm.hpp,
//! cpu/gemm_bf16.hpp) or low-bit blocks as shipped (cpu/gemm_fp8.hpp, cpu/gemm_mxfp4.hpp), on
//! the GPU a row-major [N, K] array (cuda/gemm_args.cuh). What every one of them checks first
//! is the shape, here.

#include <cstddef>

#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

struct gemm_shape {
  std::size_t m = 0, n = 0, k = 0;
  std::size_t lda = 0, ldc = 0;
};

//! An empty product (M or N zero) is ok; otherwise C must exist, and A too unless K is zero
//! (invalid_argument), and the strides must cover a row: lda >= K, ldc >= N (shape_mismatch).
[[nodiscard]] constexpr status gemm_shape_can_implement(const gemm_shape& s, const void* a, const void* c) noexcept {
  if (s.m == 0 || s.n == 0) return status::ok;
  if (c == nullptr || (s.k > 0 && a == nullptr)) return status::invalid_argument;
  if (s.lda < s.k || s.ldc < s.n) return status::shape_mismatch;
  return status::ok;
}

}  // namespace kernels
VPRIM_NAMESPACE_END
