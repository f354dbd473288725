// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file gemm_bf16.hpp
//! bf16 GEMM with fp32 accumulation: C[M,N] = bf16(A)[M,K] * W_bf16[N,K]^T (+ bias) (+ C).
//! Weights are stored in bf16 (half the bytes of fp32), packed in k-pairs for the AVX512-BF16
//! dot product: panel p holds, for each pair of k, 32 columns of [W[j][2q], W[j][2q+1]]. A is
//! rounded to bf16 (nearest even) as it is packed; products are exact in fp32 and summed in
//! fp32.
//! - On the avx512bw arch tag (or a later one), when the running CPU has AVX512-BF16, the
//!   micro-kernel keeps a 12 x 32 tile of C in registers and issues vdpbf16ps (2 FLOP per lane
//!   per k pair). Those kernels carry their instruction set in a target attribute, so every
//!   translation unit compiles the same bodies whatever its -m flags: the arch tag chooses the
//!   path, never a macro inside a shared template (one definition, as the ODR requires).
//! - Otherwise each W panel block is widened to fp32 and A rounded through bf16, then the fp32
//!   micro-kernel runs: the same math, at the fp32 rate.

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "vprim/core/dtype.hpp"
#include "vprim/cpu/gemm.hpp"

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define VPRIM_X86_BF16_KERNELS 1  // the platform has them; whether they run is the arch tag's call
//! Compiles a function for AVX512-BF16 (and VBMI's byte permutes) whatever the translation
//! unit's flags.
#define VPRIM_TARGET_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx512vbmi")))
#else
#define VPRIM_X86_BF16_KERNELS 0
#endif

VPRIM_NAMESPACE_BEGIN
namespace cpu {

//! True when the running CPU runs the VPRIM_TARGET_AVX512BF16 kernels: AVX512-BF16 (CPUID leaf
//! 7, subleaf 1, EAX bit 5) and AVX512-VBMI (leaf 7, subleaf 0, ECX bit 1; the FP8 decoder's
//! 128-byte table lookups). Every CPU with the first has the second but Cooper Lake, which
//! takes the fp32 paths. Asked once (CPUID traps to the hypervisor in a VM).
[[nodiscard]] inline bool cpu_has_bf16_kernels() noexcept {
#if VPRIM_X86_BF16_KERNELS
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d) == 0 || ((a >> 5) & 1u) == 0) return false;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
    return ((c >> 1) & 1u) != 0;
  }();
  return has;
#else
  return false;
#endif
}

//! W[N,K] in bf16 k-pairs, panels of 32 columns; K padded to even with zeros.
struct packed_weight_bf16 {
  static constexpr std::size_t nr = 32;
  std::size_t n = 0, k = 0, pairs = 0;
  aligned_buffer<std::uint16_t> data;  //!< ceil(n/32) panels of pairs * 64 values
  [[nodiscard]] const std::uint16_t* panel(std::size_t p) const noexcept { return data.data() + p * pairs * 2 * nr; }
};

//! Packs fp32 W (row stride ldw), rounding to bf16.
[[nodiscard]] inline result<packed_weight_bf16> pack_weight_bf16(const float* w, std::size_t n, std::size_t k, std::size_t ldw) {
  constexpr std::size_t nr = packed_weight_bf16::nr;
  const std::size_t panels = (n + nr - 1) / nr, pairs = (k + 1) / 2;
  auto buf = aligned_buffer<std::uint16_t>::allocate(panels * pairs * 2 * nr);
  if (!buf) return buf.err();
  packed_weight_bf16 pw{n, k, pairs, std::move(*buf)};
  for (std::size_t p = 0; p < panels; ++p) {
    std::uint16_t* dst = pw.data.data() + p * pairs * 2 * nr;
    for (std::size_t j = 0; j < nr && p * nr + j < n; ++j) {
      const float* src = w + (p * nr + j) * ldw;
      for (std::size_t kk = 0; kk < k; ++kk) dst[(kk / 2) * 2 * nr + 2 * j + (kk % 2)] = float_to_bf16_bits(src[kk]);
    }
  }
  return result<packed_weight_bf16>(std::move(pw));
}

using gemm_bf16_args = basic_gemm_args<packed_weight_bf16>;

[[nodiscard]] inline status gemm_bf16_can_implement(const gemm_bf16_args& g) noexcept {
  if (g.w == nullptr) return status::invalid_argument;
  return detail::check_gemm_shapes(g);
}

