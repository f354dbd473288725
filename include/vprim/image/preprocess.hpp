// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file preprocess.hpp
//! From decoded RGB pixels to the float tensors a vision tower eats:
//! - letterbox: PIL's ImageOps.pad (aspect-preserving bicubic fit, centred, fill colour), the
//!   Vision-Exp rule's resize; images at least max_aspect times wider than tall are stretched instead;
//! - normalise to planar CHW floats, (v/255 - mean) / std per channel: DeepSeek uses mean = std
//!   = 0.5 (values in [-1, 1]), Qwen2-VL the CLIP statistics;
//! - patchify: CHW -> one row per patch (row-major patch grid), features channel-major
//!   `c*P*P + py*P + px`, the layout of both DeepSeek's Linear patch embed and Qwen's Conv3d.

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <cmath>
#include <string>
#include <vector>

#include "vprim/image/resample.hpp"
#include "vprim/image/resize_plan.hpp"

VPRIM_NAMESPACE_BEGIN

struct channel_stats {
  std::array<float, 3> mean;
  std::array<float, 3> std;
};
inline constexpr channel_stats deepseek_pixel_stats{{0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}};
inline constexpr channel_stats clip_pixel_stats{{0.48145466f, 0.4578275f, 0.40821073f},
                                                {0.26862954f, 0.26130258f, 0.27577711f}};

//! Where ImageOps.pad puts a src_w x src_h image inside out_w x out_h: the aspect-preserving
//! fitted size and its top-left corner, rounded with Python's round (ties to even).
struct letterbox_fit {
  int width = 0, height = 0, x0 = 0, y0 = 0;
};
[[nodiscard]] inline letterbox_fit letterbox_geometry(int src_w, int src_h, int out_w, int out_h) noexcept {
  const double im_ratio = static_cast<double>(src_w) / src_h;
  const double dest_ratio = static_cast<double>(out_w) / out_h;
  letterbox_fit f{out_w, out_h, 0, 0};
  if (im_ratio > dest_ratio) {
    f.height = static_cast<int>(round_half_even(static_cast<double>(src_h) / src_w * out_w));
  } else if (im_ratio < dest_ratio) {
    f.width = static_cast<int>(round_half_even(static_cast<double>(src_w) / src_h * out_h));
  }
  f.width = std::max(f.width, 1);
  f.height = std::max(f.height, 1);
  f.x0 = static_cast<int>(round_half_even((out_w - f.width) * 0.5));
  f.y0 = static_cast<int>(round_half_even((out_h - f.height) * 0.5));
  return f;
}

//! PIL's ImageOps.pad: fit `src` inside out_w x out_h keeping its aspect ratio (bicubic), centre
//! it, fill the rest with `fill`.
[[nodiscard]] inline result<rgb_image> letterbox(const rgb_image& src, int out_w, int out_h, std::uint8_t fill = 127) {
  if (src.check() != status::ok || out_w <= 0 || out_h <= 0)
    return make_error(status::invalid_argument, "letterbox: invalid source image or target size " +
                                                    std::to_string(out_w) + "x" + std::to_string(out_h));
  const letterbox_fit fit = letterbox_geometry(src.width, src.height, out_w, out_h);
  auto fitted = resize_bicubic(src, fit.width, fit.height);
  if (!fitted) return fitted.err();
  if (fit.width == out_w && fit.height == out_h) return fitted;
  rgb_image out = rgb_image::filled(out_w, out_h, fill);
  for (int y = 0; y < fit.height; ++y)
    std::copy(fitted->row(y), fitted->row(y) + static_cast<std::size_t>(fit.width) * 3,
              out.row(fit.y0 + y) + static_cast<std::size_t>(fit.x0) * 3);
  return out;
}

//! Planar CHW floats, (v/255 - mean[c]) / std[c].
[[nodiscard]] inline std::vector<float> normalize_chw(const rgb_image& img, const channel_stats& stats) {
  const std::size_t plane = static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height);
  std::vector<float> out(plane * 3);
  for (std::size_t i = 0; i < plane; ++i)
    for (std::size_t c = 0; c < 3; ++c)
      out[c * plane + i] = (static_cast<float>(img.pixels[i * 3 + c]) / 255.0f - stats.mean[c]) / stats.std[c];
  return out;
}

