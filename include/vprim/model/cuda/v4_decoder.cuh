// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file v4_decoder.cuh
//! The DeepSeek-V4 decoder on the GPU in fp32, the contract of v4::decoder::forward
//! (model/v4/model.hpp) assembled from this directory's kernels:
//!   embeddings -> hc_mult streams; per layer [mHC collapse -> RMSNorm -> attention -> mHC
//!   expand, mHC collapse -> RMSNorm -> MoE -> mHC expand]; hyper head -> RMSNorm -> LM head.
//! Attention: low-rank query with per-head RMSNorm, the shared K = V head, interleaved partial
//! RoPE, the compressor's streaming update, the indexer's scores and top-k (CSA), sparse
//! attention over window + entries with sinks, the inverse RoPE, the grouped output projection.
//! MoE: router, fp32 grouped experts with the clamped SwiGLU, the shared expert added on top.
//! Weights live on the device for the decoder's lifetime; a v4_decoder::cache holds what later
//! calls need (window rows, compressor buffers, entries, indexer keys); per-call activations
//! live in the caller's workspace (two-phase). Any split of a sequence into calls gives the
//! logits of one prefill, as on the CPU.

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "vprim/cuda/activation.cuh"
#include "vprim/cuda/compressor.cuh"
#include "vprim/model/cuda/device_weights.cuh"
#include "vprim/cuda/embedding.cuh"
#include "vprim/cuda/gemm.cuh"
#include "vprim/cuda/indexer.cuh"
#include "vprim/cuda/mhc.cuh"
#include "vprim/cuda/moe.cuh"
#include "vprim/cuda/norm.cuh"
#include "vprim/cuda/rope.cuh"
#include "vprim/cuda/router.cuh"
#include "vprim/cuda/sparse_attention.cuh"
#include "vprim/cuda/topk.cuh"
#include "vprim/model/v4/config.hpp"
#include "vprim/model/v4/rope.hpp"
#include "vprim/model/v4/tensor_table.hpp"
#include "vprim/model/weights.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

//! Named intermediate results on the device, in the CPU observer's names and shapes
//! (v4::observer), for checking against a peer; called in stream order (synchronise before
//! reading). Leave empty in production.
struct v4_device_observer {
  std::function<status(std::string_view path, std::string_view slot, const float* data, std::vector<std::int64_t> shape)> floats;
  std::function<status(std::string_view path, std::string_view slot, const std::int64_t* data, std::vector<std::int64_t> shape)>
      indices;
  explicit operator bool() const noexcept { return static_cast<bool>(floats) && static_cast<bool>(indices); }
};

//! What a call reads besides the token ids, and which logits it writes.
struct v4_forward_options {
  //! Image features [feature_count, hidden] (device) written over the embeddings of the call's
  //! tokens at `feature_rows` [feature_count] (host, each below S): a prompt's placeholders.
  //! The ids are still checked and still route the hash layers.
  const float* features = nullptr;
  const std::size_t* feature_rows = nullptr;
  std::size_t feature_count = 0;
  //! Logits [1, vocab] of the last token only (a prefill before generation), not [S, vocab].
  bool last_logits_only = false;
};

class v4_decoder {
  using buffer = device_buffer<float>;
  struct linear {
    buffer w;  //!< [n, k]
    std::size_t n = 0, k = 0;
  };
  struct compressor {
    linear kv, gate;
    buffer position_bias, norm_w, inv_freq;
    std::size_t ratio = 0, width = 0;
    bool overlap = false;
    [[nodiscard]] std::size_t proj() const noexcept { return overlap ? 2 * width : width; }
  };
  struct layer {
    v4::attention_kind kind = v4::attention_kind::sliding;
    linear q_a, q_b, kv, o_a, o_b;  // o_a: the groups' [o_rank, per_group] blocks stacked
    buffer q_a_norm, kv_norm, sinks, inv_freq;
    compressor comp, index_keys;
    linear index_q, index_w;  // index_w pre-scaled by d^-1/2 H^-1/2, as the CPU folds it
    bool hash = false;
    linear router, shared_gate_up, shared_down;
    buffer selection_bias, gate_up, down;  // experts stacked [E, 2I, D], [E, D, I]
    buffer vision_bias;                    // `bias_vl` [E] (Vision-Exp), empty when text-only
    device_buffer<std::int64_t> tid2eid;
    buffer attn_fn, attn_base, attn_scale, ffn_fn, ffn_base, ffn_scale, attn_norm, ffn_norm;
  };

 public:
  //! Per-sequence state on the device, sized for `max_tokens` tokens.
  struct cache {
    struct stream_buffers {
      buffer buffer_kv, buffer_gate, overlap_kv, overlap_gate, entries;
      compressor_stream state;
    };
    struct per_layer {
      buffer window;  //!< [window - 1, head_dim]: the raw kv of the last positions, oldest first
      std::size_t window_rows = 0;
      stream_buffers main, index;
    };
    std::vector<per_layer> layers;
    std::int64_t next_position = 0;
    std::size_t max_tokens = 0;
  };

