// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Golden checks of the vision towers: every recorded stage of DeepSeek-ViT + aligner and of
// Qwen2-VL's tower + merger, recomputed from pixels_chw and the file's own weights for the
// configuration in its metadata.

#include <map>
#include <string>
#include <vector>

#include "golden_file.hpp"
#include "vprim/cpu/arch.hpp"
#include "vprim/image/preprocess.hpp"
#include "vprim/model/vision_tower.hpp"

namespace vprim_golden {

//! Runs pixels_chw through the tower; returns the recorded stages keyed by name.
inline std::optional<std::map<std::string, std::vector<float>>> run_tower(const golden_file& g, vprim::tower_kind kind,
                                                                           const std::string& tower_prefix,
                                                                           const std::string& merger_prefix, report& rep) {
  auto cfg = vprim::tower_config_from_json(g.config, kind);
  if (!cfg) {
    rep.problem(g.path + ": " + cfg.err().describe());
    return std::nullopt;
  }
  auto pix = g.f32("pixels_chw", rep);
  if (!pix) return std::nullopt;
  const auto shape = g.shape("pixels_chw");
  if (shape.size() != 3) {
    rep.problem("pixels_chw: expected [C, H, W]");
    return std::nullopt;
  }
  const int H = static_cast<int>(shape[1]), W = static_cast<int>(shape[2]);
  auto patches = vprim::patchify(*pix, static_cast<int>(shape[0]), H, W, cfg->patch);
  if (!patches) {
    rep.problem("pixels_chw: " + patches.err().describe());
    return std::nullopt;
  }
  const int gh = H / cfg->patch, gw = W / cfg->patch;
  std::map<std::string, std::vector<float>> stages;
  vprim::tower_observer keep = [&](std::string_view name, const float* p, std::size_t rows, std::size_t cols) {
    stages[std::string(name)] = std::vector<float>(p, p + rows * cols);
  };
  vprim::serial_executor exec;
  const vprim::status st = vprim::cpu::dispatch_cpu([&](auto arch) {
    auto tower = vprim::vision_tower<>::load(arch, g.file, *cfg, tower_prefix, merger_prefix);
    if (!tower) {
      rep.problem(g.path + ": " + tower.err().describe());
      return vprim::status::invalid_argument;
    }
    std::vector<float> features, merged;
    if (auto s = tower->encode(arch, patches->data(), gh, gw, features, exec, keep); s != vprim::status::ok) return s;
    stages["features"] = features;
    return tower->merge(arch, features, gh, gw, merged, exec, keep);
  });
  if (st != vprim::status::ok) {
    rep.problem(g.path + ": the tower failed with " + std::string(vprim::to_string(st)));
    return std::nullopt;
  }
  return stages;
}

inline void compare_stage(const golden_file& g, report& rep, const std::map<std::string, std::vector<float>>& stages,
                          const std::string& ours, const std::string& ref_name) {
  auto it = stages.find(ours);
  if (it == stages.end()) return rep.problem(ref_name + ": the tower produced no '" + ours + "' stage");
  if (auto ref = g.f32(ref_name, rep)) rep.close(ref_name, it->second, *ref, g.shape(ref_name));
}

//! deepseek_vit: patch_embed, block<i>, vit_out, unfold, aligned.
inline void check_deepseek_vit_tower(const golden_file& g, report& rep) {
  auto stages = run_tower(g, vprim::tower_kind::deepseek_vit, "weight.vit.", "weight.aligner.", rep);
  if (!stages) return;
  compare_stage(g, rep, *stages, "patch_embed", "patch_embed");
  for (int l = 0; g.file.find("block" + std::to_string(l)); ++l)
    compare_stage(g, rep, *stages, "block" + std::to_string(l), "block" + std::to_string(l));
  compare_stage(g, rep, *stages, "vit_out", "vit_out");
  compare_stage(g, rep, *stages, "unfold", "unfold");
  compare_stage(g, rep, *stages, "aligned", "aligned");
}

//! qwen2_vl_vision: patch_embed.raster, block<i>.raster, merged.
inline void check_qwen2_vl_vision(const golden_file& g, report& rep) {
  auto stages = run_tower(g, vprim::tower_kind::qwen2_vl, "weight.", "weight.merger.", rep);
  if (!stages) return;
  compare_stage(g, rep, *stages, "patch_embed", "patch_embed.raster");
  for (int l = 0; g.file.find("block" + std::to_string(l) + ".raster"); ++l)
    compare_stage(g, rep, *stages, "block" + std::to_string(l), "block" + std::to_string(l) + ".raster");
  compare_stage(g, rep, *stages, "aligned", "merged");
}

}  // namespace vprim_golden
