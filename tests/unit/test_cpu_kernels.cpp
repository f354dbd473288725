// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// Every CPU kernel against its naive reference, over odd sizes. This file is compiled once per
// SIMD arch (VPRIM_TEST_ARCH, with that arch's compiler flags); on a CPU without the arch the
// cases report a warning and check nothing.
#include <random>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "../reference/compare.hpp"
#include "../reference/dtype_reference.hpp"
#include "../reference/kernels_reference.hpp"
#include "../reference/quant_reference.hpp"
#include "../reference/test_inputs.hpp"
#include "vprim/cpu/act_quant.hpp"
#include "vprim/cpu/activation.hpp"
#include "vprim/cpu/attention.hpp"
#include "vprim/cpu/attention_bf16.hpp"
#include "vprim/cpu/gemm.hpp"
#include "vprim/cpu/gemm_bf16.hpp"
#include "vprim/cpu/gemm_fp8.hpp"
#include "vprim/cpu/gemm_mxfp4.hpp"
#include "vprim/cpu/linear.hpp"
#include "vprim/cpu/norm.hpp"
#include "vprim/cpu/rope.hpp"
#include "vprim/cpu/unfold.hpp"

#ifndef VPRIM_TEST_ARCH
#error "define VPRIM_TEST_ARCH, e.g. xsimd::avx2"
#endif

namespace {

using arch = VPRIM_TEST_ARCH;
constexpr double eps32 = 1.1920929e-7;

using vprim_ref::random_vector;
using vprim_ref::round_bf16;

bool usable() {
  if (vprim::cpu::arch_usable<arch>()) return true;
  WARN("SIMD arch " << arch::name() << " is not available on this CPU: nothing checked");
  return false;
}

}  // namespace

TEST_CASE("gemm equals the naive product for odd shapes, with bias and accumulation", "[cpu][gemm]") {
  if (!usable()) return;
  vprim::thread_pool_executor pool(2);
  unsigned seed = 1;
  for (std::size_t m : {1u, 7u, 13u, 100u})
    for (std::size_t n : {1u, 7u, 33u, 100u})
      for (std::size_t k : {1u, 13u, 100u, 600u})
        for (int mode = 0; mode < 3; ++mode) {  // 0: plain, 1: bias, 2: bias + accumulate
          CAPTURE(m, n, k, mode, arch::name());
          const auto a = random_vector(m * k, seed++), w = random_vector(n * k, seed++), b = random_vector(n, seed++);
          auto c0 = random_vector(m * n, seed++);
          auto packed = vprim::cpu::pack_weight(arch{}, w.data(), n, k, k);
          REQUIRE(packed);
          std::vector<float> c = c0;
          vprim::cpu::gemm_args g{m, a.data(), k, &*packed, mode ? b.data() : nullptr, c.data(), n, mode == 2};
          REQUIRE(vprim::cpu::gemm(arch{}, g, pool) == vprim::status::ok);
          std::vector<double> ref, mag;
          vprim_ref::gemm_nt(a, w, mode ? b.data() : nullptr, m, n, k, ref, mag);
          if (mode == 2)
            for (std::size_t i = 0; i < ref.size(); ++i) {
              ref[i] += c0[i];
              mag[i] += std::fabs(c0[i]);
            }
          const double bound = 4.0 * eps32 * std::sqrt(static_cast<double>(k) + 1.0);
          vprim_ref::require_close("gemm", c, ref, [&](std::size_t i) { return bound * mag[i] + 1e-30; });
        }
  // a weight packed for another register width is refused
  auto packed = vprim::cpu::pack_weight(arch{}, std::vector<float>(8, 1.0f).data(), 2, 4, 4);
  vprim::cpu::packed_weight wrong{packed->n, packed->k, packed->nr + 1, {}};
  std::vector<float> a(4), c(2);
  vprim::cpu::gemm_args bad{1, a.data(), 4, &wrong, nullptr, c.data(), 2, false};
  REQUIRE(vprim::cpu::gemm(arch{}, bad, pool) == vprim::status::invalid_argument);
  vprim::cpu::gemm_args short_lda{1, a.data(), 3, &*packed, nullptr, c.data(), 2, false};
  REQUIRE(vprim::cpu::gemm(arch{}, short_lda, pool) == vprim::status::shape_mismatch);
}

