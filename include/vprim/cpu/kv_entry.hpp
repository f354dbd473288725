// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file kv_entry.hpp
//! KV rows in their stored formats on the CPU (kernels/kv_entry.hpp): FP8 entries quantised by
//! the reference's rule and widened back; any row format stored from fp32 and widened, alone or
//! a block of keys at a time for attention and the indexer.
//!
//! e4m3 is widened exactly in SIMD registers (fp8.hpp).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "vprim/core/dtype.hpp"
#include "vprim/cpu/fp8.hpp"
#include "vprim/kernels/kv_entry.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

namespace detail {

//! The reference's rule for n values sharing one scale: amax floored at 1e-4, the scale the
//! power of two at or above amax / 448 (its E8M0 code returned), codes = e4m3(x / scale).
[[nodiscard]] inline std::uint8_t quantize_e4m3_tile(const float* x, std::size_t n, std::byte* codes) noexcept {
  float amax = kernels::fp8_kv_amax_floor;
  for (std::size_t j = 0; j < n; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const std::uint8_t code = float_to_e8m0_bits(amax / kernels::e4m3_max);
  const float inv = 1.0f / e8m0_bits_to_float(code);  // a power of two: exact
  for (std::size_t j = 0; j < n; ++j) codes[j] = std::byte{float_to_e4m3_bits(x[j] * inv)};
  return code;
}

[[nodiscard]] inline float kv_entry_tile_scale(const std::byte* entry, const kernels::fp8_kv_layout& l, std::size_t t) noexcept {
  return e8m0_bits_to_float(std::to_integer<std::uint8_t>(entry[l.scale_offset() + t]));
}

}  // namespace detail

//! Quantises `rows` fp32 rows [rows, head_dim] (row stride ld) into entries [rows, l.bytes()].
[[nodiscard]] inline status quantize_kv_entries(const kernels::fp8_kv_layout& l, const float* x, std::size_t ld,
                                                std::size_t rows, std::byte* entries) {
  if (const status s = kernels::fp8_kv_can_implement(l); s != status::ok) return s;
  if (rows == 0) return status::ok;
  if (x == nullptr || entries == nullptr || ld < l.head_dim) return status::invalid_argument;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* src = x + r * ld;
    std::byte* e = entries + r * l.bytes();
    for (std::size_t t = 0; t < l.tiles(); ++t)
      e[l.scale_offset() + t] = std::byte{detail::quantize_e4m3_tile(src + t * l.tile, l.tile, e + t * l.tile)};
    for (std::size_t j = 0; j < l.rope_dim; ++j) {
      const std::uint16_t b = float_to_bf16_bits(src[l.nope() + j]);
      std::memcpy(e + l.rope_offset() + 2 * j, &b, 2);
    }
    for (std::size_t p = l.scale_offset() + l.tiles(); p < l.bytes(); ++p) e[p] = std::byte{0};
  }
  return status::ok;
}

//! Widens one entry to fp32 [head_dim] (each tile's codes times its scale, exact).
template <class Arch>
void dequantize_kv_entry(Arch, const kernels::fp8_kv_layout& l, const std::byte* entry, float* out) noexcept {
  for (std::size_t t = 0; t < l.tiles(); ++t)
    detail::widen_e4m3<Arch>(entry + t * l.tile, l.tile, out + t * l.tile, detail::kv_entry_tile_scale(entry, l, t));
  detail::widen_bf16_bytes<Arch>(entry + l.rope_offset(), l.rope_dim, out + l.nope());
}

//! Stores x [f.width] as one row in format f at `row` (fp32: a copy). FP8 keys take the
//! entries' scale rule over the whole key (amax floored at 1e-4, the power of two at or above
//! amax / 448), kept as an fp32 value.
template <class Arch>
void store_kv_row(Arch, const kernels::kv_row_format& f, const float* x, float* row) noexcept {
  using kind = kernels::kv_row_format::kind;
  auto* bytes = reinterpret_cast<std::byte*>(row);
  if (f.type == kind::fp32) {
    std::copy_n(x, f.width, row);
  } else if (f.type == kind::fp8_entry) {
    (void)quantize_kv_entries(f.entry, x, f.width, 1, bytes);  // the layout was checked with the format
  } else {
    const float scale = e8m0_bits_to_float(detail::quantize_e4m3_tile(x, f.width, bytes));
    for (std::size_t j = f.width; j < f.key_scale_offset(); ++j) bytes[j] = std::byte{0};
    std::memcpy(bytes + f.key_scale_offset(), &scale, 4);
  }
}

//! Widens a row stored in format f to fp32 [f.width].
template <class Arch>
void widen_kv_row(Arch arch, const kernels::kv_row_format& f, const float* row, float* out) noexcept {
  using kind = kernels::kv_row_format::kind;
  const auto* bytes = reinterpret_cast<const std::byte*>(row);
  if (f.type == kind::fp32) {
    std::copy_n(row, f.width, out);
  } else if (f.type == kind::fp8_entry) {
    dequantize_kv_entry(arch, f.entry, bytes, out);
  } else {
    float scale;
    std::memcpy(&scale, bytes + f.key_scale_offset(), 4);
    detail::widen_e4m3<Arch>(bytes, f.width, out, scale);
  }
}

//! rows[i] = stored[i]'s values in fp32, i < count: the stored rows themselves in fp32 format,
//! else widened into scratch [count, f.width]. Attention and the indexer widen a block of
//! dot_block keys this way, in L1, and run every head over it: never a widened copy of the cache.
template <class Arch>
void kv_rows_as_fp32(Arch arch, const kernels::kv_row_format& f, const float* const* stored, std::size_t count, float* scratch,
                     const float** rows) noexcept {
  for (std::size_t i = 0; i < count; ++i) {
    if (f.is_fp32()) {
      rows[i] = stored[i];
    } else {
      widen_kv_row(arch, f, stored[i], scratch + i * f.width);
      rows[i] = scratch + i * f.width;
    }
  }
}

}  // namespace cpu
VPRIM_NAMESPACE_END
