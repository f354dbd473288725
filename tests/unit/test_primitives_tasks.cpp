// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// Path-tracing task generation and the pictures of both task kinds.
#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "vprim/primitives/task_render.hpp"

using namespace vprim;
using namespace vprim::primitives;

namespace {
double dist(pixel_point a, pixel_point b) { return std::hypot(a.x - b.x, a.y - b.y); }
// brute force: nearest sample of a curve to q
double nearest(const path_curve& c, pixel_point q) {
  double best = 1e300;
  for (const auto& s : c.samples) best = std::min(best, dist(s, q));
  return best;
}
draw::colour pixel_at(const rgb_image& img, double x, double y) {
  const auto* p = img.row(static_cast<int>(y)) + static_cast<std::size_t>(x) * 3;
  return {p[0], p[1], p[2]};
}
}  // namespace

TEST_CASE("path-tracing tasks keep their markers clear and answer themselves", "[primitives][path]") {
  for (int curves : {1, 3, 6, 10})
    for (bool uniform : {false, true})
      for (std::uint32_t seed : {1u, 7u, 2026u}) {
        CAPTURE(curves, uniform, seed);
        path_task_params p;
        p.curves = curves;
        p.uniform_style = uniform;
        const auto task = generate_path_task(p, seed);
        REQUIRE(task);
        REQUIRE(task->curves.size() == static_cast<std::size_t>(curves));
        std::set<std::string> starts, ends;
        for (const auto& c : task->curves) {
          starts.insert(c.start_label);
          ends.insert(c.end_label);
          if (uniform) {
            REQUIRE(c.rgb == task->curves[0].rgb);
            REQUIRE(c.stroke == task->curves[0].stroke);
          }
        }
        REQUIRE(starts.size() == task->curves.size());  // labels are unique
        REQUIRE(ends.size() == task->curves.size());
        // No marker is crossed by another curve, and markers keep apart.
        const double R = task->marker_radius;
        for (std::size_t i = 0; i < task->curves.size(); ++i)
          for (const pixel_point e : {task->curves[i].samples.front(), task->curves[i].samples.back()})
            for (std::size_t j = 0; j < task->curves.size(); ++j) {
              if (j == i) continue;
              REQUIRE(nearest(task->curves[j], e) > R);
              REQUIRE(dist(e, task->curves[j].samples.front()) >= 3 * R);
              REQUIRE(dist(e, task->curves[j].samples.back()) >= 3 * R);
            }
        // The reference transcript parses back and scores full marks against its own task.
        const auto parsed = parse_text(task->reference);
        REQUIRE(parsed.errors.empty());
        REQUIRE(parsed.answer == task->answer);
        REQUIRE(parsed.answer == task->curves[task->query].end_label);
        const auto pred = path_prediction_from(parsed);
        REQUIRE(pred.trajectory == task->waypoints);
        REQUIRE(path_reward(pred, task->as_reference()).total == Approx(1.0));
        // the same seed, the same task
        REQUIRE(generate_path_task(p, seed)->reference == task->reference);
      }
}

TEST_CASE("path-tracing waypoints follow the curve, denser where it bends", "[primitives][path]") {
  path_task_params p;
  p.curves = 1;
  p.curvature = 1.0;
  const auto task = generate_path_task(p, 5);
  REQUIRE(task);
  const auto& c = task->curves[0];
  // every waypoint lies on the curve (within the rounding of 0..999 coordinates)
  for (const point& w : task->waypoints)
    REQUIRE(nearest(c, {to_pixel(w.x, p.width), to_pixel(w.y, p.height)}) < 1.5);
  // no gap longer than the maximum step (8% of the side) plus one sample
  for (std::size_t i = 1; i < task->waypoints.size(); ++i) {
    const double gap = std::hypot(to_pixel(task->waypoints[i].x - task->waypoints[i - 1].x, p.width),
                                  to_pixel(task->waypoints[i].y - task->waypoints[i - 1].y, p.height));
    REQUIRE(gap < 0.08 * 768 + 8);
  }
  // a straight line needs only the maximum-step waypoints
  path_task_params straight = p;
  straight.curvature = 0.0;
  const auto line = generate_path_task(straight, 5);
  REQUIRE(line);
  double length = 0;
  for (std::size_t i = 1; i < line->curves[0].samples.size(); ++i) length += dist(line->curves[0].samples[i - 1], line->curves[0].samples[i]);
  REQUIRE(line->waypoints.size() <= static_cast<std::size_t>(length / (0.08 * 768)) + 2);
}

