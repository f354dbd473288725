// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file draw.hpp
//! Antialiased drawing on rgb_image: thick segments with round caps, polylines, discs, rings,
//! arcs, rectangles and 5x7 text. Every shape is clipped to the image, so coordinates may lie
//! anywhere (NaN and infinite ones draw nothing). Coverage is the analytic distance to the
//! shape's edge, clamped to one pixel of ramp: cheap and good enough for annotation.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "vprim/image/font.hpp"
#include "vprim/image/image.hpp"

VPRIM_NAMESPACE_BEGIN
namespace draw {

struct colour {
  std::uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const colour&, const colour&) = default;
};

struct vec2 {
  double x = 0, y = 0;
};

//! Mixes `c` into pixel (x, y) with weight alpha in [0, 1]; outside the image it does nothing.
inline void blend(rgb_image& img, int x, int y, colour c, double alpha) noexcept {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height || !(alpha > 0.0)) return;
  alpha = std::min(alpha, 1.0);
  std::uint8_t* p = img.row(y) + static_cast<std::size_t>(x) * 3;
  auto mix = [alpha](std::uint8_t dst, std::uint8_t src) {
    return static_cast<std::uint8_t>(std::lround(dst + (src - dst) * alpha));
  };
  p[0] = mix(p[0], c.r);
  p[1] = mix(p[1], c.g);
  p[2] = mix(p[2], c.b);
}

namespace detail {
//! Visits the pixels of the box [x0, x1] x [y0, y1] that lie in the image.
//! The pixel index range [lo, hi] of the span [a, b] inside 0..n-1, empty when lo > hi.
inline std::pair<int, int> clip_span(double a, double b, int n) noexcept {
  const double lo = std::clamp(std::floor(a), 0.0, static_cast<double>(n)), hi = std::clamp(std::ceil(b), -1.0, n - 1.0);
  return {static_cast<int>(lo), static_cast<int>(hi)};
}
//! Visits the pixels of the box [x0, x1] x [y0, y1] that lie in the image.
template <class F>
void for_pixels(const rgb_image& img, double x0, double y0, double x1, double y1, F&& f) {
  if (!(std::isfinite(x0) && std::isfinite(y0) && std::isfinite(x1) && std::isfinite(y1))) return;
  const auto [ix0, ix1] = clip_span(x0, x1, img.width);
  const auto [iy0, iy1] = clip_span(y0, y1, img.height);
  for (int y = iy0; y <= iy1; ++y)
    for (int x = ix0; x <= ix1; ++x) f(x, y, x + 0.5, y + 0.5);
}
inline double segment_distance(double px, double py, vec2 a, vec2 b) noexcept {
  const double dx = b.x - a.x, dy = b.y - a.y, len2 = dx * dx + dy * dy;
  const double t = len2 > 0 ? std::clamp(((px - a.x) * dx + (py - a.y) * dy) / len2, 0.0, 1.0) : 0.0;
  return std::hypot(a.x + t * dx - px, a.y + t * dy - py);
}
inline double coverage(double signed_inside) noexcept { return std::clamp(signed_inside + 0.5, 0.0, 1.0); }
}  // namespace detail

//! Fills [x0, x1) x [y0, y1) (pixel edges), without antialiasing.
inline void fill_rect(rgb_image& img, double x0, double y0, double x1, double y1, colour c, double alpha = 1.0) {
  detail::for_pixels(img, x0, y0, x1 - 1, y1 - 1, [&](int x, int y, double cx, double cy) {
    if (cx >= x0 && cx < x1 && cy >= y0 && cy < y1) blend(img, x, y, c, alpha);
  });
}

//! A segment of the given width with round caps.
inline void line(rgb_image& img, vec2 a, vec2 b, double width, colour c) {
  const double h = width / 2;
  detail::for_pixels(img, std::min(a.x, b.x) - h - 1, std::min(a.y, b.y) - h - 1, std::max(a.x, b.x) + h + 1,
                     std::max(a.y, b.y) + h + 1, [&](int x, int y, double cx, double cy) {
                       blend(img, x, y, c, detail::coverage(h - detail::segment_distance(cx, cy, a, b)));
                     });
}

//! Joined segments; each pixel takes the coverage of its nearest segment, so joints do not
//! darken twice.
inline void polyline(rgb_image& img, const std::vector<vec2>& pts, double width, colour c) {
  if (pts.size() == 1) line(img, pts[0], pts[0], width, c);
  if (pts.size() < 2) return;
  double x0 = pts[0].x, y0 = pts[0].y, x1 = x0, y1 = y0;
  for (const vec2& p : pts) x0 = std::min(x0, p.x), y0 = std::min(y0, p.y), x1 = std::max(x1, p.x), y1 = std::max(y1, p.y);
  const double h = width / 2;
  // Stamp per segment but keep each pixel's best coverage, then blend once.
  if (!(std::isfinite(x0) && std::isfinite(y0) && std::isfinite(x1) && std::isfinite(y1))) return;
  // (plain ints, not structured bindings: clang before 16 cannot capture those)
  const std::pair<int, int> xs = detail::clip_span(x0 - h - 1, x1 + h + 1, img.width);
  const std::pair<int, int> ys = detail::clip_span(y0 - h - 1, y1 + h + 1, img.height);
  const int bx0 = xs.first, bx1 = xs.second, by0 = ys.first, by1 = ys.second;
  if (bx1 < bx0 || by1 < by0) return;
  const std::size_t bw = static_cast<std::size_t>(bx1 - bx0 + 1);
  std::vector<float> best(bw * static_cast<std::size_t>(by1 - by0 + 1), 0.0f);
  for (std::size_t i = 0; i + 1 < pts.size(); ++i) {
    const vec2 a = pts[i], b = pts[i + 1];
    detail::for_pixels(img, std::min(a.x, b.x) - h - 1, std::min(a.y, b.y) - h - 1, std::max(a.x, b.x) + h + 1,
                       std::max(a.y, b.y) + h + 1, [&](int x, int y, double cx, double cy) {
                         float& v = best[static_cast<std::size_t>(y - by0) * bw + static_cast<std::size_t>(x - bx0)];
                         v = std::max(v, static_cast<float>(detail::coverage(h - detail::segment_distance(cx, cy, a, b))));
                       });
  }
  for (int y = by0; y <= by1; ++y)
    for (int x = bx0; x <= bx1; ++x)
      blend(img, x, y, c, best[static_cast<std::size_t>(y - by0) * bw + static_cast<std::size_t>(x - bx0)]);
}

