// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file moe.hpp
//! The DeepSeek-V4 mixture of experts.
//! Router: logits = W_g x; scores = sqrtsoftplus | sigmoid | softmax (logits); the experts are
//! the top-k of scores + selection bias (the bias only selects), or a token-id table in hash
//! layers; weights = scores[idx] / (sum + 1e-20) * routed_scale.
//! Image-block tokens (ids vocab + type, image/nlayout.hpp) of a Vision-Exp checkpoint select
//! by scores + `bias_vl` instead, on hash layers too (in place of tid2eid); their weights come
//! from the unbiased scores as for text. A checkpoint without `bias_vl` is text-only: its image
//! tokens select like text on top-k layers, and a hash layer refuses them (not_supported),
//! since tid2eid has no row for an id outside the vocabulary.
//! Experts: down(silu(min(gate, limit)) * clamp(up, -limit, limit)), weighted, summed, plus the
//! shared expert. Tokens are grouped by expert so each expert runs one GEMM over its tokens.
//! Top-k ties go to the lower expert index.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "vprim/cpu/activation.hpp"
#include "vprim/image/nlayout.hpp"
#include "vprim/model/v4/config.hpp"
#include "vprim/model/weights.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

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

//! Exact selection of the k largest (topk_order), descending: nth_element + sort.
inline std::vector<std::int64_t> select_by_nth_element(const float* values, std::size_t n, std::size_t k) {
  std::vector<std::int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min(k, n);
  const topk_order better{values};
  std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), better);
  idx.resize(k);
  std::sort(idx.begin(), idx.end(), better);
  return idx;
}
}  // namespace detail

//! Indices of the k largest values, descending. Tie rule: among equal values the lower index
//! comes first and is chosen first, so an exact tie across the k-th/(k+1)-th place keeps the
//! lower indices (torch.topk gives no such guarantee: boundary_tie() tells a caller when its
//! choice was one of several equally right ones). NaN ranks below every number, as in the CUDA
//! twin: it is chosen only when fewer than k values are numbers.
//! Large inputs: a threshold from a strided sample, one vectorised pass that skips every block
//! with no value above it and keeps the indices of those that are, then an exact selection among
//! the candidates. Every value above the threshold is a candidate, so the result is exact; when
//! fewer than k survive, the threshold is lowered (finally: a full selection).
[[nodiscard]] inline std::vector<std::int64_t> top_k_indices(const float* values, std::size_t n, std::size_t k) {
  k = std::min(k, n);
  if (k == 0) return {};
  if (n < 8192 || k > n / 16) return detail::select_by_nth_element(values, n, k);
  using B = xsimd::batch<float>;
  constexpr std::size_t V = B::size;
  constexpr std::size_t samples = 1024;
  std::vector<float> sample(samples);
  for (std::size_t i = 0; i < samples; ++i) {
    const float v = values[i * (n / samples)];
    sample[i] = std::isnan(v) ? -std::numeric_limits<float>::infinity() : v;  // NaN is never a threshold
  }
  std::vector<std::int64_t> cand;
  for (std::size_t want = k * samples / n + 8; want < samples; want *= 4) {
    std::nth_element(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(want), sample.end(), std::greater<float>());
    const float threshold = sample[want];
    cand.clear();
    const B thr(threshold);
    std::size_t i = 0;
    for (; i + V <= n; i += V) {
      if (!xsimd::any(B::load_unaligned(values + i) >= thr)) continue;
      for (std::size_t j = i; j < i + V; ++j)
        if (values[j] >= threshold) cand.push_back(static_cast<std::int64_t>(j));
    }
    for (; i < n; ++i)
      if (values[i] >= threshold) cand.push_back(static_cast<std::int64_t>(i));
    if (cand.size() >= k) {
      const detail::topk_order better{values};
      std::nth_element(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(k), cand.end(), better);
      cand.resize(k);
      std::sort(cand.begin(), cand.end(), better);
      return cand;
    }
  }
  return detail::select_by_nth_element(values, n, k);
}

//! An exact tie at the boundary of a top-k choice: `value` is the k-th largest value, held by
//! `chosen` of the chosen indices and `left_out` of the others.
struct topk_boundary_tie {
  float value = 0.0f;
  std::size_t chosen = 0, left_out = 0;
};