TEST_CASE("bf16 gemm equals the product of bf16-rounded inputs, accumulated in fp32", "[cpu][gemm][bf16]") {
  if (!usable()) return;
  vprim::thread_pool_executor pool(2);
  INFO("AVX512-BF16 kernels for this arch: " << vprim::cpu::detail::bf16_kernels_for<arch>
                                             << ", CPU has it: " << vprim::cpu::cpu_has_bf16_kernels());
  unsigned seed = 100;
  // The 4-, 8- and 12-row tiles and their edges; the streaming path up to 24 rows, blocked past.
  for (std::size_t m : {1u, 4u, 5u, 7u, 8u, 13u, 24u, 25u, 100u})
    for (std::size_t n : {1u, 33u, 100u})
      for (std::size_t k : {1u, 2u, 13u, 600u, 1100u})
        for (int mode = 0; mode < 3; ++mode) {
          CAPTURE(m, n, k, mode, arch::name());
          const auto a = random_vector(m * k, seed++), w = random_vector(n * k, seed++), b = random_vector(n, seed++);
          const auto c0 = random_vector(m * n, seed++);
          auto packed = vprim::cpu::pack_weight_bf16(w.data(), n, k, k);
          REQUIRE(packed);
          std::vector<float> c = c0;
          const vprim::cpu::gemm_bf16_args g{m, a.data(), k, &*packed, mode ? b.data() : nullptr, c.data(), n, mode == 2};
          REQUIRE(vprim::cpu::gemm_bf16(arch{}, g, pool) == vprim::status::ok);
          std::vector<double> ref, mag;
          vprim_ref::gemm_nt(round_bf16(a), round_bf16(w), mode ? b.data() : nullptr, m, n, k, ref, mag);
          if (mode == 2)
            for (std::size_t i = 0; i < ref.size(); ++i) {
              ref[i] += c0[i];
              mag[i] += std::fabs(c0[i]);
            }
          const double bound = 4.0 * eps32 * std::sqrt(static_cast<double>(k) + 1.0);
          vprim_ref::require_close("gemm_bf16", c, ref, [&](std::size_t i) { return bound * mag[i] + 1e-30; });
        }
  vprim::cpu::gemm_bf16_args missing{1, nullptr, 1, nullptr, nullptr, nullptr, 1, false};
  REQUIRE(vprim::cpu::gemm_bf16(arch{}, missing, pool) == vprim::status::invalid_argument);
}

namespace {

//! A low-bit GEMM against the naive product of bf16(A) and its weights widened in double: for
//! skinny rows (decode, a MoE expert's few tokens) and more, plain, with a
//! bias, and accumulating with a bias, for each M, N and K given. `make(n, k)` draws the weights and returns their value
//! at (row j, column x); `run(m, a, lda, bias, c, ldc, accumulate)` runs the kernel.
template <class Make, class Run>
void check_lowbit_gemm(std::mt19937& rng, std::initializer_list<std::size_t> ms, std::initializer_list<std::size_t> ns,
                       std::initializer_list<std::size_t> ks, Make&& make, Run&& run) {
  for (std::size_t m : ms)
    for (std::size_t n : ns)
      for (std::size_t k : ks)
        for (int mode = 0; mode < 3; ++mode) {
          CAPTURE(m, n, k, mode);
          const auto weight = make(n, k);
          const std::size_t lda = k + 3, ldc = n + 2;
          const auto a = random_vector(m * lda, static_cast<unsigned>(rng()), -2.0f, 2.0f);
          const auto bias = random_vector(n, static_cast<unsigned>(rng()), -1.0f, 1.0f);
          auto c = random_vector(m * ldc, static_cast<unsigned>(rng()), -1.0f, 1.0f);
          const auto c0 = c;
          REQUIRE(run(m, a.data(), lda, mode > 0 ? bias.data() : nullptr, c.data(), ldc, mode == 2) == vprim::status::ok);
          for (std::size_t r = 0; r < m; ++r)
            for (std::size_t j = 0; j < n; ++j) {
              double sum = 0.0, mag = 0.0;
              for (std::size_t x = 0; x < k; ++x) {
                const double p = static_cast<double>(vprim::bf16_bits_to_float(vprim::float_to_bf16_bits(a[r * lda + x]))) * weight(j, x);
                sum += p;
                mag += std::fabs(p);
              }
              if (mode > 0) sum += bias[j];
              if (mode == 2) sum += c0[r * ldc + j];
              CAPTURE(r, j);
              // fp32 sums of exact products: error within k fp32 roundings of the magnitudes.
              REQUIRE(std::fabs(c[r * ldc + j] - sum) <= 4.0 * eps32 * (static_cast<double>(k) * mag / 32.0 + mag + std::fabs(sum)) + 1e-30);
            }
          for (std::size_t r = 0; r < m; ++r)  // the stride padding is untouched
            for (std::size_t j = n; j < ldc; ++j) REQUIRE(c[r * ldc + j] == c0[r * ldc + j]);
        }
}

}  // namespace

