// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file tower_config.hpp
//! The dimensions of a vision tower (DeepSeek-ViT or Qwen2-VL's), shared by the CPU and CUDA
//! towers and their tensor table.

#include <cstdint>

#include "vprim/model/precision.hpp"
#include "vprim/policy/policies.hpp"

VPRIM_NAMESPACE_BEGIN

enum class tower_kind : std::uint8_t { deepseek_vit, qwen2_vl };

//! Dimensions of a tower; read from a checkpoint's config or taken from a preset.
struct tower_config {
  tower_kind kind = tower_kind::deepseek_vit;
  int patch = 14, channels = 3, merge = 3;
  int width = 1024, heads = 16, layers = 32;
  int intermediate = 2816;  //!< SwiGLU size (deepseek) or MLP hidden size (qwen)
  int out_dim = 4096;       //!< merged token width (the LLM's hidden size)
  float rope_theta = 10000.0f;
  float norm_eps = 1e-6f;
  weight_precision precision = weight_precision::float32;  //!< storage of the Linear weights
  [[nodiscard]] int head_dim() const noexcept { return heads > 0 ? width / heads : 0; }
  [[nodiscard]] merge_layout layout() const noexcept {
    return kind == tower_kind::deepseek_vit ? merge_layout::channel_major : merge_layout::token_major;
  }
};

VPRIM_NAMESPACE_END
