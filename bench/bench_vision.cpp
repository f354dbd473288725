// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The vision path at the released DeepSeek-ViT dimensions:
// - bidirectional attention, 16 heads x 64, N = 2916 (a 756x756 image), one thread;
// - the whole tower + aligner (32 layers, width 1024, SwiGLU 2816, aligner to 4096) on a
//   756x756 image with random weights, 1 and 2 threads, against its FLOP count (steady state:
//   the mean of two images after a warm-up image, one reused workspace);
// - resize planning + letterbox + normalise + patchify of a 4000x3000 image.
#include <cstring>

#include "bench_common.hpp"
#include "vprim/cpu/arch.hpp"
#include "vprim/cpu/attention.hpp"
#include "vprim/cpu/attention_bf16.hpp"
#include "vprim/image/preprocess.hpp"
#include "vprim/model/vision_tower.hpp"
#include "vprim/policy/presets.hpp"

namespace {

constexpr std::size_t grid = 54, tokens = grid * grid;  // 756 / 14

template <bool Bf16>
void BM_attention(benchmark::State& state) {
  const std::size_t heads = 16, d = 64;
  const auto qkv = vprim_bench::random_floats(tokens * 3 * heads * d, 3, 2.0f);
  std::vector<float> out(tokens * heads * d);
  vprim::serial_executor one;
  vprim::cpu::attention_bf16_scratch scratch;  // reused, as the tower reuses it
  vprim::cpu::dispatch_cpu([&](auto arch) {
    const vprim::cpu::attention_args a{tokens, heads, d, qkv.data(), qkv.data() + heads * d, qkv.data() + 2 * heads * d,
                                       3 * heads * d, 3 * heads * d, 3 * heads * d, out.data(), heads * d, 0.125f};
    for (auto _ : state) {
      const auto st = Bf16 ? vprim::cpu::attention_bidirectional_bf16(arch, a, one, scratch) : vprim::cpu::attention_bidirectional(arch, a, one);
      if (st != vprim::status::ok) state.SkipWithError("attention failed");
      benchmark::DoNotOptimize(out.data());
    }
    state.SetLabel(std::string(decltype(arch)::name()) + (Bf16 ? " bf16 operands" : " fp32"));
  });
  vprim_bench::report_flops(state, 4.0 * tokens * tokens * d * heads);
}
BENCHMARK(BM_attention<false>)->Name("BM_attention_fp32")->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
BENCHMARK(BM_attention<true>)->Name("BM_attention_bf16")->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();

double tower_flops(const vprim::tower_config& c, double n) {
  const double D = c.width, I = c.intermediate, m2 = c.merge * c.merge, T = n / m2;
  const double per_layer = 2 * n * (4 * D * D + 3 * D * I) + 4 * n * n * D;
  return 2 * n * 588 * D + c.layers * per_layer + 2 * T * (m2 * D) * c.out_dim + 2 * T * c.out_dim * c.out_dim;
}

void BM_vit_tower_756(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const auto precision = state.range(1) == 16 ? vprim::weight_precision::bfloat16 : vprim::weight_precision::float32;
  const auto& p = vprim::presets::deepseek_vit;
  const vprim::tower_config cfg{vprim::tower_kind::deepseek_vit, 14, 3, 3, p.width, p.heads, p.layers, p.intermediate,
                                p.aligner_out, p.rope_theta, p.norm_eps, precision};
  const auto patches = vprim_bench::random_floats(tokens * 588, 4);
  vprim::thread_pool_executor pool(threads);
  vprim::cpu::dispatch_cpu([&](auto arch) {
    using tower_t = vprim::vision_tower<vprim::presets::deepseek_vit_patch, vprim::presets::deepseek_vit_merge>;
    auto tower = tower_t::load(arch, vprim_bench::random_weights(), cfg, "vit.", "aligner.");
    if (!tower) return state.SkipWithError(tower.err().describe().c_str());
    // Steady state of a stream of images: one workspace, warmed by an untimed first image.
    std::vector<float> features, merged;
    vprim::tower_workspace ws;
    auto image = [&] {
      return tower->encode(arch, patches.data(), grid, grid, features, ws, pool) == vprim::status::ok &&
             tower->merge(arch, features, grid, grid, merged, ws, pool) == vprim::status::ok;
    };
    if (!image()) return state.SkipWithError("tower failed");
    for (auto _ : state) {
      if (!image()) state.SkipWithError("tower failed");
      benchmark::DoNotOptimize(merged.data());
    }
    state.SetLabel(std::string(decltype(arch)::name()) + (precision == vprim::weight_precision::bfloat16 ? " bf16 weights" : " fp32"));
  });
  vprim_bench::report_flops(state, tower_flops(cfg, tokens));
  state.counters["TFLOP_per_image"] = tower_flops(cfg, tokens) / 1e12;
}
BENCHMARK(BM_vit_tower_756)
    ->ArgsProduct({{1, 2}, {32, 16}})
    ->ArgNames({"threads", "weight_bits"})
    ->Unit(benchmark::kSecond)
    ->Iterations(2)
    ->UseRealTime();

void BM_preprocess_4000x3000(benchmark::State& state) {
  vprim::rgb_image img = vprim::rgb_image::filled(4000, 3000, 0);
  for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>((i * 2654435761u) >> 24);
  for (auto _ : state) {
    auto plan = vprim::plan_vision_exp(img.width, img.height);
    auto px = vprim::preprocess_vision_exp(img, *plan);
    auto patches = vprim::patchify(px->chw, 3, px->height, px->width, 14);
    benchmark::DoNotOptimize(patches->data());
  }
  vprim_bench::report_bytes(state, static_cast<double>(img.pixels.size()));
}
BENCHMARK(BM_preprocess_4000x3000)->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
