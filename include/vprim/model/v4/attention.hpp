// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file attention.hpp
//! One DeepSeek-V4 attention layer over a batch of sequences and their paged cache (kv_pool.hpp).
//!   q_res = RMSNorm(W_qa x); q = W_qb q_res, per-head unweighted RMSNorm, RoPE on the tail;
//!   kv = RMSNorm(W_kv x) with RoPE on the tail: one head that is both key and value.
//! Query t attends the raw kv of positions (t - window, t] and, in CSA layers, the compressed
//! entries the indexer selected for it; in HCA layers every visible entry i < (t+1)/ratio.
//! Softmax with a per-head sink logit (a zero value), output de-rotated at t, then the grouped
//! low-rank projection: z_g = W_oa[g] o_g, out = W_ob [z_0 .. z_G-1].

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vprim/core/workspace.hpp"
#include "vprim/cpu/norm.hpp"
#include "vprim/cpu/sparse_attention.hpp"
#include "vprim/model/v4/compressor.hpp"
#include "vprim/model/v4/kv_pool.hpp"
#include "vprim/model/v4/observer.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

//! How big one call of an attention layer (or of the decoder) may be; the workspace is sized
//! for it once, and every call within it runs without allocating.
struct call_limits {
  std::size_t rows = 1;           //!< rows of one call (all sequences together)
  std::size_t sequences = 1;      //!< sequences of one call
  std::size_t max_positions = 1;  //!< positions of the longest sequence after a call
  std::size_t threads = 1;        //!< the executor's concurrency
  bool observed = false;          //!< calls with an observer (one sequence) see every raw key
  kv_cache_dtype dtype = kv_cache_dtype::fp32;  //!< how the pool stores KV rows
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

