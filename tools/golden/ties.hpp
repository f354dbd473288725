// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Telling a tie from a defect. When the lightning indexer's top-k cuts through exactly equal
// scores (say several entries score 0 because every head's ReLU is zero), vprim keeps the lower
// indices (top_k_indices' rule) and the peer's torch.topk may keep others: both are right, and
// what follows differs. A tie at layer L, position p touches layer L's outputs at p, every later
// layer's outputs at p and after, and the logits at p and after. Outputs no tie touches are
// compared as always; touched ones that differ are reported as TIE (with the layer, position and
// tied score), not FAIL, and touched ones that agree still PASS.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "report.hpp"

namespace vprim_golden {

//! A query whose top-k cut through equal scores: `value` held by `chosen` chosen entries and
//! `left_out` others (vprim::v4::topk_boundary_tie, recorded by the CPU checks' observer).
struct indexer_tie {
  int layer = 0;
  std::int64_t position = 0;
  float value = 0.0f;
  std::size_t chosen = 0, left_out = 0;
};

//! The layer number of a module path ("...layers.3.self_attn..." -> 3), if it names one.
inline std::optional<int> layer_of(std::string_view path) {
  const auto at = path.find("layers.");
  if (at == std::string_view::npos) return std::nullopt;
  int n = 0;
  std::size_t i = at + 7, digits = 0;
  for (; i < path.size() && path[i] >= '0' && path[i] <= '9'; ++i, ++digits) n = n * 10 + (path[i] - '0');
  if (digits == 0) return std::nullopt;
  return n;
}

class tie_map {
 public:
  void add(indexer_tie t) { ties_.push_back(t); }
  [[nodiscard]] bool empty() const noexcept { return ties_.empty(); }
  [[nodiscard]] const std::vector<indexer_tie>& ties() const noexcept { return ties_; }

  //! Whether a tie touches the output of `layer` (nullopt: the logits, after every layer) at
  //! `position`; the ties that do, described, in `why`.
  [[nodiscard]] bool touches(std::optional<int> layer, std::int64_t position, std::string* why = nullptr) const {
    bool any = false;
    for (const auto& t : ties_) {
      const bool hit = !layer ? position >= t.position
                              : (*layer == t.layer ? position == t.position : *layer > t.layer && position >= t.position);
      if (!hit) continue;
      if (why != nullptr && !any) *why = describe(t);
      any = true;
    }
    return any;
  }

  [[nodiscard]] static std::string describe(const indexer_tie& t) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "indexer tie at layer %d position %lld: score %.9g held by %zu chosen and %zu left-out entries",
                  t.layer, static_cast<long long>(t.position), static_cast<double>(t.value), t.chosen, t.left_out);
    return buf;
  }

 private:
  std::vector<indexer_tie> ties_;
};

//! rows x cols values whose row r holds position first_position + r: the rows no tie touches
//! are compared as report::close does; touched rows pass if close, else are reported as TIE.
inline void close_rows(report& rep, const std::string& name, std::span<const float> ours, std::span<const float> ref,
                       const std::vector<std::int64_t>& shape, std::size_t cols, std::int64_t first_position,
                       std::optional<int> layer, const tie_map& ties) {
  if (ties.empty() || cols == 0 || ours.size() != ref.size() || ref.size() % cols != 0)
    return rep.close(name, ours, ref, shape);
  std::vector<float> clean_ours, clean_ref;
  std::vector<std::size_t> touched;
  for (std::size_t r = 0; r * cols < ref.size(); ++r) {
    if (ties.touches(layer, first_position + static_cast<std::int64_t>(r))) {
      touched.push_back(r);
      continue;
    }
    clean_ours.insert(clean_ours.end(), ours.begin() + static_cast<std::ptrdiff_t>(r * cols),
                      ours.begin() + static_cast<std::ptrdiff_t>((r + 1) * cols));
    clean_ref.insert(clean_ref.end(), ref.begin() + static_cast<std::ptrdiff_t>(r * cols),
                     ref.begin() + static_cast<std::ptrdiff_t>((r + 1) * cols));
  }
  if (touched.empty()) return rep.close(name, ours, ref, shape);
  if (!clean_ref.empty())
    rep.close(name + " (rows no tie touches)", clean_ours, clean_ref,
              {static_cast<std::int64_t>(clean_ref.size() / cols), static_cast<std::int64_t>(cols)});
  for (std::size_t r : touched) {
    const std::int64_t position = first_position + static_cast<std::int64_t>(r);
    const std::string row = name + " row " + std::to_string(r) + " (position " + std::to_string(position) + ")";
    const auto o = ours.subspan(r * cols, cols), f = ref.subspan(r * cols, cols);
    if (rep.within(o, f)) {
      rep.close(row, o, f, {static_cast<std::int64_t>(cols)});
    } else {
      std::string why;
      (void)ties.touches(layer, position, &why);
      rep.tie(row, rep.difference(o, f) + "; " + why);
    }
  }
}

//! Integers one per position (generated tokens): as report::exact, with touched positions that
//! differ reported as TIE.
inline void exact_positions(report& rep, const std::string& name, std::span<const std::int64_t> ours,
                            std::span<const std::int64_t> ref, const std::vector<std::int64_t>& shape,
                            std::int64_t first_position, const tie_map& ties) {
  if (ties.empty() || ours.size() != ref.size()) return rep.exact(name, ours, ref, shape);
  std::vector<std::int64_t> clean_ours, clean_ref;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const std::int64_t position = first_position + static_cast<std::int64_t>(i);
    std::string why;
    if (!ties.touches(std::nullopt, position, &why)) {
      clean_ours.push_back(ours[i]);
      clean_ref.push_back(ref[i]);
    } else if (ours[i] != ref[i]) {
      rep.tie(name + "[" + std::to_string(i) + "] (chosen from the logits of position " + std::to_string(position) + ")",
              "ours=" + std::to_string(ours[i]) + " ref=" + std::to_string(ref[i]) + "; " + why);
    }
  }
  rep.exact(name + (clean_ref.size() == ref.size() ? "" : " (positions no tie touches)"), clean_ours, clean_ref,
            {static_cast<std::int64_t>(clean_ref.size())});
}

}  // namespace vprim_golden
