// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file topk.hpp
//! Top-k selection on the CPU (contract: kernels/topk.hpp), in caller-owned workspace.
//! Small inputs: nth_element + sort over an index array. Large inputs: a threshold from a
//! strided sample, one vectorised pass that skips every block with no value above it and keeps
//! the indices of those that are, then the exact selection among the candidates. Every value
//! above the threshold is a candidate, so the result is exact; when fewer than k survive, the
//! threshold is lowered (finally: a full selection).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>

#include <xsimd/xsimd.hpp>

#include "vprim/kernels/topk.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

namespace detail {
//! The selection order: larger value first, NaN below every number, equal values by lower index.
//! A strict weak order even with NaN (plain `>` is not, and nth_element then misbehaves).
struct topk_order {
  const float* values;
  bool operator()(std::int64_t a, std::int64_t b) const noexcept {
    const float x = values[a], y = values[b];
    if (std::isnan(x) || std::isnan(y)) return !std::isnan(x) || (std::isnan(y) && a < b);
    return x > y || (x == y && a < b);
  }
};

//! The k best of the candidate indices [first, last), written to out in order.
inline void select_candidates(const float* values, std::int64_t* first, std::int64_t* last, std::size_t k, std::int64_t* out) {
  const topk_order better{values};
  std::nth_element(first, first + static_cast<std::ptrdiff_t>(k), last, better);
  std::sort(first, first + static_cast<std::ptrdiff_t>(k), better);
  std::copy_n(first, k, out);
}
}  // namespace detail

template <class Arch>
[[nodiscard]] status top_k(Arch, const kernels::topk_args& a, workspace_arena& ws) {
  if (status s = kernels::topk_can_implement(a); s != status::ok) return s;
  const std::size_t n = a.n, k = std::min(a.k, a.n);
  if (k == 0) return status::ok;
  workspace_arena::frame scratch(ws);
  auto* idx = ws.take<std::int64_t>(n);
  auto* sample = ws.take<float>(kernels::topk_samples);
  if (idx == nullptr || sample == nullptr) return status::out_of_memory;
  const float* values = a.values;
  auto full_selection = [&] {
    std::iota(idx, idx + n, std::int64_t{0});
    detail::select_candidates(values, idx, idx + n, k, a.out);
    return status::ok;
  };
  if (n < 8192 || k > n / 16) return full_selection();
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size, samples = kernels::topk_samples;
  for (std::size_t i = 0; i < samples; ++i) {
    const float v = values[i * (n / samples)];
    sample[i] = std::isnan(v) ? -std::numeric_limits<float>::infinity() : v;  // NaN is never a threshold
  }
  for (std::size_t want = k * samples / n + 8; want < samples; want *= 4) {
    std::nth_element(sample, sample + want, sample + samples, std::greater<float>());
    const float threshold = sample[want];
    std::size_t found = 0;
    const B thr(threshold);
    std::size_t i = 0;
    for (; i + V <= n; i += V) {
      if (!xsimd::any(B::load_unaligned(values + i) >= thr)) continue;
      for (std::size_t j = i; j < i + V; ++j)
        if (values[j] >= threshold) idx[found++] = static_cast<std::int64_t>(j);
    }
    for (; i < n; ++i)
      if (values[i] >= threshold) idx[found++] = static_cast<std::int64_t>(i);
    if (found >= k) {
      detail::select_candidates(values, idx, idx + found, k, a.out);
      return status::ok;
    }
  }
  return full_selection();
}

}  // namespace cpu
VPRIM_NAMESPACE_END
