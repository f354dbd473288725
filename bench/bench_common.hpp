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

#include "vprim/model/random_weights.hpp"

namespace vprim_bench {

using vprim::fill_pattern;
using vprim::random_weights;

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
