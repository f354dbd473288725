// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file gemm_mxfp4.hpp
//! C[M,N] = bf16(A)[M,K] * W[N,K]^T (+ bias) (+ C) with W in MXFP4 exactly as DeepSeek's release
//! stores its routed experts, used in place: `codes` [N, K/2] bytes of e2m1 pairs (the low
//! nibble is the even column) and `scales` [N, K/32] E8M0 bytes, value = e2m1 * 2^(scale - 127).
//! Built for the skinny products of decoding and of a MoE expert's few rows; any M works.
//!
//! Numerics, the same on every path: A is rounded to bf16 (nearest even); e2m1 values are exact
//! in bf16, so every product is exact in fp32; products of one 32-value block are summed in fp32
//! (in one or several partial sums), multiplied by the block's power-of-two scale (exact unless
//! it leaves fp32's range) and added to the row's fp32 sum. Paths differ only in the order of
//! those fp32 sums.
//! - On the avx512bw arch tag (or later) with AVX512-BF16 on the CPU: the grouped kernel of
//!   gemm_lowbit.hpp with mxfp4_decoder (nibbles to bf16 by vpermw lookups, vdpbf16ps, the
//!   scales applied per lane). vdpbf16ps reads subnormal bf16 activations (|a| < 1.2e-38) as zero.
//! - Otherwise: a block decoded to fp32 by table, then FMA on the arch's fp32 vectors.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "vprim/core/dtype.hpp"
#include "vprim/core/executor.hpp"
#include "vprim/core/status.hpp"
#include "vprim/kernels/gemm.hpp"
#include "vprim/cpu/gemm_bf16.hpp"
#include "vprim/cpu/gemm_lowbit.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

//! W[N, K] in MXFP4 as shipped (not copied, not widened).
struct mxfp4_weight_view {
  static constexpr std::size_t block = 32;  //!< values per E8M0 scale
  const std::uint8_t* codes = nullptr;      //!< [n, k/2], row stride k/2
  const std::uint8_t* scales = nullptr;     //!< [n, k/32], row stride k/32
  std::size_t n = 0, k = 0;
};

struct gemm_mxfp4_args {
  std::size_t m = 0;
  const float* a = nullptr;  //!< [m, k], row stride lda
  std::size_t lda = 0;
  mxfp4_weight_view w;
  const float* bias = nullptr;  //!< [n] or null
  float* c = nullptr;           //!< [m, n], row stride ldc
  std::size_t ldc = 0;
  bool accumulate = false;  //!< C += (else C =)
};

//! Errors: a missing pointer (invalid_argument); K not a multiple of 32 or strides shorter than a
//! row (shape_mismatch).
[[nodiscard]] inline status gemm_mxfp4_can_implement(const gemm_mxfp4_args& g) noexcept {
  if (g.m == 0 || g.w.n == 0) return status::ok;
  if (g.w.codes == nullptr || g.w.scales == nullptr) return status::invalid_argument;
  if (g.w.k == 0 || g.w.k % mxfp4_weight_view::block != 0) return status::shape_mismatch;
  const kernels::gemm_shape shape{g.m, g.w.n, g.w.k, g.lda, g.ldc};
  return kernels::gemm_shape_can_implement(shape, g.a, g.c);
}

namespace detail {

//! e2m1 values by nibble (bit 3 is the sign), as floats and as bf16 bits.
inline constexpr std::array<float, 16> e2m1_table = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                                     -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

//! Rows [n0, n1) of C on the fp32 vectors of Arch; ab holds A rounded through bf16 [m, k].
template <class Arch>
void mxfp4_rows_fp32(const gemm_mxfp4_args& g, const float* ab, std::size_t n0, std::size_t n1, std::size_t r0, std::size_t r1,
                   float* sums) {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size, BK = mxfp4_weight_view::block;
  static_assert(BK % V == 0, "vprim::cpu::gemm_mxfp4: a block is whole vectors");
  const std::size_t k = g.w.k, blocks = k / BK;
  alignas(64) float w[BK];
  for (std::size_t n = n0; n < n1; ++n) {
    const std::uint8_t* codes = g.w.codes + n * (k / 2);
    const std::uint8_t* scales = g.w.scales + n * blocks;
    std::fill(sums, sums + (r1 - r0), 0.0f);
    for (std::size_t b = 0; b < blocks; ++b) {
      for (std::size_t j = 0; j < BK / 2; ++j) {
        const std::uint8_t byte = codes[b * (BK / 2) + j];
        w[2 * j] = e2m1_table[byte & 15u];
        w[2 * j + 1] = e2m1_table[byte >> 4];
      }
      const float scale = e8m0_bits_to_float(scales[b]);
      for (std::size_t r = r0; r < r1; ++r) {
        const float* ar = ab + r * k + b * BK;
        B acc(0.0f);
        for (std::size_t j = 0; j < BK; j += V) acc = xsimd::fma(B::load_unaligned(ar + j), B::load_aligned(w + j), acc);
        sums[r - r0] += xsimd::hadd(acc) * scale;
      }
    }
    store_column(g, r0, r1 - r0, n, sums);
  }
}

#if VPRIM_X86_BF16_KERNELS
//! A group of 128 MXFP4 values (four 32-value blocks, 64 bytes) as bf16, by vpermw: each 16-bit
//! word of the codes holds four nibbles (columns 4w .. 4w + 3), and vpermw reads only an
//! index's low five bits, so with the e2m1 table in both halves of its 32 entries, the word
//! shifted right by 0, 4, 8 and 12 looks up columns 4w + t with no masking. Block b lies in
//! 128-bit lane b of every register, so a vdpbf16ps sum's lanes 4b .. 4b + 3 sum block b alone
//! and its scale multiplies them. The scales of four groups are widened at once (`decode` is
//! called for a row's groups in order from a multiple of four, K blocks being whole fours of
//! groups, and each thread has its own decoder).
struct mxfp4_decoder {
  static_assert(lowbit_k_block_groups % 4 == 0, "a K block starts where the decoder widens four groups' scales");
  //! Register t, element w holds column 4w + t of the group.
  static constexpr group_order order = [] {
    group_order o{};
    for (std::size_t t = 0; t < 4; ++t)
      for (std::size_t w = 0; w < 32; ++w) o[t * 32 + w] = static_cast<std::uint8_t>(4 * w + t);
    return o;
  }();

