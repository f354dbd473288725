// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file random_weights.hpp
//! A weight source that invents weights of whatever shape a loader asks for: small values
//! (|w| < 0.02), norms and scales around 1. Deterministic per tensor name, fast enough for
//! gigabytes, so a model of released dimensions can be built and timed without a checkpoint.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vprim/core/aligned_buffer.hpp"
#include "vprim/model/weights.hpp"

VPRIM_NAMESPACE_BEGIN

//! Fills v[0, n) with a cheap deterministic pattern in [-scale, scale).
inline void fill_pattern(float* v, std::size_t n, std::uint32_t seed, float scale) {
  std::uint32_t s = seed * 2654435761u + 1u;
  for (std::size_t i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    v[i] = (static_cast<float>(s >> 8) * (1.0f / 16777216.0f) - 0.5f) * 2.0f * scale;
  }
}

//! Random weights for any name and shape; the same name gives the same values.
[[nodiscard]] inline weight_source random_weights() {
  return [](const std::string& name, const std::vector<index_t>& shape) -> result<std::vector<float>> {
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    auto v = detail::large_vector<float>(n);
    const bool near_one = name.find("norm") != std::string::npos || name.ends_with("scale");
    fill_pattern(v.data(), n, static_cast<std::uint32_t>(std::hash<std::string>{}(name)), near_one ? 0.05f : 0.02f);
    if (near_one)
      for (auto& x : v) x += 1.0f;
    return v;
  };
}

VPRIM_NAMESPACE_END
