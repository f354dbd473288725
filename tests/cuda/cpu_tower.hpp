// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <vector>

#include "vprim/io/safetensors.hpp"
#include "vprim/model/vision_tower.hpp"

namespace vprim_test {
//! The CPU DeepSeek-ViT + aligner (weights "weight.vit.", "weight.aligner.") on a CHW image.
vprim::status cpu_tower_merged(const vprim::safetensors_file& file, const vprim::tower_config& cfg, const std::vector<float>& pixels,
                               int height, int width, std::vector<float>& merged);
}  // namespace vprim_test
