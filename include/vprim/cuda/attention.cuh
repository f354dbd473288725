// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file attention.cuh
//! Bidirectional attention for the vision towers, two kernels:
//! - attention_bidirectional (fp32, SIMT): the reference path, the contract of
//!   cpu::attention_bidirectional within fp32 rounding. One warp per (query, head): lanes split
//!   the head dim, each key's logit is a warp reduction, online softmax in fp32. Head dims up
//!   to 128.
//! - attention_bidirectional_bf16 (tensor cores; the register-resident kernel of
//!   attention_flash.cuh where it fits, else the one below), the contract of
//! cpu::attention_bidirectional_bf16: fp32 Q, K, V in (Q scaled, then all rounded to bf16 as
//! they are staged), both products on tensor cores (WMMA), the online softmax in fp32, fp32 out.
//! Never forms N x N: one block owns 64 queries of one head and walks the keys 64 at a time.
//! - S = Q K^T: each of the 4 warps computes 16 query rows x 64 keys.
//! - Softmax: a warp's 32 lanes share each of its rows (2 keys a lane), running max and sum in
//!   shared memory; probabilities are rounded to bf16 for P V, as the CPU kernel does.
//! - O is kept in shared memory in fp32 and rescaled row by row, since a WMMA accumulator's
//!   element layout is opaque.
//! Head dims: multiples of 16 up to 128 (64 and 128 are the towers').

#include <cuda_bf16.h>
#include <mma.h>

#include "vprim/kernels/attention.hpp"
#include "vprim/cuda/attention_flash.cuh"
#include "vprim/cuda/launch.cuh"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

//! One description for both backends.
using attention_args = kernels::attention_args;

[[nodiscard]] inline status attention_bf16_can_implement(const attention_args& a) noexcept {
  if (const status s = kernels::attention_can_implement(a); s != status::ok) return s;
  if (a.tokens == 0 || a.heads == 0) return status::ok;
  if (a.head_dim % 16 != 0 || a.head_dim > 128) return status::not_supported;
  if (ceil_div(a.tokens, 64) > 0x7fffffffu || a.heads > 65535u) return status::not_supported;
  return status::ok;
}

