// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file rope.cuh
//! The two rotary embeddings on the GPU, in place.
//!
//! DeepSeek-ViT's 2D RoPE, the contract of cpu::apply_rope_2d: token t of a
//! row-major grid (row t / grid_w, column t % grid_w); in each head of size d the pair
//! (i, i + d/2) turns by row * f_i for i < d/4 and by column * f_{i - d/4} otherwise, with
//! f_k = theta^(-2k / (d/2)). Angles are computed in double, as the CPU tables are, so both
//! backends rotate by the same fp32-rounded cosines and sines.

#include <cstdint>

#include "vprim/cuda/launch.cuh"
#include "vprim/kernels/rope.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

using kernels::rope_2d_args;
using kernels::rope_2d_can_implement;

namespace detail {
VPRIM_KERNEL void rope_2d_kernel(rope_2d_args a) {
  const std::size_t t = blockIdx.x, half = a.head_dim / 2, quarter = a.head_dim / 4;
  float* row = a.x + t * a.stride;
  for (std::size_t e = threadIdx.x; e < a.heads * half; e += blockDim.x) {
    const std::size_t h = e / half, i = e % half;
    const double pos = i < quarter ? static_cast<double>(t / a.grid_w) : static_cast<double>(t % a.grid_w);
    const double f = pow(a.theta, -2.0 * static_cast<double>(i % quarter) / static_cast<double>(half));
    double s = 0.0, c = 0.0;
    sincos(pos * f, &s, &c);
    const auto cf = static_cast<float>(c), sf = static_cast<float>(s);
    float* head = row + h * a.head_dim;
    const float x0 = head[i], x1 = head[i + half];
    head[i] = x0 * cf - x1 * sf;
    head[i + half] = x1 * cf + x0 * sf;
  }
}
}  // namespace detail

//! Rotates in place on `stream`.
[[nodiscard]] inline status rope_2d(const rope_2d_args& a, cudaStream_t stream) {
  if (const status s = rope_2d_can_implement(a); s != status::ok || a.tokens == 0 || a.heads == 0) return s;
  detail::rope_2d_kernel<<<static_cast<unsigned>(a.tokens), 128, 0, stream>>>(a);
  return detail::launched();
}

using kernels::rope_partial_args;
using kernels::rope_partial_can_implement;

namespace detail {
VPRIM_KERNEL void rope_partial_kernel(rope_partial_args a) {
  const std::size_t t = blockIdx.x, nope = a.head_dim - 2 * a.rope_half;
  const auto pos = static_cast<float>(static_cast<double>(a.pos[t]));
  float* row = a.x + t * a.stride;
  for (std::size_t e = threadIdx.x; e < a.heads * a.rope_half; e += blockDim.x) {
    const std::size_t h = e / a.rope_half, i = e % a.rope_half;
    const float angle = pos * a.inv_freq[i];
    const float c = cosf(angle), s = a.inverse ? -sinf(angle) : sinf(angle);
    float* pair = row + h * a.head_dim + nope + 2 * i;
    const float x0 = pair[0], x1 = pair[1];
    pair[0] = x0 * c - x1 * s;
    pair[1] = x1 * c + x0 * s;
  }
}
}  // namespace detail

[[nodiscard]] inline status rope_partial(const rope_partial_args& a, cudaStream_t stream) {
  if (const status s = rope_partial_can_implement(a); s != status::ok || a.tokens == 0 || a.heads == 0 || a.rope_half == 0)
    return s;
  detail::rope_partial_kernel<<<static_cast<unsigned>(a.tokens), 128, 0, stream>>>(a);
  return detail::launched();
}

}  // namespace cuda
VPRIM_NAMESPACE_END
