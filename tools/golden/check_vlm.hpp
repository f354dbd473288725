// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Golden check of the whole vision-language path (kind vlm_end_to_end), through
// vprim::vision_language_model as the example runs it: the Qwen2-VL tower of `vision_weights`
// turns that file's pixels_chw into image features, which replace the placeholder embeddings of
// input_ids; the DeepSeek-V4 decoder of `llm_weights` prefills and decodes greedily. Checks: image_features, prefill_logits, step_logits, and generated exactly.

#include <string>
#include <vector>

#include "check_v4.hpp"
#include "check_vision.hpp"
#include "vprim/model/vision_language.hpp"

namespace vprim_golden {

inline std::optional<golden_file> open_companion(const golden_file& g, const char* key, report& rep) {
  const auto name = g.file.meta(key);
  if (!name) {
    rep.problem(g.path + ": metadata has no '" + key + "'");
    return std::nullopt;
  }
  const std::string path = g.dir + "/" + std::string(*name);
  auto f = vprim::safetensors_file::open(path);
  if (!f) {
    rep.problem("cannot read " + f.err().describe());
    return std::nullopt;
  }
  golden_file c{path, g.dir, std::move(*f), "", {}};
  if (auto cfg = c.file.meta("config")) {
    auto j = vprim::parse_json(*cfg);
    if (!j) {
      rep.problem(path + ": config is not valid JSON");
      return std::nullopt;
    }
    c.config = std::move(*j);
  }
  return c;
}

inline void check_vlm_end_to_end(const golden_file& g, report& rep) {
  auto vision = open_companion(g, "vision_weights", rep);
  auto llm = open_companion(g, "llm_weights", rep);
  if (!vision || !llm) return;
  auto tcfg = vprim::tower_config_from_json(vision->config, vprim::tower_kind::qwen2_vl);
  if (!tcfg) return rep.problem(vision->path + ": " + tcfg.err().describe());
  auto cfg = vprim::v4::config_from_json(llm->config);
  if (!cfg) return rep.problem(llm->path + ": " + cfg.err().describe());
  auto pix = vision->f32("pixels_chw", rep);
  auto ids = g.i64("input_ids", rep);
  auto placeholder = g.i64("image_token_id", rep);
  auto generated = g.i64("generated", rep);
  if (!pix || !ids || !placeholder || !generated || placeholder->empty()) return;
  const auto shape = vision->shape("pixels_chw");
  if (shape.size() != 3) return rep.problem(vision->path + ": pixels_chw: expected [C, H, W]");
  const int H = static_cast<int>(shape[1]), W = static_cast<int>(shape[2]);
  auto patches = vprim::patchify(*pix, static_cast<int>(shape[0]), H, W, tcfg->patch);
  if (!patches) return rep.problem(vision->path + ": pixels_chw: " + patches.err().describe());

  // The same assembly as examples/vision_primitive_model.
  vprim::serial_executor exec;
  std::vector<float> features;
  vprim::v4::generation out;
  const vprim::status st = vprim::cpu::dispatch_cpu([&](auto arch) {
    auto model = vprim::vision_language_model<>::load(
        arch, vprim::weights_from(vision->file, "weight."), *tcfg, "", "merger.", vprim::weights_from(llm->file, "weight."),
        [&llm](const std::string& name) { return llm->file.to_i64("weight." + name); }, *cfg);
    if (!model) {
      rep.problem(g.path + ": " + model.err().describe());
      return model.code();
    }
    auto f = model->image_features(arch, patches->data(), H / tcfg->patch, W / tcfg->patch, exec);
    if (!f) {
      rep.problem(g.path + ": " + f.err().describe());
      return f.code();
    }
    features = std::move(*f);
    auto cache = model->decoder().new_cache();
    vprim::v4::sampler greedy;
    auto gen = model->generate(arch, *ids, (*placeholder)[0], features, generated->size(), greedy, cache, exec);
    if (!gen) {
      rep.problem(g.path + ": " + gen.err().describe());
      return gen.code();
    }
    out = std::move(*gen);
    return vprim::status::ok;
  });
  if (st != vprim::status::ok) return;
  if (auto ref = g.f32("image_features", rep)) rep.close("image_features", features, *ref, g.shape("image_features"));
  const auto V = static_cast<std::size_t>(cfg->vocab);
  if (auto ref = g.f32("prefill_logits", rep))
    rep.close("prefill_logits", std::vector<float>(out.step_logits.begin(), out.step_logits.begin() + static_cast<std::ptrdiff_t>(V)),
              *ref, g.shape("prefill_logits"));
  if (auto ref = g.f32("step_logits", rep)) rep.close("step_logits", out.step_logits, *ref, g.shape("step_logits"));
  rep.exact("generated", out.tokens, *generated, g.shape("generated"));
}

}  // namespace vprim_golden
