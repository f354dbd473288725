// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file activation.hpp
//! Contract of the clamped SwiGLU: out[r, i] = silu(min(g, limit)) * clamp(u, -limit, limit) for
//! gate and up rows of stride ld; no clamping when limit is +inf.

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

struct swiglu_args {
  const float* gate = nullptr;
  const float* up = nullptr;
  std::size_t ld = 0;   //!< row stride of gate and up
  float* out = nullptr;  //!< [rows, width]
  std::size_t rows = 0, width = 0;
  float limit = INFINITY;
};

[[nodiscard]] inline status swiglu_can_implement(const swiglu_args& a) noexcept {
  if (a.rows == 0 || a.width == 0) return status::ok;
  if (a.gate == nullptr || a.up == nullptr || a.out == nullptr || std::isnan(a.limit)) return status::invalid_argument;
  if (a.ld < a.width) return status::shape_mismatch;
  return status::ok;
}

}  // namespace kernels
VPRIM_NAMESPACE_END
