// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file norm.cuh
//! Row-wise RMSNorm and LayerNorm over [rows, dim] fp32 on the GPU, accumulated in fp32 (contract:
//! kernels/norm.hpp, twin of cpu/norm.hpp; (in place allowed, weight may be null for RMSNorm). One block
//! per row; the row's sums go through block_sum (cub::BlockReduce).

#include "vprim/cuda/block_sum.cuh"
#include "vprim/kernels/norm.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

using kernels::norm_args;
using kernels::norm_can_implement;

namespace detail {
inline constexpr int norm_threads = 256;

template <bool Layer>
VPRIM_KERNEL void norm_kernel(norm_args a) {
  const float* x = a.in + static_cast<std::size_t>(blockIdx.x) * a.dim;
  float* y = a.out + static_cast<std::size_t>(blockIdx.x) * a.dim;
  float mean = 0.0f;
  if constexpr (Layer) {
    float s = 0.0f;
    for (std::size_t i = threadIdx.x; i < a.dim; i += norm_threads) s += x[i];
    mean = block_sum<norm_threads>(s) / static_cast<float>(a.dim);
  }
  float ss = 0.0f;
  for (std::size_t i = threadIdx.x; i < a.dim; i += norm_threads) {
    const float d = x[i] - mean;
    ss += d * d;
  }
  const float inv = rsqrtf(block_sum<norm_threads>(ss) / static_cast<float>(a.dim) + a.eps);
  for (std::size_t i = threadIdx.x; i < a.dim; i += norm_threads) {
    float v = (x[i] - mean) * inv;
    if (a.weight != nullptr) v *= a.weight[i];
    if constexpr (Layer) v += a.bias[i];
    y[i] = v;
  }
}

template <bool Layer>
[[nodiscard]] status launch_norm(const norm_args& a, cudaStream_t stream) {
  if (const status s = norm_can_implement(a, Layer); s != status::ok || a.rows == 0) return s;
  norm_kernel<Layer><<<static_cast<unsigned>(a.rows), norm_threads, 0, stream>>>(a);
  return launched();
}
}  // namespace detail

//! out[r] = in[r] / sqrt(mean(in[r]^2) + eps) * weight, on `stream`.
[[nodiscard]] inline status rmsnorm(const norm_args& a, cudaStream_t stream) { return detail::launch_norm<false>(a, stream); }

//! out[r] = (in[r] - mean) / sqrt(var + eps) * weight + bias (biased variance, as torch).
[[nodiscard]] inline status layernorm(const norm_args& a, cudaStream_t stream) { return detail::launch_norm<true>(a, stream); }

}  // namespace cuda
VPRIM_NAMESPACE_END
