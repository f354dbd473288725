// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file release_layout.hpp
//! The decoder's tensors as DeepSeek's release stores them: DeepSeek's name, the values' shape
//! and the storage (research/release_format.md, "Tensor names" and "Quantised weights"):
//!  - FP8 e4m3 with one E8M0 scale per 128 x 128 block (`X.scale`): the attention Linears
//!    (wq_a, wq_b, wkv, wo_a, wo_b), the indexer's wq_b and the shared expert;
//!  - MXFP4 (e2m1 pairs, one E8M0 scale per 32 inputs): the routed experts;
//!  - F32: sinks, the compressors' `ape`, the hyper-connections, the gate's biases;
//!    I32: the hash layers' `tid2eid`;
//!  - BF16: everything else (embedding, head, norms, the gate, the compressors' wkv / wgate,
//!    the indexer's weights_proj), as the reference's comments say they are stored.
//! Built from the one tensor table (tensor_table.hpp) and DeepSeek's names
//! (checkpoint_names.hpp), so it lists exactly what the loaders ask for.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vprim/model/v4/checkpoint_names.hpp"
#include "vprim/model/v4/tensor_table.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

enum class release_storage : std::uint8_t { fp8_block128, mxfp4, bf16, f32, i32 };

//! One tensor of the release. Low-bit weights are stored as two tensors: `name` (the codes:
//! F8_E4M3 [n, k] or I8 [n, k/2]) and scale_name() (F8_E8M0 blocks).
struct release_tensor {
  std::string name;
  std::vector<index_t> shape;  //!< the values' shape
  release_storage storage = release_storage::bf16;

  [[nodiscard]] std::size_t values() const noexcept {
    std::size_t n = 1;
    for (index_t d : shape) n *= static_cast<std::size_t>(d);
    return n;
  }
  //! `X.scale` for a low-bit `X.weight`.
  [[nodiscard]] std::string scale_name() const { return name.substr(0, name.size() - std::string_view(".weight").size()) + ".scale"; }
  [[nodiscard]] std::vector<index_t> codes_shape() const {
    return storage == release_storage::mxfp4 ? std::vector<index_t>{shape[0], shape[1] / 2} : shape;
  }
  [[nodiscard]] std::vector<index_t> scale_shape() const {
    if (storage == release_storage::mxfp4) return {shape[0], shape[1] / 32};
    return {(shape[0] + 127) / 128, (shape[1] + 127) / 128};
  }
  //! Bytes in the file, scales included.
  [[nodiscard]] std::size_t file_bytes() const noexcept {
    switch (storage) {
      case release_storage::fp8_block128:
        return values() + static_cast<std::size_t>((shape[0] + 127) / 128) * static_cast<std::size_t>((shape[1] + 127) / 128);
      case release_storage::mxfp4: return values() / 2 + values() / 32;
      case release_storage::bf16: return 2 * values();
      case release_storage::f32:
      case release_storage::i32: return 4 * values();
    }
    return 0;
  }
};

//! How the release stores the tensor DeepSeek calls `name`.
[[nodiscard]] inline release_storage release_storage_of(std::string_view name) {
  if (const auto layer = name.starts_with("layers.") ? name.find('.', 7) : std::string_view::npos; layer != std::string_view::npos)
    name.remove_prefix(layer + 1);
  if (name.starts_with("ffn.experts.")) return release_storage::mxfp4;
  if (name.starts_with("ffn.shared_experts.")) return release_storage::fp8_block128;
  for (std::string_view fp8 : {"attn.wq_a.weight", "attn.wq_b.weight", "attn.wkv.weight", "attn.wo_a.weight", "attn.wo_b.weight",
                               "attn.indexer.wq_b.weight"})
    if (name == fp8) return release_storage::fp8_block128;
  if (name == "ffn.gate.tid2eid") return release_storage::i32;
  if (name == "attn.attn_sink" || name.ends_with(".ape") || name.starts_with("hc_") || name == "ffn.gate.bias" ||
      name == "ffn.gate.bias_vl")
    return release_storage::f32;
  return release_storage::bf16;
}

