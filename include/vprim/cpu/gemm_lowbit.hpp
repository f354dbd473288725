// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file gemm_lowbit.hpp
//! What the GEMMs on low-bit weights as shipped (gemm_mxfp4.hpp, gemm_fp8.hpp) share: A rounded
//! to bf16 once per call (as bf16 bits for the AVX512-BF16 path, as fp32 for the fallback), the
//! rows of W split across the executor's threads, and the epilogue that writes one row of W's
//! sums into C with the bias, or adds them to C.

#include <cstddef>
#include <cstdint>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "vprim/core/dtype.hpp"
#include "vprim/core/executor.hpp"
#include "vprim/core/status.hpp"
#include "vprim/cpu/gemm_bf16.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu::detail {

//! A's rows rounded to bf16 and back to fp32 (the fallback's operand), row stride k.
inline void round_rows_bf16(const float* a, std::size_t lda, std::size_t m, std::size_t k, float* out) {
  for (std::size_t r = 0; r < m; ++r)
    for (std::size_t j = 0; j < k; ++j) out[r * k + j] = bf16_bits_to_float(float_to_bf16_bits(a[r * lda + j]));
}

//! C[r, n] = sums[r] + bias[n], or C[r, n] += that, for every row r of A.
template <class Args>
inline void store_column(const Args& g, std::size_t n, const float* sums) noexcept {
  for (std::size_t r = 0; r < g.m; ++r) {
    float& c = g.c[r * g.ldc + n];
    const float v = sums[r] + (g.bias ? g.bias[n] : 0.0f);
    c = g.accumulate ? c + v : v;
  }
}

//! Runs one low-bit GEMM over W's n rows: with AVX512-BF16 (for this Arch and CPU),
//! rows_bf16(abf, n0, n1, sums) on A as bf16 bits [m, kp] (kp >= k, zero past k); otherwise
//! rows_fp32(ab, n0, n1, sums) on A rounded through bf16 [m, k]. `sums` has m floats per thread.
template <class Arch, class Args, class RowsBf16, class RowsFp32, executor Exec>
[[nodiscard]] status run_lowbit_gemm(const Args& g, std::size_t n, std::size_t k, std::size_t kp, RowsBf16&& rows_bf16,
                                     RowsFp32&& rows_fp32, Exec& exec) {
  auto split = [&](auto&& rows, const auto* operand) {
    exec.parallel_for(static_cast<std::int64_t>(n), [&](std::int64_t n0, std::int64_t n1) {
      std::vector<float> sums(g.m);
      rows(operand, static_cast<std::size_t>(n0), static_cast<std::size_t>(n1), sums.data());
    });
  };
#if VPRIM_X86_BF16_KERNELS
  if (bf16_kernels_for<Arch> && cpu_has_avx512bf16()) {
    std::vector<std::uint16_t, xsimd::aligned_allocator<std::uint16_t, 64>> abf(g.m * kp);
    convert_rows_bf16(g.a, g.lda, g.m, k, kp, abf.data());
    split(rows_bf16, abf.data());
    return status::ok;
  }
#else
  (void)kp;
  (void)rows_bf16;
#endif
  std::vector<float, xsimd::aligned_allocator<float, 64>> ab(g.m * k);
  round_rows_bf16(g.a, g.lda, g.m, k, ab.data());
  split(rows_fp32, ab.data());
  return status::ok;
}

}  // namespace cpu::detail
VPRIM_NAMESPACE_END
