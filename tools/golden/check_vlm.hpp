// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Golden check of the whole vision-language path (kind vlm_end_to_end), through
// vprim::vision_language_model as the example runs it: the Qwen2-VL tower of `vision_weights`
// turns that file's pixels_chw into image features, which replace the placeholder embeddings of
// input_ids; the DeepSeek-V4 decoder of `llm_weights` prefills and decodes greedily. Checks: image_features, prefill_logits, step_logits, and generated exactly;
// outputs that differ only where an indexer tie touches them are TIE (ties.hpp).

#include <string>
#include <vector>

#include "check_v4.hpp"
#include "check_vision.hpp"
#include "vlm_inputs.hpp"
#include "vprim/model/vision_language.hpp"

namespace vprim_golden {

inline void check_vlm_end_to_end(const golden_file& g, report& rep) {
  auto in = read_vlm_inputs(g, rep);
  if (!in) return;
  const auto& tcfg = in->tower;
  auto patches = vprim::patchify(in->pixels, tcfg.channels, in->height, in->width, tcfg.patch);
  if (!patches) return rep.problem(in->vision.path + ": pixels_chw: " + patches.err().describe());

  // The same assembly as examples/vision_primitive_model.
  vprim::serial_executor exec;
  std::vector<float> features;
  vprim::v4::generation out;
  tie_map ties;
  const vprim::status st = vprim::cpu::dispatch_cpu([&](auto arch) {
    auto model = vprim::vision_language_model<>::load(arch, vprim::weights_from(in->vision.file, "weight."), tcfg, "", "merger.",
                                                      in->llm_weights(), in->llm_tables(), in->decoder);
    if (!model) {
      rep.problem(g.path + ": " + model.err().describe());
      return model.code();
    }
    auto f = model->image_features(arch, patches->data(), in->height / tcfg.patch, in->width / tcfg.patch, exec);
    if (!f) {
      rep.problem(g.path + ": " + f.err().describe());
      return f.code();
    }
    features = std::move(*f);
    auto cache = model->decoder().new_cache();
    vprim::v4::sampler greedy;
    auto gen = model->generate(arch, in->ids, in->placeholder, features, in->generated.size(), greedy, cache, exec, {},
                               tie_recorder(ties));
    if (!gen) {
      rep.problem(g.path + ": " + gen.err().describe());
      return gen.code();
    }
    out = std::move(*gen);
    return vprim::status::ok;
  });
  if (st != vprim::status::ok) return;
  compare_vlm(g, rep, *in, features, out.tokens, out.step_logits, "", ties);
}

}  // namespace vprim_golden