//! CHW (channels x height x width) -> (patches, channels*patch*patch), patches row-major,
//! features channel-major. Errors: sizes not multiples of the patch, non-finite pixels (with
//! the channel and pixel position).
[[nodiscard]] inline result<std::vector<float>> patchify(std::span<const float> chw, int channels, int height, int width,
                                                         int patch) {
  if (channels <= 0 || patch <= 0 || height <= 0 || width <= 0 || height % patch != 0 || width % patch != 0)
    return make_error(status::shape_mismatch, "patchify: a " + std::to_string(channels) + "x" + std::to_string(height) +
                                                  "x" + std::to_string(width) + " image does not tile into " +
                                                  std::to_string(patch) + "x" + std::to_string(patch) + " patches");
  const auto plane = static_cast<std::size_t>(height) * static_cast<std::size_t>(width);
  if (chw.size() != plane * static_cast<std::size_t>(channels))
    return make_error(status::shape_mismatch, "patchify: buffer holds " + std::to_string(chw.size()) +
                                                  " values, expected " + std::to_string(plane * static_cast<std::size_t>(channels)));
  for (std::size_t i = 0; i < chw.size(); ++i)
    if (!std::isfinite(chw[i]))
      return make_error(status::non_finite, "patchify: pixel value " + std::to_string(chw[i]) + " at channel " +
                                                std::to_string(i / plane) + ", row " + std::to_string((i % plane) / static_cast<std::size_t>(width)) +
                                                ", column " + std::to_string(i % static_cast<std::size_t>(width)));
  const int gh = height / patch, gw = width / patch;
  const auto feat = static_cast<std::size_t>(channels) * static_cast<std::size_t>(patch) * static_cast<std::size_t>(patch);
  std::vector<float> out(static_cast<std::size_t>(gh) * static_cast<std::size_t>(gw) * feat);
  for (int py = 0; py < gh; ++py)
    for (int px = 0; px < gw; ++px) {
      float* dst = out.data() + (static_cast<std::size_t>(py) * static_cast<std::size_t>(gw) + static_cast<std::size_t>(px)) * feat;
      for (int c = 0; c < channels; ++c)
        for (int y = 0; y < patch; ++y) {
          const float* src = chw.data() + static_cast<std::size_t>(c) * plane +
                             static_cast<std::size_t>(py * patch + y) * static_cast<std::size_t>(width) +
                             static_cast<std::size_t>(px * patch);
          std::copy(src, src + patch, dst);
          dst += patch;
        }
    }
  return out;
}

//! Qwen2-VL's patch order: the processor emits patches window by window (merge x merge blocks in
//! row-major order, row-major inside each block). order[i] is the row-major patch index of the
//! i-th patch the processor emits. Grid sides must be multiples of `merge`.
[[nodiscard]] inline std::vector<std::int64_t> merge_window_order(int grid_h, int grid_w, int merge) {
  std::vector<std::int64_t> order;
  if (grid_h <= 0 || grid_w <= 0 || merge <= 0 || grid_h % merge != 0 || grid_w % merge != 0) return order;
  order.reserve(static_cast<std::size_t>(grid_h) * static_cast<std::size_t>(grid_w));
  for (int bh = 0; bh < grid_h / merge; ++bh)
    for (int bw = 0; bw < grid_w / merge; ++bw)
      for (int my = 0; my < merge; ++my)
        for (int mx = 0; mx < merge; ++mx) order.push_back(static_cast<std::int64_t>(bh * merge + my) * grid_w + (bw * merge + mx));
  return order;
}

//! Pixels ready for a tower: planar CHW floats and their size.
struct tower_input {
  int height = 0, width = 0;
  std::vector<float> chw;
};

//! The Vision-Exp pixel path: plan, letterbox (or stretch, at max_aspect:1 and wider), [-1, 1].
[[nodiscard]] inline result<tower_input> preprocess_vision_exp(const rgb_image& img, const vision_exp_plan& plan) {
  auto sized = plan.stretch ? resize_bicubic(img, plan.target_width, plan.target_height)
                             : letterbox(img, plan.target_width, plan.target_height, 127);
  if (!sized) return sized.err();
  return tower_input{plan.target_height, plan.target_width, normalize_chw(*sized, deepseek_pixel_stats)};
}

//! Qwen2-VL's pixel path: plain bicubic resize to the smart-resize target (torchvision's
//! arithmetic by default, as its fast processor does), CLIP statistics.
[[nodiscard]] inline result<tower_input> preprocess_smart_resize(const rgb_image& img, const smart_resize_plan& plan,
                                                                 resample_flavor flavor = resample_flavor::torch) {
  auto sized = resize_bicubic(img, plan.target_width, plan.target_height, flavor);
  if (!sized) return sized.err();
  return tower_input{plan.target_height, plan.target_width, normalize_chw(*sized, clip_pixel_stats)};
}

VPRIM_NAMESPACE_END
