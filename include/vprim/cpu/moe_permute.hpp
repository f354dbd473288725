// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file moe_permute.hpp
//! Grouping a MoE layer's slots by expert on the CPU (contract: kernels/moe_permute.hpp): a
//! counting sort, stable by construction, no workspace beyond the outputs.

#include <algorithm>

#include "vprim/kernels/moe_permute.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

[[nodiscard]] inline status moe_permute(const kernels::moe_permute_args& a) {
  if (status s = kernels::moe_permute_can_implement(a); s != status::ok) return s;
  std::fill(a.offsets, a.offsets + a.experts + 1, 0);
  for (std::size_t i = 0; i < a.slots; ++i) {
    if (a.indices[i] < 0 || static_cast<std::size_t>(a.indices[i]) >= a.experts) return status::out_of_range;
    ++a.offsets[static_cast<std::size_t>(a.indices[i]) + 1];
  }
  for (std::size_t e = 0; e < a.experts; ++e) a.offsets[e + 1] += a.offsets[e];
  // offsets[e] is expert e's cursor while the slots are placed; it ends where e + 1 starts, so
  // shifting the array by one restores the ranges.
  for (std::size_t i = 0; i < a.slots; ++i) a.order[a.offsets[static_cast<std::size_t>(a.indices[i])]++] = static_cast<std::int32_t>(i);
  for (std::size_t e = a.experts; e > 0; --e) a.offsets[e] = a.offsets[e - 1];
  a.offsets[0] = 0;
  return status::ok;
}

}  // namespace cpu
VPRIM_NAMESPACE_END
