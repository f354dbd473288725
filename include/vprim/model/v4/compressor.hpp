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
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "vprim/cpu/compressor.hpp"
#include "vprim/cpu/indexer.hpp"
#include "vprim/cpu/topk.hpp"
#include "vprim/model/v4/kv_pool.hpp"
#include "vprim/model/v4/moe.hpp"
#include "vprim/model/v4/observer.hpp"
#include "vprim/model/v4/rope.hpp"
#include "vprim/model/v4/tensor_table.hpp"
#include "vprim/model/weights.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

struct compressor {
  std::size_t ratio = 0, width = 0, dim = 0;  //!< width c of an entry; dim = model hidden size
  bool overlap = false;
  linear_layer kv_proj, gate_proj;
  std::vector<float> position_bias;  //!< [ratio, proj]
  std::vector<float> norm_w;         //!< [c]
  std::vector<float> inv_freq;
  float eps = 1e-6f;

  [[nodiscard]] std::size_t proj() const noexcept { return overlap ? 2 * width : width; }
  [[nodiscard]] std::size_t resident_bytes() const noexcept {
    return kv_proj.resident_bytes() + gate_proj.resident_bytes() + vector_bytes(position_bias, norm_w);
  }

  template <class Arch>
  [[nodiscard]] static result<compressor> load(Arch arch, const weight_source& src, const compressor_tensors& t, const config& c) {
    compressor k;
    k.ratio = t.ratio;
    k.width = t.width;
    k.overlap = t.overlap;
    k.dim = static_cast<std::size_t>(c.hidden);
    k.eps = c.norm_eps;
    k.inv_freq = rope_inv_freq(c.compress_rope, c.rope_dim);
    auto kv = linear_layer::load(arch, src, t.kv.name, t.kv.out, t.kv.in, false);
    if (!kv) return kv.err();
    auto gate = linear_layer::load(arch, src, t.gate.name, t.gate.out, t.gate.in, false);
    if (!gate) return gate.err();
    auto bias = src(t.position_bias.name, t.position_bias.shape);
    if (!bias) return bias.err();
    auto norm = src(t.norm.name, t.norm.shape);
    if (!norm) return norm.err();
    k.kv_proj = std::move(*kv);
    k.gate_proj = std::move(*gate);
    k.position_bias = std::move(*bias);
    k.norm_w = std::move(*norm);
    return result<compressor>(std::move(k));
  }
  //! The compressor under prefix `p` (names from tensor_table.hpp).
  template <class Arch>
  [[nodiscard]] static result<compressor> load(Arch arch, const weight_source& src, const std::string& p, std::size_t ratio,
                                               std::size_t width, bool overlap, const config& c) {
    return load(arch, src, compressor_tensors_of(c, p, ratio, width, overlap), c);
  }

  //! Feeds each sequence's rows of this call (normed layer input x [rows, dim]): projects them
  //! all at once (the weights are read once per call), then runs the kernel per sequence on its
  //! state slot (`slot`) and its pages (entries at `page_offset`, stored as `format`).
  template <class Arch, executor Exec>
  [[nodiscard]] status update(Arch arch, const float* x, const batch_view& batch, const kv_pool_view& pool,
                              const kv_pool_layout::compressor_slot& slot, std::size_t page_offset,
                              const kernels::kv_row_format& format, Exec& exec, workspace_arena& ws) const {
    const std::size_t N = batch.rows(), P = proj();
    workspace_arena::frame frame(ws);
    float* kv = ws.take<float>(N * P);
    float* gate = ws.take<float>(N * P);
    if (kv == nullptr || gate == nullptr) return status::out_of_memory;
    if (status s = kv_proj.apply(arch, x, N, kv, exec, ws); s != status::ok) return s;
    if (status s = gate_proj.apply(arch, x, N, gate, exec, ws); s != status::ok) return s;
    for (std::size_t s = 0; s < batch.sequences.size(); ++s) {
      const sequence_ref& seq = batch.sequences[s];
      kernels::compressor_update_args a{};
      a.ratio = ratio;
      a.width = width;
      a.overlap = overlap;
      a.first_position = seq.length;
      a.rows = batch.rows_of(s);
      a.kv = kv + batch.cu_rows[s] * P;
      a.gate = gate + batch.cu_rows[s] * P;
      a.ld = P;
      a.position_bias = position_bias.data();
      a.norm_weight = norm_w.data();
      a.eps = eps;
      a.inv_freq = inv_freq.data();
      a.rope_pairs = inv_freq.size();
      a.state = pool.compressor_state(slot, seq.slot);
      a.format = format;
      a.entries = pool.rows(page_offset, ratio, a.stored_entry_floats(), seq);
      if (status st = cpu::compressor_update(arch, a, ws); st != status::ok) return st;
    }
    return status::ok;
  }
};

