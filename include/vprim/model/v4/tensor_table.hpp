// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file tensor_table.hpp
//! The one table of the decoder's checkpoint tensors: every name (transformers' spelling, as
//! the loaders ask for it; checkpoint_names.hpp maps DeepSeek's release onto it) and the shape
//! the config implies. The CPU loaders (model/v4/*.hpp) and the CUDA loader
//! (model/cuda/v4_decoder.cuh) both read their names and shapes from here, so a tensor is
//! spelled once.

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "vprim/core/tensor_view.hpp"
#include "vprim/model/tensor_spec.hpp"
#include "vprim/model/v4/config.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

struct compressor_tensors {
  std::size_t ratio = 0, width = 0;
  bool overlap = false;
  linear_spec kv, gate;  //!< [proj, hidden], proj = 2 width with overlap
  tensor_spec position_bias, norm;
};

struct indexer_tensors {
  compressor_tensors keys;  //!< the indexer's own compressor
  linear_spec q, weights;   //!< q_b_proj [heads * head_dim, q_rank], scorer.weights_proj [heads, hidden]
};

struct attention_tensors {
  linear_spec q_a, q_b, kv, o_a, o_b;  //!< o_a: all groups stacked, [groups * o_rank, heads * head_dim / groups]
  tensor_spec q_a_norm, kv_norm, sinks;
  std::optional<compressor_tensors> compressor;  //!< CSA and HCA layers
  std::optional<indexer_tensors> indexer;        //!< CSA layers
};

struct moe_tensors {
  linear_spec router;
  std::string hash_table;             //!< tid2eid, [vocab, top_k] (hash layers)
  tensor_spec selection_bias;         //!< top-k layers
  tensor_spec vision_bias;            //!< `bias_vl`, optional (Vision-Exp checkpoints)
  std::string experts_gate_up, experts_down;  //!< packed [E, 2I, D] and [E, D, I], read a slice at a time
  std::vector<index_t> expert_gate_up_shape, expert_down_shape;  //!< one slice's shape
  linear_spec shared_gate, shared_up, shared_down;
};

struct hc_tensors {
  tensor_spec fn, base, scale;
};

struct layer_tensors {
  attention_tensors attn;
  moe_tensors mlp;
  hc_tensors attn_hc, ffn_hc;
  tensor_spec attn_norm, ffn_norm;
};

struct decoder_tensors {
  tensor_spec embed, norm;
  linear_spec head;
  hc_tensors hc_head;
};

//! A compressor under `p` (e.g. "model.layers.2.self_attn.compressor.").
[[nodiscard]] inline compressor_tensors compressor_tensors_of(const config& c, const std::string& p, std::size_t ratio,
                                                              std::size_t width, bool overlap) {
  const auto P = static_cast<index_t>(overlap ? 2 * width : width), D = static_cast<index_t>(c.hidden);
  return {ratio,
          width,
          overlap,
          {p + "kv_proj", P, D},
          {p + "gate_proj", P, D},
          {p + "position_bias", {static_cast<index_t>(ratio), P}},
          {p + "kv_norm.weight", {static_cast<index_t>(width)}}};
}

//! The lightning indexer under `p` (e.g. "model.layers.2.self_attn.compressor.indexer.").
[[nodiscard]] inline indexer_tensors indexer_tensors_of(const config& c, const std::string& p) {
  return {compressor_tensors_of(c, p, static_cast<std::size_t>(c.csa_ratio), static_cast<std::size_t>(c.index_head_dim), true),
          {p + "q_b_proj", static_cast<index_t>(c.index_heads) * c.index_head_dim, c.q_lora_rank},
          {p + "scorer.weights_proj", c.index_heads, static_cast<index_t>(c.hidden)}};
}

