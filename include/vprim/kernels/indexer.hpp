// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file indexer.hpp
//! Contract of the lightning indexer's scores for one query: over the visible compressed keys
//! i < visible, score_i = sum_h head_weight_h * relu(q_h . key_i). The caller folds the
//! d^-1/2 H^-1/2 scales into head_weight and picks the top-k of the scores (topk.hpp).

#include <cstddef>

#include "vprim/core/status.hpp"
#include "vprim/kernels/kv_entry.hpp"
#include "vprim/kernels/paged_rows.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

struct indexer_scores_args {
  std::size_t heads = 0, head_dim = 0;
  const float* q = nullptr;             //!< [heads, head_dim], rotated at the query's position
  const float* head_weights = nullptr;  //!< [heads]
  paged_rows<const float> keys{};       //!< width stored_key_floats(*this)
  std::size_t visible = 0;
  float* scores = nullptr;  //!< [visible]
  kv_row_format format{};   //!< how keys are stored (fp32 unless set; FP8 keys read as their widened values)
};

//! Floats of one stored key.
[[nodiscard]] constexpr std::size_t stored_key_floats(const indexer_scores_args& a) noexcept {
  return a.format.is_fp32() ? a.head_dim : a.format.stored_floats();
}

[[nodiscard]] constexpr status indexer_scores_can_implement(const indexer_scores_args& a) noexcept {
  if (a.heads == 0 || a.head_dim == 0 || a.q == nullptr || a.head_weights == nullptr) return status::invalid_argument;
  if (a.visible == 0) return status::ok;
  if (a.scores == nullptr || !a.keys.valid()) return status::invalid_argument;
  if (kv_row_format_can_implement(a.format) != status::ok) return status::invalid_argument;
  if ((!a.format.is_fp32() && a.format.width != a.head_dim) || a.keys.width != stored_key_floats(a)) return status::shape_mismatch;
  return status::ok;
}

}  // namespace kernels
VPRIM_NAMESPACE_END
