// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Golden checks of the DeepSeek-V4 decoder (kind deepseek_v4): the `prefill` scope (one call
// over all tokens) and the `stream` scope (a prefill of metadata["prefill"] tokens, then one
// token per call, through the same cache). Every recorded module output is compared: floats
// within 1e-4 * max(1, max|ref|); indexer and router indices as sets per row (-1 = none); router
// weights matched to their experts; the block bias as exact visibility.

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "golden_file.hpp"
#include "vprim/cpu/arch.hpp"
#include "vprim/model/v4/model.hpp"

namespace vprim_golden {

struct v4_recording {
  std::map<std::string, std::vector<float>> floats;
  std::map<std::string, std::vector<std::int64_t>> indices;
};

inline vprim::v4::observer recorder(v4_recording& rec, const std::string& scope, const int& call) {
  vprim::v4::observer obs;
  auto key = [&scope, &call](std::string_view path, std::string_view slot) {
    return scope + ".model." + std::string(path) + ".call" + std::to_string(call) + "." + std::string(slot);
  };
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

//! Rows of `cols` indices compared as sorted multisets.
inline void compare_index_sets(report& rep, const std::string& name, std::vector<std::int64_t> ours,
                               std::vector<std::int64_t> ref, const std::vector<std::int64_t>& shape) {
  const auto cols = shape.empty() ? std::size_t{1} : static_cast<std::size_t>(shape.back());
  if (ours.size() == ref.size() && cols > 0)
    for (std::size_t r = 0; r + cols <= ref.size(); r += cols) {
      std::sort(ours.begin() + static_cast<std::ptrdiff_t>(r), ours.begin() + static_cast<std::ptrdiff_t>(r + cols));
      std::sort(ref.begin() + static_cast<std::ptrdiff_t>(r), ref.begin() + static_cast<std::ptrdiff_t>(r + cols));
    }
  rep.exact(name + " (as sets)", ours, ref, shape);
}

inline void check_deepseek_v4(const golden_file& g, report& rep) {
  auto cfg = vprim::v4::config_from_json(g.config);
  if (!cfg) return rep.problem(g.path + ": " + cfg.err().describe());
  const vprim::weight_source src = vprim::weights_from(g.file, "weight.");
  const vprim::v4::index_source ids = [&g](const std::string& name) { return g.file.to_i64("weight." + name); };
  auto tokens = g.i64("prefill.input_ids", rep);
  if (!tokens) return;
  const auto prefill_len = g.file.meta("prefill");
  if (!prefill_len) return rep.problem(g.path + ": metadata has no 'prefill' length for the stream scope");
  const std::size_t split = static_cast<std::size_t>(std::stoul(std::string(*prefill_len)));
  vprim::serial_executor exec;
  v4_recording rec;
  const vprim::status st = vprim::cpu::dispatch_cpu([&](auto arch) {
    auto model = vprim::v4::decoder::load(arch, src, ids, *cfg);
    if (!model) {
      rep.problem(g.path + ": " + model.err().describe());
      return vprim::status::invalid_argument;
    }
    for (const std::string scope : {"prefill", "stream"}) {
      auto cache = model->new_cache();
      std::vector<float> all_logits, logits;
      int call = 0;
      auto obs = recorder(rec, scope, call);
      for (std::size_t begin = 0; begin < tokens->size();) {
        const std::size_t len = scope == "prefill" ? tokens->size() : (begin == 0 ? split : 1);
        auto emb = model->embed(tokens->data() + begin, len);
        if (!emb) return emb.code();
        if (auto s = model->forward(arch, emb->data(), tokens->data() + begin, len, cache, logits, exec, obs);
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

  for (const auto& e : g.file.tensors()) {
    const std::string& name = e.name;
    // Recorded inputs (slots in0, in1, in.<name>) and weights are not outputs to recompute.
    const auto call = name.rfind(".call");
    const auto slot_at = call == std::string::npos ? std::string::npos : name.find('.', call + 1);
    const std::string slot = slot_at == std::string::npos ? "" : name.substr(slot_at + 1);
    if (name.rfind("weight.", 0) == 0 || slot.rfind("in", 0) == 0 || name.ends_with("input_ids")) continue;
    const std::vector<std::int64_t> shape(e.shape.begin(), e.shape.end());
    const bool is_index = e.type == vprim::dtype::i64;
    if (is_index) {
      auto it = rec.indices.find(name);
      if (it == rec.indices.end()) {
        rep.problem(name + ": not produced by vprim");
        continue;
      }
      if (auto ref = g.i64(name, rep)) compare_index_sets(rep, name, it->second, *ref, shape);
      continue;
    }
    auto it = rec.floats.find(name);
    if (it == rec.floats.end()) {
      rep.problem(name + ": not produced by vprim");
      continue;
    }
    auto ref = g.f32(name, rep);
    if (!ref) continue;
    std::vector<float> ours = it->second;
    if (name.ends_with("mlp.gate.call0.out1") || (name.find("mlp.gate.call") != std::string::npos && name.ends_with(".out1"))) {
      // weights follow their experts: reorder ours into the reference's expert order
      const std::string idx_name = name.substr(0, name.size() - 4) + "out2";
      auto ref_idx = g.i64(idx_name, rep);
      const auto& our_idx = rec.indices[idx_name];
      const auto k = static_cast<std::size_t>(shape.back());
      if (ref_idx && our_idx.size() == ref_idx->size())
        for (std::size_t r = 0; r + k <= ours.size(); r += k)
          for (std::size_t j = 0; j < k; ++j)
            for (std::size_t i = 0; i < k; ++i)
              if (our_idx[r + i] == (*ref_idx)[r + j]) ours[r + j] = it->second[r + i];
    }
    if (name.ends_with("compressor.call0.out1") || (name.find(".compressor.call") != std::string::npos && name.ends_with(".out1"))) {
      // block bias: 0 visible, -inf hidden
      std::vector<std::int64_t> a, b;
      for (float v : ours) a.push_back(std::isinf(v) ? -1 : 0);
      for (float v : *ref) b.push_back(std::isinf(v) ? -1 : 0);
      rep.exact(name + " (visibility)", a, b, shape);
      continue;
    }
    rep.close(name, ours, *ref, shape);
  }
}

}  // namespace vprim_golden
