// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Reproducible random test inputs, shared by the CPU and GPU kernel tests.
#include <cstddef>
#include <random>
#include <vector>

namespace vprim_ref {

// n values uniform in [lo, hi), the same for the same seed on every platform's mt19937.
inline std::vector<float> random_vector(std::size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

}  // namespace vprim_ref
