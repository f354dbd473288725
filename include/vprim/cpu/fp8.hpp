// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file fp8.hpp
//! e4m3 widened exactly in registers, shared by the FP8 KV entries (kv_entry.hpp) and the FP8
//! GEMM (gemm_fp8.hpp). The magnitude bits go into the wider format's mantissa with the exponent
//! rebased (bias 7 -> 127); a subnormal e4m3 (exponent field 0) is read with exponent 1 and its
//! implicit 2^-6 taken off again (fp32), or looked up among its eight values (bf16). No table
//! of 256, no subnormal arithmetic. 0x7F/0xFF (NaN in e4m3, which vprim's quantisers never
//! write and the release does not hold) read as 480.

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <xsimd/xsimd.hpp>

#include "vprim/core/config.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu::detail {

//! n e4m3 codes -> fp32 times `scale`, exactly when the scale is a power of two and the
//! products stay normal (the entries' E8M0 scales; 1 by default). Whole vectors of codes are
//! widened from one load (the compiler's zero-extending byte load); a ragged tail through lanes.
template <class Arch>
inline void widen_e4m3(const std::byte* codes, std::size_t n, float* out, float scale = 1.0f) noexcept {
  using U = xsimd::batch<std::uint32_t, Arch>;
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = U::size;
  const auto widen = [scale](U b) {
    const U magnitude = b & U(0x7Fu);
    const auto subnormal = (magnitude >> 3) == U(0u);
    const U bits = (magnitude << 20) + xsimd::select(subnormal, U(121u << 23), U(120u << 23));
    const U taken_off = xsimd::bitwise_cast<U>(xsimd::bitwise_cast<B>(bits) - B(0.015625f));  // 2^-6
    return xsimd::bitwise_cast<B>(xsimd::select(subnormal, taken_off, bits) | ((b & U(0x80u)) << 24)) * B(scale);
  };
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(codes);
  alignas(64) std::uint32_t lanes[V];
  std::size_t j = 0;
  for (; j + V <= n; j += V) {
    for (std::size_t i = 0; i < V; ++i) lanes[i] = bytes[j + i];
    widen(U::load_aligned(lanes)).store_unaligned(out + j);
  }
  if (j < n) {
    const std::size_t m = n - j;
    for (std::size_t i = 0; i < V; ++i) lanes[i] = i < m ? bytes[j + i] : 0u;
    alignas(64) float tail[V];
    widen(U::load_aligned(lanes)).store_aligned(tail);
    std::memcpy(out + j, tail, m * sizeof(float));
  }
}

//! n bf16 values (read byte-wise: they need not be 2-byte aligned) -> fp32.
template <class Arch>
inline void widen_bf16_bytes(const std::byte* values, std::size_t n, float* out) noexcept {
  using U = xsimd::batch<std::uint32_t, Arch>;
  constexpr std::size_t V = U::size;
  alignas(64) std::uint16_t halves[V];
  alignas(64) std::uint32_t lanes[V];
  std::size_t j = 0;
  for (; j + V <= n; j += V) {
    std::memcpy(halves, values + 2 * j, sizeof halves);
    for (std::size_t i = 0; i < V; ++i) lanes[i] = halves[i];
    xsimd::bitwise_cast<xsimd::batch<float, Arch>>(U::load_aligned(lanes) << 16).store_unaligned(out + j);
  }
  for (; j < n; ++j) {
    std::uint16_t h;
    std::memcpy(&h, values + 2 * j, 2);
    const std::uint32_t bits = std::uint32_t{h} << 16;
    std::memcpy(out + j, &bits, 4);
  }
}

}  // namespace cpu::detail
VPRIM_NAMESPACE_END
