// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file vision_gemm.cuh
//! The two vision GEMMs whose A operand is never written to memory: the tile loads build it
//! from the fp32 source and round it to bf16 on the way into shared memory.
//! - patch_embed_bf16: the patch embedding, A = patchify(image) (vprim/image/preprocess.hpp:
//!   patches row-major, features c * P * P + y * P + x, the Conv2d weight's order).
//! - merge_gemm_bf16: the aligner's first Linear, A = merge_unfold(tokens) (vprim/cpu/unfold.hpp:
//!   k x k neighbours, zero padded on the right and bottom, either feature layout).
//! Either equals gemm_bf16's mma_sync engine over the materialised A bit for bit: the same
//! tiles, the same sums (the wgmma engine sums in another order).
//! patchify_f32() and merge_unfold_f32() materialise the operand in fp32 for the fp32 path.

#include "vprim/cuda/gemm.cuh"
#include "vprim/kernels/unfold.hpp"
#include "vprim/policy/policies.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

struct patch_embed_args {
  gemm_args base;                //!< n, w [n, channels * patch^2], ldw, bias, c, ldc, act, accumulate (m, k, a, lda are set here)
  const float* image = nullptr;  //!< [channels, height, width], fp32
  std::size_t channels = 0, height = 0, width = 0, patch = 0;
  [[nodiscard]] std::size_t grid_w() const noexcept { return patch ? width / patch : 0; }
  [[nodiscard]] std::size_t patches() const noexcept { return patch ? (height / patch) * grid_w() : 0; }
  [[nodiscard]] std::size_t features() const noexcept { return channels * patch * patch; }
};

struct merge_gemm_args {
  gemm_args base;                 //!< n, w [n, out_features], ldw, bias, c, ldc, act, accumulate (m, k, a, lda are set here)
  const float* tokens = nullptr;  //!< [grid_h * grid_w, channels], fp32
  kernels::unfold_shape shape;
  merge_layout layout = merge_layout::channel_major;
};

namespace detail {
//! The logical GEMM of a fused-operand call, for the shared checks: A's shape is (m, k) and its
//! presence is that of the fp32 source.
[[nodiscard]] inline gemm_args logical_gemm(gemm_args base, std::size_t m, std::size_t k, const void* source) noexcept {
  base.m = m;
  base.k = k;
  base.lda = k;
  base.a = static_cast<const __nv_bfloat16*>(source);
  return base;
}

//! Element (r, k) of patchify(image): patch r (row-major), feature k = c * P * P + y * P + x.
__device__ inline float patch_value(const patch_embed_args& p, std::size_t r, std::size_t k) {
  const std::size_t P = p.patch, gw = p.width / P;  // (the host helpers are not device code)
  const std::size_t c = k / (P * P), y = (r / gw) * P + (k / P) % P, x = (r % gw) * P + k % P;
  return p.image[c * p.height * p.width + y * p.width + x];
}

//! Element (r, k) of merge_unfold(tokens): merged token r (row-major over the merged grid),
//! feature k in the layout's order; zero past the grid's right and bottom edges.
__device__ inline float unfold_value(const merge_gemm_args& u, std::size_t r, std::size_t k) {
  const std::size_t f = u.shape.factor, C = u.shape.channels, ow = (u.shape.grid_w + f - 1) / f;
  const bool channel_major = u.layout == merge_layout::channel_major;
  const std::size_t c = channel_major ? k / (f * f) : k % C, sub = channel_major ? k % (f * f) : k / C;
  const std::size_t y = (r / ow) * f + sub / f, x = (r % ow) * f + sub % f;
  return y < u.shape.grid_h && x < u.shape.grid_w ? u.tokens[(y * u.shape.grid_w + x) * C + c] : 0.0f;
}

VPRIM_KERNEL void patch_embed_kernel(patch_embed_args p, gemm_args g) {
  gemm_tile_wmma(
      g, static_cast<std::size_t>(blockIdx.x) * gemm_tile::bm, static_cast<std::size_t>(blockIdx.y) * gemm_tile::bn,
      [&](std::size_t r, std::size_t k) { return __float2bfloat16_rn(patch_value(p, r, k)); }, identity_row{});
}

VPRIM_KERNEL void merge_gemm_kernel(merge_gemm_args u, gemm_args g) {
  gemm_tile_wmma(
      g, static_cast<std::size_t>(blockIdx.x) * gemm_tile::bm, static_cast<std::size_t>(blockIdx.y) * gemm_tile::bn,
      [&](std::size_t r, std::size_t k) { return __float2bfloat16_rn(unfold_value(u, r, k)); }, identity_row{});
}

//! The operand itself, [rows, cols] fp32, for the fp32 path (which multiplies it with gemm_f32).
template <class Args, class Value>
VPRIM_KERNEL void materialise_kernel(Args args, Value value, float* out, std::size_t rows, std::size_t cols) {
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < rows * cols;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    out[i] = value(args, i / cols, i % cols);
}
struct patch_at {
  __device__ float operator()(const patch_embed_args& p, std::size_t r, std::size_t k) const { return patch_value(p, r, k); }
};
struct unfold_at {
  __device__ float operator()(const merge_gemm_args& u, std::size_t r, std::size_t k) const { return unfold_value(u, r, k); }
};

template <class Args, class Value>
[[nodiscard]] status materialise(const Args& args, Value value, float* out, std::size_t rows, std::size_t cols, cudaStream_t stream) {
  if (rows * cols == 0) return status::ok;
  if (out == nullptr) return status::invalid_argument;
  const auto blocks = static_cast<unsigned>(std::min<std::size_t>(ceil_div(rows * cols, 256), 65535));
  materialise_kernel<<<blocks, 256, 0, stream>>>(args, value, out, rows, cols);
  return launched();
}

template <class Kernel, class Args>
[[nodiscard]] status launch_fused_operand(Kernel kernel, const Args& args, const gemm_args& g, cudaStream_t stream) {
  if (status st; gemm_prologue(g, stream, st)) return st;
  const dim3 grid(static_cast<unsigned>(ceil_div(g.m, gemm_tile::bm)), static_cast<unsigned>(ceil_div(g.n, gemm_tile::bn)));
  kernel<<<grid, gemm_tile::threads, 0, stream>>>(args, g);
  return launched();
}
}  // namespace detail

