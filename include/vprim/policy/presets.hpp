// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file presets.hpp
//! Named presets: the released DeepSeek-V4-Flash(-Vision) dimensions and policies, and the tiny
//! configurations the golden files were generated with. Sources: research/deepseek_v4.md §1,
//! research/visual_primitives.md §2.2-2.3, the golden files' metadata.

#include "vprim/policy/concepts.hpp"

VPRIM_NAMESPACE_BEGIN

//! Dimensions of a DeepSeek-ViT tower plus aligner (not policies: they size buffers, not loops).
struct vit_dims {
  int layers;
  int width;
  int heads;
  int intermediate;  //!< SwiGLU hidden size
  float rope_theta;
  float norm_eps;
  int aligner_out;   //!< LLM hidden size the aligner projects to
};

//! Dimensions of a DeepSeek-V4 decoder.
struct v4_dims {
  int vocab;
  int hidden;
  int layers;
  int heads;
  int head_dim;
  int rope_dim;        //!< trailing rotary dims of each head
  int q_lora_rank;
  int o_groups;
  int o_lora_rank;
  int index_heads;
  int index_head_dim;
  int moe_intermediate;
  int hc_mult;
  int hc_sinkhorn_iters;
  float hc_eps;
  float norm_eps;
  float rope_theta;           //!< sliding-only layers
  float compress_rope_theta;  //!< CSA/HCA layers (with YaRN)
  float yarn_factor;
  int yarn_original_max_position;
  float yarn_beta_fast;
  float yarn_beta_slow;
  float swiglu_limit;
};

namespace presets {

// --- released model ------------------------------------------------------------------------
inline constexpr patch_policy deepseek_vit_patch{.size = 14, .channels = 3};
inline constexpr merge_policy deepseek_vit_merge{.factor = 3, .layout = merge_layout::channel_major};
inline constexpr vit_dims deepseek_vit{.layers = 32, .width = 1024, .heads = 16, .intermediate = 2816,
                                       .rope_theta = 10000.0f, .norm_eps = 1e-6f, .aligner_out = 4096};
inline constexpr token_budget_policy vision_exp_budget{.rule = budget_rule::vision_exp, .min_tokens = 0,
                                                       .max_tokens = 384, .min_pixels = 147456,
                                                       .max_aspect = 8, .reserved_pad = 3};
//! The paper's "81 to 384 visual tokens": Qwen2-VL smart resize with factor 42. The peer rejects
//! aspect ratios above 200.
inline constexpr token_budget_policy paper_budget{.rule = budget_rule::smart_resize, .min_tokens = 81,
                                                  .max_tokens = 384, .min_pixels = 0, .max_aspect = 200,
                                                  .reserved_pad = 0};

inline constexpr compression_policy v4_flash_csa{.ratio = 4, .overlap = toggle::on, .has_indexer = toggle::on,
                                                 .index_topk = 512};
inline constexpr compression_policy v4_flash_hca{.ratio = 128, .overlap = toggle::off,
                                                 .has_indexer = toggle::off, .index_topk = 0};
inline constexpr sliding_window_policy v4_flash_window{.window = 128};
inline constexpr expert_policy v4_flash_experts{.routed = 256, .shared = 1, .top_k = 6,
                                                .scoring = scoring_func::sqrtsoftplus, .routed_scale = 1.5f,
                                                .hash_layers = 3};
inline constexpr v4_dims v4_flash{.vocab = 129280, .hidden = 4096, .layers = 43, .heads = 64, .head_dim = 512,
                                  .rope_dim = 64, .q_lora_rank = 1024, .o_groups = 8, .o_lora_rank = 1024,
                                  .index_heads = 64, .index_head_dim = 128, .moe_intermediate = 2048,
                                  .hc_mult = 4, .hc_sinkhorn_iters = 20, .hc_eps = 1e-6f, .norm_eps = 1e-6f,
                                  .rope_theta = 10000.0f, .compress_rope_theta = 160000.0f, .yarn_factor = 16.0f,
                                  .yarn_original_max_position = 65536, .yarn_beta_fast = 32.0f,
                                  .yarn_beta_slow = 1.0f, .swiglu_limit = 10.0f};

// --- Qwen2-VL arrangement (token-major merge) ----------------------------------------------
inline constexpr merge_policy qwen2_vl_merge{.factor = 3, .layout = merge_layout::token_major};

// --- the golden files' tiny configurations -------------------------------------------------
//! dsvit_public: width 64, 4 heads, SwiGLU 96, 2 blocks, aligner to 64.
inline constexpr vit_dims golden_dsvit{.layers = 2, .width = 64, .heads = 4, .intermediate = 96,
                                       .rope_theta = 10000.0f, .norm_eps = 1e-6f, .aligner_out = 64};
//! deepseek_v4_public: CSA ratio 4 with top-3 indexer, HCA ratio 8, window 8, 8 experts top-2.
inline constexpr compression_policy golden_v4_csa{.ratio = 4, .overlap = toggle::on, .has_indexer = toggle::on,
                                                  .index_topk = 3};
inline constexpr compression_policy golden_v4_hca{.ratio = 8, .overlap = toggle::off,
                                                  .has_indexer = toggle::off, .index_topk = 0};
inline constexpr sliding_window_policy golden_v4_window{.window = 8};
inline constexpr expert_policy golden_v4_experts{.routed = 8, .shared = 1, .top_k = 2,
                                                 .scoring = scoring_func::sqrtsoftplus, .routed_scale = 1.5f,
                                                 .hash_layers = 1};
inline constexpr v4_dims golden_v4{.vocab = 512, .hidden = 64, .layers = 3, .heads = 4, .head_dim = 32,
                                   .rope_dim = 8, .q_lora_rank = 32, .o_groups = 2, .o_lora_rank = 16,
                                   .index_heads = 4, .index_head_dim = 16, .moe_intermediate = 32, .hc_mult = 4,
                                   .hc_sinkhorn_iters = 20, .hc_eps = 1e-6f, .norm_eps = 1e-6f,
                                   .rope_theta = 10000.0f, .compress_rope_theta = 160000.0f, .yarn_factor = 16.0f,
                                   .yarn_original_max_position = 65536, .yarn_beta_fast = 32.0f,
                                   .yarn_beta_slow = 1.0f, .swiglu_limit = 10.0f};

static_assert(assert_valid<deepseek_vit_patch>() && assert_valid<deepseek_vit_merge>() &&
              assert_valid<qwen2_vl_merge>() && assert_valid<vision_exp_budget>() && assert_valid<paper_budget>() &&
              assert_valid<v4_flash_csa>() && assert_valid<v4_flash_hca>() && assert_valid<v4_flash_window>() &&
              assert_valid<v4_flash_experts>() && assert_valid<golden_v4_csa>() && assert_valid<golden_v4_hca>() &&
              assert_valid<golden_v4_window>() && assert_valid<golden_v4_experts>());

}  // namespace presets

VPRIM_NAMESPACE_END
