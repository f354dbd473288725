// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// A downstream program: uses vprim's policies, views and safetensors writer/reader.
#include <cstdio>
#include <vector>

#include <vprim/vprim.hpp>

int main() {
  static_assert(vprim::patch_policy_value<vprim::presets::deepseek_vit_patch>);
  std::vector<float> w = {1.0f, 2.0f, 3.0f, 4.0f};
  vprim::safetensors_writer out;
  if (out.add<float>("w", {2, 2}, w) != vprim::status::ok) return 1;
  auto in = vprim::safetensors_file::parse(out.serialize());
  if (!in) return 1;
  auto v = in->view<float, 2>("w");
  if (!v || (*v)(1, 0) != 3.0f) return 1;
  std::printf("vprim %d consumer ok\n", VPRIM_VERSION);
  return 0;
}
