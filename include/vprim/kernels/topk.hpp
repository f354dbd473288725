// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file topk.hpp
//! Contract of top-k selection: the indices of the k largest of n values, largest first.
//! Tie rule: among equal values the lower index comes first and is chosen first; NaN ranks
//! below every number (chosen only when fewer than k values are numbers). The CUDA twin keeps
//! the same order.

#include <cstddef>
#include <cstdint>

#include "vprim/core/status.hpp"
#include "vprim/core/workspace.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

struct topk_args {
  const float* values = nullptr;
  std::size_t n = 0, k = 0;     //!< k > n selects n
  std::int64_t* out = nullptr;  //!< [min(k, n)]
};

//! Values sampled to find a threshold when n is large.
inline constexpr std::size_t topk_samples = 1024;

[[nodiscard]] constexpr workspace_size topk_workspace(const topk_args& a) noexcept {
  return workspace_size{}.add<std::int64_t>(a.n).add<float>(topk_samples);
}

[[nodiscard]] constexpr status topk_can_implement(const topk_args& a) noexcept {
  if (a.n > 0 && a.k > 0 && (a.values == nullptr || a.out == nullptr)) return status::invalid_argument;
  return status::ok;
}

}  // namespace kernels
VPRIM_NAMESPACE_END
