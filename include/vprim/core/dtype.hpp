// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file dtype.hpp
//! Element types: the runtime tag (`dtype`, named as safetensors names them) and the storage
//! types bf16, f16 and fp8 e4m3 with bit-exact conversions. Narrowing conversions round to
//! nearest, ties to even, as torch does.

#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

#include "vprim/core/config.hpp"

VPRIM_NAMESPACE_BEGIN

//! Runtime element-type tag.
//! f8_e8m0 is the exponent-only scale format of microscaling (MX) and DeepSeek's block scales.
enum class dtype : std::uint8_t { f64, f32, f16, bf16, f8_e4m3, f8_e5m2, i64, i32, i16, i8, u64, u32, u16, u8, boolean, f8_e8m0 };

//! Bytes per element.
[[nodiscard]] constexpr int size_of(dtype t) noexcept {
  switch (t) {
    case dtype::f64: case dtype::i64: case dtype::u64: return 8;
    case dtype::f32: case dtype::i32: case dtype::u32: return 4;
    case dtype::f16: case dtype::bf16: case dtype::i16: case dtype::u16: return 2;
    case dtype::f8_e4m3: case dtype::f8_e5m2: case dtype::f8_e8m0: case dtype::i8: case dtype::u8: case dtype::boolean: return 1;
  }
  return 0;
}

//! The safetensors spelling ("F32", "BF16", "F8_E4M3", ...).
[[nodiscard]] constexpr std::string_view to_string(dtype t) noexcept {
  switch (t) {
    case dtype::f64: return "F64";
    case dtype::f32: return "F32";
    case dtype::f16: return "F16";
    case dtype::bf16: return "BF16";
    case dtype::f8_e4m3: return "F8_E4M3";
    case dtype::f8_e5m2: return "F8_E5M2";
    case dtype::i64: return "I64";
    case dtype::i32: return "I32";
    case dtype::i16: return "I16";
    case dtype::i8: return "I8";
    case dtype::u64: return "U64";
    case dtype::u32: return "U32";
    case dtype::u16: return "U16";
    case dtype::u8: return "U8";
    case dtype::boolean: return "BOOL";
    case dtype::f8_e8m0: return "F8_E8M0";
  }
  return "?";
}

//! Inverse of to_string; nullopt for a name vprim does not know.
[[nodiscard]] constexpr std::optional<dtype> parse_dtype(std::string_view name) noexcept {
  constexpr dtype all[] = {dtype::f64, dtype::f32, dtype::f16, dtype::bf16, dtype::f8_e4m3,
                           dtype::f8_e5m2, dtype::i64, dtype::i32, dtype::i16, dtype::i8,
                           dtype::u64, dtype::u32, dtype::u16, dtype::u8, dtype::boolean, dtype::f8_e8m0};
  for (dtype t : all)
    if (to_string(t) == name) return t;
  return std::nullopt;
}

[[nodiscard]] constexpr bool is_floating(dtype t) noexcept {
  return t == dtype::f64 || t == dtype::f32 || t == dtype::f16 || t == dtype::bf16 ||
         t == dtype::f8_e4m3 || t == dtype::f8_e5m2 || t == dtype::f8_e8m0;
}

// ---------------------------------------------------------------------------------------------
// Bit-level conversions. Pure integer arithmetic, so they are constexpr and host/device.

namespace detail {
//! std::bit_cast is host-only under nvcc; the builtin behind it works on both sides.
template <class To, class From>
[[nodiscard]] VPRIM_HOST_DEVICE constexpr To bit_cast(const From& from) noexcept {
  static_assert(sizeof(To) == sizeof(From), "vprim::detail::bit_cast: sizes differ");
  return __builtin_bit_cast(To, from);
}
}  // namespace detail

//! float -> bfloat16 bits, round to nearest even; NaN stays a quiet NaN of the same sign.
[[nodiscard]] VPRIM_HOST_DEVICE constexpr std::uint16_t float_to_bf16_bits(float f) noexcept {
  const std::uint32_t x = detail::bit_cast<std::uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x0040u);
  const std::uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<std::uint16_t>((x + rounding) >> 16);
}