TEST_CASE("MXFP4 gemm (weights as the release ships them) equals the dequantise-first product", "[cpu][gemm][mxfp4]") {
  if (!usable()) return;
  vprim::thread_pool_executor pool(2);
  INFO("AVX512-BF16 kernels for this arch: " << vprim::cpu::detail::bf16_kernels_for<arch>
                                             << ", CPU has it: " << vprim::cpu::cpu_has_bf16_kernels());
  static const double e2m1[16] = {0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6};
  std::mt19937 rng(77);
  std::vector<std::uint8_t> codes, scales;
  std::size_t n = 0, k = 0;
  bool smallest_scales = true;
  const auto make = [&](std::size_t n_, std::size_t k_) {
    n = n_, k = k_;
    codes.assign(n * k / 2, 0);
    scales.assign(n * k / 32, 0);
    for (auto& c : codes) c = static_cast<std::uint8_t>(rng());
    for (auto& s : scales)  // 2^-7 .. 2^4, and a few of the smallest (2^-127 is E8M0's subnormal)
      s = static_cast<std::uint8_t>(smallest_scales && rng() % 16 == 0 ? rng() % 3 : 120 + rng() % 12);
    return [&](std::size_t j, std::size_t x) {
      const std::uint8_t byte = codes[j * (k / 2) + x / 2];
      return e2m1[x % 2 == 0 ? byte & 15u : byte >> 4] * std::ldexp(1.0, scales[j * (k / 32) + x / 32] - 127);
    };
  };
  const auto run = [&](std::size_t m, const float* a, std::size_t lda, const float* bias, float* c, std::size_t ldc, bool accumulate) {
    return vprim::cpu::gemm_mxfp4(arch{}, {m, a, lda, {codes.data(), scales.data(), n, k}, bias, c, ldc, accumulate}, pool);
  };
  // Ragged N; K of 1..64 blocks (a group of four ragged by 1 and 3); scales down to 2^-127.
  check_lowbit_gemm(rng, {1u, 3u, 8u, 9u, 24u, 37u}, {1u, 17u, 64u}, {32u, 96u, 160u, 2048u}, make, run);
  // From 32 rows on, with every scale within the panels' exact range, the panel path: row tiles
  // and row blocks with ragged ends, ragged 32-column panels and column blocks, 1 and 4 K blocks.
  smallest_scales = false;
  check_lowbit_gemm(rng, {32u, 37u, 100u}, {17u, 300u}, {160u, 2048u}, make, run);
  // Refusals: K not whole blocks, a missing operand, short strides.
  std::vector<float> a(33), c(1);
  codes.assign(16, 0);
  scales.assign(1, 0);
  vprim::cpu::gemm_mxfp4_args bad{1, a.data(), 33, {codes.data(), scales.data(), 1, 33}, nullptr, c.data(), 1, false};
  REQUIRE(vprim::cpu::gemm_mxfp4(arch{}, bad, pool) == vprim::status::shape_mismatch);
  bad.w.k = 32;
  bad.w.scales = nullptr;
  REQUIRE(vprim::cpu::gemm_mxfp4(arch{}, bad, pool) == vprim::status::invalid_argument);
  bad.w.scales = scales.data();
  bad.lda = 31;
  REQUIRE(vprim::cpu::gemm_mxfp4(arch{}, bad, pool) == vprim::status::shape_mismatch);
  bad.lda = 32;
  REQUIRE(vprim::cpu::gemm_mxfp4(arch{}, bad, pool) == vprim::status::ok);
}