  //! The decoder from a weight source and the hash routers' tables, with the CPU decoder's
  //! names (prefix "model.", head "lm_head").
  [[nodiscard]] static result<v4_decoder> load(const weight_source& src, const v4::index_source& ids, const v4::config& c, const std::string& prefix = "model.",
                                               const std::string& head_name = "lm_head") {
    v4_decoder m;
    m.cfg_ = c;
    auto get = [&](buffer& out, const std::string& name, std::vector<index_t> shape) -> std::optional<error> {
      auto d = load_weight(src, name, shape);
      if (!d) return d.err();
      out = std::move(*d);
      return std::nullopt;
    };
    auto lin = [&](linear& out, const std::string& name, index_t rows, index_t cols) {
      out.n = static_cast<std::size_t>(rows);
      out.k = static_cast<std::size_t>(cols);
      return get(out.w, name + ".weight", {rows, cols});
    };
    const v4::decoder_tensors t = v4::decoder_tensors_of(c, prefix, head_name);
    auto lin_spec = [&](linear& out, const linear_spec& spec) { return lin(out, spec.name, spec.out, spec.in); };
    auto get_spec = [&](buffer& out, const tensor_spec& spec) { return get(out, spec.name, spec.shape); };
    if (auto e = get_spec(m.embed_, t.embed)) return *e;
    if (auto e = get_spec(m.norm_, t.norm)) return *e;
    if (auto e = lin_spec(m.head_, t.head)) return *e;
    if (auto e = get_spec(m.head_fn_, t.hc_head.fn)) return *e;
    if (auto e = get_spec(m.head_base_, t.hc_head.base)) return *e;
    if (auto e = get_spec(m.head_scale_, t.hc_head.scale)) return *e;
    for (std::size_t l = 0; l < c.layers.size(); ++l) {
      const v4::layer_tensors lt = v4::layer_tensors_of(c, l, prefix);
      const v4::attention_tensors& at = lt.attn;
      const v4::moe_tensors& mt = lt.mlp;
      layer L;
      L.kind = c.layers[l];
      if (auto e = lin_spec(L.q_a, at.q_a)) return *e;
      if (auto e = lin_spec(L.q_b, at.q_b)) return *e;
      if (auto e = lin_spec(L.kv, at.kv)) return *e;
      if (auto e = lin_spec(L.o_a, at.o_a)) return *e;
      if (auto e = lin_spec(L.o_b, at.o_b)) return *e;
      if (auto e = get_spec(L.q_a_norm, at.q_a_norm)) return *e;
      if (auto e = get_spec(L.kv_norm, at.kv_norm)) return *e;
      if (auto e = get_spec(L.sinks, at.sinks)) return *e;
      const bool sliding = L.kind == v4::attention_kind::sliding;
      auto freq = buffer::upload(v4::rope_inv_freq(sliding ? c.main_rope : c.compress_rope, c.rope_dim), at.q_a.name + " rope");
      if (!freq) return freq.err();
      L.inv_freq = std::move(*freq);
      auto load_compressor = [&](compressor& k, const v4::compressor_tensors& ct) -> std::optional<error> {
        k.ratio = ct.ratio;
        k.width = ct.width;
        k.overlap = ct.overlap;
        if (auto e = lin_spec(k.kv, ct.kv)) return e;
        if (auto e = lin_spec(k.gate, ct.gate)) return e;
        if (auto e = get_spec(k.position_bias, ct.position_bias)) return e;
        if (auto e = get_spec(k.norm_w, ct.norm)) return e;
        auto fr = buffer::upload(v4::rope_inv_freq(c.compress_rope, c.rope_dim), ct.kv.name + " rope");
        if (!fr) return fr.err();
        k.inv_freq = std::move(*fr);
        return std::nullopt;
      };
      if (at.compressor)
        if (auto e = load_compressor(L.comp, *at.compressor)) return *e;
      if (at.indexer) {
        if (auto e = load_compressor(L.index_keys, at.indexer->keys)) return *e;
        if (auto e = lin_spec(L.index_q, at.indexer->q)) return *e;
        const auto& ws = at.indexer->weights;
        auto w = src(ws.weight(), {ws.out, ws.in});
        if (!w) return w.err();
        const float fold = (1.0f / std::sqrt(static_cast<float>(c.index_head_dim))) * (1.0f / std::sqrt(static_cast<float>(ws.out)));
        for (auto& v : *w) v *= fold;
        auto dw = buffer::upload(*w, ws.weight());
        if (!dw) return dw.err();
        L.index_w = {std::move(*dw), static_cast<std::size_t>(ws.out), static_cast<std::size_t>(ws.in)};
      }
      // MoE
      L.hash = c.mlps[l] == v4::mlp_kind::hash_moe;
      if (auto e = lin_spec(L.router, mt.router)) return *e;
      if (L.hash) {
        auto h = v4::read_hash_table(ids, mt.hash_table, c);
        if (!h) return h.err();
        auto dt = device_buffer<std::int64_t>::upload(*h, mt.hash_table);
        if (!dt) return dt.err();
        L.tid2eid = std::move(*dt);
      } else if (auto e = get_spec(L.selection_bias, mt.selection_bias)) {
        return *e;
      }
      if (auto e = get_spec(L.vision_bias, mt.vision_bias); e && e->code != status::not_found) return *e;
      std::vector<float> gate_up, down;
      for (index_t e = 0; e < static_cast<index_t>(c.routed_experts); ++e) {
        auto gu = src(slice_name(mt.experts_gate_up, e), mt.expert_gate_up_shape);
        if (!gu) return gu.err();
        gate_up.insert(gate_up.end(), gu->begin(), gu->end());
        auto dn = src(slice_name(mt.experts_down, e), mt.expert_down_shape);
        if (!dn) return dn.err();
        down.insert(down.end(), dn->begin(), dn->end());
      }
      auto dgu = buffer::upload(gate_up, mt.experts_gate_up);
      if (!dgu) return dgu.err();
      auto ddn = buffer::upload(down, mt.experts_down);
      if (!ddn) return ddn.err();
      L.gate_up = std::move(*dgu);
      L.down = std::move(*ddn);
      auto sg = src(mt.shared_gate.weight(), {mt.shared_gate.out, mt.shared_gate.in});
      if (!sg) return sg.err();
      auto su = src(mt.shared_up.weight(), {mt.shared_up.out, mt.shared_up.in});
      if (!su) return su.err();
      sg->insert(sg->end(), su->begin(), su->end());  // one GEMM: rows [gate | up]
      auto dsgu = buffer::upload(*sg, mt.shared_gate.name + " | up");
      if (!dsgu) return dsgu.err();
      L.shared_gate_up = {std::move(*dsgu), static_cast<std::size_t>(2 * mt.shared_gate.out), static_cast<std::size_t>(mt.shared_gate.in)};
      if (auto e = lin_spec(L.shared_down, mt.shared_down)) return *e;
      // hyper-connections and norms
      for (auto [fn, base, scale, spec] : {std::tuple{&L.attn_fn, &L.attn_base, &L.attn_scale, &lt.attn_hc},
                                           std::tuple{&L.ffn_fn, &L.ffn_base, &L.ffn_scale, &lt.ffn_hc}}) {
        if (auto e = get_spec(*fn, spec->fn)) return *e;
        if (auto e = get_spec(*base, spec->base)) return *e;
        if (auto e = get_spec(*scale, spec->scale)) return *e;
      }
      if (auto e = get_spec(L.attn_norm, lt.attn_norm)) return *e;
      if (auto e = get_spec(L.ffn_norm, lt.ffn_norm)) return *e;
      m.layers_.push_back(std::move(L));
    }
    return result<v4_decoder>(std::move(m));
  }

