// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file geometry.hpp
//! Geometry of primitives, for matching and rewards: box IoU (continuous coordinates: a box
//! [x1,y1,x2,y2] covers x1 <= x <= x2), greedy and optimal (Hungarian) matching of predicted to
//! reference boxes, non-maximum suppression, duplicate detection, point-to-segment and
//! point-to-polyline distances, and the bidirectional trajectory distance of the path-tracing
//! reward (research/visual_primitives.md §4.4): the mean over predicted points of the distance
//! to the reference polyline and the mean over reference points of the distance to the
//! predicted polyline, averaged.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "vprim/primitives/codec.hpp"

VPRIM_NAMESPACE_BEGIN
namespace primitives {

[[nodiscard]] inline double area(const box& b) noexcept {
  return std::max(0.0, static_cast<double>(b.x2 - b.x1)) * std::max(0.0, static_cast<double>(b.y2 - b.y1));
}

//! Intersection over union; two identical zero-area boxes have IoU 1.
[[nodiscard]] inline double iou(const box& a, const box& b) noexcept {
  const double iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1), ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  const double inter = std::max(0.0, iw) * std::max(0.0, ih);
  const double uni = area(a) + area(b) - inter;
  if (uni <= 0.0) return a == b ? 1.0 : 0.0;
  return inter / uni;
}

struct match {
  std::size_t pred = 0, ref = 0;
  double iou = 0.0;
};

//! Repeatedly pairs the highest-IoU unmatched (pred, ref), stopping below `threshold`.
[[nodiscard]] inline std::vector<match> greedy_match(const std::vector<box>& pred, const std::vector<box>& ref,
                                                     double threshold = 0.5) {
  std::vector<match> all;
  for (std::size_t i = 0; i < pred.size(); ++i)
    for (std::size_t j = 0; j < ref.size(); ++j)
      if (const double v = iou(pred[i], ref[j]); v >= threshold) all.push_back({i, j, v});
  std::stable_sort(all.begin(), all.end(), [](const match& a, const match& b) { return a.iou > b.iou; });
  std::vector<bool> used_p(pred.size()), used_r(ref.size());
  std::vector<match> out;
  for (const match& m : all)
    if (!used_p[m.pred] && !used_r[m.ref]) {
      used_p[m.pred] = used_r[m.ref] = true;
      out.push_back(m);
    }
  return out;
}

//! Assignment maximising the total of `score` [rows x cols] (Hungarian algorithm, O(n^3) on the
//! padded square): assignment[r] is the chosen column or -1.
[[nodiscard]] inline std::vector<std::int64_t> max_weight_assignment(const std::vector<double>& score, std::size_t rows,
                                                                     std::size_t cols) {
  const std::size_t n = std::max(rows, cols);
  if (n == 0) return {};
  double hi = 0.0;
  for (double s : score) hi = std::max(hi, s);
  // cost[i][j] = hi - score (padding cells cost hi: they score 0)
  auto cost = [&](std::size_t i, std::size_t j) { return (i < rows && j < cols) ? hi - score[i * cols + j] : hi; };
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0.0), v(n + 1, 0.0), minv(n + 1);
  std::vector<std::size_t> p(n + 1, 0), way(n + 1, 0);
  for (std::size_t i = 1; i <= n; ++i) {  // classic potentials formulation, 1-based
    p[0] = i;
    std::size_t j0 = 0;
    std::fill(minv.begin(), minv.end(), inf);
    std::vector<bool> used(n + 1, false);
    do {
      used[j0] = true;
      const std::size_t i0 = p[j0];
      double delta = inf;
      std::size_t j1 = 0;
      for (std::size_t j = 1; j <= n; ++j) {
        if (used[j]) continue;
        const double cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (std::size_t j = 0; j <= n; ++j) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      const std::size_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<std::int64_t> assignment(rows, -1);
  for (std::size_t j = 1; j <= n; ++j)
    if (p[j] >= 1 && p[j] - 1 < rows && j - 1 < cols) assignment[p[j] - 1] = static_cast<std::int64_t>(j - 1);
  return assignment;
}

//! The matching of maximal total IoU, keeping pairs with IoU >= threshold.
[[nodiscard]] inline std::vector<match> hungarian_match(const std::vector<box>& pred, const std::vector<box>& ref,
                                                        double threshold = 0.5) {
  std::vector<double> s(pred.size() * ref.size());
  for (std::size_t i = 0; i < pred.size(); ++i)
    for (std::size_t j = 0; j < ref.size(); ++j) s[i * ref.size() + j] = iou(pred[i], ref[j]);
  const auto a = max_weight_assignment(s, pred.size(), ref.size());
  std::vector<match> out;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] >= 0 && s[i * ref.size() + static_cast<std::size_t>(a[i])] >= threshold)
      out.push_back({i, static_cast<std::size_t>(a[i]), s[i * ref.size() + static_cast<std::size_t>(a[i])]});
  return out;
}

//! Non-maximum suppression: indices kept, highest score first.
[[nodiscard]] inline std::vector<std::size_t> nms(const std::vector<box>& boxes, const std::vector<double>& scores,
                                                  double iou_threshold) {
  std::vector<std::size_t> order(boxes.size()), kept;
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  for (std::size_t i : order) {
    const bool suppressed = std::any_of(kept.begin(), kept.end(), [&](std::size_t k) { return iou(boxes[i], boxes[k]) > iou_threshold; });
    if (!suppressed) kept.push_back(i);
  }
  return kept;
}

//! How many boxes repeat an earlier box (IoU >= threshold): the Format reward's redundancy.
[[nodiscard]] inline std::size_t duplicate_count(const std::vector<box>& boxes, double iou_threshold = 0.9) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < boxes.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (iou(boxes[i], boxes[j]) >= iou_threshold) {
        ++n;
        break;
      }
  return n;
}

[[nodiscard]] inline double distance(const point& a, const point& b) noexcept {
  return std::hypot(static_cast<double>(a.x - b.x), static_cast<double>(a.y - b.y));
}

[[nodiscard]] inline double point_segment_distance(const point& p, const point& a, const point& b) noexcept {
  const double dx = b.x - a.x, dy = b.y - a.y, len2 = dx * dx + dy * dy;
  if (len2 == 0.0) return distance(p, a);
  const double t = std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / len2, 0.0, 1.0);
  return std::hypot(a.x + t * dx - p.x, a.y + t * dy - p.y);
}

//! Distance to the nearest segment of a polyline (a single point is a degenerate polyline);
//! infinity for an empty one.
[[nodiscard]] inline double point_polyline_distance(const point& p, const std::vector<point>& line) noexcept {
  if (line.empty()) return std::numeric_limits<double>::infinity();
  if (line.size() == 1) return distance(p, line[0]);
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i + 1 < line.size(); ++i) best = std::min(best, point_segment_distance(p, line[i], line[i + 1]));
  return best;
}

//! The path-tracing trajectory distance (in coordinate units); infinity if either is empty.
[[nodiscard]] inline double bidirectional_polyline_distance(const std::vector<point>& pred, const std::vector<point>& ref) {
  if (pred.empty() || ref.empty()) return std::numeric_limits<double>::infinity();
  double forward = 0.0, reverse = 0.0;
  for (const point& p : pred) forward += point_polyline_distance(p, ref);
  for (const point& r : ref) reverse += point_polyline_distance(r, pred);
  return 0.5 * (forward / static_cast<double>(pred.size()) + reverse / static_cast<double>(ref.size()));
}

}  // namespace primitives
VPRIM_NAMESPACE_END
