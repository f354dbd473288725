// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file mhc.hpp
//! Contract of DeepSeek-V4's manifold-constrained hyper-connection, per token of n streams:
//!   mix = fn (x / rms(x)) over the flattened streams; pre = sigmoid(mix * scale0 + base) + eps,
//!   post = 2 sigmoid(mix * scale1 + base); comb = row softmax(mix * scale2 + base) + eps made
//!   doubly stochastic by Sinkhorn-Knopp; collapsed = sum_j pre_j x_j (hc_compute);
//!   then x'_k = post_k f + sum_j comb[j][k] x_j in place (hc_expand);
//!   the hyper head: collapsed = sum_j (sigmoid(mix * scale0 + base) + eps)_j x_j with fn [n, n dim].
//! The CPU twin is cpu/mhc.hpp, the GPU's cuda/mhc.cuh.

#include <cstddef>

#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

//! Most residual streams (hc_mult) the contract allows; the release has 4.
inline constexpr std::size_t max_hc_streams = 16;

struct hc_args {
  const float* x = nullptr;      //!< [tokens, n, dim] streams
  const float* fn = nullptr;     //!< [(2 + n) * n, n * dim]
  const float* base = nullptr;   //!< [(2 + n) * n]
  const float* scale = nullptr;  //!< [3]
  float* post = nullptr;         //!< [tokens, n]
  float* comb = nullptr;         //!< [tokens, n, n]
  float* collapsed = nullptr;    //!< [tokens, dim]
  std::size_t tokens = 0, n = 0, dim = 0;
  float norm_eps = 1e-6f, hc_eps = 1e-6f;
  int sinkhorn_iters = 20;
};

[[nodiscard]] constexpr status hc_can_implement(const hc_args& a) noexcept {
  if (a.tokens == 0) return status::ok;
  if (!a.x || !a.fn || !a.base || !a.scale || !a.post || !a.comb || !a.collapsed || a.dim == 0) return status::invalid_argument;
  if (a.n == 0 || a.n > max_hc_streams) return status::not_supported;
  if (a.sinkhorn_iters < 1 || a.tokens > 0x7fffffffu) return status::invalid_argument;
  return status::ok;
}

}  // namespace kernels
VPRIM_NAMESPACE_END
