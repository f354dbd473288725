// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file moe_permute.hpp
//! Contract of grouping a MoE layer's (token, slot) pairs by expert: from indices [slots]
//! (expert ids; slot = token * top_k + k) to
//!   order [slots]: slot ids sorted by expert, stable, so each expert's rows keep token order;
//!   offsets [experts + 1]: expert e owns order[offsets[e] .. offsets[e+1]).
//! An id outside [0, experts) is an error (the CPU returns out_of_range; the GPU sorts it last,
//! owned by nobody, and reports it).

#include <cstddef>
#include <cstdint>

#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

struct moe_permute_args {
  const std::int64_t* indices = nullptr;  //!< [slots] expert ids
  std::int32_t* order = nullptr;          //!< [slots]
  std::int32_t* offsets = nullptr;        //!< [experts + 1]
  std::size_t slots = 0, experts = 0;
};

[[nodiscard]] constexpr status moe_permute_can_implement(const moe_permute_args& a) noexcept {
  if (a.indices == nullptr && a.slots > 0) return status::invalid_argument;
  if (a.order == nullptr && a.slots > 0) return status::invalid_argument;
  if (a.offsets == nullptr || a.experts == 0) return status::invalid_argument;
  return status::ok;
}

}  // namespace kernels
VPRIM_NAMESPACE_END