TEST_CASE("FP8 gemm (128x128 block scales, as the release ships its Linears) equals the dequantise-first product",
          "[cpu][gemm][fp8]") {
  if (!usable()) return;
  vprim::thread_pool_executor pool(2);
  INFO("AVX512-BF16 kernels for this arch: " << vprim::cpu::detail::bf16_kernels_for<arch>
                                             << ", CPU has it: " << vprim::cpu::cpu_has_bf16_kernels());
  // e4m3 by the naive reference (dtype_reference.hpp), independently of vprim's decoders.
  auto e4m3 = [](std::uint8_t c) { return ((c & 0x80u) ? -1.0 : 1.0) * vprim_ref::decode(vprim_ref::e4m3_fmt, c & 0x7Fu); };
  std::mt19937 rng(78);
  std::vector<std::uint8_t> codes, scales;
  std::size_t n = 0, k = 0, kb = 0;
  std::uint8_t lowest_scale = 118;
  const auto make = [&](std::size_t n_, std::size_t k_) {
    n = n_, k = k_, kb = (k + 127) / 128;
    codes.assign(n * k, 0);
    scales.assign(((n + 127) / 128) * kb, 0);
    for (auto& c : codes) {
      c = static_cast<std::uint8_t>(rng());
      if ((c & 0x7Fu) == 0x7Fu) c = 0x01;  // no NaN codes: the release holds none
    }
    for (auto& s : scales) s = static_cast<std::uint8_t>(118 + rng() % 14);  // 2^-9 .. 2^4
    scales[0] = std::min(scales[0], lowest_scale);
    return [&](std::size_t j, std::size_t x) { return e4m3(codes[j * k + x]) * std::ldexp(1.0, scales[(j / 128) * kb + x / 128] - 127); };
  };
  const auto run = [&](std::size_t m, const float* a, std::size_t lda, const float* bias, float* c, std::size_t ldc, bool accumulate) {
    return vprim::cpu::gemm_fp8(arch{}, {m, a, lda, {codes.data(), scales.data(), n, k}, bias, c, ldc, accumulate}, pool);
  };
  // N across a 128-row block; K of a partial block, and ragged (from 32 rows on, the panel path
  // where K is a multiple of 4, the grouped kernel at K = 102).
  check_lowbit_gemm(rng, {1u, 3u, 8u, 9u, 24u, 37u}, {1u, 17u, 130u}, {32u, 100u, 102u, 200u, 300u}, make, run);
  // Panels: row blocks, column blocks and three K blocks; then a scale of 2^-120, outside the
  // panels' exact range, sends the same shapes to the grouped kernel.
  check_lowbit_gemm(rng, {32u, 100u}, {130u, 300u}, {1100u}, make, run);
  lowest_scale = 7;
  check_lowbit_gemm(rng, {37u}, {130u}, {1100u}, make, run);
  std::vector<float> a(32), c(1);
  codes.assign(32, 0);
  scales.assign(1, 0);
  vprim::cpu::gemm_fp8_args bad{1, a.data(), 32, {codes.data(), nullptr, 1, 32}, nullptr, c.data(), 1, false};
  REQUIRE(vprim::cpu::gemm_fp8(arch{}, bad, pool) == vprim::status::invalid_argument);
  bad.w.scales = scales.data();
  bad.lda = 31;
  REQUIRE(vprim::cpu::gemm_fp8(arch{}, bad, pool) == vprim::status::shape_mismatch);
  bad.lda = 32;
  REQUIRE(vprim::cpu::gemm_fp8(arch{}, bad, pool) == vprim::status::ok);

  // e4m3's NaN codes (the release holds none) read as +-480 on every path: one row and 32 rows
  // (the panel path), each row of W one code 128 times, A all ones, scale 2^-7: C = 128 x
  // 480 x 2^-7 = +-480.
  for (const std::size_t m : {1u, 32u}) {
    CAPTURE(m);
    const std::vector<std::uint8_t> nan_codes = [] {
      std::vector<std::uint8_t> v(2 * 128, 0x7F);
      std::fill(v.begin() + 128, v.end(), std::uint8_t{0xFF});
      return v;
    }();
    const std::vector<std::uint8_t> nan_scales(1, 120);
    const std::vector<float> ones(m * 128, 1.0f);
    std::vector<float> out(m * 2, 0.0f);
    REQUIRE(vprim::cpu::gemm_fp8(arch{}, {m, ones.data(), 128, {nan_codes.data(), nan_scales.data(), 2, 128}, nullptr, out.data(), 2, false},
                                 pool) == vprim::status::ok);
    for (std::size_t r = 0; r < m; ++r) {
      CHECK(out[2 * r] == 480.0f);
      CHECK(out[2 * r + 1] == -480.0f);
    }
  }
}

