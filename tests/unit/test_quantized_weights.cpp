// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// Block-quantised checkpoint weights (FP8 e4m3 per 128x128 block, MXFP4 per 32 inputs, e8m0
// scales) against the naive quantiser of tests/reference/quant_reference.hpp.
#include <cmath>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "../reference/quant_reference.hpp"
#include "vprim/model/quantized_weights.hpp"

namespace {
std::vector<float> random_matrix(std::size_t n, std::size_t k, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> w(n * k);
  // rows of very different magnitudes, so that blocks get different scales
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) w[i * k + j] = g(rng) * std::ldexp(1.0f, static_cast<int>(i % 7) - 3);
  return w;
}
std::span<const std::byte> bytes_of(const std::vector<std::uint8_t>& v) { return std::as_bytes(std::span(v)); }
vprim::safetensors_file parse(const vprim::safetensors_writer& w) {
  auto f = vprim::safetensors_file::parse(w.serialize());
  REQUIRE(f);
  return std::move(*f);
}
}  // namespace

TEST_CASE("e8m0 scales: powers of two, rounded up, NaN at 0xFF", "[dtype][e8m0]") {
  REQUIRE(vprim::e8m0_bits_to_float(127) == 1.0f);
  REQUIRE(vprim::e8m0_bits_to_float(130) == 8.0f);
  REQUIRE(vprim::e8m0_bits_to_float(120) == std::ldexp(1.0f, -7));
  REQUIRE(vprim::e8m0_bits_to_float(0) == std::ldexp(1.0f, -127));
  REQUIRE(vprim::e8m0_bits_to_float(254) == std::ldexp(1.0f, 127));
  REQUIRE(std::isnan(vprim::e8m0_bits_to_float(255)));
  for (int e = -126; e <= 127; ++e) {
    CAPTURE(e);
    REQUIRE(vprim::float_to_e8m0_bits(std::ldexp(1.0f, e)) == e + 127);
    REQUIRE(vprim::e8m0_bits_to_float(static_cast<std::uint8_t>(e + 127)) == std::ldexp(1.0f, e));
  }
  REQUIRE(vprim::float_to_e8m0_bits(3.0f) == 129);     // up to 4
  REQUIRE(vprim::float_to_e8m0_bits(-3.0f) == 129);    // magnitude
  REQUIRE(vprim::float_to_e8m0_bits(1.0001f) == 128);  // up to 2
  REQUIRE(vprim::float_to_e8m0_bits(0.0f) == 255);
  REQUIRE(vprim::float_to_e8m0_bits(NAN) == 255);
  REQUIRE(vprim::parse_dtype("F8_E8M0") == vprim::dtype::f8_e8m0);
}

TEST_CASE("FP8 weights with 128x128 block scales dequantise exactly as the naive reader", "[weights][fp8]") {
  const std::size_t n = 200, k = 300;  // partial blocks on both edges
  const auto w = random_matrix(n, k, 1);
  const auto q = vprim_ref::fp8_blocks(w, n, k);
  vprim::safetensors_writer out;
  REQUIRE(out.add("m.weight", vprim::dtype::f8_e4m3, {200, 300}, bytes_of(q.values)) == vprim::status::ok);
  REQUIRE(out.add("m.scale", vprim::dtype::f8_e8m0, {2, 3}, bytes_of(q.scales)) == vprim::status::ok);
  const auto f = parse(out);
  const auto src = vprim::dequantized_weights_from(f);
  const auto got = src("m.weight", {200, 300});
  REQUIRE(got);
  REQUIRE(*got == q.dequantized);  // bit for bit
  // within half a step of e4m3: 3 mantissa bits, or the subnormal step 2^-9 of the block scale
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      const float scale = vprim::e8m0_bits_to_float(q.scales[(i / 128) * 3 + j / 128]);
      CAPTURE(i, j, w[i * k + j], (*got)[i * k + j]);
      REQUIRE(std::fabs((*got)[i * k + j] - w[i * k + j]) <= std::fabs(w[i * k + j]) / 16 + std::ldexp(scale, -10));
    }
  // wrong scale grid, named with both tensors
  vprim::safetensors_writer bad;
  REQUIRE(bad.add("m.weight", vprim::dtype::f8_e4m3, {200, 300}, bytes_of(q.values)) == vprim::status::ok);
  REQUIRE(bad.add("m.scale", vprim::dtype::f8_e8m0, {3, 2}, bytes_of(q.scales)) == vprim::status::ok);
  const auto fb = parse(bad);
  const auto e = vprim::dequantized_weights_from(fb)("m.weight", {200, 300});
  REQUIRE_FALSE(e);
  REQUIRE_THAT(e.err().message, Catch::Contains("scale 'm.scale' of 'm.weight' has shape [3,2], expected [2,3]"));
  // a quantised tensor cannot be sliced
  REQUIRE(src(vprim::slice_name("m.weight", 0), {300}).code() == vprim::status::not_supported);
}

