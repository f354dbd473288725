// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file attention_bf16.hpp
//! Bidirectional attention with bf16 operands and fp32 accumulation: the flash-style kernel of
//! attention.hpp with both products on the AVX512-BF16 dot product. Q (pre-scaled), K and V are
//! rounded to bf16; K^T is packed as pairs along the head dim and V as pairs of keys, once per
//! head; the softmax (running max, exponentials, running sum) stays fp32 and the probabilities
//! are rounded to bf16 for the P*V product, as flash attention does on GPUs.
//! It runs on the avx512bw arch tag (or a later one) when the CPU has AVX512-BF16, with the
//! instruction set in each kernel's target attribute (gemm_bf16.hpp says why); otherwise the
//! fp32 kernel runs instead.

#include <cstdint>
#include <vector>

#include "vprim/core/aligned_buffer.hpp"
#include "vprim/core/dtype.hpp"
#include "vprim/cpu/attention.hpp"
#include "vprim/cpu/gemm_bf16.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

#if VPRIM_X86_BF16_KERNELS
namespace detail {

//! e^x for 16 lanes, relative error about 2e-6 (far below the bf16 rounding of the
//! probabilities that follows): 2^t = 2^floor(t) * p(t - floor(t)), p a degree-6 polynomial;
//! t is clamped at -150 so -inf gives exactly 0.
VPRIM_TARGET_AVX512BF16 inline __m512 fast_exp(__m512 x) noexcept {
  const __m512 t = _mm512_max_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _mm512_set1_ps(-150.0f));
  const __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(t, n);
  __m512 p = _mm512_set1_ps(1.5403530393381609e-4f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

//! 16 pairs (a[2i], a[2i+1]) of one row: 32 floats in, 32 bf16 out in the same order.
VPRIM_TARGET_AVX512BF16 inline __m512i row_pairs(const float* a) noexcept {
  return (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(a + 16), _mm512_loadu_ps(a));
}

inline std::uint32_t bf16_pair(float lo, float hi) noexcept {
  return static_cast<std::uint32_t>(float_to_bf16_bits(lo)) | (static_cast<std::uint32_t>(float_to_bf16_bits(hi)) << 16);
}

//! scores[r * sstride + 0..63] = q[r] . k for 64 keys (R rows, 4 registers each).
template <std::size_t R>
VPRIM_TARGET_AVX512BF16 inline void score_tile_bf16(const std::uint32_t* const* q, std::size_t pairs, const std::uint32_t* kt, std::size_t ld,
                            float* scores, std::size_t sstride) {
  __m512 acc[R][4];
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t c = 0; c < 4; ++c) acc[r][c] = _mm512_setzero_ps();
  for (std::size_t p = 0; p < pairs; ++p) {
    const std::uint32_t* row = kt + p * ld;
    const __m512bh k0 = (__m512bh)_mm512_load_si512(row), k1 = (__m512bh)_mm512_load_si512(row + 16),
                   k2 = (__m512bh)_mm512_load_si512(row + 32), k3 = (__m512bh)_mm512_load_si512(row + 48);
    for (std::size_t r = 0; r < R; ++r) {
      const __m512bh x = (__m512bh)_mm512_set1_epi32(static_cast<int>(q[r][p]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, k0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, k1);
      acc[r][2] = _mm512_dpbf16_ps(acc[r][2], x, k2);
      acc[r][3] = _mm512_dpbf16_ps(acc[r][3], x, k3);
    }
  }
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t c = 0; c < 4; ++c) _mm512_store_ps(scores + r * sstride + c * 16, acc[r][c]);
}

//! o[r] = o[r] * corr[r] + sum over key pairs of p-pair . v-pair, DV registers per row.
template <std::size_t R, std::size_t DV>
VPRIM_TARGET_AVX512BF16 inline void pv_tile_bf16(const std::uint32_t* p, std::size_t pstride, const float* corr, std::size_t key_pairs,
                         const std::uint32_t* v, std::size_t vstride, float* o, std::size_t ostride) {
  __m512 acc[R][DV];
  for (std::size_t r = 0; r < R; ++r) {
    const __m512 cr = _mm512_set1_ps(corr[r]);
    for (std::size_t c = 0; c < DV; ++c) acc[r][c] = _mm512_mul_ps(_mm512_load_ps(o + r * ostride + c * 16), cr);
  }
  for (std::size_t j = 0; j < key_pairs; ++j) {
    __m512bh vj[DV];
    for (std::size_t c = 0; c < DV; ++c) vj[c] = (__m512bh)_mm512_load_si512(v + j * vstride + c * 16);
    for (std::size_t r = 0; r < R; ++r) {
      const __m512bh pr = (__m512bh)_mm512_set1_epi32(static_cast<int>(p[r * pstride + j]));
      for (std::size_t c = 0; c < DV; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], pr, vj[c]);
    }
  }
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t c = 0; c < DV; ++c) _mm512_store_ps(o + r * ostride + c * 16, acc[r][c]);
}

