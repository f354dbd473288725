// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file compressor.hpp
//! The KV compressor of CSA/HCA layers and the lightning indexer.
//!
//! Each token contributes C = W_kv x and Z = W_gate x (+ position bias of its slot). One entry
//! per complete window of `ratio` tokens: a per-channel softmax over the window's slots of Z
//! weights the C's; the sum is RMS-normalised and its trailing rope dims rotated at position
//! (entry index * ratio). With overlap (CSA) the projections are 2c wide: channels [c, 2c) feed
//! the window itself, channels [0, c) of the previous window's tokens are extra slots.
//!
//! Streaming state (what makes prefill + decode equal one long prefill): tokens of a partial
//! window wait in a buffer, the previous complete window's [0, c) half is kept for the next
//! window's overlap, and the entry count fixes the next window's position.
//!
//! Indexer: its own compressor at index_head_dim, a query projection of the shared low-rank
//! query, scores I(t, i) = sum_h w_h(x) relu(q_h . K_i) d^-1/2 H^-1/2 over visible entries
//! i < (t+1)/ratio, and the top-k of them (-1 fills the slots no visible entry can take).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "vprim/model/v4/moe.hpp"
#include "vprim/model/v4/rope.hpp"
#include "vprim/model/weights.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

struct compressor_state {
  std::vector<float> buffer_kv, buffer_gate;  //!< tokens of the partial window, [rows, proj] (gate without bias)
  std::vector<float> overlap_kv, overlap_gate;  //!< previous window's [0, c) half, [ratio, c] (gate with bias)
  std::vector<float> entries;                   //!< [count, c]
  std::size_t count = 0;

  //! Room for the entries of `tokens` tokens, so decoding never copies the history on growth.
  void reserve(std::size_t tokens, std::size_t ratio, std::size_t width) { entries.reserve(tokens / ratio * width); }
};

struct compressor {
  std::size_t ratio = 0, width = 0, dim = 0;  //!< width c of an entry; dim = model hidden size
  bool overlap = false;
  linear_layer kv_proj, gate_proj;
  std::vector<float> position_bias;  //!< [ratio, proj]
  std::vector<float> norm_w;         //!< [c]
  std::vector<float> inv_freq;
  float eps = 1e-6f;

  [[nodiscard]] std::size_t proj() const noexcept { return overlap ? 2 * width : width; }

  template <class Arch>
  [[nodiscard]] static result<compressor> load(Arch arch, const weight_source& src, const std::string& p, std::size_t ratio,
                                               std::size_t width, bool overlap, const config& c) {
    compressor k;
    k.ratio = ratio;
    k.width = width;
    k.overlap = overlap;
    k.dim = static_cast<std::size_t>(c.hidden);
    k.eps = c.norm_eps;
    k.inv_freq = rope_inv_freq(c.compress_rope, c.rope_dim);
    const auto P = static_cast<index_t>(k.proj()), D = static_cast<index_t>(k.dim);
    auto kv = linear_layer::load(arch, src, p + "kv_proj", P, D, false);
    if (!kv) return kv.err();
    auto gate = linear_layer::load(arch, src, p + "gate_proj", P, D, false);
    if (!gate) return gate.err();
    auto bias = src(p + "position_bias", {static_cast<index_t>(ratio), P});
    if (!bias) return bias.err();
    auto norm = src(p + "kv_norm.weight", {static_cast<index_t>(width)});
    if (!norm) return norm.err();
    k.kv_proj = std::move(*kv);
    k.gate_proj = std::move(*gate);
    k.position_bias = std::move(*bias);
    k.norm_w = std::move(*norm);
    return result<compressor>(std::move(k));
  }

