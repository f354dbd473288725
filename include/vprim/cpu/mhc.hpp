// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file mhc.hpp
//! DeepSeek-V4's hyper-connections on the CPU (contract: kernels/mhc.hpp). Per token, in the
//! reference's order: the mix in double precision (one pass for the RMS, one dot product per
//! row), the Sinkhorn iterations in float. Scalar code: (2 + n) n dot products of n dim values
//! per token, dominated by reading fn; no heap, the per-token values live on the stack.

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "vprim/kernels/mhc.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

namespace detail {
inline float hc_sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
//! mix[r] = (fn[r] . x) / rms(x) over the n*D flattened streams.
inline void hc_mix(const float* x, std::size_t flat, const float* fn, std::size_t rows, float norm_eps, float* mix) {
  double ss = 0.0;
  for (std::size_t i = 0; i < flat; ++i) ss += static_cast<double>(x[i]) * x[i];
  const double inv = 1.0 / std::sqrt(static_cast<double>(static_cast<float>(ss / static_cast<double>(flat))) + norm_eps);
  for (std::size_t r = 0; r < rows; ++r) {
    double acc = 0.0;
    const float* w = fn + r * flat;
    for (std::size_t i = 0; i < flat; ++i) acc += static_cast<double>(w[i]) * x[i];
    mix[r] = static_cast<float>(acc * inv);
  }
}
}  // namespace detail

//! post [tokens, n], comb [tokens, n, n] and collapsed [tokens, dim] of a sub-block's input.
[[nodiscard]] inline status hc_compute(const kernels::hc_args& a) {
  if (status s = kernels::hc_can_implement(a); s != status::ok) return s;
  constexpr std::size_t most = kernels::max_hc_streams;
  const std::size_t n = std::min(a.n, most), dim = a.dim, rows = (2 + n) * n, flat = n * dim;  // min: a bound GCC can see
  const float *scale = a.scale, *base = a.base;
  const float hc_eps = a.hc_eps;
  float mix[(2 + most) * most], pre[most];
  for (std::size_t t = 0; t < a.tokens; ++t) {
    const float* xt = a.x + t * flat;
    detail::hc_mix(xt, flat, a.fn, rows, a.norm_eps, mix);
    for (std::size_t k = 0; k < n; ++k) {
      pre[k] = detail::hc_sigmoid(mix[k] * scale[0] + base[k]) + hc_eps;
      a.post[t * n + k] = 2.0f * detail::hc_sigmoid(mix[n + k] * scale[1] + base[n + k]);
    }
    float* c = a.comb + t * n * n;
    for (std::size_t j = 0; j < n; ++j) {  // row softmax
      float mx = -INFINITY;
      for (std::size_t k = 0; k < n; ++k) {
        c[j * n + k] = mix[2 * n + j * n + k] * scale[2] + base[2 * n + j * n + k];
        mx = std::max(mx, c[j * n + k]);
      }
      float sum = 0.0f;
      for (std::size_t k = 0; k < n; ++k) sum += (c[j * n + k] = std::exp(c[j * n + k] - mx));
      for (std::size_t k = 0; k < n; ++k) c[j * n + k] = c[j * n + k] / sum + hc_eps;
    }
    auto normalize_columns = [&] {
      for (std::size_t k = 0; k < n; ++k) {
        float s = 0.0f;
        for (std::size_t j = 0; j < n; ++j) s += c[j * n + k];
        for (std::size_t j = 0; j < n; ++j) c[j * n + k] /= s + hc_eps;
      }
    };
    normalize_columns();
    for (int it = 1; it < a.sinkhorn_iters; ++it) {
      for (std::size_t j = 0; j < n; ++j) {
        float s = 0.0f;
        for (std::size_t k = 0; k < n; ++k) s += c[j * n + k];
        for (std::size_t k = 0; k < n; ++k) c[j * n + k] /= s + hc_eps;
      }
      normalize_columns();
    }
    for (std::size_t d = 0; d < dim; ++d) {
      float acc = 0.0f;
      for (std::size_t j = 0; j < n; ++j) acc += pre[j] * xt[j * dim + d];
      a.collapsed[t * dim + d] = acc;
    }
  }
  return status::ok;
}

//! x[t, k] = post[t, k] * f[t] + sum_j comb[t, j, k] * x[t, j], in place.
[[nodiscard]] inline status hc_expand(float* x, const float* f, const float* post, const float* comb, std::size_t tokens,
                                      std::size_t n, std::size_t dim) {
  if (tokens == 0) return status::ok;
  if (!x || !f || !post || !comb || dim == 0) return status::invalid_argument;
  if (n == 0 || n > kernels::max_hc_streams) return status::not_supported;
  float out[kernels::max_hc_streams];  // one channel of every stream at a time, so it can be written in place
  for (std::size_t t = 0; t < tokens; ++t) {
    float* xt = x + t * n * dim;
    const float* c = comb + t * n * n;
    for (std::size_t d = 0; d < dim; ++d) {
      for (std::size_t k = 0; k < n; ++k) {
        float acc = post[t * n + k] * f[t * dim + d];
        for (std::size_t j = 0; j < n; ++j) acc += c[j * n + k] * xt[j * dim + d];
        out[k] = acc;
      }
      for (std::size_t k = 0; k < n; ++k) xt[k * dim + d] = out[k];
    }
  }
  return status::ok;
}

//! The hyper head: a.fn [n, n dim], a.base [n], a.scale [1]; writes a.collapsed [tokens, dim]
//! (post and comb are not used).
[[nodiscard]] inline status hc_head_collapse(const kernels::hc_args& a) {
  if (a.tokens == 0) return status::ok;
  if (!a.x || !a.fn || !a.base || !a.scale || !a.collapsed || a.dim == 0) return status::invalid_argument;
  if (a.n == 0 || a.n > kernels::max_hc_streams) return status::not_supported;
  const std::size_t n = a.n, dim = a.dim;
  float mix[kernels::max_hc_streams];
  for (std::size_t t = 0; t < a.tokens; ++t) {
    const float* xt = a.x + t * n * dim;
    detail::hc_mix(xt, n * dim, a.fn, n, a.norm_eps, mix);
    float* out = a.collapsed + t * dim;
    std::fill(out, out + dim, 0.0f);
    for (std::size_t j = 0; j < n; ++j) {
      const float pre = detail::hc_sigmoid(mix[j] * a.scale[0] + a.base[j]) + a.hc_eps;
      for (std::size_t d = 0; d < dim; ++d) out[d] += pre * xt[j * dim + d];
    }
  }
  return status::ok;
}

}  // namespace cpu
VPRIM_NAMESPACE_END