template <std::size_t R>
VPRIM_TARGET_AVX512BF16 inline void pv_any_bf16(std::size_t DV, const std::uint32_t* p, std::size_t pstride, const float* corr, std::size_t kp,
                        const std::uint32_t* v, std::size_t vstride, float* o, std::size_t ostride) {
  for (std::size_t c = 0; c < DV; c += 4) {
    const std::size_t w = std::min<std::size_t>(4, DV - c);
    if (w == 4) pv_tile_bf16<R, 4>(p, pstride, corr, kp, v + c * 16, vstride, o + c * 16, ostride);
    else if (w == 3) pv_tile_bf16<R, 3>(p, pstride, corr, kp, v + c * 16, vstride, o + c * 16, ostride);
    else if (w == 2) pv_tile_bf16<R, 2>(p, pstride, corr, kp, v + c * 16, vstride, o + c * 16, ostride);
    else pv_tile_bf16<R, 1>(p, pstride, corr, kp, v + c * 16, vstride, o + c * 16, ostride);
  }
}

}  // namespace detail
#endif

//! K^T and V of every head as bf16 pairs: the scratch of attention_bidirectional_bf16. Keep one
//! across calls (the vision tower keeps one per workspace) so that the 4 * heads * tokens *
//! head_dim bytes are not faulted in afresh by every call.
struct attention_bf16_scratch {
  aligned_buffer<std::uint32_t> kt, vp;
};