  //! Feeds S new tokens (normed layer input x [S, dim]); appends every completed entry.
  template <class Arch, executor Exec>
  [[nodiscard]] status update(Arch arch, const float* x, std::size_t S, compressor_state& st, Exec& exec) const {
    const std::size_t P = proj(), c = width;
    std::vector<float> kv(S * P), gate(S * P);
    if (status s = kv_proj.apply(arch, x, S, kv.data(), exec); s != status::ok) return s;
    if (status s = gate_proj.apply(arch, x, S, gate.data(), exec); s != status::ok) return s;
    st.buffer_kv.insert(st.buffer_kv.end(), kv.begin(), kv.end());
    st.buffer_gate.insert(st.buffer_gate.end(), gate.begin(), gate.end());
    const std::size_t rows = st.buffer_kv.size() / P, windows = rows / ratio;
    std::vector<float> slot_kv(2 * ratio * c), slot_gate(2 * ratio * c), entry(c);
    for (std::size_t w = 0; w < windows; ++w) {
      const float* wk = st.buffer_kv.data() + w * ratio * P;
      const float* wg = st.buffer_gate.data() + w * ratio * P;
      // Slots [0, ratio): previous window's [0, c) half (none before the first window);
      // slots [ratio, 2 ratio): this window's own half.
      const std::size_t nslots = overlap ? 2 * ratio : ratio;
      float* own_kv = slot_kv.data() + (overlap ? ratio * c : 0);
      float* own_gate = slot_gate.data() + (overlap ? ratio * c : 0);
      for (std::size_t j = 0; j < ratio; ++j)
        for (std::size_t e = 0; e < c; ++e) {
          const std::size_t ch = overlap ? c + e : e;
          own_kv[j * c + e] = wk[j * P + ch];
          own_gate[j * c + e] = wg[j * P + ch] + position_bias[j * P + ch];
        }
      if (overlap) {
        if (!st.overlap_kv.empty()) {
          std::copy(st.overlap_kv.begin(), st.overlap_kv.end(), slot_kv.begin());
          std::copy(st.overlap_gate.begin(), st.overlap_gate.end(), slot_gate.begin());
        } else {
          std::fill(slot_kv.begin(), slot_kv.begin() + static_cast<std::ptrdiff_t>(ratio * c), 0.0f);
          std::fill(slot_gate.begin(), slot_gate.begin() + static_cast<std::ptrdiff_t>(ratio * c),
                    -std::numeric_limits<float>::infinity());
        }
        // this window's [0, c) half (with bias) becomes the next window's overlap
        st.overlap_kv.resize(ratio * c);
        st.overlap_gate.resize(ratio * c);
        for (std::size_t j = 0; j < ratio; ++j)
          for (std::size_t e = 0; e < c; ++e) {
            st.overlap_kv[j * c + e] = wk[j * P + e];
            st.overlap_gate[j * c + e] = wg[j * P + e] + position_bias[j * P + e];
          }
      }
      for (std::size_t e = 0; e < c; ++e) {  // per-channel softmax over the slots
        float mx = -std::numeric_limits<float>::infinity();
        for (std::size_t j = 0; j < nslots; ++j) mx = std::max(mx, slot_gate[j * c + e]);
        float sum = 0.0f, acc = 0.0f;
        for (std::size_t j = 0; j < nslots; ++j) {
          const float p = std::exp(slot_gate[j * c + e] - mx);
          sum += p;
          acc += p * slot_kv[j * c + e];
        }
        entry[e] = acc / sum;
      }
      double ss = 0.0;
      for (float v : entry) ss += static_cast<double>(v) * v;
      const float inv = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(c)) + eps);
      for (std::size_t e = 0; e < c; ++e) entry[e] = norm_w[e] * (entry[e] * inv);
      apply_rope(entry.data(), 1, c, inv_freq, static_cast<double>(st.count * ratio));
      st.entries.insert(st.entries.end(), entry.begin(), entry.end());
      ++st.count;
    }
    const std::size_t used = windows * ratio * P;
    st.buffer_kv.erase(st.buffer_kv.begin(), st.buffer_kv.begin() + static_cast<std::ptrdiff_t>(used));
    st.buffer_gate.erase(st.buffer_gate.begin(), st.buffer_gate.begin() + static_cast<std::ptrdiff_t>(used));
    return status::ok;
  }
};

struct indexer {
  compressor keys;
  linear_layer q_b, weights_proj;
  std::size_t heads = 0, head_dim = 0, top_k = 0, ratio = 0;
  std::vector<float> inv_freq;

  template <class Arch>
  [[nodiscard]] static result<indexer> load(Arch arch, const weight_source& src, const std::string& p, const config& c) {
    indexer ix;
    ix.heads = static_cast<std::size_t>(c.index_heads);
    ix.head_dim = static_cast<std::size_t>(c.index_head_dim);
    ix.top_k = static_cast<std::size_t>(c.index_topk);
    ix.ratio = static_cast<std::size_t>(c.csa_ratio);
    ix.inv_freq = rope_inv_freq(c.compress_rope, c.rope_dim);
    auto k = compressor::load(arch, src, p, ix.ratio, ix.head_dim, true, c);
    if (!k) return k.err();
    ix.keys = std::move(*k);
    auto q = linear_layer::load(arch, src, p + "q_b_proj", static_cast<index_t>(ix.heads * ix.head_dim), c.q_lora_rank, false);
    if (!q) return q.err();
    auto w = linear_layer::load(arch, src, p + "scorer.weights_proj", c.index_heads, c.hidden, false);
    if (!w) return w.err();
    ix.q_b = std::move(*q);
    ix.weights_proj = std::move(*w);
    return result<indexer>(std::move(ix));
  }

