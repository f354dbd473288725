// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file gemm_lowbit.hpp
//! What the GEMMs on low-bit weights as shipped (gemm_mxfp4.hpp, gemm_fp8.hpp) share.
//!
//! On AVX512-BF16 both run one kernel over "groups": 128 values of K of one row of W, widened by
//! the format's decoder into four bf16 registers in whatever lane order its shuffles produce
//! cheaply, with an fp32 scale per lane of a vdpbf16ps sum (E8M0: a power of two, so exact).
//! A's rows are rounded to bf16 once per call and stored in that same order, so a group costs
//! its decode plus, per row of A, four vdpbf16ps and one FMA; a decoded group serves up to
//! eight rows of A, their sums in registers. W is streamed once for up to eight rows (K block
//! by K block when those rows of A would not stay in L1); more rows pass over blocks of W rows
//! that stay in L2. From lowbit_panel_rows rows on, a format with a panel decoder (MXFP4,
//! FP8) decodes each panel of W once, scales folded, for the bf16 GEMM's tile kernel.
//!
//! Otherwise (no AVX512-BF16, or an fp32 arch tag) the formats' fp32 fallbacks run on A rounded
//! through bf16. Every path: A rounded to bf16, exact products, fp32 sums, per-block scales.

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "vprim/core/dtype.hpp"
#include "vprim/core/executor.hpp"
#include "vprim/core/status.hpp"
#include "vprim/cpu/gemm_bf16.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

//! Values of K one decoded group covers (the AVX512-BF16 kernels' unit; A is padded to it).
inline constexpr std::size_t lowbit_group = 128;

namespace detail {
//! The row stride of A in grouped order: k rounded up to whole groups.
[[nodiscard]] constexpr std::size_t grouped_stride(std::size_t k) noexcept {
  return (k + lowbit_group - 1) / lowbit_group * lowbit_group;
}
}  // namespace detail

//! uint16 elements of scratch that gemm_mxfp4 / gemm_fp8 take for m rows of K (A in bf16 in the
//! kernel's order, or, on CPUs without AVX512-BF16, A rounded through bf16 in fp32): with it, a
//! call allocates nothing (decode, a MoE expert's rows).
[[nodiscard]] constexpr std::size_t gemm_lowbit_scratch(std::size_t m, std::size_t k) noexcept {
  return 2 * m * detail::grouped_stride(k);
}

