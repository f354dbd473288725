// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file linear.hpp
//! y[rows, n] = x[rows, k] * W^T (+ bias) (+ y) for a weight in any form the CPU GEMMs take:
//! fp32 packed for one arch (gemm.hpp), bf16 packed (gemm_bf16.hpp), FP8 or MXFP4 as shipped
//! (gemm_fp8.hpp, gemm_mxfp4.hpp). One non-owning view and one call, so a caller that holds
//! weights of mixed forms (a checkpoint's Linears, a MoE's experts) needs no switch of its own.
//! A low-bit view may ask for the reference's activation rounding first (act_quant.hpp).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "vprim/core/executor.hpp"
#include "vprim/core/status.hpp"
#include "vprim/core/workspace.hpp"
#include "vprim/cpu/act_quant.hpp"
#include "vprim/cpu/gemm.hpp"
#include "vprim/cpu/gemm_bf16.hpp"
#include "vprim/cpu/gemm_fp8.hpp"
#include "vprim/cpu/gemm_mxfp4.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

//! A Linear's weight in one of the CPU's forms (the first that is set is used: FP8 codes, MXFP4
//! codes, bf16, fp32) and its bias (null: none). It owns nothing.
struct linear_view {
  const packed_weight* f32 = nullptr;
  const packed_weight_bf16* bf16 = nullptr;
  fp8_weight_view fp8{};
  mxfp4_weight_view mxfp4{};
  const float* bias = nullptr;
  //! Low-bit weights only: x rounded per 128 values to e4m3 with an E8M0 scale before the
  //! product, as the reference's Linear does (else x is rounded to bf16, the default).
  bool e4m3_activations = false;

  [[nodiscard]] std::size_t out_features() const noexcept {
    return fp8.codes ? fp8.n : mxfp4.codes ? mxfp4.n : bf16 ? bf16->n : f32 ? f32->n : 0;
  }
  [[nodiscard]] std::size_t in_features() const noexcept {
    return fp8.codes ? fp8.k : mxfp4.codes ? mxfp4.k : bf16 ? bf16->k : f32 ? f32->k : 0;
  }
  [[nodiscard]] bool low_bit() const noexcept { return fp8.codes != nullptr || mxfp4.codes != nullptr; }
  [[nodiscard]] bool rounds_activations_e4m3() const noexcept { return low_bit() && e4m3_activations; }
};

namespace detail {
//! uint16 elements of the GEMM's own operand (A as bf16 in the low-bit kernels' order, or the
//! bf16 GEMM's skinny operand; none for fp32), and fp32 elements of A rounded to e4m3 first.
[[nodiscard]] inline std::size_t operand_elements(const linear_view& w, std::size_t rows) noexcept {
  return w.low_bit() ? gemm_lowbit_scratch(rows, w.in_features()) : w.bf16 ? gemm_bf16_scratch(rows, w.bf16->k) : 0;
}
[[nodiscard]] inline std::size_t rounded_elements(const linear_view& w, std::size_t rows) noexcept {
  return w.rounds_activations_e4m3() ? rows * w.in_features() : 0;
}
}  // namespace detail

//! Bytes of scratch linear() takes from its arena for `rows` rows: the GEMM's operand and, with
//! e4m3 activations, A rounded in fp32 before it.
[[nodiscard]] inline std::size_t linear_scratch_bytes(const linear_view& w, std::size_t rows) noexcept {
  workspace_size size;
  size.add<std::uint16_t>(detail::operand_elements(w, rows));
  size.add<float>(detail::rounded_elements(w, rows));
  return size.bytes;
}

//! y = x * W^T (+ bias) (+ y with accumulate), x [rows, k] and y [rows, n] dense. With an arena
//! (linear_scratch_bytes(w, rows) free) nothing is allocated; without one the low-bit and bf16
//! kernels allocate their operand. A view with no weight is invalid_argument.
template <class Arch, executor Exec>
[[nodiscard]] status linear(Arch arch, const linear_view& w, const float* x, std::size_t rows, float* y, Exec& exec,
                            workspace_arena* ws = nullptr, bool accumulate = false) {
  std::optional<workspace_arena::frame> frame;
  std::uint16_t* scratch = nullptr;
  const std::size_t need = detail::operand_elements(w, rows), rounded_need = detail::rounded_elements(w, rows);
  std::vector<float> owned_rounded;
  float* rounded = nullptr;
  if (ws != nullptr && need + rounded_need > 0) {
    frame.emplace(*ws);
    scratch = need ? ws->take<std::uint16_t>(need) : nullptr;
    rounded = rounded_need ? ws->take<float>(rounded_need) : nullptr;
    if ((need && scratch == nullptr) || (rounded_need && rounded == nullptr)) return status::out_of_memory;
  } else if (rounded_need > 0) {
    owned_rounded.resize(rounded_need);
    rounded = owned_rounded.data();
  }
  if (rounded != nullptr) {  // x as the reference rounds it, dense [rows, k]
    const std::size_t k = w.in_features();
    if (const status s = act_quant(arch, act_quant_args{rows, k, x, k, rounded, k}, exec); s != status::ok) return s;
    x = rounded;
  }
  if (w.fp8.codes) return gemm_fp8(arch, {rows, x, w.fp8.k, w.fp8, w.bias, y, w.fp8.n, accumulate}, exec, scratch);
  if (w.mxfp4.codes) return gemm_mxfp4(arch, {rows, x, w.mxfp4.k, w.mxfp4, w.bias, y, w.mxfp4.n, accumulate}, exec, scratch);
  if (w.bf16) return gemm_bf16(arch, gemm_bf16_args{rows, x, w.bf16->k, w.bf16, w.bias, y, w.bf16->n, accumulate}, exec, scratch);
  if (w.f32) return gemm(arch, gemm_args{rows, x, w.f32->k, w.f32, w.bias, y, w.f32->n, accumulate}, exec);
  return status::invalid_argument;
}

}  // namespace cpu
VPRIM_NAMESPACE_END
