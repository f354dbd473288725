// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#include <cmath>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "../reference/nlayout_reference.hpp"
#include "vprim/image/nlayout.hpp"
#include "vprim/image/preprocess.hpp"
#include "vprim/image/resize_plan.hpp"

namespace {

vprim::rgb_image gradient(int w, int h, unsigned seed) {
  vprim::rgb_image img = vprim::rgb_image::filled(w, h, 0);
  std::mt19937 rng(seed);
  const int phase = static_cast<int>(rng() % 50);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        img.row(y)[3 * x + c] =
            static_cast<std::uint8_t>(127.5 + 120.0 * std::sin((x * (c + 1) + y * 2 + phase) * 0.05));
  return img;
}

// Separable bicubic in double with no fixed point and no 8-bit intermediate: the math the
// fixed-point passes approximate.
std::vector<double> resize_reference(const vprim::rgb_image& src, int ow, int oh) {
  auto taps = [](int in, int out) {
    std::vector<std::vector<std::pair<int, double>>> t(static_cast<std::size_t>(out));
    const double scale = static_cast<double>(in) / out, fs = std::max(scale, 1.0), support = 2.0 * fs;
    for (int o = 0; o < out; ++o) {
      const double center = (o + 0.5) * scale;
      double sum = 0;
      for (int i = std::max(0, static_cast<int>(center - support + 0.5)); i < std::min(in, static_cast<int>(center + support + 0.5)); ++i) {
        double x = std::fabs((i - center + 0.5) / fs), w = 0;
        if (x < 1) w = 1.5 * x * x * x - 2.5 * x * x + 1;
        else if (x < 2) w = -0.5 * x * x * x + 2.5 * x * x - 4 * x + 2;
        t[static_cast<std::size_t>(o)].push_back({i, w});
        sum += w;
      }
      for (auto& p : t[static_cast<std::size_t>(o)]) p.second /= sum;
    }
    return t;
  };
  const auto tx = taps(src.width, ow), ty = taps(src.height, oh);
  std::vector<double> mid(static_cast<std::size_t>(src.height) * static_cast<std::size_t>(ow) * 3);
  for (int y = 0; y < src.height; ++y)
    for (int x = 0; x < ow; ++x)
      for (int c = 0; c < 3; ++c) {
        double s = 0;
        for (auto [i, w] : tx[static_cast<std::size_t>(x)]) s += w * src.row(y)[3 * i + c];
        mid[(static_cast<std::size_t>(y) * static_cast<std::size_t>(ow) + static_cast<std::size_t>(x)) * 3 + static_cast<std::size_t>(c)] = s;
      }
  std::vector<double> out(static_cast<std::size_t>(oh) * static_cast<std::size_t>(ow) * 3);
  for (int y = 0; y < oh; ++y)
    for (std::size_t i = 0; i < static_cast<std::size_t>(ow) * 3; ++i) {
      double s = 0;
      for (auto [r, w] : ty[static_cast<std::size_t>(y)]) s += w * mid[static_cast<std::size_t>(r) * static_cast<std::size_t>(ow) * 3 + i];
      out[static_cast<std::size_t>(y) * static_cast<std::size_t>(ow) * 3 + i] = std::clamp(s, 0.0, 255.0);
    }
  return out;
}

}  // namespace