namespace detail {

//! A's rows rounded to bf16 and back to fp32 (the fallback's operand), row stride k.
inline void round_rows_bf16(const float* a, std::size_t lda, std::size_t m, std::size_t k, float* out) {
  for (std::size_t r = 0; r < m; ++r)
    for (std::size_t j = 0; j < k; ++j) out[r * k + j] = bf16_bits_to_float(float_to_bf16_bits(a[r * lda + j]));
}

//! C[r0 + i, n] = sums[i] + bias[n], or C[r0 + i, n] += that, for `rows` rows of A.
template <class Args>
inline void store_column(const Args& g, std::size_t r0, std::size_t rows, std::size_t n, const float* sums) noexcept {
  for (std::size_t i = 0; i < rows; ++i) {
    float& c = g.c[(r0 + i) * g.ldc + n];
    const float v = sums[i] + (g.bias ? g.bias[n] : 0.0f);
    c = g.accumulate ? c + v : v;
  }
}

//! The lane order of a decoder: position p of a group's four registers (register p / 32, element
//! p % 32) holds column order[p] of the group.
using group_order = std::array<std::uint8_t, lowbit_group>;

#if VPRIM_X86_BF16_KERNELS
//! One group of a row of W as bf16 (four registers, the decoder's order) and, per fp32 lane of
//! a vdpbf16ps sum over them, the scale of the values that lane summed.
struct bf16_group {
  __m512bh w[4];
  __m512 scale;
};

//! A's rows as bf16 in a decoder's order: out[r * kp + g * 128 + p] = bf16(a[r, g * 128 + order[p]]),
//! zero past k; kp = k rounded up to whole groups. Rounded as the bf16 GEMM's convert_rows_bf16
//! (and read as vdpbf16ps reads its inputs): each whole group's 128 values become four
//! registers of bf16 in natural order, and two-source word permutes put them in the decoder's
//! order; a ragged last group is converted one value at a time.
VPRIM_TARGET_AVX512BF16 inline void convert_rows_grouped_bf16(const float* a, std::size_t lda, std::size_t rows, std::size_t k,
                                                              const group_order& order, std::uint16_t* out) {
  const std::size_t kp = grouped_stride(k), whole = k / lowbit_group * lowbit_group;
  alignas(64) std::uint16_t index[lowbit_group];  // order[p] within its pair of source registers
  for (std::size_t p = 0; p < lowbit_group; ++p) index[p] = static_cast<std::uint16_t>(order[p] % 64);
  __m512i idx[4];
  __mmask32 upper[4];  // lanes whose column lies in registers 2 and 3
  for (std::size_t t = 0; t < 4; ++t) {
    idx[t] = _mm512_load_si512(index + 32 * t);
    upper[t] = 0;
    for (std::size_t e = 0; e < 32; ++e)
      if (order[32 * t + e] >= 64) upper[t] |= __mmask32{1} << e;
  }
  for (std::size_t r = 0; r < rows; ++r) {
    const float* src = a + r * lda;
    std::uint16_t* dst = out + r * kp;
    for (std::size_t g0 = 0; g0 < whole; g0 += lowbit_group) {
      __m512i v[4];
      for (std::size_t j = 0; j < 4; ++j)
        v[j] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + g0 + 32 * j + 16), _mm512_loadu_ps(src + g0 + 32 * j));
      for (std::size_t t = 0; t < 4; ++t) {
        const __m512i low = _mm512_permutex2var_epi16(v[0], idx[t], v[1]);
        const __m512i high = _mm512_permutex2var_epi16(v[2], idx[t], v[3]);
        _mm512_storeu_si512(dst + g0 + 32 * t, _mm512_mask_blend_epi16(upper[t], low, high));
      }
    }
    if (whole < kp)
      for (std::size_t p = 0; p < lowbit_group; ++p) {
        const std::size_t x = whole + order[p];
        dst[whole + p] = x < k ? float_to_bf16_bits(src[x]) : std::uint16_t{0};
      }
  }
}

//! Asks for the cache line `lowbit_prefetch_bytes` past p: a thread streams its rows of W front
//! to back, and with only the hardware's prefetch a core keeps too few lines in flight to feed
//! the decode at one row of A (measured: 4 KiB ahead took 4096 x 14336 MXFP4 at one row from
//! 1.5 ms to 0.9 ms on two threads).
inline constexpr std::size_t lowbit_prefetch_bytes = 4096;
VPRIM_TARGET_AVX512BF16 inline void prefetch_ahead(const std::uint8_t* p) {
  _mm_prefetch(reinterpret_cast<const char*>(p) + lowbit_prefetch_bytes, _MM_HINT_T0);
}

//! The loads of a group's tail: the first `count` (< 64) bytes, zeros after.
VPRIM_TARGET_AVX512BF16 inline __m512i load_bytes(const std::uint8_t* p, std::size_t count) {
  if (count >= 64) return _mm512_loadu_si512(p);
  return _mm512_maskz_loadu_epi8((__mmask64{1} << count) - 1, p);
}

//! The sum of x's 16 lanes. (Zero-masked shuffles: GCC 12's unmasked ones, and so its
//! _mm512_reduce_add_ps, start from _mm512_undefined_ps and trip -Wuninitialized here.)
VPRIM_TARGET_AVX512BF16 inline float lane_sum(__m512 x) {
  constexpr __mmask16 all = 0xFFFF;
  x = _mm512_add_ps(x, _mm512_maskz_shuffle_f32x4(all, x, x, 0x4E));
  x = _mm512_add_ps(x, _mm512_maskz_shuffle_f32x4(all, x, x, 0xB1));
  x = _mm512_add_ps(x, _mm512_maskz_permute_ps(all, x, 0x4E));
  x = _mm512_add_ps(x, _mm512_maskz_permute_ps(all, x, 0xB1));
  return _mm512_cvtss_f32(x);
}

