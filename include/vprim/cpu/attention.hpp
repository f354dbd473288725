// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file attention.hpp
//! Bidirectional multi-head attention, flash style: for each head and block of br queries, key
//! blocks of bc are scored, folded into a running max / running sum (online softmax, fp32) and
//! accumulated into the output, so no tokens x tokens matrix is ever formed. K^T and V are
//! packed once per head (O(tokens x width) extra memory); scores and the P*V product are
//! register-tiled over several query rows so loads are shared and FMA latency is hidden.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "vprim/core/executor.hpp"
#include "vprim/core/status.hpp"
#include "vprim/cpu/arch.hpp"
#include "vprim/kernels/attention.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

using kernels::attention_args;
using kernels::attention_can_implement;

namespace detail {

//! Rows of queries handled together: enough accumulators to hide FMA latency, few enough to
//! stay in registers (32 on AVX-512, 16 below).
template <class Arch>
inline constexpr std::size_t attention_rows = lanes<Arch> >= 16 ? 6 : 2;

//! scores[r][0:4V] = sum_d q[r][d] * kt[d][0:4V] for R query rows (kt has row stride `ld`).
template <class Arch, std::size_t R>
inline void score_tile(const float* const* q, std::size_t D, const float* kt, std::size_t ld, float* scores) {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size;
  B acc[R][4];
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t c = 0; c < 4; ++c) acc[r][c] = B(0.0f);
  for (std::size_t d = 0; d < D; ++d) {
    const float* row = kt + d * ld;
    const B k0 = B::load_aligned(row), k1 = B::load_aligned(row + V), k2 = B::load_aligned(row + 2 * V),
            k3 = B::load_aligned(row + 3 * V);
    for (std::size_t r = 0; r < R; ++r) {
      const B qd(q[r][d]);
      acc[r][0] = xsimd::fma(qd, k0, acc[r][0]);
      acc[r][1] = xsimd::fma(qd, k1, acc[r][1]);
      acc[r][2] = xsimd::fma(qd, k2, acc[r][2]);
      acc[r][3] = xsimd::fma(qd, k3, acc[r][3]);
    }
  }
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t c = 0; c < 4; ++c) acc[r][c].store_aligned(scores + r * 4 * V + c * V);
}

//! o[r][0:DV*V] = o[r] * corr[r] + sum_j p[r][j] * v[j][0:DV*V], output rows kept in registers.
template <class Arch, std::size_t R, std::size_t DV>
inline void pv_tile(const float* p, std::size_t pstride, const float* corr, std::size_t nk, const float* v,
                    std::size_t vstride, float* o, std::size_t ostride) {
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size;
  B acc[R][DV];
  for (std::size_t r = 0; r < R; ++r) {
    const B cr(corr[r]);
    for (std::size_t c = 0; c < DV; ++c) acc[r][c] = B::load_aligned(o + r * ostride + c * V) * cr;
  }
  for (std::size_t j = 0; j < nk; ++j) {
    B vj[DV];
    for (std::size_t c = 0; c < DV; ++c) vj[c] = B::load_aligned(v + j * vstride + c * V);
    for (std::size_t r = 0; r < R; ++r) {
      const B pr(p[r * pstride + j]);
      for (std::size_t c = 0; c < DV; ++c) acc[r][c] = xsimd::fma(pr, vj[c], acc[r][c]);
    }
  }
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t c = 0; c < DV; ++c) acc[r][c].store_aligned(o + r * ostride + c * V);
}

//! Starts a query block: zero output accumulators, running max -inf, running sum 0.
template <class Acc>
inline void reset_online_softmax(Acc& acc, std::vector<float>& m, std::vector<float>& l) {
  std::fill(acc.begin(), acc.end(), 0.0f);
  std::fill(m.begin(), m.end(), -std::numeric_limits<float>::infinity());
  std::fill(l.begin(), l.end(), 0.0f);
}

//! Ends a query block: out = acc / running sum, for nq rows of head h starting at query q0.
inline void write_normalized_rows(const attention_args& a, const float* acc, std::size_t Dp, const std::vector<float>& l,
                                  std::size_t q0, std::size_t nq, std::size_t h) {
  for (std::size_t i = 0; i < nq; ++i) {
    const float inv = 1.0f / l[i];
    float* out = a.o + (q0 + i) * a.o_stride + h * a.head_dim;
    const float* orow = acc + i * Dp;
    for (std::size_t d = 0; d < a.head_dim; ++d) out[d] = orow[d] * inv;
  }
}

//! The P*V step for any padded head size: picks the register-tiled version for DV <= 8.
template <class Arch, std::size_t R>
inline void pv_any(std::size_t DV, const float* p, std::size_t pstride, const float* corr, std::size_t nk,
                   const float* v, std::size_t vstride, float* o, std::size_t ostride) {
  switch (DV) {
    case 1: return pv_tile<Arch, R, 1>(p, pstride, corr, nk, v, vstride, o, ostride);
    case 2: return pv_tile<Arch, R, 2>(p, pstride, corr, nk, v, vstride, o, ostride);
    case 3: return pv_tile<Arch, R, 3>(p, pstride, corr, nk, v, vstride, o, ostride);
    case 4: return pv_tile<Arch, R, 4>(p, pstride, corr, nk, v, vstride, o, ostride);
    default:  // wide heads: register tiles of 4 vectors across the head dimension
      for (std::size_t c = 0; c < DV; c += 4) {
        const std::size_t w = std::min<std::size_t>(4, DV - c);
        constexpr std::size_t V = lanes<Arch>;
        if (w == 4) pv_tile<Arch, R, 4>(p, pstride, corr, nk, v + c * V, vstride, o + c * V, ostride);
        else if (w == 3) pv_tile<Arch, R, 3>(p, pstride, corr, nk, v + c * V, vstride, o + c * V, ostride);
        else if (w == 2) pv_tile<Arch, R, 2>(p, pstride, corr, nk, v + c * V, vstride, o + c * V, ostride);
        else pv_tile<Arch, R, 1>(p, pstride, corr, nk, v + c * V, vstride, o + c * V, ostride);
      }
  }
}

}  // namespace detail

