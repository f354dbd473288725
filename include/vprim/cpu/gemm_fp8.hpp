// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file gemm_fp8.hpp
//! C[M,N] = bf16(A)[M,K] * W[N,K]^T (+ bias) (+ C) with W in FP8 exactly as DeepSeek's release
//! stores its Linears, used in place: `codes` [N, K] e4m3 bytes and `scales` [ceil(N/128),
//! ceil(K/128)] E8M0 bytes, value = e4m3 * 2^(scale - 127) for the 128 x 128 block it lies in.
//! Built for the skinny products of decoding (M <= 24); any M works.
//!
//! Numerics, the same on every path (as gemm_mxfp4.hpp): A is rounded to bf16 (nearest even);
//! e4m3 values are exact in bf16, so every product is exact in fp32; each row's dot product
//! over a 128-wide block is summed in fp32, multiplied by the block's power-of-two scale and
//! added to the row's fp32 sum. Paths differ only in the order of the fp32 sums. (The
//! reference instead quantises the activations per 128 to e4m3 before its FP8 products: a
//! caller asks for that with linear_view::e4m3_activations, which rounds A by act_quant.hpp
//! first; the values are then exact in bf16 and this GEMM's numerics add nothing to them.)
//! - On the avx512bw arch tag (or later) with AVX512-BF16 on the CPU: the grouped kernel of
//!   gemm_lowbit.hpp with fp8_decoder (64 codes to bf16 by two 128-byte lookups, vdpbf16ps). vdpbf16ps
//!   reads subnormal bf16 activations (|a| < 1.2e-38) as zero.
//! - Otherwise: a block widened to fp32 (fp8.hpp), then FMA on the arch's fp32 vectors.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include <xsimd/xsimd.hpp>

#include "vprim/core/dtype.hpp"
#include "vprim/core/executor.hpp"
#include "vprim/core/status.hpp"
#include "vprim/kernels/gemm.hpp"
#include "vprim/cpu/fp8.hpp"
#include "vprim/cpu/gemm_bf16.hpp"
#include "vprim/cpu/gemm_lowbit.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

//! W[N, K] in FP8 with 128 x 128 block scales, as shipped (not copied, not widened).
struct fp8_weight_view {
  static constexpr std::size_t block = 128;  //!< rows and columns per E8M0 scale
  const std::uint8_t* codes = nullptr;       //!< [n, k] e4m3, row stride k
  const std::uint8_t* scales = nullptr;      //!< [ceil(n/128), ceil(k/128)]
  std::size_t n = 0, k = 0;
  [[nodiscard]] std::size_t col_blocks() const noexcept { return (k + block - 1) / block; }
  [[nodiscard]] float scale(std::size_t row, std::size_t col_block) const noexcept {
    return e8m0_bits_to_float(scales[(row / block) * col_blocks() + col_block]);
  }
};

struct gemm_fp8_args {
  std::size_t m = 0;
  const float* a = nullptr;  //!< [m, k], row stride lda
  std::size_t lda = 0;
  fp8_weight_view w;
  const float* bias = nullptr;  //!< [n] or null
  float* c = nullptr;           //!< [m, n], row stride ldc
  std::size_t ldc = 0;
  bool accumulate = false;  //!< C += (else C =)
};

//! Errors: a missing pointer (invalid_argument); strides shorter than a row (shape_mismatch).
[[nodiscard]] inline status gemm_fp8_can_implement(const gemm_fp8_args& g) noexcept {
  if (g.m == 0 || g.w.n == 0) return status::ok;
  if (g.w.codes == nullptr || g.w.scales == nullptr) return status::invalid_argument;
  const kernels::gemm_shape shape{g.m, g.w.n, g.w.k, g.lda, g.ldc};
  return kernels::gemm_shape_can_implement(shape, g.a, g.c);
}

