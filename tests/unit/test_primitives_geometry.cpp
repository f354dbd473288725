// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "vprim/image/preprocess.hpp"
#include "vprim/primitives/coordinates.hpp"
#include "vprim/primitives/geometry.hpp"

using namespace vprim::primitives;

TEST_CASE("normalised coordinates and pixels", "[primitives][coordinates]") {
  REQUIRE(to_normalized(0.0, 640) == 0);
  REQUIRE(to_normalized(640.0, 640) == 999);
  REQUIRE(to_normalized(-5.0, 640) == 0);
  REQUIRE(to_normalized(700.0, 640) == 999);
  REQUIRE(to_pixel(999, 640) == Approx(640.0));
  for (int v = 0; v <= 999; ++v) REQUIRE(to_normalized(to_pixel(v, 333), 333) == v);  // round trip
}

TEST_CASE("letterbox mapping inverts vprim::letterbox", "[primitives][coordinates]") {
  // a 30x10 image letterboxed into 42x42: fitted 42x14 at y = 14 (as vprim::letterbox places it)
  const auto m = letterbox_map::make(30, 10, 42, 42);
  REQUIRE(m.fit_w == 42);
  REQUIRE(m.fit_h == 14);
  REQUIRE(m.y0 == 14);
  REQUIRE(m.x0 == 0);
  REQUIRE(m.source_x(21.0) == Approx(15.0));
  REQUIRE(m.source_y(21.0) == Approx(5.0));
  REQUIRE(m.source_y(3.0) == 0.0);  // inside the band: clamped to the image
  // the centre of the letterboxed image is the centre of the original, within one unit (500 is
  // pixel 21.02 of 42, which the 14-pixel-tall band stretches to 501 of 999)
  const point c = m.to_source(point{500, 500});
  REQUIRE(std::abs(c.x - 500) <= 1);
  REQUIRE(std::abs(c.y - 500) <= 1);
  // a box around the fitted image's full extent covers the whole original
  const box band{0, to_normalized(14, 42), 999, to_normalized(28, 42)};
  const box back = m.to_source(band);
  REQUIRE(back.x1 == 0);
  REQUIRE(back.x2 == 999);
  REQUIRE(back.y1 <= 2);
  REQUIRE(back.y2 >= 997);
  // consistent with the pixel path: the mapping's fit equals letterbox()'s
  vprim::rgb_image img = vprim::rgb_image::filled(30, 10, 200);
  auto lb = vprim::letterbox(img, 42, 42, 0);
  REQUIRE(lb);
  REQUIRE(lb->row(m.y0)[0] == 200);
  REQUIRE(lb->row(m.y0 - 1)[0] == 0);
  REQUIRE(lb->row(m.y0 + m.fit_h - 1)[0] == 200);
  REQUIRE(lb->row(m.y0 + m.fit_h)[0] == 0);
}

TEST_CASE("IoU, NMS and duplicates", "[primitives][geometry]") {
  REQUIRE(iou({0, 0, 10, 10}, {5, 5, 15, 15}) == Approx(25.0 / 175.0));
  REQUIRE(iou({0, 0, 10, 10}, {0, 0, 10, 10}) == 1.0);
  REQUIRE(iou({0, 0, 10, 10}, {20, 20, 30, 30}) == 0.0);
  REQUIRE(iou({5, 5, 5, 5}, {5, 5, 5, 5}) == 1.0);
  const std::vector<box> boxes = {{0, 0, 10, 10}, {1, 1, 11, 11}, {50, 50, 60, 60}, {0, 0, 10, 10}};
  REQUIRE(nms(boxes, {0.9, 0.95, 0.5, 0.1}, 0.5) == std::vector<std::size_t>{1, 2});
  REQUIRE(duplicate_count(boxes, 0.9) == 1);
  REQUIRE(duplicate_count(boxes, 0.6) == 2);
}

TEST_CASE("Hungarian assignment is optimal where greedy is not", "[primitives][geometry]") {
  // greedy takes 0.9 then can only add 0.0; the optimum is 0.85 + 0.8
  const std::vector<double> s = {0.9, 0.85, 0.8, 0.0};
  const auto a = max_weight_assignment(s, 2, 2);
  REQUIRE(a == std::vector<std::int64_t>{1, 0});
  // against brute force over all permutations, rectangular shapes included
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int round = 0; round < 300; ++round) {
    const std::size_t rows = 1 + rng() % 6, cols = 1 + rng() % 6;
    std::vector<double> m(rows * cols);
    for (auto& x : m) x = u(rng);
    const auto got = max_weight_assignment(m, rows, cols);
    double got_total = 0;
    std::vector<int> seen(cols, 0);
    for (std::size_t r = 0; r < rows; ++r)
      if (got[r] >= 0) {
        got_total += m[r * cols + static_cast<std::size_t>(got[r])];
        REQUIRE(seen[static_cast<std::size_t>(got[r])]++ == 0);
      }
    std::vector<std::size_t> perm(std::max(rows, cols));
    std::iota(perm.begin(), perm.end(), 0);
    double best = 0;
    do {
      double t = 0;
      for (std::size_t r = 0; r < rows; ++r)
        if (perm[r] < cols) t += m[r * cols + perm[r]];
      best = std::max(best, t);
    } while (std::next_permutation(perm.begin(), perm.end()));
    CAPTURE(rows, cols);
    REQUIRE(got_total == Approx(best).epsilon(1e-12));
  }
  // on boxes: greedy and Hungarian agree when the best pairs are disjoint
  const std::vector<box> pred = {{0, 0, 10, 10}, {100, 100, 120, 120}}, ref = {{101, 101, 120, 120}, {1, 0, 10, 10}};
  const auto h = hungarian_match(pred, ref, 0.5), g = greedy_match(pred, ref, 0.5);
  REQUIRE(h.size() == 2);
  REQUIRE(g.size() == 2);
  REQUIRE(h[0].ref == 1);
  REQUIRE(h[1].ref == 0);
}

TEST_CASE("point, segment and polyline distances", "[primitives][geometry]") {
  REQUIRE(point_segment_distance({0, 0}, {3, 4}, {3, -4}) == Approx(3.0));
  REQUIRE(point_segment_distance({0, 0}, {3, 4}, {6, 8}) == Approx(5.0));  // nearest is the end point
  REQUIRE(point_segment_distance({1, 1}, {2, 2}, {2, 2}) == Approx(std::sqrt(2.0)));
  const std::vector<point> line = {{0, 0}, {10, 0}, {10, 10}};
  REQUIRE(point_polyline_distance({5, 3}, line) == Approx(3.0));
  REQUIRE(point_polyline_distance({13, 5}, line) == Approx(3.0));
  REQUIRE(std::isinf(point_polyline_distance({0, 0}, {})));
  REQUIRE(bidirectional_polyline_distance(line, line) == 0.0);
  std::vector<point> shifted = line;
  for (auto& p : shifted) p.y += 5;
  // forward: (0,5)->5, (10,5)->0, (10,15)->5 => 10/3; reverse: (0,0)->5, (10,0)->5, (10,10)->0 => 10/3
  REQUIRE(bidirectional_polyline_distance(shifted, line) == Approx(10.0 / 3.0));
  REQUIRE(std::isinf(bidirectional_polyline_distance({}, line)));
}
