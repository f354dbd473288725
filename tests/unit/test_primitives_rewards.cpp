// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#include <cmath>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "vprim/primitives/rewards.hpp"

using namespace vprim::primitives;

TEST_CASE("counting reward follows Eq. 1, y = 0 included", "[primitives][rewards]") {
  REQUIRE(counting_reward(5, 5) == Approx(0.7));
  REQUIRE(counting_reward(4, 5) == Approx(0.7 * std::exp(-3.0 / 6.0)));
  REQUIRE(counting_reward(7, 5) == Approx(0.7 * std::exp(-6.0 / 6.0)));
  REQUIRE(counting_reward(0, 0) == Approx(0.7));
  REQUIRE(counting_reward(2, 0) == Approx(0.7 * std::exp(-6.0)));  // 0.7 e^(-3 yhat)
  REQUIRE(counting_reward(3, 4, 1.0, 1.0) == Approx(std::exp(-0.2)));
}

TEST_CASE("format reward: malformed, duplicates, runaway", "[primitives][rewards]") {
  REQUIRE(format_reward(parse_text("<|ref|>a<|/ref|><|box|>[[1,2,3,4]]<|/box|> and <|point|>[[5,6]]<|/point|>")) == 1.0);
  REQUIRE(format_reward(parse_text("no primitives at all")) == 1.0);
  REQUIRE(format_reward(parse_text("<|point|>[660,750]]<|/point|>")) == 0.0);
  // 4 boxes, one repeats the first: 1 - 1/4
  REQUIRE(format_reward(parse_text("<|ref|>a<|/ref|><|box|>[[0,0,10,10],[0,0,10,10],[50,50,60,60],[80,80,90,90]]<|/box|>")) ==
          Approx(0.75));
  std::string runaway;
  for (int i = 0; i < 10; ++i) runaway += "<|point|>[[1,1]]<|/point|>";
  REQUIRE(format_reward(parse_text(runaway), format_params{0.9, 5}) == 0.0);
  REQUIRE(format_reward(parse_text(runaway), format_params{0.9, 10}) == 1.0);
}

TEST_CASE("path-tracing reward terms", "[primitives][rewards]") {
  path_reference ref{{{0, 0}, {100, 0}, {100, 100}}, {0, 0, 10, 10}, {90, 90, 110, 110}, "octopus"};
  path_prediction exact{{{0, 0}, {100, 0}, {100, 100}}, {5, 5}, {100, 100}, "octopus"};
  const auto t = path_reward(exact, ref);
  REQUIRE(t.trajectory == 1.0);
  REQUIRE(t.endpoints == 1.0);
  REQUIRE(t.continuity == 1.0);
  REQUIRE(t.answer == 1.0);
  REQUIRE(t.total == Approx(1.0));
  // the trajectory shifted down by 5 (bidirectional distance 10/3, as in the geometry test), a
  // wrong answer, and an end point 20 units below its box centre
  path_prediction off{{{0, 5}, {100, 5}, {100, 105}}, {5, 5}, {100, 120}, "5"};
  const auto u = path_reward(off, ref);
  REQUIRE(u.trajectory == Approx(std::exp(-(10.0 / 3.0) / 50.0)));
  REQUIRE(u.endpoints == Approx(0.5 * (1.0 + (1.0 - 20.0 / 40.0))));
  REQUIRE(u.continuity == 1.0);  // 15 units from the end point: within the threshold
  REQUIRE(u.answer == 0.0);
  path_prediction jump = off;
  jump.end = {200, 200};
  REQUIRE(path_reward(jump, ref).continuity == 0.0);
  REQUIRE(path_reward(path_prediction{}, ref).trajectory == 0.0);
}

TEST_CASE("predictions read from transcripts skip empty lists", "[primitives][rewards]") {
  // "[]" is a valid, empty list (found by the fuzzer: it must not be dereferenced)
  const auto p = path_prediction_from(parse_text("<|point|>[]<|/point|> from <|point|>[[1,2]]<|/point|> along "
                                                 "<|point|>[[1,2],[3,4],[5,6]]<|/point|> to <|point|>[[5,6]]<|/point|><|point|>[]<|/point|>"));
  REQUIRE(p.start == point{1, 2});
  REQUIRE(p.end == point{5, 6});
  REQUIRE(p.trajectory.size() == 3);
  const auto none = path_prediction_from(parse_text("<|point|>[]<|/point|>"));
  REQUIRE(none.trajectory.empty());
  REQUIRE(maze_prediction_from(parse_text("<|point|>[]<|/point|>")).exploration.empty());
}

namespace {
// 2x3 grid, start 0 (top-left), goal 5 (bottom-right):
//   0 - 1 - 2
//   |       |
//   3 - 4   5
// Solution 0 1 2 5 (3 moves); steps to the goal: 0:3 1:2 2:1 3:4 4:5 5:0.
maze hand_made_maze(bool solvable) {
  maze m(maze_shape{maze_kind::rectangular, 2, 3, 999, 999, 0.0});
  m.start = 0;
  m.goal = 5;
  for (auto [a, b] : std::vector<std::pair<int, int>>{{0, 1}, {1, 2}, {2, 5}, {0, 3}, {3, 4}}) m.set_passage(a, b, true);
  if (!solvable) m.set_passage(2, 5, false);
  return m;
}
std::vector<point> cells(const maze& m, std::initializer_list<int> ids) {
  std::vector<point> pts;
  for (int c : ids) pts.push_back(m.centre(c));
  return pts;
}
}  // namespace