namespace detail {

//! The tiling of the bf16 kernel: 12 x 32 register tile, K blocks of 512 (256 pairs). Up to
//! `skinny_rows` rows of A take the streaming path instead (whole panels, no K blocks).
struct bf16_tile {
  static constexpr std::size_t mr = 12, nr = 32, kc = 512, mc = mr * 8, nc = nr * 8, skinny_rows = 2 * mr;
};

//! Whether Arch may take the AVX512-BF16 kernels (when the CPU has them): avx512bw and later
//! tags, which already need AVX-512 F/BW/DQ/CD on the CPU.
template <class Arch>
inline constexpr bool bf16_kernels_for = VPRIM_X86_BF16_KERNELS && std::is_base_of_v<xsimd::avx512bw, Arch>;

#if VPRIM_X86_BF16_KERNELS
//! Rounds rows of A to bf16, `kp` (even) values per row, zero padded past `kc`.
VPRIM_TARGET_AVX512BF16 inline void convert_rows_bf16(const float* a, std::size_t lda, std::size_t rows, std::size_t kc, std::size_t kp,
                              std::uint16_t* out) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* src = a + r * lda;
    std::uint16_t* dst = out + r * kp;
    std::size_t k = 0;
    for (; k + 32 <= kc; k += 32) {
      const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + k + 16), _mm512_loadu_ps(src + k));
      _mm512_storeu_si512(dst + k, (__m512i)v);
    }
    for (; k < kc; ++k) dst[k] = float_to_bf16_bits(src[k]);
    for (; k < kp; ++k) dst[k] = 0;
  }
}

//! How far ahead (in k pairs of a panel, 128 bytes each) a streaming kernel prefetches W.
inline constexpr std::size_t prefetch_pairs = 64;

//! One MR x 32 tile over `pairs` k pairs: rows of bf16 A (stride kp values) times a W panel.
//! MR is 12 for full tiles; 8 and 4 serve short ones (a MoE expert sees about 8 tokens at a
//! prefill of 324), so that no dot products are spent on padding rows. Stream: W comes from
//! memory once (the skinny path), so it is prefetched ahead.
template <std::size_t MR, bool Stream = false>
VPRIM_TARGET_AVX512BF16 inline void gemm_bf16_micro_rows(const std::uint16_t* a, std::size_t kp, const std::uint16_t* wp, std::size_t pairs, float* c,
                                 std::size_t ldc, std::size_t rows, std::size_t cols, const float* init_c, const float* bias) {
  constexpr std::size_t NR = bf16_tile::nr;
  const std::uint32_t* ar[MR];
  for (std::size_t i = 0; i < MR; ++i) ar[i] = reinterpret_cast<const std::uint32_t*>(a + (i < rows ? i : 0) * kp);
  __m512 acc0[MR], acc1[MR];
  alignas(64) float tile[MR * NR];
  const bool full = rows == MR && cols == NR;
  if (init_c != nullptr && full) {
    for (std::size_t i = 0; i < MR; ++i) {
      acc0[i] = _mm512_loadu_ps(init_c + i * ldc);
      acc1[i] = _mm512_loadu_ps(init_c + i * ldc + 16);
    }
  } else if (init_c != nullptr) {
    std::memset(tile, 0, sizeof tile);
    for (std::size_t i = 0; i < rows; ++i) std::memcpy(tile + i * NR, init_c + i * ldc, cols * sizeof(float));
    for (std::size_t i = 0; i < MR; ++i) {
      acc0[i] = _mm512_load_ps(tile + i * NR);
      acc1[i] = _mm512_load_ps(tile + i * NR + 16);
    }
  } else {
    alignas(64) float b[NR] = {};
    if (bias != nullptr) std::memcpy(b, bias, cols * sizeof(float));
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    for (std::size_t i = 0; i < MR; ++i) {
      acc0[i] = b0;
      acc1[i] = b1;
    }
  }
  for (std::size_t q = 0; q < pairs; ++q) {
    if constexpr (Stream) {
      _mm_prefetch(reinterpret_cast<const char*>(wp + (q + prefetch_pairs) * 2 * NR), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(wp + (q + prefetch_pairs) * 2 * NR + NR), _MM_HINT_T0);
    }
    const __m512bh w0 = (__m512bh)_mm512_load_si512(wp + q * 2 * NR);
    const __m512bh w1 = (__m512bh)_mm512_load_si512(wp + q * 2 * NR + NR);
    for (std::size_t i = 0; i < MR; ++i) {
      const __m512bh x = (__m512bh)_mm512_set1_epi32(static_cast<int>(ar[i][q]));
      acc0[i] = _mm512_dpbf16_ps(acc0[i], x, w0);
      acc1[i] = _mm512_dpbf16_ps(acc1[i], x, w1);
    }
  }
  if (full) {
    for (std::size_t i = 0; i < MR; ++i) {
      _mm512_storeu_ps(c + i * ldc, acc0[i]);
      _mm512_storeu_ps(c + i * ldc + 16, acc1[i]);
    }
    return;
  }
  for (std::size_t i = 0; i < MR; ++i) {
    _mm512_store_ps(tile + i * NR, acc0[i]);
    _mm512_store_ps(tile + i * NR + 16, acc1[i]);
  }
  for (std::size_t i = 0; i < rows; ++i) std::memcpy(c + i * ldc, tile + i * NR, cols * sizeof(float));
}

