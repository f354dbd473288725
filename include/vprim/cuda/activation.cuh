// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file activation.cuh
//! SwiGLU on the GPU, the contract of cpu::swiglu_clamped: out[r, i] = silu(min(g, limit)) *
//! clamp(u, -limit, limit) for gate and up rows of stride ld; no clamping when limit is +inf.

#include <algorithm>
#include <cmath>

#include "vprim/cuda/launch.cuh"
#include "vprim/kernels/activation.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

using kernels::swiglu_args;
using kernels::swiglu_can_implement;

namespace detail {
VPRIM_KERNEL void swiglu_kernel(swiglu_args a) {
  const bool clamp = !isinf(a.limit);
  const std::size_t n = a.rows * a.width;
  for (std::size_t e = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::size_t r = e / a.width, i = e % a.width;
    float g = a.gate[r * a.ld + i], u = a.up[r * a.ld + i];
    if (clamp) {
      g = fminf(g, a.limit);
      u = fminf(fmaxf(u, -a.limit), a.limit);
    }
    a.out[e] = g / (1.0f + expf(-g)) * u;
  }
}
}  // namespace detail

[[nodiscard]] inline status swiglu(const swiglu_args& a, cudaStream_t stream) {
  if (const status s = swiglu_can_implement(a); s != status::ok || a.rows == 0 || a.width == 0) return s;
  const auto blocks = static_cast<unsigned>(std::min<std::size_t>(ceil_div(a.rows * a.width, 256), 65535));
  detail::swiglu_kernel<<<blocks, 256, 0, stream>>>(a);
  return detail::launched();
}

}  // namespace cuda
VPRIM_NAMESPACE_END
