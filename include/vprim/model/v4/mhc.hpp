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

#include "vprim/cpu/mhc.hpp"
#include "vprim/model/v4/tensor_table.hpp"
#include "vprim/model/weights.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

//! The weights of a hyper-connection or hyper head: a projection fn [rows, n*dim], a bias
//! `base` [rows] and `scales` scale values, under the given tensor names.
struct hc_weights {
  //! Most residual streams (hc_mult) supported; the release has 4.
  static constexpr std::size_t max_streams = kernels::max_hc_streams;
  std::size_t n = 0, dim = 0;
  std::vector<float> fn, base, scale;

  [[nodiscard]] std::size_t resident_bytes() const noexcept { return vector_bytes(fn, base, scale); }

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
  [[nodiscard]] status compute(const float* x, std::size_t S, float norm_eps, float hc_eps, int sinkhorn_iters, float* post,
                               float* comb, float* collapsed) const {
    const kernels::hc_args a{x, fn.data(), base.data(), scale.data(), post, comb, collapsed, S, n, dim, norm_eps, hc_eps, sinkhorn_iters};
    return cpu::hc_compute(a);
  }

  //! X'[t, k] = post[t, k] * f[t] + sum_j comb[t, j, k] * X[t, j]  (comb used transposed).
  [[nodiscard]] status expand(float* x, std::size_t S, const float* f, const float* post, const float* comb) const {
    return cpu::hc_expand(x, f, post, comb, S, n, dim);
  }
};

struct hyper_head : hc_weights {
  //! Names and shapes from tensor_table.hpp (decoder_tensors_of).
  [[nodiscard]] static result<hyper_head> load(const weight_source& src, const hc_tensors& t, std::size_t n, std::size_t dim) {
    auto w = read(src, t, n, dim);
    if (!w) return w.err();
    return hyper_head{std::move(*w)};
  }

  [[nodiscard]] status collapse(const float* x, std::size_t S, float norm_eps, float hc_eps, float* out) const {
    const kernels::hc_args a{x, fn.data(), base.data(), scale.data(), nullptr, nullptr, out, S, n, dim, norm_eps, hc_eps, 1};
    return cpu::hc_head_collapse(a);
  }
};

}  // namespace v4
VPRIM_NAMESPACE_END
