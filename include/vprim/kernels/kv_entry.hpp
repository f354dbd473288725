// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file kv_entry.hpp
//! The FP8 KV entry of DeepSeek-V4 as serving engines store it (vLLM's V4 cache, FlashMLA's
//! "MODEL1" format; research/deepseek_v4.md §10-§11, release_format.md "KV entry formats"): one
//! entry of head_dim values is its NoPE part in e4m3 with one UE8M0 scale per `tile` values,
//! then its trailing RoPE part in bf16, then the scales, padded to 8 bytes. V4-Flash: 448 e4m3 +
//! 64 bf16 (128 B) + 7 scales + 1 pad = 584 bytes per entry (1024 in bf16, 2048 in fp32).
//!
//! The quantiser is the reference's QAT rule, so an engine's cache holds exactly what the
//! reference model computed with: per tile, amax = max(|x|, 1e-4), scale = 2^ceil(log2(amax /
//! 448)), q = e4m3(x / scale) (round to nearest even; |x / scale| <= 448 by the choice of scale).
//! The RoPE values are rounded to bf16 (nearest even). Backend-neutral: the CPU and CUDA kernels
//! share this layout.

#include <cstddef>
#include <cstdint>
#include <numeric>

#include "vprim/core/config.hpp"
#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

struct fp8_kv_layout {
  std::size_t head_dim = 512;  //!< values per entry
  std::size_t rope_dim = 64;   //!< trailing values kept in bf16
  std::size_t tile = 64;       //!< NoPE values per UE8M0 scale

  [[nodiscard]] constexpr std::size_t nope() const noexcept { return head_dim - rope_dim; }
  [[nodiscard]] constexpr std::size_t tiles() const noexcept { return nope() / tile; }
  //! Byte offsets inside an entry: e4m3 NoPE values, bf16 RoPE values, the scales.
  [[nodiscard]] constexpr std::size_t rope_offset() const noexcept { return nope(); }
  [[nodiscard]] constexpr std::size_t scale_offset() const noexcept { return nope() + 2 * rope_dim; }
  //! Bytes per entry, padded to a multiple of 8.
  [[nodiscard]] constexpr std::size_t bytes() const noexcept { return (scale_offset() + tiles() + 7) / 8 * 8; }
};

//! V4-Flash's entry: 584 bytes.
inline constexpr fp8_kv_layout v4_flash_kv_layout{512, 64, 64};
static_assert(v4_flash_kv_layout.bytes() == 584);

//! Errors: a zero tile, a RoPE part wider than the entry or of odd width, a NoPE part that is
//! not whole tiles (invalid_argument).
[[nodiscard]] constexpr status fp8_kv_can_implement(const fp8_kv_layout& l) noexcept {
  if (l.tile == 0 || l.rope_dim > l.head_dim || l.rope_dim % 2 != 0 || l.nope() % l.tile != 0) return status::invalid_argument;
  return status::ok;
}

//! The entry layout for a model's heads: V4-Flash's tile of 64 where the NoPE part is whole
//! tiles of 64, else the largest tile dividing both (small test configurations).
[[nodiscard]] constexpr fp8_kv_layout fp8_kv_layout_for(std::size_t head_dim, std::size_t rope_dim) noexcept {
  const std::size_t nope = head_dim > rope_dim ? head_dim - rope_dim : 0;
  return {head_dim, rope_dim, nope == 0 ? 64 : std::gcd(nope, std::size_t{64})};
}

//! How a KV cache stores one row of `width` values (a window row, a compressed entry, an indexer
//! key): fp32 values; an FP8 entry (fp8_kv_layout); or an FP8 key, `width` e4m3 codes (padded
//! to 4 bytes) then one fp32 scale, as vLLM's V4 indexer cache holds them (128 + 4 bytes for
//! V4-Flash). Stored rows sit in float-typed pool memory, stored_floats() floats each.
struct kv_row_format {
  enum class kind : std::uint8_t { fp32, fp8_entry, fp8_key };
  kind type = kind::fp32;
  std::size_t width = 0;
  fp8_kv_layout entry{};  //!< for fp8_entry: entry.head_dim == width

  [[nodiscard]] static constexpr kv_row_format fp32_rows(std::size_t width) noexcept { return {kind::fp32, width, {}}; }
  [[nodiscard]] static constexpr kv_row_format fp8_entries(fp8_kv_layout l) noexcept { return {kind::fp8_entry, l.head_dim, l}; }
  [[nodiscard]] static constexpr kv_row_format fp8_keys(std::size_t width) noexcept { return {kind::fp8_key, width, {}}; }

  [[nodiscard]] constexpr bool is_fp32() const noexcept { return type == kind::fp32; }
  //! Byte offset of an FP8 key's scale.
  [[nodiscard]] constexpr std::size_t key_scale_offset() const noexcept { return (width + 3) / 4 * 4; }
  [[nodiscard]] constexpr std::size_t bytes() const noexcept {
    return type == kind::fp32 ? 4 * width : type == kind::fp8_entry ? entry.bytes() : key_scale_offset() + 4;
  }
  [[nodiscard]] constexpr std::size_t stored_floats() const noexcept { return (bytes() + 3) / 4; }
};

//! Errors: an FP8 entry layout fp8_kv_can_implement refuses or not `width` wide
//! (invalid_argument).
[[nodiscard]] constexpr status kv_row_format_can_implement(const kv_row_format& f) noexcept {
  if (f.type != kv_row_format::kind::fp8_entry) return status::ok;
  if (f.entry.head_dim != f.width) return status::invalid_argument;
  return fp8_kv_can_implement(f.entry);
}

//! The reference's floor on a tile's absolute maximum (an all-zero tile gets a finite scale).
inline constexpr float fp8_kv_amax_floor = 1e-4f;
//! e4m3's largest finite value.
inline constexpr float e4m3_max = 448.0f;

}  // namespace kernels
VPRIM_NAMESPACE_END
