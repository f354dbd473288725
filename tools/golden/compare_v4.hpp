// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// The comparison half of the deepseek_v4 golden check, shared by the CPU and GPU backends: what
// a backend recorded under the peer's names against every recorded module output. Floats within
// 1e-4 * max(1, max|ref|); indexer and router indices as sets per row (-1 = none); router
// weights matched to their experts; the block bias as exact visibility.

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "golden_file.hpp"
#include "ties.hpp"
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

//! Where a recorded tensor's rows lie: its first position, its row count and width, and its
//! layer (nullopt after the last layer). Module outputs are [1, S, ...] or [S, ...] for a call of
//! S tokens; other layouts count as one row at the call's last position. Logits
//! (<scope>.logits) hold one row per position of the scope.
struct v4_rows {
  std::int64_t first_position = 0;
  std::size_t cols = 0;
  std::optional<int> layer;
};
inline v4_rows rows_of(const std::string& name, const std::vector<std::int64_t>& shape, std::size_t size,
                       const v4_inputs& in) {
  v4_rows r;
  const auto dot = name.find('.');
  const std::string scope = name.substr(0, dot);
  const auto call_at = name.rfind(".call");
  if (call_at == std::string::npos) {  // <scope>.logits
    r.cols = static_cast<std::size_t>(in.cfg.vocab);
    return r;
  }
  r.layer = layer_of(std::string_view(name).substr(0, call_at));
  const int call = std::atoi(name.c_str() + call_at + 5);
  const auto& calls = in.calls(scope);
  std::size_t len = 0;
  for (int c = 0; c <= call && c < static_cast<int>(calls.size()); ++c) {
    if (c < call) r.first_position += static_cast<std::int64_t>(calls[static_cast<std::size_t>(c)]);
    len = calls[static_cast<std::size_t>(c)];
  }
  const auto S = static_cast<std::int64_t>(len);
  if (shape.size() >= 2 && shape[0] == 1 && shape[1] == S) r.cols = size / len;
  else if (!shape.empty() && shape[0] == S) r.cols = size / len;
  else {  // one row at the call's last position
    r.first_position += S - 1;
    r.cols = size;
  }
  return r;
}

//! Index rows (sets) that differ where an indexer tie touches them are reported as TIE and
//! replaced by the reference's, so that compare_index_sets judges only the others.
inline void take_tied_index_rows(report& rep, const std::string& name, std::vector<std::int64_t>& ours,
                                 const std::vector<std::int64_t>& ref, const v4_rows& rows, const tie_map& ties) {
  if (ties.empty() || rows.cols == 0 || ref.size() % rows.cols != 0 || ours.size() != ref.size()) return;
  for (std::size_t r = 0; r * rows.cols < ref.size(); ++r) {
    const auto position = rows.first_position + static_cast<std::int64_t>(r);
    const auto from = static_cast<std::ptrdiff_t>(r * rows.cols), to = static_cast<std::ptrdiff_t>((r + 1) * rows.cols);
    std::vector<std::int64_t> o(ours.begin() + from, ours.begin() + to), f(ref.begin() + from, ref.begin() + to);
    std::sort(o.begin(), o.end());
    std::sort(f.begin(), f.end());
    std::string why;
    if (o == f || !ties.touches(rows.layer, position, &why)) continue;
    rep.tie(name + " row " + std::to_string(r) + " (position " + std::to_string(position) + ")", why);
    std::copy(ref.begin() + from, ref.begin() + to, ours.begin() + from);
  }
}

//! Compares every recorded output of `g` (prefill and stream scopes) with `rec`; outputs that
//! differ only where an indexer tie touches them are TIE (ties.hpp).
inline void compare_v4_recording(const golden_file& g, report& rep, const v4_recording& rec, const v4_inputs& in,
                                 const tie_map& ties = {}) {
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
      if (auto ref = g.i64(name, rep)) {
        std::vector<std::int64_t> ours = it->second;
        take_tied_index_rows(rep, name, ours, *ref, rows_of(name, shape, ref->size(), in), ties);
        compare_index_sets(rep, name, ours, *ref, shape);
      }
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
    const auto rows = rows_of(name, shape, ref->size(), in);
    close_rows(rep, name, ours, *ref, shape, rows.cols, rows.first_position, rows.layer, ties);
  }
}

}  // namespace vprim_golden
