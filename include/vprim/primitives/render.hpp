// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file render.hpp
//! Draws what a transcript points at onto the image it talks about: each reference's boxes in
//! its own colour with the label on a tag above the box, single points as ringed dots, and
//! point lists as polylines from a hollow start to a filled end. Coordinates decode with
//! v / 999 * size (coordinates.hpp). Reference i and point list j use palette colours i and
//! refs + j, which a caller can reuse to colour the transcript text the same way.

#include <algorithm>
#include <cstddef>
#include <vector>

#include "vprim/image/draw.hpp"
#include "vprim/primitives/codec.hpp"
#include "vprim/primitives/coordinates.hpp"

VPRIM_NAMESPACE_BEGIN
namespace primitives {

//! Distinct, saturated colours that read on photographs.
[[nodiscard]] inline draw::colour palette_colour(std::size_t i) noexcept {
  constexpr draw::colour colours[] = {{230, 25, 75},  {60, 180, 75},  {0, 130, 200}, {245, 130, 48},
                                      {145, 30, 180}, {70, 240, 240}, {240, 50, 230}, {210, 245, 60},
                                      {255, 225, 25}, {0, 128, 128},  {170, 110, 40}, {128, 0, 0}};
  return colours[i % std::size(colours)];
}

struct overlay_style {
  double line_width = 0;  //!< 0: scale with the image (its shorter side / 250, at least 2)
  int label_scale = 0;    //!< font cell size; 0: scale with the image
};

inline void draw_transcript(rgb_image& img, const parse_result& r, const overlay_style& style = {}) {
  const int side = std::min(img.width, img.height);
  const double lw = style.line_width > 0 ? style.line_width : std::max(2.0, side / 250.0);
  const int scale = style.label_scale > 0 ? style.label_scale : std::max(1, side / 300);
  auto px = [&](point p) { return draw::vec2{to_pixel(p.x, img.width), to_pixel(p.y, img.height)}; };

  for (std::size_t i = 0; i < r.refs.size(); ++i) {
    const draw::colour c = palette_colour(i);
    for (const box& b : r.refs[i].boxes) {
      const draw::vec2 a = px({b.x1, b.y1}), z = px({b.x2, b.y2});
      draw::rect(img, a.x, a.y, z.x, z.y, lw, c);
      if (r.refs[i].label.empty()) continue;
      // The tag sits above the box, or inside its top edge when the box touches the image top.
      const int tag_h = draw::text_height(scale) + 2 * scale;
      const int y = a.y - tag_h >= 0 ? static_cast<int>(a.y) - tag_h : static_cast<int>(a.y);
      draw::label(img, static_cast<int>(a.x), y, r.refs[i].label, scale, draw::contrasting(c), c, scale);
    }
  }
  for (std::size_t j = 0; j < r.points.size(); ++j) {
    const draw::colour c = palette_colour(r.refs.size() + j);
    const auto& pts = r.points[j].points;
    const double dot = 2.0 * lw;
    if (pts.empty()) continue;
    if (pts.size() == 1) {
      draw::ring(img, px(pts[0]), 2.0 * dot, lw, c);
      draw::disc(img, px(pts[0]), dot, c);
      continue;
    }
    std::vector<draw::vec2> line;
    for (const point& p : pts) line.push_back(px(p));
    draw::polyline(img, line, lw, c);
    for (const draw::vec2& v : line) draw::disc(img, v, 0.9 * lw, draw::contrasting(c));
    draw::ring(img, line.front(), 1.5 * dot, lw, c);
    draw::disc(img, line.back(), 1.5 * dot, c);
  }
}

}  // namespace primitives
VPRIM_NAMESPACE_END
