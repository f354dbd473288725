// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file attention_flash.cuh
//! The register-resident bf16 attention kernel (mma.sync m16n8k16, the FlashAttention-2
//! scheme), for head dims 64 and 128: the contract of attention_bidirectional_bf16, with the
//! same key blocks (64 keys), the same roundings (Q scaled, then Q, K and V rounded to bf16; P
//! rounded to bf16 for P V; the row sums of unrounded P) and the same online softmax, so it
//! differs from the shared-memory WMMA kernel only in the order of fp32 sums.
//! - A block owns 128 queries (twice the WMMA kernel's, since a query row's result does not
//!   depend on its neighbours), which halves the K and V tiles staged per query.
//! - Each of the 8 warps owns 16 query rows; its Q fragments, S, P and O stay in registers.
//!   The accumulator of S = Q K^T has the layout of P's A fragments, so P never leaves them.
//! - K and V are staged per key block as bf16 (converted from fp32 on the way in, float4
//!   loads); K's B fragments come from ldmatrix, V's from ldmatrix.trans.
//! - A row's max and sum are reduced over the 4 lanes that hold it (shuffles of 1 and 2).

#include <cstdint>

#include <cuda_bf16.h>

#include "vprim/kernels/attention.hpp"
#include "vprim/cuda/launch.cuh"

VPRIM_NAMESPACE_BEGIN
namespace cuda::detail::flash {

constexpr int warps = 8, bq = 16 * warps, bk = 64, threads = 32 * warps;
template <int D>
constexpr int ld = D + 8;  // bf16 row stride of the K and V tiles: 16-byte rows, no bank conflicts for ldmatrix
template <int D>
constexpr std::size_t smem_bytes = 2 * std::size_t{bk} * ld<D> * sizeof(__nv_bfloat16);

//! Whether the kernel takes `a` (besides the shared checks): its head dims, and the 16-byte
//! alignment of its float4 loads.
[[nodiscard]] inline bool fits(const kernels::attention_args& a) noexcept {
  return (a.head_dim == 64 || a.head_dim == 128) && aligned_to(a.q, 16) && aligned_to(a.k, 16) && aligned_to(a.v, 16) &&
         a.q_stride % 4 == 0 && a.k_stride % 4 == 0 && a.v_stride % 4 == 0 && a.o_stride % 2 == 0 && aligned_to(a.o, 8);
}

//! The element of a key-major K tile whose address lane `lane` gives ldmatrix (x4) for the B
//! fragments of S's key tiles j and j + 1 over dims 16c..16c + 15: its matrices are (keys 8j,
//! dims 16c), (keys 8j, dims 16c + 8), (keys 8j + 8, dims 16c), (keys 8j + 8, dims 16c + 8).
template <int D>
__host__ __device__ constexpr int k_fragment_offset(int lane, int j, int c) noexcept {
  return (8 * (j + lane / 16) + lane % 8) * ld<D> + 16 * c + 8 * ((lane / 8) % 2);
}
//! The same for V's B fragments of P V (ldmatrix.trans), keys 16kk..16kk + 15 and the output
//! dim tiles jd and jd + 1: matrices (keys 16kk, dims 8jd), (keys 16kk + 8, dims 8jd), then
//! both again at dims 8(jd + 1).
template <int D>
__host__ __device__ constexpr int v_fragment_offset(int lane, int kk, int jd) noexcept {
  return (16 * kk + lane % 8 + 8 * ((lane / 8) % 2)) * ld<D> + 8 * (jd + lane / 16);
}

__device__ inline std::uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (the lower column) in the low half
  return *reinterpret_cast<const std::uint32_t*>(&v);
}