//! Whether the choice `best` (top_k_indices of values[0, n), descending) cut through a run of
//! equal values, i.e. another choice of the same k values was equally right.
[[nodiscard]] inline std::optional<topk_boundary_tie> boundary_tie(const float* values, std::size_t n,
                                                                   const std::vector<std::int64_t>& best) {
  if (best.empty() || best.size() >= n) return std::nullopt;
  topk_boundary_tie tie;
  tie.value = values[best.back()];
  for (std::int64_t i : best) tie.chosen += values[i] == tie.value ? 1 : 0;
  for (std::size_t i = 0; i < n; ++i) tie.left_out += values[i] == tie.value ? 1 : 0;
  tie.left_out -= tie.chosen;
  if (tie.left_out == 0) return std::nullopt;
  return tie;
}

[[nodiscard]] inline float sqrtsoftplus(float x) noexcept {
  const float sp = x > 20.0f ? x : std::log1p(std::exp(x));  // torch's softplus threshold
  return std::sqrt(sp);
}

struct moe_layer {
  bool hash = false;
  std::size_t experts = 0, top_k = 0, dim = 0, inter = 0;
  std::int64_t vocab = 0;  //!< ids from vocab on are image-block tokens
  scoring_func scoring = scoring_func::sqrtsoftplus;
  float routed_scale = 1.0f, limit = 0.0f;
  linear_layer router;                  //!< [experts, dim], fp32 (routing decisions stay fp32)
  std::vector<float> selection_bias;    //!< [experts] (top-k layers)
  std::vector<std::int64_t> tid2eid;    //!< [vocab, top_k] (hash layers)
  std::vector<float> vision_bias;       //!< [experts] `bias_vl`, image-block tokens' selection bias (empty: text-only)
  std::vector<linear_layer> gate_up;    //!< per expert [2*inter, dim]
  std::vector<linear_layer> down;       //!< per expert [dim, inter]
  linear_layer shared_gate, shared_up, shared_down;

  //! A layer with the config's sizes and routing rule and no weights yet (loaders fill them).
  [[nodiscard]] static moe_layer describe(const config& c, mlp_kind kind) {
    moe_layer m;
    m.hash = kind == mlp_kind::hash_moe;
    m.experts = static_cast<std::size_t>(c.routed_experts);
    m.top_k = static_cast<std::size_t>(c.top_k);
    m.dim = static_cast<std::size_t>(c.hidden);
    m.inter = static_cast<std::size_t>(c.moe_intermediate);
    m.vocab = c.vocab;
    m.scoring = c.scoring;
    m.routed_scale = c.routed_scale;
    m.limit = c.swiglu_limit;
    return m;
  }

  template <class Arch>
  [[nodiscard]] static result<moe_layer> load(Arch arch, const weight_source& src, const std::string& p,
                                              const config& c, mlp_kind kind,
                                              const index_source& ids) {
    moe_layer m = describe(c, kind);
    const auto E = static_cast<index_t>(m.experts), D = static_cast<index_t>(m.dim), I = static_cast<index_t>(m.inter);
    auto gw = linear_layer::load(arch, src, p + "gate", E, D, false);
    if (!gw) return gw.err();
    m.router = std::move(*gw);
    if (m.hash) {
      auto t = read_hash_table(ids, p + "gate.tid2eid", c);
      if (!t) return t.err();
      m.tid2eid = std::move(*t);
    } else {
      auto b = src(p + "gate.e_score_correction_bias", {E});
      if (!b) return b.err();
      m.selection_bias = std::move(*b);
    }
    if (auto vb = src(p + "gate.bias_vl", {E})) {  // every layer of a Vision-Exp checkpoint
      m.vision_bias = std::move(*vb);
    } else if (vb.code() != status::not_found) {
      return vb.err();
    }
    // One expert at a time (slices of the packed tensors), so loading never holds all of them.
    for (index_t e = 0; e < E; ++e) {
      auto a = src(slice_name(p + "experts.gate_up_proj", e), {2 * I, D});
      if (!a) return a.err();
      auto l1 = linear_layer::from_values(arch, *a, 2 * I, D, std::vector<float>{}, c.expert_precision);
      if (!l1) return l1.err();
      m.gate_up.push_back(std::move(*l1));
      auto b = src(slice_name(p + "experts.down_proj", e), {D, I});
      if (!b) return b.err();
      auto l2 = linear_layer::from_values(arch, *b, D, I, std::vector<float>{}, c.expert_precision);
      if (!l2) return l2.err();
      m.down.push_back(std::move(*l2));
    }
    const index_t SI = I * std::max(1, c.shared_experts);
    for (auto [layer, name, n, k] : {std::tuple{&m.shared_gate, "gate_proj", SI, D}, std::tuple{&m.shared_up, "up_proj", SI, D},
                                     std::tuple{&m.shared_down, "down_proj", D, SI}}) {
      auto l = linear_layer::load(arch, src, p + "shared_experts." + name, n, k, false, {}, c.expert_precision);
      if (!l) return l.err();
      *layer = std::move(*l);
    }
    return result<moe_layer>(std::move(m));
  }