inline void disc(rgb_image& img, vec2 centre, double radius, colour c) {
  detail::for_pixels(img, centre.x - radius - 1, centre.y - radius - 1, centre.x + radius + 1, centre.y + radius + 1,
                     [&](int x, int y, double cx, double cy) {
                       blend(img, x, y, c, detail::coverage(radius - std::hypot(cx - centre.x, cy - centre.y)));
                     });
}

//! A circle outline of the given stroke width.
inline void ring(rgb_image& img, vec2 centre, double radius, double width, colour c) {
  const double R = radius + width / 2 + 1;
  detail::for_pixels(img, centre.x - R, centre.y - R, centre.x + R, centre.y + R, [&](int x, int y, double cx, double cy) {
    blend(img, x, y, c, detail::coverage(width / 2 - std::fabs(std::hypot(cx - centre.x, cy - centre.y) - radius)));
  });
}

//! An arc from angle a0 to a1 (radians, clockwise on screen since y grows downwards).
inline void arc(rgb_image& img, vec2 centre, double radius, double a0, double a1, double width, colour c) {
  const int steps = std::clamp(static_cast<int>(std::fabs(a1 - a0) * radius / 3.0) + 2, 2, 4096);
  std::vector<vec2> pts;
  pts.reserve(static_cast<std::size_t>(steps) + 1);
  for (int i = 0; i <= steps; ++i) {
    const double a = a0 + (a1 - a0) * i / steps;
    pts.push_back({centre.x + radius * std::cos(a), centre.y + radius * std::sin(a)});
  }
  polyline(img, pts, width, c);
}

//! A rectangle outline whose stroke lies inside [x0, x1] x [y0, y1].
inline void rect(rgb_image& img, double x0, double y0, double x1, double y1, double width, colour c) {
  fill_rect(img, x0, y0, x1, y0 + width, c);
  fill_rect(img, x0, y1 - width, x1, y1, c);
  fill_rect(img, x0, y0 + width, x0 + width, y1 - width, c);
  fill_rect(img, x1 - width, y0 + width, x1, y1 - width, c);
}

//! Glyphs drawn for `text`: one per ASCII byte, one (a hollow box) per UTF-8 sequence.
[[nodiscard]] inline std::vector<unsigned char> glyphs_of(std::string_view text) {
  std::vector<unsigned char> out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto ch = static_cast<unsigned char>(text[i]);
    if (ch >= 0x80 && (ch & 0xC0) == 0x80) continue;  // continuation bytes belong to the glyph before
    out.push_back(ch);
  }
  return out;
}
[[nodiscard]] inline int text_width(std::string_view text, int scale) {
  const auto n = static_cast<int>(glyphs_of(text).size());
  return n == 0 ? 0 : (n * font5x7::advance - 1) * scale;
}
[[nodiscard]] inline int text_height(int scale) { return font5x7::glyph_height * scale; }

//! Text with its top-left corner at (x, y), each font cell a scale x scale block.
inline void text(rgb_image& img, int x, int y, std::string_view s, int scale, colour c) {
  int pen = x;
  for (unsigned char ch : glyphs_of(s)) {
    for (int r = 0; r < font5x7::glyph_height; ++r)
      for (int col = 0; col < font5x7::glyph_width; ++col)
        if (font5x7::pixel(ch, r, col)) fill_rect(img, pen + col * scale, y + r * scale, pen + (col + 1) * scale, y + (r + 1) * scale, c);
    pen += font5x7::advance * scale;
  }
}

//! Text on a filled tag with `pad` pixels around it; returns the tag's width.
inline int label(rgb_image& img, int x, int y, std::string_view s, int scale, colour fg, colour bg, int pad) {
  const int w = text_width(s, scale) + 2 * pad, h = text_height(scale) + 2 * pad;
  fill_rect(img, x, y, x + w, y + h, bg);
  text(img, x + pad, y + pad, s, scale, fg);
  return w;
}

//! Black or white, whichever reads better on `bg`.
[[nodiscard]] inline colour contrasting(colour bg) noexcept {
  return 0.299 * bg.r + 0.587 * bg.g + 0.114 * bg.b > 140 ? colour{0, 0, 0} : colour{255, 255, 255};
}

}  // namespace draw
VPRIM_NAMESPACE_END
