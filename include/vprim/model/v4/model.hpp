// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file model.hpp
//! The DeepSeek-V4 decoder: embeddings copied into hc_mult streams; per layer
//! [mHC collapse -> RMSNorm -> attention -> mHC expand, mHC collapse -> RMSNorm -> MoE -> mHC
//! expand]; hyper-head collapse -> RMSNorm -> LM head. A `sequence_cache` carries everything a
//! later call needs (window rings, compressor buffers and overlap halves, entries, indexer keys),
//! so any split of a sequence into calls gives the logits of one long prefill.

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <span>
#include <cstdint>
#include <string>
#include <vector>

#include "vprim/cpu/embedding.hpp"
#include "vprim/model/v4/attention.hpp"
#include "vprim/model/v4/mhc.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

//! What one sequence holds in each layer after `length` positions (for reports).
struct layer_held {
  std::size_t raw = 0, entries = 0, indexer_keys = 0;
};

//! A cache for one sequence: the B = 1 case of the engine's pool (kv_pool.hpp), with a block
//! table of its own pages and its own scratch. Pages and scratch grow when a call needs more
//! (decoder::new_cache(max_tokens) reserves them up front, so decoding then allocates nothing).
struct sequence_cache {
  std::int64_t next_position = 0;
  kv_cache_dtype dtype = kv_cache_dtype::fp32;  //!< how its pool stores KV rows
  kv_pool pool;
  std::vector<std::int32_t> block_table;
  workspace_memory scratch;
};

class decoder {
 public:
  //! One decoder layer: attention, MoE, their hyper-connections and norms.
  struct layer {
    attention_layer attn;
    moe_layer moe;
    hyper_connection attn_hc, ffn_hc;
    std::vector<float> attn_norm, ffn_norm;

    //! Bytes of weights held.
    [[nodiscard]] std::size_t resident_bytes() const noexcept {
      return attn.resident_bytes() + moe.resident_bytes() + attn_hc.resident_bytes() + ffn_hc.resident_bytes() +
             vector_bytes(attn_norm, ffn_norm);
    }
  };

  //! Layer l of `c` alone (load() reads every layer this way; a tool can read one).
  template <class Arch>
  [[nodiscard]] static result<layer> load_layer(Arch arch, const weight_source& src, const index_source& ids, const config& c,
                                                std::size_t l, const std::string& prefix = "model.") {
    const std::string p = prefix + "layers." + std::to_string(l) + ".";
    const layer_tensors lt = layer_tensors_of(c, l, prefix);
    const auto n = static_cast<std::size_t>(c.hc_mult), D = static_cast<std::size_t>(c.hidden);
    layer L;
    auto attn = attention_layer::load(arch, src, p + "self_attn.", c, c.layers[l]);
    if (!attn) return attn.err();
    L.attn = std::move(*attn);
    auto moe = moe_layer::load(arch, src, p + "mlp.", c, c.mlps[l], ids);
    if (!moe) return moe.err();
    L.moe = std::move(*moe);
    for (auto [dst, spec] : {std::pair{&L.attn_hc, &lt.attn_hc}, std::pair{&L.ffn_hc, &lt.ffn_hc}}) {
      auto h = hyper_connection::load(src, *spec, n, D);
      if (!h) return h.err();
      *dst = std::move(*h);
    }
    for (auto [dst, spec] : {std::pair{&L.attn_norm, &lt.attn_norm}, std::pair{&L.ffn_norm, &lt.ffn_norm}}) {
      auto w = src(spec->name, spec->shape);
      if (!w) return w.err();
      *dst = std::move(*w);
    }
    return result<layer>(std::move(L));
  }