  const std::uint8_t* codes;
  const std::uint8_t* scales;
  std::size_t k;
  __m512i table;        // bf16 of e2m1 by nibble, twice
  __m512 four_groups{};  // the scales of blocks 4g0 .. 4g0 + 15 as floats (g0 = g & ~3)

  VPRIM_TARGET_AVX512BF16 explicit mxfp4_decoder(const mxfp4_weight_view& w) : codes(w.codes), scales(w.scales), k(w.k) {
    alignas(64) std::uint16_t bits[32];
    for (std::size_t i = 0; i < 32; ++i) bits[i] = float_to_bf16_bits(e2m1_table[i % 16]);
    table = _mm512_load_si512(bits);
  }

  VPRIM_TARGET_AVX512BF16 void decode(std::size_t n, std::size_t g, bf16_group& out) {
    constexpr std::size_t BK = mxfp4_weight_view::block;
    const std::size_t blocks = k / BK, b0 = g * 4;
    const std::uint8_t* at = codes + n * (k / 2) + b0 * (BK / 2);
    prefetch_ahead(at);
    const __m512i v = load_bytes(at, std::min<std::size_t>(4, blocks - b0) * (BK / 2));
    out.w[0] = (__m512bh)_mm512_permutexvar_epi16(v, table);
    out.w[1] = (__m512bh)_mm512_permutexvar_epi16(_mm512_srli_epi16(v, 4), table);
    out.w[2] = (__m512bh)_mm512_permutexvar_epi16(_mm512_srli_epi16(v, 8), table);
    out.w[3] = (__m512bh)_mm512_permutexvar_epi16(_mm512_srli_epi16(v, 12), table);
    if (g % 4 == 0) {  // E8M0 -> float as e8m0_bits_to_float (0: 2^-127, 255: NaN); absent blocks get 1
      const std::size_t live = std::min<std::size_t>(16, blocks - b0);
      const __m128i bytes = live == 16 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + n * blocks + b0))
                                       : _mm_mask_loadu_epi8(_mm_set1_epi8(127), static_cast<__mmask16>((1u << live) - 1u),
                                                             scales + n * blocks + b0);
      const __m512i s = _mm512_cvtepu8_epi32(bytes);
      __m512i f = _mm512_slli_epi32(s, 23);
      f = _mm512_mask_mov_epi32(f, _mm512_cmpeq_epi32_mask(s, _mm512_setzero_si512()), _mm512_set1_epi32(0x00400000));
      f = _mm512_mask_mov_epi32(f, _mm512_cmpeq_epi32_mask(s, _mm512_set1_epi32(0xFF)), _mm512_set1_epi32(0x7FC00000));
      four_groups = _mm512_castsi512_ps(f);
    }
    const int q = static_cast<int>(4 * (g % 4));
    const __m512i spread = _mm512_set_epi32(q + 3, q + 3, q + 3, q + 3, q + 2, q + 2, q + 2, q + 2, q + 1, q + 1, q + 1, q + 1, q, q, q, q);
    out.scale = _mm512_maskz_permutexvar_ps(0xFFFF, spread, four_groups);  // maskz: see lane_sum
  }

  //! Whether every block's value times its scale is a normal bf16 (E8M0 codes 2..252: e2m1's
  //! 0.5 .. 6 times 2^-125 .. 2^125), so panels may fold the scales in exactly.
  static bool panels_exact(const mxfp4_weight_view& w) noexcept {
    const std::size_t count = w.n * (w.k / mxfp4_weight_view::block);
    return std::all_of(w.scales, w.scales + count, [](std::uint8_t s) { return s >= 2 && s <= 252; });
  }

  //! Rows [j, j + cols) of W (cols <= 32), k pairs [q0, q0 + pairs) (q0 and pairs multiples of
  //! 16: whole blocks), into the bf16 GEMM's panel layout: out[q * 64 + 2 * c + h] = bf16 of
  //! W[j + c][2 (q0 + q) + h] times its block's scale; columns past `cols` are zero. One byte
  //! of MXFP4 is one k pair, so a 32-bit gather of four bytes from each of 16 rows gives four
  //! pairs of 16 columns; vpermw looks up both nibbles (the table twice, as in decode), and the
  //! scale is added to the exponents of the nonzero values.
  VPRIM_TARGET_AVX512BF16 static void decode_panel(const mxfp4_weight_view& w, std::size_t j, std::size_t cols, std::size_t q0,
                                                   std::size_t pairs, std::uint16_t* out) {
    const std::size_t row_bytes = w.k / 2, blocks = w.k / mxfp4_weight_view::block;
    alignas(64) std::uint16_t bits[32];
    for (std::size_t i = 0; i < 32; ++i) bits[i] = float_to_bf16_bits(e2m1_table[i % 16]);
    const __m512i table = _mm512_load_si512(bits), lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i code_at = _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(row_bytes)));
    for (std::size_t half = 0; half < 2; ++half) {
      std::uint16_t* dst = out + half * 32;  // columns 16 half .. 16 half + 15 of every pair
      const std::size_t c0 = half * 16, live = cols > c0 ? std::min<std::size_t>(16, cols - c0) : 0;
      if (live == 0) {
        for (std::size_t q = 0; q < pairs; ++q) _mm512_store_si512(dst + q * 64, _mm512_setzero_si512());
        continue;
      }
      const auto rows = static_cast<__mmask16>(live == 16 ? 0xFFFFu : (1u << live) - 1u);
      const std::uint8_t* codes = w.codes + (j + c0) * row_bytes;
      const std::uint8_t* scales = w.scales + (j + c0) * blocks;
      __m512i delta = _mm512_setzero_si512();
      for (std::size_t q = 0; q < pairs; q += 4) {
        const std::size_t pair = q0 + q;  // the byte of the row
        if (pair % 16 == 0) {             // a new 32-value block: each row's exponent delta, in both words
          alignas(64) std::int32_t code[16];  // read one by one: a 4-byte gather would run past the last scale
          for (std::size_t r = 0; r < 16; ++r) code[r] = r < live ? scales[r * blocks + pair / 16] : 127;
          const __m512i d = _mm512_sub_epi32(_mm512_load_si512(code), _mm512_set1_epi32(127));
          delta = _mm512_or_si512(_mm512_and_si512(_mm512_slli_epi32(d, 7), _mm512_set1_epi32(0xFFFF)), _mm512_slli_epi32(d, 23));
        }
        const __m512i four = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), rows, code_at, codes + pair, 1);
        for (unsigned t = 0; t < 4; ++t) {
          const __m512i x = _mm512_srli_epi32(four, 8 * t);  // pair q + t in each dword's low byte
          const __m512i index = _mm512_mask_blend_epi16(0xAAAAAAAAu, x, _mm512_slli_epi32(x, 12));  // low nibble, high nibble
          __m512i v = _mm512_permutexvar_epi16(index, table);
          v = _mm512_mask_add_epi16(v, _mm512_test_epi16_mask(v, _mm512_set1_epi16(0x7FFF)), v, delta);
          _mm512_store_si512(dst + (q + t) * 64, v);
        }
      }
    }
  }
};
#else
struct mxfp4_decoder;  // the AVX512-BF16 kernels' decoder, not built here
#endif

}  // namespace detail

//! C = bf16(A) * dequant(W)^T (+ bias) (+ C). Rows of W are split across the executor's threads.
//! With `a_scratch` (gemm_lowbit_scratch(m, k) elements, 64-byte aligned) it allocates nothing.
template <class Arch, executor Exec>
[[nodiscard]] status gemm_mxfp4(Arch, const gemm_mxfp4_args& g, Exec& exec, std::uint16_t* a_scratch = nullptr) {
  if (const status s = gemm_mxfp4_can_implement(g); s != status::ok) return s;
  if (g.m == 0 || g.w.n == 0) return status::ok;
  const auto rows_fp32 = [&g](auto... range) { detail::mxfp4_rows_fp32<Arch>(g, range...); };
  return detail::run_lowbit_gemm<Arch, detail::mxfp4_decoder>(g, g.w.n, g.w.k, rows_fp32, exec, a_scratch);
}

}  // namespace cpu
VPRIM_NAMESPACE_END
