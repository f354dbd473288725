// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file dot_rows.hpp
//! The two inner loops of attention over gathered rows, for up to `dot_block` rows at a time:
//! dot products of one vector with several rows (one load of the vector serves them all), and
//! the weighted sum of several rows into one vector. Rows are reached through pointers, so
//! they may sit anywhere (a ring, a page, the call's own buffer).

#include <cstddef>

#include <xsimd/xsimd.hpp>

#include "vprim/core/config.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

inline constexpr std::size_t dot_block = 8;

//! out[r] = v . rows[r][0, n) for r < count <= dot_block.
template <class Arch>
inline void dot_rows(Arch, const float* v, const float* const* rows, std::size_t count, std::size_t n, float* out) {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size;
  B acc[dot_block];
  for (std::size_t r = 0; r < count; ++r) acc[r] = B(0.0f);
  std::size_t i = 0;
  for (; i + V <= n; i += V) {
    const B x = B::load_unaligned(v + i);
    for (std::size_t r = 0; r < count; ++r) acc[r] = xsimd::fma(x, B::load_unaligned(rows[r] + i), acc[r]);
  }
  for (std::size_t r = 0; r < count; ++r) {
    float s = xsimd::hadd(acc[r]);
    for (std::size_t j = i; j < n; ++j) s += v[j] * rows[r][j];
    out[r] = s;
  }
}

//! y[0, n) += sum_r w[r] rows[r][0, n) for r < count <= dot_block.
template <class Arch>
inline void add_weighted_rows(Arch, const float* w, const float* const* rows, std::size_t count, std::size_t n, float* y) {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size;
  std::size_t i = 0;
  for (; i + V <= n; i += V) {
    B acc = B::load_unaligned(y + i);
    for (std::size_t r = 0; r < count; ++r) acc = xsimd::fma(B(w[r]), B::load_unaligned(rows[r] + i), acc);
    acc.store_unaligned(y + i);
  }
  for (; i < n; ++i) {
    float acc = y[i];
    for (std::size_t r = 0; r < count; ++r) acc += w[r] * rows[r][i];
    y[i] = acc;
  }
}

}  // namespace cpu
VPRIM_NAMESPACE_END
