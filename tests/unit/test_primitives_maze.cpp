// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#include <vector>

#include <catch2/catch.hpp>

#include "vprim/primitives/maze.hpp"

using namespace vprim::primitives;

namespace {
// cells reachable from the start through passages
std::size_t reachable(const maze& m) {
  std::vector<bool> seen(static_cast<std::size_t>(m.cells()), false);
  std::vector<int> stack = {m.start};
  seen[static_cast<std::size_t>(m.start)] = true;
  std::size_t n = 0;
  while (!stack.empty()) {
    const int c = stack.back();
    stack.pop_back();
    ++n;
    for (int d = 0; d < 4; ++d)
      if (const int x = m.neighbour(c, d); x >= 0 && m.passage(c, x) && !seen[static_cast<std::size_t>(x)]) {
        seen[static_cast<std::size_t>(x)] = true;
        stack.push_back(x);
      }
  }
  return n;
}
}  // namespace

TEST_CASE("perfect mazes are spanning trees for every algorithm", "[primitives][maze]") {
  for (auto algo : {maze_algorithm::dfs, maze_algorithm::prim, maze_algorithm::kruskal})
    for (auto [r, c] : std::vector<std::pair<int, int>>{{2, 2}, {5, 7}, {12, 12}, {3, 30}})
      for (std::uint32_t seed : {1u, 2u, 99u}) {
        CAPTURE(static_cast<int>(algo), r, c, seed);
        auto m = generate_maze(r, c, algo, seed);
        REQUIRE(m);
        REQUIRE(m->passages() == static_cast<std::size_t>(r * c - 1));  // a tree has cells - 1 edges
        REQUIRE(reachable(*m) == static_cast<std::size_t>(r * c));       // and reaches every cell
        const auto path = solve(*m);
        REQUIRE(path.front() == m->start);
        REQUIRE(path.back() == m->goal);
        std::vector<point> pts;
        for (int cell : path) pts.push_back(m->centre(cell));
        REQUIRE(verify_path(*m, pts).valid());
        // deterministic from the seed
        REQUIRE(generate_maze(r, c, algo, seed)->open == m->open);
      }
  REQUIRE_FALSE(generate_maze(1, 5, maze_algorithm::dfs, 1));
  REQUIRE_FALSE(generate_maze(5, 1000, maze_algorithm::dfs, 1));
}

TEST_CASE("unsolvable mazes have no path, cut away from start and end", "[primitives][maze]") {
  for (auto algo : {maze_algorithm::dfs, maze_algorithm::prim, maze_algorithm::kruskal})
    for (std::uint32_t seed : {3u, 4u, 5u}) {
      auto solvable = generate_maze(8, 8, algo, seed);
      auto m = generate_maze(8, 8, algo, seed, false);
      REQUIRE(m);
      REQUIRE(solve(*m).empty());
      REQUIRE(m->passages() == solvable->passages() - 1);
      REQUIRE(reference_answer(*m) == "\\boxed{False}");
      // the start and the goal keep their own passages
      const auto path = solve(*solvable);
      REQUIRE(m->passage(path[0], path[1]));
      REQUIRE(m->passage(path[path.size() - 2], path.back()));
    }
}

TEST_CASE("the verifier counts wall crossings on a hand-made maze", "[primitives][maze]") {
  // 2x2: passages 0-1 and 1-3 only; start 0, goal 3. Cell 2 is reachable from nowhere but 0.
  maze m{2, 2, std::vector<std::uint8_t>(16, 0), 0, 3};
  m.set_passage(0, 1, true);
  m.set_passage(1, 3, true);
  m.set_passage(0, 2, true);
  const point c0 = m.centre(0), c1 = m.centre(1), c2 = m.centre(2), c3 = m.centre(3);
  REQUIRE(verify_path(m, {c0, c1, c3}).valid());
  const auto through_wall = verify_path(m, {c0, c2, c3});  // 2 -> 3 crosses a wall
  REQUIRE(through_wall.wall_crossings == 1);
  REQUIRE_FALSE(through_wall.valid());
  const auto diagonal = verify_path(m, {c0, c3});
  REQUIRE(diagonal.jumps == 1);
  REQUIRE(c0 == point{250, 250});
  REQUIRE(reference_answer(m) == "<|point|>[[250,250],[749,250],[749,749]]<|/point|> \\boxed{True}");
  // the reference answer parses back to the same path
  const auto parsed = parse_text(reference_answer(m));
  REQUIRE(parsed.points.at(0).points == std::vector<point>{c0, c1, c3});
  REQUIRE(parsed.answer == "True");
}
