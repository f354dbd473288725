// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file kv_entry.hpp
//! FP8 KV entries on the CPU (layout and quantiser: kernels/kv_entry.hpp): quantise fp32 rows
//! into entries, widen entries back, and the two products attention takes from an entry
//! without a widened copy of the cache: q . entry, and out += p * entry.
//!
//! e4m3 is widened exactly in SIMD registers (fp8.hpp).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <xsimd/xsimd.hpp>

#include "vprim/core/dtype.hpp"
#include "vprim/cpu/fp8.hpp"
#include "vprim/kernels/kv_entry.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

namespace detail {

//! RoPE value j of an entry (bf16, read byte-wise: entries need not be 2-byte aligned).
[[nodiscard]] inline float kv_entry_rope(const std::byte* entry, const kernels::fp8_kv_layout& l, std::size_t j) noexcept {
  std::uint16_t b;
  std::memcpy(&b, entry + l.rope_offset() + 2 * j, 2);
  return bf16_bits_to_float(b);
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
    for (std::size_t t = 0; t < l.tiles(); ++t) {
      const float* v = src + t * l.tile;
      float amax = kernels::fp8_kv_amax_floor;
      for (std::size_t j = 0; j < l.tile; ++j) amax = std::fmax(amax, std::fabs(v[j]));
      const std::uint8_t code = float_to_e8m0_bits(amax / kernels::e4m3_max);
      const float inv = 1.0f / e8m0_bits_to_float(code);  // a power of two: exact
      e[l.scale_offset() + t] = std::byte{code};
      for (std::size_t j = 0; j < l.tile; ++j) e[t * l.tile + j] = std::byte{float_to_e4m3_bits(v[j] * inv)};
    }
    for (std::size_t j = 0; j < l.rope_dim; ++j) {
      const std::uint16_t b = float_to_bf16_bits(src[l.nope() + j]);
      std::memcpy(e + l.rope_offset() + 2 * j, &b, 2);
    }
    for (std::size_t p = l.scale_offset() + l.tiles(); p < l.bytes(); ++p) e[p] = std::byte{0};
  }
  return status::ok;
}

//! Widens one entry to fp32 [head_dim].
template <class Arch>
void dequantize_kv_entry(Arch, const kernels::fp8_kv_layout& l, const std::byte* entry, float* out) noexcept {
  using B = xsimd::batch<float, Arch>;
  for (std::size_t t = 0; t < l.tiles(); ++t) {
    float* o = out + t * l.tile;
    detail::widen_e4m3<Arch>(entry + t * l.tile, l.tile, o);
    const float f = detail::kv_entry_tile_scale(entry, l, t);
    std::size_t j = 0;
    for (; j + B::size <= l.tile; j += B::size) (B::load_unaligned(o + j) * B(f)).store_unaligned(o + j);
    for (; j < l.tile; ++j) o[j] *= f;
  }
  for (std::size_t j = 0; j < l.rope_dim; ++j) out[l.nope() + j] = detail::kv_entry_rope(entry, l, j);
}

//! q . entry for q [head_dim] fp32: per tile the dot product of q with the widened codes, times
//! the tile's factor; then the bf16 RoPE part. `scratch` holds one tile (l.tile floats).
template <class Arch>
[[nodiscard]] float kv_entry_dot(Arch, const kernels::fp8_kv_layout& l, const float* q, const std::byte* entry,
                                 float* scratch) noexcept {
  using B = xsimd::batch<float, Arch>;
  float sum = 0.0f;
  for (std::size_t t = 0; t < l.tiles(); ++t) {
    detail::widen_e4m3<Arch>(entry + t * l.tile, l.tile, scratch);
    const float* qt = q + t * l.tile;
    B acc(0.0f);
    std::size_t j = 0;
    for (; j + B::size <= l.tile; j += B::size) acc = xsimd::fma(B::load_unaligned(qt + j), B::load_unaligned(scratch + j), acc);
    float tile_sum = xsimd::hadd(acc);
    for (; j < l.tile; ++j) tile_sum += qt[j] * scratch[j];
    sum += tile_sum * detail::kv_entry_tile_scale(entry, l, t);
  }
  for (std::size_t j = 0; j < l.rope_dim; ++j) sum += q[l.nope() + j] * detail::kv_entry_rope(entry, l, j);
  return sum;
}

//! out [head_dim] += p * entry. `scratch` holds one tile (l.tile floats).
template <class Arch>
void kv_entry_axpy(Arch, const kernels::fp8_kv_layout& l, float p, const std::byte* entry, float* out, float* scratch) noexcept {
  using B = xsimd::batch<float, Arch>;
  for (std::size_t t = 0; t < l.tiles(); ++t) {
    detail::widen_e4m3<Arch>(entry + t * l.tile, l.tile, scratch);
    const float f = p * detail::kv_entry_tile_scale(entry, l, t);
    float* o = out + t * l.tile;
    std::size_t j = 0;
    for (; j + B::size <= l.tile; j += B::size)
      xsimd::fma(B(f), B::load_unaligned(scratch + j), B::load_unaligned(o + j)).store_unaligned(o + j);
    for (; j < l.tile; ++j) o[j] += f * scratch[j];
  }
  for (std::size_t j = 0; j < l.rope_dim; ++j) out[l.nope() + j] += p * detail::kv_entry_rope(entry, l, j);
}

}  // namespace cpu
VPRIM_NAMESPACE_END