TEST_CASE("maze reward terms on a hand-made maze", "[primitives][rewards][maze]") {
  const maze m = hand_made_maze(true);
  SECTION("a dead end, a backtrack and the right path: everything 1") {
    const auto t = maze_reward(m, {{cells(m, {0, 3, 4}), cells(m, {0, 1, 2, 5})}, cells(m, {0, 1, 2, 5}), true});
    REQUIRE(t.progress == 1.0);
    REQUIRE(t.completeness == 1.0);
    REQUIRE(t.wall == 1.0);
    REQUIRE(t.path == 1.0);
    REQUIRE(t.answer == 1.0);
    REQUIRE(t.total == Approx(1.0));
    REQUIRE(t.explored_cells == 6);
  }
  SECTION("a wall crossing truncates the causal trace; the wall term counts every violation") {
    // 0 1 | then 1 -> 4 through a wall (stop: explored {0, 1}, 2 steps from the goal), then 4 -> 5 through a wall
    const auto t = maze_reward(m, {{cells(m, {0, 1}), cells(m, {1, 4}), cells(m, {4, 5})}, cells(m, {4, 5}), true});
    REQUIRE(t.explored_cells == 2);
    REQUIRE(t.progress == Approx(1.0 - 2.0 / 3.0));
    REQUIRE(t.violations == 2);
    REQUIRE(t.wall == Approx(1.0 - 2.0 / 5.0));
    REQUIRE(t.path == 0.0);  // the final path does not start at the start
    REQUIRE(t.answer == 1.0);
    REQUIRE(t.completeness == 1.0);
    REQUIRE(t.total == Approx(0.2 * (1.0 / 3.0 + 1.0 + 0.6 + 0.0 + 1.0)));
  }
  SECTION("a trace that does not begin at the start explores nothing") {
    const auto t = maze_reward(m, {{cells(m, {1, 2, 5})}, cells(m, {1, 2, 5}), false});
    REQUIRE(t.explored_cells == 0);
    REQUIRE(t.progress == 0.0);
    REQUIRE(t.wall == 1.0);  // no move crossed a wall
    REQUIRE(t.answer == 0.0);
  }
  SECTION("unsolvable: completeness over the cells reachable from the start") {
    const maze u = hand_made_maze(false);
    const auto t = maze_reward(u, {{cells(u, {0, 1, 2})}, {}, false});
    REQUIRE(t.completeness == Approx(3.0 / 5.0));
    REQUIRE(t.progress == 1.0);
    REQUIRE(t.path == 1.0);
    REQUIRE(t.answer == 1.0);
    REQUIRE(t.total == Approx(0.2 * (1.0 + 0.6 + 1.0 + 1.0 + 1.0)));
    REQUIRE(maze_reward(u, {{cells(u, {0, 1, 2})}, {}, std::nullopt}).answer == 0.0);  // no answer given
  }
  SECTION("from a transcript: single points locate, lists move, \\boxed{} answers") {
    const std::string transcript = "Start " + format_points(cells(m, {0})) + ", goal " + format_points(cells(m, {5})) +
                                   ". **Step1**: down " + format_points(cells(m, {0, 3, 4})) + " dead end, back to " +
                                   format_points(cells(m, {0})) + ". **Step2**: " + format_points(cells(m, {0, 1, 2, 5})) +
                                   " Path: " + format_points(cells(m, {0, 1, 2, 5})) + " \\boxed{True}";
    const auto pred = maze_prediction_from(parse_text(transcript));
    REQUIRE(pred.exploration.size() == 3);
    REQUIRE(pred.final_path == cells(m, {0, 1, 2, 5}));
    REQUIRE(pred.solvable == true);
    REQUIRE(maze_reward(m, pred).total == Approx(1.0));
    REQUIRE_FALSE(maze_prediction_from(parse_text("\\boxed{maybe}")).solvable.has_value());
  }
}

TEST_CASE("maze reward of the reference answer is 1 on generated mazes", "[primitives][rewards][maze]") {
  for (auto kind : {maze_kind::rectangular, maze_kind::circular, maze_kind::hexagonal})
    for (bool solvable : {true, false}) {
      CAPTURE(static_cast<int>(kind), solvable);
      const auto m = generate_maze(maze_shape{kind, 7, 9}, maze_algorithm::prim, 42, solvable);
      REQUIRE(m);
      const auto pred = maze_prediction_from(parse_text(reference_answer(*m)));
      const auto t = maze_reward(*m, pred);
      REQUIRE(t.answer == 1.0);
      REQUIRE(t.wall == 1.0);
      if (solvable) REQUIRE(t.total == Approx(1.0));
      else REQUIRE(t.completeness == 0.0);  // "False" with no exploration explores nothing
    }
}
