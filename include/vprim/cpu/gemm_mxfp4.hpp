// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file gemm_mxfp4.hpp
//! C[M,N] = bf16(A)[M,K] * W[N,K]^T (+ bias) (+ C) with W in MXFP4 exactly as DeepSeek's release
//! stores its routed experts, used in place: `codes` [N, K/2] bytes of e2m1 pairs (the low
//! nibble is the even column) and `scales` [N, K/32] E8M0 bytes, value = e2m1 * 2^(scale - 127).
//! For the skinny products of decoding and of a MoE expert's few rows (M <= 24 is the case it is
//! built for; any M works).
//!
//! Numerics, the same on every path: A is rounded to bf16 (nearest even); e2m1 values are exact
//! in bf16, so every product is exact in fp32; each 32-value block's dot product is summed in
//! fp32, multiplied by its power-of-two scale (exact unless it leaves fp32's range) and added to
//! the row's fp32 sum. Paths differ only in the order of those fp32 sums.
//! - On the avx512bw arch tag (or later) with AVX512-BF16 on the CPU: nibbles decoded to bf16 in
//!   registers by a 16-entry table (vpermw), the block's scale added to their exponents, and
//!   multiplied with vdpbf16ps; a decoded block serves every row of A. vdpbf16ps reads subnormal
//!   bf16 activations (|a| < 1.2e-38) as zero.
//! - Otherwise: a block decoded to fp32 by table, then FMA on the arch's fp32 vectors.
//! The weights are read once per call whatever M is: the rows of A are the inner loop.

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "vprim/core/dtype.hpp"
#include "vprim/core/executor.hpp"
#include "vprim/core/status.hpp"
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
  if (g.a == nullptr || g.c == nullptr || g.w.codes == nullptr || g.w.scales == nullptr) return status::invalid_argument;
  if (g.w.k == 0 || g.w.k % mxfp4_weight_view::block != 0) return status::shape_mismatch;
  if (g.lda < g.w.k || g.ldc < g.w.n) return status::shape_mismatch;
  return status::ok;
}

namespace detail {

//! e2m1 values by nibble (bit 3 is the sign), as floats and as bf16 bits.
inline constexpr std::array<float, 16> e2m1_table = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                                     -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

//! 2^(code - 127), E8M0's value, built from its bits (code 0 is the subnormal 2^-127; code 255,
//! NaN in the format, gives +inf, which poisons the row visibly rather than silently).
[[nodiscard]] inline float e8m0_value(std::uint8_t code) noexcept {
  return code == 0 ? std::bit_cast<float>(std::uint32_t{0x00400000u}) : std::bit_cast<float>(std::uint32_t{code} << 23);
}

//! Rows [n0, n1) of C on the fp32 vectors of Arch; ab holds A rounded through bf16 [m, k].
template <class Arch>
void mxfp4_rows_fp32(const gemm_mxfp4_args& g, const float* ab, std::size_t n0, std::size_t n1, float* sums) {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size, BK = mxfp4_weight_view::block;
  static_assert(BK % V == 0, "vprim::cpu::gemm_mxfp4: a block is whole vectors");
  const std::size_t k = g.w.k, blocks = k / BK;
  alignas(64) float w[BK];
  for (std::size_t n = n0; n < n1; ++n) {
    const std::uint8_t* codes = g.w.codes + n * (k / 2);
    const std::uint8_t* scales = g.w.scales + n * blocks;
    std::fill(sums, sums + g.m, 0.0f);
    for (std::size_t b = 0; b < blocks; ++b) {
      for (std::size_t j = 0; j < BK / 2; ++j) {
        const std::uint8_t byte = codes[b * (BK / 2) + j];
        w[2 * j] = e2m1_table[byte & 15u];
        w[2 * j + 1] = e2m1_table[byte >> 4];
      }
      const float scale = e8m0_value(scales[b]);
      for (std::size_t r = 0; r < g.m; ++r) {
        const float* ar = ab + r * k + b * BK;
        B acc(0.0f);
        for (std::size_t j = 0; j < BK; j += V) acc = xsimd::fma(B::load_unaligned(ar + j), B::load_aligned(w + j), acc);
        sums[r] += xsimd::hadd(acc) * scale;
      }
    }
    store_column(g, n, sums);
  }
}

#if VPRIM_X86_BF16_KERNELS
//! Whether a block's scale can go into its weights' bf16 exponents and keep them normal: e2m1's
//! nonzero exponents are -1..2, so codes 2..252 (every scale the release ships).
[[nodiscard]] constexpr bool mxfp4_scale_foldable(std::uint8_t scale) noexcept { return scale >= 2 && scale <= 252; }

//! One block of 32 weights as bf16: 16 bytes -> 16 lanes of 32 bits, each the pair (low nibble,
//! high nibble) as indices into `table` in its two 16-bit halves, then vpermw; with `folded`,
//! the scale's exponent is added to every nonzero value.
VPRIM_TARGET_AVX512BF16 inline __m512bh mxfp4_decode_block(const std::uint8_t* codes, std::uint8_t scale, bool folded,
                                                           __m512i table) {
  const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes)));
  const __m512i idx = _mm512_or_si512(_mm512_and_si512(bytes, _mm512_set1_epi32(0x0F)),
                                      _mm512_and_si512(_mm512_slli_epi32(bytes, 12), _mm512_set1_epi32(0x0F << 16)));
  const __m512i w = _mm512_permutexvar_epi16(idx, table);
  if (!folded) return (__m512bh)w;
  const __m512i delta = _mm512_set1_epi16(static_cast<short>((static_cast<int>(scale) - 127) * 128));
  return (__m512bh)_mm512_mask_add_epi16(w, _mm512_test_epi16_mask(w, _mm512_set1_epi16(0x7FFF)), w, delta);
}

