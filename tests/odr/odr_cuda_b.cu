// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#include <cstdio>

#include "vprim/vprim.cuh"

vprim::status odr_cuda_from_a();

int main() {
  vprim::cuda::gemm_f32_args g{};
  const bool ok = odr_cuda_from_a() == vprim::status::ok && vprim::cuda::gemm_f32(g, nullptr) == vprim::status::ok;
  std::printf("odr (cuda): %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
