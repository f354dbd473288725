// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file gemm_args.cuh
//! The GPU's arguments of the GEMM contract (kernels/gemm.hpp), W row-major [N, K] in T:
//!   C[M,N] (fp32) = act(A[M,K] * W[N,K]^T + bias) (+ C when accumulating, the residual)
//! their checks, and the epilogue that turns one fp32 sum into C's element.

#include <cstdint>

#include <cuda_bf16.h>

#include "vprim/cuda/launch.cuh"
#include "vprim/kernels/gemm.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

enum class epilogue : std::uint8_t { none, gelu_exact, gelu_quick, silu };

//! A GEMM over operands of type T (bf16 for the tensor-core kernels, float for the fp32 one).
template <class T>
struct basic_gemm_args {
  std::size_t m = 0, n = 0, k = 0;
  const T* a = nullptr;         //!< [m, k], row stride lda
  std::size_t lda = 0;
  const T* w = nullptr;         //!< [n, k], row stride ldw
  std::size_t ldw = 0;
  const float* bias = nullptr;  //!< [n] or null
  float* c = nullptr;           //!< [m, n], row stride ldc
  std::size_t ldc = 0;
  epilogue act = epilogue::none;
  bool accumulate = false;      //!< C += result (the residual add)
};
using gemm_args = basic_gemm_args<__nv_bfloat16>;
using gemm_f32_args = basic_gemm_args<float>;

template <class T>
[[nodiscard]] status gemm_can_implement(const basic_gemm_args<T>& g) noexcept {
  const kernels::gemm_shape shape{g.m, g.n, g.k, g.lda, g.ldc};
  if (const status s = kernels::gemm_shape_can_implement(shape, g.a, g.c); s != status::ok || g.m == 0 || g.n == 0) return s;
  if (g.k > 0 && g.w == nullptr) return status::invalid_argument;
  if (g.ldw < g.k) return status::shape_mismatch;
  if (ceil_div(g.m, 64) > 0x7fffffffu || ceil_div(g.n, 64) > 65535u) return status::not_supported;
  return status::ok;
}

//! The experts of a MoE layer as one launch. Expert e multiplies the rows that
//! moe_permute assigned to it, order[offsets[e] .. offsets[e+1]) (slot ids token * top_k + k),
//! by its weight w + e * n * ldw (experts stacked as the checkpoints store them, [E, n, k]).
//! A's rows are tokens (a_by_token, the gate/up projection reading the layer input) or slots
//! (the down projection reading the activations); C's rows are slots. T is the operand type:
//! bf16 on the tensor cores, float on the fp32 tile.
template <class T>
struct basic_grouped_gemm_args {
  basic_gemm_args<T> base;        //!< n, k, a, lda, w (expert 0), ldw, bias ([E, n] or null), c, ldc, act, accumulate
  const std::int32_t* order = nullptr;
  const std::int32_t* offsets = nullptr;  //!< [experts + 1]
  std::size_t experts = 0, top_k = 1;
  std::size_t max_rows = 0;       //!< bound on any expert's rows (the token count: top-k picks distinct experts)
  bool a_by_token = true;
};
using grouped_gemm_args = basic_grouped_gemm_args<__nv_bfloat16>;
using grouped_gemm_f32_args = basic_grouped_gemm_args<float>;

template <class T>
[[nodiscard]] status grouped_gemm_can_implement(const basic_grouped_gemm_args<T>& g) noexcept {
  if (g.experts == 0 || g.max_rows == 0 || g.base.n == 0) return status::ok;
  basic_gemm_args<T> one = g.base;
  one.m = g.max_rows;
  if (const status s = gemm_can_implement(one); s != status::ok) return s;
  if (g.order == nullptr || g.offsets == nullptr || g.top_k == 0) return status::invalid_argument;
  if (g.experts > 65535u) return status::not_supported;
  return status::ok;
}

namespace detail {
__device__ inline float apply_epilogue(float v, epilogue act) {
  switch (act) {
    case epilogue::gelu_exact: return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    case epilogue::gelu_quick: return v / (1.0f + __expf(-1.702f * v));
    case epilogue::silu: return v / (1.0f + __expf(-v));
    default: return v;
  }
}

//! C's element (row, col) of the logical problem from its sum: + bias, activation, + C.
template <class Args, class CRow>
__device__ inline void store_epilogue(const Args& g, std::size_t row, std::size_t col, float sum, CRow c_row) {
  if (row >= g.m || col >= g.n) return;
  const float v = apply_epilogue(sum + (g.bias != nullptr ? g.bias[col] : 0.0f), g.act);
  float* out = g.c + c_row(row) * g.ldc + col;
  *out = g.accumulate ? *out + v : v;
}

struct identity_row {
  __device__ std::size_t operator()(std::size_t r) const { return r; }
};

}  // namespace detail

}  // namespace cuda
VPRIM_NAMESPACE_END
