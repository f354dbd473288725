// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file resample.hpp
//! Bicubic resampling with antialiasing: a separable filter (a = -0.5) whose support widens by
//! the downscale factor, weights normalised per output pixel, a horizontal then a vertical pass.
//! Weights are computed in double, rounded to fixed point, and both passes accumulate integers
//! into an 8-bit intermediate. Two flavours reproduce the two peers:
//! - resample_flavor::pil (Image.resize, BICUBIC): 22-bit weights. DeepSeek's ImageOps.pad path.
//! - resample_flavor::torch (torchvision's native uint8 bicubic with antialias, derived from
//!   Pillow-SIMD): int16 weights whose precision is the largest that keeps the biggest weight
//!   under 2^15, and torch's algebraic form of the cubic on [1, 2). Qwen2-VL's fast processor.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "vprim/image/image.hpp"

VPRIM_NAMESPACE_BEGIN

enum class resample_flavor : std::uint8_t { pil, torch };

namespace detail {

inline constexpr int pil_precision_bits = 32 - 8 - 2;

//! The bicubic kernel with a = -0.5, in the algebraic form of the chosen peer (the forms
//! round differently in the last bit).
[[nodiscard]] inline double bicubic_filter(double x, resample_flavor flavor) noexcept {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) {
    if (flavor == resample_flavor::pil) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
  }
  return 0.0;
}

//! Per output pixel: the first input index, the tap count, and ksize fixed-point weights with
//! `precision` fractional bits.
struct resample_taps {
  int ksize = 0;
  int precision = pil_precision_bits;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<std::int32_t> weights;  //!< out_size * ksize
};

[[nodiscard]] inline resample_taps bicubic_taps(int in_size, int out_size, resample_flavor flavor) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 2.0 * filterscale;
  resample_taps t;
  t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(static_cast<std::size_t>(out_size));
  t.count.resize(static_cast<std::size_t>(out_size));
  std::vector<double> k(static_cast<std::size_t>(out_size) * static_cast<std::size_t>(t.ksize), 0.0);
  double w_max = 0.0;
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double* w = k.data() + static_cast<std::size_t>(xx) * static_cast<std::size_t>(t.ksize);
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[x] = bicubic_filter((x + xmin - center + 0.5) * ss, flavor);
      ww += w[x];
    }
    if (ww != 0.0)
      for (int x = 0; x < xmax; ++x) {
        w[x] /= ww;
        w_max = std::max(w_max, w[x]);
      }
    t.first[static_cast<std::size_t>(xx)] = xmin;
    t.count[static_cast<std::size_t>(xx)] = xmax;
  }
  if (flavor == resample_flavor::torch) {
    for (t.precision = 0; t.precision < pil_precision_bits; ++t.precision) {
      const int next = static_cast<int>(0.5 + w_max * static_cast<double>(1 << (t.precision + 1)));
      if (next >= (1 << 15)) break;
    }
  }
  t.weights.resize(k.size());
  const double one = static_cast<double>(1 << t.precision);
  for (std::size_t i = 0; i < k.size(); ++i)
    t.weights[i] = static_cast<std::int32_t>(k[i] < 0 ? -0.5 + k[i] * one : 0.5 + k[i] * one);
  return t;
}

[[nodiscard]] inline std::uint8_t clip8(std::int32_t v, int precision) noexcept {
  const std::int32_t s = v >> precision;
  return static_cast<std::uint8_t>(s < 0 ? 0 : (s > 255 ? 255 : s));
}

[[nodiscard]] inline rgb_image resize_bicubic_fixed(const rgb_image& src, int out_w, int out_h, resample_flavor flavor) {
  // Horizontal pass (skipped when the width does not change, as both peers do).
  rgb_image mid;
  if (out_w != src.width) {
    const auto taps = bicubic_taps(src.width, out_w, flavor);
    const std::int32_t half = 1 << (taps.precision - 1);
    mid = rgb_image::filled(out_w, src.height, 0);
    for (int y = 0; y < src.height; ++y) {
      const std::uint8_t* in = src.row(y);
      std::uint8_t* out = mid.row(y);
      for (int xx = 0; xx < out_w; ++xx) {
        const std::int32_t* k = taps.weights.data() + static_cast<std::size_t>(xx) * static_cast<std::size_t>(taps.ksize);
        const std::uint8_t* p = in + static_cast<std::size_t>(taps.first[static_cast<std::size_t>(xx)]) * 3;
        std::int32_t s0 = half, s1 = half, s2 = half;
        for (int x = 0; x < taps.count[static_cast<std::size_t>(xx)]; ++x) {
          s0 += p[3 * x + 0] * k[x];
          s1 += p[3 * x + 1] * k[x];
          s2 += p[3 * x + 2] * k[x];
        }
        out[3 * xx + 0] = clip8(s0, taps.precision);
        out[3 * xx + 1] = clip8(s1, taps.precision);
        out[3 * xx + 2] = clip8(s2, taps.precision);
      }
    }
  } else {
    mid = src;
  }
  if (out_h == src.height) return mid;
  // Vertical pass: accumulate whole rows so the inner loop is contiguous (and vectorises).
  const auto taps = bicubic_taps(src.height, out_h, flavor);
  const std::int32_t half = 1 << (taps.precision - 1);
  rgb_image dst = rgb_image::filled(out_w, out_h, 0);
  const std::size_t row_bytes = static_cast<std::size_t>(out_w) * 3;
  std::vector<std::int32_t> acc(row_bytes);
  for (int yy = 0; yy < out_h; ++yy) {
    const std::int32_t* k = taps.weights.data() + static_cast<std::size_t>(yy) * static_cast<std::size_t>(taps.ksize);
    const int y0 = taps.first[static_cast<std::size_t>(yy)];
    std::fill(acc.begin(), acc.end(), half);
    for (int y = 0; y < taps.count[static_cast<std::size_t>(yy)]; ++y) {
      const std::uint8_t* in = mid.row(y0 + y);
      const std::int32_t w = k[y];
      for (std::size_t i = 0; i < row_bytes; ++i) acc[i] += in[i] * w;
    }
    std::uint8_t* out = dst.row(yy);
    for (std::size_t i = 0; i < row_bytes; ++i) out[i] = clip8(acc[i], taps.precision);
  }
  return dst;
}

}  // namespace detail

//! Bicubic resize of an RGB image to out_w x out_h with the chosen peer's arithmetic.
[[nodiscard]] inline result<rgb_image> resize_bicubic(const rgb_image& src, int out_w, int out_h,
                                                      resample_flavor flavor = resample_flavor::pil) {
  if (src.check() != status::ok)
    return make_error(status::shape_mismatch, "resize_bicubic: source is not a valid " + std::to_string(src.width) +
                                                  "x" + std::to_string(src.height) + " RGB image");
  if (out_w <= 0 || out_h <= 0)
    return make_error(status::invalid_argument, "resize_bicubic: target size " + std::to_string(out_w) + "x" +
                                                    std::to_string(out_h) + " must be positive");
  if (out_w == src.width && out_h == src.height) return src;
  return detail::resize_bicubic_fixed(src, out_w, out_h, flavor);
}

VPRIM_NAMESPACE_END