namespace detail {

//! Rows [n0, n1) of C on the fp32 vectors of Arch; ab holds A rounded through bf16 [m, k].
template <class Arch>
void fp8_rows_fp32(const gemm_fp8_args& g, const float* ab, std::size_t n0, std::size_t n1, std::size_t r0, std::size_t r1,
                   float* sums) {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size, BK = fp8_weight_view::block;
  const std::size_t k = g.w.k;
  alignas(64) float w[BK];
  for (std::size_t n = n0; n < n1; ++n) {
    std::fill(sums, sums + (r1 - r0), 0.0f);
    for (std::size_t b = 0, k0 = 0; k0 < k; ++b, k0 += BK) {
      const std::size_t kc = std::min(BK, k - k0);
      widen_e4m3<Arch>(reinterpret_cast<const std::byte*>(g.w.codes + n * k + k0), kc, w);
      const float scale = g.w.scale(n, b);
      for (std::size_t r = r0; r < r1; ++r) {
        const float* ar = ab + r * k + k0;
        B acc(0.0f);
        std::size_t j = 0;
        for (; j + V <= kc; j += V) acc = xsimd::fma(B::load_unaligned(ar + j), B::load_aligned(w + j), acc);
        float block_sum = xsimd::hadd(acc);
        for (; j < kc; ++j) block_sum += ar[j] * w[j];
        sums[r - r0] += block_sum * scale;
      }
    }
    store_column(g, r0, r1 - r0, n, sums);
  }
}

#if VPRIM_X86_BF16_KERNELS
//! bf16 bits of e4m3 magnitude m (0..127, the code without its sign): exact, subnormals
//! (m * 2^-9 for exponent 0) become normal bf16 numbers; 0x7F (NaN in e4m3; the release holds
//! none) reads as 480, as on every other path of this GEMM.
[[nodiscard]] constexpr std::uint16_t e4m3_magnitude_bf16_bits(std::uint8_t m) noexcept {
  const unsigned e = m >> 3, f = m & 7u;
  if (e != 0) return static_cast<std::uint16_t>((e + 120u) << 7 | f << 4);
  if (f == 0) return 0;
  const unsigned lead = f >= 4 ? 2u : f >= 2 ? 1u : 0u;  // f * 2^-9 = 1.x * 2^(lead - 9)
  return static_cast<std::uint16_t>((lead + 118u) << 7 | ((f << (7u - lead)) & 0x7Fu));
}

//! Byte `shift / 8` of e4m3_magnitude_bf16_bits(m) for m = 0..127.
[[nodiscard]] constexpr std::array<std::uint8_t, 128> e4m3_magnitude_bf16_bytes(unsigned shift) noexcept {
  std::array<std::uint8_t, 128> t{};
  for (unsigned m = 0; m < 128; ++m) t[m] = static_cast<std::uint8_t>(e4m3_magnitude_bf16_bits(static_cast<std::uint8_t>(m)) >> shift);
  return t;
}

//! A group of 128 e4m3 values (one block's row slice, two 64-byte chunks) as bf16: the high
//! and the low byte of each value's bf16 bits are looked up by its magnitude in two 128-byte
//! tables (vpermi2b reads the low seven bits of each code and ignores the sign, which is then
//! put back into the high byte), and the bytes interleaved, so every register holds eight
//! values from each 16-byte lane. Five instructions per 64 codes, subnormals included. All four
//! registers share the block's one scale.
struct fp8_decoder {
  //! Register t, lane l, element e holds column 64 (t >> 1) + 16 l + 8 (t & 1) + e of the group.
  static constexpr group_order order = [] {
    group_order o{};
    for (std::size_t t = 0; t < 4; ++t)
      for (std::size_t l = 0; l < 4; ++l)
        for (std::size_t e = 0; e < 8; ++e) o[t * 32 + l * 8 + e] = static_cast<std::uint8_t>(64 * (t >> 1) + 16 * l + 8 * (t & 1) + e);
    return o;
  }();
  //! The tables: entry m of high_bytes / low_bytes is a byte of e4m3_magnitude_bf16_bits(m).
  alignas(64) static constexpr std::array<std::uint8_t, 128> high_bytes = e4m3_magnitude_bf16_bytes(8),
                                                               low_bytes = e4m3_magnitude_bf16_bytes(0);

  fp8_weight_view w;
  __m512i high_table[2], low_table[2];  // the tables' two 64-byte halves

  VPRIM_TARGET_AVX512BF16 explicit fp8_decoder(const fp8_weight_view& view) : w(view) {
    for (std::size_t h = 0; h < 2; ++h) {
      high_table[h] = _mm512_load_si512(high_bytes.data() + 64 * h);
      low_table[h] = _mm512_load_si512(low_bytes.data() + 64 * h);
    }
  }

  //! 64 codes -> bf16: lo gets each 16-byte lane's first eight, hi the last eight.
  VPRIM_TARGET_AVX512BF16 void widen(__m512i c, __m512bh& lo, __m512bh& hi) const {
    const __m512i magnitude_high = _mm512_permutex2var_epi8(high_table[0], c, high_table[1]);
    const __m512i high = _mm512_ternarylogic_epi32(magnitude_high, c, _mm512_set1_epi8(static_cast<char>(0x80)), 0xF8);  // | c & 0x80
    const __m512i low = _mm512_permutex2var_epi8(low_table[0], c, low_table[1]);
    lo = (__m512bh)_mm512_unpacklo_epi8(low, high);
    hi = (__m512bh)_mm512_unpackhi_epi8(low, high);
  }

  VPRIM_TARGET_AVX512BF16 void decode(std::size_t n, std::size_t g, bf16_group& out) const {
    const std::size_t k0 = g * lowbit_group, live = std::min(lowbit_group, w.k - k0);
    const std::uint8_t* c = w.codes + n * w.k + k0;
    prefetch_ahead(c);
    prefetch_ahead(c + 64);
    widen(load_bytes(c, std::min<std::size_t>(live, 64)), out.w[0], out.w[1]);
    widen(live > 64 ? load_bytes(c + 64, live - 64) : _mm512_setzero_si512(), out.w[2], out.w[3]);
    out.scale = _mm512_set1_ps(w.scale(n, g));
  }

