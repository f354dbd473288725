// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The GPU golden checks of the vision tower (see cuda_backend.hpp).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cuda_backend.hpp"
#include "vprim/cuda/vision_tower.cuh"

namespace vprim_golden {

bool cuda_device_present() {
  int devices = 0;
  return cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0;
}

namespace {
struct device_release {
  void operator()(void* p) const noexcept { cudaFree(p); }
};
using device_memory = std::unique_ptr<void, device_release>;

device_memory device_alloc(std::size_t bytes, report& rep, const std::string& what) {
  void* p = nullptr;
  if (const cudaError_t e = cudaMalloc(&p, std::max<std::size_t>(bytes, 1)); e != cudaSuccess) {
    rep.problem(vprim::cuda::to_error(e, ("allocating " + what).c_str()).describe());
    return nullptr;
  }
  return device_memory(p);
}
}  // namespace

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
  auto image = device_alloc(pixels->size() * sizeof(float), rep, "the image");
  auto out = device_alloc(merged * sizeof(float), rep, "the tower output");
  if (!image || !out) return;
  if (const cudaError_t e = cudaMemcpy(image.get(), pixels->data(), pixels->size() * sizeof(float), cudaMemcpyHostToDevice);
      e != cudaSuccess)
    return rep.problem(vprim::cuda::to_error(e, "copying pixels_chw to the device").describe());
  std::map<std::string, std::vector<float>> stages;
  vprim::cuda::device_observer keep = [&](std::string_view name, const float* data, std::size_t rows, std::size_t cols) {
    std::vector<float> host(rows * cols);
    cudaError_t e = cudaStreamSynchronize(nullptr);
    if (e == cudaSuccess) e = cudaMemcpy(host.data(), data, host.size() * sizeof(float), cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) return vprim::cuda::to_status(e);
    stages[std::string(name)] = std::move(host);
    return vprim::status::ok;
  };
  vprim::cuda::workspace ws;
  auto* in = static_cast<const float*>(image.get());
  auto* dst = static_cast<float*>(out.get());
  if (const auto s = tower->encode(in, H, W, dst, ws, nullptr); s != vprim::status::ok)
    return rep.problem(g.path + ": workspace query failed with " + std::string(vprim::to_string(s)));
  auto scratch = device_alloc(ws.bytes, rep, "the tower workspace");
  if (!scratch) return;
  ws.ptr = scratch.get();
  if (const auto s = tower->encode(in, H, W, dst, ws, nullptr, keep); s != vprim::status::ok)
    return rep.problem(g.path + ": the GPU tower failed with " + std::string(vprim::to_string(s)));
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
