// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// Links units built with different -m flags and checks they computed the same bits. Built with
// the baseline flags, so that nothing runs AVX-512 code before the CPU is known to have it.
#include <cstdio>
#include <cstring>
#include <vector>

#include <xsimd/xsimd.hpp>

std::vector<float> odr_isa_from_a();
std::vector<float> odr_isa_from_b();

int main() {
  if (!xsimd::available_architectures().avx512bw) {
    std::printf("odr_isa: this CPU has no AVX-512 BW; the units built for it cannot run (SKIPPED)\n");
    return 77;
  }
  const auto a = odr_isa_from_a(), b = odr_isa_from_b();
  const bool same = !a.empty() && a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  std::printf("odr_isa: %zu values from each unit, %s\n", a.size(), same ? "bit-identical" : "DIFFERENT");
  return same ? 0 : 1;
}
