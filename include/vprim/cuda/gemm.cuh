// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file gemm.cuh
//! bf16 tensor-core GEMM with a fused epilogue (the contract of gemm_args.cuh), with two engines:
//! - mma_sync: the WMMA API (HMMA mma.sync, sm_80+). 64 x 64 block tiles, four warps of 32 x 32,
//!   K steps of 32 through shared memory, every load bounds-checked so that any M, N, K and
//!   any stride work. Its tile also runs the fused-operand GEMMs (patchify, merge unfold, the
//!   MoE row gather), which are bit-identical to it.
//! - wgmma: the Hopper kernel of gemm_sm90.cuh (TMA + wgmma, 128 x 128 tiles), for operands
//!   TMA can address (16-byte aligned bases and strides) on an sm_90a build. The grouped MoE
//!   GEMM has it too, gathering A's rows with cp.async.
//! `automatic` takes wgmma wherever it can run. Both sum bf16 products in fp32, in different
//! orders, so they agree to fp32 rounding, not bit for bit.
//! Also here: the fp32 SIMT GEMM (the golden path), the grouped MoE GEMM, fp32 -> bf16.

#include <algorithm>
#include <type_traits>

#include <cuda_bf16.h>
#include <mma.h>

#include "vprim/cuda/gemm_args.cuh"
#include "vprim/cuda/gemm_sm90.cuh"
#include "vprim/cuda/launch.cuh"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

