// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#include <atomic>
#include <chrono>
#include <thread>
#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "../reference/dtype_reference.hpp"
#include "vprim/core.hpp"

namespace {

// Floats that stress rounding: random bit patterns, exact midpoints between neighbours of the
// target format, values near each format's overflow and underflow thresholds.
std::vector<float> probe_floats(int mant_bits) {
  std::vector<float> v = {0.0f, -0.0f, 1.0f, -1.0f, 448.0f, 464.0f, 480.0f, 65504.0f, 65519.0f, 65520.0f,
                          1e-8f, 5.96e-8f, 2.98e-8f, 1.95e-3f, 9.77e-4f, 3.4e38f, -3.4e38f, 1.17e-38f};
  std::mt19937 rng(12345);
  for (int i = 0; i < 200000; ++i) {
    auto bits = static_cast<std::uint32_t>(rng());
    float f = std::bit_cast<float>(bits);
    if (std::isfinite(f)) v.push_back(f);
  }
  // exact midpoints and their neighbours: the lowest (23 - mant_bits) bits at 100..0
  const int drop = 23 - mant_bits;
  for (int i = 0; i < 50000; ++i) {
    auto bits = static_cast<std::uint32_t>(rng()) & ~((1u << drop) - 1u);
    bits |= 1u << (drop - 1);
    for (int d = -1; d <= 1; ++d) {
      float f = std::bit_cast<float>(bits + static_cast<std::uint32_t>(d));
      if (std::isfinite(f)) v.push_back(f);
    }
  }
  // moderate magnitudes where narrow formats are dense
  std::uniform_real_distribution<float> u(-600.0f, 600.0f);
  for (int i = 0; i < 50000; ++i) v.push_back(u(rng));
  std::uniform_real_distribution<float> small(-0.02f, 0.02f);
  for (int i = 0; i < 50000; ++i) v.push_back(small(rng));
  return v;
}

}  // namespace

TEST_CASE("bf16 conversion rounds to nearest even like the naive reference", "[core][dtype]") {
  for (float f : probe_floats(7)) {
    CAPTURE(f);
    REQUIRE(vprim::float_to_bf16_bits(f) == vprim_ref::encode(vprim_ref::bf16_fmt, static_cast<double>(f)));
  }
  for (std::uint32_t c = 0; c < 65536; ++c) {
    const double ref = vprim_ref::decode(vprim_ref::bf16_fmt, c & 0x7fffu);
    const float got = vprim::bf16_bits_to_float(static_cast<std::uint16_t>(c));
    if (std::isnan(ref)) {
      REQUIRE(std::isnan(got));
    } else {
      REQUIRE(std::fabs(static_cast<double>(got)) == ref);
    }
  }
  REQUIRE(std::isnan(vprim::bf16(std::nanf("")).to_float()));
  REQUIRE(std::isinf(vprim::bf16(INFINITY).to_float()));
}

TEST_CASE("f16 conversion rounds to nearest even like the naive reference", "[core][dtype]") {
  for (float f : probe_floats(10)) {
    CAPTURE(f);
    REQUIRE(vprim::float_to_f16_bits(f) == vprim_ref::encode(vprim_ref::f16_fmt, static_cast<double>(f)));
  }
  for (std::uint32_t c = 0; c < 65536; ++c) {
    const double ref = vprim_ref::decode(vprim_ref::f16_fmt, c & 0x7fffu);
    const float got = vprim::f16_bits_to_float(static_cast<std::uint16_t>(c));
    CAPTURE(c);
    if (std::isnan(ref)) {
      REQUIRE(std::isnan(got));
    } else {
      REQUIRE(std::fabs(static_cast<double>(got)) == ref);
      REQUIRE(std::signbit(got) == ((c & 0x8000u) != 0));
    }
  }
}

TEST_CASE("fp8 e4m3fn conversion: nearest even, saturating, NaN preserved", "[core][dtype]") {
  for (float f : probe_floats(3)) {
    CAPTURE(f);
    REQUIRE(vprim::float_to_e4m3_bits(f) == vprim_ref::encode(vprim_ref::e4m3_fmt, static_cast<double>(f)));
  }
  for (std::uint32_t c = 0; c < 256; ++c) {
    const double ref = vprim_ref::decode(vprim_ref::e4m3_fmt, c & 0x7fu);
    const float got = vprim::e4m3_bits_to_float(static_cast<std::uint8_t>(c));
    CAPTURE(c);
    if (std::isnan(ref)) {
      REQUIRE(std::isnan(got));
    } else {
      REQUIRE(std::fabs(static_cast<double>(got)) == ref);
    }
  }
  REQUIRE(vprim::e4m3(1000.0f).to_float() == 448.0f);
  REQUIRE(vprim::e4m3(-1e30f).to_float() == -448.0f);
  REQUIRE(std::isnan(vprim::e4m3(INFINITY).to_float()));
  REQUIRE(vprim::e4m3(0.001953125f).bits == 0x01);  // 2^-9, smallest subnormal
}

