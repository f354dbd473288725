// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file moe.hpp
//! Contract of a MoE layer's routed experts, given the router's choice (kernels/router.hpp):
//!   y[t] (+)= sum_k weights[t, k] * down_e(silu(min(g, limit)) * clamp(u, -limit, limit)),
//!   [g | u] = gate_up_e(x[t]), e = indices[t, k]
//! gate_up_e is [2 * inter, dim] (rows: gate, then up), down_e is [dim, inter]. Each backend
//! holds the experts in its own form (`Experts`): the CPU a view per expert (cpu/moe.hpp), the
//! GPU the checkpoint's stacked [experts, n, k] arrays (cuda/moe.cuh). The shared expert is a
//! plain Linear chain on top (accumulate adds onto its output).

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

template <class Act, class Experts>
struct basic_moe_experts_args {
  const Act* x = nullptr;                 //!< [tokens, dim] layer input
  const std::int64_t* indices = nullptr;  //!< [tokens, top_k] expert ids
  const float* weights = nullptr;         //!< [tokens, top_k] combine weights
  Experts gate_up{};                      //!< the experts' [2 * inter, dim] weights
  Experts down{};                         //!< the experts' [dim, inter] weights
  float* y = nullptr;                     //!< [tokens, dim]
  std::size_t tokens = 0, dim = 0, inter = 0, experts = 0, top_k = 0;
  float limit = std::numeric_limits<float>::infinity();  //!< the SwiGLU clamp (swiglu_limit)
  bool accumulate = false;                //!< y += (else y =)
};

//! The checks every backend shares: an empty call is ok; otherwise every pointer is set
//! (invalid_argument), the sizes are nonzero with top_k <= experts (invalid_argument), and the
//! slot ids (token * top_k + k) fit in int32 (not_supported). An expert id outside
//! [0, experts) is found while grouping (moe_permute) and reported by the call.
template <class Act, class Experts>
[[nodiscard]] constexpr status moe_experts_can_implement(const basic_moe_experts_args<Act, Experts>& a) noexcept {
  if (a.tokens == 0) return status::ok;
  if (!a.x || !a.indices || !a.weights || !a.y) return status::invalid_argument;
  if constexpr (std::is_pointer_v<Experts>)
    if (!a.gate_up || !a.down) return status::invalid_argument;
  if (a.dim == 0 || a.inter == 0 || a.experts == 0 || a.top_k == 0 || a.top_k > a.experts) return status::invalid_argument;
  if (a.tokens * a.top_k > 0x7fffffffu) return status::not_supported;
  return status::ok;
}

}  // namespace kernels
VPRIM_NAMESPACE_END