  //! Selected entry indices [S, k] with k = min(top_k, entries so far); -1 where a query has
  //! fewer visible entries than k. `state` must already hold this call's entries. With `ties`,
  //! each query whose choice cut through equal scores is added as (query index, tie).
  template <class Arch, executor Exec>
  [[nodiscard]] status select(Arch arch, const float* x, const float* q_residual, std::size_t S, const std::int64_t* pos,
                              const compressor_state& state, std::vector<std::int64_t>& out, std::size_t& k,
                              Exec& exec, std::vector<std::pair<std::size_t, topk_boundary_tie>>* ties = nullptr) const {
    const std::size_t T = state.count, HD = heads * head_dim;
    k = std::min(top_k, T);
    out.assign(S * k, -1);
    if (T == 0) return status::ok;
    std::vector<float> q(S * HD), w(S * heads);
    if (status s = q_b.apply(arch, q_residual, S, q.data(), exec); s != status::ok) return s;
    if (status s = weights_proj.apply(arch, x, S, w.data(), exec); s != status::ok) return s;
    const float softmax_scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    const float weight_scale = 1.0f / std::sqrt(static_cast<float>(heads));
    for (std::size_t t = 0; t < S; ++t) apply_rope(q.data() + t * HD, heads, head_dim, inv_freq, static_cast<double>(pos[t]));
    std::vector<float> hw(S * heads);
    for (std::size_t t = 0; t < S; ++t)
      for (std::size_t h = 0; h < heads; ++h) hw[t * heads + h] = softmax_scale * (w[t * heads + h] * weight_scale);
    // Queries go in blocks, so the scores held at once are [query_block, visible] however long
    // the prefill. Within a block: dot products of every visible key with every query head on
    // the GEMM kernel, in chunks of keys, then the weighted ReLU sum and each query's top-k.
    constexpr std::size_t query_block = 64, chunk = 4096;
    std::vector<float> scores, dots;
    for (std::size_t t0 = 0; t0 < S; t0 += query_block) {
      const std::size_t nq = std::min(query_block, S - t0);
      const auto last = static_cast<std::size_t>((pos[t0 + nq - 1] + 1) / static_cast<std::int64_t>(ratio));
      const std::size_t visible_max = std::min(T, last);
      if (visible_max == 0) continue;  // nothing visible yet: the slots stay -1
      scores.resize(nq * visible_max);
      dots.resize(std::min(chunk, visible_max) * nq * heads);
      auto qw = cpu::pack_weight(arch, q.data() + t0 * HD, nq * heads, head_dim, head_dim);
      if (!qw) return qw.code();
      for (std::size_t i0 = 0; i0 < visible_max; i0 += chunk) {
        const std::size_t rows = std::min(chunk, visible_max - i0);
        const cpu::gemm_args g{rows, state.entries.data() + i0 * head_dim, head_dim, &*qw, nullptr, dots.data(), nq * heads, false};
        if (status s = cpu::gemm(arch, g, exec); s != status::ok) return s;
        for (std::size_t r = 0; r < rows; ++r)
          for (std::size_t t = 0; t < nq; ++t) {
            const float* d = dots.data() + r * nq * heads + t * heads;
            const float* wt = hw.data() + (t0 + t) * heads;
            float total = 0.0f;
            for (std::size_t h = 0; h < heads; ++h) total += std::max(d[h], 0.0f) * wt[h];
            scores[t * visible_max + i0 + r] = total;
          }
      }
      for (std::size_t t = 0; t < nq; ++t) {
        const auto visible =
            std::min<std::size_t>(T, static_cast<std::size_t>((pos[t0 + t] + 1) / static_cast<std::int64_t>(ratio)));
        const auto best = top_k_indices(scores.data() + t * visible_max, visible, k);
        std::copy(best.begin(), best.end(), out.begin() + static_cast<std::ptrdiff_t>((t0 + t) * k));
        if (ties != nullptr)
          if (auto tie = boundary_tie(scores.data() + t * visible_max, visible, best)) ties->emplace_back(t0 + t, *tie);
      }
    }
    return status::ok;
  }
};

}  // namespace v4
VPRIM_NAMESPACE_END
