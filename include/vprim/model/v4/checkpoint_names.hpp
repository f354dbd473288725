// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file checkpoint_names.hpp
//! DeepSeek's released checkpoint layout, read through the transformers names the decoder's
//! loaders ask for (research/deepseek_v4.md §3-§9 give both names of every parameter). The
//! released files name tensors after DeepSeek's own inference code (`layers.N.attn.wq_a.weight`,
//! `layers.N.ffn.experts.E.w1.weight`, `hc_head_fn`, ...); transformers packs the routed experts
//! into `mlp.experts.gate_up_proj [E, 2I, D]` (gate rows, then up rows) and
//! `mlp.experts.down_proj [E, D, I]`. The adapter answers the loader's per-expert slices
//! (`gate_up_proj[e]`) from `w1` and `w3` of expert e, so an expert is read once and never
//! packed.
//!
//! The released files also keep most linears in FP8 with block scales and the routed experts in
//! MXFP4; converting those is the job of the weight_source given to the adapter.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vprim/model/v4/model.hpp"
#include "vprim/model/weights.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

namespace detail {
// (transformers, DeepSeek) names of a layer's tensors, after "model.layers.N." / "layers.N.".
inline constexpr std::array<std::pair<std::string_view, std::string_view>, 33> layer_names = {{
    {"self_attn.q_a_proj.weight", "attn.wq_a.weight"},
    {"self_attn.q_a_norm.weight", "attn.q_norm.weight"},
    {"self_attn.q_b_proj.weight", "attn.wq_b.weight"},
    {"self_attn.kv_proj.weight", "attn.wkv.weight"},
    {"self_attn.kv_norm.weight", "attn.kv_norm.weight"},
    {"self_attn.o_a_proj.weight", "attn.wo_a.weight"},
    {"self_attn.o_b_proj.weight", "attn.wo_b.weight"},
    {"self_attn.sinks", "attn.attn_sink"},
    {"self_attn.compressor.kv_proj.weight", "attn.compressor.wkv.weight"},
    {"self_attn.compressor.gate_proj.weight", "attn.compressor.wgate.weight"},
    {"self_attn.compressor.position_bias", "attn.compressor.ape"},
    {"self_attn.compressor.kv_norm.weight", "attn.compressor.norm.weight"},
    {"self_attn.compressor.indexer.kv_proj.weight", "attn.indexer.compressor.wkv.weight"},
    {"self_attn.compressor.indexer.gate_proj.weight", "attn.indexer.compressor.wgate.weight"},
    {"self_attn.compressor.indexer.position_bias", "attn.indexer.compressor.ape"},
    {"self_attn.compressor.indexer.kv_norm.weight", "attn.indexer.compressor.norm.weight"},
    {"self_attn.compressor.indexer.q_b_proj.weight", "attn.indexer.wq_b.weight"},
    {"self_attn.compressor.indexer.scorer.weights_proj.weight", "attn.indexer.weights_proj.weight"},
    {"input_layernorm.weight", "attn_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"attn_hc.fn", "hc_attn_fn"},
    {"attn_hc.base", "hc_attn_base"},
    {"attn_hc.scale", "hc_attn_scale"},
    {"ffn_hc.fn", "hc_ffn_fn"},
    {"ffn_hc.base", "hc_ffn_base"},
    {"ffn_hc.scale", "hc_ffn_scale"},
    {"mlp.gate.weight", "ffn.gate.weight"},
    {"mlp.gate.e_score_correction_bias", "ffn.gate.bias"},
    {"mlp.gate.tid2eid", "ffn.gate.tid2eid"},
    {"mlp.gate.bias_vl", "ffn.gate.bias_vl"},  // Vision-Exp: image-block tokens' selection bias
    {"mlp.shared_experts.gate_proj.weight", "ffn.shared_experts.w1.weight"},
    {"mlp.shared_experts.up_proj.weight", "ffn.shared_experts.w3.weight"},
    {"mlp.shared_experts.down_proj.weight", "ffn.shared_experts.w2.weight"},
}};
inline constexpr std::array<std::pair<std::string_view, std::string_view>, 6> global_names = {{
    {"model.embed_tokens.weight", "embed.weight"},
    {"model.norm.weight", "norm.weight"},
    {"lm_head.weight", "head.weight"},
    {"model.hc_head.hc_fn", "hc_head_fn"},
    {"model.hc_head.hc_base", "hc_head_base"},
    {"model.hc_head.hc_scale", "hc_head_scale"},
}};

//! "model.layers.N.rest" -> (N, rest); nullopt for other names.
inline std::optional<std::pair<std::string, std::string_view>> split_layer(std::string_view name) {
  constexpr std::string_view head = "model.layers.";
  if (name.substr(0, head.size()) != head) return std::nullopt;
  const auto dot = name.find('.', head.size());
  if (dot == std::string_view::npos || dot == head.size()) return std::nullopt;
  const auto n = name.substr(head.size(), dot - head.size());
  if (n.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  return std::pair{std::string(n), name.substr(dot + 1)};
}
}  // namespace detail

//! DeepSeek's name for a tensor the loaders ask for under its transformers name; nullopt when
//! the name has no one-to-one counterpart (the packed expert tensors, unknown names).
[[nodiscard]] inline std::optional<std::string> official_name(std::string_view hf) {
  for (const auto& [from, to] : detail::global_names)
    if (hf == from) return std::string(to);
  if (auto layer = detail::split_layer(hf))
    for (const auto& [from, to] : detail::layer_names)
      if (layer->second == from) return "layers." + layer->first + "." + std::string(to);
  return std::nullopt;
}

namespace detail {
//! Two low-bit weights of one format stacked by rows (an expert's gate rows over its up rows):
//! per-row scales (MXFP4) stack with them; FP8's 128-row scale blocks only when the first
//! matrix is whole blocks of rows (nullopt otherwise: the caller reads the values instead).
[[nodiscard]] inline std::optional<quantized_tensor> stack_rows(quantized_tensor top, const quantized_tensor& bottom) {
  if (top.fmt != bottom.fmt || top.k != bottom.k) return std::nullopt;
  if (top.fmt == quantized_tensor::format::fp8_block128 && top.n % 128 != 0) return std::nullopt;
  top.codes.insert(top.codes.end(), bottom.codes.begin(), bottom.codes.end());
  top.scales.insert(top.scales.end(), bottom.scales.begin(), bottom.scales.end());
  top.n += bottom.n;
  return top;
}
}  // namespace detail

//! A weight source answering the decoder's (transformers) names from a source holding
//! DeepSeek's layout. Errors name both spellings. Weights the official source keeps as shipped
//! stay so (an expert's gate_up_proj is its w1 rows over its w3 rows).
[[nodiscard]] inline weight_source from_official_layout(weight_source official) {
  weight_source::quantized_fn shipped;
  if (official.keeps_quantized())
    shipped = [official](const std::string& name, const std::vector<index_t>& shape) -> result<std::optional<quantized_tensor>> {
      const auto [base, expert] = vprim::detail::split_slice(name);
      if (expert < 0) {
        const auto mapped = official_name(name);
        return mapped ? official.quantized(*mapped, shape) : std::optional<quantized_tensor>{};
      }
      const auto layer = detail::split_layer(base);
      if (!layer || shape.size() != 2) return std::optional<quantized_tensor>{};
      const std::string p = "layers." + layer->first + ".ffn.experts." + std::to_string(expert) + ".";
      if (layer->second == "mlp.experts.down_proj") return official.quantized(p + "w2.weight", shape);
      if (layer->second != "mlp.experts.gate_up_proj" || shape[0] % 2 != 0) return std::optional<quantized_tensor>{};
      const std::vector<index_t> half = {shape[0] / 2, shape[1]};
      auto gate = official.quantized(p + "w1.weight", half);
      if (!gate || !*gate) return gate;
      auto up = official.quantized(p + "w3.weight", half);
      if (!up || !*up) return up;
      return detail::stack_rows(std::move(**gate), **up);
    };
  auto values = [official](const std::string& name, const std::vector<index_t>& shape) -> result<std::vector<float>> {
    const auto [base, expert] = vprim::detail::split_slice(name);
    if (expert >= 0) {
      const auto layer = detail::split_layer(base);
      if (layer && shape.size() == 2) {
        const std::string p = "layers." + layer->first + ".ffn.experts." + std::to_string(expert) + ".";
        if (layer->second == "mlp.experts.down_proj") return official(p + "w2.weight", shape);
        if (layer->second == "mlp.experts.gate_up_proj" && shape[0] % 2 == 0) {
          const std::vector<index_t> half = {shape[0] / 2, shape[1]};
          auto gate = official(p + "w1.weight", half);
          if (!gate) return gate.err();
          auto up = official(p + "w3.weight", half);
          if (!up) return up.err();
          gate->insert(gate->end(), up->begin(), up->end());  // gate rows, then up rows
          return gate;
        }
      }
    } else if (auto mapped = official_name(name)) {
      auto r = official(*mapped, shape);
      if (!r) {
        error e = r.err();
        e.message += " (asked for as '" + name + "')";
        return e;
      }
      return r;
    }
    return make_error(status::not_found, "no DeepSeek checkpoint name is known for '" + name + "'");
  };
  return weight_source(std::move(values), std::move(shipped));
}

//! The same for integer tensors (the hash layers' token -> expert tables).
[[nodiscard]] inline index_source ids_from_official_layout(index_source official) {
  return [official = std::move(official)](const std::string& name) -> result<std::vector<std::int64_t>> {
    if (auto mapped = official_name(name)) return official(*mapped);
    return make_error(status::not_found, "no DeepSeek checkpoint name is known for '" + name + "'");
  };
}

}  // namespace v4
VPRIM_NAMESPACE_END
