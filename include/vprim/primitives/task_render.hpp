// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file task_render.hpp
//! Pictures of the synthetic tasks: a maze with its walls and start/goal markers, and a
//! path-tracing board with its curves and labelled markers. Styles vary the way the paper's
//! data does (§4.2: backgrounds, wall thickness, gradient walls, marker shapes); a seed picks
//! one deterministically.

#include <algorithm>
#include <cstdint>
#include <random>

#include "vprim/image/draw.hpp"
#include "vprim/primitives/maze.hpp"
#include "vprim/primitives/path_task.hpp"

VPRIM_NAMESPACE_BEGIN
namespace primitives {

enum class marker_shape : std::uint8_t { disc, square, ring };

struct maze_style {
  draw::colour background{250, 250, 245};
  draw::colour wall{30, 30, 30};
  draw::colour wall_end{30, 30, 30};  //!< walls shade from `wall` on the left to this on the right
  double wall_fraction = 0.12;        //!< wall thickness as a fraction of a cell's size
  draw::colour start{40, 170, 60}, goal{220, 40, 40};
  marker_shape marker = marker_shape::disc;
};

//! A style drawn from `seed`: light background, dark walls (sometimes a gradient), thin to
//! extra-thick walls, one of the marker shapes.
[[nodiscard]] inline maze_style random_maze_style(std::uint32_t seed) {
  std::mt19937 rng(seed);
  constexpr draw::colour backgrounds[] = {{250, 250, 245}, {235, 240, 250}, {250, 240, 225}, {225, 245, 230}, {255, 255, 255}};
  constexpr draw::colour walls[] = {{30, 30, 30}, {20, 40, 110}, {90, 30, 20}, {40, 80, 40}, {70, 20, 90}};
  maze_style s;
  s.background = backgrounds[rng() % std::size(backgrounds)];
  s.wall = walls[rng() % std::size(walls)];
  s.wall_end = rng() % 3 == 0 ? walls[rng() % std::size(walls)] : s.wall;
  constexpr double thickness[] = {0.06, 0.12, 0.2, 0.3};
  s.wall_fraction = thickness[rng() % std::size(thickness)];
  s.marker = static_cast<marker_shape>(rng() % 3);
  return s;
}

namespace detail {
inline draw::colour lerp(draw::colour a, draw::colour b, double t) noexcept {
  auto mix = [t](std::uint8_t x, std::uint8_t y) { return static_cast<std::uint8_t>(std::lround(x + (y - x) * t)); };
  return {mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
}
inline void marker(rgb_image& img, draw::vec2 c, double r, marker_shape shape, draw::colour col) {
  switch (shape) {
    case marker_shape::disc: draw::disc(img, c, r, col); break;
    case marker_shape::square: draw::fill_rect(img, c.x - r, c.y - r, c.x + r, c.y + r, col); break;
    case marker_shape::ring: draw::ring(img, c, 0.75 * r, 0.4 * r, col); break;
  }
}
}  // namespace detail

[[nodiscard]] inline rgb_image render_maze(const maze& m, const maze_style& style = {}) {
  const maze_shape& s = m.shape();
  rgb_image img = rgb_image::filled(s.width, s.height, 0);
  draw::fill_rect(img, 0, 0, s.width, s.height, style.background);
  const double thickness = std::max(1.5, style.wall_fraction * m.layout.cell_size());
  for (const maze_wall& w : m.walls()) {
    if (w.is_arc) {
      const double mid = (w.a0 + w.a1) / 2;
      const double t = std::clamp((w.cx + w.r * std::cos(mid)) / s.width, 0.0, 1.0);
      draw::arc(img, {w.cx, w.cy}, w.r, w.a0, w.a1, thickness, detail::lerp(style.wall, style.wall_end, t));
    } else {
      const double t = std::clamp((w.a.x + w.b.x) / 2 / s.width, 0.0, 1.0);
      draw::line(img, {w.a.x, w.a.y}, {w.b.x, w.b.y}, thickness, detail::lerp(style.wall, style.wall_end, t));
    }
  }
  const double r = 0.3 * m.layout.cell_size();
  const pixel_point a = m.layout.centre_px(m.start), b = m.layout.centre_px(m.goal);
  detail::marker(img, {a.x, a.y}, r, style.marker, style.start);
  detail::marker(img, {b.x, b.y}, r, style.marker, style.goal);
  return img;
}

[[nodiscard]] inline rgb_image render_path_task(const path_task& task, draw::colour background = {248, 248, 248}) {
  rgb_image img = rgb_image::filled(task.width, task.height, 0);
  draw::fill_rect(img, 0, 0, task.width, task.height, background);
  for (const path_curve& c : task.curves) {
    std::vector<draw::vec2> pts;
    pts.reserve(c.samples.size());
    for (const pixel_point& p : c.samples) pts.push_back({p.x, p.y});
    draw::polyline(img, pts, c.stroke, {c.rgb[0], c.rgb[1], c.rgb[2]});
  }
  // Markers last, so that no line is drawn over a label.
  const double R = task.marker_radius;
  const int scale = std::max(1, static_cast<int>(R / 6));
  auto labelled = [&](pixel_point p, const std::string& text, draw::colour fill) {
    draw::disc(img, {p.x, p.y}, R, fill);
    draw::ring(img, {p.x, p.y}, R, 2.0, {20, 20, 20});
    const int w = draw::text_width(text, scale), h = draw::text_height(scale);
    draw::text(img, static_cast<int>(std::lround(p.x - w / 2.0)), static_cast<int>(std::lround(p.y - h / 2.0)), text, scale,
               draw::contrasting(fill));
  };
  for (const path_curve& c : task.curves) {
    labelled(c.samples.front(), c.start_label, {255, 255, 255});
    labelled(c.samples.back(), c.end_label, {255, 214, 10});
  }
  return img;
}

}  // namespace primitives
VPRIM_NAMESPACE_END
