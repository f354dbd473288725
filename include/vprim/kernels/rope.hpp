// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file rope.hpp
//! Contracts of the two rotary embeddings, in place: DeepSeek-ViT's 2D RoPE over a row-major
//! grid (pair (i, i + d/2) of each head turns by row * f_i for i < d/4 and by column *
//! f_{i - d/4} otherwise, f_k = theta^(-2k / (d/2))) and DeepSeek-V4's interleaved partial RoPE.

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

struct rope_2d_args {
  float* x = nullptr;            //!< [tokens] rows of `heads` heads of head_dim, row stride `stride`
  std::size_t tokens = 0, heads = 0, head_dim = 0, stride = 0, grid_w = 0;
  double theta = 10000.0;
};

[[nodiscard]] constexpr status rope_2d_can_implement(const rope_2d_args& a) noexcept {
  if (a.tokens == 0 || a.heads == 0) return status::ok;
  if (a.x == nullptr || a.grid_w == 0 || !(a.theta > 0.0)) return status::invalid_argument;
  if (a.head_dim == 0 || a.head_dim % 4 != 0) return status::not_supported;
  if (a.stride < a.heads * a.head_dim || a.tokens % a.grid_w != 0) return status::shape_mismatch;
  if (a.tokens > 0x7fffffffu) return status::not_supported;
  return status::ok;
}

//! DeepSeek-V4's interleaved partial RoPE (cpu::partial_rope): in each head the
//! trailing 2 * rope_half dims form pairs (nope + 2i, nope + 2i + 1) that turn by
//! float(pos) * inv_freq[i] (fp32, as the CPU computes it); `inverse` turns back (the attention
//! output's de-rotation).
struct rope_partial_args {
  float* x = nullptr;               //!< [tokens] rows of `heads` heads, row stride `stride`
  const std::int64_t* pos = nullptr;  //!< [tokens] positions
  const float* inv_freq = nullptr;  //!< [rope_half]
  std::size_t tokens = 0, heads = 0, head_dim = 0, stride = 0, rope_half = 0;
  bool inverse = false;
};

[[nodiscard]] constexpr status rope_partial_can_implement(const rope_partial_args& a) noexcept {
  if (a.tokens == 0 || a.heads == 0 || a.rope_half == 0) return status::ok;
  if (!a.x || !a.pos || !a.inv_freq) return status::invalid_argument;
  if (2 * a.rope_half > a.head_dim || a.stride < a.heads * a.head_dim) return status::shape_mismatch;
  if (a.tokens > 0x7fffffffu) return status::not_supported;
  return status::ok;
}

}  // namespace kernels
VPRIM_NAMESPACE_END
