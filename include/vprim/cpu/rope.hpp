// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file rope.hpp
//! Axial 2D rotary position embedding of the vision towers. For head_dim d there are d/2
//! angles per token: [row * f_0 .. row * f_{d/4-1} | col * f_0 .. col * f_{d/4-1}] with
//! f_k = theta^(-2k / (d/2)). Pair (i, i + d/2) of each head rotates by angle i ("half" or
//! rotate-half style): out_i = x_i cos - x_{i+d/2} sin, out_{i+d/2} = x_{i+d/2} cos + x_i sin.
//! DeepSeek-ViT (rope_dim = d/2 slots, [h | w] blocks) and Qwen2-VL's VisionRotaryEmbedding
//! (dim d/2, emb = cat(freqs, freqs), rotate_half) are both this map.
//! Also DeepSeek-V4's partial interleaved RoPE of the decoder (partial_rope).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "vprim/core/executor.hpp"
#include "vprim/core/status.hpp"
#include "vprim/cpu/arch.hpp"
#include "vprim/kernels/rope.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

//! cos/sin tables [tokens, d/2] for a row-major grid of grid_h x grid_w tokens.
struct rope_table {
  std::size_t half = 0;  //!< d/2
  std::vector<float> cos, sin;
};

[[nodiscard]] inline result<rope_table> make_rope_2d(std::size_t grid_h, std::size_t grid_w, std::size_t head_dim,
                                                     double theta) {
  if (head_dim == 0 || head_dim % 4 != 0)
    return make_error(status::invalid_argument,
                      "make_rope_2d: head_dim " + std::to_string(head_dim) + " must be a positive multiple of 4");
  rope_table t;
  t.half = head_dim / 2;
  const std::size_t quarter = head_dim / 4;
  std::vector<float> inv_freq(quarter);
  for (std::size_t k = 0; k < quarter; ++k)  // computed in float like the peers' fp32 tables
    inv_freq[k] = static_cast<float>(1.0 / std::pow(theta, static_cast<double>(2 * k) / static_cast<double>(t.half)));
  t.cos.resize(grid_h * grid_w * t.half);
  t.sin.resize(t.cos.size());
  for (std::size_t y = 0; y < grid_h; ++y)
    for (std::size_t x = 0; x < grid_w; ++x) {
      float* c = t.cos.data() + (y * grid_w + x) * t.half;
      float* s = t.sin.data() + (y * grid_w + x) * t.half;
      for (std::size_t k = 0; k < quarter; ++k) {
        const float ah = static_cast<float>(y) * inv_freq[k];
        const float aw = static_cast<float>(x) * inv_freq[k];
        c[k] = std::cos(ah);
        s[k] = std::sin(ah);
        c[quarter + k] = std::cos(aw);
        s[quarter + k] = std::sin(aw);
      }
    }
  return t;
}

//! Rotates `heads` heads of each token in place. Token t's head h starts at
//! x + t * token_stride + h * head_dim.
template <class Arch, executor Exec>
void apply_rope_2d(Arch, float* x, std::size_t tokens, std::size_t heads, std::size_t token_stride,
                   const rope_table& table, Exec& exec) {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size;
  const std::size_t half = table.half;
  exec.parallel_for(static_cast<std::int64_t>(tokens), [&](std::int64_t t0, std::int64_t t1) {
    for (auto t = static_cast<std::size_t>(t0); t < static_cast<std::size_t>(t1); ++t) {
      const float* c = table.cos.data() + t * half;
      const float* s = table.sin.data() + t * half;
      for (std::size_t h = 0; h < heads; ++h) {
        float* lo = x + t * token_stride + h * 2 * half;
        float* hi = lo + half;
        std::size_t i = 0;
        for (; i + V <= half; i += V) {
          const B a = B::load_unaligned(lo + i), b = B::load_unaligned(hi + i);
          const B cc = B::load_unaligned(c + i), ss = B::load_unaligned(s + i);
          (a * cc - b * ss).store_unaligned(lo + i);
          (b * cc + a * ss).store_unaligned(hi + i);
        }
        for (; i < half; ++i) {
          const float a = lo[i], b = hi[i];
          lo[i] = a * c[i] - b * s[i];
          hi[i] = b * c[i] + a * s[i];
        }
      }
    }
  });
}

//! DeepSeek-V4's partial, interleaved RoPE: in each of `count` heads of width head_dim
//! (contiguous), pairs (2i, 2i+1) of the trailing 2 * pairs channels rotate by pos * inv_freq[i];
//! inverse rotates by -pos (the de-rotation of the attention output). Angles in float, as the
//! peer computes them. Scalar: a few pairs per head, dominated by cos/sin.
inline void partial_rope(float* heads, std::size_t count, std::size_t head_dim, const float* inv_freq, std::size_t pairs,
                         double pos, bool inverse = false) {
  const std::size_t nope = head_dim - 2 * pairs;
  for (std::size_t i = 0; i < pairs; ++i) {
    const float angle = static_cast<float>(pos) * inv_freq[i];
    const float c = std::cos(angle), s = inverse ? -std::sin(angle) : std::sin(angle);
    for (std::size_t h = 0; h < count; ++h) {
      float* x = heads + h * head_dim + nope + 2 * i;
      const float x0 = x[0], x1 = x[1];
      x[0] = x0 * c - x1 * s;
      x[1] = x1 * c + x0 * s;
    }
  }
}

//! The partial RoPE of every row through the shared contract (kernels/rope.hpp), as the CUDA
//! twin takes it: row t at a.x + t * a.stride, rotated at a.pos[t].
[[nodiscard]] inline status partial_rope(const kernels::rope_partial_args& a) {
  if (status s = kernels::rope_partial_can_implement(a); s != status::ok) return s;
  for (std::size_t t = 0; t < a.tokens && a.rope_half > 0; ++t)
    partial_rope(a.x + t * a.stride, a.heads, a.head_dim, a.inv_freq, a.rope_half, static_cast<double>(a.pos[t]), a.inverse);
  return status::ok;
}

}  // namespace cpu
VPRIM_NAMESPACE_END
