// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file attention.hpp
//! Contract of bidirectional multi-head attention (the vision towers): O = softmax(scale Q K^T) V
//! per head, the same arguments for the CPU (cpu/attention.hpp, attention_bf16.hpp) and the GPU
//! (cuda/attention.cuh, attention_flash.cuh).

#include <cstddef>

#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

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

}  // namespace kernels
VPRIM_NAMESPACE_END
