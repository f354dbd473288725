// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The vision tower's loading contract: every bad checkpoint is refused with an error that names
// the tensor; static policies are checked against the checkpoint; static and dynamic policies
// compute the same thing. (Numerical agreement with the peers is the golden checker's job.)
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "checkpoint_edit.hpp"
#include "vprim/cpu/arch.hpp"
#include "vprim/image/preprocess.hpp"
#include "vprim/model/vision_tower.hpp"

namespace {

const std::string data_dir = VPRIM_TEST_DATA_DIR;

vprim::safetensors_file open_dsvit() {
  auto f = vprim::safetensors_file::open(data_dir + "/dsvit_public.safetensors");
  REQUIRE(f);
  return std::move(*f);
}

vprim::tower_config dsvit_config(const vprim::safetensors_file& f) {
  auto j = vprim::parse_json(*f.meta("config"));
  REQUIRE(j);
  auto cfg = vprim::tower_config_from_json(*j, vprim::tower_kind::deepseek_vit);
  REQUIRE(cfg);
  return *cfg;
}

using vprim_test::rewrite;

template <class Tower = vprim::vision_tower<>>
auto load(const vprim::safetensors_file& f, const vprim::tower_config& cfg) {
  return vprim::cpu::dispatch_cpu([&](auto arch) { return Tower::load(arch, f, cfg, "weight.vit.", "weight.aligner."); });
}

}  // namespace

TEST_CASE("a missing weight is named", "[model][tower]") {
  const auto f = open_dsvit();
  const auto bad = rewrite(f, [](const std::string& n, auto&, auto&) { return n != "weight.vit.blocks.1.mlp.w2.weight"; });
  auto t = load(bad, dsvit_config(f));
  REQUIRE_FALSE(t);
  REQUIRE(t.code() == vprim::status::not_found);
  REQUIRE_THAT(t.err().message, Catch::Contains("weight.vit.blocks.1.mlp.w2.weight"));
}

TEST_CASE("a weight of the wrong shape is named with both shapes", "[model][tower]") {
  const auto f = open_dsvit();
  const auto bad = rewrite(f, [](const std::string& n, auto& shape, auto& bytes) {
    if (n == "weight.aligner.w1.weight") {
      shape = {64, 575};
      bytes.resize(64 * 575 * 4);
    }
    return true;
  });
  auto t = load(bad, dsvit_config(f));
  REQUIRE_FALSE(t);
  REQUIRE(t.code() == vprim::status::shape_mismatch);
  REQUIRE_THAT(t.err().message, Catch::Contains("'weight.aligner.w1.weight' has shape [64,575], expected [64,576]"));
  REQUIRE(t.err().offset != vprim::error::no_offset);
}

TEST_CASE("a non-finite weight is reported with its element", "[model][tower]") {
  const auto f = open_dsvit();
  const auto bad = rewrite(f, [](const std::string& n, auto&, auto& bytes) {
    if (n == "weight.vit.norm.weight") {
      const float nan = NAN;
      std::memcpy(bytes.data() + 5 * sizeof(float), &nan, sizeof nan);
    }
    return true;
  });
  auto t = load(bad, dsvit_config(f));
  REQUIRE_FALSE(t);
  REQUIRE(t.code() == vprim::status::non_finite);
  REQUIRE_THAT(t.err().message, Catch::Contains("'weight.vit.norm.weight' has a non-finite value at element 5"));
}

