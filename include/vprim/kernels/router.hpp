// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file router.hpp
//! Contract of DeepSeek-V4's MoE router after its logits GEMM, per token:
//!   scores = sqrtsoftplus | sigmoid | softmax (logits);
//!   experts = the top-k of scores + selection_bias (the bias only selects; ties go to the lower
//!   expert, NaN is never chosen before a number), or the token's row of tid2eid in hash layers;
//!   image-block tokens (ids >= vocab) select by scores + vision_bias (`bias_vl`) on every
//!   layer, hash layers included, when vision_bias is given;
//!   weights = scores[experts] / (sum + 1e-20) * routed_scale (always the unbiased scores).
//! The CPU (cpu/router.hpp) reports an image token on a hash layer without vision_bias as
//! not_supported and an id outside tid2eid as out_of_range; the GPU (cuda/router.cuh) leaves
//! such slots -1 with weight 0 for moe_permute to report.

#include <cstddef>
#include <cstdint>

#include "vprim/core/status.hpp"
#include "vprim/core/workspace.hpp"
#include "vprim/kernels/topk.hpp"
#include "vprim/policy/policies.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

struct router_args {
  const float* logits = nullptr;           //!< [tokens, experts], the router GEMM's output
  const float* selection_bias = nullptr;   //!< [experts] (top-k layers) or null (no bias)
  const std::int64_t* tid2eid = nullptr;   //!< [vocab, top_k] (hash layers) or null
  const std::int64_t* token_ids = nullptr; //!< [tokens] (hash layers, or with vision_bias)
  float* weights = nullptr;                //!< [tokens, top_k]
  std::int64_t* indices = nullptr;         //!< [tokens, top_k]
  std::size_t tokens = 0, experts = 0, top_k = 0, vocab = 0;
  scoring_func scoring = scoring_func::sqrtsoftplus;
  float routed_scale = 1.0f;
  const float* vision_bias = nullptr;      //!< [experts] `bias_vl` for image-block tokens, or null
};

[[nodiscard]] constexpr status router_can_implement(const router_args& a) noexcept {
  if (a.tokens == 0) return status::ok;
  if (!a.logits || !a.weights || !a.indices || a.experts == 0 || a.top_k == 0 || a.top_k > a.experts) return status::invalid_argument;
  if ((a.tid2eid != nullptr || a.vision_bias != nullptr) && (a.token_ids == nullptr || a.vocab == 0))
    return status::invalid_argument;
  return status::ok;
}

//! Scratch of the CPU router: scores and biased scores of one token, and top-k's.
[[nodiscard]] constexpr workspace_size router_workspace(const router_args& a) noexcept {
  return workspace_size{}.add<float>(a.experts).add<float>(a.experts).add(topk_workspace({nullptr, a.experts, a.top_k, nullptr}));
}

}  // namespace kernels
VPRIM_NAMESPACE_END