TEST_CASE("a low-bit GEMM's row does not depend on how many rows the call has (below the panel path)", "[cpu][gemm][mxfp4][fp8]") {
  if (!usable()) return;
  // 24 rows of K = 4128 do not fit in L1, so the grouped kernel walks W K block by K block; one
  // row at a time it reads W front to back (three rows too; four walk K blocks again). Every
  // way must give every row the same bits.
  vprim::thread_pool_executor pool(2);
  std::mt19937 rng(79);
  constexpr std::size_t m = 24, n = 70, k = 4128;
  const auto a = random_vector(m * k, 5u, -2.0f, 2.0f);
  std::vector<std::uint8_t> codes(n * k), scales(n * k);
  for (auto& c : codes) c = static_cast<std::uint8_t>(rng() % 0x7Fu);  // no NaN codes
  for (auto& s : scales) s = static_cast<std::uint8_t>(120 + rng() % 8);
  for (bool fp8 : {false, true}) {
    CAPTURE(fp8);
    const auto run = [&](std::size_t rows, const float* x, float* c) {
      return fp8 ? vprim::cpu::gemm_fp8(arch{}, {rows, x, k, {codes.data(), scales.data(), n, k}, nullptr, c, n, false}, pool)
                 : vprim::cpu::gemm_mxfp4(arch{}, {rows, x, k, {codes.data(), scales.data(), n, k}, nullptr, c, n, false}, pool);
    };
    std::vector<float> all(m * n);
    REQUIRE(run(m, a.data(), all.data()) == vprim::status::ok);
    for (std::size_t at_once : {1u, 3u, 4u, 5u}) {
      CAPTURE(at_once);
      std::vector<float> split(m * n);
      for (std::size_t r = 0; r < m; r += at_once)
        REQUIRE(run(std::min<std::size_t>(at_once, m - r), a.data() + r * k, split.data() + r * n) == vprim::status::ok);
      REQUIRE(all == split);
    }
  }
}

TEST_CASE("act_quant rounds each 128 values of a row to e4m3 under the reference's E8M0 scale", "[cpu][act_quant]") {
  if (!usable()) return;
  vprim::thread_pool_executor pool(2);
  std::mt19937 rng(80);
  for (std::size_t k : {1u, 5u, 128u, 130u, 300u, 1024u}) {
    CAPTURE(k, arch::name());
    const std::size_t rows = 4, ldx = k + 3, ldo = k + 1;
    std::vector<float> x(rows * ldx);
    // Magnitudes over 2^-40 .. 2^40 (values far below a block's largest become e4m3 subnormals
    // or zero); row 1 all zero (the amax floor); row 2 below the floor; row 3 one huge value.
    for (auto& v : x) v = std::ldexp(std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng), static_cast<int>(rng() % 81) - 40);
    std::fill_n(x.begin() + ldx, k, 0.0f);
    for (std::size_t j = 0; j < k; ++j) x[2 * ldx + j] = std::ldexp(x[2 * ldx + j], -60);
    x[3 * ldx + k / 2] = 3e30f;
    // Row 0 (scale 1 where it holds 448): exact ties, normal and subnormal, go to the even code.
    const float ties[] = {448.0f, 1.0625f, 1.1875f, -1.0625f, 232.0f, std::ldexp(1.0f, -10), std::ldexp(3.0f, -10),
                          std::ldexp(-5.0f, -10), std::ldexp(15.0f, -10), 0.0f, -0.0f, std::ldexp(1.0f, -6)};
    std::copy_n(ties, std::min<std::size_t>(k, std::size(ties)), x.begin());
    std::vector<float> out(rows * ldo, 7.0f);
    REQUIRE(vprim::cpu::act_quant(arch{}, {rows, k, x.data(), ldx, out.data(), ldo}, pool) == vprim::status::ok);
    for (std::size_t r = 0; r < rows; ++r) {
      const auto ref = vprim_ref::act_quant_row(x.data() + r * ldx, k);
      for (std::size_t j = 0; j < k; ++j) {
        CAPTURE(r, j, x[r * ldx + j]);
        REQUIRE(out[r * ldo + j] == ref[j]);
      }
      REQUIRE(out[r * ldo + k] == 7.0f);  // the stride padding is untouched
    }
    auto in_place = x;  // out may be x itself
    REQUIRE(vprim::cpu::act_quant(arch{}, {rows, k, in_place.data(), ldx, in_place.data(), ldx}, pool) == vprim::status::ok);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t j = 0; j < k; ++j) REQUIRE(in_place[r * ldx + j] == out[r * ldo + j]);
  }
  std::vector<float> v(8);
  REQUIRE(vprim::cpu::act_quant(arch{}, {1, 8, nullptr, 8, v.data(), 8}, pool) == vprim::status::invalid_argument);
  REQUIRE(vprim::cpu::act_quant(arch{}, {1, 8, v.data(), 7, v.data(), 8}, pool) == vprim::status::shape_mismatch);
  REQUIRE(vprim::cpu::act_quant(arch{}, {0, 8, nullptr, 0, nullptr, 0}, pool) == vprim::status::ok);
}

