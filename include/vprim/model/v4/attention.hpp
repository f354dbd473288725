// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file attention.hpp
//! One DeepSeek-V4 attention layer with its per-layer cache.
//!   q_res = RMSNorm(W_qa x); q = W_qb q_res, per-head unweighted RMSNorm, RoPE on the tail;
//!   kv = RMSNorm(W_kv x) with RoPE on the tail: one head that is both key and value.
//! Query t attends the raw kv of positions (t - window, t] and, in CSA layers, the compressed
//! entries the indexer selected for it; in HCA layers every visible entry i < (t+1)/ratio.
//! Softmax with a per-head sink logit (a zero value), output de-rotated at t, then the grouped
//! low-rank projection: z_g = W_oa[g] o_g, out = W_ob [z_0 .. z_G-1].

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vprim/cpu/norm.hpp"
#include "vprim/model/v4/compressor.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

//! Named intermediate results, for checking against a peer: (module path, slot, values, shape).
struct observer {
  std::function<void(std::string_view, std::string_view, const float*, std::vector<std::int64_t>)> floats;
  std::function<void(std::string_view, std::string_view, const std::int64_t*, std::vector<std::int64_t>)> indices;
  //! (indexer path, query position, tie): the indexer's top-k cut through equal scores there.
  std::function<void(std::string_view, std::int64_t, const topk_boundary_tie&)> ties;
  explicit operator bool() const noexcept { return static_cast<bool>(floats); }
};

struct layer_cache {
  std::deque<std::vector<float>> window;  //!< kv of the last sliding_window - 1 positions, oldest first
  std::int64_t next_position = 0;         //!< position the next token must have
  compressor_state main, index;
};

struct attention_layer {
  attention_kind kind = attention_kind::sliding;
  std::size_t dim = 0, heads = 0, head_dim = 0, q_rank = 0, groups = 0, o_rank = 0, window = 0;
  float eps = 1e-6f;
  linear_layer q_a, q_b, kv_proj, o_b;
  std::vector<linear_layer> o_a;  //!< one per group
  std::vector<float> q_a_norm, kv_norm, sinks, inv_freq;
  std::optional<compressor> comp;
  std::optional<indexer> index;

  template <class Arch>
  [[nodiscard]] static result<attention_layer> load(Arch arch, const weight_source& src, const std::string& p,
                                                    const config& c, attention_kind kind) {
    attention_layer a;
    a.kind = kind;
    a.dim = static_cast<std::size_t>(c.hidden);
    a.heads = static_cast<std::size_t>(c.heads);
    a.head_dim = static_cast<std::size_t>(c.head_dim);
    a.q_rank = static_cast<std::size_t>(c.q_lora_rank);
    a.groups = static_cast<std::size_t>(c.o_groups);
    a.o_rank = static_cast<std::size_t>(c.o_lora_rank);
    a.window = static_cast<std::size_t>(c.sliding_window);
    a.eps = c.norm_eps;
    a.inv_freq = rope_inv_freq(kind == attention_kind::sliding ? c.main_rope : c.compress_rope, c.rope_dim);
    const index_t D = c.hidden, HD = static_cast<index_t>(a.heads * a.head_dim);
    auto get = [&](linear_layer& l, const std::string& n, index_t out, index_t in) -> std::optional<error> {
      auto r = linear_layer::load(arch, src, p + n, out, in, false);
      if (!r) return r.err();
      l = std::move(*r);
      return std::nullopt;
    };
    if (auto e = get(a.q_a, "q_a_proj", c.q_lora_rank, D)) return *e;
    if (auto e = get(a.q_b, "q_b_proj", HD, c.q_lora_rank)) return *e;
    if (auto e = get(a.kv_proj, "kv_proj", c.head_dim, D)) return *e;
    if (auto e = get(a.o_b, "o_b_proj", D, c.o_groups * c.o_lora_rank)) return *e;
    const index_t per_group = HD / c.o_groups;
    auto oa = src(p + "o_a_proj.weight", {c.o_groups * c.o_lora_rank, per_group});
    if (!oa) return oa.err();
    for (std::size_t g = 0; g < a.groups; ++g) {
      std::vector<float> rows(oa->begin() + static_cast<std::ptrdiff_t>(g * a.o_rank * static_cast<std::size_t>(per_group)),
                              oa->begin() + static_cast<std::ptrdiff_t>((g + 1) * a.o_rank * static_cast<std::size_t>(per_group)));
      auto l = linear_layer::from_values(arch, rows, c.o_lora_rank, per_group);
      if (!l) return l.err();
      a.o_a.push_back(std::move(*l));
    }
    for (auto [vec, name, n] : {std::tuple{&a.q_a_norm, "q_a_norm.weight", static_cast<index_t>(c.q_lora_rank)},
                                std::tuple{&a.kv_norm, "kv_norm.weight", static_cast<index_t>(c.head_dim)},
                                std::tuple{&a.sinks, "sinks", static_cast<index_t>(c.heads)}}) {
      auto v = src(p + name, {n});
      if (!v) return v.err();
      *vec = std::move(*v);
    }
    if (kind != attention_kind::sliding) {
      auto k = compressor::load(arch, src, p + "compressor.", static_cast<std::size_t>(c.ratio(kind)), a.head_dim,
                                kind == attention_kind::csa, c);
      if (!k) return k.err();
      a.comp = std::move(*k);
    }
    if (kind == attention_kind::csa) {
      auto ix = indexer::load(arch, src, p + "compressor.indexer.", c);
      if (!ix) return ix.err();
      a.index = std::move(*ix);
    }
    return result<attention_layer>(std::move(a));
  }

