// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The CPU tower for the GPU tests, compiled by the C++ compiler: nvcc's front end rejects the
// tower's policy-constrained template defaults.
#include "cpu_tower.hpp"

#include "vprim/cpu/arch.hpp"
#include "vprim/image/preprocess.hpp"
#include "vprim/model/vision_tower.hpp"

namespace vprim_test {

vprim::status cpu_tower_merged(const vprim::safetensors_file& file, const vprim::tower_config& cfg, const std::vector<float>& pixels,
                               int height, int width, std::vector<float>& merged) {
  auto patches = vprim::patchify(pixels, cfg.channels, height, width, cfg.patch);
  if (!patches) return patches.code();
  vprim::serial_executor serial;
  return vprim::cpu::dispatch_cpu([&](auto arch) {
    auto tower = vprim::vision_tower<>::load(arch, file, cfg, "weight.vit.", "weight.aligner.");
    if (!tower) return tower.code();
    std::vector<float> features;
    const int gh = height / cfg.patch, gw = width / cfg.patch;
    if (const auto s = tower->encode(arch, patches->data(), gh, gw, features, serial); s != vprim::status::ok) return s;
    return tower->merge(arch, features, gh, gw, merged, serial);
  });
}

}  // namespace vprim_test