  //! Bytes of weights the layer holds (its Linears in whatever form they keep).
  [[nodiscard]] std::size_t resident_bytes() const noexcept {
    std::size_t b = q_a.resident_bytes() + q_b.resident_bytes() + kv_proj.resident_bytes() + o_b.resident_bytes() +
                    vector_bytes(q_a_norm, kv_norm, sinks);
    for (const auto& g : o_a) b += g.resident_bytes();
    return b + (comp ? comp->resident_bytes() : 0) + (index ? index->resident_bytes() : 0);
  }

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
    const attention_tensors t = attention_tensors_of(c, kind, p);
    auto get = [&](linear_layer& l, const linear_spec& spec) -> std::optional<error> {
      auto r = linear_layer::load(arch, src, spec.name, spec.out, spec.in, false);
      if (!r) return r.err();
      l = std::move(*r);
      return std::nullopt;
    };
    if (auto e = get(a.q_a, t.q_a)) return *e;
    if (auto e = get(a.q_b, t.q_b)) return *e;
    if (auto e = get(a.kv_proj, t.kv)) return *e;
    if (auto e = get(a.o_b, t.o_b)) return *e;
    auto groups = load_output_groups(arch, src, t.o_a, c);
    if (!groups) return groups.err();
    a.o_a = std::move(*groups);
    for (auto [vec, spec] : {std::pair{&a.q_a_norm, &t.q_a_norm}, std::pair{&a.kv_norm, &t.kv_norm}, std::pair{&a.sinks, &t.sinks}}) {
      auto v = src(spec->name, spec->shape);
      if (!v) return v.err();
      *vec = std::move(*v);
    }
    if (t.compressor) {
      auto k = compressor::load(arch, src, *t.compressor, c);
      if (!k) return k.err();
      a.comp = std::move(*k);
    }
    if (t.indexer) {
      auto ix = indexer::load(arch, src, *t.indexer, c);
      if (!ix) return ix.err();
      a.index = std::move(*ix);
    }
    return result<attention_layer>(std::move(a));
  }

  //! wo_a's groups, one Linear each: as shipped when the source keeps it FP8 and a group is
  //! whole 128-row scale blocks, else from its values.
  template <class Arch>
  [[nodiscard]] static result<std::vector<linear_layer>> load_output_groups(Arch arch, const weight_source& src,
                                                                            const linear_spec& o_a, const config& c) {
    const auto groups = static_cast<std::size_t>(c.o_groups), rank = static_cast<std::size_t>(c.o_lora_rank);
    std::vector<linear_layer> out;
    auto shipped = src.quantized(o_a.weight(), {o_a.out, o_a.in});
    if (!shipped) return shipped.err();
    for (std::size_t g = 0; *shipped && g < groups; ++g) {
      auto rows = quantized_rows(**shipped, g * rank, rank);
      if (!rows) break;
      auto l = linear_layer::from_quantized(std::move(*rows));
      if (!l) return l.err();
      out.push_back(std::move(*l));
    }
    if (out.size() == groups) return out;
    out.clear();
    auto values = src(o_a.weight(), {o_a.out, o_a.in});
    if (!values) return values.err();
    const std::size_t per_group = rank * static_cast<std::size_t>(o_a.in);
    for (std::size_t g = 0; g < groups; ++g) {
      const std::vector<float> rows(values->begin() + static_cast<std::ptrdiff_t>(g * per_group),
                                    values->begin() + static_cast<std::ptrdiff_t>((g + 1) * per_group));
      auto l = linear_layer::from_values(arch, rows, c.o_lora_rank, o_a.in);
      if (!l) return l.err();
      out.push_back(std::move(*l));
    }
    return out;
  }

  //! Compressed entries one query may attend at most, for sequences of up to `positions`.
  [[nodiscard]] std::size_t max_entries_attended(std::size_t positions) const noexcept {
    if (kind == attention_kind::csa) return index->top_k;
    return kind == attention_kind::hca ? positions / comp->ratio : 0;
  }

  //! Scratch one call within `lim` takes (observed calls take more: see forward).
  [[nodiscard]] workspace_size workspace(const call_limits& lim) const {
    const std::size_t N = lim.rows, B = lim.sequences, HD = heads * head_dim;
    workspace_size w;
    w.add<std::int64_t>(N).add<std::uint32_t>(N);
    w.add<float>(N * q_rank).add<float>(N * HD).add<float>(N * head_dim).add<float>(N * HD);
    workspace_size step;  // the largest of the steps that follow one another
    auto at_least = [&step](const workspace_size& s) { step.bytes = std::max(step.bytes, s.bytes); };
    if (comp) {
      kernels::compressor_update_args a{};
      a.ratio = comp->ratio;
      a.width = comp->width;
      at_least(workspace_size{}.add<float>(2 * N * comp->proj()).add(kernels::compressor_update_workspace(a)));
    }
    workspace_size selection;
    if (index) {
      kernels::compressor_update_args a{};
      a.ratio = index->keys.ratio;
      a.width = index->keys.width;
      at_least(workspace_size{}.add<float>(2 * N * index->keys.proj()).add(kernels::compressor_update_workspace(a)));
      const std::size_t visible = lim.max_positions / index->ratio;
      selection.add<std::int64_t>(N * index->top_k);
      at_least(workspace_size{}
                   .add<float>(N * index->heads * index->head_dim)
                   .add<float>(N * index->heads)
                   .add<float>(visible)
                   .add(kernels::topk_workspace({nullptr, visible, index->top_k, nullptr})));
    }
    const std::size_t raw = B * (window - 1) + N;
    kernels::sparse_attention_args one{};
    one.heads = heads;
    one.head_dim = head_dim;
    if (lim.dtype == kv_cache_dtype::fp8) one.format = kernels::kv_row_format::fp8_entries(kernels::fp8_kv_layout_for(head_dim, 2 * inv_freq.size()));
    one.raw_count = lim.observed ? window - 1 + N : window;
    one.selected = kind == attention_kind::csa ? &one.position : nullptr;
    one.selected_count = one.entry_count = max_entries_attended(lim.max_positions);
    const std::size_t per_thread = kernels::sparse_attention_workspace(one).bytes;
    at_least(workspace_size{}
                 .add<float>(lim.dtype == kv_cache_dtype::fp8 ? N * one.format.stored_floats() : 0)  // this call's rows, stored
                 .add<const float*>(raw)
                 .add<std::int64_t>(raw)
                 .add<std::size_t>(B + 1)
                 .add<status>(lim.threads)
                 .add<std::byte>(lim.threads * per_thread));
    const std::size_t per_group = HD / groups;
    at_least(workspace_size{}.add<float>(N * per_group).add<float>(N * o_rank).add<float>(N * groups * o_rank));
    // A bf16 Linear's operand is taken on top of whatever step is running.
    std::size_t linear = std::max({q_a.scratch_bytes(N), q_b.scratch_bytes(N), kv_proj.scratch_bytes(N), o_b.scratch_bytes(N)});
    for (const auto& g : o_a) linear = std::max(linear, g.scratch_bytes(N));
    if (comp) linear = std::max({linear, comp->kv_proj.scratch_bytes(N), comp->gate_proj.scratch_bytes(N)});
    if (index)
      linear = std::max({linear, index->keys.kv_proj.scratch_bytes(N), index->keys.gate_proj.scratch_bytes(N),
                         index->q_b.scratch_bytes(N), index->weights_proj.scratch_bytes(N)});
    return w.add(selection).add(step).add(workspace_size{linear});
  }

  //! One call over a batch: x [rows, dim] normed inputs, rows of sequence s at positions
  //! length_s, length_s + 1, ... (batch_view); the batch was checked against the pool
  //! (check_batch). Reads and extends each sequence's window ring, compressor state, entries and
  //! indexer keys in `pool` (layer `l`), writes out [rows, dim]. Scratch comes from `ws`
  //! (workspace()); nothing is allocated unless an observer is given (then the batch must be one
  //! sequence, and the call runs on one thread).
  template <class Arch, executor Exec>
  [[nodiscard]] status forward(Arch arch, const float* x, const batch_view& batch, const kv_pool_view& pool, std::size_t l,
                               float* out, Exec& exec, workspace_arena& ws, const observer& obs = {},
                               std::string_view path = {}) const {
    const std::size_t N = batch.rows(), B = batch.sequences.size(), HD = heads * head_dim;
    if (N == 0) return status::ok;
    if (obs && B != 1) return status::invalid_argument;
    const auto& seqs = batch.sequences;
    workspace_arena::frame frame(ws);
    auto* pos = ws.take<std::int64_t>(N);
    auto* seq_of = ws.take<std::uint32_t>(N);
    float* q_res = ws.take<float>(N * q_rank);
    float* q = ws.take<float>(N * HD);
    float* kv = ws.take<float>(N * head_dim);
    float* o = ws.take<float>(N * HD);
    if (o == nullptr) return status::out_of_memory;
    for (std::size_t s = 0; s < B; ++s)
      for (std::size_t r = batch.cu_rows[s]; r < batch.cu_rows[s + 1]; ++r) {
        pos[r] = seqs[s].length + static_cast<std::int64_t>(r - batch.cu_rows[s]);
        seq_of[r] = static_cast<std::uint32_t>(s);
      }
    serial_executor serial;
    if (status s = q_a.apply(arch, x, N, q_res, exec, ws); s != status::ok) return s;
    cpu::rmsnorm(arch, q_res, q_res, q_a_norm.data(), N, q_rank, eps, serial);
    if (status s = q_b.apply(arch, q_res, N, q, exec, ws); s != status::ok) return s;
    cpu::rmsnorm(arch, q, q, nullptr, N * heads, head_dim, eps, serial);  // unweighted, per head
    if (status s = kv_proj.apply(arch, x, N, kv, exec, ws); s != status::ok) return s;
    cpu::rmsnorm(arch, kv, kv, kv_norm.data(), N, head_dim, eps, serial);
    for (std::size_t t = 0; t < N; ++t) {
      apply_rope(q + t * HD, heads, head_dim, inv_freq, static_cast<double>(pos[t]));
      apply_rope(kv + t * head_dim, 1, head_dim, inv_freq, static_cast<double>(pos[t]));
    }
    // This call's complete windows become entries (CSA and HCA), and indexer keys (CSA).
    const auto& lay = pool.layout->layers[l];
    if (comp) {
      if (status s = comp->update(arch, x, batch, pool, *lay.main, lay.entries, pool.layout->row_format, exec, ws); s != status::ok)
        return s;
      if (obs) {
        const std::vector<float> entries =
            gather_entries(arch, pool.entries(l, seqs[0]), pool.layout->row_format, entry_count(seqs[0], N, comp->ratio));
        obs.floats(std::string(path) + ".compressor", "out0", entries.data(),
                   {1, 1, static_cast<std::int64_t>(entries.size() / head_dim), static_cast<std::int64_t>(head_dim)});
      }
    }
    std::int64_t* selected = nullptr;
    if (index) {
      if (status s = index->keys.update(arch, x, batch, pool, *lay.index, lay.index_keys, pool.layout->key_format, exec, ws);
          s != status::ok)
        return s;
      selected = ws.take<std::int64_t>(N * index->top_k);
      if (selected == nullptr) return status::out_of_memory;
      if (status s = index->select(arch, x, q_res, batch, pos, seq_of, pool.layout->layers[l], pool, selected, exec, ws, obs, path);
          s != status::ok)
        return s;
    }
    if (obs && comp && (kind == attention_kind::csa || (N > 1 && entry_count(seqs[0], N, comp->ratio) > 0)))
      observe_block_bias(seqs[0], N, pos, selected, obs, path);
    if (status s = attend(arch, q, kv, batch, pos, seq_of, pool, l, selected, o, exec, ws, obs, path); s != status::ok) return s;
    for (std::size_t t = 0; t < N; ++t) apply_rope(o + t * HD, heads, head_dim, inv_freq, static_cast<double>(pos[t]), /*inverse=*/true);
    if (status s = project_out(arch, o, N, out, exec, ws); s != status::ok) return s;
    const std::size_t row = pool.layout->row_floats();
    for (std::size_t s = 0; s < B; ++s) {  // slide each sequence's window ring
      const auto L = static_cast<std::size_t>(seqs[s].length), n = batch.rows_of(s), end = L + n;
      float* ring = pool.ring(l, seqs[s].slot);
      for (std::size_t p = std::max(L, end > window ? end - window : 0); p < end; ++p)
        cpu::store_kv_row(arch, pool.layout->row_format, kv + (batch.cu_rows[s] + p - L) * head_dim, ring + (p % window) * row);
    }
    return status::ok;
  }

 private:
  //! Entries a sequence holds after a call that brings `n` rows.
  [[nodiscard]] static std::size_t entry_count(const sequence_ref& seq, std::size_t n, std::size_t ratio) noexcept {
    return (static_cast<std::size_t>(seq.length) + n) / ratio;
  }

  template <class Arch>
  [[nodiscard]] static std::vector<float> gather_entries(Arch arch, const kernels::paged_rows<float>& rows,
                                                         const kernels::kv_row_format& format, std::size_t count) {
    std::vector<float> all(count * format.width);
    for (std::size_t i = 0; i < count; ++i) cpu::widen_kv_row(arch, format, rows.row(i), all.data() + i * format.width);
    return all;
  }

  //! The compressed entries query t sees, ascending: the indexer's choice (CSA) or every
  //! visible entry (HCA).
  [[nodiscard]] std::vector<std::size_t> entries_seen(std::int64_t position, std::size_t entries, const std::int64_t* picks) const {
    std::vector<std::size_t> seen;
    const auto visible = std::min(entries, static_cast<std::size_t>((position + 1) / static_cast<std::int64_t>(comp->ratio)));
    if (kind == attention_kind::csa) {
      for (std::size_t j = 0; j < index->top_k; ++j)
        if (picks[j] >= 0 && static_cast<std::size_t>(picks[j]) < visible) seen.push_back(static_cast<std::size_t>(picks[j]));
      std::sort(seen.begin(), seen.end());
    } else {
      for (std::size_t i = 0; i < visible; ++i) seen.push_back(i);
    }
    return seen;
  }

  //! The peer returns a block bias (0 seen, -inf not) from CSA layers on every call, from HCA
  //! layers only for multi-token calls with entries.
  void observe_block_bias(const sequence_ref& seq, std::size_t S, const std::int64_t* pos, const std::int64_t* selected,
                          const observer& obs, std::string_view path) const {
    const std::size_t T = entry_count(seq, S, comp->ratio);
    std::vector<float> bias(S * T, -INFINITY);
    for (std::size_t t = 0; t < S; ++t)
      for (std::size_t i : entries_seen(pos[t], T, selected ? selected + t * index->top_k : nullptr)) bias[t * T + i] = 0.0f;
    obs.floats(std::string(path) + ".compressor", "out1", bias.data(),
               {1, 1, static_cast<std::int64_t>(S), static_cast<std::int64_t>(T)});
  }

  //! o[t] = the attention of query t over its window ring, this call's rows and its entries.
  template <class Arch, executor Exec>
  [[nodiscard]] status attend(Arch arch, const float* q, const float* kv, const batch_view& batch, const std::int64_t* pos,
                              const std::uint32_t* seq_of, const kv_pool_view& pool, std::size_t l,
                              const std::int64_t* selected, float* o, Exec& exec, workspace_arena& ws, const observer& obs,
                              std::string_view path) const {
    const std::size_t N = batch.rows(), B = batch.sequences.size(), HD = heads * head_dim;
    const auto& seqs = batch.sequences;
    workspace_arena::frame frame(ws);
    // Raw keys of each sequence, ascending positions: its ring's rows, then this call's.
    auto* raw_begin = ws.take<std::size_t>(B + 1);
    std::size_t raw_total = 0;
    for (std::size_t s = 0; s < B; ++s)
      raw_total += std::min<std::size_t>(static_cast<std::size_t>(seqs[s].length), window - 1) + batch.rows_of(s);
    // This call's rows as the ring will hold them, so that a key reads the same whether it came
    // in this call or an earlier one (prefill + decode equals one long prefill).
    const kernels::kv_row_format& format = pool.layout->row_format;
    const std::size_t row = format.stored_floats();
    const float* stored = kv;
    if (!format.is_fp32()) {
      float* own = ws.take<float>(N * row);
      if (own == nullptr) return status::out_of_memory;
      for (std::size_t t = 0; t < N; ++t) cpu::store_kv_row(arch, format, kv + t * head_dim, own + t * row);
      stored = own;
    }
    auto* raw_rows = ws.take<const float*>(raw_total);
    auto* raw_pos = ws.take<std::int64_t>(raw_total);
    if (raw_begin == nullptr || raw_rows == nullptr || raw_pos == nullptr) return status::out_of_memory;
    raw_begin[0] = 0;
    for (std::size_t s = 0; s < B; ++s) {
      const auto L = static_cast<std::size_t>(seqs[s].length);
      const float* ring = pool.ring(l, seqs[s].slot);
      std::size_t r = raw_begin[s];
      for (std::size_t p = L - std::min(L, window - 1); p < L; ++p, ++r) {
        raw_rows[r] = ring + (p % window) * row;
        raw_pos[r] = static_cast<std::int64_t>(p);
      }
      for (std::size_t t = batch.cu_rows[s]; t < batch.cu_rows[s + 1]; ++t, ++r) {
        raw_rows[r] = stored + t * row;
        raw_pos[r] = pos[t];
      }
      raw_begin[s + 1] = r;
    }
    const std::size_t T_most = [&] {
      std::size_t most = 0;
      for (std::size_t s = 0; s < B && comp; ++s) most = std::max(most, entry_count(seqs[s], batch.rows_of(s), comp->ratio));
      return most;
    }();
    kernels::sparse_attention_args largest{};
    largest.heads = heads;
    largest.head_dim = head_dim;
    largest.format = format;
    largest.raw_count = obs ? raw_total : window;
    largest.selected = kind == attention_kind::csa ? pos : nullptr;
    largest.entry_count = comp ? std::min(T_most, max_entries_attended(T_most * comp->ratio)) : 0;
    largest.selected_count = kind == attention_kind::csa ? index->top_k : 0;
    const std::size_t per_thread = kernels::sparse_attention_workspace(largest).bytes;
    // Heads are independent: with fewer queries than threads (a decode step), each query's heads
    // are split into `slices` jobs so no thread idles; a head's result does not depend on the
    // split. An observed call runs on one thread, whole queries.
    const auto concurrency = static_cast<std::size_t>(std::max(1, exec.concurrency()));
    const std::size_t slices = obs || N == 0 ? 1 : std::clamp<std::size_t>(concurrency / N, 1, heads), jobs = N * slices;
    const std::size_t threads = obs ? 1 : std::clamp<std::size_t>(jobs, 1, concurrency);
    auto* failed = ws.take<status>(threads);
    auto* scratch = ws.take<std::byte>(threads * per_thread);
    if (failed == nullptr || scratch == nullptr) return status::out_of_memory;
    std::vector<float> probs;  // [H, S, raw + entries], the peer's layout (observed calls only)
    std::vector<float> one_probs;
    const std::size_t T0 = comp ? entry_count(seqs[0], N, comp->ratio) : 0, all_keys = raw_total + T0;
    if (obs) {
      probs.assign(heads * N * all_keys, 0.0f);
      one_probs.resize(heads * all_keys);
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    auto run = [&](std::size_t part) {
      workspace_arena mine(std::span<std::byte>(scratch + part * per_thread, per_thread));
      for (std::size_t job = part; job < jobs; job += threads) {
        const std::size_t t = job / slices, h0 = job % slices * heads / slices, h1 = (job % slices + 1) * heads / slices;
        const std::size_t s = seq_of[t];
        const sequence_ref& seq = seqs[s];
        kernels::sparse_attention_args a{};
        a.heads = h1 - h0;
        a.head_dim = head_dim;
        a.q = q + t * HD + h0 * head_dim;
        a.position = pos[t];
        const std::size_t first = raw_begin[s];
        const std::int64_t first_pos = raw_pos[first];
        // Only the window's rows (pos - window, pos], unless an observer wants every column.
        const std::int64_t lo = obs ? first_pos : std::max(first_pos, pos[t] - static_cast<std::int64_t>(window) + 1);
        a.raw_rows = raw_rows + first + static_cast<std::size_t>(lo - first_pos);
        a.raw_positions = raw_pos + first + static_cast<std::size_t>(lo - first_pos);
        a.raw_count = obs ? raw_begin[s + 1] - first : static_cast<std::size_t>(pos[t] - lo + 1);
        a.window = window;
        if (comp) {
          a.entries = pool.entries(l, seq).as_const();
          a.entry_count = entry_count(seq, batch.rows_of(s), comp->ratio);
          a.ratio = static_cast<std::int64_t>(comp->ratio);
          if (selected != nullptr) {
            a.selected = selected + t * index->top_k;
            a.selected_count = index->top_k;
          }
        }
        a.format = format;
        a.sinks = sinks.data() + h0;
        a.scale = scale;
        a.out = o + t * HD + h0 * head_dim;
        a.probs = obs ? one_probs.data() : nullptr;
        if (status st = cpu::sparse_attention(arch, a, mine); st != status::ok) return st;
        if (obs)
          for (std::size_t h = 0; h < heads; ++h)
            std::copy_n(one_probs.data() + h * all_keys, all_keys, probs.data() + (h * N + t) * all_keys);
      }
      return status::ok;
    };
    exec.parallel_for(static_cast<std::int64_t>(threads), [&](std::int64_t b, std::int64_t e) {
      for (auto p = static_cast<std::size_t>(b); p < static_cast<std::size_t>(e); ++p) failed[p] = run(p);
    });
    for (std::size_t p = 0; p < threads; ++p)
      if (failed[p] != status::ok) return failed[p];
    if (obs)
      obs.floats(path, "out1", probs.data(),
                 {1, static_cast<std::int64_t>(heads), static_cast<std::int64_t>(N), static_cast<std::int64_t>(all_keys)});
    return status::ok;
  }

  //! Grouped low-rank output projection: z_g = W_oa[g] o_g, out = W_ob [z_0 .. z_G-1].
  template <class Arch, executor Exec>
  [[nodiscard]] status project_out(Arch arch, const float* o, std::size_t N, float* out, Exec& exec, workspace_arena& ws) const {
    const std::size_t HD = heads * head_dim, per_group = HD / groups;
    workspace_arena::frame frame(ws);
    float* og = ws.take<float>(N * per_group);
    float* zg = ws.take<float>(N * o_rank);
    float* z = ws.take<float>(N * groups * o_rank);
    if (og == nullptr || zg == nullptr || z == nullptr) return status::out_of_memory;
    for (std::size_t g = 0; g < groups; ++g) {
      for (std::size_t t = 0; t < N; ++t) std::copy_n(o + t * HD + g * per_group, per_group, og + t * per_group);
      if (status s = o_a[g].apply(arch, og, N, zg, exec, ws); s != status::ok) return s;
      for (std::size_t t = 0; t < N; ++t) std::copy_n(zg + t * o_rank, o_rank, z + t * groups * o_rank + g * o_rank);
    }
    return o_b.apply(arch, z, N, out, exec, ws);
  }
};

}  // namespace v4
VPRIM_NAMESPACE_END