template <bool Stream = false>
VPRIM_TARGET_AVX512BF16 inline void gemm_bf16_micro(const std::uint16_t* a, std::size_t kp, const std::uint16_t* wp, std::size_t pairs, float* c,
                            std::size_t ldc, std::size_t rows, std::size_t cols, const float* init_c, const float* bias) {
  if (rows <= 4) gemm_bf16_micro_rows<4, Stream>(a, kp, wp, pairs, c, ldc, rows, cols, init_c, bias);
  else if (rows <= 8) gemm_bf16_micro_rows<8, Stream>(a, kp, wp, pairs, c, ldc, rows, cols, init_c, bias);
  else gemm_bf16_micro_rows<bf16_tile::mr, Stream>(a, kp, wp, pairs, c, ldc, rows, cols, init_c, bias);
}
#endif

}  // namespace detail

//! uint16 elements of A as bf16 that gemm_bf16 needs for m rows of K (the skinny path's operand,
//! m <= 24; 0 for more rows, whose K blocks keep a thread's own scratch).
[[nodiscard]] constexpr std::size_t gemm_bf16_scratch(std::size_t m, std::size_t k) noexcept {
  return m <= detail::bf16_tile::skinny_rows ? m * ((k + 1) / 2 * 2) : 0;
}

//! C = bf16(A) * W^T (+ bias) (+ C). Arch is the fp32 arch used by the fallback path. With
//! `a_scratch` (gemm_bf16_scratch(m, k) elements, 64-byte aligned) a call of up to 24 rows, as
//! decoding makes, allocates nothing; without it the call allocates its operand.
template <class Arch, executor Exec>
[[nodiscard]] status gemm_bf16(Arch, const gemm_bf16_args& g, Exec& exec, std::uint16_t* a_scratch = nullptr) {
  if (const status s = gemm_bf16_can_implement(g); s != status::ok) return s;
  if (g.m == 0 || g.w->n == 0) return status::ok;
  const std::size_t n = g.w->n, k = g.w->k;
  if (k == 0) {
    detail::gemm_empty_k(g.m, n, g.bias, g.c, g.ldc, g.accumulate);
    return status::ok;
  }
  using T = detail::bf16_tile;
  constexpr std::size_t NR = T::nr;
#if VPRIM_X86_BF16_KERNELS
  if (detail::bf16_kernels_for<Arch> && cpu_has_bf16_kernels() && g.m <= T::skinny_rows) {
    // Skinny A (a decode step, a MoE expert's few rows): K blocks buy no reuse. Each W panel is
    // streamed whole, front to back, which the prefetchers serve best; weight bandwidth is all
    // that bounds this case. A second row tile reads the panel again from L2.
    const std::size_t kp = (k + 1) / 2 * 2;
    std::vector<std::uint16_t, xsimd::aligned_allocator<std::uint16_t, 64>> owned(a_scratch ? 0 : g.m * kp);
    std::uint16_t* const abf = a_scratch ? a_scratch : owned.data();
    detail::convert_rows_bf16(g.a, g.lda, g.m, k, kp, abf);
    exec.parallel_for(static_cast<std::int64_t>((n + NR - 1) / NR), [&](std::int64_t p0, std::int64_t p1) {
      for (auto p = static_cast<std::size_t>(p0); p < static_cast<std::size_t>(p1); ++p) {
        const std::size_t j = p * NR, cols = std::min(NR, n - j);
        for (std::size_t i = 0; i < g.m; i += T::mr) {
          const std::size_t rows = std::min(T::mr, g.m - i);
          float* c = g.c + i * g.ldc + j;
          const float* init = g.accumulate ? c : nullptr;
          const float* bias = g.bias ? g.bias + j : nullptr;
          if (i == 0) detail::gemm_bf16_micro<true>(abf, kp, g.w->panel(p), kp / 2, c, g.ldc, rows, cols, init, bias);
          else detail::gemm_bf16_micro(abf + i * kp, kp, g.w->panel(p), kp / 2, c, g.ldc, rows, cols, init, bias);
          if (g.accumulate && g.bias) detail::add_bias_tile(c, g.ldc, g.bias + j, rows, cols);
        }
      }
    });
    return status::ok;
  }
  if (detail::bf16_kernels_for<Arch> && cpu_has_bf16_kernels()) {
    // Each A block is rounded to bf16 once per (tile, K block) and shared by every W panel.
    const std::size_t mblocks = (g.m + T::mc - 1) / T::mc, nblocks = (n + T::nc - 1) / T::nc;
    exec.parallel_for(static_cast<std::int64_t>(mblocks * nblocks), [&](std::int64_t begin, std::int64_t end) {
      thread_local std::vector<std::uint16_t, xsimd::aligned_allocator<std::uint16_t, 64>> abf;
      for (auto t = static_cast<std::size_t>(begin); t < static_cast<std::size_t>(end); ++t) {
        const std::size_t i0 = (t / nblocks) * T::mc, j0 = (t % nblocks) * T::nc;
        const std::size_t i1 = std::min(g.m, i0 + T::mc), j1 = std::min(n, j0 + T::nc);
        for (std::size_t k0 = 0; k0 < k; k0 += T::kc) {
          const std::size_t kc = std::min(T::kc, k - k0), kp = (kc + 1) / 2 * 2;
          abf.resize((i1 - i0) * kp);
          detail::convert_rows_bf16(g.a + i0 * g.lda + k0, g.lda, i1 - i0, kc, kp, abf.data());
          for (std::size_t j = j0; j < j1; j += NR) {
            const std::uint16_t* wp = g.w->panel(j / NR) + k0 * NR;
            const std::size_t cols = std::min(NR, j1 - j);
            for (std::size_t i = i0; i < i1; i += T::mr) {
              const std::size_t rows = std::min(T::mr, i1 - i);
              float* c = g.c + i * g.ldc + j;
              const bool first = k0 == 0;
              const float* init = (first && !g.accumulate) ? nullptr : c;
              detail::gemm_bf16_micro(abf.data() + (i - i0) * kp, kp, wp, kp / 2, c, g.ldc, rows, cols, init,
                                      (first && g.bias) ? g.bias + j : nullptr);
              if (first && g.accumulate && g.bias) detail::add_bias_tile(c, g.ldc, g.bias + j, rows, cols);
            }
          }
        }
      }
    });
    return status::ok;
  }
#endif
  // Fallback: widen the W block to the fp32 packed layout, round A through bf16, fp32 kernel.
  using F = gemm_tile<Arch>;
  static_assert(F::nr == NR || F::nr == NR / 2 || F::nr == NR / 4, "vprim::cpu::gemm_bf16: panel widths must nest");
  detail::for_each_micro_tile<T>(g.m, n, k, exec,
                                 [&](std::size_t i, std::size_t j, std::size_t k0, std::size_t kc, std::size_t rows,
                                     std::size_t cols, bool first) {
                                   // On the stack, not thread_local: a thread's first call would allocate, and
                                   // which thread meets which GEMM first changes from one decode step to the next.
                                   alignas(64) float wf[T::kc * F::nr];
                                   alignas(64) float af[F::mr * T::kc];
                                   const std::uint16_t* wp = g.w->panel(j / NR);
                                   for (std::size_t sub = 0; sub < cols; sub += F::nr) {
                                     const std::size_t sub_cols = std::min(F::nr, cols - sub);
                                     for (std::size_t kk = 0; kk < kc; ++kk)
                                       for (std::size_t jj = 0; jj < F::nr; ++jj) {
                                         const std::size_t kg = k0 + kk;
                                         wf[kk * F::nr + jj] =
                                             bf16_bits_to_float(wp[(kg / 2) * 2 * NR + 2 * (sub + jj) + (kg % 2)]);
                                       }
                                     for (std::size_t r0 = 0; r0 < rows; r0 += F::mr) {
                                       const std::size_t rr = std::min(F::mr, rows - r0);
                                       for (std::size_t r = 0; r < rr; ++r)
                                         for (std::size_t kk = 0; kk < kc; ++kk)
                                           af[r * kc + kk] = bf16_bits_to_float(float_to_bf16_bits(g.a[(i + r0 + r) * g.lda + k0 + kk]));
                                       float* c = g.c + (i + r0) * g.ldc + j + sub;
                                       const float* init = (first && !g.accumulate) ? nullptr : c;
                                       detail::gemm_micro<Arch>(af, kc, wf, kc, c, g.ldc, rr, sub_cols, init,
                                                                (first && g.bias) ? g.bias + j + sub : nullptr);
                                       if (first && g.accumulate && g.bias)
                                         detail::add_bias_tile(c, g.ldc, g.bias + j + sub, rr, sub_cols);
                                     }
                                   }
                                 });
  return status::ok;
}

}  // namespace cpu
VPRIM_NAMESPACE_END