TEST_CASE("path-tracing parameters are checked, and crowded boards fail instead of looping", "[primitives][path]") {
  path_task_params p;
  p.curves = 0;
  REQUIRE_FALSE(generate_path_task(p, 1));
  p.curves = 13;
  REQUIRE_FALSE(generate_path_task(p, 1));
  p = {};
  p.width = 64;
  REQUIRE_FALSE(generate_path_task(p, 1));
  p = {};
  p.width = p.height = 160;
  p.marker_radius = 19;
  p.curves = 12;
  p.attempts_per_curve = 50;
  const auto crowded = generate_path_task(p, 1);
  REQUIRE_FALSE(crowded);
  REQUIRE_THAT(crowded.err().message, Catch::Contains("could not place curve"));
}

TEST_CASE("maze pictures have walls exactly where passages are closed", "[primitives][render][maze]") {
  for (auto kind : {maze_kind::rectangular, maze_kind::circular, maze_kind::hexagonal}) {
    CAPTURE(static_cast<int>(kind));
    const auto m = generate_maze(maze_shape{kind, 6, 10, 1100, 900}, maze_algorithm::kruskal, 11);
    REQUIRE(m);
    maze_style style;
    const rgb_image img = render_maze(*m, style);
    REQUIRE(img.check() == status::ok);
    std::size_t open = 0, closed = 0;
    for (int a = 0; a < m->cells(); ++a)
      for (int s = 0; s < m->layout.degree(); ++s) {
        const int b = m->neighbour(a, s);
        if (b < a) continue;
        // the midpoint of two adjacent centres lies on the side they share
        const auto p = m->layout.centre_px(a), q = m->layout.centre_px(b);
        const draw::colour c = pixel_at(img, (p.x + q.x) / 2, (p.y + q.y) / 2);
        if (m->passage(a, b)) {
          REQUIRE(c == style.background);
          ++open;
        } else {
          REQUIRE(c == style.wall);
          ++closed;
        }
      }
    REQUIRE(open == m->passages());
    REQUIRE(closed > 0);
    // start and goal markers
    const auto s = m->layout.centre_px(m->start), g = m->layout.centre_px(m->goal);
    REQUIRE(pixel_at(img, s.x, s.y) == style.start);
    REQUIRE(pixel_at(img, g.x, g.y) == style.goal);
  }
}

TEST_CASE("path-tracing pictures draw every curve and marker", "[primitives][render][path]") {
  path_task_params p;
  p.curves = 3;
  const auto task = generate_path_task(p, 3);
  REQUIRE(task);
  const rgb_image img = render_path_task(*task);
  for (const auto& c : task->curves) {
    // a sample in the middle of the curve has its colour unless another curve crosses there
    const auto mid = c.samples[c.samples.size() / 2];
    bool crossed = false;
    for (const auto& o : task->curves)
      if (&o != &c && nearest(o, mid) < 2 * p.stroke) crossed = true;
    if (!crossed) REQUIRE(pixel_at(img, mid.x, mid.y) == draw::colour{c.rgb[0], c.rgb[1], c.rgb[2]});
    // markers are not painted over by lines: a point inside the marker, off its label, has its fill
    const auto e = c.samples.back();
    REQUIRE(pixel_at(img, e.x, e.y - 0.8 * task->marker_radius) == draw::colour{255, 214, 10});
  }
}
