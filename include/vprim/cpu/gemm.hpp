// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file gemm.hpp
//! fp32 GEMM in the layout of a Linear layer: C[M,N] = A[M,K] * W[N,K]^T (+ bias[N]) (+ C).
//! W is packed once into panels of NR columns (k-major, zero padded), so a weight used by many
//! calls is packed at load time. The micro-kernel keeps an MR x NR tile of C in registers
//! (MR = 6 and NR = 2 registers on SSE/AVX2; MR = 12 on AVX-512, 24 accumulators of 32
//! registers) and streams K in blocks of kc. Tiles of C are spread over the executor.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "vprim/core/aligned_buffer.hpp"
#include "vprim/core/executor.hpp"
#include "vprim/core/status.hpp"
#include "vprim/kernels/gemm.hpp"
#include "vprim/cpu/arch.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

//! Register-tile shape for Arch.
template <class Arch>
struct gemm_tile {
  static constexpr std::size_t v = lanes<Arch>;
  static constexpr std::size_t nr = 2 * v;
  static constexpr std::size_t mr = v >= 16 ? 12 : 6;
  // Tuned with bench_gemm on Zen 5 (AVX-512, 48 KiB L1d, 1 MiB L2), 2026-11-22: kc = 256 keeps
  // a 32-wide W panel (32 KiB) in L1; kc 192/384/512 and mc/nc of 4 or 16 tiles were 3-20% slower.
  static constexpr std::size_t kc = 256;
  static constexpr std::size_t mc = mr * 8;
  static constexpr std::size_t nc = nr * 8;
};

//! A weight matrix W[N,K] packed for the micro-kernel of one arch.
struct packed_weight {
  std::size_t n = 0, k = 0, nr = 0;
  aligned_buffer<float> data;  //!< ceil(n/nr) panels of k * nr floats

  [[nodiscard]] const float* panel(std::size_t p) const noexcept { return data.data() + p * k * nr; }
  [[nodiscard]] bool empty() const noexcept { return n == 0; }
};

namespace detail {
//! Allocates ceil(n/nr) zeroed panels of k x nr and lets fill(panel, dst) write each one.
template <class Fill>
[[nodiscard]] result<packed_weight> pack_panels(std::size_t n, std::size_t k, std::size_t nr, Fill&& fill) {
  const std::size_t panels = (n + nr - 1) / nr;
  auto buf = aligned_buffer<float>::allocate(panels * k * nr);
  if (!buf) return buf.err();
  packed_weight pw{n, k, nr, std::move(*buf)};
  for (std::size_t p = 0; p < panels; ++p) fill(p, pw.data.data() + p * k * nr);
  return result<packed_weight>(std::move(pw));
}
}  // namespace detail

//! Packs W (row-major [n, k], row stride ldw) for Arch.
template <class Arch>
[[nodiscard]] result<packed_weight> pack_weight(Arch, const float* w, std::size_t n, std::size_t k, std::size_t ldw) {
  constexpr std::size_t nr = gemm_tile<Arch>::nr;
  return detail::pack_panels(n, k, nr, [&](std::size_t p, float* dst) {
    for (std::size_t j = 0; j < nr && p * nr + j < n; ++j) {
      const float* src = w + (p * nr + j) * ldw;
      for (std::size_t kk = 0; kk < k; ++kk) dst[kk * nr + j] = src[kk];
    }
  });
}

//! Packs the transpose of a row-major [k, n] matrix (row stride ld): W[j][kk] = src[kk * ld + j].
//! Lets a product with an activation matrix (P * V) reuse the Linear micro-kernel.
template <class Arch>
[[nodiscard]] result<packed_weight> pack_weight_transposed(Arch, const float* src, std::size_t n, std::size_t k,
                                                           std::size_t ld) {
  constexpr std::size_t nr = gemm_tile<Arch>::nr;
  return detail::pack_panels(n, k, nr, [&](std::size_t p, float* dst) {
    const std::size_t cols = std::min(nr, n - p * nr);
    for (std::size_t kk = 0; kk < k; ++kk) std::memcpy(dst + kk * nr, src + kk * ld + p * nr, cols * sizeof(float));
  });
}