  //! Whether the panel path may run: K whole 4-byte gathers, and every value times its scale a
  //! normal bf16 (E8M0 codes 10..246: e4m3's 2^-9 .. 480 times 2^-117 .. 2^119).
  static bool panels_exact(const fp8_weight_view& w) noexcept {
    const std::size_t count = ((w.n + fp8_weight_view::block - 1) / fp8_weight_view::block) * w.col_blocks();
    return w.k % 4 == 0 && std::all_of(w.scales, w.scales + count, [](std::uint8_t s) { return s >= 10 && s <= 246; });
  }

  //! Rows [j, j + cols) of W (cols <= 32, j a multiple of 32: one 128-row scale block), k pairs
  //! [q0, q0 + pairs) (even), into the bf16 GEMM's panel layout with the scales folded in (see
  //! mxfp4_decoder::decode_panel). A 32-bit gather of four codes from each of 16 rows gives two
  //! pairs; widen() turns the 64 codes into bf16 and two dword permutes put each pair's 16 rows
  //! in column order.
  VPRIM_TARGET_AVX512BF16 static void decode_panel(const fp8_weight_view& w, std::size_t j, std::size_t cols, std::size_t q0,
                                                   std::size_t pairs, std::uint16_t* out) {
    const fp8_decoder d(w);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i code_at = _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(w.k)));
    // Row r = 4 l + i of a widened pair of registers: rows 4l, 4l+1 in lane l of lo, 4l+2, 4l+3
    // in lane l of hi, each row's two pairs side by side.
    alignas(64) std::int32_t first[16], second[16];
    for (int r = 0; r < 16; ++r) {
      first[r] = (r % 4 < 2 ? 0 : 16) + 4 * (r / 4) + 2 * (r % 2);
      second[r] = first[r] + 1;
    }
    const __m512i pick_first = _mm512_load_si512(first), pick_second = _mm512_load_si512(second);
    for (std::size_t half = 0; half < 2; ++half) {
      std::uint16_t* dst = out + half * 32;
      const std::size_t c0 = half * 16, live = cols > c0 ? std::min<std::size_t>(16, cols - c0) : 0;
      if (live == 0) {
        for (std::size_t q = 0; q < pairs; ++q) _mm512_store_si512(dst + q * 64, _mm512_setzero_si512());
        continue;
      }
      const auto rows = static_cast<__mmask16>(live == 16 ? 0xFFFFu : (1u << live) - 1u);
      const std::uint8_t* codes = w.codes + (j + c0) * w.k;
      __m512i delta = _mm512_setzero_si512();
      for (std::size_t q = 0; q < pairs; q += 2) {
        const std::size_t pair = q0 + q;
        if (q == 0 || pair % (fp8_weight_view::block / 2) == 0)  // a new 128-column block: its one scale
          delta = _mm512_set1_epi16(static_cast<short>((static_cast<int>(w.scales[((j + c0) / fp8_weight_view::block) * w.col_blocks() +
                                                                                   2 * pair / fp8_weight_view::block]) -
                                                        127) *
                                                       128));
        __m512bh lo, hi;
        d.widen(_mm512_mask_i32gather_epi32(_mm512_setzero_si512(), rows, code_at, codes + 2 * pair, 1), lo, hi);
        for (unsigned t = 0; t < 2; ++t) {
          __m512i v = _mm512_permutex2var_epi32((__m512i)lo, t == 0 ? pick_first : pick_second, (__m512i)hi);
          v = _mm512_mask_add_epi16(v, _mm512_test_epi16_mask(v, _mm512_set1_epi16(0x7FFF)), v, delta);
          _mm512_store_si512(dst + (q + t) * 64, v);
        }
      }
    }
  }
};
#else
struct fp8_decoder;  // the AVX512-BF16 kernels' decoder, not built here
#endif

}  // namespace detail

//! C = bf16(A) * dequant(W)^T (+ bias) (+ C). Rows of W are split across the executor's threads.
//! With `a_scratch` (gemm_lowbit_scratch(m, k) elements, 64-byte aligned) it allocates nothing.
template <class Arch, executor Exec>
[[nodiscard]] status gemm_fp8(Arch, const gemm_fp8_args& g, Exec& exec, std::uint16_t* a_scratch = nullptr) {
  if (const status s = gemm_fp8_can_implement(g); s != status::ok) return s;
  if (g.m == 0 || g.w.n == 0) return status::ok;
  const auto rows_fp32 = [&g](auto... range) { detail::fp8_rows_fp32<Arch>(g, range...); };
  return detail::run_lowbit_gemm<Arch, detail::fp8_decoder>(g, g.w.n, g.w.k, rows_fp32, exec, a_scratch);
}

}  // namespace cpu
VPRIM_NAMESPACE_END