[[nodiscard]] VPRIM_HOST_DEVICE constexpr float bf16_bits_to_float(std::uint16_t b) noexcept {
  return detail::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

//! float -> IEEE binary16 bits, round to nearest even, overflow to infinity.
[[nodiscard]] VPRIM_HOST_DEVICE constexpr std::uint16_t float_to_f16_bits(float f) noexcept {
  const std::uint32_t bits = detail::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t x = bits & 0x7fffffffu;
  if (x >= 0x7f800000u) return static_cast<std::uint16_t>(sign | (x > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (x >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // >= 65520 rounds up to inf
  if (x < 0x38800000u) {                                                     // half subnormal range
    if (x < 0x33000000u) return sign;                                        // <= 2^-25: rounds to zero
    const std::uint32_t exp = x >> 23;
    const std::uint32_t mant = (x & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - exp;  // value / 2^-24 = mant >> shift
    std::uint32_t q = mant >> shift;
    const std::uint32_t rem = mant & ((1u << shift) - 1u);
    const std::uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return static_cast<std::uint16_t>(sign | q);
  }
  const std::uint32_t rebased = x - 0x38000000u;  // exponent bias 127 -> 15
  std::uint32_t q = rebased >> 13;
  const std::uint32_t rem = rebased & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) ++q;
  return static_cast<std::uint16_t>(sign | q);
}

[[nodiscard]] VPRIM_HOST_DEVICE constexpr float f16_bits_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  if (exp == 0x1fu) return detail::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  if (exp != 0) return detail::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
  if (mant == 0) return detail::bit_cast<float>(sign);
  std::uint32_t e = 113u;  // normalise the subnormal
  while ((mant & 0x400u) == 0) {
    mant <<= 1;
    --e;
  }
  return detail::bit_cast<float>(sign | (e << 23) | ((mant & 0x3ffu) << 13));
}

//! float -> fp8 e4m3 "fn" bits (bias 7, no infinities, 0x7f/0xff are NaN, max 448), round to
//! nearest even. Finite values beyond 448 saturate to +-448, the KV-cache quantiser's choice;
//! NaN and infinities become NaN.
[[nodiscard]] VPRIM_HOST_DEVICE constexpr std::uint8_t float_to_e4m3_bits(float f) noexcept {
  const std::uint32_t bits = detail::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint8_t>((bits >> 24) & 0x80u);
  const std::uint32_t x = bits & 0x7fffffffu;
  if (x >= 0x7f800000u) return static_cast<std::uint8_t>(sign | 0x7fu);
  if (x >= 0x43e00000u) return static_cast<std::uint8_t>(sign | 0x7eu);  // >= 448
  if (x < 0x3c800000u) {                                                   // below 2^-6: subnormal
    if (x <= 0x3a800000u) return sign;                                     // <= 2^-10 ties to 0
    const std::uint32_t exp = x >> 23;
    const std::uint32_t mant = (x & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 141u - exp;  // value / 2^-9 = mant >> shift
    std::uint32_t q = mant >> shift;
    const std::uint32_t rem = mant & ((1u << shift) - 1u);
    const std::uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return static_cast<std::uint8_t>(sign | q);
  }
  const std::uint32_t rebased = x - 0x3c000000u;  // exponent bias 127 -> 7
  std::uint32_t q = rebased >> 20;
  const std::uint32_t rem = rebased & 0xfffffu;
  if (rem > 0x80000u || (rem == 0x80000u && (q & 1u))) ++q;
  if (q > 0x7eu) q = 0x7eu;  // rounding up past 448 saturates as well
  return static_cast<std::uint8_t>(sign | q);
}

[[nodiscard]] VPRIM_HOST_DEVICE constexpr float e4m3_bits_to_float(std::uint8_t v) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(v & 0x80u) << 24;
  const std::uint32_t exp = (v >> 3) & 0xfu;
  const std::uint32_t mant = v & 0x7u;
  if (exp == 0xfu && mant == 0x7u) return detail::bit_cast<float>(sign | 0x7fc00000u);
  if (exp != 0) return detail::bit_cast<float>(sign | ((exp + 120u) << 23) | (mant << 20));
  // subnormal: mant * 2^-9, exact in float
  const float magnitude = static_cast<float>(mant) * (1.0f / 512.0f);
  return sign ? -magnitude : magnitude;
}

//! e8m0 (MX scale): 2^(v - 127); 0xFF is NaN. No sign, no zero.
[[nodiscard]] VPRIM_HOST_DEVICE constexpr float e8m0_bits_to_float(std::uint8_t v) noexcept {
  if (v == 0xffu) return detail::bit_cast<float>(0x7fc00000u);
  if (v == 0) return detail::bit_cast<float>(0x00400000u);  // 2^-127, a float subnormal
  return detail::bit_cast<float>(static_cast<std::uint32_t>(v) << 23);
}
//! The e8m0 scale at or above |f|: the next power of two up, so that values divided by it never
//! grow past the element format's range (how DeepSeek's ue8m0 scales are chosen). NaN, 0 and
//! values past 2^127 give 0xFF; values below 2^-127 give 0.
[[nodiscard]] VPRIM_HOST_DEVICE constexpr std::uint8_t float_to_e8m0_bits(float f) noexcept {
  const std::uint32_t b = detail::bit_cast<std::uint32_t>(f) & 0x7fffffffu;
  if (b == 0 || b >= 0x7f800000u) return 0xffu;
  std::uint32_t e = b >> 23;
  if (e == 0) return 0;  // subnormal: below 2^-126, at most 2^-127 after rounding up
  if ((b & 0x7fffffu) != 0) ++e;  // not a power of two: round up
  return e > 254 ? 0xffu : static_cast<std::uint8_t>(e);
}

// ---------------------------------------------------------------------------------------------
// Storage types: a 16- or 8-bit payload that converts to and from float.

namespace detail {
template <class Tag, class Bits, Bits (*Encode)(float) noexcept, float (*Decode)(Bits) noexcept>
struct narrow_float {
  Bits bits = 0;
  constexpr narrow_float() = default;
  VPRIM_HOST_DEVICE constexpr explicit narrow_float(float f) noexcept : bits(Encode(f)) {}
  VPRIM_HOST_DEVICE static constexpr narrow_float from_bits(Bits b) noexcept {
    narrow_float r;
    r.bits = b;
    return r;
  }
  VPRIM_HOST_DEVICE constexpr explicit operator float() const noexcept { return Decode(bits); }
  VPRIM_HOST_DEVICE constexpr float to_float() const noexcept { return Decode(bits); }
  friend constexpr bool operator==(narrow_float a, narrow_float b) noexcept { return a.bits == b.bits; }
};
struct bf16_tag {};
struct f16_tag {};
struct e4m3_tag {};
struct e8m0_tag {};
}  // namespace detail

//! bfloat16 storage (1-8-7).
using bf16 = detail::narrow_float<detail::bf16_tag, std::uint16_t, float_to_bf16_bits, bf16_bits_to_float>;
//! IEEE binary16 storage (1-5-10).
using f16 = detail::narrow_float<detail::f16_tag, std::uint16_t, float_to_f16_bits, f16_bits_to_float>;
//! fp8 e4m3fn storage (1-4-3), saturating.
using e4m3 = detail::narrow_float<detail::e4m3_tag, std::uint8_t, float_to_e4m3_bits, e4m3_bits_to_float>;

//! MX / DeepSeek block-scale storage (exponent only).
using e8m0 = detail::narrow_float<detail::e8m0_tag, std::uint8_t, float_to_e8m0_bits, e8m0_bits_to_float>;
static_assert(sizeof(bf16) == 2 && sizeof(f16) == 2 && sizeof(e4m3) == 1 && sizeof(e8m0) == 1);

//! Compile-time element type -> runtime tag.
template <class T> inline constexpr std::optional<dtype> dtype_of = std::nullopt;
template <> inline constexpr std::optional<dtype> dtype_of<double> = dtype::f64;
template <> inline constexpr std::optional<dtype> dtype_of<float> = dtype::f32;
template <> inline constexpr std::optional<dtype> dtype_of<f16> = dtype::f16;
template <> inline constexpr std::optional<dtype> dtype_of<bf16> = dtype::bf16;
template <> inline constexpr std::optional<dtype> dtype_of<e4m3> = dtype::f8_e4m3;
template <> inline constexpr std::optional<dtype> dtype_of<std::int64_t> = dtype::i64;
template <> inline constexpr std::optional<dtype> dtype_of<std::int32_t> = dtype::i32;
template <> inline constexpr std::optional<dtype> dtype_of<std::int16_t> = dtype::i16;
template <> inline constexpr std::optional<dtype> dtype_of<std::int8_t> = dtype::i8;
template <> inline constexpr std::optional<dtype> dtype_of<std::uint64_t> = dtype::u64;
template <> inline constexpr std::optional<dtype> dtype_of<std::uint32_t> = dtype::u32;
template <> inline constexpr std::optional<dtype> dtype_of<std::uint16_t> = dtype::u16;
template <> inline constexpr std::optional<dtype> dtype_of<std::uint8_t> = dtype::u8;
template <> inline constexpr std::optional<dtype> dtype_of<bool> = dtype::boolean;

VPRIM_NAMESPACE_END
