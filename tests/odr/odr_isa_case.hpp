// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// The bf16 GEMM and attention on fixed inputs, through dispatch_cpu: included by two
// translation units built with different -m flags (odr_isa_a.cpp without AVX512-BF16,
// odr_isa_b.cpp with it). The kernels' fast paths are chosen by the arch tag, so both units
// hold the same definitions and must compute the same bits.
#include <cmath>
#include <vector>

#include "vprim/cpu/arch.hpp"
#include "vprim/cpu/attention_bf16.hpp"
#include "vprim/cpu/gemm_bf16.hpp"

namespace odr_isa {

inline std::vector<float> run_kernels() {
  constexpr std::size_t M = 5, N = 40, K = 70, T = 19, H = 2, D = 64;
  std::vector<float> a(M * K), w(N * K), q(T * H * D), out(M * N + T * H * D);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::sin(0.37f * static_cast<float>(i));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::cos(0.11f * static_cast<float>(i));
  for (std::size_t i = 0; i < q.size(); ++i) q[i] = std::sin(0.05f * static_cast<float>(i) + 1.0f);
  vprim::serial_executor exec;
  auto packed = vprim::cpu::pack_weight_bf16(w.data(), N, K, K);
  if (!packed) return {};
  const vprim::cpu::gemm_bf16_args g{M, a.data(), K, &*packed, nullptr, out.data(), N, false};
  const vprim::cpu::attention_args at{T,     H,     D,     q.data(), q.data(), q.data(), H * D, H * D, H * D,
                                      out.data() + M * N, H * D, 1.0f / 8.0f};
  const bool ok = vprim::cpu::dispatch_cpu([&](auto arch) {
    return vprim::cpu::gemm_bf16(arch, g, exec) == vprim::status::ok &&
           vprim::cpu::attention_bidirectional_bf16(arch, at, exec) == vprim::status::ok;
  });
  return ok ? out : std::vector<float>{};
}

}  // namespace odr_isa