namespace detail {

//! acc(MR x NR) = init + A[0:MR, k0:k0+kc] * Wpanel[k0:k0+kc, :]; rows/cols beyond `rows`/`cols`
//! are computed but not stored. init: C (accumulate), bias, or zero.
template <class Arch, std::size_t MR = gemm_tile<Arch>::mr>
inline void gemm_micro(const float* a, std::size_t lda, const float* wp, std::size_t kc, float* c, std::size_t ldc,
                       std::size_t rows, std::size_t cols, const float* init_c, const float* bias) {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = gemm_tile<Arch>::v, NR = gemm_tile<Arch>::nr;
  B acc0[MR], acc1[MR];
  if (init_c != nullptr && rows == MR && cols == NR) {
    for (std::size_t i = 0; i < MR; ++i) {
      acc0[i] = B::load_unaligned(init_c + i * ldc);
      acc1[i] = B::load_unaligned(init_c + i * ldc + V);
    }
  } else if (init_c != nullptr) {
    alignas(64) float tile[MR * NR] = {};
    for (std::size_t i = 0; i < rows; ++i) std::memcpy(tile + i * NR, init_c + i * ldc, cols * sizeof(float));
    for (std::size_t i = 0; i < MR; ++i) {
      acc0[i] = B::load_aligned(tile + i * NR);
      acc1[i] = B::load_aligned(tile + i * NR + V);
    }
  } else {
    alignas(64) float b[NR] = {};
    if (bias != nullptr) std::memcpy(b, bias, cols * sizeof(float));
    const B b0 = B::load_aligned(b), b1 = B::load_aligned(b + V);
    for (std::size_t i = 0; i < MR; ++i) {
      acc0[i] = b0;
      acc1[i] = b1;
    }
  }
  // Rows past `rows` read row 0 again (valid memory); their results are discarded.
  const float* ar[MR];
  for (std::size_t i = 0; i < MR; ++i) ar[i] = a + (i < rows ? i : 0) * lda;
  for (std::size_t k = 0; k < kc; ++k) {
    const B w0 = B::load_aligned(wp + k * NR);
    const B w1 = B::load_aligned(wp + k * NR + V);
    for (std::size_t i = 0; i < MR; ++i) {
      const B x(ar[i][k]);
      acc0[i] = xsimd::fma(x, w0, acc0[i]);
      acc1[i] = xsimd::fma(x, w1, acc1[i]);
    }
  }
  if (rows == MR && cols == NR) {
    for (std::size_t i = 0; i < MR; ++i) {
      acc0[i].store_unaligned(c + i * ldc);
      acc1[i].store_unaligned(c + i * ldc + V);
    }
  } else {
    alignas(64) float tile[MR * NR];
    for (std::size_t i = 0; i < MR; ++i) {
      acc0[i].store_aligned(tile + i * NR);
      acc1[i].store_aligned(tile + i * NR + V);
    }
    for (std::size_t i = 0; i < rows; ++i) std::memcpy(c + i * ldc, tile + i * NR, cols * sizeof(float));
  }
}

//! The micro-kernel with the fewest register rows that covers `rows`: a decode step (M = 1)
//! does not pay for a 12-row tile.
template <class Arch>
inline void gemm_micro_rows(const float* a, std::size_t lda, const float* wp, std::size_t kc, float* c, std::size_t ldc,
                            std::size_t rows, std::size_t cols, const float* init_c, const float* bias) {
  constexpr std::size_t MR = gemm_tile<Arch>::mr;
  if (rows == 1) gemm_micro<Arch, 1>(a, lda, wp, kc, c, ldc, rows, cols, init_c, bias);
  else if (rows == 2) gemm_micro<Arch, 2>(a, lda, wp, kc, c, ldc, rows, cols, init_c, bias);
  else if (rows <= 4) gemm_micro<Arch, 4>(a, lda, wp, kc, c, ldc, rows, cols, init_c, bias);
  else gemm_micro<Arch, MR>(a, lda, wp, kc, c, ldc, rows, cols, init_c, bias);
}

}  // namespace detail

//! Arguments of one GEMM call. A is row-major [m, k] with row stride lda; C is [m, n] with row
//! stride ldc. bias (length n) may be null. With accumulate, C += A * W^T (bias still added).
//! W is a packed weight of the GEMM's storage type (fp32 here, bf16 in gemm_bf16.hpp).
template <class PackedWeight>
struct basic_gemm_args {
  std::size_t m = 0;
  const float* a = nullptr;
  std::size_t lda = 0;
  const PackedWeight* w = nullptr;
  const float* bias = nullptr;
  float* c = nullptr;
  std::size_t ldc = 0;
  bool accumulate = false;
};
using gemm_args = basic_gemm_args<packed_weight>;

