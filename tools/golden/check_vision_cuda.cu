// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The GPU golden checks of the vision tower (see cuda_backend.hpp).
#include <map>
#include <string>
#include <vector>

#include "cuda_backend.hpp"
#include "cuda_memory.cuh"
#include "vprim/model/cuda/vision_tower.cuh"

namespace vprim_golden {

std::string cuda_device_problem() { return vprim::cuda::device_problem(); }

namespace {
//! Runs pixels_chw through the GPU tower; compares each stage it reports with the peer's tensor
//! of the mapped name (stages without a name in `peer_names` are not recorded by the peer).
void check_tower_cuda(const golden_file& g, report& rep, vprim::tower_kind kind, const std::string& tower_prefix,
                      const std::string& merger_prefix, const std::map<std::string, std::string>& peer_names) {
  auto cfg = vprim::tower_config_from_json(g.config, kind);  // fp32 weights: the fp32 rule
  if (!cfg) return rep.problem(g.path + ": " + cfg.err().describe());
  const auto pixels = g.f32("pixels_chw", rep);
  if (!pixels) return;
  const auto shape = g.shape("pixels_chw");
  if (shape.size() != 3) return rep.problem("pixels_chw: expected [C, H, W]");
  auto tower = vprim::cuda::vision_tower::load(vprim::weights_from(g.file), *cfg, tower_prefix, merger_prefix);
  if (!tower) return rep.problem(g.path + ": " + tower.err().describe());
  const auto H = static_cast<std::size_t>(shape[1]), W = static_cast<std::size_t>(shape[2]);
  const std::size_t P = static_cast<std::size_t>(cfg->patch), f = static_cast<std::size_t>(cfg->merge);
  const std::size_t merged = ((H / P + f - 1) / f) * ((W / P + f - 1) / f) * static_cast<std::size_t>(cfg->out_dim);
  auto image = vprim::cuda::device_buffer<float>::upload(*pixels, "pixels_chw");
  if (!image) return rep.problem(image.err().describe());
  auto out = device_zeros<float>(merged, rep, "the tower output");
  if (!out) return;
  std::map<std::string, std::vector<float>> stages;
  vprim::cuda::device_observer keep = [&](std::string_view name, const float* data, std::size_t rows, std::size_t cols) {
    return copy_back(data, rows * cols, stages[std::string(name)]);
  };
  if (!run_with_workspace(rep, g.path + ": the GPU tower", [&](vprim::cuda::workspace& ws) {
        return tower->encode(image->data(), H, W, out->data(), ws, nullptr, keep);
      }))
    return;
  for (const auto& [name, ours] : stages) {
    const auto peer = peer_names.find(name);
    if (peer == peer_names.end() || !g.file.find(peer->second)) continue;
    if (auto ref = g.f32(peer->second, rep)) rep.close(peer->second + " (cuda)", ours, *ref, g.shape(peer->second));
  }
}

//! The peer's names of the stages: the same names, or with Qwen's ".raster" suffix.
std::map<std::string, std::string> stage_names(const golden_file& g, const std::string& suffix, const std::string& aligned) {
  std::map<std::string, std::string> names{
      {"patch_embed", "patch_embed" + suffix}, {"vit_out", "vit_out"}, {"unfold", "unfold"}, {"aligned", aligned}};
  for (int l = 0; g.file.find("block" + std::to_string(l) + suffix); ++l)
    names["block" + std::to_string(l)] = "block" + std::to_string(l) + suffix;
  return names;
}
}  // namespace

void check_deepseek_vit_cuda(const golden_file& g, report& rep) {
  check_tower_cuda(g, rep, vprim::tower_kind::deepseek_vit, "weight.vit.", "weight.aligner.", stage_names(g, "", "aligned"));
}

void check_qwen2_vl_vision_cuda(const golden_file& g, report& rep) {
  check_tower_cuda(g, rep, vprim::tower_kind::qwen2_vl, "weight.", "weight.merger.", stage_names(g, ".raster", "merged"));
}

}  // namespace vprim_golden