TEST_CASE("Vision-Exp plans equal the reference load_image rule, edge cases included", "[image][plan]") {
  struct row {
    int w, h, target_w, target_h, n_llm_h, n_llm_w, block;
    bool stretch;
  };
  // Worked out with the reference's rule (load_image -> safe_resize -> solve_resize_ratio) in
  // Python floats; research/visual_primitives.md §2.3's worked examples are among them: the strict clamp at 8:1 and the non-strict stretch (1600x200 is stretched but
  // not clamped), the very tall one-column branch (42 px wide), the very wide two-row branch,
  // the min-pixel upscale's int() truncation around 147456 px, and ordinary photos.
  const row rows[] = {
      {1600, 200, 1610, 210, 5, 39, 242, true},
      {1601, 200, 1610, 210, 5, 39, 242, true},
      {1599, 200, 1610, 210, 5, 39, 242, false},
      {200, 1600, 210, 1610, 39, 5, 242, false},
      {10, 10000, 42, 7896, 188, 1, 378, false},
      {20000, 20, 1092, 140, 4, 26, 110, true},
      {1, 1, 392, 392, 10, 10, 114, false},
      {383, 384, 392, 392, 10, 10, 114, false},
      {384, 383, 392, 392, 10, 10, 114, false},
      {384, 384, 392, 392, 10, 10, 114, false},
      {385, 383, 392, 392, 10, 10, 114, false},
      {383, 385, 392, 392, 10, 10, 114, false},
      {12288, 12, 1092, 140, 4, 26, 110, true},
      {12, 12288, 42, 7896, 188, 1, 378, false},
      {96, 1536, 98, 1540, 37, 3, 154, false},
      {1536, 96, 1092, 140, 4, 26, 110, true},
      {756, 756, 756, 756, 18, 18, 346, false},
      {800, 800, 756, 756, 18, 18, 346, false},
      {4000, 4000, 756, 756, 18, 18, 346, false},
      {1920, 1080, 1036, 588, 14, 25, 366, false},
      {1080, 1920, 560, 1008, 24, 14, 362, false},
      {640, 480, 644, 490, 12, 16, 206, false},
      {480, 640, 490, 644, 16, 12, 210, false},
      {1, 147456, 42, 7896, 188, 1, 378, false},
      {147456, 1, 1092, 140, 4, 26, 110, true},
      {2, 73728, 42, 7896, 188, 1, 378, false},
      {73728, 2, 1092, 140, 4, 26, 110, true},
      {14, 14, 392, 392, 10, 10, 114, false},
      {42, 42, 392, 392, 10, 10, 114, false},
      {3, 5000, 42, 7896, 188, 1, 378, false},
      {5000, 3, 1092, 140, 4, 26, 110, true},
      {1000, 1, 1092, 140, 4, 26, 110, true},
      {1, 1000, 42, 7896, 188, 1, 378, false},
      {100000, 1, 1092, 140, 4, 26, 110, true},
      {1, 100000, 42, 7896, 188, 1, 378, false},
      {65535, 65535, 756, 756, 18, 18, 346, false},
      {3000, 400, 1890, 252, 6, 45, 278, false},
      {400, 3000, 252, 1890, 45, 6, 326, false},
      {1023, 767, 882, 658, 16, 21, 354, false},
      {333, 777, 336, 784, 19, 8, 182, false},
      {2048, 128, 1092, 140, 4, 26, 110, true},
      {128, 2048, 140, 2058, 49, 4, 254, false},
      {4096, 512, 2016, 252, 6, 48, 298, true},
      {512, 4096, 252, 2016, 48, 6, 338, false},
      {7, 9, 350, 448, 11, 9, 122, false},
      {1279, 720, 1036, 588, 14, 25, 366, false},
      {720, 1279, 560, 1008, 24, 14, 362, false},
      {2560, 1440, 1036, 588, 14, 25, 366, false},
      {300, 2400, 252, 2016, 48, 6, 338, false},
      {2400, 300, 2016, 252, 6, 48, 298, true},
      {2401, 300, 2016, 252, 6, 48, 298, true},
      {1, 8, 140, 1092, 26, 4, 134, false},
      {8, 1, 1092, 140, 4, 26, 110, true},
      {9, 1, 1092, 140, 4, 26, 110, true},
      {1, 9, 140, 1162, 28, 4, 142, false},
  };
  STATIC_REQUIRE(std::size(rows) >= 40);
  for (const auto& r : rows) {
    CAPTURE(r.w, r.h);
    auto p = vprim::plan_vision_exp(r.w, r.h);
    REQUIRE(p);
    CHECK(p->target_width == r.target_w);
    CHECK(p->target_height == r.target_h);
    CHECK(p->n_llm_h == r.n_llm_h);
    CHECK(p->n_llm_w == r.n_llm_w);
    CHECK(p->block_tokens == r.block);
    CHECK(p->stretch == r.stretch);
  }
  auto p = vprim::plan_vision_exp(756, 756);  // the paper's chain
  REQUIRE(p->patches() == 2916);
  REQUIRE(p->merged_tokens() == 324);
}