namespace detail {
//! The operand's own checks, shared by the fused GEMMs and the fp32 materialisers.
[[nodiscard]] inline status check_patches(const patch_embed_args& p) noexcept {
  if (p.patch == 0 || p.channels == 0 || p.height % p.patch != 0 || p.width % p.patch != 0) return status::shape_mismatch;
  return p.image == nullptr ? status::invalid_argument : status::ok;
}
[[nodiscard]] inline status check_unfold(const merge_gemm_args& u) noexcept {
  if (u.shape.factor == 0 || u.shape.channels == 0 || u.tokens == nullptr) return status::invalid_argument;
  if (u.layout != merge_layout::channel_major && u.layout != merge_layout::token_major) return status::invalid_argument;
  return status::ok;
}
}  // namespace detail

[[nodiscard]] inline status patch_embed_can_implement(const patch_embed_args& p) noexcept {
  if (const status s = detail::check_patches(p); s != status::ok) return s;
  return gemm_can_implement(detail::logical_gemm(p.base, p.patches(), p.features(), p.image));
}

//! C[patches, n] = act(patchify(image) * W^T + bias) (+ C) on `stream`.
[[nodiscard]] inline status patch_embed_bf16(const patch_embed_args& p, cudaStream_t stream) {
  if (const status s = patch_embed_can_implement(p); s != status::ok) return s;
  return detail::launch_fused_operand(detail::patch_embed_kernel, p, detail::logical_gemm(p.base, p.patches(), p.features(), p.image),
                                      stream);
}

[[nodiscard]] inline status merge_gemm_can_implement(const merge_gemm_args& u) noexcept {
  if (const status s = detail::check_unfold(u); s != status::ok) return s;
  return gemm_can_implement(detail::logical_gemm(u.base, u.shape.out_tokens(), u.shape.out_features(), u.tokens));
}

//! patchify(image) into out [patches, channels * patch^2], fp32, on `stream` (p.base unused).
[[nodiscard]] inline status patchify_f32(const patch_embed_args& p, float* out, cudaStream_t stream) {
  if (const status s = detail::check_patches(p); s != status::ok) return s;
  return detail::materialise(p, detail::patch_at{}, out, p.patches(), p.features(), stream);
}

//! merge_unfold(tokens) into out [merged tokens, features], fp32, on `stream` (u.base unused).
[[nodiscard]] inline status merge_unfold_f32(const merge_gemm_args& u, float* out, cudaStream_t stream) {
  if (const status s = detail::check_unfold(u); s != status::ok) return s;
  return detail::materialise(u, detail::unfold_at{}, out, u.shape.out_tokens(), u.shape.out_features(), stream);
}

//! C[merged tokens, n] = act(merge_unfold(tokens) * W^T + bias) (+ C) on `stream`.
[[nodiscard]] inline status merge_gemm_bf16(const merge_gemm_args& u, cudaStream_t stream) {
  if (const status s = merge_gemm_can_implement(u); s != status::ok) return s;
  return detail::launch_fused_operand(detail::merge_gemm_kernel, u,
                                      detail::logical_gemm(u.base, u.shape.out_tokens(), u.shape.out_features(), u.tokens), stream);
}

}  // namespace cuda
VPRIM_NAMESPACE_END