//! Rows [n0, n1) of C with vdpbf16ps; abf holds A's rows as bf16 [m, k]. A block's scale goes
//! into its weights' exponents (mxfp4_scale_foldable; else it multiplies the block's dot
//! product), so a row costs one dot product per block; four blocks are in flight, each row with
//! an accumulator per slot, so that no row waits on one chain.
VPRIM_TARGET_AVX512BF16 inline void mxfp4_rows_bf16(const gemm_mxfp4_args& g, const std::uint16_t* abf, std::size_t n0,
                                                    std::size_t n1, float* sums) {
  constexpr std::size_t BK = mxfp4_weight_view::block, unroll = 4, rows_at_once = 4;
  const std::size_t k = g.w.k, blocks = k / BK;
  alignas(64) std::uint16_t table_bits[32] = {};
  for (std::size_t i = 0; i < 16; ++i) table_bits[i] = float_to_bf16_bits(e2m1_table[i]);
  const __m512i table = _mm512_load_si512(table_bits);
  for (std::size_t n = n0; n < n1; ++n) {
    const std::uint8_t* codes = g.w.codes + n * (k / 2);
    const std::uint8_t* scales = g.w.scales + n * blocks;
    for (std::size_t r0 = 0; r0 < g.m; r0 += rows_at_once) {
      const std::size_t rows = std::min(rows_at_once, g.m - r0);
      __m512 acc[rows_at_once][unroll];
      for (auto& row : acc)
        for (auto& x : row) x = _mm512_setzero_ps();
      std::size_t b = 0;
      for (; b + unroll <= blocks; b += unroll) {
        bool all_folded = true;
        for (std::size_t u = 0; u < unroll; ++u) all_folded = all_folded && mxfp4_scale_foldable(scales[b + u]);
        if (!all_folded) break;  // the rest block by block
        __m512bh w[unroll];
        for (std::size_t u = 0; u < unroll; ++u) w[u] = mxfp4_decode_block(codes + (b + u) * (BK / 2), scales[b + u], true, table);
        for (std::size_t r = 0; r < rows; ++r)
          for (std::size_t u = 0; u < unroll; ++u)
            acc[r][u] = _mm512_dpbf16_ps(acc[r][u], (__m512bh)_mm512_loadu_si512(abf + (r0 + r) * k + (b + u) * BK), w[u]);
      }
      for (; b < blocks; ++b) {
        const bool folded = mxfp4_scale_foldable(scales[b]);
        const __m512bh w = mxfp4_decode_block(codes + b * (BK / 2), scales[b], folded, table);
        const __m512 scale = _mm512_set1_ps(e8m0_value(scales[b]));
        for (std::size_t r = 0; r < rows; ++r) {
          const __m512bh x = (__m512bh)_mm512_loadu_si512(abf + (r0 + r) * k + b * BK);
          acc[r][0] = folded ? _mm512_dpbf16_ps(acc[r][0], x, w)
                             : _mm512_fmadd_ps(_mm512_dpbf16_ps(_mm512_setzero_ps(), x, w), scale, acc[r][0]);
        }
      }
      for (std::size_t r = 0; r < rows; ++r)
        sums[r0 + r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[r][0], acc[r][1]), _mm512_add_ps(acc[r][2], acc[r][3])));
    }
    store_column(g, n, sums);
  }
}
#endif

}  // namespace detail

//! C = bf16(A) * dequant(W)^T (+ bias) (+ C). Rows of W are split across the executor's threads.
template <class Arch, executor Exec>
[[nodiscard]] status gemm_mxfp4(Arch, const gemm_mxfp4_args& g, Exec& exec) {
  if (const status s = gemm_mxfp4_can_implement(g); s != status::ok) return s;
  if (g.m == 0 || g.w.n == 0) return status::ok;
  return detail::run_lowbit_gemm<Arch>(
      g, g.w.n, g.w.k, g.w.k,
      [&](const std::uint16_t* abf, std::size_t n0, std::size_t n1, float* sums) {
#if VPRIM_X86_BF16_KERNELS
        detail::mxfp4_rows_bf16(g, abf, n0, n1, sums);
#else
        (void)abf, (void)n0, (void)n1, (void)sums;
#endif
      },
      [&](const float* ab, std::size_t n0, std::size_t n1, float* sums) { detail::mxfp4_rows_fp32<Arch>(g, ab, n0, n1, sums); },
      exec);
}

}  // namespace cpu
VPRIM_NAMESPACE_END
