// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file unfold.hpp
//! Contract of the k x k merge (unfold) of a token grid: its shapes, shared by the CPU kernel
//! (cpu/unfold.hpp) and the GPU's fused loads (cuda/vision_gemm.cuh).

#include <cstddef>

#include "vprim/core/config.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

struct unfold_shape {
  std::size_t grid_h = 0, grid_w = 0, channels = 0, factor = 0;
  [[nodiscard]] std::size_t out_h() const noexcept { return (grid_h + factor - 1) / factor; }
  [[nodiscard]] std::size_t out_w() const noexcept { return (grid_w + factor - 1) / factor; }
  [[nodiscard]] std::size_t out_tokens() const noexcept { return out_h() * out_w(); }
  [[nodiscard]] std::size_t out_features() const noexcept { return channels * factor * factor; }
};

}  // namespace kernels
VPRIM_NAMESPACE_END
