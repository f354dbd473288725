// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file norm.hpp
//! Contract of row-wise RMSNorm and LayerNorm over [rows, dim] fp32 (in place allowed; RMSNorm's
//! weight may be null: unweighted): out = x / rms(x) * w, or (x - mean) / std * w + b.

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

struct norm_args {
  const float* in = nullptr;
  float* out = nullptr;
  const float* weight = nullptr;  //!< [dim]; RMSNorm may leave it null (unweighted)
  const float* bias = nullptr;    //!< [dim]; LayerNorm only
  std::size_t rows = 0, dim = 0;
  float eps = 1e-6f;
};

[[nodiscard]] constexpr status norm_can_implement(const norm_args& a, bool layer) noexcept {
  if (a.rows == 0) return status::ok;
  if (a.in == nullptr || a.out == nullptr || a.dim == 0) return status::invalid_argument;
  if (layer && (a.weight == nullptr || a.bias == nullptr)) return status::invalid_argument;
  if (a.rows > 0x7fffffffu || !(a.eps >= 0.0f)) return status::invalid_argument;
  return status::ok;
}

}  // namespace kernels
VPRIM_NAMESPACE_END