namespace detail {
inline void add_release_tensor(std::vector<release_tensor>& out, const std::string& transformers_name, std::vector<index_t> shape) {
  std::string name = official_name(transformers_name).value_or(transformers_name);
  const release_storage storage = release_storage_of(name);
  out.push_back({std::move(name), std::move(shape), storage});
}
}  // namespace detail

//! Every tensor of decoder layer `l` as the release stores it (the routed experts one by one;
//! `bias_vl` only in a Vision-Exp checkpoint).
[[nodiscard]] inline std::vector<release_tensor> release_layer_tensors(const config& c, std::size_t l, bool vision_exp = true) {
  const layer_tensors t = layer_tensors_of(c, l, "model.");
  std::vector<release_tensor> out;
  auto linear = [&](const linear_spec& s) { detail::add_release_tensor(out, s.weight(), s.weight_shape()); };
  auto tensor = [&](const tensor_spec& s) { detail::add_release_tensor(out, s.name, s.shape); };
  auto compressor = [&](const compressor_tensors& x) {
    linear(x.kv);
    linear(x.gate);
    tensor(x.position_bias);
    tensor(x.norm);
  };
  for (const linear_spec* s : {&t.attn.q_a, &t.attn.q_b, &t.attn.kv, &t.attn.o_a, &t.attn.o_b}) linear(*s);
  for (const tensor_spec* s : {&t.attn.q_a_norm, &t.attn.kv_norm, &t.attn.sinks, &t.attn_norm, &t.ffn_norm}) tensor(*s);
  if (t.attn.compressor) compressor(*t.attn.compressor);
  if (t.attn.indexer) {
    compressor(t.attn.indexer->keys);
    linear(t.attn.indexer->q);
    linear(t.attn.indexer->weights);
  }
  for (const hc_tensors* h : {&t.attn_hc, &t.ffn_hc})
    for (const tensor_spec* s : {&h->fn, &h->base, &h->scale}) tensor(*s);
  linear(t.mlp.router);
  if (c.mlps[l] == mlp_kind::hash_moe)
    detail::add_release_tensor(out, t.mlp.hash_table, {static_cast<index_t>(c.vocab), static_cast<index_t>(c.top_k)});
  else
    tensor(t.mlp.selection_bias);
  if (vision_exp) tensor(t.mlp.vision_bias);
  for (const linear_spec* s : {&t.mlp.shared_gate, &t.mlp.shared_up, &t.mlp.shared_down}) linear(*s);
  const std::string experts = "layers." + std::to_string(l) + ".ffn.experts.";
  const auto gate_rows = t.mlp.expert_gate_up_shape[0] / 2, in = t.mlp.expert_gate_up_shape[1];
  for (int e = 0; e < c.routed_experts; ++e) {
    const std::string p = experts + std::to_string(e) + ".";
    out.push_back({p + "w1.weight", {gate_rows, in}, release_storage::mxfp4});
    out.push_back({p + "w2.weight", t.mlp.expert_down_shape, release_storage::mxfp4});
    out.push_back({p + "w3.weight", {gate_rows, in}, release_storage::mxfp4});
  }
  return out;
}

//! The tensors outside the layers: embedding, final norm, head, hyper head.
[[nodiscard]] inline std::vector<release_tensor> release_global_tensors(const config& c) {
  const decoder_tensors t = decoder_tensors_of(c, "model.", "lm_head");
  std::vector<release_tensor> out;
  for (const tensor_spec* s : {&t.embed, &t.norm, &t.hc_head.fn, &t.hc_head.base, &t.hc_head.scale})
    detail::add_release_tensor(out, s->name, s->shape);
  detail::add_release_tensor(out, t.head.weight(), t.head.weight_shape());
  return out;
}

//! Bytes of `tensors` in the file.
[[nodiscard]] inline std::size_t release_file_bytes(const std::vector<release_tensor>& tensors) {
  std::size_t b = 0;
  for (const auto& t : tensors) b += t.file_bytes();
  return b;
}

}  // namespace v4
VPRIM_NAMESPACE_END