//! Values of K one partial sum covers: a row's sum is the fp32 sum, K block by K block, of each
//! block's lane-summed vdpbf16ps sums. The same for every loop order and row count, so which
//! loop order runs does not change a result.
inline constexpr std::size_t lowbit_k_block_groups = 8;

//! Rows rows of A (grouped order, row stride kp) times row n of W over groups [g0, g1) (one K
//! block), added to sums: per group, four vdpbf16ps into a fresh sum that the group's scales
//! multiply into the row's accumulator.
template <std::size_t Rows, class Decoder>
VPRIM_TARGET_AVX512BF16 inline void lowbit_dot_rows(Decoder& d, const std::uint16_t* a, std::size_t kp, std::size_t n,
                                                    std::size_t g0, std::size_t g1, float* sums) {
  __m512 acc[Rows];
  for (auto& x : acc) x = _mm512_setzero_ps();
  for (std::size_t g = g0; g < g1; ++g) {
    const std::size_t k0 = g * lowbit_group;
    bf16_group w;
    d.decode(n, g, w);
    for (std::size_t r = 0; r < Rows; ++r) {
      const std::uint16_t* ar = a + r * kp + k0;
      __m512 s = _mm512_dpbf16_ps(_mm512_setzero_ps(), (__m512bh)_mm512_loadu_si512(ar), w.w[0]);
      s = _mm512_dpbf16_ps(s, (__m512bh)_mm512_loadu_si512(ar + 32), w.w[1]);
      s = _mm512_dpbf16_ps(s, (__m512bh)_mm512_loadu_si512(ar + 64), w.w[2]);
      s = _mm512_dpbf16_ps(s, (__m512bh)_mm512_loadu_si512(ar + 96), w.w[3]);
      acc[r] = _mm512_fmadd_ps(s, w.scale, acc[r]);
    }
  }
  for (std::size_t r = 0; r < Rows; ++r) sums[r] += lane_sum(acc[r]);
}

//! lowbit_dot_rows for a run-time row count of 1 .. sizeof...(R) (one instantiation each).
template <class Decoder, std::size_t... R>
VPRIM_TARGET_AVX512BF16 inline void lowbit_dot_rows_n(std::index_sequence<R...>, std::size_t rows, Decoder& d, const std::uint16_t* a,
                                                      std::size_t kp, std::size_t n, std::size_t g0, std::size_t g1, float* sums) {
  (void)((rows == R + 1 && (lowbit_dot_rows<R + 1>(d, a, kp, n, g0, g1, sums), true)) || ...);
}

//! Bytes of A's rows that one pass over W may read from L1 with no K blocking (of a 48 KiB L1,
//! leaving room for W's lines streaming through).
inline constexpr std::size_t lowbit_a_in_l1_bytes = 32 * 1024;