  //! logits [S, E], weights [S, k], indices [S, k] (descending score order for top-k layers).
  template <class Arch, executor Exec>
  [[nodiscard]] status route(Arch arch, const float* x, std::size_t S, const std::int64_t* token_ids, float* logits,
                             float* weights, std::int64_t* indices, Exec& exec) const {
    if (status s = router.apply(arch, x, S, logits, exec); s != status::ok) return s;
    std::vector<float> scores(experts), biased(experts);
    for (std::size_t t = 0; t < S; ++t) {
      float* lg = logits + t * experts;
      if (scoring == scoring_func::softmax) {
        const float mx = *std::max_element(lg, lg + experts);
        float sum = 0.0f;
        for (std::size_t e = 0; e < experts; ++e) sum += (scores[e] = std::exp(lg[e] - mx));
        for (auto& s : scores) s /= sum;
      } else {
        for (std::size_t e = 0; e < experts; ++e)
          scores[e] = scoring == scoring_func::sigmoid ? 1.0f / (1.0f + std::exp(-lg[e])) : sqrtsoftplus(lg[e]);
      }
      std::int64_t* idx = indices + t * top_k;
      const bool image = token_ids != nullptr && is_image_block_token_id(token_ids[t], vocab);
      if (image && !vision_bias.empty()) {
        for (std::size_t e = 0; e < experts; ++e) biased[e] = scores[e] + vision_bias[e];
        const auto best = top_k_indices(biased.data(), experts, top_k);
        std::copy(best.begin(), best.end(), idx);
      } else if (hash) {
        if (image) return status::not_supported;
        if (token_ids == nullptr || token_ids[t] < 0 || static_cast<std::size_t>(token_ids[t]) * top_k >= tid2eid.size())
          return status::out_of_range;
        std::copy_n(tid2eid.data() + static_cast<std::size_t>(token_ids[t]) * top_k, top_k, idx);
      } else {
        for (std::size_t e = 0; e < experts; ++e) biased[e] = scores[e] + selection_bias[e];
        const auto best = top_k_indices(biased.data(), experts, top_k);
        std::copy(best.begin(), best.end(), idx);
      }
      float sum = 0.0f;
      for (std::size_t k = 0; k < top_k; ++k) sum += scores[static_cast<std::size_t>(idx[k])];
      for (std::size_t k = 0; k < top_k; ++k)
        weights[t * top_k + k] = scores[static_cast<std::size_t>(idx[k])] / (sum + 1e-20f) * routed_scale;
    }
    return status::ok;
  }

  //! y[S, dim] = sum_k w_k expert_{idx_k}(x) + shared(x).
  template <class Arch, executor Exec>
  [[nodiscard]] status apply(Arch arch, const float* x, std::size_t S, const float* weights, const std::int64_t* indices,
                             float* y, Exec& exec) const {
    if (status s = routed(arch, x, S, weights, indices, y, exec); s != status::ok) return s;
    return add_shared(arch, x, S, y, exec);
  }

