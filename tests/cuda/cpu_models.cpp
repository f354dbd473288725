// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The CPU models the GPU tests compare with, compiled by the C++ compiler: nvcc's front end
// rejects the tower's policy-constrained template defaults.
#include "cpu_models.hpp"

#include "vprim/cpu/arch.hpp"
#include "vprim/image/preprocess.hpp"
#include "vprim/model/v4/model.hpp"
#include "vprim/model/vision_language.hpp"
#include "vprim/model/vision_tower.hpp"

namespace vprim_test {

vprim::status cpu_tower_merged(const vprim::safetensors_file& file, const vprim::tower_config& cfg, const std::string& tower_prefix,
                               const std::string& merger_prefix, const std::vector<float>& pixels, int height, int width,
                               std::vector<float>& merged) {
  auto patches = vprim::patchify(pixels, cfg.channels, height, width, cfg.patch);
  if (!patches) return patches.code();
  vprim::serial_executor serial;
  return vprim::cpu::dispatch_cpu([&](auto arch) {
    auto tower = vprim::vision_tower<>::load(arch, file, cfg, tower_prefix, merger_prefix);
    if (!tower) return tower.code();
    std::vector<float> features;
    const int gh = height / cfg.patch, gw = width / cfg.patch;
    if (const auto s = tower->encode(arch, patches->data(), gh, gw, features, serial); s != vprim::status::ok) return s;
    return tower->merge(arch, features, gh, gw, merged, serial);
  });
}

vprim::status cpu_v4_logits(const vprim::safetensors_file& file, const vprim::v4::config& cfg, const std::vector<std::int64_t>& tokens,
                            const std::vector<std::size_t>& split, std::vector<float>& logits) {
  const vprim::v4::index_source ids = [&file](const std::string& name) { return file.to_i64("weight." + name); };
  vprim::serial_executor serial;
  return vprim::cpu::dispatch_cpu([&](auto arch) {
    auto model = vprim::v4::decoder::load(arch, vprim::weights_from(file, "weight."), ids, cfg);
    if (!model) return model.code();
    auto cache = model->new_cache();
    logits.clear();
    std::size_t begin = 0;
    std::vector<float> part;
    for (std::size_t len : split) {
      auto emb = model->embed(tokens.data() + begin, len);
      if (!emb) return emb.code();
      if (const auto s = model->forward(arch, emb->data(), tokens.data() + begin, len, cache, part, serial); s != vprim::status::ok)
        return s;
      logits.insert(logits.end(), part.begin(), part.end());
      begin += len;
    }
    return vprim::status::ok;
  });
}

vprim::status cpu_vlm_generate(const vprim::safetensors_file& vision, const vprim::tower_config& tcfg, const vprim::safetensors_file& llm,
                               const vprim::v4::config& cfg, const std::vector<float>& pixels, int height, int width,
                               const std::vector<std::int64_t>& ids, std::int64_t placeholder, std::size_t steps,
                               std::vector<float>& features, std::vector<std::int64_t>& tokens, std::vector<float>& step_logits) {
  auto patches = vprim::patchify(pixels, tcfg.channels, height, width, tcfg.patch);
  if (!patches) return patches.code();
  const vprim::v4::index_source tables = [&llm](const std::string& name) { return llm.to_i64("weight." + name); };
  vprim::serial_executor serial;
  return vprim::cpu::dispatch_cpu([&](auto arch) {
    auto model = vprim::vision_language_model<>::load(arch, vprim::weights_from(vision, "weight."), tcfg, "", "merger.",
                                                      vprim::weights_from(llm, "weight."), tables, cfg);
    if (!model) return model.code();
    auto f = model->image_features(arch, patches->data(), height / tcfg.patch, width / tcfg.patch, serial);
    if (!f) return f.code();
    features = *f;
    auto cache = model->decoder().new_cache();
    vprim::v4::sampler greedy;
    auto gen = model->generate(arch, ids, placeholder, features, steps, greedy, cache, serial);
    if (!gen) return gen.code();
    tokens = gen->tokens;
    step_logits = gen->step_logits;
    return vprim::status::ok;
  });
}

}  // namespace vprim_test
