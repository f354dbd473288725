// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file path_task.hpp
//! Path-tracing tasks (research/visual_primitives.md §4.2): cubic Bezier curves, each joining a
//! lettered start marker to a numbered end marker. No marker lies on or near another curve and
//! markers keep apart; a curve that breaks this is drawn again (the paper regenerates such
//! configurations). In the uniform-style mode every curve has the same colour and stroke, so
//! only curvature continuity tells them apart. The reference answer walks the queried curve
//! with waypoints placed densely where it bends or passes near another curve, as in Fig. 6.
//! Seeded with std::mt19937; the same seed gives the same task everywhere.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "vprim/core/status.hpp"
#include "vprim/primitives/codec.hpp"
#include "vprim/primitives/coordinates.hpp"
#include "vprim/primitives/rewards.hpp"

VPRIM_NAMESPACE_BEGIN
namespace primitives {

struct path_task_params {
  int width = 768, height = 768;
  int curves = 4;                //!< 1..12
  double curvature = 0.35;       //!< control-point offset, as a fraction of the start-end distance
  bool uniform_style = false;    //!< one colour and stroke for every curve
  double stroke = 4.0;           //!< line width in pixels (the uniform one; otherwise 0.75..1.5 times it)
  double marker_radius = 14.0;   //!< endpoint markers, in pixels
  int attempts_per_curve = 400;  //!< redraws before giving up
};

struct path_curve {
  std::array<pixel_point, 4> control;
  std::vector<pixel_point> samples;  //!< the curve as a dense polyline, pixels
  std::string start_label, end_label;
  std::array<std::uint8_t, 3> rgb{};
  double stroke = 4.0;
};

struct path_task {
  int width = 0, height = 0;
  double marker_radius = 0;
  std::vector<path_curve> curves;
  std::size_t query = 0;          //!< the curve the question asks about
  std::string question;
  std::string answer;             //!< its end label
  std::vector<point> waypoints;   //!< its reference polyline, 0..999
  box start_box, end_box;         //!< its markers, 0..999
  std::string reference;          //!< the reference transcript

  //! What path_reward compares a prediction with.
  [[nodiscard]] path_reference as_reference() const { return {waypoints, start_box, end_box, answer}; }
};

namespace detail {

inline double dist(pixel_point a, pixel_point b) noexcept { return std::hypot(a.x - b.x, a.y - b.y); }

inline pixel_point bezier(const std::array<pixel_point, 4>& p, double t) noexcept {
  const double u = 1 - t, a = u * u * u, b = 3 * u * u * t, c = 3 * u * t * t, d = t * t * t;
  return {a * p[0].x + b * p[1].x + c * p[2].x + d * p[3].x, a * p[0].y + b * p[1].y + c * p[2].y + d * p[3].y};
}

//! Smallest distance from q to the samples of `curve`, skipping those within `skip` pixels of
//! arc length from either end (a curve's own ends do not count as crossings of its markers).
inline double distance_to_curve(pixel_point q, const path_curve& curve, double skip = 0) {
  double best = 1e300, arc = 0, total = 0;
  for (std::size_t i = 1; i < curve.samples.size(); ++i) total += dist(curve.samples[i - 1], curve.samples[i]);
  for (std::size_t i = 0; i < curve.samples.size(); ++i) {
    if (i) arc += dist(curve.samples[i - 1], curve.samples[i]);
    if (arc >= skip && total - arc >= skip) best = std::min(best, dist(q, curve.samples[i]));
  }
  return best;
}

//! Markers stay clear of every other curve and of each other; a curve also stays clear of its
//! own markers away from its ends.
inline bool placement_ok(const path_curve& c, const std::vector<path_curve>& placed, double R, double stroke) {
  const pixel_point ends[] = {c.samples.front(), c.samples.back()};
  const double clear = R + 2 * stroke;
  if (dist(ends[0], ends[1]) < 3 * R) return false;
  for (const pixel_point& e : ends)
    if (distance_to_curve(e, c, 3 * R) < clear) return false;
  for (const path_curve& o : placed) {
    const pixel_point other_ends[] = {o.samples.front(), o.samples.back()};
    for (const pixel_point& e : ends) {
      if (distance_to_curve(e, o) < clear) return false;
      for (const pixel_point& f : other_ends)
        if (dist(e, f) < 3 * R) return false;
    }
    for (const pixel_point& f : other_ends)
      if (distance_to_curve(f, c) < clear) return false;
  }
  return true;
}

//! Waypoints along a dense polyline: every max_step pixels, and every min_step where the
//! direction has turned by more than 20 degrees or another curve passes within near pixels.
inline std::vector<pixel_point> waypoints(const path_curve& c, const std::vector<path_curve>& all, double min_step,
                                          double max_step, double near) {
  const auto& s = c.samples;
  std::vector<pixel_point> out = {s.front()};
  double arc = 0, heading = std::atan2(s[1].y - s[0].y, s[1].x - s[0].x);
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    arc += dist(s[i - 1], s[i]);
    const double h = std::atan2(s[i + 1].y - s[i].y, s[i + 1].x - s[i].x);
    double turn = std::fabs(h - heading);
    turn = std::min(turn, 2 * std::numbers::pi - turn);
    bool crowded = false;
    for (const path_curve& o : all)
      if (&o != &c && distance_to_curve(s[i], o) < near) crowded = true;
    if (arc >= max_step || (arc >= min_step && (turn > std::numbers::pi / 9.0 || crowded))) {
      out.push_back(s[i]);
      arc = 0;
      heading = h;
    }
  }
  out.push_back(s.back());
  return out;
}

}  // namespace detail