  //! A cache for one sequence of up to `max_tokens` tokens (the entries are sized for it).
  [[nodiscard]] result<cache> new_cache(std::size_t max_tokens) const {
    cache c;
    c.max_tokens = max_tokens;
    const std::size_t hd = static_cast<std::size_t>(cfg_.head_dim), W = static_cast<std::size_t>(cfg_.sliding_window);
    for (const layer& L : layers_) {
      cache::per_layer pl;
      auto win = buffer::zeros(W * hd, "the window rows");
      if (!win) return win.err();
      pl.window = std::move(*win);
      auto make = [&](const compressor& k, cache::stream_buffers& sb) -> std::optional<error> {
        const std::size_t P = k.proj(), cap = max_tokens / k.ratio;
        for (auto [b, count] : {std::pair{&sb.buffer_kv, k.ratio * P}, {&sb.buffer_gate, k.ratio * P},
                                {&sb.overlap_kv, k.ratio * k.width}, {&sb.overlap_gate, k.ratio * k.width},
                                {&sb.entries, cap * k.width}}) {
          auto d = buffer::zeros(count, "compressor state");
          if (!d) return d.err();
          *b = std::move(*d);
        }
        sb.state = {sb.buffer_kv.data(), sb.buffer_gate.data(), sb.overlap_kv.data(), sb.overlap_gate.data(), sb.entries.data(), cap};
        return std::nullopt;
      };
      if (L.kind != v4::attention_kind::sliding)
        if (auto e = make(L.comp, pl.main)) return *e;
      if (L.kind == v4::attention_kind::csa)
        if (auto e = make(L.index_keys, pl.index)) return *e;
      c.layers.push_back(std::move(pl));
    }
    return result<cache>(std::move(c));
  }