TEST_CASE("a low-bit Linear with e4m3 activations is the product of act_quant(x), with or without an arena",
          "[cpu][linear][act_quant]") {
  if (!usable()) return;
  vprim::thread_pool_executor pool(2);
  std::mt19937 rng(81);
  constexpr std::size_t n = 70, k = 320;
  std::vector<std::uint8_t> codes(n * k), scales(n * k);
  for (auto& c : codes) c = static_cast<std::uint8_t>(rng() % 0x7Fu);  // no NaN codes
  for (auto& s : scales) s = static_cast<std::uint8_t>(120 + rng() % 8);
  for (bool fp8 : {false, true})
    for (std::size_t rows : {1u, 5u, 33u}) {  // 33: the panel path
      CAPTURE(fp8, rows, arch::name());
      vprim::cpu::linear_view w;
      if (fp8)
        w.fp8 = {codes.data(), scales.data(), n, k};
      else
        w.mxfp4 = {codes.data(), scales.data(), n, k};
      const auto x = random_vector(rows * k, 9u, -3.0f, 3.0f);
      std::vector<float> rounded(rows * k), expected(rows * n), bf16_activations(rows * n), direct(rows * n), arena(rows * n);
      REQUIRE(vprim::cpu::act_quant(arch{}, {rows, k, x.data(), k, rounded.data(), k}, pool) == vprim::status::ok);
      REQUIRE(vprim::cpu::linear(arch{}, w, rounded.data(), rows, expected.data(), pool) == vprim::status::ok);
      REQUIRE(vprim::cpu::linear(arch{}, w, x.data(), rows, bf16_activations.data(), pool) == vprim::status::ok);
      w.e4m3_activations = true;
      REQUIRE(vprim::cpu::linear(arch{}, w, x.data(), rows, direct.data(), pool) == vprim::status::ok);
      REQUIRE(direct == expected);
      REQUIRE(direct != bf16_activations);  // the switch changed the numbers
      const std::size_t bytes = vprim::cpu::linear_scratch_bytes(w, rows);
      vprim::workspace_memory memory(bytes);
      vprim::workspace_arena ws(memory);
      REQUIRE(vprim::cpu::linear(arch{}, w, x.data(), rows, arena.data(), pool, &ws) == vprim::status::ok);
      REQUIRE(arena == expected);
      vprim::workspace_arena short_ws(std::span<std::byte>(memory.data(), bytes - 64));
      REQUIRE(vprim::cpu::linear(arch{}, w, x.data(), rows, arena.data(), pool, &short_ws) == vprim::status::out_of_memory);
    }
}

