// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file rope.hpp
//! DeepSeek-V4 rotary embedding: interleaved pairs (2i, 2i+1) of the trailing rope_dim channels
//! of a head rotate by pos * f_i. Frequencies are plain (theta^(-2i/rope_dim)) or YaRN-blended:
//! with correction range [low, high] from beta_fast/beta_slow (floor/ceil, as transformers),
//! f_i = f_i/factor * ramp_i + f_i * (1 - ramp_i), ramp_i = clamp((i - low)/(high - low), 0, 1).
//! No YaRN attention factor is applied (the V4 reference does not scale cos/sin).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "vprim/cpu/rope.hpp"
#include "vprim/model/v4/config.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

//! Inverse frequencies (rope_dim / 2 of them), in float as the peer computes them.
[[nodiscard]] inline std::vector<float> rope_inv_freq(const rope_params& p, int rope_dim) {
  const std::size_t half = static_cast<std::size_t>(rope_dim / 2);
  std::vector<float> pos_freq(half), inv(half);
  for (std::size_t i = 0; i < half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(rope_dim);
    pos_freq[i] = std::pow(p.theta, exponent);
    inv[i] = 1.0f / pos_freq[i];
  }
  if (!p.yarn) return inv;
  const double dim = rope_dim, base = p.theta, orig = p.original_max_position;
  auto correction_dim = [&](double rotations) {
    return dim * std::log(orig / (rotations * 2.0 * 3.14159265358979323846)) / (2.0 * std::log(base));
  };
  double low = std::max(std::floor(correction_dim(p.beta_fast)), 0.0);
  double high = std::min(std::ceil(correction_dim(p.beta_slow)), dim - 1.0);
  if (low == high) high += 0.001;
  for (std::size_t i = 0; i < half; ++i) {
    const float ramp = std::clamp(static_cast<float>((static_cast<double>(i) - low) / (high - low)), 0.0f, 1.0f);
    const float extrapolation = 1.0f - ramp;  // weight of the unscaled frequency
    const float interpolated = 1.0f / (p.factor * pos_freq[i]);
    inv[i] = interpolated * (1.0f - extrapolation) + inv[i] * extrapolation;
  }
  return inv;
}

//! Rotates the trailing rope_dim channels of `count` heads of width head_dim (contiguous) by
//! position `pos`; inverse = rotate by -pos (the de-rotation of the attention output).
inline void apply_rope(float* heads, std::size_t count, std::size_t head_dim, const std::vector<float>& inv_freq,
                       double pos, bool inverse = false) {
  cpu::partial_rope(heads, count, head_dim, inv_freq.data(), inv_freq.size(), pos, inverse);
}

}  // namespace v4
VPRIM_NAMESPACE_END