TEST_CASE("Vision-Exp plans are valid for every size, degenerate ones included", "[image][plan]") {
  std::mt19937 rng(7);
  std::vector<std::pair<int, int>> sizes = {{1, 1}, {20000, 20}, {20, 20000}, {1, 100000}, {100000, 1},
                                            {65535, 65535}, {14, 14}, {3, 5000}, {5000, 3}};
  for (int i = 0; i < 3000; ++i) {
    const int w = 1 + static_cast<int>(rng() % 12000), h = 1 + static_cast<int>(rng() % 12000);
    sizes.emplace_back(w, h);
  }
  for (auto [w, h] : sizes) {
    CAPTURE(w, h);
    auto p = vprim::plan_vision_exp(w, h);
    REQUIRE(p);
    REQUIRE(p->block_tokens <= 381);
    REQUIRE(p->target_width % 14 == 0);
    REQUIRE(p->target_height % 14 == 0);
    REQUIRE(p->n_vit_w >= 1);
    REQUIRE(p->n_vit_h >= 1);
    REQUIRE(p->block_tokens == vprim::image_block_tokens(p->n_llm_h, p->n_llm_w));
    REQUIRE(p->stretch == (w >= 8 * h));
  }
  for (auto [w, h] : std::vector<std::pair<int, int>>{{0, 10}, {10, 0}, {-5, 10}, {10, -1}}) {
    auto bad = vprim::plan_vision_exp(w, h);
    REQUIRE_FALSE(bad);
    REQUIRE(bad.code() == vprim::status::invalid_argument);
    REQUIRE_THAT(bad.err().message, Catch::Contains("must be positive"));
  }
  auto tiny_budget = vprim::plan_vision_exp(1000, 1000, vprim::token_budget_policy{.max_tokens = 5, .reserved_pad = 0});
  REQUIRE_FALSE(tiny_budget);
  REQUIRE_THAT(tiny_budget.err().message, Catch::Contains("cannot hold"));
}

TEST_CASE("smart resize keeps 81..384 merged tokens and rejects extreme aspect", "[image][plan]") {
  auto p = vprim::plan_smart_resize(800, 800);
  REQUIRE(p);
  REQUIRE(p->target_height == 798);
  REQUIRE(p->merged_tokens == 361);  // the paper's Figure 1
  REQUIRE(vprim::plan_smart_resize(756, 756)->merged_tokens == 324);
  std::mt19937 rng(3);
  for (int i = 0; i < 3000; ++i) {
    const int h = 1 + static_cast<int>(rng() % 5000), w = 1 + static_cast<int>(rng() % 5000);
    if (std::max(h, w) > 50 * std::min(h, w)) continue;
    CAPTURE(h, w);
    auto q = vprim::plan_smart_resize(h, w);
    REQUIRE(q);
    REQUIRE(q->merged_tokens >= 81);
    REQUIRE(q->merged_tokens <= 384);
    REQUIRE(q->target_height % 42 == 0);
    REQUIRE(q->target_width % 42 == 0);
  }
  auto wide = vprim::plan_smart_resize(10, 2500);
  REQUIRE_FALSE(wide);
  REQUIRE_THAT(wide.err().message, Catch::Contains("aspect ratio"));
  REQUIRE_FALSE(vprim::plan_smart_resize(0, 10));
  REQUIRE(vprim::round_half_even(2.5) == 2.0);
  REQUIRE(vprim::round_half_even(3.5) == 4.0);
  REQUIRE(vprim::round_half_even(-2.5) == -2.0);
  REQUIRE(vprim::round_half_even(2.4) == 2.0);
}

TEST_CASE("N-layout block equals the naive reference for every small grid and start", "[image][nlayout]") {
  for (int h = 1; h <= 21; ++h)
    for (int w = 1; w <= 21; ++w)
      for (std::int64_t start = 0; start < 8; ++start) {
        CAPTURE(h, w, start);
        auto b = vprim::build_image_block(h, w, start);
        REQUIRE(b);
        std::vector<int> ref_types;
        std::vector<std::int64_t> ref_perm;
        vprim_ref::nlayout(h, w, start, ref_types, ref_perm);
        REQUIRE(b->types.size() == ref_types.size());
        for (std::size_t i = 0; i < ref_types.size(); ++i) REQUIRE(static_cast<int>(b->types[i]) == ref_types[i]);
        REQUIRE(b->perm == ref_perm);
        // START lands at 3 mod 4, the body is a multiple of 4, the length agrees with the planner
        REQUIRE((start + b->lead_pad) % 4 == 3);
        REQUIRE(static_cast<std::int64_t>(b->types.size()) == b->lead_pad + vprim::image_block_tokens(h, w));
        REQUIRE((b->types.size() - static_cast<std::size_t>(b->lead_pad) - 2) % 4 == 0);
      }
  REQUIRE_FALSE(vprim::build_image_block(0, 3, 0));
  REQUIRE_FALSE(vprim::build_image_block(3, 3, -1));
}

