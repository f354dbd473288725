// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file mhc.cuh
//! DeepSeek-V4's manifold-constrained hyper-connection on the GPU (contract: kernels/mhc.hpp,
//! twin of cpu/mhc.hpp): per token, the mix projection of the RMS-normalised
//! streams, pre/post, the comb matrix made doubly stochastic by Sinkhorn-Knopp, and the collapse
//! (hc_compute); then the rebuild X'_k = post_k F + sum_j comb[j][k] X_j in place (hc_expand).
//! One block per token; fp32 throughout. Stream counts up to 8 (the released model has 4).

#include "vprim/cuda/block_sum.cuh"
#include "vprim/kernels/mhc.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

//! This kernel's stream limit (the contract allows kernels::max_hc_streams).
inline constexpr std::size_t max_hc_streams = 8;
using kernels::hc_args;

[[nodiscard]] inline status hc_can_implement(const hc_args& a) noexcept {
  if (const status s = kernels::hc_can_implement(a); s != status::ok || a.tokens == 0) return s;
  return a.n > max_hc_streams ? status::not_supported : status::ok;
}

namespace detail {
inline constexpr int hc_threads = 256;

//! mix[r] = (fn[r] . x) / rms(x) for the first `rows` rows of fn, x the flat streams of a token.
__device__ inline void hc_mix(const float* x, const float* fn, std::size_t rows, std::size_t flat, float norm_eps, float* mix) {
  float ss = 0.0f;
  for (std::size_t i = threadIdx.x; i < flat; i += hc_threads) ss += x[i] * x[i];
  const float inv_rms = rsqrtf(block_sum<hc_threads>(ss) / static_cast<float>(flat) + norm_eps);
  for (std::size_t r = 0; r < rows; ++r) {  // one block reduction per mix row
    float acc = 0.0f;
    for (std::size_t i = threadIdx.x; i < flat; i += hc_threads) acc += fn[r * flat + i] * x[i];
    const float dot = block_sum<hc_threads>(acc);
    if (threadIdx.x == 0) mix[r] = dot * inv_rms;
  }
  __syncthreads();
}

VPRIM_KERNEL void hc_compute_kernel(hc_args a) {
  constexpr std::size_t N = max_hc_streams, rows_max = (2 + N) * N;
  __shared__ float mix[rows_max], pre[N], c[N * N];
  const std::size_t t = blockIdx.x, n = a.n, flat = n * a.dim, rows = (2 + n) * n;
  const float* x = a.x + t * flat;
  hc_mix(x, a.fn, rows, flat, a.norm_eps, mix);
  if (threadIdx.x == 0) {
    auto sigmoid = [](float v) { return 1.0f / (1.0f + expf(-v)); };
    for (std::size_t k = 0; k < n; ++k) {
      pre[k] = sigmoid(mix[k] * a.scale[0] + a.base[k]) + a.hc_eps;
      a.post[t * n + k] = 2.0f * sigmoid(mix[n + k] * a.scale[1] + a.base[n + k]);
    }
    for (std::size_t j = 0; j < n; ++j) {  // row softmax
      float mx = -INFINITY;
      for (std::size_t k = 0; k < n; ++k) mx = fmaxf(mx, c[j * n + k] = mix[2 * n + j * n + k] * a.scale[2] + a.base[2 * n + j * n + k]);
      float sum = 0.0f;
      for (std::size_t k = 0; k < n; ++k) sum += (c[j * n + k] = expf(c[j * n + k] - mx));
      for (std::size_t k = 0; k < n; ++k) c[j * n + k] = c[j * n + k] / sum + a.hc_eps;
    }
    for (int it = 0; it < a.sinkhorn_iters; ++it) {
      if (it > 0)
        for (std::size_t j = 0; j < n; ++j) {
          float s = 0.0f;
          for (std::size_t k = 0; k < n; ++k) s += c[j * n + k];
          for (std::size_t k = 0; k < n; ++k) c[j * n + k] /= s + a.hc_eps;
        }
      for (std::size_t k = 0; k < n; ++k) {
        float s = 0.0f;
        for (std::size_t j = 0; j < n; ++j) s += c[j * n + k];
        for (std::size_t j = 0; j < n; ++j) c[j * n + k] /= s + a.hc_eps;
      }
    }
    for (std::size_t i = 0; i < n * n; ++i) a.comb[t * n * n + i] = c[i];
  }
  __syncthreads();
  for (std::size_t d = threadIdx.x; d < a.dim; d += hc_threads) {
    float acc = 0.0f;
    for (std::size_t j = 0; j < n; ++j) acc += pre[j] * x[j * a.dim + d];
    a.collapsed[t * a.dim + d] = acc;
  }
}

//! The hyper head: out[t] = sum_j (sigmoid(mix_j * scale + base_j) + hc_eps) x[t, j].
VPRIM_KERNEL void hc_head_kernel(hc_args a) {
  __shared__ float mix[max_hc_streams];
  const std::size_t t = blockIdx.x, n = a.n, flat = n * a.dim;
  const float* x = a.x + t * flat;
  hc_mix(x, a.fn, n, flat, a.norm_eps, mix);
  for (std::size_t d = threadIdx.x; d < a.dim; d += hc_threads) {
    float acc = 0.0f;
    for (std::size_t j = 0; j < n; ++j) acc += (1.0f / (1.0f + expf(-(mix[j] * a.scale[0] + a.base[j]))) + a.hc_eps) * x[j * a.dim + d];
    a.collapsed[t * a.dim + d] = acc;
  }
}

VPRIM_KERNEL void hc_expand_kernel(float* x, const float* f, const float* post, const float* comb, std::size_t n, std::size_t dim) {
  const std::size_t t = blockIdx.x;
  float* xt = x + t * n * dim;
  const float* c = comb + t * n * n;
  for (std::size_t d = threadIdx.x; d < dim; d += blockDim.x) {
    float in[max_hc_streams];  // this thread owns column d of every stream: in place is safe
    for (std::size_t j = 0; j < n; ++j) in[j] = xt[j * dim + d];
    for (std::size_t k = 0; k < n; ++k) {
      float acc = post[t * n + k] * f[t * dim + d];
      for (std::size_t j = 0; j < n; ++j) acc += c[j * n + k] * in[j];
      xt[k * dim + d] = acc;
    }
  }
}
}  // namespace detail