namespace detail {
struct gemm_tile {
  static constexpr int bm = 64, bn = 64, bk = 32, threads = 128;
  static constexpr int lds = bk + 8;   // bf16 row stride in shared memory (a multiple of 8)
  static constexpr int ldc = bn + 4;   // fp32 row stride of the epilogue tile
};

//! One 64 x 64 tile of C at (row0, col0) of the logical problem g (g.m logical rows, g.k
//! columns of A). a_at(r, k) gives A's element (r, k) in bf16, and c_row(r) the row of C that
//! logical row r writes. Whatever builds A is fused into the tile's loads: a row gather for a
//! grouped MoE GEMM, the merge unfold for the aligner, patchify for the patch embedding; C's
//! row map scatters a grouped GEMM's results.
template <class AAt, class CRow>
__device__ void gemm_tile_wmma(const gemm_args& g, std::size_t row0, std::size_t col0, AAt a_at, CRow c_row) {
  namespace wmma = nvcuda::wmma;
  using T = gemm_tile;
  __shared__ __align__(32) __nv_bfloat16 as[T::bm * T::lds];
  __shared__ __align__(32) __nv_bfloat16 ws[T::bn * T::lds];
  __shared__ __align__(32) float cs[T::bm * T::ldc];
  const int warp = static_cast<int>(threadIdx.x) / 32, wy = warp / 2, wx = warp % 2;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
  for (auto& r : acc)
    for (auto& f : r) wmma::fill_fragment(f, 0.0f);
  const __nv_bfloat16 zero = __float2bfloat16(0.0f);
  for (std::size_t k0 = 0; k0 < g.k; k0 += T::bk) {
    // Stage the A and W tiles; out-of-range elements are zero, which adds nothing.
    for (int e = static_cast<int>(threadIdx.x); e < T::bm * T::bk; e += T::threads) {
      const int r = e / T::bk, kk = e % T::bk;
      const std::size_t gr = row0 + static_cast<std::size_t>(r), gn = col0 + static_cast<std::size_t>(r),
                        gk = k0 + static_cast<std::size_t>(kk);
      as[r * T::lds + kk] = gr < g.m && gk < g.k ? a_at(gr, gk) : zero;
      ws[r * T::lds + kk] = gn < g.n && gk < g.k ? g.w[gn * g.ldw + gk] : zero;
    }
    __syncthreads();
    for (int kk = 0; kk < T::bk; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> fb[2];
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(fa[i], as + (wy * 32 + i * 16) * T::lds + kk, T::lds);
      // B = W^T: element (k, n) sits at ws[n * lds + k], which is column-major B.
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(fb[j], ws + (wx * 32 + j * 16) * T::lds + kk, T::lds);
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    __syncthreads();
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(cs + (wy * 32 + i * 16) * T::ldc + wx * 32 + j * 16, acc[i][j], T::ldc, wmma::mem_row_major);
  __syncthreads();
  for (int e = static_cast<int>(threadIdx.x); e < T::bm * T::bn; e += T::threads) {
    const int r = e / T::bn, cidx = e % T::bn;
    store_epilogue(g, row0 + static_cast<std::size_t>(r), col0 + static_cast<std::size_t>(cidx), cs[r * T::ldc + cidx], c_row);
  }
}

VPRIM_KERNEL void gemm_bf16_wmma_kernel(gemm_args g) {
  gemm_tile_wmma(g, static_cast<std::size_t>(blockIdx.x) * gemm_tile::bm, static_cast<std::size_t>(blockIdx.y) * gemm_tile::bn,
                 [&](std::size_t r, std::size_t k) { return g.a[r * g.lda + k]; }, identity_row{});
}

//! The fp32 GEMM's tile (SIMT FMA): 64 x 64, 256 threads of 4 x 4 outputs, K steps of 16, with
//! the same row maps as the tensor-core tile. The reference path wherever results must match
//! fp32 peers within 1e-4 (the goldens).
template <class AAt, class CRow>
__device__ void gemm_tile_f32(const gemm_f32_args& g, std::size_t row0, std::size_t col0, AAt a_at, CRow c_row) {
  constexpr int bm = 64, bn = 64, bk = 16;
  __shared__ float as[bk][bm + 4], ws[bk][bn + 4];
  const int tr = static_cast<int>(threadIdx.x) / 16, tc = static_cast<int>(threadIdx.x) % 16;
  float acc[4][4] = {};
  for (std::size_t k0 = 0; k0 < g.k; k0 += bk) {
    for (int e = static_cast<int>(threadIdx.x); e < bm * bk; e += 256) {
      const int r = e / bk, kk = e % bk;
      const std::size_t gr = row0 + static_cast<std::size_t>(r), gn = col0 + static_cast<std::size_t>(r),
                        gk = k0 + static_cast<std::size_t>(kk);
      as[kk][r] = gr < g.m && gk < g.k ? a_at(gr, gk) : 0.0f;
      ws[kk][r] = gn < g.n && gk < g.k ? g.w[gn * g.ldw + gk] : 0.0f;
    }
    __syncthreads();
    for (int kk = 0; kk < bk; ++kk)
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] += as[kk][tr * 4 + i] * ws[kk][tc * 4 + j];
    __syncthreads();
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      store_epilogue(g, row0 + static_cast<std::size_t>(tr * 4 + i), col0 + static_cast<std::size_t>(tc * 4 + j), acc[i][j], c_row);
}

VPRIM_KERNEL void gemm_f32_kernel(gemm_f32_args g) {
  gemm_tile_f32(g, static_cast<std::size_t>(blockIdx.x) * 64, static_cast<std::size_t>(blockIdx.y) * 64,
                [&](std::size_t r, std::size_t k) { return g.a[r * g.lda + k]; }, identity_row{});
}

VPRIM_KERNEL void to_bf16_kernel(const float* in, __nv_bfloat16* out, std::size_t n) {
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    out[i] = __float2bfloat16_rn(in[i]);
}

// An empty K leaves act(bias) (+ C): the product of nothing is zero.
template <class Args>
VPRIM_KERNEL void gemm_empty_k_kernel(Args g) {
  for (std::size_t j = threadIdx.x; j < g.n; j += blockDim.x) store_epilogue(g, blockIdx.x, j, 0.0f, identity_row{});
}
}  // namespace detail

namespace detail {
//! The checks and the empty-K case every GEMM entry point shares; true when nothing is left to do.
template <class Args>
[[nodiscard]] bool gemm_prologue(const Args& g, cudaStream_t stream, status& st) {
  st = gemm_can_implement(g);
  if (st != status::ok || g.m == 0 || g.n == 0) return true;
  if (g.k > 0) return false;
  gemm_empty_k_kernel<<<static_cast<unsigned>(g.m), 128, 0, stream>>>(g);
  st = launched();
  return true;
}
}  // namespace detail

enum class gemm_engine : std::uint8_t { automatic, mma_sync, wgmma };

//! gemm_can_implement, and what the engine needs besides: wgmma wants operands TMA can address.
//! Whether the device and the build have wgmma is known only at run time (gemm_engine_for).
[[nodiscard]] inline status gemm_can_implement(const gemm_args& g, gemm_engine engine) noexcept {
  if (const status s = gemm_can_implement(g); s != status::ok || engine != gemm_engine::wgmma || g.m == 0 || g.n == 0) return s;
  return detail::sm90::can_implement(g);
}

//! The engine `automatic` runs g with on the current device.
[[nodiscard]] inline gemm_engine gemm_engine_for(const gemm_args& g) noexcept {
  return gemm_can_implement(g, gemm_engine::wgmma) == status::ok && detail::sm90::available() ? gemm_engine::wgmma
                                                                                               : gemm_engine::mma_sync;
}

//! Runs the bf16 GEMM on `stream`. A wgmma request the device or the build cannot run is
//! not_supported.
[[nodiscard]] inline status gemm_bf16(const gemm_args& g, cudaStream_t stream, gemm_engine engine = gemm_engine::automatic) {
  if (const status s = gemm_can_implement(g, engine); s != status::ok) return s;
  if (status st; detail::gemm_prologue(g, stream, st)) return st;
  if (engine == gemm_engine::wgmma && !detail::sm90::available()) return status::not_supported;
  if (engine == gemm_engine::automatic) engine = gemm_engine_for(g);
  if (engine == gemm_engine::wgmma) return detail::sm90::launch<false>(grouped_gemm_args{g}, stream);
  using T = detail::gemm_tile;
  const dim3 grid(static_cast<unsigned>(ceil_div(g.m, T::bm)), static_cast<unsigned>(ceil_div(g.n, T::bn)));
  detail::gemm_bf16_wmma_kernel<<<grid, T::threads, 0, stream>>>(g);
  return detail::launched();
}

//! Runs the fp32 GEMM on `stream`.
[[nodiscard]] inline status gemm_f32(const gemm_f32_args& g, cudaStream_t stream) {
  if (status st; detail::gemm_prologue(g, stream, st)) return st;
  const dim3 grid(static_cast<unsigned>(ceil_div(g.m, 64)), static_cast<unsigned>(ceil_div(g.n, 64)));
  detail::gemm_f32_kernel<<<grid, 256, 0, stream>>>(g);
  return detail::launched();
}

namespace detail {
template <class T>
VPRIM_KERNEL void grouped_gemm_kernel(basic_grouped_gemm_args<T> gg) {
  const std::size_t e = blockIdx.z;
  const auto begin = static_cast<std::size_t>(gg.offsets[e]);
  const auto rows = static_cast<std::size_t>(gg.offsets[e + 1]) - begin;
  const std::size_t row0 = static_cast<std::size_t>(blockIdx.x) * gemm_tile::bm;
  if (row0 >= rows) return;  // the grid covers max_rows; most experts have fewer
  basic_gemm_args<T> g = gg.base;
  g.m = rows;
  g.w = gg.base.w + e * gg.base.n * gg.base.ldw;
  g.bias = gg.base.bias != nullptr ? gg.base.bias + e * gg.base.n : nullptr;
  const std::int32_t* slots = gg.order + begin;
  const std::size_t per = gg.a_by_token ? gg.top_k : 1, col0 = static_cast<std::size_t>(blockIdx.y) * gemm_tile::bn;
  auto a_at = [&](std::size_t r, std::size_t k) { return g.a[static_cast<std::size_t>(slots[r]) / per * g.lda + k]; };
  auto c_row = [&](std::size_t r) { return static_cast<std::size_t>(slots[r]); };
  if constexpr (std::is_same_v<T, float>) gemm_tile_f32(g, row0, col0, a_at, c_row);
  else gemm_tile_wmma(g, row0, col0, a_at, c_row);
}
}  // namespace detail

//! grouped_gemm_can_implement, and what the engine needs besides (only bf16 operands have a
//! wgmma engine; the fp32 tile ignores it).
template <class T>
[[nodiscard]] status grouped_gemm_can_implement(const basic_grouped_gemm_args<T>& g, gemm_engine engine) noexcept {
  const status s = grouped_gemm_can_implement(g);
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    if (s == status::ok && engine == gemm_engine::wgmma && g.experts != 0 && g.max_rows != 0 && g.base.n != 0)
      return detail::sm90::can_implement(g);
  return s;
}

//! The engine `automatic` runs g with on the current device.
[[nodiscard]] inline gemm_engine grouped_gemm_engine_for(const grouped_gemm_args& g) noexcept {
  return grouped_gemm_can_implement(g, gemm_engine::wgmma) == status::ok && detail::sm90::available() ? gemm_engine::wgmma
                                                                                                      : gemm_engine::mma_sync;
}

//! Every expert's GEMM on `stream` (k > 0): grouped_gemm_args on the tensor cores (either
//! engine, as gemm_bf16), grouped_gemm_f32_args on the fp32 tile (the engine is ignored).
template <class T>
[[nodiscard]] status grouped_gemm(const basic_grouped_gemm_args<T>& g, cudaStream_t stream, gemm_engine engine = gemm_engine::automatic) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, __nv_bfloat16>, "vprim::cuda::grouped_gemm: bf16 or float operands");
  constexpr bool bf16 = std::is_same_v<T, __nv_bfloat16>;
  if (const status s = grouped_gemm_can_implement(g, engine); s != status::ok) return s;
  if (g.experts == 0 || g.max_rows == 0 || g.base.n == 0) return status::ok;
  if (g.base.k == 0) return status::not_supported;
  if constexpr (bf16) {
    if (engine == gemm_engine::wgmma && !detail::sm90::available()) return status::not_supported;
    if (engine == gemm_engine::automatic) engine = grouped_gemm_engine_for(g);
    if (engine == gemm_engine::wgmma) return detail::sm90::launch<true>(g, stream);
  }
  using Tile = detail::gemm_tile;
  const dim3 grid(static_cast<unsigned>(ceil_div(g.max_rows, Tile::bm)), static_cast<unsigned>(ceil_div(g.base.n, Tile::bn)),
                  static_cast<unsigned>(g.experts));
  detail::grouped_gemm_kernel<T><<<grid, bf16 ? Tile::threads : 256, 0, stream>>>(g);
  return detail::launched();
}
[[nodiscard]] inline status grouped_gemm_bf16(const grouped_gemm_args& g, cudaStream_t stream, gemm_engine engine = gemm_engine::automatic) {
  return grouped_gemm(g, stream, engine);
}

//! out[i] = bf16(in[i]), rounding to nearest even.
[[nodiscard]] inline status to_bf16(const float* in, __nv_bfloat16* out, std::size_t n, cudaStream_t stream) {
  if (n == 0) return status::ok;
  if (in == nullptr || out == nullptr) return status::invalid_argument;
  const auto blocks = static_cast<unsigned>(std::min<std::size_t>(ceil_div(n, 256), 65535));
  detail::to_bf16_kernel<<<blocks, 256, 0, stream>>>(in, out, n);
  return detail::launched();
}

}  // namespace cuda
VPRIM_NAMESPACE_END
