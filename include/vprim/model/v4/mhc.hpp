// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file mhc.hpp
//! Manifold-constrained hyper-connections: the residual is n streams per token. Before a
//! sub-block the streams are collapsed with weights `pre`; after it they are rebuilt as
//! X'_k = post_k * F + sum_j comb[j][k] X_j, with comb made doubly stochastic by Sinkhorn-Knopp.
//! All three come from one projection of the RMS-normalised flattened streams (fp32):
//!   pre  = sigmoid(s0 * mix[0:n] + b) + eps,   post = 2 sigmoid(s1 * mix[n:2n] + b),
//!   comb = rowsoftmax(s2 * mix[2n:] + b) + eps, then comb /= colsum + eps, and
//!   (iters - 1) times: comb /= rowsum + eps; comb /= colsum + eps.
//! The final hyper head uses only `pre` (n weights, one scale).

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "vprim/model/v4/tensor_table.hpp"
#include "vprim/model/weights.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

namespace detail {
inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
//! mix[r] = (fn[r] . x) / rms(x) over the n*D flattened streams.
inline void hc_mix(const float* x, std::size_t flat, const std::vector<float>& fn, std::size_t rows, float norm_eps,
                   float* mix) {
  double ss = 0.0;
  for (std::size_t i = 0; i < flat; ++i) ss += static_cast<double>(x[i]) * x[i];
  const double inv = 1.0 / std::sqrt(static_cast<double>(static_cast<float>(ss / static_cast<double>(flat))) + norm_eps);
  for (std::size_t r = 0; r < rows; ++r) {
    double acc = 0.0;
    const float* w = fn.data() + r * flat;
    for (std::size_t i = 0; i < flat; ++i) acc += static_cast<double>(w[i]) * x[i];
    mix[r] = static_cast<float>(acc * inv);
  }
}
}  // namespace detail

//! The weights of a hyper-connection or hyper head: a projection fn [rows, n*dim], a bias
//! `base` [rows] and `scales` scale values, under the given tensor names.
struct hc_weights {
  //! Most residual streams (hc_mult) supported; the release has 4.
  static constexpr std::size_t max_streams = 16;
  std::size_t n = 0, dim = 0;
  std::vector<float> fn, base, scale;

  [[nodiscard]] static result<hc_weights> read(const weight_source& src, const hc_tensors& t, std::size_t n, std::size_t dim) {
    if (n == 0 || n > max_streams)
      return make_error(status::not_supported, "'" + t.fn.name + "': hc_mult " + std::to_string(n) + " is outside 1.." +
                                                   std::to_string(max_streams));
    hc_weights h{n, dim, {}, {}, {}};
    for (auto [vec, spec] : {std::pair{&h.fn, &t.fn}, std::pair{&h.base, &t.base}, std::pair{&h.scale, &t.scale}}) {
      auto v = src(spec->name, spec->shape);
      if (!v) return v.err();
      *vec = std::move(*v);
    }
    return h;
  }
};

struct hyper_connection : hc_weights {
  //! Names and shapes from tensor_table.hpp (hyper_connection_tensors_of).
  [[nodiscard]] static result<hyper_connection> load(const weight_source& src, const hc_tensors& t, std::size_t n, std::size_t dim) {
    auto w = read(src, t, n, dim);
    if (!w) return w.err();
    return hyper_connection{std::move(*w)};
  }

  //! For S tokens of X [S, n, dim]: post [S, n], comb [S, n, n], collapsed [S, dim].
  void compute(const float* x, std::size_t S, float norm_eps, float hc_eps, int sinkhorn_iters, float* post, float* comb,
               float* collapsed) const {
    const std::size_t rows = (2 + n) * n, flat = n * dim;
    float mix[(2 + max_streams) * max_streams], pre[max_streams];  // on the stack: a decode step allocates nothing
    for (std::size_t t = 0; t < S; ++t) {
      const float* xt = x + t * flat;
      detail::hc_mix(xt, flat, fn, rows, norm_eps, mix);
      for (std::size_t k = 0; k < n; ++k) {
        pre[k] = detail::sigmoid(mix[k] * scale[0] + base[k]) + hc_eps;
        post[t * n + k] = 2.0f * detail::sigmoid(mix[n + k] * scale[1] + base[n + k]);
      }
      float* c = comb + t * n * n;
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
      for (int it = 1; it < sinkhorn_iters; ++it) {
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
        collapsed[t * dim + d] = acc;
      }
    }
  }

  //! X'[t, k] = post[t, k] * f[t] + sum_j comb[t, j, k] * X[t, j]  (comb used transposed).
  void expand(float* x, std::size_t S, const float* f, const float* post, const float* comb) const {
    float out[max_streams];  // one channel of every stream at a time, so it can be written in place
    for (std::size_t t = 0; t < S; ++t) {
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
  }
};

//! The final collapse of the streams before the model's norm and head.
struct hyper_head : hc_weights {
  //! Names and shapes from tensor_table.hpp (decoder_tensors_of).
  [[nodiscard]] static result<hyper_head> load(const weight_source& src, const hc_tensors& t, std::size_t n, std::size_t dim) {
    auto w = read(src, t, n, dim);
    if (!w) return w.err();
    return hyper_head{std::move(*w)};
  }

  void collapse(const float* x, std::size_t S, float norm_eps, float hc_eps, float* out) const {
    float mix[max_streams];
    for (std::size_t t = 0; t < S; ++t) {
      const float* xt = x + t * n * dim;
      detail::hc_mix(xt, n * dim, fn, n, norm_eps, mix);
      for (std::size_t d = 0; d < dim; ++d) out[t * dim + d] = 0.0f;
      for (std::size_t j = 0; j < n; ++j) {
        const float pre = detail::sigmoid(mix[j] * scale[0] + base[j]) + hc_eps;
        for (std::size_t d = 0; d < dim; ++d) out[t * dim + d] += pre * xt[j * dim + d];
      }
    }
  }
};

}  // namespace v4
VPRIM_NAMESPACE_END