TEST_CASE("rmsnorm and layernorm equal their definitions", "[cpu][norm]") {
  if (!usable()) return;
  vprim::serial_executor serial;
  for (std::size_t dim : {1u, 7u, 64u, 100u, 1024u}) {
    CAPTURE(dim, arch::name());
    const std::size_t rows = 5;
    const auto x = random_vector(rows * dim, 11, -3.0f, 3.0f), w = random_vector(dim, 12), b = random_vector(dim, 13);
    std::vector<float> out(x.size());
    vprim::cpu::rmsnorm(arch{}, x.data(), out.data(), w.data(), rows, dim, 1e-6f, serial);
    vprim_ref::require_close("rmsnorm", out, vprim_ref::rmsnorm(x, w, rows, dim, 1e-6), [](std::size_t) { return 2e-6; });
    vprim::cpu::rmsnorm(arch{}, x.data(), out.data(), nullptr, rows, dim, 1e-6f, serial);
    vprim_ref::require_close("rmsnorm unweighted", out, vprim_ref::rmsnorm(x, {}, rows, dim, 1e-6),
                             [](std::size_t) { return 2e-6; });
    vprim::cpu::layernorm(arch{}, x.data(), out.data(), w.data(), b.data(), rows, dim, 1e-6f, serial);
    vprim_ref::require_close("layernorm", out, vprim_ref::layernorm(x, w, b, rows, dim, 1e-6),
                             [](std::size_t) { return 4e-6; });
    auto inplace = x;  // in place is allowed
    vprim::cpu::rmsnorm(arch{}, inplace.data(), inplace.data(), w.data(), rows, dim, 1e-6f, serial);
    vprim_ref::require_close("rmsnorm in place", inplace, vprim_ref::rmsnorm(x, w, rows, dim, 1e-6),
                             [](std::size_t) { return 2e-6; });
  }
}

TEST_CASE("2D RoPE rotates row and column halves", "[cpu][rope]") {
  if (!usable()) return;
  vprim::serial_executor serial;
  for (std::size_t d : {4u, 16u, 20u, 64u})
    for (auto [gh, gw] : std::vector<std::pair<std::size_t, std::size_t>>{{1, 1}, {3, 7}, {10, 13}}) {
      CAPTURE(d, gh, gw, arch::name());
      const std::size_t heads = 3, tokens = gh * gw;
      auto x = random_vector(tokens * heads * d, 21);
      const auto ref = vprim_ref::rope_2d(x, gh, gw, heads, d, 10000.0);
      auto table = vprim::cpu::make_rope_2d(gh, gw, d, 10000.0);
      REQUIRE(table);
      vprim::cpu::apply_rope_2d(arch{}, x.data(), tokens, heads, heads * d, *table, serial);
      // angles reach 12 radians in fp32: a few ulp of the angle
      vprim_ref::require_close("rope", x, ref, [](std::size_t) { return 5e-6; });
    }
  REQUIRE_FALSE(vprim::cpu::make_rope_2d(2, 2, 6, 1e4));
}

TEST_CASE("flash attention equals softmax(QK^T)V for odd sizes", "[cpu][attention]") {
  if (!usable()) return;
  vprim::thread_pool_executor pool(2);
  for (std::size_t tokens : {1u, 7u, 65u, 130u})
    for (std::size_t heads : {1u, 3u})
      for (std::size_t d : {16u, 20u, 64u}) {
        CAPTURE(tokens, heads, d, arch::name());
        const auto q = random_vector(tokens * heads * d, 31, -2.0f, 2.0f), k = random_vector(tokens * heads * d, 32, -2.0f, 2.0f),
                   v = random_vector(tokens * heads * d, 33);
        std::vector<float> o(q.size());
        const float scale = 1.0f / std::sqrt(static_cast<float>(d));
        vprim::cpu::attention_args args{tokens, heads, d, q.data(), k.data(), v.data(), heads * d, heads * d, heads * d,
                                        o.data(), heads * d, scale};
        REQUIRE(vprim::cpu::attention_bidirectional(arch{}, args, pool) == vprim::status::ok);
        vprim_ref::require_close("attention", o, vprim_ref::attention(q, k, v, tokens, heads, d, scale),
                                 [](std::size_t) { return 3e-6; });
      }
  vprim::cpu::attention_args bad{4, 2, 8, nullptr, nullptr, nullptr, 16, 16, 16, nullptr, 16, 1.0f};
  REQUIRE(vprim::cpu::attention_bidirectional(arch{}, bad, pool) == vprim::status::invalid_argument);
}

