// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file tower_tensor_table.hpp
//! The one table of a vision tower's checkpoint tensors (DeepSeek-ViT + aligner, Qwen2-VL's
//! tower + merger): names under the tower prefix `tp` and the merger prefix `mp`, and shapes
//! from the tower's config. The CPU (model/vision_tower.hpp) and CUDA
//! (model/cuda/vision_tower.cuh) loaders both read it.

#include <optional>
#include <string>
#include <vector>

#include "vprim/core/status.hpp"
#include "vprim/model/tensor_spec.hpp"
#include "vprim/model/tower_config.hpp"

VPRIM_NAMESPACE_BEGIN

struct tower_block_tensors {
  tensor_spec norm1, norm2;
  std::optional<tensor_spec> norm1_bias, norm2_bias;  //!< Qwen's LayerNorms
  linear_spec qkv, proj, fc1, fc2;                    //!< DeepSeek: fc1 = w1 [2I, D] (gate | up), no MLP biases
};

struct tower_tensors {
  linear_spec patch_embed;
  std::vector<tower_block_tensors> blocks;
  std::optional<tensor_spec> final_norm;                      //!< DeepSeek-ViT's final RMSNorm
  std::optional<tensor_spec> merger_norm, merger_norm_bias;  //!< Qwen's merger LayerNorm
  linear_spec merger1, merger2;
};

[[nodiscard]] inline tower_tensors tower_tensors_of(const tower_config& cfg, const std::string& tp, const std::string& mp) {
  const index_t D = cfg.width, I = cfg.intermediate, pin = static_cast<index_t>(cfg.channels) * cfg.patch * cfg.patch;
  const index_t merged_in = D * cfg.merge * cfg.merge;
  const bool ds = cfg.kind == tower_kind::deepseek_vit;
  tower_tensors t;
  // Qwen's Conv3d patch embed is stored as [n, C, 1, P, P]: the same numbers as [n, C*P*P].
  t.patch_embed = {tp + "patch_embed.proj", D, pin, ds, ds ? std::vector<index_t>{} : std::vector<index_t>{D, cfg.channels, 1, cfg.patch, cfg.patch}};
  for (int l = 0; l < cfg.layers; ++l) {
    const std::string p = tp + "blocks." + std::to_string(l) + ".";
    tower_block_tensors b;
    b.norm1 = {p + "norm1.weight", {D}};
    b.norm2 = {p + "norm2.weight", {D}};
    if (!ds) {
      b.norm1_bias = tensor_spec{p + "norm1.bias", {D}};
      b.norm2_bias = tensor_spec{p + "norm2.bias", {D}};
    }
    b.qkv = {p + (ds ? "attn.wqkv" : "attn.qkv"), 3 * D, D, true};
    b.proj = {p + (ds ? "attn.wo" : "attn.proj"), D, D, true};
    b.fc1 = {p + (ds ? "mlp.w1" : "mlp.fc1"), ds ? 2 * I : I, D, !ds};
    b.fc2 = {p + (ds ? "mlp.w2" : "mlp.fc2"), D, I, !ds};
    t.blocks.push_back(std::move(b));
  }
  if (ds) {
    t.final_norm = tensor_spec{tp + "norm.weight", {D}};
    t.merger1 = {mp + "w1", cfg.out_dim, merged_in, true};
    t.merger2 = {mp + "w2", cfg.out_dim, cfg.out_dim, true};
  } else {
    t.merger_norm = tensor_spec{mp + "ln_q.weight", {D}};
    t.merger_norm_bias = tensor_spec{mp + "ln_q.bias", {D}};
    t.merger1 = {mp + "mlp.0", merged_in, merged_in, true};
    t.merger2 = {mp + "mlp.2", cfg.out_dim, merged_in, true};
  }
  return t;
}

//! Walks the table into a tower's members (the CPU and the CUDA tower name them alike):
//! lin(member, linear_spec) for each Linear, vec(member, optional<tensor_spec>) for each vector
//! (absent specs are the other tower kind's). The first error stops the walk.
template <class Tower, class Lin, class Vec>
[[nodiscard]] std::optional<error> load_tower_tensors(Tower& t, const tower_tensors& tt, Lin&& lin, Vec&& vec) {
  if (auto e = lin(t.patch_embed_, tt.patch_embed)) return e;
  t.blocks_.resize(tt.blocks.size());
  for (std::size_t l = 0; l < tt.blocks.size(); ++l) {
    auto& b = t.blocks_[l];
    const tower_block_tensors& bt = tt.blocks[l];
    if (auto e = vec(b.norm1_w, std::optional(bt.norm1))) return e;
    if (auto e = vec(b.norm1_b, bt.norm1_bias)) return e;
    if (auto e = vec(b.norm2_w, std::optional(bt.norm2))) return e;
    if (auto e = vec(b.norm2_b, bt.norm2_bias)) return e;
    for (auto [dst, spec] : {std::pair{&b.qkv, &bt.qkv}, std::pair{&b.proj, &bt.proj}, std::pair{&b.fc1, &bt.fc1}, std::pair{&b.fc2, &bt.fc2}})
      if (auto e = lin(*dst, *spec)) return e;
  }
  if (auto e = vec(t.final_norm_w_, tt.final_norm)) return e;
  if (auto e = vec(t.merger_norm_w_, tt.merger_norm)) return e;
  if (auto e = vec(t.merger_norm_b_, tt.merger_norm_bias)) return e;
  if (auto e = lin(t.merger1_, tt.merger1)) return e;
  return lin(t.merger2_, tt.merger2);
}

VPRIM_NAMESPACE_END
