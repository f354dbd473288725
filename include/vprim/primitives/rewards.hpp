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
//!   continuity_threshold from the predicted end point, else 1;
//! - maze: w_progress * progress + w_completeness * completeness + w_wall * wall + w_path *
//!   path + w_answer * answer, the five terms of §2.5.2 (see maze_reward below), all weights
//!   0.2 by default.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "vprim/primitives/codec.hpp"
#include "vprim/primitives/geometry.hpp"
#include "vprim/primitives/maze.hpp"

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

//! The prediction a path-tracing transcript makes: the trajectory is its longest point list,
//! the start the first point of the first list and the end the last point of the last list
//! (Fig. 6: start point, polyline, end point), empty lists skipped; the answer is the last \boxed{}.
[[nodiscard]] inline path_prediction path_prediction_from(const parse_result& r) {
  path_prediction p;
  const point_list* first = nullptr;
  const point_list* last = nullptr;
  for (const auto& list : r.points) {
    if (list.points.empty()) continue;  // "[]" is a valid, empty list
    if (list.points.size() > p.trajectory.size()) p.trajectory = list.points;
    if (first == nullptr) first = &list;
    last = &list;
  }
  if (first != nullptr) {
    p.start = first->points.front();
    p.end = last->points.back();
  }
  p.answer = r.answer.value_or("");
  return p;
}

// ---------------------------------------------------------------------------------------------
// Maze (§2.5.2). A transcript's exploration is the sequence of its point lists with at least
// two points (single points locate things: "the destination: [[652,644]]"). Inside a list,
// consecutive points are moves. A list may start anywhere already explored (backtracking is
// legal), and the first must start at the start cell. The causal trace stops at the first
// move through a wall, between non-adjacent cells, or from an unexplored cell.

struct maze_prediction {
  std::vector<std::vector<point>> exploration;  //!< moves, one list per step
  std::vector<point> final_path;                //!< the path the answer commits to
  std::optional<bool> solvable;                 //!< from \boxed{True} / \boxed{False}
};

//! Exploration = every list of two or more points; the final path = the last such list;
//! solvable = the last \boxed{} when it reads True or False (any case).
[[nodiscard]] inline maze_prediction maze_prediction_from(const parse_result& r) {
  maze_prediction p;
  for (const auto& list : r.points)
    if (list.points.size() >= 2) p.exploration.push_back(list.points);
  if (!p.exploration.empty()) p.final_path = p.exploration.back();
  if (r.answer) {
    std::string a = *r.answer;
    std::transform(a.begin(), a.end(), a.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (a == "true") p.solvable = true;
    if (a == "false") p.solvable = false;
  }
  return p;
}

struct maze_params {
  double w_progress = 0.2, w_completeness = 0.2, w_wall = 0.2, w_path = 0.2, w_answer = 0.2;
};

struct maze_reward_terms {
  double progress = 0, completeness = 0, wall = 0, path = 0, answer = 0, total = 0;
  std::size_t explored_cells = 0;  //!< cells reached by the causally valid trace
  std::size_t violations = 0;      //!< wall-crossing or jumping moves in the whole trace
};

//! The five maze terms:
//! 1. progress (solvable; 1 otherwise): 1 - d / L, d = passage steps from the causally
//!    explored region to the goal, L = moves of the shortest solution; 0 with nothing explored;
//! 2. completeness (unsolvable; 1 otherwise): explored cells / cells reachable from the start;
//! 3. wall: 1 - violating moves / passages of the maze (whole trace, not truncated), >= 0;
//! 4. path (solvable; 1 otherwise): the final path joins start to goal through passages only;
//! 5. answer: the predicted solvability is the true one.
[[nodiscard]] inline maze_reward_terms maze_reward(const maze& m, const maze_prediction& pred, const maze_params& p = {}) {
  maze_reward_terms t;
  std::vector<bool> explored(static_cast<std::size_t>(m.cells()), false);
  bool causal = true;
  for (std::size_t k = 0; k < pred.exploration.size(); ++k) {
    const auto& step = pred.exploration[k];
    int cell = m.cell_at(step.front());
    if (causal && !(k == 0 ? cell == m.start : explored[static_cast<std::size_t>(cell)])) causal = false;
    if (causal) explored[static_cast<std::size_t>(cell)] = true;
    for (std::size_t i = 1; i < step.size(); ++i) {
      const int next = m.cell_at(step[i]);
      if (next == cell) continue;
      const bool legal = m.passage(cell, next);
      if (!legal) ++t.violations;
      causal = causal && legal;
      if (causal) explored[static_cast<std::size_t>(next)] = true;
      cell = next;
    }
  }
  t.explored_cells = static_cast<std::size_t>(std::count(explored.begin(), explored.end(), true));

  const auto to_goal = passage_distances(m, m.goal);
  const bool truly_solvable = to_goal[static_cast<std::size_t>(m.start)] >= 0;
  if (truly_solvable) {
    int d = -1;
    for (int c = 0; c < m.cells(); ++c)
      if (explored[static_cast<std::size_t>(c)] && (d < 0 || to_goal[static_cast<std::size_t>(c)] < d))
        d = to_goal[static_cast<std::size_t>(c)];
    const double L = to_goal[static_cast<std::size_t>(m.start)];
    t.progress = d < 0 ? 0.0 : std::clamp(1.0 - d / L, 0.0, 1.0);
    t.completeness = 1.0;
    t.path = verify_path(m, pred.final_path).valid() ? 1.0 : 0.0;
  } else {
    const auto from_start = passage_distances(m, m.start);
    const auto reachable = std::count_if(from_start.begin(), from_start.end(), [](int v) { return v >= 0; });
    t.progress = 1.0;
    t.completeness = static_cast<double>(t.explored_cells) / static_cast<double>(reachable);
    t.path = 1.0;
  }
  t.wall = std::max(0.0, 1.0 - static_cast<double>(t.violations) / static_cast<double>(std::max<std::size_t>(m.passages(), 1)));
  t.answer = pred.solvable == truly_solvable ? 1.0 : 0.0;
  t.total = p.w_progress * t.progress + p.w_completeness * t.completeness + p.w_wall * t.wall + p.w_path * t.path +
            p.w_answer * t.answer;
  return t;
}

}  // namespace primitives
VPRIM_NAMESPACE_END