  //! The routed experts alone: y[S, dim] = sum_k w_k expert_{idx_k}(x).
  template <class Arch, executor Exec>
  [[nodiscard]] status routed(Arch arch, const float* x, std::size_t S, const float* weights, const std::int64_t* indices,
                              float* y, Exec& exec) const {
    // Group (token, slot) pairs by expert: counting sort, one GEMM per expert over its rows.
    std::vector<std::size_t> count(experts + 1, 0);
    for (std::size_t i = 0; i < S * top_k; ++i) ++count[static_cast<std::size_t>(indices[i]) + 1];
    for (std::size_t e = 0; e < experts; ++e) count[e + 1] += count[e];
    std::vector<std::size_t> order(S * top_k), fill(count.begin(), count.end() - 1);
    for (std::size_t i = 0; i < S * top_k; ++i) order[fill[static_cast<std::size_t>(indices[i])]++] = i;
    std::vector<std::size_t> active;
    for (std::size_t e = 0; e < experts; ++e)
      if (count[e + 1] > count[e]) active.push_back(e);
    std::vector<float> slot_out(S * top_k * dim);
    auto run = [&](std::size_t e, expert_scratch& scratch, auto& ex) {
      return run_expert(arch, e, x, order.data() + count[e], count[e + 1] - count[e], slot_out.data(), scratch, ex);
    };
    const auto parts = static_cast<std::size_t>(std::max(1, exec.concurrency()));
    if (parts > 1 && active.size() >= 2 * parts) {
      // Threads take whole experts. A prefill sends ~8 rows to each of 256 experts and is bound
      // by reading 12.9 GB of weights: each thread streams one expert after another with no
      // barrier between them, instead of all threads splitting every small GEMM. Experts are
      // claimed from a shared counter, so a thread slowed by the machine takes fewer; which
      // thread runs an expert does not change its result.
      std::atomic<std::size_t> next{0};
      std::vector<status> failed(parts, status::ok);
      exec.parallel_for(static_cast<std::int64_t>(parts), [&](std::int64_t p, std::int64_t) {
        serial_executor one;
        expert_scratch scratch;
        status& mine = failed[static_cast<std::size_t>(p)];
        for (std::size_t i = next++; i < active.size() && mine == status::ok; i = next++) mine = run(active[i], scratch, one);
      });
      for (status s : failed)
        if (s != status::ok) return s;
    } else {
      expert_scratch scratch;
      for (std::size_t e : active)
        if (status s = run(e, scratch, exec); s != status::ok) return s;
    }
    exec.parallel_for(static_cast<std::int64_t>(S), [&](std::int64_t t0, std::int64_t t1) {
      for (auto t = static_cast<std::size_t>(t0); t < static_cast<std::size_t>(t1); ++t) {
        float* yt = y + t * dim;
        std::fill(yt, yt + dim, 0.0f);
        for (std::size_t k = 0; k < top_k; ++k) {
          const float w = weights[t * top_k + k];
          const float* o = slot_out.data() + (t * top_k + k) * dim;
          for (std::size_t d = 0; d < dim; ++d) yt[d] += w * o[d];
        }
      }
    });
    return status::ok;
  }

  //! The shared expert, added on top: y[S, dim] += shared(x).
  template <class Arch, executor Exec>
  [[nodiscard]] status add_shared(Arch arch, const float* x, std::size_t S, float* y, Exec& exec) const {
    const std::size_t si = shared_gate.out_features();
    std::vector<float> g(S * si), u(S * si), a(S * si), o(S * dim);
    if (status s = shared_gate.apply(arch, x, S, g.data(), exec); s != status::ok) return s;
    if (status s = shared_up.apply(arch, x, S, u.data(), exec); s != status::ok) return s;
    cpu::swiglu_clamped(arch, g.data(), u.data(), si, a.data(), S, si, limit, exec);
    if (status s = shared_down.apply(arch, a.data(), S, o.data(), exec); s != status::ok) return s;
    for (std::size_t i = 0; i < S * dim; ++i) y[i] += o[i];
    return status::ok;
  }

 private:
  struct expert_scratch {
    std::vector<float> rows, hidden, act, out;
  };

  //! Expert e over the n rows of x named by `slots` (token * top_k + k); row r's output goes to
  //! slot_out[slots[r]].
  template <class Arch, executor Exec>
  status run_expert(Arch arch, std::size_t e, const float* x, const std::size_t* slots, std::size_t n, float* slot_out,
                    expert_scratch& b, Exec& exec) const {
    b.rows.resize(n * dim);
    b.hidden.resize(n * 2 * inter);
    b.act.resize(n * inter);
    b.out.resize(n * dim);
    for (std::size_t r = 0; r < n; ++r) {
      const std::size_t t = slots[r] / top_k;
      std::copy(x + t * dim, x + (t + 1) * dim, b.rows.data() + r * dim);
    }
    if (status s = gate_up[e].apply(arch, b.rows.data(), n, b.hidden.data(), exec); s != status::ok) return s;
    cpu::swiglu_clamped(arch, b.hidden.data(), b.hidden.data() + inter, 2 * inter, b.act.data(), n, inter, limit, exec);
    if (status s = down[e].apply(arch, b.act.data(), n, b.out.data(), exec); s != status::ok) return s;
    for (std::size_t r = 0; r < n; ++r)
      std::copy(b.out.data() + r * dim, b.out.data() + (r + 1) * dim, slot_out + slots[r] * dim);
    return status::ok;
  }
};

}  // namespace v4
VPRIM_NAMESPACE_END
