// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file indexer.hpp
//! The lightning indexer's scores for one query on the CPU (contract: kernels/indexer.hpp).
//! Keys are taken dot_block at a time: the block stays in L1 while every head's query runs
//! over it, so the queries ([heads, head_dim], a few KiB) are read once per block.

#include <algorithm>

#include "vprim/cpu/dot_rows.hpp"
#include "vprim/kernels/indexer.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

//! Scores of keys [first, last) (a caller splits one query's keys over threads this way);
//! scores[i] for key i, so the caller passes the whole scores array.
template <class Arch>
[[nodiscard]] status indexer_scores(Arch arch, const kernels::indexer_scores_args& a, std::size_t first, std::size_t last) {
  if (status s = kernels::indexer_scores_can_implement(a); s != status::ok) return s;
  last = std::min(last, a.visible);
  const float* rows[dot_block];
  float dots[dot_block];
  for (std::size_t i0 = first; i0 < last; i0 += dot_block) {
    const std::size_t n = std::min(dot_block, last - i0);
    for (std::size_t r = 0; r < n; ++r) rows[r] = a.keys.row(i0 + r);
    float* score = a.scores + i0;
    std::fill(score, score + n, 0.0f);
    for (std::size_t h = 0; h < a.heads; ++h) {
      dot_rows(arch, a.q + h * a.head_dim, rows, n, a.head_dim, dots);
      for (std::size_t r = 0; r < n; ++r) score[r] += std::max(dots[r], 0.0f) * a.head_weights[h];
    }
  }
  return status::ok;
}

template <class Arch>
[[nodiscard]] status indexer_scores(Arch arch, const kernels::indexer_scores_args& a) {
  return indexer_scores(arch, a, 0, a.visible);
}

}  // namespace cpu
VPRIM_NAMESPACE_END