TEST_CASE("dtype names round-trip and sizes are right", "[core][dtype]") {
  using vprim::dtype;
  for (dtype t : {dtype::f64, dtype::f32, dtype::f16, dtype::bf16, dtype::f8_e4m3, dtype::f8_e5m2, dtype::i64,
                  dtype::i32, dtype::i16, dtype::i8, dtype::u64, dtype::u32, dtype::u16, dtype::u8, dtype::boolean}) {
    REQUIRE(vprim::parse_dtype(vprim::to_string(t)) == t);
    REQUIRE(vprim::size_of(t) > 0);
  }
  REQUIRE_FALSE(vprim::parse_dtype("F4").has_value());
  REQUIRE(vprim::size_of(dtype::bf16) == 2);
  REQUIRE(vprim::dtype_of<vprim::bf16> == dtype::bf16);
}

TEST_CASE("status names and error descriptions", "[core][status]") {
  REQUIRE(vprim::to_string(vprim::status::ok) == "ok");
  REQUIRE(vprim::to_string(vprim::status::not_supported) == "not_supported");
  const auto e = vprim::make_error(vprim::status::parse_error, "bad", 17);
  REQUIRE(e.describe() == "parse_error at byte 17: bad");
  vprim::result<int> r = vprim::make_error(vprim::status::not_found, "x");
  REQUIRE_FALSE(r);
  REQUIRE(r.code() == vprim::status::not_found);
  vprim::result<int> v = 5;
  REQUIRE(v.value() == 5);
}

TEST_CASE("tensor views: static and dynamic extents, strides, contiguity", "[core][tensor]") {
  std::vector<float> data(2 * 3 * 4);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i);

  vprim::tensor_view<float, vprim::extents<2, vprim::dynamic, 4>> v(data.data(), vprim::extents<2, vprim::dynamic, 4>(2, 3, 4));
  static_assert(decltype(v)::extents_type::static_extent(0) == 2);
  static_assert(decltype(v)::extents_type::static_extent(1) == vprim::dynamic);
  REQUIRE(v.extents_().check() == vprim::status::ok);
  REQUIRE(v.size() == 24);
  REQUIRE(v.is_contiguous());
  REQUIRE(v(1, 2, 3) == 23.0f);
  REQUIRE(v.stride(0) == 12);

  // a mismatch against a static extent is reported, not silently accepted
  vprim::extents<2, vprim::dynamic, 4> bad(3, 3, 4);
  REQUIRE(bad.check() == vprim::status::shape_mismatch);

  // transposed view of a 4x6 matrix
  auto m = vprim::make_view(data.data(), 4, 6);
  vprim::dview<float, 2> t(data.data(), vprim::dextents<2>(6, 4), {1, 6});
  REQUIRE_FALSE(t.is_contiguous());
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 6; ++j) REQUIRE(t(j, i) == m(i, j));
  vprim::dview<const float, 2> c = m;
  REQUIRE(c.row(2)[1] == 13.0f);
  REQUIRE(vprim::check_view(c) == vprim::status::ok);
}

TEST_CASE("aligned buffers are 64-byte aligned, zeroed and move-only", "[core][buffer]") {
  for (std::size_t n : {1u, 7u, 100u, 4097u}) {
    auto b = vprim::aligned_buffer<float>::allocate(n);
    REQUIRE(b);
    REQUIRE(reinterpret_cast<std::uintptr_t>(b->data()) % 64 == 0);
    for (float x : *b) REQUIRE(x == 0.0f);
    auto moved = std::move(*b);
    REQUIRE(moved.size() == n);
    REQUIRE(b->empty());
  }
  auto huge = vprim::aligned_buffer<double>::allocate(static_cast<std::size_t>(-1) / 4);
  REQUIRE_FALSE(huge);
  REQUIRE(huge.code() == vprim::status::out_of_memory);
}

template <class E>
void check_cover(E& ex, std::int64_t n) {
  std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
  ex.parallel_for(n, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)]++;
  });
  for (auto& h : hits) REQUIRE(h.load() == 1);
}

TEST_CASE("executors cover [0, n) exactly once, also nested", "[core][executor]") {
  vprim::serial_executor serial;
  check_cover(serial, 1000);
  vprim::thread_pool_executor pool(3);
  REQUIRE(pool.concurrency() == 3);
  for (std::int64_t n : {0, 1, 2, 3, 7, 1000}) check_cover(pool, n);
  for (int rep = 0; rep < 200; ++rep) check_cover(pool, 17);
  // Regions back to back (workers still spinning), with fewer parts than workers, and after
  // pauses longer than the spin (workers asleep, woken by the condition variable).
  for (int rep = 0; rep < 3000; ++rep) check_cover(pool, rep % 4 + 1);
  for (int rep = 0; rep < 5; ++rep) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    check_cover(pool, 9);
  }
  for (int rep = 0; rep < 50; ++rep) {  // pools made and destroyed while their workers spin
    vprim::thread_pool_executor brief(2);
    check_cover(brief, 5);
  }
  // a kernel that itself calls parallel_for from inside a worker must not deadlock
  std::atomic<std::int64_t> total{0};
  pool.parallel_for(8, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i)
      pool.parallel_for(10, [&](std::int64_t bb, std::int64_t ee) { total += ee - bb; });
  });
  REQUIRE(total.load() == 80);
}
