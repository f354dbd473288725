// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file rewards.hpp
//! Rule-based rewards of the paper (§2.5.2; research/visual_primitives.md §4.4) as pure
//! functions. Where the paper gives no weights or thresholds they are parameters whose defaults
//! are ours and documented here:
//! - counting (Eq. 1): alpha * exp(-beta * |yhat - y| / (|y| + 1)), alpha 0.7, beta 3 (paper);
//! - format: 0 if the transcript has a malformed primitive; otherwise 1 - (duplicate boxes /
//!   boxes), and 0 when it holds more than max_primitives primitives (runaway repetition);
//! - path tracing: w_traj * exp(-d / traj_scale) + w_end * mean endpoint score + w_cont *
//!   continuity + w_ans * answer, where d is the bidirectional trajectory distance (coordinate
//!   units), an endpoint scores max(0, 1 - distance / endpoint_tolerance) against the reference
//!   box centre, and continuity is 0 when the trajectory's last point is farther than
//!   continuity_threshold from the predicted end point, else 1.

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "vprim/primitives/codec.hpp"
#include "vprim/primitives/geometry.hpp"

VPRIM_NAMESPACE_BEGIN
namespace primitives {

//! Eq. 1 of the paper. y = 0 is well defined: 0.7 * exp(-3 * yhat).
[[nodiscard]] inline double counting_reward(double predicted, double truth, double alpha = 0.7, double beta = 3.0) noexcept {
  return alpha * std::exp(-beta * std::fabs(predicted - truth) / (std::fabs(truth) + 1.0));
}

struct format_params {
  double duplicate_iou = 0.9;          //!< boxes at least this similar to an earlier one are duplicates
  std::size_t max_primitives = 256;    //!< more boxes + point lists than this is runaway generation
};

[[nodiscard]] inline double format_reward(const parse_result& r, const format_params& p = {}) {
  if (!r.errors.empty()) return 0.0;
  std::vector<box> boxes;
  for (const auto& ref : r.refs) boxes.insert(boxes.end(), ref.boxes.begin(), ref.boxes.end());
  if (boxes.size() + r.points.size() > p.max_primitives) return 0.0;
  if (boxes.empty()) return 1.0;
  return 1.0 - static_cast<double>(duplicate_count(boxes, p.duplicate_iou)) / static_cast<double>(boxes.size());
}

struct path_params {
  double traj_scale = 50.0;            //!< distance (0..999 units) at which the trajectory term falls to 1/e
  double endpoint_tolerance = 40.0;    //!< endpoint score reaches 0 at this distance
  double continuity_threshold = 30.0;  //!< a last trajectory point farther than this from the end point is a jump
  double w_traj = 0.4, w_end = 0.3, w_cont = 0.1, w_ans = 0.2;
};

struct path_prediction {
  std::vector<point> trajectory;
  point start, end;
  std::string answer;
};
struct path_reference {
  std::vector<point> trajectory;
  box start_box, end_box;
  std::string answer;
};

struct path_reward_terms {
  double trajectory = 0, endpoints = 0, continuity = 0, answer = 0, total = 0;
};

[[nodiscard]] inline path_reward_terms path_reward(const path_prediction& pred, const path_reference& ref,
                                                   const path_params& p = {}) {
  path_reward_terms t;
  const double d = bidirectional_polyline_distance(pred.trajectory, ref.trajectory);
  t.trajectory = std::isfinite(d) ? std::exp(-d / p.traj_scale) : 0.0;
  auto centre = [](const box& b) { return point{(b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2}; };
  auto endpoint_score = [&](const point& q, const box& b) {
    return std::max(0.0, 1.0 - distance(q, centre(b)) / p.endpoint_tolerance);
  };
  t.endpoints = 0.5 * (endpoint_score(pred.start, ref.start_box) + endpoint_score(pred.end, ref.end_box));
  t.continuity = !pred.trajectory.empty() && distance(pred.trajectory.back(), pred.end) <= p.continuity_threshold ? 1.0 : 0.0;
  t.answer = pred.answer == ref.answer ? 1.0 : 0.0;
  t.total = p.w_traj * t.trajectory + p.w_end * t.endpoints + p.w_cont * t.continuity + p.w_ans * t.answer;
  return t;
}

}  // namespace primitives
VPRIM_NAMESPACE_END