TEST_CASE("bf16 attention equals softmax(QK^T)V of bf16-rounded operands", "[cpu][attention][bf16]") {
  if (!usable()) return;
  vprim::thread_pool_executor pool(2);
  // One scratch for every call, largest first and poisoned with NaN: a reused scratch keeps the
  // last call's values in its padding, which the kernel must never let into a result.
  vprim::cpu::attention_bf16_scratch scratch;
  REQUIRE(scratch.kt.ensure_size(1 << 16) == vprim::status::ok);
  REQUIRE(scratch.vp.ensure_size(1 << 16) == vprim::status::ok);
  std::fill(scratch.kt.begin(), scratch.kt.end(), 0x7fc07fc0u);
  std::fill(scratch.vp.begin(), scratch.vp.end(), 0x7fc07fc0u);
  for (std::size_t tokens : {130u, 1u, 65u, 7u})
    for (std::size_t heads : {3u, 1u})
      for (std::size_t d : {64u, 20u, 16u}) {
        CAPTURE(tokens, heads, d, arch::name());
        const auto q = random_vector(tokens * heads * d, 61, -2.0f, 2.0f), k = random_vector(tokens * heads * d, 62, -2.0f, 2.0f),
                   v = random_vector(tokens * heads * d, 63);
        std::vector<float> o(q.size());
        const float scale = 1.0f / std::sqrt(static_cast<float>(d));
        vprim::cpu::attention_args args{tokens, heads, d, q.data(), k.data(), v.data(), heads * d, heads * d, heads * d,
                                        o.data(), heads * d, scale};
        REQUIRE(vprim::cpu::attention_bidirectional_bf16(arch{}, args, pool, scratch) == vprim::status::ok);
        // probabilities are rounded to bf16 for P*V: at most 2^-9 of each weight, |v| <= 1
        vprim_ref::require_close("attention_bf16", o,
                                 vprim_ref::attention(round_bf16(q, scale), round_bf16(k, 1.0f), round_bf16(v, 1.0f), tokens,
                                                      heads, d, 1.0),
                                 [](std::size_t) { return 4e-3; });
      }
}

TEST_CASE("swiglu, exact GELU and quick GELU", "[cpu][activation]") {
  if (!usable()) return;
  vprim::serial_executor serial;
  for (std::size_t n : {1u, 7u, 96u, 5000u}) {
    CAPTURE(n, arch::name());
    const auto x = random_vector(2 * n * 3, 41, -8.0f, 8.0f);
    std::vector<float> out(n * 3);
    vprim::cpu::swiglu(arch{}, x.data(), out.data(), 3, n, serial);
    std::vector<double> ref(n * 3);
    for (std::size_t r = 0; r < 3; ++r)
      for (std::size_t i = 0; i < n; ++i) ref[r * n + i] = vprim_ref::silu(x[r * 2 * n + i]) * x[r * 2 * n + n + i];
    vprim_ref::require_close("swiglu", out, ref, [&](std::size_t i) { return 4e-6 * std::max(1.0, std::fabs(ref[i])); });
    for (auto kind : {vprim::cpu::gelu_kind::exact, vprim::cpu::gelu_kind::quick}) {
      auto y = x;
      vprim::cpu::gelu(arch{}, y.data(), y.size(), kind, serial);
      std::vector<double> r(x.size());
      for (std::size_t i = 0; i < x.size(); ++i)
        r[i] = kind == vprim::cpu::gelu_kind::exact ? vprim_ref::gelu_exact(x[i]) : vprim_ref::gelu_quick(x[i]);
      vprim_ref::require_close("gelu", y, r, [&](std::size_t i) { return 4e-6 * std::max(1.0, std::fabs(r[i])); });
    }
  }
}

TEST_CASE("merge unfold in both layouts, with zero padding", "[cpu][unfold]") {
  vprim::serial_executor serial;
  for (auto [gh, gw] : std::vector<std::pair<std::size_t, std::size_t>>{{1, 1}, {3, 3}, {4, 5}, {10, 13}})
    for (std::size_t c : {1u, 7u, 64u})
      for (std::size_t k : {2u, 3u})
        for (auto layout : {vprim::merge_layout::channel_major, vprim::merge_layout::token_major}) {
          CAPTURE(gh, gw, c, k, static_cast<int>(layout));
          const auto in = random_vector(gh * gw * c, 51);
          const vprim::cpu::unfold_shape s{gh, gw, c, k};
          std::vector<float> out(s.out_tokens() * s.out_features(), -99.0f);
          REQUIRE(vprim::cpu::merge_unfold(in.data(), out.data(), s, layout, serial) == vprim::status::ok);
          REQUIRE(out == vprim_ref::unfold(in, gh, gw, c, k, layout == vprim::merge_layout::channel_major));
        }
  std::vector<float> x(4);
  REQUIRE(vprim::cpu::merge_unfold(x.data(), x.data(), {2, 2, 1, 0}, vprim::merge_layout::channel_major, serial) ==
          vprim::status::invalid_argument);
}