#if VPRIM_X86_BF16_KERNELS
namespace detail {

//! The shapes of one bf16 attention call (attention_bidirectional_bf16).
struct attention_bf16_plan {
  static constexpr std::size_t R = 6, bc = 128, br = 4 * R;  // bc keys per block
  std::size_t N, D, DP, Dp, DV, Np, qblocks;
  explicit attention_bf16_plan(const attention_args& a)
      : N(a.tokens),
        D(a.head_dim),
        DP((D + 1) / 2),
        Dp((D + 15) / 16 * 16),
        DV(Dp / 16),
        Np((N + bc - 1) / bc * bc),
        qblocks((N + br - 1) / br) {}
};

//! K^T as d-pairs [DP][Np] and V as key pairs [Np/2][Dp] for heads [h0, h1).
VPRIM_TARGET_AVX512BF16 inline void pack_heads_bf16(const attention_args& a, const attention_bf16_plan& pl,
                                                    std::size_t h0, std::size_t h1, std::uint32_t* kt,
                                                    std::uint32_t* vp) {
  const std::size_t N = pl.N, D = pl.D, DP = pl.DP, Dp = pl.Dp, Np = pl.Np;
  // lane i of the interleave takes 16-bit element i of row 2jp and of row 2jp+1
  alignas(64) static const std::uint16_t interleave[32] = {0,  16, 1,  17, 2,  18, 3,  19, 4,  20, 5,
                                                           21, 6,  22, 7,  23, 8,  24, 9,  25, 10, 26,
                                                           11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i idx = _mm512_load_si512(interleave);
  for (std::size_t h = h0; h < h1; ++h) {
    for (std::size_t j = 0; j < N; ++j) {
      const float* kr = a.k + j * a.k_stride + h * D;
      std::size_t p = 0;
      alignas(64) std::uint32_t pairs[16];
      for (; 2 * p + 32 <= D; p += 16) {
        _mm512_store_si512(pairs, detail::row_pairs(kr + 2 * p));
        for (std::size_t i = 0; i < 16; ++i) kt[(h * DP + p + i) * Np + j] = pairs[i];
      }
      for (; p < DP; ++p)
        kt[(h * DP + p) * Np + j] = detail::bf16_pair(kr[2 * p], 2 * p + 1 < D ? kr[2 * p + 1] : 0.0f);
    }
    for (std::size_t jp = 0; jp < (N + 1) / 2; ++jp) {
      const float* v0 = a.v + (2 * jp) * a.v_stride + h * D;
      const float* v1 = 2 * jp + 1 < N ? a.v + (2 * jp + 1) * a.v_stride + h * D : nullptr;
      std::uint32_t* dst = vp + (h * (Np / 2) + jp) * Dp;
      std::size_t d = 0;
      for (; v1 != nullptr && d + 16 <= D; d += 16) {
        const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(v1 + d), _mm512_loadu_ps(v0 + d));
        _mm512_storeu_si512(dst + d, _mm512_permutexvar_epi16(idx, both));
      }
      for (; d < D; ++d) dst[d] = detail::bf16_pair(v0[d], v1 ? v1[d] : 0.0f);
    }
  }
}

//! Query blocks [t0, t1) (head-major tasks) against every key block, online softmax.
VPRIM_TARGET_AVX512BF16 inline void attend_blocks_bf16(const attention_args& a, const attention_bf16_plan& pl,
                                                       std::size_t t0, std::size_t t1, const std::uint32_t* kt,
                                                       const std::uint32_t* vp) {
  using u32buf = std::vector<std::uint32_t, xsimd::aligned_allocator<std::uint32_t, 64>>;
  using fbuf = std::vector<float, xsimd::aligned_allocator<float, 64>>;
  constexpr std::size_t R = attention_bf16_plan::R, bc = attention_bf16_plan::bc, br = attention_bf16_plan::br;
  const std::size_t N = pl.N, D = pl.D, DP = pl.DP, Dp = pl.Dp, DV = pl.DV, Np = pl.Np, qblocks = pl.qblocks;
  // rows rounded up to 16 for the per-row state, which is updated 16 rows at a time
  constexpr std::size_t rows16 = (br + 15) / 16 * 16;
  u32buf qs(br * DP), ps(br * (bc / 2));
  fbuf s(br * bc), acc(br * Dp), lanes(br * 16), m_new(rows16), corr(rows16);
  std::vector<float> m(rows16), l(rows16);
  for (std::size_t task = t0; task < t1; ++task) {
    const std::size_t h = task / qblocks, q0 = (task % qblocks) * br, nq = std::min(br, N - q0);
    const std::size_t nq_padded = (nq + R - 1) / R * R;
    std::fill(qs.begin(), qs.end(), 0u);
    for (std::size_t i = 0; i < nq; ++i) {
      const float* qr = a.q + (q0 + i) * a.q_stride + h * D;
      std::size_t p = 0;
      const __m512 sc = _mm512_set1_ps(a.scale);
      for (; 2 * p + 32 <= D; p += 16) {
        const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_mul_ps(_mm512_loadu_ps(qr + 2 * p + 16), sc),
                                               _mm512_mul_ps(_mm512_loadu_ps(qr + 2 * p), sc));
        _mm512_storeu_si512(qs.data() + i * DP + p, (__m512i)v);
      }
      for (; p < DP; ++p)
        qs[i * DP + p] = detail::bf16_pair(qr[2 * p] * a.scale, 2 * p + 1 < D ? qr[2 * p + 1] * a.scale : 0.0f);
    }
    detail::reset_online_softmax(acc, m, l);
    std::fill(lanes.begin(), lanes.end(), 0.0f);
    const std::uint32_t* kth = kt + h * DP * Np;
    const std::uint32_t* vph = vp + h * (Np / 2) * Dp;
    for (std::size_t k0 = 0; k0 < N; k0 += bc) {
      const std::size_t nk = std::min(bc, N - k0);
      for (std::size_t i = 0; i < nq_padded; i += R) {
        const std::uint32_t* qrows[R];
        for (std::size_t r = 0; r < R; ++r) qrows[r] = qs.data() + (i + r) * DP;
        for (std::size_t kk = 0; kk < bc; kk += 64)
          detail::score_tile_bf16<R>(qrows, DP, kth + k0 + kk, Np, s.data() + i * bc + kk, bc);
      }
      // Online softmax. The steps that would serialise on one row at a time are batched: the
      // rescale factors of 16 rows are one vector exponential, and each row's running sum
      // stays 16 partial sums until the last block, so a block has one horizontal reduction
      // per row (the max), not three.
      for (std::size_t i = 0; i < nq_padded; ++i) {
        float* srow = s.data() + i * bc;
        for (std::size_t j = nk; j < bc; ++j) srow[j] = -std::numeric_limits<float>::infinity();
        __m512 mx = _mm512_load_ps(srow);
        for (std::size_t c = 1; c < bc / 16; ++c) mx = _mm512_max_ps(mx, _mm512_load_ps(srow + c * 16));
        m_new[i] = std::max(m[i], _mm512_reduce_max_ps(mx));
      }
      for (std::size_t i = 0; i < nq_padded; i += 16) {
        const __m512 mn = _mm512_load_ps(m_new.data() + i);
        _mm512_store_ps(corr.data() + i, detail::fast_exp(_mm512_sub_ps(_mm512_loadu_ps(m.data() + i), mn)));
        _mm512_storeu_ps(m.data() + i, mn);
      }
      for (std::size_t i = 0; i < nq_padded; ++i) {
        const float* srow = s.data() + i * bc;
        const __m512 vm = _mm512_set1_ps(m_new[i]);
        __m512 sum = _mm512_mul_ps(_mm512_load_ps(lanes.data() + i * 16), _mm512_set1_ps(corr[i]));
        // probabilities as bf16 pairs of consecutive keys, straight from registers
        for (std::size_t c = 0; c < bc / 32; ++c) {
          const __m512 p0 = detail::fast_exp(_mm512_sub_ps(_mm512_load_ps(srow + 32 * c), vm));
          const __m512 p1 = detail::fast_exp(_mm512_sub_ps(_mm512_load_ps(srow + 32 * c + 16), vm));
          sum = _mm512_add_ps(sum, _mm512_add_ps(p0, p1));
          _mm512_storeu_si512(ps.data() + i * (bc / 2) + 16 * c, (__m512i)_mm512_cvtne2ps_pbh(p1, p0));
        }
        _mm512_store_ps(lanes.data() + i * 16, sum);
      }
      const std::size_t key_pairs = (nk + 1) / 2;
      for (std::size_t i = 0; i < nq_padded; i += R)
        detail::pv_any_bf16<R>(DV, ps.data() + i * (bc / 2), bc / 2, corr.data() + i, key_pairs, vph + (k0 / 2) * Dp,
                               Dp, acc.data() + i * Dp, Dp);
    }
    for (std::size_t i = 0; i < nq; ++i) l[i] = _mm512_reduce_add_ps(_mm512_load_ps(lanes.data() + i * 16));
    detail::write_normalized_rows(a, acc.data(), Dp, l, q0, nq, h);
  }
}

}  // namespace detail
#endif

