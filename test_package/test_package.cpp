// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#include <cstdio>

#include <vprim/vprim.hpp>

int main() {
  constexpr auto p = vprim::presets::deepseek_vit_patch;
  static_assert(vprim::patch_policy_value<p>);
  const vprim::bf16 x(3.0f);
  std::printf("vprim %d.%d.%d: patch %d, bf16(3)=%g\n", VPRIM_VERSION_MAJOR, VPRIM_VERSION_MINOR, VPRIM_VERSION_PATCH,
              p.size, static_cast<double>(x.to_float()));
  return x.to_float() == 3.0f ? 0 : 1;
}
