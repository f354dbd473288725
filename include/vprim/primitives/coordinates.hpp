// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file coordinates.hpp
//! The primitives' coordinate system (research/visual_primitives.md §1.3): integers 0..999,
//! origin top-left, 999 mapping to the right/bottom edge. Decoding is v / 999 * size (the
//! lineage truncates that to an int pixel); encoding is round(px / size * 999) clamped to
//! 0..999. letterbox_map converts pixels of a letterboxed image back to the original image,
//! with the same fit and centring arithmetic as vprim::letterbox.

#include <algorithm>
#include <cmath>

#include "vprim/image/resize_plan.hpp"
#include "vprim/primitives/codec.hpp"

VPRIM_NAMESPACE_BEGIN
namespace primitives {

//! A position in image pixels (continuous: pixel i covers [i, i + 1)).
struct pixel_point {
  double x = 0, y = 0;
};

[[nodiscard]] inline double to_pixel(int v, int size) noexcept { return static_cast<double>(v) / 999.0 * size; }

[[nodiscard]] inline int to_normalized(double px, int size) noexcept {
  if (size <= 0 || !std::isfinite(px)) return 0;
  return static_cast<int>(std::clamp(std::round(px / size * 999.0), 0.0, 999.0));
}

//! How a src_w x src_h image sits inside a letterboxed dst_w x dst_h image.
struct letterbox_map {
  int src_w = 0, src_h = 0, dst_w = 0, dst_h = 0;
  int fit_w = 0, fit_h = 0, x0 = 0, y0 = 0;

  [[nodiscard]] static letterbox_map make(int src_w, int src_h, int dst_w, int dst_h) {
    letterbox_map m{src_w, src_h, dst_w, dst_h, dst_w, dst_h, 0, 0};
    const double im_ratio = static_cast<double>(src_w) / src_h, dest_ratio = static_cast<double>(dst_w) / dst_h;
    if (im_ratio > dest_ratio) m.fit_h = static_cast<int>(round_half_even(static_cast<double>(src_h) / src_w * dst_w));
    else if (im_ratio < dest_ratio) m.fit_w = static_cast<int>(round_half_even(static_cast<double>(src_w) / src_h * dst_h));
    m.fit_w = std::max(m.fit_w, 1);
    m.fit_h = std::max(m.fit_h, 1);
    m.x0 = static_cast<int>(round_half_even((dst_w - m.fit_w) * 0.5));
    m.y0 = static_cast<int>(round_half_even((dst_h - m.fit_h) * 0.5));
    return m;
  }
  //! A letterboxed pixel position in original-image pixels (clamped to the image).
  [[nodiscard]] double source_x(double x) const noexcept {
    return std::clamp((x - x0) * src_w / fit_w, 0.0, static_cast<double>(src_w));
  }
  [[nodiscard]] double source_y(double y) const noexcept {
    return std::clamp((y - y0) * src_h / fit_h, 0.0, static_cast<double>(src_h));
  }
  //! Normalised coordinates of the letterboxed image -> normalised coordinates of the original.
  [[nodiscard]] point to_source(point p) const noexcept {
    return {to_normalized(source_x(to_pixel(p.x, dst_w)), src_w), to_normalized(source_y(to_pixel(p.y, dst_h)), src_h)};
  }
  [[nodiscard]] box to_source(box b) const noexcept {
    const point a = to_source(point{b.x1, b.y1}), c = to_source(point{b.x2, b.y2});
    return {a.x, a.y, c.x, c.y};
  }
};

}  // namespace primitives
VPRIM_NAMESPACE_END
