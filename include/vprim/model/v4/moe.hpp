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
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "vprim/core/workspace.hpp"
#include "vprim/cpu/activation.hpp"
#include "vprim/cpu/moe.hpp"
#include "vprim/cpu/router.hpp"
#include "vprim/cpu/topk.hpp"
#include "vprim/image/nlayout.hpp"
#include "vprim/model/v4/config.hpp"
#include "vprim/model/v4/tensor_table.hpp"
#include "vprim/model/v4/topk.hpp"
#include "vprim/model/weights.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

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

  //! Bytes of weights the layer holds: router, experts (as shipped or widened), shared expert.
  [[nodiscard]] std::size_t resident_bytes() const noexcept {
    std::size_t b = router.resident_bytes() + shared_gate.resident_bytes() + shared_up.resident_bytes() +
                    shared_down.resident_bytes() + vector_bytes(selection_bias, tid2eid, vision_bias);
    for (const auto& l : gate_up) b += l.resident_bytes();
    for (const auto& l : down) b += l.resident_bytes();
    return b;
  }

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
    const moe_tensors t = moe_tensors_of(c, p);
    auto gw = linear_layer::load(arch, src, t.router.name, t.router.out, t.router.in, false);
    if (!gw) return gw.err();
    m.router = std::move(*gw);
    if (m.hash) {
      auto h = read_hash_table(ids, t.hash_table, c);
      if (!h) return h.err();
      m.tid2eid = std::move(*h);
    } else {
      auto b = src(t.selection_bias.name, t.selection_bias.shape);
      if (!b) return b.err();
      m.selection_bias = std::move(*b);
    }
    if (auto vb = src(t.vision_bias.name, t.vision_bias.shape)) {  // every layer of a Vision-Exp checkpoint
      m.vision_bias = std::move(*vb);
    } else if (vb.code() != status::not_found) {
      return vb.err();
    }
    // One expert at a time (slices of the packed tensors), so loading never holds all of them.
    const auto& gu = t.expert_gate_up_shape;
    const auto& dn = t.expert_down_shape;
    // A source that keeps the release's MXFP4 experts gives them as shipped.
    auto expert = [&](const std::string& name, const std::vector<index_t>& shape) -> result<linear_layer> {
      auto shipped = src.quantized(name, shape);
      if (!shipped) return shipped.err();
      if (*shipped) return linear_layer::from_quantized(std::move(**shipped));
      auto v = src(name, shape);
      if (!v) return v.err();
      return linear_layer::from_values(arch, *v, shape[0], shape[1], std::vector<float>{}, c.expert_precision);
    };
    for (index_t e = 0; e < static_cast<index_t>(m.experts); ++e) {
      auto l1 = expert(slice_name(t.experts_gate_up, e), gu);
      if (!l1) return l1.err();
      m.gate_up.push_back(std::move(*l1));
      auto l2 = expert(slice_name(t.experts_down, e), dn);
      if (!l2) return l2.err();
      m.down.push_back(std::move(*l2));
    }
    for (auto [layer, spec] : {std::pair{&m.shared_gate, &t.shared_gate}, std::pair{&m.shared_up, &t.shared_up},
                               std::pair{&m.shared_down, &t.shared_down}}) {
      auto l = linear_layer::load(arch, src, spec->name, spec->out, spec->in, false, {}, c.expert_precision);
      if (!l) return l.err();
      *layer = std::move(*l);
    }
    return result<moe_layer>(std::move(m));
  }

  //! Scratch of route() and apply() for calls of up to `rows` rows on `threads` threads.
  [[nodiscard]] workspace_size workspace(std::size_t rows, std::size_t threads) const {
    kernels::router_args r{};
    r.experts = experts;
    r.top_k = top_k;
    const workspace_size route_ws{kernels::router_workspace(r).bytes + router.scratch_bytes(rows)};
    const std::size_t si = shared_gate.out_features();
    // An expert gets each token at most once, unless a hash table names it twice for one token.
    const workspace_size routed_ws = gate_up.empty() ? workspace_size{} :
        cpu::moe_experts_workspace(experts_args(nullptr, rows, nullptr, nullptr, nullptr), threads, hash ? rows * top_k : rows);
    workspace_size shared_ws;
    shared_ws.add<float>(3 * rows * si).add<float>(rows * dim);
    shared_ws.bytes += std::max({shared_gate.scratch_bytes(rows), shared_up.scratch_bytes(rows), shared_down.scratch_bytes(rows)});
    return workspace_size{std::max({route_ws.bytes, routed_ws.bytes, shared_ws.bytes})};
  }

  //! logits [S, E], weights [S, k], indices [S, k] (descending score order for top-k layers).
  template <class Arch, executor Exec>
  [[nodiscard]] status route(Arch arch, const float* x, std::size_t S, const std::int64_t* token_ids, float* logits,
                             float* weights, std::int64_t* indices, Exec& exec, workspace_arena& ws) const {
    if (status s = router.apply(arch, x, S, logits, exec, ws); s != status::ok) return s;
    const kernels::router_args a{
        .logits = logits,
        .selection_bias = hash ? nullptr : selection_bias.data(),
        .tid2eid = hash ? tid2eid.data() : nullptr,
        .token_ids = token_ids,
        .weights = weights,
        .indices = indices,
        .tokens = S,
        .experts = experts,
        .top_k = top_k,
        .vocab = static_cast<std::size_t>(vocab),
        .scoring = scoring,
        .routed_scale = routed_scale,
        .vision_bias = vision_bias.empty() || token_ids == nullptr ? nullptr : vision_bias.data(),  // no ids: no image tokens
    };
    if (hash && token_ids == nullptr) return status::out_of_range;
    return cpu::route(arch, a, ws);
  }

  //! The same with a workspace of its own (allocates; for tests and tools).
  template <class Arch, executor Exec>
  [[nodiscard]] status route(Arch arch, const float* x, std::size_t S, const std::int64_t* token_ids, float* logits,
                             float* weights, std::int64_t* indices, Exec& exec) const {
    workspace_memory memory(workspace(S, 1).bytes);
    workspace_arena ws(memory);
    return route(arch, x, S, token_ids, logits, weights, indices, exec, ws);
  }

  //! y[S, dim] = sum_k w_k expert_{idx_k}(x) + shared(x).
  template <class Arch, executor Exec>
  [[nodiscard]] status apply(Arch arch, const float* x, std::size_t S, const float* weights, const std::int64_t* indices,
                             float* y, Exec& exec, workspace_arena& ws) const {
    if (status s = routed(arch, x, S, weights, indices, y, exec, ws); s != status::ok) return s;
    return add_shared(arch, x, S, y, exec, ws);
  }

  //! The same with a workspace of its own (allocates; for tests and tools).
  template <class Arch, executor Exec>
  [[nodiscard]] status apply(Arch arch, const float* x, std::size_t S, const float* weights, const std::int64_t* indices,
                             float* y, Exec& exec) const {
    workspace_memory memory(workspace(S, static_cast<std::size_t>(std::max(1, exec.concurrency()))).bytes);
    workspace_arena ws(memory);
    return apply(arch, x, S, weights, indices, y, exec, ws);
  }

  //! The routed experts alone: y[S, dim] = sum_k w_k expert_{idx_k}(x).
  template <class Arch, executor Exec>
  [[nodiscard]] status routed(Arch arch, const float* x, std::size_t S, const float* weights, const std::int64_t* indices,
                              float* y, Exec& exec, workspace_arena& ws) const {
    return cpu::moe_experts(arch, experts_args(x, S, weights, indices, y), exec, ws);
  }

  //! The shared expert, added on top: y[S, dim] += shared(x).
  template <class Arch, executor Exec>
  [[nodiscard]] status add_shared(Arch arch, const float* x, std::size_t S, float* y, Exec& exec, workspace_arena& ws) const {
    const std::size_t si = shared_gate.out_features();
    workspace_arena::frame frame(ws);
    float* g = ws.take<float>(S * si);
    float* u = ws.take<float>(S * si);
    float* a = ws.take<float>(S * si);
    float* o = ws.take<float>(S * dim);
    if (o == nullptr) return status::out_of_memory;
    if (status s = shared_gate.apply(arch, x, S, g, exec, ws); s != status::ok) return s;
    if (status s = shared_up.apply(arch, x, S, u, exec, ws); s != status::ok) return s;
    cpu::swiglu_clamped(arch, g, u, si, a, S, si, limit, exec);
    if (status s = shared_down.apply(arch, a, S, o, exec, ws); s != status::ok) return s;
    for (std::size_t i = 0; i < S * dim; ++i) y[i] += o[i];
    return status::ok;
  }

 private:
  //! The experts as views for the kernel, by index (no array built per call).
  struct expert_views {
    const std::vector<linear_layer>* layers;
    [[nodiscard]] cpu::linear_view operator[](std::size_t e) const { return (*layers)[e].view(); }
  };

  [[nodiscard]] cpu::basic_moe_experts_args<expert_views> experts_args(const float* x, std::size_t S, const float* weights,
                                                                       const std::int64_t* indices, float* y) const {
    return {x, indices, weights, {&gate_up}, {&down}, y, S, dim, inter, experts, top_k, limit, false};
  }
};

}  // namespace v4
VPRIM_NAMESPACE_END