//! Rows [n0, n1) of C from A in grouped order (m rows, stride kp): eight rows of A at a time
//! per decoded group. Blocks of W rows small enough for L2 are passed over by every eight rows
//! before the next block is read. When those rows of A do not fit in L1 (8 x 4096 values of
//! bf16 are 64 KiB), W is walked 16 rows at a time K block by K block, so each K block of A stays
//! in L1 while those rows read it (before, A came from L2 once per W row, which bound 8 rows at
//! 4096 x 14336 to 117 GMAC/s; walking more W rows at once was faster only while W sat in L3, as
//! it splits DRAM's stream into more pieces); otherwise W is read front to back. (Sixteen rows
//! of A per pass measured slower, at 8 rows too.)
template <class Decoder, class Args>
VPRIM_TARGET_AVX512BF16 inline void lowbit_rows_bf16(Decoder& d, const Args& g, const std::uint16_t* abf, std::size_t kp,
                                                     std::size_t n0, std::size_t n1) {
  constexpr std::size_t rows_at_once = 8, w_rows_per_block = 64, kb = lowbit_k_block_groups, w_rows_per_k_walk = 16;
  constexpr auto row_counts = std::make_index_sequence<rows_at_once>{};
  const std::size_t groups = kp / lowbit_group;
  for (std::size_t nb = n0; nb < n1; nb += w_rows_per_block) {
    const std::size_t ne = std::min(n1, nb + w_rows_per_block);
    for (std::size_t r0 = 0; r0 < g.m; r0 += rows_at_once) {
      const std::size_t rows = std::min(rows_at_once, g.m - r0);
      const std::uint16_t* a = abf + r0 * kp;
      float sums[w_rows_per_block][rows_at_once] = {};
      if (rows * kp * sizeof(std::uint16_t) <= lowbit_a_in_l1_bytes) {
        for (std::size_t n = nb; n < ne; ++n)
          for (std::size_t g0 = 0; g0 < groups; g0 += kb) lowbit_dot_rows_n(row_counts, rows, d, a, kp, n, g0, std::min(groups, g0 + kb), sums[n - nb]);
      } else {
        for (std::size_t ns = nb; ns < ne; ns += w_rows_per_k_walk)
          for (std::size_t g0 = 0; g0 < groups; g0 += kb)
            for (std::size_t n = ns; n < std::min(ne, ns + w_rows_per_k_walk); ++n)
              lowbit_dot_rows_n(row_counts, rows, d, a, kp, n, g0, std::min(groups, g0 + kb), sums[n - nb]);
      }
      for (std::size_t n = nb; n < ne; ++n) store_column(g, r0, rows, n, sums[n - nb]);
    }
  }
}

//! Rows of A from which a format with a panel decoder runs the panel path.
inline constexpr std::size_t lowbit_panel_rows = 32;

//! Many rows of A: each 32-row panel of W is decoded once per K block (and row block) into the
//! bf16 GEMM's k-pair layout with its scales folded in (exact: the format's values times a
//! power of two are bf16 numbers while Decoder::panels_exact holds), and the bf16 GEMM's 12 x
//! 32 register tile runs on it, A in bf16 row-major (`abf`, stride kp). The grouped kernel's
//! decode and scale FMA per row of A are gone; what is left is the dot products.
template <class Decoder, class Args, executor Exec>
void lowbit_panels(const Args& g, std::size_t n, std::size_t k, const std::uint16_t* abf, std::size_t kp, Exec& exec) {
  using T = bf16_tile;
  constexpr std::size_t NR = T::nr;
  const std::size_t mblocks = (g.m + T::mc - 1) / T::mc, nblocks = (n + T::nc - 1) / T::nc;
  exec.parallel_for(static_cast<std::int64_t>(mblocks * nblocks), [&](std::int64_t begin, std::int64_t end) {
    alignas(64) std::uint16_t wp[T::kc * NR];  // one decoded panel block: kc / 2 pairs x 32 columns x 2
    for (auto t = static_cast<std::size_t>(begin); t < static_cast<std::size_t>(end); ++t) {
      const std::size_t i0 = (t / nblocks) * T::mc, j0 = (t % nblocks) * T::nc;
      const std::size_t i1 = std::min(g.m, i0 + T::mc), j1 = std::min(n, j0 + T::nc);
      for (std::size_t k0 = 0; k0 < k; k0 += T::kc) {
        const std::size_t pairs = (std::min(T::kc, k - k0) + 1) / 2;
        const bool first = k0 == 0;
        for (std::size_t j = j0; j < j1; j += NR) {
          const std::size_t cols = std::min(NR, j1 - j);
          Decoder::decode_panel(g.w, j, cols, k0 / 2, pairs, wp);
          for (std::size_t i = i0; i < i1; i += T::mr) {
            const std::size_t rows = std::min(T::mr, i1 - i);
            float* c = g.c + i * g.ldc + j;
            const float* init = (first && !g.accumulate) ? nullptr : c;
            gemm_bf16_micro(abf + i * kp + k0, kp, wp, pairs, c, g.ldc, rows, cols, init, (first && g.bias) ? g.bias + j : nullptr);
            if (first && g.accumulate && g.bias) add_bias_tile(c, g.ldc, g.bias + j, rows, cols);
          }
        }
      }
    }
  });
}

