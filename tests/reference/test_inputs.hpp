// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test inputs shared by the CPU and GPU kernel tests: reproducible random values, and values
// rounded to bf16 as the bf16 kernels see them.
#include <cstddef>
#include <random>
#include <vector>

#include "vprim/core/dtype.hpp"

namespace vprim_ref {

// n values uniform in [lo, hi), the same for the same seed on every platform's mt19937.
inline std::vector<float> random_vector(std::size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// v * scale rounded to bf16 (nearest even), back in fp32: what a bf16 kernel multiplies.
inline std::vector<float> round_bf16(std::vector<float> v, float scale = 1.0f) {
  for (auto& x : v) x = vprim::bf16_bits_to_float(vprim::float_to_bf16_bits(x * scale));
  return v;
}

}  // namespace vprim_ref