struct indexer {
  compressor keys;
  linear_layer q_b, weights_proj;
  std::size_t heads = 0, head_dim = 0, top_k = 0, ratio = 0;
  std::vector<float> inv_freq;

  [[nodiscard]] std::size_t resident_bytes() const noexcept {
    return keys.resident_bytes() + q_b.resident_bytes() + weights_proj.resident_bytes();
  }

  template <class Arch>
  [[nodiscard]] static result<indexer> load(Arch arch, const weight_source& src, const indexer_tensors& t, const config& c) {
    indexer ix;
    ix.heads = static_cast<std::size_t>(c.index_heads);
    ix.head_dim = static_cast<std::size_t>(c.index_head_dim);
    ix.top_k = static_cast<std::size_t>(c.index_topk);
    ix.ratio = t.keys.ratio;
    ix.inv_freq = rope_inv_freq(c.compress_rope, c.rope_dim);
    auto k = compressor::load(arch, src, t.keys, c);
    if (!k) return k.err();
    ix.keys = std::move(*k);
    auto q = linear_layer::load(arch, src, t.q.name, t.q.out, t.q.in, false);
    if (!q) return q.err();
    auto w = linear_layer::load(arch, src, t.weights.name, t.weights.out, t.weights.in, false);
    if (!w) return w.err();
    ix.q_b = std::move(*q);
    ix.weights_proj = std::move(*w);
    return result<indexer>(std::move(ix));
  }
  //! The indexer under prefix `p` (names from tensor_table.hpp).
  template <class Arch>
  [[nodiscard]] static result<indexer> load(Arch arch, const weight_source& src, const std::string& p, const config& c) {
    return load(arch, src, indexer_tensors_of(c, p), c);
  }