//! d += a (16 x 16, row) * b (16 x 8, col), bf16 in, fp32 accumulate.
__device__ inline void mma_16816(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

//! Four 8 x 8 bf16 matrices; lane l gives the address of row l % 8 of matrix l / 8.
__device__ inline void ldmatrix_x4(std::uint32_t (&r)[4], const __nv_bfloat16* row) {
  const auto at = static_cast<std::uint32_t>(__cvta_generic_to_shared(row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(at));
}
__device__ inline void ldmatrix_x4_trans(std::uint32_t (&r)[4], const __nv_bfloat16* row) {
  const auto at = static_cast<std::uint32_t>(__cvta_generic_to_shared(row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(at));
}

//! The fp32 rows [row0, row0 + 64) of one head of K or V into a bf16 tile (zeros past `tokens`).
template <int D>
__device__ inline void stage(__nv_bfloat16* tile, const float* src, std::size_t stride, std::size_t row0, std::size_t tokens) {
  constexpr int per_row = D / 4;
  for (int e = static_cast<int>(threadIdx.x); e < bk * per_row; e += threads) {
    const int r = e / per_row, c = (e % per_row) * 4;
    const std::size_t row = row0 + static_cast<std::size_t>(r);
    float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (row < tokens) v = *reinterpret_cast<const float4*>(src + row * stride + static_cast<std::size_t>(c));
    auto* out = reinterpret_cast<std::uint32_t*>(tile + r * ld<D> + c);
    out[0] = pack_bf16(v.x, v.y);
    out[1] = pack_bf16(v.z, v.w);
  }
}

// Fragment coordinates (g = lane / 4, t = lane % 4): A (16 x 16) a0 (g, 2t..), a1 (g + 8, 2t..),
// a2 (g, 2t + 8..), a3 (g + 8, 2t + 8..); B (16 x 8) b0 (k 2t.., n g), b1 (k 2t + 8.., n g);
// C (16 x 8) c0 c1 (g, 2t..), c2 c3 (g + 8, 2t..).
template <int D>
VPRIM_KERNEL void __launch_bounds__(threads) attention_kernel(kernels::attention_args a) {
  extern __shared__ __align__(16) unsigned char flash_smem[];
  auto* ks = reinterpret_cast<__nv_bfloat16*>(flash_smem);
  auto* vs = ks + bk * ld<D>;
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32, g = lane / 4, t = lane % 4;
  const std::size_t h = blockIdx.y, q_row0 = static_cast<std::size_t>(blockIdx.x) * bq + static_cast<std::size_t>(warp) * 16;
  const std::size_t head = h * a.head_dim;

  std::uint32_t qf[D / 16][4];  // Q * scale in bf16, this warp's 16 rows
  {
    const std::size_t r_lo = q_row0 + static_cast<std::size_t>(g), r_hi = r_lo + 8;
    const auto q_pair = [&](std::size_t r, int c) {
      if (r >= a.tokens) return pack_bf16(0.0f, 0.0f);
      const float2 v = *reinterpret_cast<const float2*>(a.q + r * a.q_stride + head + static_cast<std::size_t>(c));
      return pack_bf16(v.x * a.scale, v.y * a.scale);
    };
#pragma unroll
    for (int c = 0; c < D / 16; ++c) {
      qf[c][0] = q_pair(r_lo, c * 16 + 2 * t);
      qf[c][1] = q_pair(r_hi, c * 16 + 2 * t);
      qf[c][2] = q_pair(r_lo, c * 16 + 2 * t + 8);
      qf[c][3] = q_pair(r_hi, c * 16 + 2 * t + 8);
    }
  }
  float o[D / 8][4] = {};
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};  // rows g and g + 8

  for (std::size_t k0 = 0; k0 < a.tokens; k0 += bk) {
    __syncthreads();  // the previous block's tiles are consumed
    stage<D>(ks, a.k + head, a.k_stride, k0, a.tokens);
    stage<D>(vs, a.v + head, a.v_stride, k0, a.tokens);
    __syncthreads();

    float s[bk / 8][4] = {};  // S = Q K^T, 8 key tiles of 8
#pragma unroll
    for (int j = 0; j < bk / 8; j += 2)
#pragma unroll
      for (int c = 0; c < D / 16; ++c) {
        std::uint32_t b[4];
        ldmatrix_x4(b, ks + k_fragment_offset<D>(lane, j, c));
        mma_16816(s[j], qf[c], b[0], b[1]);
        mma_16816(s[j + 1], qf[c], b[2], b[3]);
      }

    // Online softmax, as the WMMA kernel: keys past the end are -inf.
    const int valid = static_cast<int>(min(static_cast<std::size_t>(bk), a.tokens - k0));
    float block_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int j = 0; j < bk / 8; ++j)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        if (8 * j + 2 * t + (i & 1) >= valid) s[j][i] = -INFINITY;
        block_max[i / 2] = fmaxf(block_max[i / 2], s[j][i]);
      }
    float corr[2], block_sum[2] = {0.0f, 0.0f};
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      block_max[r] = fmaxf(block_max[r], __shfl_xor_sync(0xffffffffu, block_max[r], 1));
      block_max[r] = fmaxf(block_max[r], __shfl_xor_sync(0xffffffffu, block_max[r], 2));
      const float m_new = fmaxf(row_max[r], block_max[r]);
      corr[r] = __expf(row_max[r] - m_new);  // 0 on the first block (row_max = -inf)
      row_max[r] = m_new;
    }
#pragma unroll
    for (int j = 0; j < bk / 8; ++j)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        s[j][i] = __expf(s[j][i] - row_max[i / 2]);
        block_sum[i / 2] += s[j][i];
      }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      block_sum[r] += __shfl_xor_sync(0xffffffffu, block_sum[r], 1);
      block_sum[r] += __shfl_xor_sync(0xffffffffu, block_sum[r], 2);
      row_sum[r] = row_sum[r] * corr[r] + block_sum[r];
    }
#pragma unroll
    for (int jd = 0; jd < D / 8; ++jd)
#pragma unroll
      for (int i = 0; i < 4; ++i) o[jd][i] *= corr[i / 2];

    // O += P V: P's A fragment of keys 16kk.. is S's tiles 2kk and 2kk + 1, rounded to bf16.
#pragma unroll
    for (int kk = 0; kk < bk / 16; ++kk) {
      const std::uint32_t p[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                                  pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int jd = 0; jd < D / 8; jd += 2) {
        std::uint32_t b[4];
        ldmatrix_x4_trans(b, vs + v_fragment_offset<D>(lane, kk, jd));
        mma_16816(o[jd], p, b[0], b[1]);
        mma_16816(o[jd + 1], p, b[2], b[3]);
      }
    }
  }

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const std::size_t row = q_row0 + static_cast<std::size_t>(g + 8 * r);
    if (row >= a.tokens) continue;
    const float inv = 1.0f / row_sum[r];
#pragma unroll
    for (int jd = 0; jd < D / 8; ++jd)
      *reinterpret_cast<float2*>(a.o + row * a.o_stride + head + static_cast<std::size_t>(8 * jd + 2 * t)) =
          make_float2(o[jd][2 * r] * inv, o[jd][2 * r + 1] * inv);
  }
}

//! Launches the kernel of a's head dim on a call `fits` accepted.
template <int D>
[[nodiscard]] status launch(const kernels::attention_args& a, cudaStream_t stream) {
  if (const cudaError_t e = cudaFuncSetAttribute(attention_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem_bytes<D>));
      e != cudaSuccess)
    return to_status(e);
  const dim3 grid(static_cast<unsigned>(ceil_div(a.tokens, bq)), static_cast<unsigned>(a.heads));
  attention_kernel<D><<<grid, threads, smem_bytes<D>, stream>>>(a);
  return launched();
}

}  // namespace cuda::detail::flash
VPRIM_NAMESPACE_END
