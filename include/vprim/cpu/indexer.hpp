// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file indexer.hpp
//! The lightning indexer's scores for one query on the CPU (contract: kernels/indexer.hpp).
//! Keys are taken dot_block at a time: the block stays in L1 while every head's query runs
//! over it, so the queries ([heads, head_dim], a few KiB) are read once per block. FP8 keys are
//! widened a block at a time, on the stack (head_dim <= max_fp8_key_width).

#include <algorithm>

#include "vprim/cpu/dot_rows.hpp"
#include "vprim/cpu/kv_entry.hpp"
#include "vprim/kernels/indexer.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

//! The widest FP8 key this kernel widens on its stack (V4-Flash: 128).
inline constexpr std::size_t max_fp8_key_width = 256;

//! Scores of keys [first, last) (a caller splits one query's keys over threads this way);
//! scores[i] for key i, so the caller passes the whole scores array.
template <class Arch>
[[nodiscard]] status indexer_scores(Arch arch, const kernels::indexer_scores_args& a, std::size_t first, std::size_t last) {
  if (status s = kernels::indexer_scores_can_implement(a); s != status::ok) return s;
  if (!a.format.is_fp32() && a.head_dim > max_fp8_key_width) return status::not_supported;
  last = std::min(last, a.visible);
  const float* stored[dot_block];
  const float* rows[dot_block];
  float dots[dot_block];
  alignas(64) float wide[dot_block * max_fp8_key_width];  // 8 KiB of stack, written only for FP8 keys
  for (std::size_t i0 = first; i0 < last; i0 += dot_block) {
    const std::size_t n = std::min(dot_block, last - i0);
    for (std::size_t r = 0; r < n; ++r) stored[r] = a.keys.row(i0 + r);
    kv_rows_as_fp32(arch, a.format, stored, n, wide, rows);
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
