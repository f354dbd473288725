// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file sparse_attention.hpp
//! DeepSeek-V4's attention core for one query on the CPU (contract: kernels/sparse_attention.hpp).
//! The keys the query may see are gathered as pointers (no copy), then taken in blocks of
//! dot_block rows: a block stays in L1 while every head's logits against it are computed, and
//! again while every head adds its weighted rows, so the queries and outputs are read once
//! per block, not once per key. FP8 rows are widened a block at a time into L1 scratch.

#include <algorithm>
#include <cmath>

#include "vprim/cpu/dot_rows.hpp"
#include "vprim/cpu/kv_entry.hpp"
#include "vprim/kernels/sparse_attention.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

template <class Arch>
[[nodiscard]] status sparse_attention(Arch arch, const kernels::sparse_attention_args& a, workspace_arena& ws) {
  if (status s = kernels::sparse_attention_can_implement(a); s != status::ok) return s;
  const std::size_t H = a.heads, D = a.head_dim, most = kernels::sparse_attention_max_keys(a);
  workspace_arena::frame scratch(ws);
  auto* keys = ws.take<const float*>(most);
  auto* column = ws.take<std::size_t>(most);  // each key's column in `probs`
  auto* logits = ws.take<float>(H * most);
  float* wide = a.format.is_fp32() ? nullptr : ws.take<float>(dot_block * D);  // one block of FP8 keys, widened
  if (keys == nullptr || column == nullptr || logits == nullptr || (!a.format.is_fp32() && wide == nullptr))
    return status::out_of_memory;
  static_assert(kernels::sparse_attention_block == dot_block, "the workspace holds one block of widened keys");
  const float* block[dot_block];

  std::size_t nk = 0;
  for (std::size_t r = 0; r < a.raw_count; ++r) {
    const std::int64_t p = a.raw_positions[r];
    if (p <= a.position && p > a.position - static_cast<std::int64_t>(a.window)) {
      keys[nk] = a.raw_rows[r];
      column[nk++] = r;
    }
  }
  const auto visible = std::min(a.entry_count, static_cast<std::size_t>((a.position + 1) / a.ratio));
  auto take_entry = [&](std::int64_t e) {
    if (e < 0 || static_cast<std::size_t>(e) >= visible) return;
    keys[nk] = a.entries.row(static_cast<std::size_t>(e));
    column[nk++] = a.raw_count + static_cast<std::size_t>(e);
  };
  if (a.selected != nullptr) {
    for (std::size_t j = 0; j < a.selected_count; ++j) take_entry(a.selected[j]);
  } else {
    for (std::size_t e = 0; e < visible; ++e) take_entry(static_cast<std::int64_t>(e));
  }

  for (std::size_t j0 = 0; j0 < nk; j0 += dot_block) {
    const std::size_t nj = std::min(dot_block, nk - j0);
    kv_rows_as_fp32(arch, a.format, keys + j0, nj, wide, block);
    for (std::size_t h = 0; h < H; ++h) dot_rows(arch, a.q + h * D, block, nj, D, logits + h * nk + j0);
  }
  for (std::size_t h = 0; h < H; ++h) {  // softmax with the sink as one more logit
    float* lg = logits + h * nk;
    float mx = a.sinks[h];
    for (std::size_t j = 0; j < nk; ++j) mx = std::max(mx, lg[j] *= a.scale);
    float denom = std::exp(a.sinks[h] - mx);
    for (std::size_t j = 0; j < nk; ++j) denom += (lg[j] = std::exp(lg[j] - mx));
    const float inv = 1.0f / denom;
    for (std::size_t j = 0; j < nk; ++j) lg[j] *= inv;
  }
  std::fill(a.out, a.out + H * D, 0.0f);
  for (std::size_t j0 = 0; j0 < nk; j0 += dot_block) {
    const std::size_t nj = std::min(dot_block, nk - j0);
    kv_rows_as_fp32(arch, a.format, keys + j0, nj, wide, block);
    for (std::size_t h = 0; h < H; ++h) add_weighted_rows(arch, logits + h * nk + j0, block, nj, D, a.out + h * D);
  }
  if (a.probs != nullptr) {
    const std::size_t cols = a.raw_count + a.entry_count;
    std::fill(a.probs, a.probs + H * cols, 0.0f);
    for (std::size_t h = 0; h < H; ++h)
      for (std::size_t j = 0; j < nk; ++j) a.probs[h * cols + column[j]] = logits[h * nk + j];
  }
  return status::ok;
}

}  // namespace cpu
VPRIM_NAMESPACE_END
