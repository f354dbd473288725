// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Golden checks of the image path: resize planning (both rules), the N-layout block, and the
// pixel tensors (resampling tolerance: the resampler need not be bit-identical to PIL).

#include <cstdio>
#include <string>
#include <vector>

#include "golden_file.hpp"
#include "vprim/image/nlayout.hpp"
#include "vprim/image/preprocess.hpp"

namespace vprim_golden {

//! Names of the tensors starting with `prefix` and ending with `suffix`, in file order.
inline std::vector<std::string> names_like(const golden_file& g, const std::string& prefix, const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& e : g.file.tensors())
    if (e.name.rfind(prefix, 0) == 0 && e.name.size() >= prefix.size() + suffix.size() &&
        e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(e.name);
  return out;
}

//! The u8 HWC image stored under `name`.
inline std::optional<vprim::rgb_image> read_image(const golden_file& g, const std::string& name, report& rep) {
  auto view = g.file.view<std::uint8_t, 3>(name);
  if (!view) {
    rep.problem(name + ": " + view.err().describe());
    return std::nullopt;
  }
  auto img = vprim::to_rgb_image(*view);
  if (!img) {
    rep.problem(name + ": " + img.err().describe());
    return std::nullopt;
  }
  return std::move(*img);
}

//! resize_table rows: width, height, n_llm_h, n_llm_w, best_h, best_w, block_tokens.
inline void check_resize_table(const golden_file& g, report& rep) {
  auto ref = g.i64("resize_table", rep);
  if (!ref) return;
  const auto shape = g.shape("resize_table");
  if (shape.size() != 2 || shape[1] != 7) return rep.problem("resize_table: expected 7 columns");
  const auto patch = g.config_int("vision_patch_size", rep);
  const auto merge = g.config_int("vision_downsample_ratio", rep);
  if (!patch || !merge) return;
  std::vector<std::int64_t> ours;
  for (std::int64_t r = 0; r < shape[0]; ++r) {
    const auto* row = ref->data() + r * 7;
    auto plan = vprim::plan_vision_exp(static_cast<int>(row[0]), static_cast<int>(row[1]), vprim::presets::vision_exp_budget,
                                       static_cast<int>(*patch), static_cast<int>(*merge));
    if (!plan) return rep.problem("resize_table row " + std::to_string(r) + ": " + plan.err().describe());
    ours.insert(ours.end(), {row[0], row[1], plan->n_llm_h, plan->n_llm_w, plan->target_height, plan->target_width,
                             plan->block_tokens});
  }
  rep.exact("resize_table", ours, *ref, shape);
}

//! nlayout.<h>x<w>.start<p>.types / .perm
inline void check_nlayouts(const golden_file& g, report& rep) {
  for (const auto& name : names_like(g, "nlayout.", ".types")) {
    int h = 0, w = 0;
    long long start = 0;
    if (std::sscanf(name.c_str(), "nlayout.%dx%d.start%lld.types", &h, &w, &start) != 3) {
      rep.problem(name + ": cannot read the grid and start position from the name");
      continue;
    }
    const std::string base = name.substr(0, name.size() - std::string(".types").size());
    auto block = vprim::build_image_block(h, w, start);
    if (!block) {
      rep.problem(name + ": " + block.err().describe());
      continue;
    }
    std::vector<std::int64_t> types;
    for (auto t : block->types) types.push_back(static_cast<std::int64_t>(t));
    if (auto ref = g.i64(name, rep)) rep.exact(name, types, *ref, g.shape(name));
    if (auto ref = g.i64(base + ".perm", rep)) rep.exact(base + ".perm", block->perm, *ref, g.shape(base + ".perm"));
  }
}

//! The pixel paths under test: the CPU's, or the GPU's with the same contract (cuda_backend.hpp).
using vision_exp_pixels = vprim::result<vprim::tower_input> (*)(const vprim::rgb_image&, const vprim::vision_exp_plan&);
using smart_resize_pixels = vprim::result<vprim::tower_input> (*)(const vprim::rgb_image&, const vprim::smart_resize_plan&);

inline vprim::result<vprim::tower_input> cpu_vision_exp_pixels(const vprim::rgb_image& img, const vprim::vision_exp_plan& plan) {
  return vprim::preprocess_vision_exp(img, plan);
}
inline vprim::result<vprim::tower_input> cpu_smart_resize_pixels(const vprim::rgb_image& img, const vprim::smart_resize_plan& plan) {
  return vprim::preprocess_smart_resize(img, plan);
}

//! img<w>x<h>.hwc_u8 -> .pixels_chw and .grid through the Vision-Exp path.
inline void check_vision_exp_pixels(const golden_file& g, report& rep, vision_exp_pixels pixels = cpu_vision_exp_pixels) {
  for (const auto& name : names_like(g, "img", ".hwc_u8")) {
    const std::string base = name.substr(0, name.size() - std::string(".hwc_u8").size());
    auto img = read_image(g, name, rep);
    if (!img) continue;
    auto plan = vprim::plan_vision_exp(img->width, img->height);
    if (!plan) {
      rep.problem(base + ": " + plan.err().describe());
      continue;
    }
    const std::vector<std::int64_t> grid = {plan->n_vit_h, plan->n_vit_w, plan->n_llm_h, plan->n_llm_w};
    if (auto ref = g.i64(base + ".grid", rep)) rep.exact(base + ".grid", grid, *ref, g.shape(base + ".grid"));
    auto px = pixels(*img, *plan);
    if (!px) {
      rep.problem(base + ".pixels_chw: " + px.err().describe());
      continue;
    }
    if (auto ref = g.f32(base + ".pixels_chw", rep))
      rep.resampled(base + ".pixels_chw", px->chw, *ref, g.shape(base + ".pixels_chw"), 0.02, 0.003);
  }
}

//! The layout gen_golden.py stores as `img*.pixels_chw` for the Qwen processor. It reshapes the
//! processor's pixel_values (rows in merge-window order, features C x T x 14 x 14) to
//! (bh, bw, my, mx, C, T, py, px) and permutes by (5, 2, 0, 3, 6, 1, 4, 7), which gives
//! (T, my, bh, mx, py, bw, C, px), not CHW as its README says. We rebuild the processor's rows
//! from our pixels and apply the same permute, so the recorded numbers are compared as written.
inline std::vector<float> qwen_golden_layout(const vprim::tower_input& px, int patch, int merge) {
  const int gh = px.height / patch, gw = px.width / patch, bh = gh / merge, bw = gw / merge;
  const auto plane = static_cast<std::size_t>(px.height) * static_cast<std::size_t>(px.width);
  auto at = [&](int c, int y, int x) {
    return px.chw[static_cast<std::size_t>(c) * plane + static_cast<std::size_t>(y) * static_cast<std::size_t>(px.width) +
                  static_cast<std::size_t>(x)];
  };
  std::vector<float> out;
  out.reserve(plane * 3);
  for (int my = 0; my < merge; ++my)
    for (int b_h = 0; b_h < bh; ++b_h)
      for (int m_x = 0; m_x < merge; ++m_x)
        for (int py = 0; py < patch; ++py)
          for (int b_w = 0; b_w < bw; ++b_w)
            for (int c = 0; c < 3; ++c)
              for (int p_x = 0; p_x < patch; ++p_x)
                out.push_back(at(c, (b_h * merge + my) * patch + py, (b_w * merge + m_x) * patch + p_x));
  return out;
}

//! Kind qwen2_vl_preprocess: smart_resize_table and the CLIP-normalised pixels.
inline void check_qwen2_vl_preprocess(const golden_file& g, report& rep, smart_resize_pixels pixels = cpu_smart_resize_pixels) {
  if (auto ref = g.i64("smart_resize_table", rep)) {
    const auto shape = g.shape("smart_resize_table");
    if (shape.size() != 2 || shape[1] != 5) return rep.problem("smart_resize_table: expected 5 columns");
    std::vector<std::int64_t> ours;
    for (std::int64_t r = 0; r < shape[0]; ++r) {
      const auto* row = ref->data() + r * 5;
      auto plan = vprim::plan_smart_resize(static_cast<int>(row[0]), static_cast<int>(row[1]));
      if (!plan) return rep.problem("smart_resize_table row " + std::to_string(r) + ": " + plan.err().describe());
      ours.insert(ours.end(), {row[0], row[1], plan->target_height, plan->target_width, plan->merged_tokens});
    }
    rep.exact("smart_resize_table", ours, *ref, shape);
  }
  for (const auto& name : names_like(g, "img", ".hwc_u8")) {
    const std::string base = name.substr(0, name.size() - std::string(".hwc_u8").size());
    auto img = read_image(g, name, rep);
    if (!img) continue;
    auto plan = vprim::plan_smart_resize(img->height, img->width);
    if (!plan) {
      rep.problem(base + ": " + plan.err().describe());
      continue;
    }
    auto px = pixels(*img, *plan);
    if (!px) {
      rep.problem(base + ".pixels_chw: " + px.err().describe());
      continue;
    }
    if (auto ref = g.f32(base + ".pixels_chw", rep))
      rep.resampled(base + ".pixels_chw", qwen_golden_layout(*px, 14, 3), *ref, g.shape(base + ".pixels_chw"), 0.03,
                    0.005);
  }
}

}  // namespace vprim_golden