TEST_CASE("bicubic resize: identity, constants, and the double-precision reference", "[image][resample]") {
  for (auto flavor : {vprim::resample_flavor::pil, vprim::resample_flavor::torch}) {
    const auto img = gradient(37, 23, 1);
    REQUIRE(vprim::resize_bicubic(img, 37, 23, flavor)->pixels == img.pixels);
    const auto flat = vprim::rgb_image::filled(19, 11, 200);
    auto up = vprim::resize_bicubic(flat, 53, 29, flavor);
    REQUIRE(up);
    for (auto v : up->pixels) REQUIRE(v == 200);
    // every pass rounds once, so the fixed-point result is within 2 levels of the exact math
    for (auto [ow, oh] : std::vector<std::pair<int, int>>{{13, 7}, {100, 61}, {37, 5}, {1, 1}, {74, 46}, {20, 60}}) {
      CAPTURE(ow, oh, static_cast<int>(flavor));
      auto got = vprim::resize_bicubic(img, ow, oh, flavor);
      REQUIRE(got);
      const auto ref = resize_reference(img, ow, oh);
      REQUIRE(got->pixels.size() == ref.size());
      double worst = 0;
      for (std::size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::fabs(got->pixels[i] - ref[i]));
      REQUIRE(worst <= 2.0);
    }
  }
  REQUIRE_FALSE(vprim::resize_bicubic(vprim::rgb_image{}, 4, 4));
  REQUIRE_FALSE(vprim::resize_bicubic(gradient(4, 4, 2), 0, 4));
}

TEST_CASE("letterbox centres the fitted image and fills the rest", "[image][letterbox]") {
  const auto img = gradient(30, 10, 5);  // 3:1 into a square: bands above and below
  auto out = vprim::letterbox(img, 42, 42, 127);
  REQUIRE(out);
  // fitted height round(10/30*42) = 14, placed at y = round((42-14)/2) = 14
  for (int y = 0; y < 42; ++y) {
    const bool band = y < 14 || y >= 28;
    if (band)
      for (int i = 0; i < 42 * 3; ++i) REQUIRE(out->row(y)[i] == 127);
  }
  const auto fitted = vprim::resize_bicubic(img, 42, 14);
  for (int y = 0; y < 14; ++y)
    for (int i = 0; i < 42 * 3; ++i) REQUIRE(out->row(14 + y)[i] == fitted->row(y)[i]);
  // ties round to even: 5 px of slack puts the image at x = round(2.5) = 2
  auto tall = vprim::letterbox(gradient(10, 20, 6), 15, 20, 0);
  REQUIRE(tall);
  for (int y = 0; y < 20; ++y) {
    REQUIRE(tall->row(y)[0] == 0);
    REQUIRE(tall->row(y)[3 * 1 + 2] == 0);
  }
}

TEST_CASE("normalise and patchify follow the channel-major patch layout", "[image][patchify]") {
  const auto img = gradient(28, 42, 9);
  const auto chw = vprim::normalize_chw(img, vprim::deepseek_pixel_stats);
  for (std::size_t i = 0; i < chw.size(); ++i) REQUIRE(chw[i] >= -1.0f);
  REQUIRE(chw[0] == (img.pixels[0] / 255.0f - 0.5f) / 0.5f);
  REQUIRE(chw[28 * 42] == (img.pixels[1] / 255.0f - 0.5f) / 0.5f);  // plane 1 starts with G of pixel 0
  auto patches = vprim::patchify(chw, 3, 42, 28, 14);
  REQUIRE(patches);
  REQUIRE(patches->size() == 6u * 588u);
  for (int p = 0; p < 6; ++p)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 14; ++y)
        for (int x = 0; x < 14; ++x) {
          const int gy = p / 2, gx = p % 2;
          const float want = chw[static_cast<std::size_t>(c * 42 * 28 + (gy * 14 + y) * 28 + gx * 14 + x)];
          REQUIRE((*patches)[static_cast<std::size_t>(p * 588 + c * 196 + y * 14 + x)] == want);
        }
  auto bad = vprim::patchify(chw, 3, 42, 28, 5);
  REQUIRE(bad.code() == vprim::status::shape_mismatch);
  auto nan_pixels = chw;
  nan_pixels[2 * 42 * 28 + 30 * 28 + 7] = NAN;
  auto nf = vprim::patchify(nan_pixels, 3, 42, 28, 14);
  REQUIRE(nf.code() == vprim::status::non_finite);
  REQUIRE_THAT(nf.err().message, Catch::Contains("channel 2, row 30, column 7"));
}

TEST_CASE("merge-window order lists every patch once, window by window", "[image][patchify]") {
  const auto order = vprim::merge_window_order(6, 9, 3);
  REQUIRE(order.size() == 54);
  REQUIRE(order[0] == 0);
  REQUIRE(order[1] == 1);
  REQUIRE(order[3] == 9);   // second row of the first window
  REQUIRE(order[9] == 3);   // first patch of the second window
  std::vector<int> seen(54, 0);
  for (auto i : order) seen[static_cast<std::size_t>(i)]++;
  for (int s : seen) REQUIRE(s == 1);
  REQUIRE(vprim::merge_window_order(5, 9, 3).empty());
}
