// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file router.hpp
//! DeepSeek-V4's MoE router on the CPU (contract: kernels/router.hpp): scores, the experts (by
//! cpu::top_k, or the hash table), and their renormalised weights, one token at a time.

#include <algorithm>
#include <cmath>

#include "vprim/cpu/topk.hpp"
#include "vprim/kernels/router.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

namespace detail {
[[nodiscard]] inline float sqrtsoftplus(float x) noexcept {
  const float sp = x > 20.0f ? x : std::log1p(std::exp(x));  // torch's softplus threshold
  return std::sqrt(sp);
}
}  // namespace detail

template <class Arch>
[[nodiscard]] status route(Arch arch, const kernels::router_args& a, workspace_arena& ws) {
  if (status s = kernels::router_can_implement(a); s != status::ok) return s;
  const std::size_t E = a.experts, K = a.top_k;
  workspace_arena::frame frame(ws);
  float* scores = ws.take<float>(E);
  float* biased = ws.take<float>(E);
  if (scores == nullptr || biased == nullptr) return status::out_of_memory;
  for (std::size_t t = 0; t < a.tokens; ++t) {
    const float* lg = a.logits + t * E;
    if (a.scoring == scoring_func::softmax) {
      const float mx = *std::max_element(lg, lg + E);
      float sum = 0.0f;
      for (std::size_t e = 0; e < E; ++e) sum += (scores[e] = std::exp(lg[e] - mx));
      for (std::size_t e = 0; e < E; ++e) scores[e] /= sum;
    } else {
      for (std::size_t e = 0; e < E; ++e)
        scores[e] = a.scoring == scoring_func::sigmoid ? 1.0f / (1.0f + std::exp(-lg[e])) : detail::sqrtsoftplus(lg[e]);
    }
    std::int64_t* idx = a.indices + t * K;
    const bool image = a.token_ids != nullptr && a.token_ids[t] >= static_cast<std::int64_t>(a.vocab);
    if (a.tid2eid != nullptr && !(image && a.vision_bias != nullptr)) {
      if (image) return status::not_supported;  // a text-only table has no row for an image token
      if (a.token_ids[t] < 0 || static_cast<std::size_t>(a.token_ids[t]) >= a.vocab) return status::out_of_range;
      std::copy_n(a.tid2eid + static_cast<std::size_t>(a.token_ids[t]) * K, K, idx);
      for (std::size_t k = 0; k < K; ++k)
        if (idx[k] < 0 || static_cast<std::size_t>(idx[k]) >= E) return status::out_of_range;
    } else {
      const float* bias = image && a.vision_bias != nullptr ? a.vision_bias : a.selection_bias;
      for (std::size_t e = 0; e < E; ++e) biased[e] = scores[e] + (bias != nullptr ? bias[e] : 0.0f);
      if (status s = top_k(arch, {biased, E, K, idx}, ws); s != status::ok) return s;
    }
    float sum = 0.0f;
    for (std::size_t k = 0; k < K; ++k) sum += scores[static_cast<std::size_t>(idx[k])];
    for (std::size_t k = 0; k < K; ++k) a.weights[t * K + k] = scores[static_cast<std::size_t>(idx[k])] / (sum + 1e-20f) * a.routed_scale;
  }
  return status::ok;
}

}  // namespace cpu
VPRIM_NAMESPACE_END
