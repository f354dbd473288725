// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "vprim/policy.hpp"

namespace {

// A template constrained the way kernels are: only valid patch policies are accepted.
template <vprim::patch_policy P>
  requires vprim::patch_policy_value<P>
constexpr int patch_area() {
  if constexpr (vprim::is_dynamic(P.size)) return -1;
  else return P.size * P.size * P.channels;
}

template <auto P>
concept accepted = requires { patch_area<P>(); };

}  // namespace

TEST_CASE("policies are structural NTTPs checked by concepts", "[policy]") {
  static_assert(patch_area<vprim::presets::deepseek_vit_patch>() == 588);
  static_assert(patch_area<vprim::patch_policy{.size = vprim::dynamic, .channels = 3}>() == -1);
  static_assert(accepted<vprim::patch_policy{14, 3}>);
  static_assert(!accepted<vprim::patch_policy{0, 3}>);
  static_assert(!accepted<vprim::patch_policy{14, -5}>);
  static_assert(!vprim::merge_policy_value<vprim::patch_policy{14, 3}>);  // wrong policy type
  static_assert(vprim::merge_policy_value<vprim::merge_policy{.factor = vprim::dynamic, .layout = vprim::dynamic}>);
  static_assert(vprim::expert_policy_value<vprim::presets::v4_flash_experts>);
  static_assert(!vprim::expert_policy_value<vprim::expert_policy{.routed = 4, .top_k = 6}>);
  static_assert(vprim::expert_policy_value<vprim::expert_policy{.routed = vprim::dynamic, .top_k = 6}>);
  static_assert(!vprim::compression_policy_value<vprim::compression_policy{4, vprim::toggle::on, vprim::toggle::on, 0}>);
  static_assert(vprim::compression_policy_value<vprim::presets::v4_flash_hca>);
  static_assert(!vprim::token_budget_policy_value<vprim::token_budget_policy{.min_tokens = 400, .max_tokens = 384}>);
  REQUIRE(patch_area<vprim::patch_policy{16, 1}>() == 256);
}

TEST_CASE("valid() and fully_static() at run time", "[policy]") {
  using namespace vprim;
  REQUIRE(valid(presets::deepseek_vit_merge));
  REQUIRE(valid(presets::qwen2_vl_merge));
  REQUIRE_FALSE(valid(merge_policy{.factor = 0}));
  REQUIRE_FALSE(valid(merge_policy{.factor = 3, .layout = static_cast<merge_layout>(7)}));
  REQUIRE_FALSE(valid(expert_policy{.routed = 8, .top_k = 9}));
  REQUIRE_FALSE(valid(expert_policy{.routed_scale = -2.0f}));
  REQUIRE(valid(expert_policy{.routed_scale = dynamic}));
  REQUIRE(fully_static(presets::v4_flash_experts));
  REQUIRE_FALSE(fully_static(expert_policy{.scoring = dynamic}));
  REQUIRE_FALSE(fully_static(compression_policy{.overlap = dynamic}));
  REQUIRE(is_dynamic(compression_policy{.overlap = dynamic}.overlap));
  REQUIRE(presets::v4_flash.hidden == 4096);
  REQUIRE(presets::v4_flash.heads * presets::v4_flash.head_dim == 32768);
  REQUIRE(presets::deepseek_vit.width / presets::deepseek_vit.heads == 64);
}

TEST_CASE("dispatcher reaches the static value or says not_supported", "[policy][dispatch]") {
  int seen = 0;
  for (int r : vprim::supported_ratios::values) {
    const auto s = vprim::dispatch<vprim::supported_ratios>(r, [&](auto ratio) {
      static_assert(decltype(ratio)::value > 0);
      seen = ratio();
      return vprim::status::ok;
    });
    REQUIRE(s == vprim::status::ok);
    REQUIRE(seen == r);
  }
  for (int bad : {0, 3, 5, 129, 256, -1})
    REQUIRE(vprim::dispatch<vprim::supported_ratios>(bad, [](auto) {}) == vprim::status::not_supported);
  REQUIRE(vprim::supported_expert_topk::values.size() == 8);
  REQUIRE(vprim::dispatch<vprim::supported_expert_topk>(9, [](auto) {}) == vprim::status::not_supported);
  // the callee's own status is propagated
  REQUIRE(vprim::dispatch<vprim::supported_head_dims>(64, [](auto) { return vprim::status::shape_mismatch; }) ==
          vprim::status::shape_mismatch);
  REQUIRE(vprim::supported_head_dims::contains(512));
  REQUIRE_FALSE(vprim::supported_head_dims::contains(100));
}
