// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Golden check of the whole vision-language path (kind vlm_end_to_end): the Qwen2-VL tower of
// `vision_weights` turns that file's pixels_chw into image features, which replace the
// placeholder embeddings of input_ids; the DeepSeek-V4 decoder of `llm_weights` prefills and
// decodes greedily. Checks: image_features, prefill_logits, step_logits, and generated exactly.

#include <string>
#include <vector>

#include "check_v4.hpp"
#include "check_vision.hpp"
#include "vprim/model/v4/generate.hpp"

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
  auto stages = run_tower(*vision, vprim::tower_kind::qwen2_vl, "weight.", "weight.merger.", rep);
  if (!stages) return;
  const std::vector<float>& features = (*stages)["aligned"];
  if (auto ref = g.f32("image_features", rep)) rep.close("image_features", features, *ref, g.shape("image_features"));

  auto cfg = vprim::v4::config_from_json(llm->config);
  if (!cfg) return rep.problem(llm->path + ": " + cfg.err().describe());
  auto ids = g.i64("input_ids", rep);
  auto placeholder = g.i64("image_token_id", rep);
  auto generated = g.i64("generated", rep);
  if (!ids || !placeholder || !generated || placeholder->empty()) return;
  const vprim::weight_source src = [&llm](const std::string& name, const std::vector<vprim::index_t>& shape) {
    return vprim::detail::read_weight(llm->file, "weight." + name, shape);
  };
  const vprim::v4::index_source id_src = [&llm](const std::string& name) { return llm->file.to_i64("weight." + name); };
  vprim::serial_executor exec;
  vprim::v4::generation out;
  const vprim::status st = vprim::cpu::dispatch_cpu([&](auto arch) {
    auto model = vprim::v4::decoder::load(arch, src, id_src, *cfg);
    if (!model) {
      rep.problem(llm->path + ": " + model.err().describe());
      return vprim::status::invalid_argument;
    }
    auto emb = model->embed(ids->data(), ids->size());
    if (!emb) return emb.code();
    vprim::error why;
    const auto dim = static_cast<std::size_t>(cfg->hidden);
    if (auto s = vprim::v4::splice_features(*emb, ids->data(), ids->size(), dim, (*placeholder)[0], features.data(),
                                            features.size() / dim, &why);
        s != vprim::status::ok) {
      rep.problem(g.path + ": " + why.describe());
      return s;
    }
    auto cache = model->new_cache();
    auto gen = vprim::v4::greedy_generate(arch, *model, cache, *emb, *ids, generated->size(), exec);
    if (!gen) {
      rep.problem(g.path + ": " + gen.err().describe());
      return gen.code();
    }
    out = std::move(*gen);
    return vprim::status::ok;
  });
  if (st != vprim::status::ok) return;
  const auto V = static_cast<std::size_t>(cfg->vocab);
  if (auto ref = g.f32("prefill_logits", rep))
    rep.close("prefill_logits", std::vector<float>(out.step_logits.begin(), out.step_logits.begin() + static_cast<std::ptrdiff_t>(V)),
              *ref, g.shape("prefill_logits"));
  if (auto ref = g.f32("step_logits", rep)) rep.close("step_logits", out.step_logits, *ref, g.shape("step_logits"));
  rep.exact("generated", out.tokens, *generated, g.shape("generated"));
}

}  // namespace vprim_golden