  template <class Arch>
  [[nodiscard]] static result<decoder> load(Arch arch, const weight_source& src, const index_source& ids,
                                            const config& c, const std::string& prefix = "model.",
                                            const std::string& head_name = "lm_head") {
    decoder m;
    m.cfg_ = c;
    const decoder_tensors t = decoder_tensors_of(c, prefix, head_name);
    const auto n = static_cast<std::size_t>(c.hc_mult), D = static_cast<std::size_t>(c.hidden);
    for (auto [vec, spec] : {std::pair{&m.embed_, &t.embed}, std::pair{&m.norm_, &t.norm}}) {
      auto v = src(spec->name, spec->shape);
      if (!v) return v.err();
      *vec = std::move(*v);
    }
    // An embedding stored in bf16 (the release's) is held in bf16: the gather widens it exactly.
    const auto high_half = [](float x) { return static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(x) >> 16); };
    if (std::all_of(m.embed_.begin(), m.embed_.end(), [](float x) { return (std::bit_cast<std::uint32_t>(x) & 0xffffu) == 0; })) {
      m.embed_bf16_.resize(m.embed_.size());
      std::transform(m.embed_.begin(), m.embed_.end(), m.embed_bf16_.begin(), high_half);
      m.embed_ = {};
    }
    auto head = linear_layer::load(arch, src, t.head.name, t.head.out, t.head.in, false, {}, c.head_precision);
    if (!head) return head.err();
    m.lm_head_ = std::move(*head);
    auto hh = hyper_head::load(src, t.hc_head, n, D);
    if (!hh) return hh.err();
    m.hc_head_ = std::move(*hh);
    for (std::size_t l = 0; l < c.layers.size(); ++l) {
      auto L = load_layer(arch, src, ids, c, l, prefix);
      if (!L) return L.err();
      m.layers_.push_back(std::move(*L));
    }
    return result<decoder>(std::move(m));
  }

  //! A cache for one sequence, its KV rows stored as `dtype`; with `max_tokens` its pages and
  //! the scratch of single-token calls are reserved up front, so decoding up to there allocates
  //! nothing.
  [[nodiscard]] result<sequence_cache> make_cache(std::size_t max_tokens = 0, std::size_t threads = 1,
                                                  kv_cache_dtype dtype = kv_cache_dtype::fp32) const {
    sequence_cache c;
    c.dtype = dtype;
    if (auto e = grow(c, max_tokens, 1, false, threads)) return *e;
    return result<sequence_cache>(std::move(c));
  }
  [[nodiscard]] sequence_cache new_cache(std::size_t max_tokens = 0, kv_cache_dtype dtype = kv_cache_dtype::fp32) const {
    auto c = make_cache(max_tokens, 1, dtype);
    return c ? std::move(*c) : sequence_cache{};
  }

  //! The page size this decoder's caches use: 256 positions, or the least multiple of every
  //! compressed layer's ratio above it.
  [[nodiscard]] std::size_t default_page_size() const noexcept {
    std::size_t page = 1;
    for (attention_kind k : cfg_.layers)
      if (k != attention_kind::sliding) page = std::lcm(page, static_cast<std::size_t>(cfg_.ratio(k)));
    while (page < 256) page *= 2;
    return page;
  }

  //! What each layer holds for a sequence of `length` positions.
  [[nodiscard]] std::vector<layer_held> held(std::int64_t length) const {
    std::vector<layer_held> out;
    const auto n = static_cast<std::size_t>(std::max<std::int64_t>(length, 0)), window = static_cast<std::size_t>(cfg_.sliding_window);
    for (attention_kind k : cfg_.layers) {
      layer_held h;
      h.raw = std::min(n, window - 1);
      if (k != attention_kind::sliding) h.entries = n / static_cast<std::size_t>(cfg_.ratio(k));
      if (k == attention_kind::csa) h.indexer_keys = n / static_cast<std::size_t>(cfg_.csa_ratio);
      out.push_back(h);
    }
    return out;
  }

  //! Scratch of one forward_batch call within `lim`.
  [[nodiscard]] workspace_size workspace(const call_limits& lim, bool last_logits_only = false) const {
    const std::size_t N = lim.rows, D = static_cast<std::size_t>(cfg_.hidden), n = static_cast<std::size_t>(cfg_.hc_mult);
    workspace_size w;
    w.add<float>(N * n * D).add<float>(N * n).add<float>(N * n * n).add<float>(N * D).add<float>(N * D).add<float>(N * D);
    std::size_t per_layer = 0;
    for (const auto& L : layers_) {
      const std::size_t E = L.moe.experts, K = L.moe.top_k;
      const std::size_t moe = workspace_size{}.add<float>(N * E).add<float>(N * K).add<std::int64_t>(N * K)
                                  .add(L.moe.workspace(N, lim.threads)).bytes;
      per_layer = std::max({per_layer, L.attn.workspace(lim).bytes, moe});
    }
    w.add(workspace_size{per_layer});
    w.add<float>((last_logits_only ? lim.sequences : N) * D);
    w.bytes += lm_head_.scratch_bytes(last_logits_only ? lim.sequences : N);
    return w;
  }

  [[nodiscard]] const config& cfg() const noexcept { return cfg_; }

  //! Bytes of weights held, per layer and in all (embedding, head and final norms included).
  [[nodiscard]] std::size_t layer_resident_bytes(std::size_t l) const noexcept { return layers_[l].resident_bytes(); }
  [[nodiscard]] std::size_t resident_bytes() const noexcept {
    std::size_t b = vector_bytes(embed_, embed_bf16_, norm_) + lm_head_.resident_bytes() + hc_head_.resident_bytes();
    for (std::size_t l = 0; l < layers_.size(); ++l) b += layer_resident_bytes(l);
    return b;
  }

  //! Token ids -> embeddings out[S, hidden]; errors name the offending token index.
  [[nodiscard]] std::optional<error> embed_into(const std::int64_t* ids, std::size_t S, float* out) const {
    return cpu::embedding({embed_bf16_.empty() ? embed_.data() : nullptr, ids, out, S, static_cast<std::size_t>(cfg_.vocab),
                           static_cast<std::size_t>(cfg_.hidden), embed_bf16_.empty() ? nullptr : embed_bf16_.data()});
  }
  [[nodiscard]] result<std::vector<float>> embed(const std::int64_t* ids, std::size_t S) const {
    std::vector<float> out(S * static_cast<std::size_t>(cfg_.hidden));
    if (auto e = embed_into(ids, S, out.data())) return *e;
    return out;
  }

  //! One call over a batch of sequences (the engine's API): embeddings [rows, hidden] are the
  //! layer inputs of every sequence's rows (batch_view), `ids` feed the routers (the hash
  //! layers' tables, and `bias_vl` for image-block ids, see moe.hpp). logits get [rows, vocab],
  //! or with last_logits_only [sequences, vocab] (each sequence's last row). The batch is
  //! checked against the pool first (check_batch: the error names the sequence and block);
  //! scratch comes from `ws` (workspace()), and a call within its limits allocates nothing.
  //! Non-finite embeddings are refused, naming the row.
  template <class Arch, executor Exec>
  [[nodiscard]] std::optional<error> forward_batch(Arch arch, const float* embeddings, const std::int64_t* ids, const batch_view& batch,
                                           const kv_pool_view& pool, float* logits, Exec& exec, workspace_arena& ws,
                                           bool last_logits_only = false, const observer& obs = {}) const {
    if (pool.layout == nullptr || pool.memory == nullptr || pool.layout->layers.size() != layers_.size())
      return make_error(status::invalid_argument, "forward_batch: the pool was not laid out for this decoder");
    if (auto e = check_batch(*pool.layout, batch)) return e;
    const std::size_t S = batch.rows(), B = batch.sequences.size();
    if (S == 0) return std::nullopt;
    if (embeddings == nullptr || logits == nullptr) return make_error(status::invalid_argument, "forward_batch: null embeddings or logits");
    const auto D = static_cast<std::size_t>(cfg_.hidden), n = static_cast<std::size_t>(cfg_.hc_mult);
    for (std::size_t i = 0; i < S * D; ++i)
      if (!std::isfinite(embeddings[i]))
        return make_error(status::non_finite, "embedding of row " + std::to_string(i / D) + " has a non-finite value", i / D);
    auto failed = [&](status s, const char* step, std::size_t l) -> std::optional<error> {
      std::string what = std::string(step) + " of layer " + std::to_string(l) + " failed";
      if (s == status::out_of_memory && ws.exhausted())
        what += ": the workspace is " + std::to_string(ws.short_by()) + " bytes short (size it with decoder::workspace)";
      return make_error(s, what);
    };
    workspace_arena::frame frame(ws);
    float* X = ws.take<float>(S * n * D);
    float* post = ws.take<float>(S * n);
    float* comb = ws.take<float>(S * n * n);
    float* collapsed = ws.take<float>(S * D);
    float* normed = ws.take<float>(S * D);
    float* f = ws.take<float>(S * D);
    if (f == nullptr) return failed(status::out_of_memory, "the residual streams", 0);
    for (std::size_t t = 0; t < S; ++t)
      for (std::size_t k = 0; k < n; ++k) std::copy_n(embeddings + t * D, D, X + (t * n + k) * D);
    serial_executor serial;
    const auto s64 = static_cast<std::int64_t>(S), n64 = static_cast<std::int64_t>(n), d64 = static_cast<std::int64_t>(D);
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const layer& L = layers_[l];
      const std::string path = obs || obs.ties ? "layers." + std::to_string(l) : std::string();  // names cost allocations
      for (int sub = 0; sub < 2; ++sub) {
        const hyper_connection& hc = sub == 0 ? L.attn_hc : L.ffn_hc;
        if (status s = hc.compute(X, S, cfg_.norm_eps, cfg_.hc_eps, cfg_.hc_sinkhorn_iters, post, comb, collapsed); s != status::ok)
          return failed(s, "a hyper-connection", l);
        if (obs) {
          const std::string hc_path = path + (sub == 0 ? ".attn_hc" : ".ffn_hc");
          obs.floats(hc_path, "out0", post, {1, s64, n64});
          obs.floats(hc_path, "out1", comb, {1, s64, n64, n64});
          obs.floats(hc_path, "out2", collapsed, {1, s64, d64});
        }
        cpu::rmsnorm(arch, collapsed, normed, (sub == 0 ? L.attn_norm : L.ffn_norm).data(), S, D, cfg_.norm_eps, serial);
        if (sub == 0) {
          if (status s = L.attn.forward(arch, normed, batch, pool, l, f, exec, ws, obs, path + ".self_attn"); s != status::ok)
            return failed(s, "attention", l);
          if (obs) obs.floats(path + ".self_attn", "out0", f, {1, s64, d64});
        } else {
          workspace_arena::frame moe_frame(ws);
          float* router_logits = ws.take<float>(S * L.moe.experts);
          float* weights = ws.take<float>(S * L.moe.top_k);
          auto* experts = ws.take<std::int64_t>(S * L.moe.top_k);
          if (experts == nullptr) return failed(status::out_of_memory, "routing", l);
          if (status s = L.moe.route(arch, normed, S, ids, router_logits, weights, experts, exec, ws); s != status::ok)
            return failed(s, "routing", l);
          if (obs) {
            const auto E = static_cast<std::int64_t>(L.moe.experts), K = static_cast<std::int64_t>(L.moe.top_k);
            obs.floats(path + ".mlp.gate", "out0", router_logits, {s64, E});
            obs.floats(path + ".mlp.gate", "out1", weights, {s64, K});
            obs.indices(path + ".mlp.gate", "out2", experts, {s64, K});
          }
          if (status s = L.moe.apply(arch, normed, S, weights, experts, f, exec, ws); s != status::ok)
            return failed(s, "the experts", l);
          if (obs) obs.floats(path + ".mlp", "out0", f, {1, s64, d64});
        }
        if (status s = hc.expand(X, S, f, post, comb); s != status::ok) return failed(s, "a hyper-connection", l);
      }
    }
    if (status s = hc_head_.collapse(X, S, cfg_.norm_eps, cfg_.hc_eps, collapsed); s != status::ok)
      return failed(s, "the hyper head", layers_.size());
    if (obs) obs.floats("hc_head", "out0", collapsed, {1, s64, d64});
    cpu::rmsnorm(arch, collapsed, normed, norm_.data(), S, D, cfg_.norm_eps, serial);
    const float* head_in = normed;
    std::size_t rows = S;
    if (last_logits_only) {
      float* last = ws.take<float>(B * D);
      if (last == nullptr) return failed(status::out_of_memory, "the head", layers_.size());
      for (std::size_t s = 0; s < B; ++s)
        if (batch.rows_of(s) > 0) std::copy_n(normed + (batch.cu_rows[s + 1] - 1) * D, D, last + s * D);
        else std::fill_n(last + s * D, D, 0.0f);
      head_in = last;
      rows = B;
    }
    if (status s = lm_head_.apply(arch, head_in, rows, logits, exec, ws); s != status::ok) return failed(s, "the head", layers_.size());
    return std::nullopt;
  }

  //! One call: S tokens continuing `cache` (the B = 1 case of forward_batch). `embeddings`
  //! [S, hidden] are the layer inputs (from embed(), or with image features spliced in); `ids`
  //! feed the routers. logits [S, vocab]. With `first_position` >= 0 the call states where it
  //! starts; a call that does not continue the cache (e.g. a decode at position 5 on an empty
  //! cache) is refused with out_of_range. Non-finite embeddings are refused with non_finite.
  //! With `last_logits_only` the head runs on the last position alone and logits is [1, vocab].
  template <class Arch, executor Exec>
  [[nodiscard]] status forward(Arch arch, const float* embeddings, const std::int64_t* ids, std::size_t S,
                               sequence_cache& cache, std::vector<float>& logits, Exec& exec, const observer& obs = {},
                               std::int64_t first_position = -1, bool last_logits_only = false) const {
    if (S == 0 || embeddings == nullptr) return status::invalid_argument;
    if (first_position >= 0 && first_position != cache.next_position) return status::out_of_range;
    for (std::size_t i = 0; i < S * static_cast<std::size_t>(cfg_.hidden); ++i)  // before grow(): a refused call
      if (!std::isfinite(embeddings[i])) return status::non_finite;               // leaves the cache as it was
    if (auto e = grow(cache, static_cast<std::size_t>(cache.next_position) + S, S, static_cast<bool>(obs),
                      static_cast<std::size_t>(std::max(1, exec.concurrency()))))
      return e->code;
    const sequence_ref seq{cache.next_position, 0, cache.block_table.data(), cache.block_table.size()};
    const std::size_t cu[2] = {0, S};
    const batch_view batch{std::span<const sequence_ref>(&seq, 1), std::span<const std::size_t>(cu, 2)};
    const std::size_t rows = last_logits_only ? 1 : S;
    if (logits.size() != rows * static_cast<std::size_t>(cfg_.vocab)) logits.resize(rows * static_cast<std::size_t>(cfg_.vocab));
    workspace_arena ws(cache.scratch);
    if (auto e = forward_batch(arch, embeddings, ids, batch, cache.pool.view(), logits.data(), exec, ws, last_logits_only, obs))
      return e->code;
    cache.next_position += static_cast<std::int64_t>(S);
    return status::ok;
  }

 private:
  //! Makes `c` hold `tokens` positions and the scratch of a call of `rows` rows: more pages
  //! (the old ones kept, block table 0, 1, 2, ...) and more scratch, only when short.
  [[nodiscard]] std::optional<error> grow(sequence_cache& c, std::size_t tokens, std::size_t rows, bool observed = false,
                                          std::size_t threads = 1) const {
    const std::size_t page = default_page_size();
    const std::size_t pages = std::max<std::size_t>((tokens + page - 1) / page, 1);
    if (c.pool.layout().layers.empty() || c.pool.layout().pages < pages) {
      const std::size_t old_floats = c.pool.layout().layers.empty() ? 0 : c.pool.layout().floats();
      auto layout = kv_pool_layout::make(cfg_, page, std::max(pages, 2 * c.pool.layout().pages), 1, c.dtype);
      if (!layout) return layout.err();
      auto pool = kv_pool::allocate(std::move(*layout));
      if (!pool) return pool.err();
      if (old_floats > 0) std::copy_n(c.pool.view().memory, old_floats, pool->view().memory);  // slot, then pages 0..
      c.pool = std::move(*pool);
      c.block_table.resize(c.pool.layout().pages);
      std::iota(c.block_table.begin(), c.block_table.end(), 0);
    }
    call_limits lim{rows, 1, std::max<std::size_t>(tokens, 1), threads, observed, c.dtype};
    const std::size_t bytes = workspace(lim).bytes;
    if (c.scratch.size() < bytes) c.scratch.resize(bytes);
    return std::nullopt;
  }

  config cfg_;
  std::vector<float> embed_, norm_;
  std::vector<std::uint16_t> embed_bf16_;  //!< the embedding when every value is a bf16 (embed_ then empty)
  linear_layer lm_head_;
  hyper_head hc_head_;
  std::vector<layer> layers_;
};

}  // namespace v4
VPRIM_NAMESPACE_END
