// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shared benchmark helpers: deterministic inputs, the rate counters every benchmark reports
// (FLOP/s or bytes/s) and peak resident memory.

#include <sys/resource.h>

#include <cstdint>
#include <functional>
#include <string>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "vprim/model/weights.hpp"

namespace vprim_bench {

//! Fills v with a cheap deterministic pattern in [-scale, scale) (fast enough for gigabytes).
inline void fill_pattern(float* v, std::size_t n, std::uint32_t seed, float scale) {
  std::uint32_t s = seed * 2654435761u + 1u;
  for (std::size_t i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    v[i] = (static_cast<float>(s >> 8) * (1.0f / 16777216.0f) - 0.5f) * 2.0f * scale;
  }
}

//! Random weights of the shapes a loader asks for: small values, norms and scales around 1.
inline vprim::weight_source random_weights() {
  return [](const std::string& name, const std::vector<vprim::index_t>& shape) -> vprim::result<std::vector<float>> {
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    std::vector<float> v(n);
    const bool near_one = name.find("norm") != std::string::npos || name.ends_with("scale");
    fill_pattern(v.data(), n, static_cast<std::uint32_t>(std::hash<std::string>{}(name)), near_one ? 0.05f : 0.02f);
    if (near_one)
      for (auto& x : v) x += 1.0f;
    return v;
  };
}

inline std::vector<float> random_floats(std::size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

//! Peak resident set size of the process so far, in MiB.
inline double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

//! GFLOP/s (shown as FLOP/s with SI prefixes) and peak RSS.
inline void report_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["FLOPS"] = benchmark::Counter(flops_per_iteration, benchmark::Counter::kIsIterationInvariantRate,
                                               benchmark::Counter::OneK::kIs1000);
  state.counters["peak_RSS_MiB"] = peak_rss_mib();
}

inline void report_bytes(benchmark::State& state, double bytes_per_iteration) {
  state.counters["bytes_per_second"] = benchmark::Counter(bytes_per_iteration, benchmark::Counter::kIsIterationInvariantRate,
                                                          benchmark::Counter::OneK::kIs1024);
  state.counters["peak_RSS_MiB"] = peak_rss_mib();
}

}  // namespace vprim_bench
