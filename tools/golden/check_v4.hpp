// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Golden checks of the DeepSeek-V4 decoder on the CPU (kind deepseek_v4): the `prefill` scope
// (one call over all tokens) and the `stream` scope (a prefill of metadata["prefill"] tokens,
// then one token per call, through the same cache); compare_v4.hpp holds the rules.

#include <string>
#include <vector>

#include "compare_v4.hpp"
#include "ties.hpp"
#include "vprim/cpu/arch.hpp"
#include "vprim/model/v4/model.hpp"

namespace vprim_golden {

inline vprim::v4::observer recorder(v4_recording& rec, const std::string& scope, const int& call) {
  vprim::v4::observer obs;
  auto key = [&scope, &call](std::string_view path, std::string_view slot) { return v4_key(scope, path, call, slot); };
  obs.floats = [&rec, key](std::string_view path, std::string_view slot, const float* p, std::vector<std::int64_t> shape) {
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    rec.floats[key(path, slot)] = std::vector<float>(p, p + n);
  };
  obs.indices = [&rec, key](std::string_view path, std::string_view slot, const std::int64_t* p,
                            std::vector<std::int64_t> shape) {
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    rec.indices[key(path, slot)] = std::vector<std::int64_t>(p, p + n);
  };
  return obs;
}

//! An observer that records every indexer tie the decoder reports into `ties`.
inline vprim::v4::observer tie_recorder(tie_map& ties) {
  vprim::v4::observer obs;
  obs.ties = [&ties](std::string_view path, std::int64_t position, const vprim::v4::topk_boundary_tie& t) {
    ties.add({layer_of(path).value_or(0), position, t.value, t.chosen, t.left_out});
  };
  return obs;
}

inline void check_deepseek_v4(const golden_file& g, report& rep) {
  const auto in = read_v4_inputs(g, rep);
  if (!in) return;
  vprim::serial_executor exec;
  v4_recording rec;
  tie_map ties;  // both scopes run the same tokens, so their ties are the same positions'
  const vprim::status st = vprim::cpu::dispatch_cpu([&](auto arch) {
    auto model = vprim::v4::decoder::load(arch, vprim::weights_from(g.file, "weight."), in->ids, in->cfg);
    if (!model) {
      rep.problem(g.path + ": " + model.err().describe());
      return vprim::status::invalid_argument;
    }
    for (const std::string scope : {"prefill", "stream"}) {
      auto cache = model->new_cache();
      std::vector<float> all_logits, logits;
      int call = 0;
      auto obs = recorder(rec, scope, call);
      obs.ties = tie_recorder(ties).ties;
      std::size_t begin = 0;
      for (std::size_t len : in->calls(scope)) {
        auto emb = model->embed(in->tokens.data() + begin, len);
        if (!emb) return emb.code();
        if (auto s = model->forward(arch, emb->data(), in->tokens.data() + begin, len, cache, logits, exec, obs);
            s != vprim::status::ok)
          return s;
        all_logits.insert(all_logits.end(), logits.begin(), logits.end());
        begin += len;
        ++call;
      }
      rec.floats[scope + ".logits"] = all_logits;
    }
    return vprim::status::ok;
  });
  if (st != vprim::status::ok) return rep.problem(g.path + ": the decoder failed with " + std::string(vprim::to_string(st)));
  compare_v4_recording(g, rep, rec, *in, ties);
}

}  // namespace vprim_golden
