// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// The kinds the checker knows. Each kind's function recomputes every recorded tensor with vprim
// and compares it.

#include <string>
#include <string_view>

#include "check_image.hpp"
#include "check_v4.hpp"
#include "check_vision.hpp"
#include "check_vlm.hpp"
#include "golden_file.hpp"

namespace vprim_golden {

struct kind_entry {
  std::string_view kind;
  void (*check)(const golden_file&, report&);
};

//! Kind deepseek_vit: resize rule, N-layout, pixel path, and the tower + aligner.
inline void check_deepseek_vit(const golden_file& g, report& rep) {
  check_resize_table(g, rep);
  check_nlayouts(g, rep);
  check_vision_exp_pixels(g, rep);
  check_deepseek_vit_tower(g, rep);
}

//! Known kinds, in the order of the data path.
inline constexpr kind_entry known_kinds[] = {
    {"qwen2_vl_preprocess", [](const golden_file& g, report& rep) { check_qwen2_vl_preprocess(g, rep); }},
    {"deepseek_vit", check_deepseek_vit},
    {"qwen2_vl_vision", check_qwen2_vl_vision},
    {"deepseek_v4", check_deepseek_v4},
    {"vlm_end_to_end", check_vlm_end_to_end},
};

}  // namespace vprim_golden