template <class Arch, executor Exec>
[[nodiscard]] status attention_bidirectional(Arch, const attention_args& a, Exec& exec) {
  if (const status s = attention_can_implement(a); s != status::ok) return s;
  if (a.tokens == 0 || a.heads == 0) return status::ok;
  using B = xsimd::batch<float, Arch>;
  using buffer = std::vector<float, xsimd::aligned_allocator<float, 64>>;
  constexpr std::size_t V = B::size, R = detail::attention_rows<Arch>;
  constexpr std::size_t bc = 4 * V;  // keys per block: four registers of scores per query row
  constexpr std::size_t br = 8 * R;  // queries per task
  const std::size_t N = a.tokens, D = a.head_dim, Dp = (D + V - 1) / V * V, DV = Dp / V;
  const std::size_t Np = (N + bc - 1) / bc * bc;
  // Pack once per head: K^T [D, Np] and V [Np, Dp], zero padded; shared by every query block.
  buffer kt(a.heads * D * Np, 0.0f), vp(a.heads * Np * Dp, 0.0f);
  exec.parallel_for(static_cast<std::int64_t>(a.heads), [&](std::int64_t h0, std::int64_t h1) {
    for (auto h = static_cast<std::size_t>(h0); h < static_cast<std::size_t>(h1); ++h)
      for (std::size_t j = 0; j < N; ++j) {
        const float* kr = a.k + j * a.k_stride + h * D;
        const float* vr = a.v + j * a.v_stride + h * D;
        for (std::size_t d = 0; d < D; ++d) kt[(h * D + d) * Np + j] = kr[d];
        std::copy(vr, vr + D, vp.data() + (h * Np + j) * Dp);
      }
  });
  const std::size_t qblocks = (N + br - 1) / br;
  exec.parallel_for(static_cast<std::int64_t>(a.heads * qblocks), [&](std::int64_t t0, std::int64_t t1) {
    buffer qs(br * D), s(br * bc), acc(br * Dp);
    std::vector<float> m(br), l(br), corr(br);
    for (auto task = static_cast<std::size_t>(t0); task < static_cast<std::size_t>(t1); ++task) {
      const std::size_t h = task / qblocks, q0 = (task % qblocks) * br, nq = std::min(br, N - q0);
      const std::size_t nq_padded = (nq + R - 1) / R * R;
      // Scaled queries; padding rows are zero (their results are never written).
      std::fill(qs.begin(), qs.end(), 0.0f);
      for (std::size_t i = 0; i < nq; ++i) {
        const float* qr = a.q + (q0 + i) * a.q_stride + h * D;
        for (std::size_t d = 0; d < D; ++d) qs[i * D + d] = qr[d] * a.scale;
      }
      detail::reset_online_softmax(acc, m, l);
      const float* kth = kt.data() + h * D * Np;
      const float* vph = vp.data() + h * Np * Dp;
      for (std::size_t k0 = 0; k0 < N; k0 += bc) {
        const std::size_t nk = std::min(bc, N - k0);
        for (std::size_t i = 0; i < nq_padded; i += R) {
          const float* qrows[R];
          for (std::size_t r = 0; r < R; ++r) qrows[r] = qs.data() + (i + r) * D;
          detail::score_tile<Arch, R>(qrows, D, kth + k0, Np, s.data() + i * bc);
        }
        // Online softmax per row: running max, rescale factor, exponentials, running sum.
        for (std::size_t i = 0; i < nq_padded; ++i) {
          float* srow = s.data() + i * bc;
          for (std::size_t j = nk; j < bc; ++j) srow[j] = -std::numeric_limits<float>::infinity();
          B mx = B::load_aligned(srow);
          for (std::size_t c = 1; c < 4; ++c) mx = xsimd::max(mx, B::load_aligned(srow + c * V));
          alignas(64) float lanes_max[V];
          mx.store_aligned(lanes_max);
          float bmax = lanes_max[0];
          for (std::size_t c = 1; c < V; ++c) bmax = std::max(bmax, lanes_max[c]);
          const float m_new = std::max(m[i], bmax);
          corr[i] = std::exp(m[i] - m_new);  // 0 on the first block (m = -inf)
          const B vm(m_new);
          B psum(0.0f);
          for (std::size_t c = 0; c < 4; ++c) {
            const B p = xsimd::exp(B::load_aligned(srow + c * V) - vm);
            p.store_aligned(srow + c * V);
            psum += p;
          }
          l[i] = l[i] * corr[i] + xsimd::hadd(psum);
          m[i] = m_new;
        }
        for (std::size_t i = 0; i < nq_padded; i += R)
          detail::pv_any<Arch, R>(DV, s.data() + i * bc, bc, corr.data() + i, nk, vph + k0 * Dp, Dp,
                                  acc.data() + i * Dp, Dp);
      }
      detail::write_normalized_rows(a, acc.data(), Dp, l, q0, nq, h);
    }
  });
  return status::ok;
}

}  // namespace cpu
VPRIM_NAMESPACE_END