namespace detail {
//! The contract's shape checks (kernels/gemm.hpp), for arguments whose weight is present.
template <class Args>
[[nodiscard]] status check_gemm_shapes(const Args& g) noexcept {
  const kernels::gemm_shape shape{g.m, g.w->n, g.w->k, g.lda, g.ldc};
  return kernels::gemm_shape_can_implement(shape, g.a, g.c);
}
}  // namespace detail

template <class Arch>
[[nodiscard]] status gemm_can_implement(Arch, const gemm_args& g) noexcept {
  if (g.w == nullptr || g.w->nr != gemm_tile<Arch>::nr) return status::invalid_argument;  // packed for another arch
  return detail::check_gemm_shapes(g);
}

namespace detail {

//! The blocking shared by the GEMMs: mc x nc tiles of C spread over the executor; inside a
//! tile, K blocks of kc, W panels of nr columns, micro-tiles of mr rows. body(i, j, k0, kc,
//! rows, cols, first_k_block) computes one micro-tile; k == 0 is left to the caller.
template <class T, executor Exec, class Body>
void for_each_micro_tile(std::size_t m, std::size_t n, std::size_t k, Exec& exec, Body&& body) {
  const std::size_t mblocks = (m + T::mc - 1) / T::mc, nblocks = (n + T::nc - 1) / T::nc;
  exec.parallel_for(static_cast<std::int64_t>(mblocks * nblocks), [&](std::int64_t begin, std::int64_t end) {
    for (auto t = static_cast<std::size_t>(begin); t < static_cast<std::size_t>(end); ++t) {
      const std::size_t i0 = (t / nblocks) * T::mc, j0 = (t % nblocks) * T::nc;
      const std::size_t i1 = std::min(m, i0 + T::mc), j1 = std::min(n, j0 + T::nc);
      for (std::size_t k0 = 0; k0 < k; k0 += T::kc) {
        const std::size_t kc = std::min(T::kc, k - k0);
        for (std::size_t j = j0; j < j1; j += T::nr)
          for (std::size_t i = i0; i < i1; i += T::mr)
            body(i, j, k0, kc, std::min(T::mr, i1 - i), std::min(T::nr, j1 - j), k0 == 0);
      }
    }
  });
}

//! C = bias (+ C) for an empty K.
inline void gemm_empty_k(std::size_t m, std::size_t n, const float* bias, float* c, std::size_t ldc, bool accumulate) {
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + (bias ? bias[j] : 0.0f);
}

//! After the first K block of an accumulating call, add the bias the micro-kernel skipped.
inline void add_bias_tile(float* c, std::size_t ldc, const float* bias, std::size_t rows, std::size_t cols) {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t cc = 0; cc < cols; ++cc) c[r * ldc + cc] += bias[cc];
}

}  // namespace detail

//! C = A * W^T (+ bias) (+ C), spread over the executor in mc x nc tiles.
template <class Arch, executor Exec>
[[nodiscard]] status gemm(Arch arch, const gemm_args& g, Exec& exec) {
  if (const status s = gemm_can_implement(arch, g); s != status::ok) return s;
  if (g.m == 0 || g.w->n == 0) return status::ok;
  using T = gemm_tile<Arch>;
  if (g.w->k == 0) {
    detail::gemm_empty_k(g.m, g.w->n, g.bias, g.c, g.ldc, g.accumulate);
    return status::ok;
  }
  detail::for_each_micro_tile<T>(g.m, g.w->n, g.w->k, exec,
                                 [&](std::size_t i, std::size_t j, std::size_t k0, std::size_t kc, std::size_t rows,
                                     std::size_t cols, bool first) {
                                   float* c = g.c + i * g.ldc + j;
                                   const float* init = (first && !g.accumulate) ? nullptr : c;
                                   detail::gemm_micro_rows<Arch>(g.a + i * g.lda + k0, g.lda, g.w->panel(j / T::nr) + k0 * T::nr,
                                                                 kc, c, g.ldc, rows, cols, init,
                                                                 (first && g.bias) ? g.bias + j : nullptr);
                                   if (first && g.accumulate && g.bias) detail::add_bias_tile(c, g.ldc, g.bias + j, rows, cols);
                                 });
  return status::ok;
}

}  // namespace cpu
VPRIM_NAMESPACE_END