//! An attention layer of `kind` under `p` (e.g. "model.layers.2.self_attn.").
[[nodiscard]] inline attention_tensors attention_tensors_of(const config& c, attention_kind kind, const std::string& p) {
  const auto D = static_cast<index_t>(c.hidden), H = static_cast<index_t>(c.heads), hd = static_cast<index_t>(c.head_dim);
  attention_tensors t;
  t.q_a = {p + "q_a_proj", c.q_lora_rank, D};
  t.q_b = {p + "q_b_proj", H * hd, c.q_lora_rank};
  t.kv = {p + "kv_proj", hd, D};
  t.o_a = {p + "o_a_proj", c.o_groups * c.o_lora_rank, c.o_groups > 0 ? H * hd / c.o_groups : 0};
  t.o_b = {p + "o_b_proj", D, c.o_groups * c.o_lora_rank};
  t.q_a_norm = {p + "q_a_norm.weight", {c.q_lora_rank}};
  t.kv_norm = {p + "kv_norm.weight", {hd}};
  t.sinks = {p + "sinks", {H}};
  if (kind != attention_kind::sliding)
    t.compressor = compressor_tensors_of(c, p + "compressor.", static_cast<std::size_t>(c.ratio(kind)),
                                         static_cast<std::size_t>(hd), kind == attention_kind::csa);
  if (kind == attention_kind::csa) t.indexer = indexer_tensors_of(c, p + "compressor.indexer.");
  return t;
}

//! A MoE layer of `kind` under `p` (e.g. "model.layers.2.mlp.").
[[nodiscard]] inline moe_tensors moe_tensors_of(const config& c, const std::string& p) {
  const auto D = static_cast<index_t>(c.hidden), E = static_cast<index_t>(c.routed_experts),
             I = static_cast<index_t>(c.moe_intermediate), SI = I * std::max(1, c.shared_experts);
  moe_tensors t;
  t.router = {p + "gate", E, D};
  t.hash_table = p + "gate.tid2eid";
  t.selection_bias = {p + "gate.e_score_correction_bias", {E}};
  t.vision_bias = {p + "gate.bias_vl", {E}};
  t.experts_gate_up = p + "experts.gate_up_proj";
  t.experts_down = p + "experts.down_proj";
  t.expert_gate_up_shape = {2 * I, D};
  t.expert_down_shape = {D, I};
  t.shared_gate = {p + "shared_experts.gate_proj", SI, D};
  t.shared_up = {p + "shared_experts.up_proj", SI, D};
  t.shared_down = {p + "shared_experts.down_proj", D, SI};
  return t;
}

//! A hyper-connection (`<name>.fn/.base/.scale`, (2 + n) n rows and 3 scales).
[[nodiscard]] inline hc_tensors hyper_connection_tensors_of(const config& c, const std::string& name) {
  const auto n = static_cast<index_t>(c.hc_mult), D = static_cast<index_t>(c.hidden), rows = (2 + n) * n;
  return {{name + ".fn", {rows, n * D}}, {name + ".base", {rows}}, {name + ".scale", {3}}};
}

//! Layer l under `prefix` (e.g. "model.").
[[nodiscard]] inline layer_tensors layer_tensors_of(const config& c, std::size_t l, const std::string& prefix) {
  const std::string p = prefix + "layers." + std::to_string(l) + ".";
  const auto D = static_cast<index_t>(c.hidden);
  return {attention_tensors_of(c, c.layers[l], p + "self_attn."),
          moe_tensors_of(c, p + "mlp."),
          hyper_connection_tensors_of(c, p + "attn_hc"),
          hyper_connection_tensors_of(c, p + "ffn_hc"),
          {p + "input_layernorm.weight", {D}},
          {p + "post_attention_layernorm.weight", {D}}};
}

//! The tensors outside the layers: embeddings, final norm, head, hyper head.
[[nodiscard]] inline decoder_tensors decoder_tensors_of(const config& c, const std::string& prefix, const std::string& head) {
  const auto V = static_cast<index_t>(c.vocab), D = static_cast<index_t>(c.hidden), n = static_cast<index_t>(c.hc_mult);
  return {{prefix + "embed_tokens.weight", {V, D}},
          {prefix + "norm.weight", {D}},
          {head, V, D},
          {{prefix + "hc_head.hc_fn", {n, n * D}}, {prefix + "hc_head.hc_base", {n}}, {prefix + "hc_head.hc_scale", {1}}}};
}

}  // namespace v4
VPRIM_NAMESPACE_END
