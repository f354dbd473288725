// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file router.cuh
//! The MoE router on the GPU (contract: kernels/router.hpp, twin of cpu/router.hpp):
//!   scores = sqrtsoftplus | sigmoid | softmax (logits);
//!   experts = the top-k of scores + selection_bias (the bias only selects; ties go to the lower
//!   expert, NaN is never chosen), or the token's row of tid2eid in hash layers;
//!   weights = scores[experts] / (sum + 1e-20) * routed_scale.
//! One warp routes one token: it keeps the token's scores in shared memory and takes the k best
//! in k rounds of a warp arg-max. A slot left without an expert (fewer than k finite scores, or
//! a hash token outside tid2eid) holds -1 with weight 0; moe_permute reports it as a bad id.

#include "vprim/cuda/launch.cuh"
#include "vprim/kernels/router.hpp"
#include "vprim/policy/policies.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

using kernels::router_args;

namespace detail {
struct router_tile {
  static constexpr int warps = 4, max_experts = 1024, max_top_k = 32;
};
}  // namespace detail

[[nodiscard]] inline status router_can_implement(const router_args& a) noexcept {
  using T = detail::router_tile;
  if (const status s = kernels::router_can_implement(a); s != status::ok || a.tokens == 0) return s;
  if (a.experts > T::max_experts || a.top_k > T::max_top_k || ceil_div(a.tokens, T::warps) > 0x7fffffffu) return status::not_supported;
  return status::ok;
}

namespace detail {
__device__ inline float router_score(float logit, scoring_func f) {
  if (f == scoring_func::sigmoid) return 1.0f / (1.0f + expf(-logit));
  return sqrtf(logit > 20.0f ? logit : log1pf(expf(logit)));  // sqrtsoftplus; torch's softplus threshold
}

__device__ inline float warp_max(float v) {
  for (int off = 16; off > 0; off /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}
__device__ inline float warp_sum(float v) {
  for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

VPRIM_KERNEL void router_kernel(router_args a) {
  using T = router_tile;
  extern __shared__ float router_smem[];  // per warp: scores[experts], keys[experts]
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const std::size_t t = static_cast<std::size_t>(blockIdx.x) * T::warps + static_cast<std::size_t>(warp);
  if (t >= a.tokens) return;  // a whole warp leaves together
  const std::size_t E = a.experts, K = a.top_k;
  float* score = router_smem + static_cast<std::size_t>(warp) * 2 * E;
  float* key = score + E;
  const float* lg = a.logits + t * E;
  if (a.scoring == scoring_func::softmax) {
    float mx = -INFINITY;
    for (std::size_t e = static_cast<std::size_t>(lane); e < E; e += 32) mx = fmaxf(mx, lg[e]);
    mx = warp_max(mx);
    float sum = 0.0f;
    for (std::size_t e = static_cast<std::size_t>(lane); e < E; e += 32) sum += (score[e] = expf(lg[e] - mx));
    sum = warp_sum(sum);
    for (std::size_t e = static_cast<std::size_t>(lane); e < E; e += 32) score[e] /= sum;
  } else {
    for (std::size_t e = static_cast<std::size_t>(lane); e < E; e += 32) score[e] = router_score(lg[e], a.scoring);
  }
  const bool image = a.vision_bias != nullptr && a.token_ids[t] >= static_cast<std::int64_t>(a.vocab);
  const float* bias = image ? a.vision_bias : a.selection_bias;
  for (std::size_t e = static_cast<std::size_t>(lane); e < E; e += 32) key[e] = score[e] + (bias != nullptr ? bias[e] : 0.0f);
  __syncwarp();
  std::int64_t* idx = a.indices + t * K;
  if (a.tid2eid != nullptr && !image) {
    const std::int64_t id = a.token_ids[t];
    const bool known = id >= 0 && static_cast<std::size_t>(id) < a.vocab;
    for (std::size_t k = static_cast<std::size_t>(lane); k < K; k += 32) {
      const std::int64_t e = known ? a.tid2eid[static_cast<std::size_t>(id) * K + k] : -1;
      idx[k] = e >= 0 && static_cast<std::size_t>(e) < E ? e : -1;
    }
  } else {
    for (std::size_t k = 0; k < K; ++k) {
      // Each lane's best among its experts (scanned upwards, so ties keep the lower index),
      // then the warp's; a chosen expert's key becomes NaN, which no comparison picks.
      float best = -INFINITY;
      int at = -1;
      for (std::size_t e = static_cast<std::size_t>(lane); e < E; e += 32)
        if (!isnan(key[e]) && (at < 0 || key[e] > best)) {
          best = key[e];
          at = static_cast<int>(e);
        }
      for (int off = 16; off > 0; off /= 2) {
        const float other = __shfl_xor_sync(0xffffffffu, best, off);
        const int other_at = __shfl_xor_sync(0xffffffffu, at, off);
        if (other_at >= 0 && (at < 0 || other > best || (other == best && other_at < at))) {
          best = other;
          at = other_at;
        }
      }
      if (lane == 0) {
        idx[k] = at;
        if (at >= 0) key[at] = NAN;
      }
      __syncwarp();
    }
  }
  __syncwarp();
  float sum = 0.0f;
  for (std::size_t k = 0; k < K; ++k)
    if (idx[k] >= 0) sum += score[idx[k]];
  for (std::size_t k = static_cast<std::size_t>(lane); k < K; k += 32)
    a.weights[t * K + k] = idx[k] >= 0 ? score[idx[k]] / (sum + 1e-20f) * a.routed_scale : 0.0f;
}
}  // namespace detail

//! Routes every token on `stream`.
[[nodiscard]] inline status route(const router_args& a, cudaStream_t stream) {
  using T = detail::router_tile;
  if (const status s = cuda::router_can_implement(a); s != status::ok || a.tokens == 0) return s;
  const std::size_t smem = T::warps * 2 * a.experts * sizeof(float);
  detail::router_kernel<<<static_cast<unsigned>(ceil_div(a.tokens, T::warps)), T::warps * 32, smem, stream>>>(a);
  return detail::launched();
}

}  // namespace cuda
VPRIM_NAMESPACE_END