namespace detail {
struct attention_tile {
  static constexpr int bq = 64, bk = 64, threads = 128;
  int d;  // head dim
  [[nodiscard]] __host__ __device__ int ldh() const { return d + 8; }   // bf16 rows of Q, K, V
  [[nodiscard]] __host__ __device__ static constexpr int lds() { return bk + 4; }  // fp32 S rows
  [[nodiscard]] __host__ __device__ static constexpr int ldp() { return bk + 8; }  // bf16 P rows
  [[nodiscard]] __host__ __device__ int ldo() const { return d + 4; }   // fp32 O and PV rows
  // byte offsets of the shared arrays (all 32-byte aligned)
  [[nodiscard]] __host__ __device__ std::size_t q_at() const { return 0; }
  [[nodiscard]] __host__ __device__ std::size_t k_at() const { return q_at() + std::size_t(bq) * ldh() * 2; }
  [[nodiscard]] __host__ __device__ std::size_t v_at() const { return k_at() + std::size_t(bk) * ldh() * 2; }
  [[nodiscard]] __host__ __device__ std::size_t s_at() const { return v_at() + std::size_t(bk) * ldh() * 2; }
  [[nodiscard]] __host__ __device__ std::size_t p_at() const { return s_at() + std::size_t(bq) * lds() * 4; }
  [[nodiscard]] __host__ __device__ std::size_t o_at() const { return p_at() + std::size_t(bq) * ldp() * 2; }
  [[nodiscard]] __host__ __device__ std::size_t pv_at() const { return o_at() + std::size_t(bq) * ldo() * 4; }
  [[nodiscard]] __host__ __device__ std::size_t row_state_at() const { return pv_at() + std::size_t(bq) * ldo() * 4; }
  [[nodiscard]] __host__ __device__ std::size_t bytes() const { return row_state_at() + 3 * bq * 4; }
};

VPRIM_KERNEL void attention_bf16_kernel(attention_args a) {
  namespace wmma = nvcuda::wmma;
  extern __shared__ __align__(128) unsigned char smem[];
  const attention_tile t{static_cast<int>(a.head_dim)};
  auto* qs = reinterpret_cast<__nv_bfloat16*>(smem + t.q_at());
  auto* ks = reinterpret_cast<__nv_bfloat16*>(smem + t.k_at());
  auto* vs = reinterpret_cast<__nv_bfloat16*>(smem + t.v_at());
  auto* ss = reinterpret_cast<float*>(smem + t.s_at());
  auto* ps = reinterpret_cast<__nv_bfloat16*>(smem + t.p_at());
  auto* os = reinterpret_cast<float*>(smem + t.o_at());
  auto* pv = reinterpret_cast<float*>(smem + t.pv_at());
  float* row_max = reinterpret_cast<float*>(smem + t.row_state_at());
  float* row_sum = row_max + attention_tile::bq;
  float* row_corr = row_sum + attention_tile::bq;
  const int d = t.d, tid = static_cast<int>(threadIdx.x), warp = tid / 32, lane = tid % 32;
  const std::size_t h = blockIdx.y, q0 = static_cast<std::size_t>(blockIdx.x) * attention_tile::bq;
  const __nv_bfloat16 zero = __float2bfloat16(0.0f);
  for (int e = tid; e < attention_tile::bq * d; e += attention_tile::threads) {
    const int r = e / d, c = e % d;
    const std::size_t q = q0 + static_cast<std::size_t>(r);
    qs[r * t.ldh() + c] = q < a.tokens ? __float2bfloat16_rn(a.q[q * a.q_stride + h * a.head_dim + c] * a.scale) : zero;
    os[r * t.ldo() + c] = 0.0f;
  }
  if (tid < attention_tile::bq) {
    row_max[tid] = -INFINITY;
    row_sum[tid] = 0.0f;
  }
  const int r0 = warp * 16;  // this warp's query rows
  for (std::size_t k0 = 0; k0 < a.tokens; k0 += attention_tile::bk) {
    __syncthreads();  // the previous block's K, V and P are consumed
    for (int e = tid; e < attention_tile::bk * d; e += attention_tile::threads) {
      const int j = e / d, c = e % d;
      const std::size_t key = k0 + static_cast<std::size_t>(j);
      const bool in = key < a.tokens;
      ks[j * t.ldh() + c] = in ? __float2bfloat16_rn(a.k[key * a.k_stride + h * a.head_dim + c]) : zero;
      vs[j * t.ldh() + c] = in ? __float2bfloat16_rn(a.v[key * a.v_stride + h * a.head_dim + c]) : zero;
    }
    __syncthreads();
    // S rows r0..r0+15 = Q K^T; B = K^T, so element (c, j) = ks[j * ldh + c]: column-major.
    for (int jf = 0; jf < attention_tile::bk / 16; ++jf) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> s;
      wmma::fill_fragment(s, 0.0f);
      for (int c = 0; c < d; c += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fq;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> fk;
        wmma::load_matrix_sync(fq, qs + r0 * t.ldh() + c, t.ldh());
        wmma::load_matrix_sync(fk, ks + jf * 16 * t.ldh() + c, t.ldh());
        wmma::mma_sync(s, fq, fk, s);
      }
      wmma::store_matrix_sync(ss + r0 * attention_tile::lds() + jf * 16, s, attention_tile::lds(), wmma::mem_row_major);
    }
    __syncwarp();
    // Online softmax over this warp's rows: lanes take keys lane and lane + 32.
    const int nk = static_cast<int>(min(static_cast<std::size_t>(attention_tile::bk), a.tokens - k0));
    for (int r = r0; r < r0 + 16; ++r) {
      const float s0 = lane < nk ? ss[r * attention_tile::lds() + lane] : -INFINITY;
      const float s1 = lane + 32 < nk ? ss[r * attention_tile::lds() + lane + 32] : -INFINITY;
      float mx = fmaxf(s0, s1);
      for (int off = 16; off > 0; off /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
      const float m_old = row_max[r], m_new = fmaxf(m_old, mx);
      const float p0 = __expf(s0 - m_new), p1 = __expf(s1 - m_new);
      float sum = p0 + p1;
      for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
      ps[r * attention_tile::ldp() + lane] = __float2bfloat16_rn(p0);
      ps[r * attention_tile::ldp() + lane + 32] = __float2bfloat16_rn(p1);
      __syncwarp();
      if (lane == 0) {
        const float corr = __expf(m_old - m_new);  // 0 on the first block (m_old = -inf)
        row_corr[r] = corr;
        row_sum[r] = row_sum[r] * corr + sum;
        row_max[r] = m_new;
      }
      __syncwarp();
    }
    // PV rows r0..r0+15 = P V; B = V, element (j, c) = vs[j * ldh + c]: row-major.
    for (int cf = 0; cf < d / 16; ++cf) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> o;
      wmma::fill_fragment(o, 0.0f);
      for (int j = 0; j < attention_tile::bk; j += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fp;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> fv;
        wmma::load_matrix_sync(fp, ps + r0 * attention_tile::ldp() + j, attention_tile::ldp());
        wmma::load_matrix_sync(fv, vs + j * t.ldh() + cf * 16, t.ldh());
        wmma::mma_sync(o, fp, fv, o);
      }
      wmma::store_matrix_sync(pv + r0 * t.ldo() + cf * 16, o, t.ldo(), wmma::mem_row_major);
    }
    __syncwarp();
    for (int e = lane; e < 16 * d; e += 32) {
      const int r = r0 + e / d, c = e % d;
      os[r * t.ldo() + c] = os[r * t.ldo() + c] * row_corr[r] + pv[r * t.ldo() + c];
    }
  }
  __syncthreads();
  for (int e = tid; e < attention_tile::bq * d; e += attention_tile::threads) {
    const int r = e / d, c = e % d;
    const std::size_t q = q0 + static_cast<std::size_t>(r);
    if (q < a.tokens) a.o[q * a.o_stride + h * a.head_dim + c] = os[r * t.ldo() + c] / row_sum[r];
  }
}
}  // namespace detail

