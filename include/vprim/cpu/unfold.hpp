// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file unfold.hpp
//! Merging k x k neighbouring tokens of a row-major grid into one token of k*k*C features. The
//! grid is zero padded on the right and bottom to multiples of k (DeepSeek's aligner pads after
//! the final norm, so padded features are exact zeros). Output tokens are row-major over the
//! merged grid. Feature order is the merge policy's layout:
//! channel_major f = c*k*k + ky*k + kx (F.unfold), token_major f = (ky*k + kx)*C + c (Qwen2-VL).

#include <cstddef>
#include <cstdint>
#include <string>

#include "vprim/core/executor.hpp"
#include "vprim/core/status.hpp"
#include "vprim/kernels/unfold.hpp"
#include "vprim/policy/policies.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

using kernels::unfold_shape;

//! in: [grid_h * grid_w, channels]; out: [out_tokens, out_features].
template <executor Exec>
[[nodiscard]] status merge_unfold(const float* in, float* out, const unfold_shape& s, merge_layout layout, Exec& exec) {
  if (s.factor == 0 || s.channels == 0) return status::invalid_argument;
  if (layout != merge_layout::channel_major && layout != merge_layout::token_major) return status::invalid_argument;
  const std::size_t k = s.factor, C = s.channels, ow = s.out_w(), F = s.out_features();
  exec.parallel_for(static_cast<std::int64_t>(s.out_tokens()), [&](std::int64_t t0, std::int64_t t1) {
    for (auto t = static_cast<std::size_t>(t0); t < static_cast<std::size_t>(t1); ++t) {
      const std::size_t by = t / ow, bx = t % ow;
      float* dst = out + t * F;
      for (std::size_t ky = 0; ky < k; ++ky)
        for (std::size_t kx = 0; kx < k; ++kx) {
          const std::size_t y = by * k + ky, x = bx * k + kx;
          const bool inside = y < s.grid_h && x < s.grid_w;
          const float* src = in + (y * s.grid_w + x) * C;
          for (std::size_t c = 0; c < C; ++c) {
            const std::size_t f = layout == merge_layout::channel_major ? c * k * k + ky * k + kx : (ky * k + kx) * C + c;
            dst[f] = inside ? src[c] : 0.0f;
          }
        }
    }
  });
  return status::ok;
}

}  // namespace cpu
VPRIM_NAMESPACE_END