  //! The entries each query attends: selected[t, 0..top_k) for row t of the batch, ascending,
  //! -1 in the slots no visible entry takes (a query sees i < (pos + 1) / ratio, and its
  //! sequence picks k = min(top_k, entries it holds)). The keys of this call are in the pool
  //! already (keys.update). An observer gets the picks in score order, [1, S, k], and the ties.
  template <class Arch, executor Exec>
  [[nodiscard]] status select(Arch arch, const float* x, const float* q_residual, const batch_view& batch,
                              const std::int64_t* pos, const std::uint32_t* seq_of, const kv_pool_layout::layer& lay,
                              const kv_pool_view& pool, std::int64_t* selected, Exec& exec, workspace_arena& ws,
                              const observer& obs, std::string_view path) const {
    const std::size_t N = batch.rows(), HD = heads * head_dim;
    std::fill(selected, selected + N * top_k, -1);
    std::size_t most = 0;  // entries the longest sequence holds after the call
    for (std::size_t s = 0; s < batch.sequences.size(); ++s)
      most = std::max(most, (static_cast<std::size_t>(batch.sequences[s].length) + batch.rows_of(s)) / ratio);
    if (most == 0) return observe(batch, selected, obs, path);
    workspace_arena::frame frame(ws);
    float* q = ws.take<float>(N * HD);
    float* w = ws.take<float>(N * heads);
    float* scores = ws.take<float>(most);
    if (q == nullptr || w == nullptr || scores == nullptr) return status::out_of_memory;
    if (status s = q_b.apply(arch, q_residual, N, q, exec, ws); s != status::ok) return s;
    if (status s = weights_proj.apply(arch, x, N, w, exec, ws); s != status::ok) return s;
    const float softmax_scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    const float weight_scale = 1.0f / std::sqrt(static_cast<float>(heads));
    for (std::size_t t = 0; t < N; ++t) {
      apply_rope(q + t * HD, heads, head_dim, inv_freq, static_cast<double>(pos[t]));
      for (std::size_t h = 0; h < heads; ++h) w[t * heads + h] = softmax_scale * (w[t * heads + h] * weight_scale);
    }
    std::vector<std::pair<std::size_t, topk_boundary_tie>> ties;  // observed calls only
    for (std::size_t t = 0; t < N; ++t) {
      const std::size_t s = seq_of[t];
      const sequence_ref& seq = batch.sequences[s];
      const std::size_t T = (static_cast<std::size_t>(seq.length) + batch.rows_of(s)) / ratio;
      const std::size_t visible = std::min(T, static_cast<std::size_t>((pos[t] + 1) / static_cast<std::int64_t>(ratio)));
      if (visible == 0) continue;  // nothing visible yet: the slots stay -1
      kernels::indexer_scores_args a{heads, head_dim, q + t * HD, w + t * heads, pool.rows(lay.index_keys, ratio, pool.layout->key_floats(), seq).as_const(),
                                     visible, scores, pool.layout->key_format};
      // Keys in chunks over the executor: a decode step has one query and up to 16K keys at 64K.
      constexpr std::size_t chunk = 256;
      std::atomic<int> failed{0};
      exec.parallel_for(static_cast<std::int64_t>((visible + chunk - 1) / chunk), [&](std::int64_t b, std::int64_t e) {
        if (cpu::indexer_scores(arch, a, static_cast<std::size_t>(b) * chunk, static_cast<std::size_t>(e) * chunk) != status::ok)
          failed = 1;
      });
      if (failed != 0) return status::invalid_argument;
      std::int64_t* picks = selected + t * top_k;
      if (status st = cpu::top_k(arch, {scores, visible, std::min(top_k, T), picks}, ws); st != status::ok) return st;
      if (obs.ties) {
        const std::vector<std::int64_t> best(picks, picks + std::min(top_k, visible));
        if (auto tie = boundary_tie(scores, visible, best)) ties.emplace_back(t, *tie);
      }
    }
    for (const auto& [t, tie] : ties) obs.ties(std::string(path) + ".compressor.indexer", pos[t], tie);
    if (status s = observe(batch, selected, obs, path); s != status::ok) return s;
    for (std::size_t t = 0; t < N; ++t) {  // ascending: the order the attention takes them in
      std::int64_t* picks = selected + t * top_k;
      std::sort(picks, std::find(picks, picks + top_k, std::int64_t{-1}));
    }
    return status::ok;
  }

 private:
  //! An observed call (one sequence) reports its picks as [1, S, k], k = min(top_k, entries).
  status observe(const batch_view& batch, const std::int64_t* selected, const observer& obs, std::string_view path) const {
    if (!obs) return status::ok;
    const std::size_t S = batch.rows();
    const std::size_t k = std::min(top_k, (static_cast<std::size_t>(batch.sequences[0].length) + S) / ratio);
    std::vector<std::int64_t> picks(S * k);
    for (std::size_t t = 0; t < S; ++t) std::copy_n(selected + t * top_k, k, picks.data() + t * k);
    obs.indices(std::string(path) + ".compressor.indexer", "out0", picks.data(), {1, static_cast<std::int64_t>(S), static_cast<std::int64_t>(k)});
    return status::ok;
  }
};

}  // namespace v4
VPRIM_NAMESPACE_END
