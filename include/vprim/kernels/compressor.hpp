// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file compressor.hpp
//! Contract of the CSA/HCA KV compressor's update for one sequence. The caller has projected
//! this call's tokens (kv = W_kv x, gate = W_gate x, `proj` wide each). Every window of `ratio`
//! positions that completes in this call becomes entry w (w = window start / ratio):
//!   slots j of the window: kv_j = own channels, z_j = gate_j + position_bias[j];
//!   with overlap (CSA) the projections are 2c wide: channels [c, 2c) feed the window itself and
//!   channels [0, c) of the previous window are `ratio` extra slots before them (none before
//!   window 0);
//!   entry = RMSNorm(sum_j softmax_j(z)_e kv_j,e) * norm_weight, its trailing rope pairs rotated
//!   at position w * ratio.
//! State kept between calls (fixed size, in the caller's pool):
//!   buffer_kv/buffer_gate [ratio, proj]: tokens of the partial window, position p at row p % ratio;
//!   overlap_kv/overlap_gate [ratio, c]: the last complete window's [0, c) half (gate with bias).
//! What the state holds follows from the sequence length alone, so no counter is kept.

#include <cstddef>
#include <cstdint>

#include "vprim/core/status.hpp"
#include "vprim/core/workspace.hpp"
#include "vprim/kernels/kv_entry.hpp"
#include "vprim/kernels/paged_rows.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

struct compressor_state_view {
  float* buffer_kv = nullptr;
  float* buffer_gate = nullptr;
  float* overlap_kv = nullptr;
  float* overlap_gate = nullptr;
};

struct compressor_update_args {
  std::size_t ratio = 0, width = 0;
  bool overlap = false;
  std::int64_t first_position = 0;  //!< tokens of the sequence before this call
  std::size_t rows = 0;             //!< tokens in this call
  const float* kv = nullptr;        //!< [rows, ld], proj channels used
  const float* gate = nullptr;      //!< [rows, ld], without the position bias
  std::size_t ld = 0;
  const float* position_bias = nullptr;  //!< [ratio, proj]
  const float* norm_weight = nullptr;    //!< [width]
  float eps = 1e-6f;
  const float* inv_freq = nullptr;  //!< rope_pairs frequencies of the trailing 2 * rope_pairs channels
  std::size_t rope_pairs = 0;
  compressor_state_view state{};
  paged_rows<float> entries{};  //!< width stored_entry_floats()
  kv_row_format format{};       //!< how entries are stored (fp32 unless set)

  [[nodiscard]] constexpr std::size_t proj() const noexcept { return overlap ? 2 * width : width; }
  [[nodiscard]] constexpr std::size_t stored_entry_floats() const noexcept { return format.is_fp32() ? width : format.stored_floats(); }
};

[[nodiscard]] constexpr workspace_size compressor_update_workspace(const compressor_update_args& a) noexcept {
  return workspace_size{}.add<float>(2 * a.ratio * a.width).add<float>(2 * a.ratio * a.width).add<float>(a.width);
}

[[nodiscard]] constexpr status compressor_update_can_implement(const compressor_update_args& a) noexcept {
  if (a.ratio == 0 || a.width == 0 || 2 * a.rope_pairs > a.width) return status::invalid_argument;
  if (kv_row_format_can_implement(a.format) != status::ok) return status::invalid_argument;
  if (!a.format.is_fp32() && a.format.width != a.width) return status::shape_mismatch;
  if (a.rows > 0 && (a.kv == nullptr || a.gate == nullptr)) return status::invalid_argument;
  if (a.rows > 0 && a.ld < a.proj()) return status::shape_mismatch;
  if (a.position_bias == nullptr || a.norm_weight == nullptr || (a.rope_pairs > 0 && a.inv_freq == nullptr))
    return status::invalid_argument;
  if (a.state.buffer_kv == nullptr || a.state.buffer_gate == nullptr) return status::invalid_argument;
  if (a.overlap && (a.state.overlap_kv == nullptr || a.state.overlap_gate == nullptr)) return status::invalid_argument;
  if (a.first_position < 0) return status::out_of_range;
  const auto end = static_cast<std::size_t>(a.first_position) + a.rows;
  if (end / a.ratio > static_cast<std::size_t>(a.first_position) / a.ratio) {  // entries will be written
    if (!a.entries.valid()) return status::invalid_argument;
    if (a.entries.width != a.stored_entry_floats()) return status::shape_mismatch;
  }
  return status::ok;
}

}  // namespace kernels
VPRIM_NAMESPACE_END