TEST_CASE("MXFP4 experts dequantise exactly as the naive reader", "[weights][fp4]") {
  const std::size_t n = 64, k = 96;
  const auto w = random_matrix(n, k, 2);
  const auto q = vprim_ref::mxfp4(w, n, k);
  vprim::safetensors_writer out;
  REQUIRE(out.add("layers.0.ffn.experts.3.w1.weight", vprim::dtype::i8, {64, 48}, bytes_of(q.values)) == vprim::status::ok);
  REQUIRE(out.add("layers.0.ffn.experts.3.w1.scale", vprim::dtype::f8_e8m0, {64, 3}, bytes_of(q.scales)) == vprim::status::ok);
  // a NaN scale (0xFF) must not pass silently
  auto nan_scales = q.scales;
  nan_scales[5] = 0xff;
  REQUIRE(out.add("x.weight", vprim::dtype::i8, {64, 48}, bytes_of(q.values)) == vprim::status::ok);
  REQUIRE(out.add("x.scale", vprim::dtype::f8_e8m0, {64, 3}, bytes_of(nan_scales)) == vprim::status::ok);
  // a plain bf16 tensor next to them reads as stored
  const std::vector<std::uint8_t> one_bf16 = {0x80, 0x3f, 0x00, 0x40};  // 1.0, 2.0
  REQUIRE(out.add("norm.weight", vprim::dtype::bf16, {2}, bytes_of(one_bf16)) == vprim::status::ok);
  const auto f = parse(out);
  const auto src = vprim::dequantized_weights_from(f);
  const auto got = src("layers.0.ffn.experts.3.w1.weight", {64, 96});
  REQUIRE(got);
  REQUIRE(*got == q.dequantized);
  const auto err = src("x.weight", {64, 96});
  REQUIRE(err.code() == vprim::status::non_finite);
  REQUIRE_THAT(err.err().message, Catch::Contains("'x.weight' dequantises to a non-finite value at element 160"));
  REQUIRE(*src("norm.weight", {2}) == std::vector<float>{1.0f, 2.0f});
  const auto wrong = src("layers.0.ffn.experts.3.w1.weight", {64, 80});
  REQUIRE_FALSE(wrong);
  REQUIRE_THAT(wrong.err().message, Catch::Contains("expected [64,40] (two values per byte; 80 inputs must be a multiple of 32)"));
}

TEST_CASE("a low-bit weight's rows are taken on its scale blocks: FP8 on whole 128-row blocks, MXFP4 on any row",
          "[weights][fp8][fp4]") {
  using vprim::quantized_rows;
  const std::size_t n = 300, k = 200;
  const auto w = random_matrix(n, k, 3);
  const auto q8 = vprim_ref::fp8_blocks(w, n, k);
  const vprim::quantized_tensor fp8{vprim::quantized_tensor::format::fp8_block128, n, k, q8.values, q8.scales};
  const auto middle = quantized_rows(fp8, 128, 128);
  REQUIRE(middle);
  CHECK(middle->n == 128);
  CHECK(middle->k == k);
  CHECK(middle->codes == std::vector<std::uint8_t>(q8.values.begin() + 128 * k, q8.values.begin() + 256 * k));
  CHECK(middle->scales == std::vector<std::uint8_t>(q8.scales.begin() + 2, q8.scales.begin() + 4));  // 2 scale columns
  const auto tail = quantized_rows(fp8, 256, 44);  // the last, partial block
  REQUIRE(tail);
  CHECK(tail->codes == std::vector<std::uint8_t>(q8.values.begin() + 256 * k, q8.values.end()));
  CHECK(tail->scales == std::vector<std::uint8_t>(q8.scales.begin() + 4, q8.scales.end()));
  CHECK_FALSE(quantized_rows(fp8, 64, 128));   // would split a scale block
  CHECK_FALSE(quantized_rows(fp8, 128, 100));  // would end inside one
  CHECK_FALSE(quantized_rows(fp8, 256, 45));   // past the last row

  const auto q4 = vprim_ref::mxfp4(random_matrix(40, 96, 4), 40, 96);
  const vprim::quantized_tensor fp4{vprim::quantized_tensor::format::mxfp4, 40, 96, q4.values, q4.scales};
  const auto rows = quantized_rows(fp4, 5, 7);
  REQUIRE(rows);
  CHECK(rows->codes == std::vector<std::uint8_t>(q4.values.begin() + 5 * 48, q4.values.begin() + 12 * 48));
  CHECK(rows->scales == std::vector<std::uint8_t>(q4.scales.begin() + 5 * 3, q4.scales.begin() + 12 * 3));
}
