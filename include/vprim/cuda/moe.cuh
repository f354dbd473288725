// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file moe.cuh
//! The routed experts of a MoE layer on the GPU, given the router's choice (indices, weights):
//!   y[t] (+)= sum_k weights[t, k] * down_e(swiglu_clamped(gate_up_e(x[t]))), e = indices[t, k]
//! as the CPU moe_layer::apply computes it (the shared expert is a plain GEMM chain on top).
//! Steps: moe_permute (CUB sort by expert), one grouped GEMM for every expert's [gate | up]
//! with the token gather fused into its loads, SwiGLU with the clamp (the activations rounded to
//! bf16 when the experts are), one grouped GEMM for every expert's down projection, then the
//! weighted combine. Experts in bf16 (tensor cores) or fp32 (the golden path).

#include <cuda_bf16.h>

#include "vprim/cuda/activation.cuh"
#include "vprim/cuda/gemm.cuh"
#include "vprim/cuda/moe_permute.cuh"
#include "vprim/kernels/moe.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

//! The contract's arguments (kernels/moe.hpp) with the experts stacked as the checkpoints store
//! them: gate_up [experts, 2 * inter, dim], down [experts, dim, inter], both in T.
template <class T>
using basic_moe_experts_args = kernels::basic_moe_experts_args<T, const T*>;
using moe_experts_args = basic_moe_experts_args<__nv_bfloat16>;
using moe_experts_f32_args = basic_moe_experts_args<float>;

//! The contract's checks, and grid limits: more than 65535 experts is not_supported.
template <class T>
[[nodiscard]] status moe_experts_can_implement(const basic_moe_experts_args<T>& a) noexcept {
  if (const status s = kernels::moe_experts_can_implement(a); s != status::ok || a.tokens == 0) return s;
  return a.experts > 65535u ? status::not_supported : status::ok;
}

namespace detail {
template <class T>
VPRIM_KERNEL void moe_combine_kernel(basic_moe_experts_args<T> a, const float* slot_out) {
  const std::size_t t = blockIdx.x;
  for (std::size_t d = threadIdx.x; d < a.dim; d += blockDim.x) {
    float s = 0.0f;
    for (std::size_t k = 0; k < a.top_k; ++k) s += a.weights[t * a.top_k + k] * slot_out[(t * a.top_k + k) * a.dim + d];
    a.y[t * a.dim + d] = a.accumulate ? a.y[t * a.dim + d] + s : s;
  }
}
}  // namespace detail

//! The routed experts on `stream`, two-phase workspace (see launch.cuh). The workspace's first
//! 8 bytes are moe_permute's bad-id flag.
template <class T>
[[nodiscard]] status moe_experts(const basic_moe_experts_args<T>& a, workspace& ws, cudaStream_t stream) {
  constexpr bool bf16 = std::is_same_v<T, __nv_bfloat16>;
  if (a.tokens * a.top_k > 0x7fffffffu) return status::not_supported;  // sizes first: the query needs only them
  const std::size_t slots = a.tokens * a.top_k;
  // moe_permute's own workspace comes first, so that its flag is the first 8 bytes.
  workspace permute_ws;
  moe_permute_args permute{a.indices, nullptr, nullptr, slots, a.experts};
  if (const status s = moe_permute(permute, permute_ws, stream); s != status::ok) return s;  // size query
  detail::carve c(ws);
  void* permute_at = c.take_bytes(permute_ws.bytes);
  auto* order = c.take<std::int32_t>(slots);
  auto* offsets = c.take<std::int32_t>(a.experts + 1);
  auto* hidden = c.take<float>(slots * 2 * a.inter);
  auto* act = c.take<float>(slots * a.inter);
  auto* act_bf16 = bf16 ? c.take<__nv_bfloat16>(slots * a.inter) : nullptr;
  auto* slot_out = c.take<float>(slots * a.dim);
  permute.order = order;
  permute.offsets = offsets;
  if (c.query()) {
    ws.bytes = c.need();
    return status::ok;
  }
  if (!c.fits()) return status::invalid_argument;
  if (const status s = moe_experts_can_implement(a); s != status::ok || a.tokens == 0) return s;
  permute_ws.ptr = permute_at;
  if (const status s = moe_permute(permute, permute_ws, stream); s != status::ok) return s;
  // A slot with a bad expert id belongs to no expert: it must add zero, not stale memory.
  if (cudaError_t e = cudaMemsetAsync(slot_out, 0, slots * a.dim * sizeof(float), stream); e != cudaSuccess) return to_status(e);
  basic_grouped_gemm_args<T> up{};
  up.base = basic_gemm_args<T>{0, 2 * a.inter, a.dim, a.x, a.dim, a.gate_up, a.dim, nullptr, hidden, 2 * a.inter};
  up.order = order;
  up.offsets = offsets;
  up.experts = a.experts;
  up.top_k = a.top_k;
  up.max_rows = a.tokens;
  up.a_by_token = true;
  if (const status s = grouped_gemm(up, stream); s != status::ok) return s;
  if (const status s = swiglu({hidden, hidden + a.inter, 2 * a.inter, act, slots, a.inter, a.limit}, stream); s != status::ok)
    return s;
  const T* down_in = nullptr;
  if constexpr (bf16) {
    if (const status s = to_bf16(act, act_bf16, slots * a.inter, stream); s != status::ok) return s;
    down_in = act_bf16;
  } else {
    down_in = act;
  }
  basic_grouped_gemm_args<T> down = up;
  down.base = basic_gemm_args<T>{0, a.dim, a.inter, down_in, a.inter, a.down, a.inter, nullptr, slot_out, a.dim};
  down.a_by_token = false;
  if (const status s = grouped_gemm(down, stream); s != status::ok) return s;
  detail::moe_combine_kernel<<<static_cast<unsigned>(a.tokens), 256, 0, stream>>>(a, slot_out);
  return detail::launched();
}

}  // namespace cuda
VPRIM_NAMESPACE_END