//! Attention over every head on `stream`.
namespace detail {
inline constexpr int attention_f32_warps = 4, attention_f32_per_lane = 4;  // head_dim <= 128

VPRIM_KERNEL void attention_f32_kernel(attention_args a) {
  constexpr int R = attention_f32_per_lane;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const std::size_t q = static_cast<std::size_t>(blockIdx.x) * attention_f32_warps + threadIdx.x / 32, h = blockIdx.y;
  if (q >= a.tokens) return;  // whole warps leave
  const std::size_t d = a.head_dim;
  float qv[R], o[R];
#pragma unroll
  for (int j = 0; j < R; ++j) {
    const std::size_t c = static_cast<std::size_t>(j * 32 + lane);
    qv[j] = c < d ? a.q[q * a.q_stride + h * d + c] : 0.0f;
    o[j] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (std::size_t key = 0; key < a.tokens; ++key) {
    const float* k = a.k + key * a.k_stride + h * d;
    float part = 0.0f;
#pragma unroll
    for (int j = 0; j < R; ++j) {
      const std::size_t c = static_cast<std::size_t>(j * 32 + lane);
      if (c < d) part += qv[j] * k[c];
    }
    for (int off = 16; off > 0; off /= 2) part += __shfl_xor_sync(0xffffffffu, part, off);
    const float s = part * a.scale, m_new = fmaxf(m, s);
    const float corr = expf(m - m_new), p = expf(s - m_new);  // corr = 0 on the first key
    l = l * corr + p;
    const float* v = a.v + key * a.v_stride + h * d;
#pragma unroll
    for (int j = 0; j < R; ++j) {
      const std::size_t c = static_cast<std::size_t>(j * 32 + lane);
      o[j] = o[j] * corr + (c < d ? p * v[c] : 0.0f);
    }
    m = m_new;
  }
#pragma unroll
  for (int j = 0; j < R; ++j) {
    const std::size_t c = static_cast<std::size_t>(j * 32 + lane);
    if (c < d) a.o[q * a.o_stride + h * d + c] = o[j] / l;
  }
}
}  // namespace detail

//! The fp32 attention on `stream`.
[[nodiscard]] inline status attention_bidirectional(const attention_args& a, cudaStream_t stream) {
  if (const status s = kernels::attention_can_implement(a); s != status::ok || a.tokens == 0 || a.heads == 0) return s;
  if (a.head_dim > 32 * detail::attention_f32_per_lane) return status::not_supported;
  if (ceil_div(a.tokens, detail::attention_f32_warps) > 0x7fffffffu || a.heads > 65535u) return status::not_supported;
  const dim3 grid(static_cast<unsigned>(ceil_div(a.tokens, detail::attention_f32_warps)), static_cast<unsigned>(a.heads));
  detail::attention_f32_kernel<<<grid, 32 * detail::attention_f32_warps, 0, stream>>>(a);
  return detail::launched();
}

//! Which kernel runs attention_bidirectional_bf16: `flash` (attention_flash.cuh: registers,
//! mma.sync; head dims 64 and 128, 16-byte aligned fp32 operands), `wmma` (above: any multiple
//! of 16 up to 128), or `automatic`, flash wherever it fits. The same blocks and roundings:
//! they differ in the order of fp32 sums only.
enum class attention_engine : std::uint8_t { automatic, wmma, flash };

[[nodiscard]] inline status attention_bidirectional_bf16(const attention_args& a, cudaStream_t stream,
                                                         attention_engine engine = attention_engine::automatic) {
  if (const status s = attention_bf16_can_implement(a); s != status::ok || a.tokens == 0 || a.heads == 0) return s;
  const bool flash_fits = detail::flash::fits(a);
  if (engine == attention_engine::flash && !flash_fits) return status::not_supported;
  if (engine != attention_engine::wmma && flash_fits)
    return a.head_dim == 64 ? detail::flash::launch<64>(a, stream) : detail::flash::launch<128>(a, stream);
  const detail::attention_tile t{static_cast<int>(a.head_dim)};
  const auto bytes = static_cast<int>(t.bytes());
  if (cudaError_t e = cudaFuncSetAttribute(detail::attention_bf16_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
      e != cudaSuccess)
    return to_status(e);
  const dim3 grid(static_cast<unsigned>(ceil_div(a.tokens, detail::attention_tile::bq)), static_cast<unsigned>(a.heads));
  detail::attention_bf16_kernel<<<grid, detail::attention_tile::threads, static_cast<std::size_t>(bytes), stream>>>(a);
  return detail::launched();
}

}  // namespace cuda
VPRIM_NAMESPACE_END