//! post, comb and the collapsed input of the sub-block, on `stream`.
[[nodiscard]] inline status hc_compute(const hc_args& a, cudaStream_t stream) {
  if (const status s = cuda::hc_can_implement(a); s != status::ok || a.tokens == 0) return s;
  detail::hc_compute_kernel<<<static_cast<unsigned>(a.tokens), detail::hc_threads, 0, stream>>>(a);
  return detail::launched();
}

//! The final hyper head (v4::hyper_head::collapse): a.fn [n, n * dim], a.base [n], a.scale [1];
//! writes a.collapsed [tokens, dim] (post and comb are not used).
[[nodiscard]] inline status hc_head_collapse(const hc_args& a, cudaStream_t stream) {
  if (a.tokens == 0) return status::ok;
  if (!a.x || !a.fn || !a.base || !a.scale || !a.collapsed || a.dim == 0) return status::invalid_argument;
  if (a.n == 0 || a.n > max_hc_streams || a.tokens > 0x7fffffffu) return status::not_supported;
  detail::hc_head_kernel<<<static_cast<unsigned>(a.tokens), detail::hc_threads, 0, stream>>>(a);
  return detail::launched();
}

//! x[t, k] = post[t, k] * f[t] + sum_j comb[t, j, k] * x[t, j], in place, on `stream`.
[[nodiscard]] inline status hc_expand(float* x, const float* f, const float* post, const float* comb, std::size_t tokens,
                                      std::size_t n, std::size_t dim, cudaStream_t stream) {
  if (tokens == 0) return status::ok;
  if (!x || !f || !post || !comb || dim == 0) return status::invalid_argument;
  if (n == 0 || n > max_hc_streams || tokens > 0x7fffffffu) return status::not_supported;
  detail::hc_expand_kernel<<<static_cast<unsigned>(tokens), 256, 0, stream>>>(x, f, post, comb, n, dim);
  return detail::launched();
}

}  // namespace cuda
VPRIM_NAMESPACE_END