  //! x: normed input [S, dim] at positions pos[0..S) (consecutive, continuing the cache).
  template <class Arch, executor Exec>
  [[nodiscard]] status forward(Arch arch, const float* x, std::size_t S, const std::int64_t* pos, layer_cache& cache,
                               float* out, Exec& exec, const observer& obs = {}, std::string_view path = {}) const {
    const std::size_t HD = heads * head_dim;
    serial_executor serial;
    std::vector<float> q_res(S * q_rank), q(S * HD), kv(S * head_dim);
    if (status s = q_a.apply(arch, x, S, q_res.data(), exec); s != status::ok) return s;
    cpu::rmsnorm(arch, q_res.data(), q_res.data(), q_a_norm.data(), S, q_rank, eps, serial);
    if (status s = q_b.apply(arch, q_res.data(), S, q.data(), exec); s != status::ok) return s;
    cpu::rmsnorm(arch, q.data(), q.data(), nullptr, S * heads, head_dim, eps, serial);  // unweighted, per head
    if (status s = kv_proj.apply(arch, x, S, kv.data(), exec); s != status::ok) return s;
    cpu::rmsnorm(arch, kv.data(), kv.data(), kv_norm.data(), S, head_dim, eps, serial);
    for (std::size_t t = 0; t < S; ++t) {
      apply_rope(q.data() + t * HD, heads, head_dim, inv_freq, static_cast<double>(pos[t]));
      apply_rope(kv.data() + t * head_dim, 1, head_dim, inv_freq, static_cast<double>(pos[t]));
    }
    // Compressed entries (this call's complete windows included) and the indexer's choice.
    std::vector<std::int64_t> selected;
    std::size_t k = 0;
    if (comp) {
      if (status s = comp->update(arch, x, S, cache.main, exec); s != status::ok) return s;
      if (obs) obs.floats(std::string(path) + ".compressor", "out0", cache.main.entries.data(),
                          {1, 1, static_cast<std::int64_t>(cache.main.count), static_cast<std::int64_t>(head_dim)});
    }
    if (index) {
      if (status s = index->keys.update(arch, x, S, cache.index, exec); s != status::ok) return s;
      std::vector<std::pair<std::size_t, topk_boundary_tie>> ties;
      if (status s = index->select(arch, x, q_res.data(), S, pos, cache.index, selected, k, exec, obs.ties ? &ties : nullptr);
          s != status::ok)
        return s;
      for (const auto& [t, tie] : ties) obs.ties(std::string(path) + ".compressor.indexer", pos[t], tie);
      if (obs) obs.indices(std::string(path) + ".compressor.indexer", "out0", selected.data(),
                           {1, static_cast<std::int64_t>(S), static_cast<std::int64_t>(k)});
    }
    const std::size_t T = comp ? cache.main.count : 0;
    // The compressed entries query t sees, ascending: the indexer's choice (CSA) or every visible
    // entry (HCA). Found per query, so nothing of size S x T exists unless an observer asks.
    auto entries_seen = [&](std::size_t t, std::vector<std::size_t>& into) {
      into.clear();
      if (kind == attention_kind::csa) {
        for (std::size_t j = 0; j < k; ++j)
          if (const std::int64_t e = selected[t * k + j]; e >= 0 && static_cast<std::size_t>(e) < T)
            into.push_back(static_cast<std::size_t>(e));
        std::sort(into.begin(), into.end());
        into.erase(std::unique(into.begin(), into.end()), into.end());
      } else if (kind == attention_kind::hca) {
        const auto visible = static_cast<std::size_t>((pos[t] + 1) / static_cast<std::int64_t>(comp->ratio));
        for (std::size_t i = 0; i < std::min(visible, T); ++i) into.push_back(i);
      }
    };
    std::vector<std::size_t> seen;
    // The peer returns a block bias (0 seen, -inf not) from CSA layers on every call, from HCA
    // layers only for multi-token calls with entries.
    if (obs && comp && (kind == attention_kind::csa || (S > 1 && T > 0))) {
      std::vector<float> bias(S * T, -INFINITY);
      for (std::size_t t = 0; t < S; ++t) {
        entries_seen(t, seen);
        for (std::size_t i : seen) bias[t * T + i] = 0.0f;
      }
      obs.floats(std::string(path) + ".compressor", "out1", bias.data(),
                 {1, 1, static_cast<std::int64_t>(S), static_cast<std::int64_t>(T)});
    }
    // Raw keys: the cached window followed by this call's tokens.
    std::vector<const float*> raw;
    std::vector<std::int64_t> raw_pos;
    const std::int64_t first_new = pos[0];
    for (std::size_t i = 0; i < cache.window.size(); ++i) {
      raw.push_back(cache.window[i].data());
      raw_pos.push_back(first_new - static_cast<std::int64_t>(cache.window.size() - i));
    }
    for (std::size_t t = 0; t < S; ++t) {
      raw.push_back(kv.data() + t * head_dim);
      raw_pos.push_back(pos[t]);
    }
    std::vector<float> o(S * HD, 0.0f), logits, probs, gathered;
    const std::size_t all_keys = raw.size() + T;
    if (obs) probs.assign(heads * S * all_keys, 0.0f);  // [H, S, raw + compressed], the peer's layout
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    for (std::size_t t = 0; t < S; ++t) {
      std::vector<const float*> keys;
      std::vector<std::size_t> slot;  // column of each key in the probability layout
      // Raw positions ascend, so the window (pos - window, pos] is one run of them.
      const auto lo = std::upper_bound(raw_pos.begin(), raw_pos.end(), pos[t] - static_cast<std::int64_t>(window));
      const auto hi = std::upper_bound(raw_pos.begin(), raw_pos.end(), pos[t]);
      for (auto r = static_cast<std::size_t>(lo - raw_pos.begin()); r < static_cast<std::size_t>(hi - raw_pos.begin()); ++r) {
        keys.push_back(raw[r]);
        slot.push_back(r);
      }
      entries_seen(t, seen);
      for (std::size_t i : seen) {
        keys.push_back(cache.main.entries.data() + i * head_dim);
        slot.push_back(raw.size() + i);
      }
      // Gather the keys, then logits[H, nk] = Q K^T and o[H, D] = P K on the GEMM kernel.
      const std::size_t nk = keys.size();
      gathered.resize(nk * head_dim);
      for (std::size_t j = 0; j < nk; ++j) std::copy_n(keys[j], head_dim, gathered.data() + j * head_dim);
      logits.resize(heads * nk);
      auto kw = cpu::pack_weight(arch, gathered.data(), nk, head_dim, head_dim);
      if (!kw) return kw.code();
      const cpu::gemm_args scores{heads, q.data() + t * HD, head_dim, &*kw, nullptr, logits.data(), nk, false};
      if (status s = cpu::gemm(arch, scores, exec); s != status::ok) return s;
      for (std::size_t h = 0; h < heads; ++h) {
        float* lg = logits.data() + h * nk;
        float mx = sinks[h];
        for (std::size_t j = 0; j < nk; ++j) mx = std::max(mx, lg[j] *= scale);
        float denom = std::exp(sinks[h] - mx);
        for (std::size_t j = 0; j < nk; ++j) denom += (lg[j] = std::exp(lg[j] - mx));
        const float inv = 1.0f / denom;
        for (std::size_t j = 0; j < nk; ++j) {
          lg[j] *= inv;
          if (obs) probs[(h * S + t) * all_keys + slot[j]] = lg[j];
        }
      }
      auto vw = cpu::pack_weight_transposed(arch, gathered.data(), head_dim, nk, head_dim);
      if (!vw) return vw.code();
      const cpu::gemm_args values{heads, logits.data(), nk, &*vw, nullptr, o.data() + t * HD, head_dim, false};
      if (status s = cpu::gemm(arch, values, exec); s != status::ok) return s;
      apply_rope(o.data() + t * HD, heads, head_dim, inv_freq, static_cast<double>(pos[t]), /*inverse=*/true);
    }
    if (obs)
      obs.floats(path, "out1", probs.data(),
                 {1, static_cast<std::int64_t>(heads), static_cast<std::int64_t>(S), static_cast<std::int64_t>(all_keys)});
    // Grouped low-rank output projection.
    const std::size_t per_group = HD / groups;
    std::vector<float> og(S * per_group), zg(S * o_rank), z(S * groups * o_rank);
    for (std::size_t g = 0; g < groups; ++g) {
      for (std::size_t t = 0; t < S; ++t)
        std::copy(o.data() + t * HD + g * per_group, o.data() + t * HD + (g + 1) * per_group, og.data() + t * per_group);
      if (status s = o_a[g].apply(arch, og.data(), S, zg.data(), exec); s != status::ok) return s;
      for (std::size_t t = 0; t < S; ++t)
        std::copy(zg.data() + t * o_rank, zg.data() + (t + 1) * o_rank, z.data() + t * groups * o_rank + g * o_rank);
    }
    if (status s = o_b.apply(arch, z.data(), S, out, exec); s != status::ok) return s;
    // Slide the window.
    for (std::size_t t = 0; t < S; ++t) {
      cache.window.emplace_back(kv.data() + t * head_dim, kv.data() + (t + 1) * head_dim);
      if (cache.window.size() + 1 > window) cache.window.pop_front();  // the next query brings itself
    }
    cache.next_position = pos[S - 1] + 1;
    return status::ok;
  }
};

}  // namespace v4
VPRIM_NAMESPACE_END
