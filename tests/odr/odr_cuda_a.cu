// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// Two CUDA translation units include every .cuh and launch the same kernels; linking them into
// one program fails if a header defines a kernel (or anything else) with external linkage.
#include "vprim/vprim.cuh"

vprim::status odr_cuda_from_a() {
  vprim::cuda::gemm_f32_args g{};  // m = 0: checks only, no launch, no device needed
  return vprim::cuda::gemm_f32(g, nullptr);
}
