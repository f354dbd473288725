// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file indexer.cuh
//! The lightning indexer's scores on the GPU, the scoring step of v4::indexer::select:
//!   scores[t, i] = sum_h hw[t, h] * relu(q[t, h] . keys[i])   for i < visible_max
//! with hw already holding w_h * d^-1/2 * H^-1/2 (as the CPU path folds it). fp32 throughout, so
//! the top-k that follows (topk.cuh) picks the same entries as the CPU wherever no two scores
//! tie. One block scores 32 keys for one query, its query heads and keys staged in shared memory.

#include "vprim/cuda/launch.cuh"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

struct indexer_args {
  const float* q = nullptr;     //!< [queries, heads, dim], RoPE applied
  const float* hw = nullptr;    //!< [queries, heads] folded head weights
  const float* keys = nullptr;  //!< [entries, dim] indexer keys
  float* scores = nullptr;      //!< [queries, visible_max]
  std::size_t queries = 0, heads = 0, dim = 0, visible_max = 0;
};

[[nodiscard]] inline status indexer_can_implement(const indexer_args& a) noexcept {
  if (a.queries == 0 || a.visible_max == 0) return status::ok;
  if (!a.q || !a.hw || !a.keys || !a.scores || a.heads == 0 || a.dim == 0) return status::invalid_argument;
  if ((a.heads * a.dim + 32 * (a.dim + 1)) * sizeof(float) > 160 * 1024) return status::not_supported;
  if (a.queries > 65535u || ceil_div(a.visible_max, 32) > 0x7fffffffu) return status::not_supported;
  return status::ok;
}

namespace detail {
inline constexpr int indexer_keys = 32, indexer_threads = 128;

VPRIM_KERNEL void indexer_scores_kernel(indexer_args a) {
  extern __shared__ float indexer_smem[];
  float* qs = indexer_smem;                              // [heads, dim]
  float* ks = indexer_smem + a.heads * a.dim;            // [32, dim + 1] (padded against bank conflicts)
  const std::size_t t = blockIdx.y, i0 = static_cast<std::size_t>(blockIdx.x) * indexer_keys, ldk = a.dim + 1;
  for (std::size_t e = threadIdx.x; e < a.heads * a.dim; e += indexer_threads) qs[e] = a.q[t * a.heads * a.dim + e];
  for (std::size_t e = threadIdx.x; e < indexer_keys * a.dim; e += indexer_threads) {
    const std::size_t j = e / a.dim, c = e % a.dim;
    ks[j * ldk + c] = i0 + j < a.visible_max ? a.keys[(i0 + j) * a.dim + c] : 0.0f;
  }
  __syncthreads();
  // 4 threads per key, each taking every 4th head; their partial sums meet by shuffles.
  const int lane = static_cast<int>(threadIdx.x) % 4, j = static_cast<int>(threadIdx.x) / 4;
  float total = 0.0f;
  for (std::size_t h = static_cast<std::size_t>(lane); h < a.heads; h += 4) {
    float dot = 0.0f;
    for (std::size_t c = 0; c < a.dim; ++c) dot += qs[h * a.dim + c] * ks[static_cast<std::size_t>(j) * ldk + c];
    total += fmaxf(dot, 0.0f) * a.hw[t * a.heads + h];
  }
  total += __shfl_xor_sync(0xffffffffu, total, 1);
  total += __shfl_xor_sync(0xffffffffu, total, 2);
  const std::size_t i = i0 + static_cast<std::size_t>(j);
  if (lane == 0 && i < a.visible_max) a.scores[t * a.visible_max + i] = total;
}
}  // namespace detail

//! Every query's scores over the first visible_max keys, on `stream`.
[[nodiscard]] inline status indexer_scores(const indexer_args& a, cudaStream_t stream) {
  if (const status s = indexer_can_implement(a); s != status::ok || a.queries == 0 || a.visible_max == 0) return s;
  const std::size_t bytes = (a.heads * a.dim + detail::indexer_keys * (a.dim + 1)) * sizeof(float);
  if (cudaError_t e = cudaFuncSetAttribute(detail::indexer_scores_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(bytes));
      e != cudaSuccess)
    return to_status(e);
  const dim3 grid(static_cast<unsigned>(ceil_div(a.visible_max, detail::indexer_keys)), static_cast<unsigned>(a.queries));
  detail::indexer_scores_kernel<<<grid, detail::indexer_threads, bytes, stream>>>(a);
  return detail::launched();
}

}  // namespace cuda
VPRIM_NAMESPACE_END
