// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file activation.hpp
//! Elementwise activations of the towers' MLPs:
//! - swiglu: out[r, i] = silu(x[r, i]) * x[r, inter + i] over packed [gate | up] rows;
//! - gelu_exact: 0.5 x (1 + erf(x / sqrt 2)) (torch's default GELU);
//! - quick_gelu: x * sigmoid(1.702 x) (CLIP / Qwen2-VL).

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "vprim/core/executor.hpp"
#include "vprim/cpu/arch.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

//! out[r, 0:inter] = silu(in[r, 0:inter]) * in[r, inter:2*inter].
template <class Arch, executor Exec>
void swiglu(Arch, const float* in, float* out, std::size_t rows, std::size_t inter, Exec& exec) {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size;
  exec.parallel_for(static_cast<std::int64_t>(rows), [&](std::int64_t r0, std::int64_t r1) {
    for (auto r = static_cast<std::size_t>(r0); r < static_cast<std::size_t>(r1); ++r) {
      const float* g = in + r * 2 * inter;
      const float* u = g + inter;
      float* y = out + r * inter;
      std::size_t i = 0;
      for (; i + V <= inter; i += V) {
        const B x = B::load_unaligned(g + i);
        (x / (B(1.0f) + xsimd::exp(-x)) * B::load_unaligned(u + i)).store_unaligned(y + i);
      }
      for (; i < inter; ++i) y[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
    }
  });
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
