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
//! reference instead quantises the activations per 128 to e4m3 before its FP8 products; that
//! option is not here.)
//! - On the avx512bw arch tag (or later) with AVX512-BF16 on the CPU: 32 codes at a time
//!   widened to bf16 in a register (the exponent rebased, subnormals looked up) and multiplied
//!   with vdpbf16ps; a widened chunk serves every row of A. vdpbf16ps reads subnormal bf16
//!   activations (|a| < 1.2e-38) as zero.
//! - Otherwise: a block widened to fp32 (fp8.hpp), then FMA on the arch's fp32 vectors.
//! The weights are read once per call whatever M is: the rows of A are the inner loop.

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include <xsimd/xsimd.hpp>

#include "vprim/core/dtype.hpp"
#include "vprim/core/executor.hpp"
#include "vprim/core/status.hpp"
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
  if (g.a == nullptr || g.c == nullptr || g.w.codes == nullptr || g.w.scales == nullptr) return status::invalid_argument;
  if (g.lda < g.w.k || g.ldc < g.w.n) return status::shape_mismatch;
  return status::ok;
}

namespace detail {

//! Rows [n0, n1) of C on the fp32 vectors of Arch; ab holds A rounded through bf16 [m, k].
template <class Arch>
void fp8_rows_fp32(const gemm_fp8_args& g, const float* ab, std::size_t n0, std::size_t n1, float* sums) {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size, BK = fp8_weight_view::block;
  const std::size_t k = g.w.k;
  alignas(64) float w[BK];
  for (std::size_t n = n0; n < n1; ++n) {
    std::fill(sums, sums + g.m, 0.0f);
    for (std::size_t b = 0, k0 = 0; k0 < k; ++b, k0 += BK) {
      const std::size_t kc = std::min(BK, k - k0);
      widen_e4m3<Arch>(reinterpret_cast<const std::byte*>(g.w.codes + n * k + k0), kc, w);
      const float scale = g.w.scale(n, b);
      for (std::size_t r = 0; r < g.m; ++r) {
        const float* ar = ab + r * k + k0;
        B acc(0.0f);
        std::size_t j = 0;
        for (; j + V <= kc; j += V) acc = xsimd::fma(B::load_unaligned(ar + j), B::load_aligned(w + j), acc);
        float block_sum = xsimd::hadd(acc);
        for (; j < kc; ++j) block_sum += ar[j] * w[j];
        sums[r] += block_sum * scale;
      }
    }
    store_column(g, n, sums);
  }
}

#if VPRIM_X86_BF16_KERNELS
//! 32 e4m3 codes (the first `count`, the rest read as zero) as bf16: the magnitude shifted under
//! a rebased exponent; the eight subnormal magnitudes (m * 2^-9) from a table; the sign.
VPRIM_TARGET_AVX512BF16 inline __m512bh e4m3_to_bf16_x32(const std::uint8_t* codes, std::size_t count, __m512i subnormals) {
  const __mmask32 live = count >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << count) - 1u);
  const __m512i x = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(live, codes));
  const __m512i magnitude = _mm512_and_si512(x, _mm512_set1_epi16(0x7F));
  __m512i w = _mm512_add_epi16(_mm512_slli_epi16(magnitude, 4), _mm512_set1_epi16(120 << 7));
  w = _mm512_mask_permutexvar_epi16(w, _mm512_cmplt_epu16_mask(magnitude, _mm512_set1_epi16(8)), magnitude, subnormals);
  return (__m512bh)_mm512_or_si512(w, _mm512_slli_epi16(_mm512_and_si512(x, _mm512_set1_epi16(0x80)), 8));
}

//! Rows [n0, n1) of C with vdpbf16ps; abf holds A's rows as bf16 [m, kp], zero past k. Per row
//! of W and 128-wide block: four chunks of 32 widened once, each multiplied into every row of
//! A (four rows at a time, one accumulator per row); the block's sum then scaled into the row's.
VPRIM_TARGET_AVX512BF16 inline void fp8_rows_bf16(const gemm_fp8_args& g, const std::uint16_t* abf, std::size_t kp, std::size_t n0,
                                                  std::size_t n1, float* sums) {
  constexpr std::size_t BK = fp8_weight_view::block, rows_at_once = 4;
  const std::size_t k = g.w.k;
  alignas(64) std::uint16_t table_bits[32] = {};
  for (std::size_t m = 0; m < 8; ++m) table_bits[m] = float_to_bf16_bits(static_cast<float>(m) / 512.0f);
  const __m512i subnormals = _mm512_load_si512(table_bits);
  for (std::size_t n = n0; n < n1; ++n) {
    const std::uint8_t* codes = g.w.codes + n * k;
    for (std::size_t r0 = 0; r0 < g.m; r0 += rows_at_once) {
      const std::size_t rows = std::min(rows_at_once, g.m - r0);
      __m512 total[rows_at_once];
      for (auto& t : total) t = _mm512_setzero_ps();
      for (std::size_t b = 0, k0 = 0; k0 < k; ++b, k0 += BK) {
        __m512 acc[rows_at_once];
        for (auto& x : acc) x = _mm512_setzero_ps();
        for (std::size_t c0 = k0; c0 < std::min(k, k0 + BK); c0 += 32) {
          const __m512bh w = e4m3_to_bf16_x32(codes + c0, k - c0, subnormals);
          for (std::size_t r = 0; r < rows; ++r)
            acc[r] = _mm512_dpbf16_ps(acc[r], (__m512bh)_mm512_loadu_si512(abf + (r0 + r) * kp + c0), w);
        }
        const __m512 scale = _mm512_set1_ps(g.w.scale(n, b));
        for (std::size_t r = 0; r < rows; ++r) total[r] = _mm512_fmadd_ps(acc[r], scale, total[r]);
      }
      for (std::size_t r = 0; r < rows; ++r) sums[r0 + r] = _mm512_reduce_add_ps(total[r]);
    }
    store_column(g, n, sums);
  }
}
#endif

}  // namespace detail

//! C = bf16(A) * dequant(W)^T (+ bias) (+ C). Rows of W are split across the executor's threads.
template <class Arch, executor Exec>
[[nodiscard]] status gemm_fp8(Arch, const gemm_fp8_args& g, Exec& exec) {
  if (const status s = gemm_fp8_can_implement(g); s != status::ok) return s;
  if (g.m == 0 || g.w.n == 0) return status::ok;
  const std::size_t kp = (g.w.k + 31) / 32 * 32;  // whole chunks of 32, zero past k
  return detail::run_lowbit_gemm<Arch>(
      g, g.w.n, g.w.k, kp,
      [&](const std::uint16_t* abf, std::size_t n0, std::size_t n1, float* sums) {
#if VPRIM_X86_BF16_KERNELS
        detail::fp8_rows_bf16(g, abf, kp, n0, n1, sums);
#else
        (void)abf, (void)n0, (void)n1, (void)sums;
#endif
      },
      [&](const float* ab, std::size_t n0, std::size_t n1, float* sums) { detail::fp8_rows_fp32<Arch>(g, ab, n0, n1, sums); },
      exec);
}

}  // namespace cpu
VPRIM_NAMESPACE_END
