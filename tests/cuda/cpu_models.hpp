// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <vector>

#include "vprim/io/safetensors.hpp"
#include "vprim/model/v4/config.hpp"
#include "vprim/model/vision_tower.hpp"

namespace vprim_test {
//! The CPU tower + merger (cfg.kind, weights under the two prefixes) on a CHW image.
vprim::status cpu_tower_merged(const vprim::safetensors_file& file, const vprim::tower_config& cfg, const std::string& tower_prefix,
                               const std::string& merger_prefix, const std::vector<float>& pixels, int height, int width,
                               std::vector<float>& merged);
//! The CPU DeepSeek-V4 decoder (weights "weight.", as the golden files store them): the logits
//! of `tokens` run through one cache in calls of the given lengths.
vprim::status cpu_v4_logits(const vprim::safetensors_file& file, const vprim::v4::config& cfg, const std::vector<std::int64_t>& tokens,
                            const std::vector<std::size_t>& split, std::vector<float>& logits);
//! The CPU vision-language model (Qwen2-VL tower "weight." + "weight.merger.", decoder
//! "weight."): image features of `pixels` and a greedy generation of `steps` tokens.
vprim::status cpu_vlm_generate(const vprim::safetensors_file& vision, const vprim::tower_config& tcfg, const vprim::safetensors_file& llm,
                               const vprim::v4::config& cfg, const std::vector<float>& pixels, int height, int width,
                               const std::vector<std::int64_t>& ids, std::int64_t placeholder, std::size_t steps,
                               std::vector<float>& features, std::vector<std::int64_t>& tokens, std::vector<float>& step_logits);
}  // namespace vprim_test