[[nodiscard]] inline result<path_task> generate_path_task(const path_task_params& p, std::uint32_t seed) {
  const std::string where = "generate_path_task: ";
  if (p.curves < 1 || p.curves > 12) return make_error(status::invalid_argument, where + "curves must be within 1..12");
  if (p.width < 128 || p.height < 128 || p.width > 8192 || p.height > 8192)
    return make_error(status::invalid_argument, where + "the canvas must be within 128..8192 pixels per side");
  if (!(p.marker_radius >= 2 && p.stroke >= 1 && p.marker_radius * 8 < std::min(p.width, p.height)))
    return make_error(status::invalid_argument, where + "marker radius and stroke must be >= 2 and >= 1, and the marker small");
  if (!(p.curvature >= 0 && p.curvature <= 2)) return make_error(status::invalid_argument, where + "curvature must be within 0..2");

  std::mt19937 rng(seed);
  auto uniform = [&](double lo, double hi) { return lo + (hi - lo) * static_cast<double>(rng() % 1000001) / 1e6; };
  constexpr std::array<std::array<std::uint8_t, 3>, 12> palette = {{{230, 25, 75},  {60, 180, 75},  {0, 130, 200},
                                                                    {245, 130, 48}, {145, 30, 180}, {70, 190, 190},
                                                                    {240, 50, 230}, {128, 128, 0},  {0, 0, 128},
                                                                    {170, 110, 40}, {128, 0, 0},    {90, 90, 90}}};
  const double R = p.marker_radius, margin = 2 * R;
  const double W = p.width, H = p.height, side = std::min(W, H);
  path_task task;
  task.width = p.width;
  task.height = p.height;
  task.marker_radius = R;

  for (int k = 0; k < p.curves; ++k) {
    bool placed = false;
    for (int attempt = 0; attempt < p.attempts_per_curve && !placed; ++attempt) {
      path_curve c;
      const pixel_point a{uniform(margin, W - margin), uniform(margin, H - margin)};
      const pixel_point b{uniform(margin, W - margin), uniform(margin, H - margin)};
      const double len = detail::dist(a, b);
      if (len < 0.35 * side) continue;
      const double nx = -(b.y - a.y) / len, ny = (b.x - a.x) / len;  // unit normal
      c.control[0] = a;
      c.control[3] = b;
      for (int j = 1; j <= 2; ++j) {
        const double off = uniform(-1, 1) * p.curvature * len;
        c.control[static_cast<std::size_t>(j)] = {std::clamp(a.x + (b.x - a.x) * j / 3.0 + nx * off, margin, W - margin),
                                                  std::clamp(a.y + (b.y - a.y) * j / 3.0 + ny * off, margin, H - margin)};
      }
      const int n = std::max(64, static_cast<int>(len / 2));
      for (int i = 0; i <= n; ++i) c.samples.push_back(detail::bezier(c.control, static_cast<double>(i) / n));
      c.stroke = p.uniform_style ? p.stroke : p.stroke * uniform(0.75, 1.5);
      c.rgb = p.uniform_style ? std::array<std::uint8_t, 3>{51, 51, 51} : palette[static_cast<std::size_t>(k)];
      if (detail::placement_ok(c, task.curves, R, p.stroke * 1.5)) {
        task.curves.push_back(std::move(c));
        placed = true;
      }
    }
    if (!placed)
      return make_error(status::invalid_argument, where + "could not place curve " + std::to_string(k + 1) + " of " +
                                                      std::to_string(p.curves) + " on " + std::to_string(p.width) + "x" +
                                                      std::to_string(p.height) + " in " +
                                                      std::to_string(p.attempts_per_curve) + " attempts");
  }

  // Start letters in order, end numbers shuffled so that position gives nothing away.
  std::vector<int> numbers(task.curves.size());
  for (std::size_t i = 0; i < numbers.size(); ++i) numbers[i] = static_cast<int>(i) + 1;
  for (std::size_t i = numbers.size(); i > 1; --i) std::swap(numbers[i - 1], numbers[rng() % i]);
  for (std::size_t i = 0; i < task.curves.size(); ++i) {
    task.curves[i].start_label = std::string(1, static_cast<char>('A' + i));
    task.curves[i].end_label = std::to_string(numbers[i]);
  }

  task.query = rng() % task.curves.size();
  const path_curve& q = task.curves[task.query];
  auto to_point = [&](pixel_point px) { return point{to_normalized(px.x, p.width), to_normalized(px.y, p.height)}; };
  // Marker boxes are centred on the marker's own 0..999 centre, so that the reference end
  // points score exactly.
  const int rx = to_normalized(R, p.width), ry = to_normalized(R, p.height);
  auto marker_box = [&](pixel_point c) {
    const point m = to_point(c);
    return box{m.x - rx, m.y - ry, m.x + rx, m.y + ry};
  };
  for (const pixel_point& w : detail::waypoints(q, task.curves, 0.02 * side, 0.08 * side, 4 * p.stroke))
    task.waypoints.push_back(to_point(w));
  task.start_box = marker_box(q.samples.front());
  task.end_box = marker_box(q.samples.back());
  task.answer = q.end_label;
  task.question = "Which number does the line starting at " + q.start_label +
                  " lead to? Trace it, then put the destination label in \\boxed{}.";
  task.reference = "The line starts at " + q.start_label + ": " + format_points({task.waypoints.front()}) +
                   ". Following it: " + format_points(task.waypoints) + " It ends at " +
                   format_points({task.waypoints.back()}) + ". \\boxed{" + task.answer + "}";
  return task;
}

}  // namespace primitives
VPRIM_NAMESPACE_END
