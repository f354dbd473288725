// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Naive N-layout reference written from the prose of research/visual_primitives.md §2.3: build
// the body row by row as a 2D table first, then read it out pair by pair, column by column.

#include <cstdint>
#include <vector>

namespace vprim_ref {

struct cell {
  int type;              // 1 PAD, 2 IMAGE, 3 NEWLINE
  std::int64_t index;    // row-major aligner index for IMAGE cells
};

inline void nlayout(int h, int w, std::int64_t start, std::vector<int>& types, std::vector<std::int64_t>& perm) {
  std::vector<std::vector<cell>> rows;
  for (int r = 0; r < h; ++r) {
    std::vector<cell> row;
    for (int c = 0; c < w; ++c) row.push_back({2, static_cast<std::int64_t>(r) * w + c});
    row.push_back({3, -1});
    rows.push_back(row);
  }
  if (h % 2 == 1) rows.push_back(std::vector<cell>(static_cast<std::size_t>(w) + 1, cell{1, -1}));
  std::vector<cell> body;
  for (std::size_t r = 0; r < rows.size(); r += 2)
    for (std::size_t c = 0; c < rows[r].size(); ++c) {
      body.push_back(rows[r][c]);
      body.push_back(rows[r + 1][c]);
    }
  const int pad_last = ((rows.size() / 2) * static_cast<std::size_t>(w + 1)) % 2 == 1 ? 2 : 0;
  const auto lead = static_cast<int>(3 - start % 4);
  types.assign(static_cast<std::size_t>(lead), 1);
  types.push_back(0);
  perm.clear();
  for (const auto& c : body) {
    types.push_back(c.type);
    if (c.type == 2) perm.push_back(c.index);
  }
  for (int i = 0; i < pad_last; ++i) types.push_back(1);
  types.push_back(4);
}

}  // namespace vprim_ref
