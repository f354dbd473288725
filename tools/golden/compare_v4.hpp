// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// The comparison half of the deepseek_v4 golden check, shared by the CPU and GPU backends: what
// a backend recorded under the peer's names against every recorded module output. Floats within
// 1e-4 * max(1, max|ref|); indexer and router indices as sets per row (-1 = none); router
// weights matched to their experts; the block bias as exact visibility.

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "golden_file.hpp"
#include "vprim/model/v4/config.hpp"

namespace vprim_golden {

struct v4_recording {
  std::map<std::string, std::vector<float>> floats;
  std::map<std::string, std::vector<std::int64_t>> indices;
};

//! What both backends read from a deepseek_v4 file before running: the config, the hash
//! routers' tables, the tokens, and the call lengths of each scope (prefill: one call; stream:
//! metadata["prefill"] tokens, then one per call).
struct v4_inputs {
  vprim::v4::config cfg;
  vprim::v4::index_source ids;
  std::vector<std::int64_t> tokens;
  std::vector<std::size_t> prefill_calls, stream_calls;
  [[nodiscard]] const std::vector<std::size_t>& calls(const std::string& scope) const {
    return scope == "prefill" ? prefill_calls : stream_calls;
  }
};

inline std::optional<v4_inputs> read_v4_inputs(const golden_file& g, report& rep) {
  auto cfg = vprim::v4::config_from_json(g.config);
  if (!cfg) {
    rep.problem(g.path + ": " + cfg.err().describe());
    return std::nullopt;
  }
  auto tokens = g.i64("prefill.input_ids", rep);
  if (!tokens) return std::nullopt;
  const auto prefill_len = g.file.meta("prefill");
  if (!prefill_len) {
    rep.problem(g.path + ": metadata has no 'prefill' length for the stream scope");
    return std::nullopt;
  }
  const std::size_t split = std::min<std::size_t>(std::stoul(std::string(*prefill_len)), tokens->size());
  v4_inputs in{*cfg, [&g](const std::string& name) { return g.file.to_i64("weight." + name); }, std::move(*tokens), {}, {}};
  in.prefill_calls = {in.tokens.size()};
  in.stream_calls.assign(in.tokens.size() - split, 1);
  if (split > 0) in.stream_calls.insert(in.stream_calls.begin(), split);
  return in;
}

//! The peer's name of a module output: <scope>.model.<path>.call<k>.<slot>.
inline std::string v4_key(const std::string& scope, std::string_view path, int call, std::string_view slot) {
  return scope + ".model." + std::string(path) + ".call" + std::to_string(call) + "." + std::string(slot);
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

//! Compares every recorded output of `g` (prefill and stream scopes) with `rec`.
inline void compare_v4_recording(const golden_file& g, report& rep, const v4_recording& rec) {
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
      const auto found = rec.indices.find(idx_name);
      const std::vector<std::int64_t> our_idx = found == rec.indices.end() ? std::vector<std::int64_t>{} : found->second;
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