//! Same contract as attention_bidirectional; operands in bf16, accumulation in fp32.
template <class Arch, executor Exec>
[[nodiscard]] status attention_bidirectional_bf16(Arch arch, const attention_args& a, Exec& exec,
                                                  attention_bf16_scratch& scratch) {
#if VPRIM_X86_BF16_KERNELS
  if (!detail::bf16_kernels_for<Arch> || !cpu_has_bf16_kernels()) return attention_bidirectional(arch, a, exec);
  if (const status s = attention_can_implement(a); s != status::ok) return s;
  if (a.tokens == 0 || a.heads == 0) return status::ok;
  const detail::attention_bf16_plan pl(a);
  // A reused scratch holds the last call's values in the padding, which is never used: scores
  // of keys past N are overwritten with -inf, P*V stops at the last key pair, and only D output
  // columns are written.
  if (const status s = scratch.kt.ensure_size(a.heads * pl.DP * pl.Np); s != status::ok) return s;
  if (const status s = scratch.vp.ensure_size(a.heads * (pl.Np / 2) * pl.Dp); s != status::ok) return s;
  std::uint32_t* const kt = scratch.kt.data();
  std::uint32_t* const vp = scratch.vp.data();
  exec.parallel_for(static_cast<std::int64_t>(a.heads), [&](std::int64_t h0, std::int64_t h1) {
    detail::pack_heads_bf16(a, pl, static_cast<std::size_t>(h0), static_cast<std::size_t>(h1), kt, vp);
  });
  exec.parallel_for(static_cast<std::int64_t>(a.heads * pl.qblocks), [&](std::int64_t t0, std::int64_t t1) {
    detail::attend_blocks_bf16(a, pl, static_cast<std::size_t>(t0), static_cast<std::size_t>(t1), kt, vp);
  });
  return status::ok;
#else
  (void)scratch;
  return attention_bidirectional(arch, a, exec);
#endif
}

//! As above with a scratch of its own for this call.
template <class Arch, executor Exec>
[[nodiscard]] status attention_bidirectional_bf16(Arch arch, const attention_args& a, Exec& exec) {
  attention_bf16_scratch scratch;
  return attention_bidirectional_bf16(arch, a, exec, scratch);
}

}  // namespace cpu
VPRIM_NAMESPACE_END
