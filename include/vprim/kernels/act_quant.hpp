// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file act_quant.hpp
//! Contract of the reference's activation rounding before low-bit products (`act_quant`,
//! research/deepseek_v4.md "Official reference numerics"): each row of activations, in blocks of
//! 128 values, quantised to e4m3 under one E8M0 scale by the KV entries' rule (amax floored at
//! 1e-4, the power of two at or above amax / 448). vprim keeps the result as fp32 values, code
//! times scale: exact, and exact again in bf16, so the low-bit GEMMs take them unchanged and
//! every product is then e4m3 x e4m3 (FP8) or e4m3 x e2m1 (MXFP4) as in the reference.

#include <cstddef>

#include "vprim/core/config.hpp"
#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

//! Values of a row that share one scale (a ragged last block of a row has its own).
inline constexpr std::size_t act_quant_block = 128;

template <class T>
struct basic_act_quant_args {
  std::size_t rows = 0, k = 0;
  const T* x = nullptr;  //!< [rows, k], row stride ldx
  std::size_t ldx = 0;
  T* out = nullptr;      //!< [rows, k], row stride ldo; may be x itself
  std::size_t ldo = 0;
};

//! Errors: a missing pointer (invalid_argument); a stride shorter than a row (shape_mismatch).
template <class T>
[[nodiscard]] constexpr status act_quant_can_implement(const basic_act_quant_args<T>& a) noexcept {
  if (a.rows == 0 || a.k == 0) return status::ok;
  if (a.x == nullptr || a.out == nullptr) return status::invalid_argument;
  if (a.ldx < a.k || a.ldo < a.k) return status::shape_mismatch;
  return status::ok;
}

}  // namespace kernels
VPRIM_NAMESPACE_END
