// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file norm.hpp
//! Row-wise RMSNorm and LayerNorm over [rows, dim] fp32, accumulated in fp32 (the peers compute
//! norms in fp32 too). In place is allowed (out == in).

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "vprim/core/executor.hpp"
#include "vprim/cpu/arch.hpp"
#include "vprim/kernels/norm.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

namespace detail {
//! sum_i f(x_i), vectorised; f must work on batches and on scalars.
template <class Arch, class F>
inline float reduce_sum(const float* x, std::size_t n, F f) {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size;
  B acc(0.0f);
  std::size_t i = 0;
  for (; i + V <= n; i += V) acc += f(B::load_unaligned(x + i));
  float s = xsimd::hadd(acc);
  for (; i < n; ++i) s += f(x[i]);
  return s;
}
}  // namespace detail

//! out[r] = in[r] / sqrt(mean(in[r]^2) + eps) * weight (weight may be null: unweighted).
template <class Arch, executor Exec>
void rmsnorm(Arch, const float* in, float* out, const float* weight, std::size_t rows, std::size_t dim, float eps,
             Exec& exec) {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size;
  exec.parallel_for(static_cast<std::int64_t>(rows), [&](std::int64_t r0, std::int64_t r1) {
    for (auto r = static_cast<std::size_t>(r0); r < static_cast<std::size_t>(r1); ++r) {
      const float* x = in + r * dim;
      float* y = out + r * dim;
      const float ss = detail::reduce_sum<Arch>(x, dim, [](auto v) { return v * v; });
      const float inv = 1.0f / std::sqrt(ss / static_cast<float>(dim) + eps);
      const B vinv(inv);
      std::size_t i = 0;
      for (; i + V <= dim; i += V) {
        B v = B::load_unaligned(x + i) * vinv;
        if (weight) v *= B::load_unaligned(weight + i);
        v.store_unaligned(y + i);
      }
      for (; i < dim; ++i) y[i] = x[i] * inv * (weight ? weight[i] : 1.0f);
    }
  });
}

//! out[r] = (in[r] - mean) / sqrt(var + eps) * weight + bias (biased variance, as torch).
template <class Arch, executor Exec>
void layernorm(Arch, const float* in, float* out, const float* weight, const float* bias, std::size_t rows,
               std::size_t dim, float eps, Exec& exec) {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size;
  exec.parallel_for(static_cast<std::int64_t>(rows), [&](std::int64_t r0, std::int64_t r1) {
    for (auto r = static_cast<std::size_t>(r0); r < static_cast<std::size_t>(r1); ++r) {
      const float* x = in + r * dim;
      float* y = out + r * dim;
      const float mean = detail::reduce_sum<Arch>(x, dim, [](auto v) { return v; }) / static_cast<float>(dim);
      const float var = detail::reduce_sum<Arch>(x, dim, [mean](auto v) { return (v - mean) * (v - mean); });
      const float inv = 1.0f / std::sqrt(var / static_cast<float>(dim) + eps);
      const B vmean(mean), vinv(inv);
      std::size_t i = 0;
      for (; i + V <= dim; i += V) {
        B v = (B::load_unaligned(x + i) - vmean) * vinv;
        if (weight) v *= B::load_unaligned(weight + i);
        if (bias) v += B::load_unaligned(bias + i);
        v.store_unaligned(y + i);
      }
      for (; i < dim; ++i) y[i] = (x[i] - mean) * inv * (weight ? weight[i] : 1.0f) + (bias ? bias[i] : 0.0f);
    }
  });
}

//! The same through the shared contract (kernels/norm.hpp), as the CUDA twin takes it.
template <class Arch, executor Exec>
[[nodiscard]] status rmsnorm(Arch arch, const kernels::norm_args& a, Exec& exec) {
  if (status s = kernels::norm_can_implement(a, false); s != status::ok) return s;
  rmsnorm(arch, a.in, a.out, a.weight, a.rows, a.dim, a.eps, exec);
  return status::ok;
}
template <class Arch, executor Exec>
[[nodiscard]] status layernorm(Arch arch, const kernels::norm_args& a, Exec& exec) {
  if (status s = kernels::norm_can_implement(a, true); s != status::ok) return s;
  layernorm(arch, a.in, a.out, a.weight, a.bias, a.rows, a.dim, a.eps, exec);
  return status::ok;
}

}  // namespace cpu
VPRIM_NAMESPACE_END
