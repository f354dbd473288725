// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file sparse_attention.hpp
//! Contract of DeepSeek-V4's attention core for one query: all heads of the query attend one
//! shared key/value head (each key row is its own value) over
//!   - raw keys of the sliding window: those with position in (position - window, position],
//!   - compressed entries visible to the query, i < min(entry_count, (position + 1) / ratio):
//!     the `selected` ones (CSA: the indexer's choice; -1 and invisible indices are skipped) or,
//!     with selected == nullptr, every visible one (HCA),
//! with a per-head sink logit in the softmax (a key whose value is zero):
//!   out_h = sum_j softmax_j(scale * q_h . k_j ; sink_h) k_j.
//! Keys enter the softmax in the order given: raw rows first, then entries in `selected` order.
//! Raw rows and entries are stored in `format` (kv_entry.hpp; default fp32 rows of head_dim):
//! FP8 rows are read as their widened values.

#include <cstddef>
#include <cstdint>

#include "vprim/core/status.hpp"
#include "vprim/core/workspace.hpp"
#include "vprim/kernels/kv_entry.hpp"
#include "vprim/kernels/paged_rows.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

struct sparse_attention_args {
  std::size_t heads = 0, head_dim = 0;
  const float* q = nullptr;  //!< [heads, head_dim]
  std::int64_t position = 0;

  std::size_t raw_count = 0;
  const float* const* raw_rows = nullptr;      //!< raw_count rows of head_dim
  const std::int64_t* raw_positions = nullptr;  //!< their positions
  std::size_t window = 0;

  paged_rows<const float> entries{};  //!< width stored_row_floats(*this)
  std::size_t entry_count = 0;        //!< entries the sequence holds
  std::int64_t ratio = 1;             //!< tokens per entry
  const std::int64_t* selected = nullptr;
  std::size_t selected_count = 0;

  const float* sinks = nullptr;  //!< [heads]
  float scale = 1.0f;
  float* out = nullptr;    //!< [heads, head_dim]
  float* probs = nullptr;  //!< optional [heads, raw_count + entry_count]: each key's probability, 0 for keys not attended
  kv_row_format format{};  //!< how raw rows and entries are stored (fp32 unless set)
};

//! Floats of one stored raw row or entry.
[[nodiscard]] constexpr std::size_t stored_row_floats(const sparse_attention_args& a) noexcept {
  return a.format.is_fp32() ? a.head_dim : a.format.stored_floats();
}

//! Keys one call may attend at most.
[[nodiscard]] constexpr std::size_t sparse_attention_max_keys(const sparse_attention_args& a) noexcept {
  return a.raw_count + (a.selected != nullptr ? a.selected_count : a.entry_count);
}

//! Keys taken at a time (FP8 rows are widened a block at a time).
inline constexpr std::size_t sparse_attention_block = 8;

[[nodiscard]] constexpr workspace_size sparse_attention_workspace(const sparse_attention_args& a) noexcept {
  const std::size_t keys = sparse_attention_max_keys(a);
  return workspace_size{}.add<const float*>(keys).add<std::size_t>(keys).add<float>(a.heads * keys).add<float>(
      a.format.is_fp32() ? 0 : sparse_attention_block * a.head_dim);
}

[[nodiscard]] constexpr status sparse_attention_can_implement(const sparse_attention_args& a) noexcept {
  if (a.heads == 0 || a.head_dim == 0 || a.q == nullptr || a.out == nullptr || a.sinks == nullptr) return status::invalid_argument;
  if (a.raw_count > 0 && (a.raw_rows == nullptr || a.raw_positions == nullptr)) return status::invalid_argument;
  if (kv_row_format_can_implement(a.format) != status::ok) return status::invalid_argument;
  if (!a.format.is_fp32() && a.format.width != a.head_dim) return status::shape_mismatch;
  if (a.entry_count > 0) {
    if (!a.entries.valid() || a.ratio <= 0) return status::invalid_argument;
    if (a.entries.width != stored_row_floats(a)) return status::shape_mismatch;
  }
  if (a.selected_count > 0 && a.selected == nullptr) return status::invalid_argument;
  if (a.position < 0) return status::out_of_range;
  return status::ok;
}

}  // namespace kernels
VPRIM_NAMESPACE_END