template <class Decoder, class View>
concept panel_decoder = requires(const View& w, std::uint16_t* out) {
  { Decoder::panels_exact(w) } -> std::same_as<bool>;
  Decoder::decode_panel(w, std::size_t{}, std::size_t{}, std::size_t{}, std::size_t{}, out);
};
#endif

//! Runs one low-bit GEMM over W's n rows of k: with AVX512-BF16 (for this Arch and CPU), the
//! grouped kernel with Decoder(g.w) on A in its order; otherwise rows_fp32(ab, n0, n1, r0, r1,
//! sums) on A rounded through bf16 [m, k], for rows [r0, r1) of A at most `fp32_rows` at a time,
//! their sums on the stack. A's buffer is `a_scratch` when given (gemm_lowbit_scratch(m, k)
//! elements, 64-byte aligned), else allocated. Decoder may be incomplete where the AVX512-BF16
//! kernels are not built.
inline constexpr std::size_t fp32_rows = 64;

template <class Arch, class Decoder, class Args, class RowsFp32, executor Exec>
[[nodiscard]] status run_lowbit_gemm(const Args& g, std::size_t n, std::size_t k, RowsFp32&& rows_fp32, Exec& exec,
                                     std::uint16_t* a_scratch) {
  std::vector<std::uint16_t, xsimd::aligned_allocator<std::uint16_t, 64>> owned(a_scratch ? 0 : gemm_lowbit_scratch(g.m, k));
  std::uint16_t* const scratch = a_scratch ? a_scratch : owned.data();
#if VPRIM_X86_BF16_KERNELS
  if (bf16_kernels_for<Arch> && cpu_has_bf16_kernels()) {
    if constexpr (panel_decoder<Decoder, decltype(g.w)>) {
      if (g.m >= lowbit_panel_rows && Decoder::panels_exact(g.w)) {
        const std::size_t kp = (k + 1) / 2 * 2;
        convert_rows_bf16(g.a, g.lda, g.m, k, kp, scratch);
        lowbit_panels<Decoder>(g, n, k, scratch, kp, exec);
        return status::ok;
      }
    }
    const std::size_t kp = grouped_stride(k);
    convert_rows_grouped_bf16(g.a, g.lda, g.m, k, Decoder::order, scratch);
    exec.parallel_for(static_cast<std::int64_t>(n), [&](std::int64_t n0, std::int64_t n1) {
      Decoder d(g.w);  // per thread: decoders may keep state along a row
      lowbit_rows_bf16(d, g, scratch, kp, static_cast<std::size_t>(n0), static_cast<std::size_t>(n1));
    });
    return status::ok;
  }
#endif
  float* const ab = reinterpret_cast<float*>(scratch);
  round_rows_bf16(g.a, g.lda, g.m, k, ab);
  exec.parallel_for(static_cast<std::int64_t>(n), [&](std::int64_t n0, std::int64_t n1) {
    float sums[fp32_rows];
    for (std::size_t r0 = 0; r0 < g.m; r0 += fp32_rows)
      rows_fp32(ab, static_cast<std::size_t>(n0), static_cast<std::size_t>(n1), r0, std::min(g.m, r0 + fp32_rows), sums);
  });
  return status::ok;
}

}  // namespace detail
}  // namespace cpu
VPRIM_NAMESPACE_END
