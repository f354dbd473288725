// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file attention.hpp
//! Bidirectional multi-head attention, flash style: for each head and block of br queries, key
//! blocks of bc are scored, folded into a running max / running sum (online softmax, fp32) and
//! accumulated into the output, so no tokens x tokens matrix is ever formed. Scores come from a
//! K block packed transposed (a small register-tiled GEMM); the P*V product broadcasts each
//! probability over a packed V row.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "vprim/core/executor.hpp"
#include "vprim/core/status.hpp"
#include "vprim/cpu/arch.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

//! Q, K, V, O are [tokens, heads, head_dim] with per-token strides (so a fused QKV buffer can be
//! read in place); head h of token t starts at ptr + t * stride + h * head_dim.
struct attention_args {
  std::size_t tokens = 0, heads = 0, head_dim = 0;
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  std::size_t q_stride = 0, k_stride = 0, v_stride = 0;
  float* o = nullptr;
  std::size_t o_stride = 0;
  float scale = 1.0f;  //!< usually 1/sqrt(head_dim)
};

[[nodiscard]] inline status attention_can_implement(const attention_args& a) noexcept {
  if (a.tokens == 0 || a.heads == 0) return status::ok;
  if (a.head_dim == 0 || !a.q || !a.k || !a.v || !a.o) return status::invalid_argument;
  const std::size_t row = a.heads * a.head_dim;
  if (a.q_stride < row || a.k_stride < row || a.v_stride < row || a.o_stride < row) return status::shape_mismatch;
  return status::ok;
}

template <class Arch, executor Exec>
[[nodiscard]] status attention_bidirectional(Arch, const attention_args& a, Exec& exec) {
  if (const status s = attention_can_implement(a); s != status::ok) return s;
  if (a.tokens == 0 || a.heads == 0) return status::ok;
  using B = xsimd::batch<float, Arch>;
  constexpr std::size_t V = B::size;
  constexpr std::size_t br = 32, bc = 64, SV = bc / V;  // SV score registers per query row
  const std::size_t D = a.head_dim, Dp = (D + V - 1) / V * V, DV = Dp / V;
  const std::size_t qblocks = (a.tokens + br - 1) / br;
  exec.parallel_for(static_cast<std::int64_t>(a.heads * qblocks), [&](std::int64_t t0, std::int64_t t1) {
    std::vector<float, xsimd::aligned_allocator<float, 64>> kt(D * bc), vp(bc * Dp), s(br * bc), acc(br * Dp);
    std::vector<float> m(br), l(br);
    for (auto task = static_cast<std::size_t>(t0); task < static_cast<std::size_t>(t1); ++task) {
      const std::size_t h = task / qblocks, q0 = (task % qblocks) * br, nq = std::min(br, a.tokens - q0);
      std::fill(acc.begin(), acc.end(), 0.0f);
      std::fill(m.begin(), m.end(), -std::numeric_limits<float>::infinity());
      std::fill(l.begin(), l.end(), 0.0f);
      for (std::size_t k0 = 0; k0 < a.tokens; k0 += bc) {
        const std::size_t nk = std::min(bc, a.tokens - k0);
        // Pack K^T [D, bc] and V [bc, Dp], zero padded.
        std::fill(kt.begin(), kt.end(), 0.0f);
        std::fill(vp.begin(), vp.end(), 0.0f);
        for (std::size_t j = 0; j < nk; ++j) {
          const float* kr = a.k + (k0 + j) * a.k_stride + h * D;
          const float* vr = a.v + (k0 + j) * a.v_stride + h * D;
          for (std::size_t d = 0; d < D; ++d) kt[d * bc + j] = kr[d];
          std::copy(vr, vr + D, vp.data() + j * Dp);
        }
        for (std::size_t i = 0; i < nq; ++i) {
          const float* qr = a.q + (q0 + i) * a.q_stride + h * D;
          B sc[SV];
          for (std::size_t c = 0; c < SV; ++c) sc[c] = B(0.0f);
          for (std::size_t d = 0; d < D; ++d) {
            const B qd(qr[d] * a.scale);
            for (std::size_t c = 0; c < SV; ++c) sc[c] = xsimd::fma(qd, B::load_aligned(kt.data() + d * bc + c * V), sc[c]);
          }
          float* srow = s.data() + i * bc;
          for (std::size_t c = 0; c < SV; ++c) sc[c].store_aligned(srow + c * V);
          for (std::size_t j = nk; j < bc; ++j) srow[j] = -std::numeric_limits<float>::infinity();
          float bmax = srow[0];
          for (std::size_t j = 1; j < nk; ++j) bmax = std::max(bmax, srow[j]);
          const float m_new = std::max(m[i], bmax);
          const float correction = std::exp(m[i] - m_new);  // exp(-inf) = 0 on the first block
          B psum(0.0f);
          const B vm(m_new);
          for (std::size_t c = 0; c < SV; ++c) {
            const B p = xsimd::exp(B::load_aligned(srow + c * V) - vm);
            p.store_aligned(srow + c * V);
            psum += p;
          }
          l[i] = l[i] * correction + xsimd::hadd(psum);
          m[i] = m_new;
          float* orow = acc.data() + i * Dp;
          const B corr(correction);
          for (std::size_t c = 0; c < DV; ++c) (B::load_aligned(orow + c * V) * corr).store_aligned(orow + c * V);
          for (std::size_t j = 0; j < nk; ++j) {
            const B p(srow[j]);
            const float* vr = vp.data() + j * Dp;
            for (std::size_t c = 0; c < DV; ++c)
              xsimd::fma(p, B::load_aligned(vr + c * V), B::load_aligned(orow + c * V)).store_aligned(orow + c * V);
          }
        }
      }
      for (std::size_t i = 0; i < nq; ++i) {
        const float inv = 1.0f / l[i];
        float* out = a.o + (q0 + i) * a.o_stride + h * D;
        const float* orow = acc.data() + i * Dp;
        for (std::size_t d = 0; d < D; ++d) out[d] = orow[d] * inv;
      }
    }
  });
  return status::ok;
}

}  // namespace cpu
VPRIM_NAMESPACE_END
