// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file activation.hpp
//! Elementwise activations of the towers' MLPs:
//! - swiglu: out[r, i] = silu(x[r, i]) * x[r, inter + i] over packed [gate | up] rows, and
//!   DeepSeek-V4's clamped form;
//! - gelu_exact: 0.5 x (1 + erf(x / sqrt 2)) (torch's default GELU);
//! - quick_gelu: x * sigmoid(1.702 x) (CLIP / Qwen2-VL).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "vprim/core/executor.hpp"
#include "vprim/cpu/arch.hpp"
#include "vprim/kernels/activation.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

//! out[r, 0:width] = silu(min(g, limit)) * clamp(u, -limit, limit), with g and u rows of stride
//! ld: DeepSeek-V4's clamped SwiGLU. No clamping when limit is +inf.
template <class Arch, executor Exec>
void swiglu_clamped(Arch, const float* gate, const float* up, std::size_t ld, float* out, std::size_t rows,
                    std::size_t width, float limit, Exec& exec) {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size;
  const bool clamp = !std::isinf(limit);
  exec.parallel_for(static_cast<std::int64_t>(rows), [&](std::int64_t r0, std::int64_t r1) {
    const B hi(limit), lo(-limit), one(1.0f);
    for (auto r = static_cast<std::size_t>(r0); r < static_cast<std::size_t>(r1); ++r) {
      const float* g = gate + r * ld;
      const float* u = up + r * ld;
      float* y = out + r * width;
      std::size_t i = 0;
      for (; i + V <= width; i += V) {
        B x = B::load_unaligned(g + i), v = B::load_unaligned(u + i);
        if (clamp) {
          x = xsimd::min(x, hi);
          v = xsimd::clip(v, lo, hi);
        }
        (x / (one + xsimd::exp(-x)) * v).store_unaligned(y + i);
      }
      for (; i < width; ++i) {
        const float x = clamp ? std::min(g[i], limit) : g[i], v = clamp ? std::clamp(u[i], -limit, limit) : u[i];
        y[i] = x / (1.0f + std::exp(-x)) * v;
      }
    }
  });
}

//! out[r, 0:inter] = silu(in[r, 0:inter]) * in[r, inter:2*inter].
//! The same through the shared contract (kernels/activation.hpp), as the CUDA twin takes it.
template <class Arch, executor Exec>
[[nodiscard]] status swiglu_clamped(Arch arch, const kernels::swiglu_args& a, Exec& exec) {
  if (status s = kernels::swiglu_can_implement(a); s != status::ok) return s;
  swiglu_clamped(arch, a.gate, a.up, a.ld, a.out, a.rows, a.width, a.limit, exec);
  return status::ok;
}

template <class Arch, executor Exec>
void swiglu(Arch arch, const float* in, float* out, std::size_t rows, std::size_t inter, Exec& exec) {
  swiglu_clamped(arch, in, in + inter, 2 * inter, out, rows, inter, std::numeric_limits<float>::infinity(), exec);
}

enum class gelu_kind : std::uint8_t { exact, quick };

//! In-place GELU over n values.
template <class Arch, executor Exec>
void gelu(Arch, float* x, std::size_t n, gelu_kind kind, Exec& exec) {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size;
  constexpr std::size_t chunk = 4096;
  exec.parallel_for(static_cast<std::int64_t>((n + chunk - 1) / chunk), [&](std::int64_t c0, std::int64_t c1) {
    const std::size_t b = static_cast<std::size_t>(c0) * chunk, e = std::min(n, static_cast<std::size_t>(c1) * chunk);
    std::size_t i = b;
    if (kind == gelu_kind::exact) {
      const B half(0.5f), one(1.0f), rsqrt2(0.70710678118654752f);
      for (; i + V <= e; i += V) {
        const B v = B::load_unaligned(x + i);
        (half * v * (one + xsimd::erf(v * rsqrt2))).store_unaligned(x + i);
      }
      for (; i < e; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
    } else {
      const B one(1.0f), k(1.702f);
      for (; i + V <= e; i += V) {
        const B v = B::load_unaligned(x + i);
        (v / (one + xsimd::exp(-k * v))).store_unaligned(x + i);
      }
      for (; i < e; ++i) x[i] = x[i] / (1.0f + std::exp(-1.702f * x[i]));
    }
  });
}

}  // namespace cpu
VPRIM_NAMESPACE_END
