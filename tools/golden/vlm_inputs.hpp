// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// What both backends' checks of kind vlm_end_to_end read (the file, its two companion weight
// files and their configs) and how they compare what they produced. No model code here, so
// that nvcc compiles it for the GPU check.

#include <optional>
#include <string>
#include <vector>

#include "golden_file.hpp"
#include "ties.hpp"
#include "vprim/model/v4/config.hpp"
#include "vprim/model/vision_tower.hpp"
#include "vprim/model/weights.hpp"

namespace vprim_golden {

//! The companion file named by metadata `key`, opened with its config, or nullopt after
//! reporting why not.
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

struct vlm_inputs {
  golden_file vision, llm;  //!< the Qwen2-VL tower + merger, the DeepSeek-V4 decoder
  vprim::tower_config tower;
  vprim::v4::config decoder;
  std::vector<float> pixels;  //!< the vision file's pixels_chw [C, height, width]
  int height = 0, width = 0;
  std::vector<std::int64_t> ids, generated;
  std::int64_t placeholder = 0;
  //! The decoder's weights and hash tables ("weight." names, as the golden files store them).
  [[nodiscard]] vprim::weight_source llm_weights() const { return vprim::weights_from(llm.file, "weight."); }
  [[nodiscard]] vprim::v4::index_source llm_tables() const {
    return [f = &llm.file](const std::string& name) { return f->to_i64("weight." + name); };
  }
};

inline std::optional<vlm_inputs> read_vlm_inputs(const golden_file& g, report& rep) {
  auto vision = open_companion(g, "vision_weights", rep);
  auto llm = open_companion(g, "llm_weights", rep);
  if (!vision || !llm) return std::nullopt;
  auto tcfg = vprim::tower_config_from_json(vision->config, vprim::tower_kind::qwen2_vl);
  auto cfg = vprim::v4::config_from_json(llm->config);
  if (!tcfg || !cfg) {
    rep.problem(!tcfg ? vision->path + ": " + tcfg.err().describe() : llm->path + ": " + cfg.err().describe());
    return std::nullopt;
  }
  auto pix = vision->f32("pixels_chw", rep);
  auto ids = g.i64("input_ids", rep);
  auto placeholder = g.i64("image_token_id", rep);
  auto generated = g.i64("generated", rep);
  if (!pix || !ids || !placeholder || !generated || placeholder->empty()) return std::nullopt;
  const auto shape = vision->shape("pixels_chw");
  if (shape.size() != 3) {
    rep.problem(vision->path + ": pixels_chw: expected [C, H, W]");
    return std::nullopt;
  }
  const int H = static_cast<int>(shape[1]), W = static_cast<int>(shape[2]);
  return vlm_inputs{std::move(*vision), std::move(*llm), *tcfg, *cfg, std::move(*pix), H, W, std::move(*ids),
                    std::move(*generated), (*placeholder)[0]};
}

//! The four checks: image_features, prefill_logits (the first row of step_logits),
//! step_logits [generated + 1, vocab] and the generated tokens exactly. Row r of step_logits is
//! the logits at position prompt - 1 + r; rows an indexer tie touches follow ties.hpp.
inline void compare_vlm(const golden_file& g, report& rep, const vlm_inputs& in, const std::vector<float>& features,
                        const std::vector<std::int64_t>& tokens, const std::vector<float>& step_logits,
                        const std::string& tag = "", const tie_map& ties = {}) {
  const auto V = static_cast<std::size_t>(in.decoder.vocab);
  const auto last_prompt = static_cast<std::int64_t>(in.ids.size()) - 1;
  if (auto ref = g.f32("image_features", rep)) rep.close("image_features" + tag, features, *ref, g.shape("image_features"));
  if (auto ref = g.f32("prefill_logits", rep))
    close_rows(rep, "prefill_logits" + tag,
               std::vector<float>(step_logits.begin(), step_logits.begin() + static_cast<std::ptrdiff_t>(std::min(V, step_logits.size()))),
               *ref, g.shape("prefill_logits"), V, last_prompt, std::nullopt, ties);
  if (auto ref = g.f32("step_logits", rep))
    close_rows(rep, "step_logits" + tag, step_logits, *ref, g.shape("step_logits"), V, last_prompt, std::nullopt, ties);
  exact_positions(rep, "generated" + tag, tokens, in.generated, g.shape("generated"), last_prompt, ties);
}

}  // namespace vprim_golden