TEST_CASE("static policies are checked against the checkpoint", "[model][tower][policy]") {
  const auto f = open_dsvit();
  const auto cfg = dsvit_config(f);
  auto wrong_patch = load<vprim::vision_tower<vprim::patch_policy{16, 3}>>(f, cfg);
  REQUIRE_FALSE(wrong_patch);
  REQUIRE_THAT(wrong_patch.err().message, Catch::Contains("patch size 14 does not match the policy's 16"));
  auto wrong_layout = load<vprim::vision_tower<vprim::presets::deepseek_vit_patch, vprim::presets::qwen2_vl_merge>>(f, cfg);
  REQUIRE_FALSE(wrong_layout);
  REQUIRE_THAT(wrong_layout.err().message, Catch::Contains("merge layout"));

  // the released policies (static) and fully dynamic ones give bit-identical results
  using released = vprim::vision_tower<vprim::presets::deepseek_vit_patch, vprim::presets::deepseek_vit_merge>;
  auto pix = f.to_f32("pixels_chw");
  auto patches = vprim::patchify(*pix, 3, 140, 182, 14);
  REQUIRE(patches);
  vprim::serial_executor exec;
  std::vector<float> out_static, out_dynamic;
  vprim::cpu::dispatch_cpu([&](auto arch) {
    auto a = released::load(arch, f, cfg, "weight.vit.", "weight.aligner.");
    auto b = vprim::vision_tower<>::load(arch, f, cfg, "weight.vit.", "weight.aligner.");
    REQUIRE(a);
    REQUIRE(b);
    std::vector<float> fa, fb;
    REQUIRE(a->encode(arch, patches->data(), 10, 13, fa, exec) == vprim::status::ok);
    REQUIRE(b->encode(arch, patches->data(), 10, 13, fb, exec) == vprim::status::ok);
    REQUIRE(a->merge(arch, fa, 10, 13, out_static, exec) == vprim::status::ok);
    REQUIRE(b->merge(arch, fb, 10, 13, out_dynamic, exec) == vprim::status::ok);
    // a zero-size grid and mismatched features are refused
    std::vector<float> none;
    REQUIRE(a->encode(arch, patches->data(), 0, 13, none, exec) == vprim::status::invalid_argument);
    REQUIRE(a->merge(arch, fa, 10, 12, none, exec) == vprim::status::shape_mismatch);
  });
  REQUIRE(out_static.size() == 20u * 64u);
  REQUIRE(out_static == out_dynamic);
}

TEST_CASE("tower configs: missing fields and unsupported activations", "[model][tower]") {
  auto j = vprim::parse_json(R"({"vision_dim": 64, "vision_n_heads": 4})");
  auto cfg = vprim::tower_config_from_json(*j, vprim::tower_kind::deepseek_vit);
  REQUIRE_FALSE(cfg);
  REQUIRE_THAT(cfg.err().message, Catch::Contains("vision_inter_dim, vision_n_layers"));
  auto q = vprim::parse_json(R"({"embed_dim":64,"num_heads":4,"depth":1,"mlp_ratio":4,"patch_size":14,
      "spatial_merge_size":2,"in_channels":3,"hidden_size":64,"hidden_act":"gelu_pytorch_tanh"})");
  auto qc = vprim::tower_config_from_json(*q, vprim::tower_kind::qwen2_vl);
  REQUIRE(qc.code() == vprim::status::not_supported);
  auto zero_heads = vprim::parse_json(R"({"vision_dim":64,"vision_n_heads":0,"vision_inter_dim":96,"vision_n_layers":2,
      "vision_patch_size":14,"vision_rope_theta":10000.0,"vision_downsample_ratio":3,"hidden_size":64})");
  REQUIRE_FALSE(vprim::tower_config_from_json(*zero_heads, vprim::tower_kind::deepseek_vit));
}

TEST_CASE("a workspace reused across images of other sizes changes no result", "[model][tower]") {
  const auto f = open_dsvit();
  auto cfg = dsvit_config(f);
  auto pix = f.to_f32("pixels_chw");
  auto patches = vprim::patchify(*pix, 3, 140, 182, 14);
  REQUIRE(patches);
  vprim::thread_pool_executor exec(2);
  for (auto precision : {vprim::weight_precision::float32, vprim::weight_precision::bfloat16}) {
    cfg.precision = precision;
    vprim::cpu::dispatch_cpu([&](auto arch) {
      auto tower = vprim::vision_tower<>::load(arch, f, cfg, "weight.vit.", "weight.aligner.");
      REQUIRE(tower);
      vprim::tower_workspace shared;
      // large, small, large again: the small image runs in buffers left full by the large one
      for (auto [gh, gw] : {std::pair{10, 13}, {7, 9}, {10, 13}}) {
        CAPTURE(gh, gw, static_cast<int>(precision));
        std::vector<float> fresh_f, fresh_m, reused_f, reused_m;
        REQUIRE(tower->encode(arch, patches->data(), gh, gw, fresh_f, exec) == vprim::status::ok);
        REQUIRE(tower->merge(arch, fresh_f, gh, gw, fresh_m, exec) == vprim::status::ok);
        REQUIRE(tower->encode(arch, patches->data(), gh, gw, reused_f, shared, exec) == vprim::status::ok);
        REQUIRE(tower->merge(arch, reused_f, gh, gw, reused_m, shared, exec) == vprim::status::ok);
        REQUIRE(reused_m == fresh_m);
      }
    });
  }
}