  //! One call: tokens `ids` (host) continuing `c`; logits [S, vocab] (device) on `stream`.
  //! Two-phase workspace; the query depends on S and on the cache's capacity (a workspace
  //! sized for S tokens serves any shorter call). Errors: a bad token id (named, from
  //! embedding_check), a call past the cache's max_tokens (out_of_range).
  [[nodiscard]] result<bool> forward(const std::int64_t* ids, std::size_t S, cache& c, float* logits, workspace& ws,
                                     cudaStream_t stream, const v4_device_observer& obs = {},
                                     const v4_forward_options& opt = {}) const {
    const auto D = static_cast<std::size_t>(cfg_.hidden), n = static_cast<std::size_t>(cfg_.hc_mult),
               H = static_cast<std::size_t>(cfg_.heads), hd = static_cast<std::size_t>(cfg_.head_dim),
               W = static_cast<std::size_t>(cfg_.sliding_window), E = static_cast<std::size_t>(cfg_.routed_experts),
               K = static_cast<std::size_t>(cfg_.top_k), I = static_cast<std::size_t>(cfg_.moe_intermediate),
               SI = I * static_cast<std::size_t>(std::max(1, cfg_.shared_experts)), R = static_cast<std::size_t>(cfg_.q_lora_rank),
               G = static_cast<std::size_t>(cfg_.o_groups), OR = static_cast<std::size_t>(cfg_.o_lora_rank),
               IH = static_cast<std::size_t>(cfg_.index_heads), ihd = static_cast<std::size_t>(cfg_.index_head_dim),
               V = static_cast<std::size_t>(cfg_.vocab), P = 2 * std::max(hd, ihd);
    const std::size_t index_cap = c.max_tokens / static_cast<std::size_t>(std::max(1, cfg_.csa_ratio));
    detail::carve cv(ws);
    auto* ids_dev = cv.take<std::int64_t>(S);
    auto* feature_rows = cv.take<std::int64_t>(opt.feature_count);
    auto* pos_dev = cv.take<std::int64_t>(S);
    auto* raw_pos = cv.take<std::int64_t>(W + S);
    auto* visible = cv.take<std::int32_t>(S);
    float* X = cv.take<float>(S * n * D);
    float* post = cv.take<float>(S * n);
    float* comb = cv.take<float>(S * n * n);
    float* collapsed = cv.take<float>(S * D);
    float* normed = cv.take<float>(S * D);
    float* f = cv.take<float>(S * D);
    float* q_res = cv.take<float>(S * R);
    float* q = cv.take<float>(S * H * hd);
    float* raw = cv.take<float>((W + S) * hd);
    float* o = cv.take<float>(S * H * hd);
    float* z = cv.take<float>(S * G * OR);
    float* proj_kv = cv.take<float>(S * P);
    float* proj_gate = cv.take<float>(S * P);
    float* iq = cv.take<float>(S * IH * ihd);
    float* iw = cv.take<float>(S * IH);
    float* scores = cv.take<float>(S * std::max<std::size_t>(index_cap, 1));
    auto* selected = cv.take<std::int64_t>(S * static_cast<std::size_t>(std::max(1, cfg_.index_topk)));  // [S, k]
    float* router_logits = cv.take<float>(S * E);
    float* route_w = cv.take<float>(S * K);
    auto* route_idx = cv.take<std::int64_t>(S * K);
    float* shared_h = cv.take<float>(S * 2 * SI);
    float* shared_act = cv.take<float>(S * SI);
    // With an observer: the block bias and the attention weights it reports.
    const std::size_t entry_cap = c.max_tokens / static_cast<std::size_t>(std::max(1, std::min(cfg_.csa_ratio, cfg_.hca_ratio)));
    float* bias = obs ? cv.take<float>(S * entry_cap) : nullptr;
    float* probs = obs ? cv.take<float>(H * S * (W + S + entry_cap)) : nullptr;
    workspace embed_ws, topk_ws, moe_ws, attn_ws;
    (void)embedding_gather({}, embed_ws, stream);
    sparse_attention_args attn_shape{};
    attn_shape.queries = S;
    attn_shape.heads = H;
    attn_shape.head_dim = hd;
    (void)sparse_attention(attn_shape, attn_ws, stream);
    const auto index_k = static_cast<std::size_t>(std::max(1, cfg_.index_topk));
    (void)topk({nullptr, nullptr, nullptr, S, std::max<std::size_t>(index_cap, 1), index_k}, topk_ws, stream);
    moe_experts_f32_args me{};
    me.tokens = S;
    me.top_k = K;
    me.experts = E;
    me.dim = D;
    me.inter = I;
    if (const status s = moe_experts(me, moe_ws, stream); s != status::ok) return make_error(s, "v4_decoder: MoE workspace");
    embed_ws.ptr = cv.take_bytes(embed_ws.bytes);
    topk_ws.ptr = cv.take_bytes(topk_ws.bytes);
    moe_ws.ptr = cv.take_bytes(moe_ws.bytes);
    attn_ws.ptr = cv.take_bytes(attn_ws.bytes);
    if (cv.query()) {
      ws.bytes = cv.need();
      return true;
    }
    if (!cv.fits()) return make_error(status::invalid_argument, "v4_decoder: the workspace is smaller than its query said");
    if (S == 0 || ids == nullptr || logits == nullptr) return make_error(status::invalid_argument, "v4_decoder: no tokens");
    if (opt.feature_count > 0 && (opt.features == nullptr || opt.feature_rows == nullptr))
      return make_error(status::invalid_argument, "v4_decoder: image features without their data or rows");
    if (c.layers.size() != layers_.size()) return make_error(status::invalid_argument, "v4_decoder: a cache of another model");
    if (static_cast<std::size_t>(c.next_position) + S > c.max_tokens)
      return make_error(status::out_of_range, "v4_decoder: the call runs past the cache's " + std::to_string(c.max_tokens) + " tokens");
    auto fail = [](status s, const char* where) { return make_error(s, std::string("v4_decoder: ") + where); };
    auto copy = [&](void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
      return to_status(cudaMemcpyAsync(dst, src, bytes, kind, stream));
    };
    std::vector<std::int64_t> pos(S);
    for (std::size_t t = 0; t < S; ++t) pos[t] = c.next_position + static_cast<std::int64_t>(t);
    if (status s = copy(ids_dev, ids, S * sizeof(std::int64_t), cudaMemcpyHostToDevice); s != status::ok) return fail(s, "ids");
    if (status s = copy(pos_dev, pos.data(), S * sizeof(std::int64_t), cudaMemcpyHostToDevice); s != status::ok) return fail(s, "positions");
    // Embeddings, copied into every stream.
    const embedding_args emb{embed_.data(), ids_dev, f, S, static_cast<std::size_t>(cfg_.vocab), D};
    if (status s = embedding_gather(emb, embed_ws, stream); s != status::ok) return fail(s, "embedding");
    if (auto ok = embedding_check(emb, embed_ws, stream); !ok) return ok.err();
    if (opt.feature_count > 0) {
      std::vector<std::int64_t> rows(opt.feature_count);
      for (std::size_t i = 0; i < rows.size(); ++i) {
        if (opt.feature_rows[i] >= S)
          return make_error(status::out_of_range, "v4_decoder: image feature " + std::to_string(i) + " goes to token index " +
                                                      std::to_string(opt.feature_rows[i]) + " of a " + std::to_string(S) + "-token call");
        rows[i] = static_cast<std::int64_t>(opt.feature_rows[i]);
      }
      if (status s = copy(feature_rows, rows.data(), rows.size() * sizeof(std::int64_t), cudaMemcpyHostToDevice); s != status::ok)
        return fail(s, "feature rows");
      if (status s = scatter_rows({opt.features, feature_rows, f, opt.feature_count, D}, stream); s != status::ok)
        return fail(s, "image features");
    }
    for (std::size_t k = 0; k < n; ++k)
      if (cudaError_t e = cudaMemcpy2DAsync(X + k * D, n * D * sizeof(float), f, D * sizeof(float), D * sizeof(float), S,
                                            cudaMemcpyDeviceToDevice, stream);
          e != cudaSuccess)
        return to_error(e, "v4_decoder: streams");
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const layer& L = layers_[l];
      cache::per_layer& lc = c.layers[l];
      for (int sub = 0; sub < 2; ++sub) {
        hc_args hc{X, sub == 0 ? L.attn_fn.data() : L.ffn_fn.data(), sub == 0 ? L.attn_base.data() : L.ffn_base.data(),
                   sub == 0 ? L.attn_scale.data() : L.ffn_scale.data(), post, comb, collapsed, S, n, D, cfg_.norm_eps, cfg_.hc_eps,
                   cfg_.hc_sinkhorn_iters};
        if (status s = hc_compute(hc, stream); s != status::ok) return fail(s, "hyper-connection");
        const std::string path = "layers." + std::to_string(l), hc_path = path + (sub == 0 ? ".attn_hc" : ".ffn_hc");
        const auto s64 = static_cast<std::int64_t>(S), n64 = static_cast<std::int64_t>(n), d64 = static_cast<std::int64_t>(D);
        if (obs) {
          status s = obs.floats(hc_path, "out0", post, {1, s64, n64});
          if (s == status::ok) s = obs.floats(hc_path, "out1", comb, {1, s64, n64, n64});
          if (s == status::ok) s = obs.floats(hc_path, "out2", collapsed, {1, s64, d64});
          if (s != status::ok) return fail(s, "observer");
        }
        if (status s = rmsnorm({collapsed, normed, (sub == 0 ? L.attn_norm : L.ffn_norm).data(), nullptr, S, D, cfg_.norm_eps}, stream);
            s != status::ok)
          return fail(s, "norm");
        const scratch w{q_res, q, raw, raw_pos, o, z, proj_kv, proj_gate, iq, iw, scores, selected, visible, &topk_ws, &attn_ws, bias, probs};
        status s = sub == 0 ? attention(L, lc, S, pos, pos_dev, normed, f, w, stream, obs, path + ".self_attn")
                            : moe(L, S, ids_dev, normed, f, router_logits, route_w, route_idx, shared_h, shared_act, moe_ws, stream,
                                  obs, path + ".mlp");
        if (s == status::ok && obs) s = obs.floats(path + (sub == 0 ? ".self_attn" : ".mlp"), "out0", f, {1, s64, d64});
        if (s != status::ok) return fail(s, sub == 0 ? "attention" : "MoE");
        if (status e = hc_expand(X, f, post, comb, S, n, D, stream); e != status::ok) return fail(e, "hyper-connection expand");
      }
    }
    hc_args head{X, head_fn_.data(), head_base_.data(), head_scale_.data(), nullptr, nullptr, collapsed, S, n, D, cfg_.norm_eps,
                 cfg_.hc_eps, 1};
    if (status s = hc_head_collapse(head, stream); s != status::ok) return fail(s, "hyper head");
    if (obs)
      if (status s = obs.floats("hc_head", "out0", collapsed, {1, static_cast<std::int64_t>(S), static_cast<std::int64_t>(D)});
          s != status::ok)
        return fail(s, "observer");
    if (status s = rmsnorm({collapsed, normed, norm_.data(), nullptr, S, D, cfg_.norm_eps}, stream); s != status::ok)
      return fail(s, "final norm");
    const std::size_t head_rows = opt.last_logits_only ? 1 : S;
    if (status s = run_linear(head_, normed + (S - head_rows) * D, D, head_rows, logits, V, false, stream); s != status::ok)
      return fail(s, "LM head");
    c.next_position += static_cast<std::int64_t>(S);
    return true;
  }

  [[nodiscard]] const v4::config& config() const noexcept { return cfg_; }

 private:
  struct scratch {
    float *q_res, *q, *raw;
    std::int64_t* raw_pos;
    float *o, *z, *proj_kv, *proj_gate, *iq, *iw, *scores;
    std::int64_t* selected;
    std::int32_t* visible;
    workspace *topk_ws, *attn_ws;
    float *bias, *probs;  // observer only
  };

  [[nodiscard]] status run_linear(const linear& l, const float* in, std::size_t lda, std::size_t rows, float* out, std::size_t ldc,
                                  bool accumulate, cudaStream_t stream) const {
    return gemm_f32({rows, l.n, l.k, in, lda, l.w.data(), l.k, nullptr, out, ldc, epilogue::none, accumulate}, stream);
  }

  //! The compressor's projections of this call's tokens, then its streaming update.
  [[nodiscard]] status compress(const compressor& k, cache::stream_buffers& sb, const float* x, std::size_t S, const scratch& w,
                                cudaStream_t stream) const {
    const std::size_t P = k.proj();
    if (status s = run_linear(k.kv, x, k.kv.k, S, w.proj_kv, P, false, stream); s != status::ok) return s;
    if (status s = run_linear(k.gate, x, k.gate.k, S, w.proj_gate, P, false, stream); s != status::ok) return s;
    compress_args layer{};
    layer.position_bias = k.position_bias.data();
    layer.norm_w = k.norm_w.data();
    layer.inv_freq = k.inv_freq.data();
    layer.ratio = k.ratio;
    layer.width = k.width;
    layer.rope_half = k.inv_freq.size();
    layer.overlap = k.overlap;
    layer.eps = cfg_.norm_eps;
    return compress_update(layer, w.proj_kv, w.proj_gate, S, sb.state, stream);
  }

  [[nodiscard]] status attention(const layer& L, cache::per_layer& lc, std::size_t S, const std::vector<std::int64_t>& pos,
                                 const std::int64_t* pos_dev, const float* x, float* out, const scratch& w, cudaStream_t stream,
                                 const v4_device_observer& obs, const std::string& path) const {
    const std::size_t H = static_cast<std::size_t>(cfg_.heads), hd = static_cast<std::size_t>(cfg_.head_dim), HD = H * hd,
                      W = static_cast<std::size_t>(cfg_.sliding_window), R = L.q_a.n, half = L.inv_freq.size();
    // Query: q_a, RMSNorm, q_b, per-head unweighted RMSNorm, RoPE.
    if (status s = run_linear(L.q_a, x, L.q_a.k, S, w.q_res, R, false, stream); s != status::ok) return s;
    if (status s = rmsnorm({w.q_res, w.q_res, L.q_a_norm.data(), nullptr, S, R, cfg_.norm_eps}, stream); s != status::ok) return s;
    if (status s = run_linear(L.q_b, w.q_res, R, S, w.q, HD, false, stream); s != status::ok) return s;
    if (status s = rmsnorm({w.q, w.q, nullptr, nullptr, S * H, hd, cfg_.norm_eps}, stream); s != status::ok) return s;
    if (status s = rope_partial({w.q, pos_dev, L.inv_freq.data(), S, H, hd, HD, half}, stream); s != status::ok) return s;
    // Raw keys: the cached window rows, then this call's kv (RMSNorm, RoPE) written after them.
    const std::size_t cached = lc.window_rows, rows = cached + S;
    float* kv = w.raw + cached * hd;
    if (cached > 0)
      if (cudaError_t e = cudaMemcpyAsync(w.raw, lc.window.data(), cached * hd * sizeof(float), cudaMemcpyDeviceToDevice, stream);
          e != cudaSuccess)
        return to_status(e);
    if (status s = run_linear(L.kv, x, L.kv.k, S, kv, hd, false, stream); s != status::ok) return s;
    if (status s = rmsnorm({kv, kv, L.kv_norm.data(), nullptr, S, hd, cfg_.norm_eps}, stream); s != status::ok) return s;
    if (status s = rope_partial({kv, pos_dev, L.inv_freq.data(), S, 1, hd, hd, half}, stream); s != status::ok) return s;
    std::vector<std::int64_t> raw_pos(rows);
    for (std::size_t r = 0; r < rows; ++r) raw_pos[r] = pos[0] - static_cast<std::int64_t>(cached) + static_cast<std::int64_t>(r);
    if (cudaError_t e = cudaMemcpyAsync(w.raw_pos, raw_pos.data(), rows * sizeof(std::int64_t), cudaMemcpyHostToDevice, stream);
        e != cudaSuccess)
      return to_status(e);
    // Compressed entries and, in CSA layers, the indexer's choice.
    sparse_attention_args a{w.q, w.raw, w.raw_pos, nullptr, nullptr, pos_dev, L.sinks.data(), w.o, nullptr, S, H, hd, rows, 0, 0, 0, W,
                            1.0f / std::sqrt(static_cast<float>(hd))};
    if (L.kind != v4::attention_kind::sliding) {
      if (status s = compress(L.comp, lc.main, x, S, w, stream); s != status::ok) return s;
      if (obs)
        if (status s = obs.floats(path + ".compressor", "out0", lc.main.state.entries,
                                  {1, 1, static_cast<std::int64_t>(lc.main.state.count), static_cast<std::int64_t>(hd)});
            s != status::ok)
          return s;
      a.entries = lc.main.state.entries;
      a.entry_count = lc.main.state.count;
      a.ratio = L.comp.ratio;
    }
    if (L.kind == v4::attention_kind::csa) {
      if (status s = compress(L.index_keys, lc.index, x, S, w, stream); s != status::ok) return s;
      const std::size_t T = lc.index.state.count, k = std::min(static_cast<std::size_t>(cfg_.index_topk), T), ratio = L.index_keys.ratio;
      const std::size_t IH = L.index_w.n, ihd = L.index_keys.width;
      a.entry_count = 0;  // no entries when the indexer has nothing to choose from
      if (k > 0) {
        std::vector<std::int32_t> vis(S);
        for (std::size_t t = 0; t < S; ++t) vis[t] = static_cast<std::int32_t>(std::min<std::size_t>(T, static_cast<std::size_t>(pos[t] + 1) / ratio));
        const std::size_t visible_max = static_cast<std::size_t>(*std::max_element(vis.begin(), vis.end()));
        if (cudaError_t e = cudaMemsetAsync(w.selected, 0xff, S * k * sizeof(std::int64_t), stream); e != cudaSuccess)
          return to_status(e);  // -1 everywhere until chosen
        if (visible_max > 0) {
          if (status s = run_linear(L.index_q, w.q_res, R, S, w.iq, IH * ihd, false, stream);
              s != status::ok)
            return s;
          if (status s = rope_partial({w.iq, pos_dev, L.index_keys.inv_freq.data(), S, IH, ihd, IH * ihd, L.index_keys.inv_freq.size()},
                                      stream);
              s != status::ok)
            return s;
          if (status s = run_linear(L.index_w, x, L.index_w.k, S, w.iw, IH, false, stream); s != status::ok) return s;
          if (status s = indexer_scores({w.iq, w.iw, lc.index.state.entries, w.scores, S, IH, ihd, visible_max}, stream); s != status::ok)
            return s;
          if (cudaError_t e = cudaMemcpyAsync(w.visible, vis.data(), S * sizeof(std::int32_t), cudaMemcpyHostToDevice, stream);
              e != cudaSuccess)
            return to_status(e);
          if (status s = topk({w.scores, w.visible, w.selected, S, visible_max, k}, *w.topk_ws, stream); s != status::ok) return s;
        }
        a.selected = w.selected;
        a.top_k = k;
        a.entry_count = lc.main.state.count;
      }
      if (obs)
        if (status s = obs.indices(path + ".compressor.indexer", "out0", w.selected,
                                   {1, static_cast<std::int64_t>(S), static_cast<std::int64_t>(k)});
            s != status::ok)
          return s;
    }
    if (obs) {
      // The peer's block bias (CSA on every call, HCA on multi-token calls with entries) and the
      // attention weights [H, S, raw + entries].
      const std::size_t T = L.kind == v4::attention_kind::sliding ? 0 : lc.main.state.count;
      if (L.kind == v4::attention_kind::csa || (L.kind == v4::attention_kind::hca && S > 1 && T > 0)) {
        if (status s = sparse_attention_bias(a, w.bias, stream); s != status::ok) return s;
        if (status s = obs.floats(path + ".compressor", "out1", w.bias,
                                  {1, 1, static_cast<std::int64_t>(S), static_cast<std::int64_t>(a.entry_count)});
            s != status::ok)
          return s;
      }
      a.probs = w.probs;
      if (cudaError_t e = cudaMemsetAsync(w.probs, 0, H * S * (rows + T) * sizeof(float), stream); e != cudaSuccess) return to_status(e);
    }
    if (status s = sparse_attention(a, *w.attn_ws, stream); s != status::ok) return s;
    if (obs)
      if (status s = obs.floats(path, "out1", w.probs,
                                {1, static_cast<std::int64_t>(H), static_cast<std::int64_t>(S),
                                 static_cast<std::int64_t>(rows + a.entry_count)});
          s != status::ok)
        return s;
    if (status s = rope_partial({w.o, pos_dev, L.inv_freq.data(), S, H, hd, HD, half, true}, stream); s != status::ok) return s;
    // Grouped low-rank output projection: z[:, g] = o[:, g] W_oa[g]^T, out = W_ob z.
    const std::size_t G = static_cast<std::size_t>(cfg_.o_groups), OR = static_cast<std::size_t>(cfg_.o_lora_rank), per = HD / G;
    for (std::size_t g = 0; g < G; ++g)
      if (status s = gemm_f32({S, OR, per, w.o + g * per, HD, L.o_a.w.data() + g * OR * per, per, nullptr, w.z + g * OR, G * OR},
                              stream);
          s != status::ok)
        return s;
    if (status s = run_linear(L.o_b, w.z, G * OR, S, out, L.o_b.n, false, stream); s != status::ok) return s;
    // Slide the window: keep the last window - 1 raw rows for the next call.
    const std::size_t keep = std::min(rows, W - 1);
    if (keep > 0)
      if (cudaError_t e = cudaMemcpyAsync(lc.window.data(), w.raw + (rows - keep) * hd, keep * hd * sizeof(float),
                                          cudaMemcpyDeviceToDevice, stream);
          e != cudaSuccess)
        return to_status(e);
    lc.window_rows = keep;
    return status::ok;
  }

  [[nodiscard]] status moe(const layer& L, std::size_t S, const std::int64_t* ids_dev, const float* x, float* out, float* router_logits,
                           float* route_w, std::int64_t* route_idx, float* shared_h, float* shared_act, workspace& moe_ws,
                           cudaStream_t stream, const v4_device_observer& obs, const std::string& path) const {
    const std::size_t E = static_cast<std::size_t>(cfg_.routed_experts), K = static_cast<std::size_t>(cfg_.top_k),
                      D = static_cast<std::size_t>(cfg_.hidden), I = static_cast<std::size_t>(cfg_.moe_intermediate),
                      SI = L.shared_down.k;
    if (status s = run_linear(L.router, x, D, S, router_logits, E, false, stream); s != status::ok) return s;
    const bool vision = L.vision_bias.size() > 0;
    router_args r{router_logits, L.hash ? nullptr : L.selection_bias.data(), L.hash ? L.tid2eid.data() : nullptr,
                  L.hash || vision ? ids_dev : nullptr, route_w, route_idx, S, E, K, static_cast<std::size_t>(cfg_.vocab), cfg_.scoring,
                  cfg_.routed_scale, vision ? L.vision_bias.data() : nullptr};
    if (status s = route(r, stream); s != status::ok) return s;
    if (obs) {
      const auto s64 = static_cast<std::int64_t>(S), e64 = static_cast<std::int64_t>(E), k64 = static_cast<std::int64_t>(K);
      status s = obs.floats(path + ".gate", "out0", router_logits, {s64, e64});
      if (s == status::ok) s = obs.floats(path + ".gate", "out1", route_w, {s64, k64});
      if (s == status::ok) s = obs.indices(path + ".gate", "out2", route_idx, {s64, k64});
      if (s != status::ok) return s;
    }
    const float limit = cfg_.swiglu_limit;
    moe_experts_f32_args me{x, route_idx, route_w, L.gate_up.data(), L.down.data(), out, S, D, I, E, K, limit, false};
    if (status s = moe_experts(me, moe_ws, stream); s != status::ok) return s;
    if (status s = run_linear(L.shared_gate_up, x, D, S, shared_h, 2 * SI, false, stream); s != status::ok) return s;
    if (status s = swiglu({shared_h, shared_h + SI, 2 * SI, shared_act, S, SI, limit}, stream); s != status::ok) return s;
    return run_linear(L.shared_down, shared_act, SI, S, out, D, true, stream);  // y += shared(x)
  }

  v4::config cfg_;
  buffer embed_, norm_, head_fn_, head_base_, head_scale_;
  linear head_;
  std::vector<layer> layers_;
};

}  // namespace cuda
VPRIM_NAMESPACE_END
