// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#include <cmath>
#include <vector>

#include <catch2/catch.hpp>

#include "vprim/primitives/maze.hpp"

using namespace vprim::primitives;

namespace {
const maze_kind all_kinds[] = {maze_kind::rectangular, maze_kind::circular, maze_kind::hexagonal};
const maze_algorithm all_algorithms[] = {maze_algorithm::dfs, maze_algorithm::prim, maze_algorithm::kruskal};

// cells reachable from the start through passages, by a plain stack walk
std::size_t reachable(const maze& m) {
  std::vector<bool> seen(static_cast<std::size_t>(m.cells()), false);
  std::vector<int> stack = {m.start};
  seen[static_cast<std::size_t>(m.start)] = true;
  std::size_t n = 0;
  while (!stack.empty()) {
    const int c = stack.back();
    stack.pop_back();
    ++n;
    for (int x = 0; x < m.cells(); ++x)
      if (m.passage(c, x) && !seen[static_cast<std::size_t>(x)]) {
        seen[static_cast<std::size_t>(x)] = true;
        stack.push_back(x);
      }
  }
  return n;
}
// undirected edges of the cell graph, counted by brute force over all pairs
std::size_t graph_edges(const maze& m) {
  std::size_t n = 0;
  for (int a = 0; a < m.cells(); ++a)
    for (int b = a + 1; b < m.cells(); ++b) n += m.adjacent(a, b);
  return n;
}
}  // namespace

TEST_CASE("cell graphs are symmetric, and every kind has the expected number of edges", "[primitives][maze]") {
  for (auto kind : all_kinds) {
    const maze m(maze_shape{kind, 5, 7, 900, 700});
    CAPTURE(to_string(kind));
    for (int a = 0; a < m.cells(); ++a)
      for (int s = 0; s < m.layout.degree(); ++s)
        if (const int b = m.neighbour(a, s); b >= 0) REQUIRE(m.slot_towards(b, a) >= 0);
    const std::size_t expected = kind == maze_kind::rectangular ? 5 * 6 + 4 * 7          // horizontal + vertical
                                 : kind == maze_kind::circular  ? 5 * 7 + 4 * 7           // around each ring + between rings
                                                                : 5 * 6 + 2 * 4 * 7 - 4;  // rows + two diagonals per row gap, minus the edges off the grid
    REQUIRE(graph_edges(m) == expected);
  }
}

TEST_CASE("each cell's centre maps back to the cell, on any canvas", "[primitives][maze]") {
  for (auto kind : all_kinds)
    for (auto [w, h] : std::vector<std::pair<int, int>>{{1000, 1000}, {1400, 600}, {500, 900}}) {
      const maze m(maze_shape{kind, 6, 9, w, h});
      CAPTURE(to_string(kind), w, h);
      for (int c = 0; c < m.cells(); ++c) REQUIRE(m.cell_at(m.centre(c)) == c);
      // adjacent centres are one cell apart in pixels (rect: along the side; circular: at least a ring's width apart)
      if (kind == maze_kind::hexagonal)
        for (int a = 0; a < m.cells(); ++a)
          for (int s = 0; s < 6; ++s)
            if (const int b = m.neighbour(a, s); b >= 0) {
              const auto p = m.layout.centre_px(a), q = m.layout.centre_px(b);
              REQUIRE(std::hypot(p.x - q.x, p.y - q.y) == Approx(m.layout.cell_size()));
            }
    }
}

TEST_CASE("perfect mazes are spanning trees for every kind and algorithm", "[primitives][maze]") {
  for (auto kind : all_kinds)
    for (auto algo : all_algorithms)
      for (auto [r, c] : std::vector<std::pair<int, int>>{{2, 3}, {5, 7}, {12, 12}, {3, 30}})
        for (std::uint32_t seed : {1u, 2u, 99u}) {
          CAPTURE(to_string(kind), to_string(algo), r, c, seed);
          auto m = generate_maze(maze_shape{kind, r, c, 1200, 1000}, algo, seed);
          REQUIRE(m);
          REQUIRE(m->passages() == static_cast<std::size_t>(r * c - 1));  // a tree has cells - 1 edges
          REQUIRE(reachable(*m) == static_cast<std::size_t>(r * c));       // and reaches every cell
          const auto path = solve(*m);
          REQUIRE(path.front() == m->start);
          REQUIRE(path.back() == m->goal);
          REQUIRE(verify_path(*m, solution_points(*m)).valid());
          REQUIRE(generate_maze(maze_shape{kind, r, c, 1200, 1000}, algo, seed)->open == m->open);  // from the seed alone
          // walls: every closed edge once, plus the boundary
          std::size_t boundary = 0;
          for (int cell = 0; cell < m->cells(); ++cell)
            for (int s = 0; s < m->layout.degree(); ++s) boundary += m->neighbour(cell, s) < 0;
          REQUIRE(m->walls().size() == graph_edges(*m) - m->passages() + boundary);
        }
  std::string why;
  REQUIRE_FALSE(generate_maze(1, 5, maze_algorithm::dfs, 1));
  REQUIRE_FALSE(generate_maze(5, 1000, maze_algorithm::dfs, 1));
  REQUIRE_FALSE(generate_maze(maze_shape{maze_kind::circular, 4, 2}, maze_algorithm::dfs, 1));
  const auto tiny = generate_maze(maze_shape{maze_kind::hexagonal, 8, 8, 10, 10}, maze_algorithm::dfs, 1);
  REQUIRE_FALSE(tiny);
  REQUIRE_THAT(tiny.err().message, Catch::Contains("canvas must be within 16..16384"));
}

TEST_CASE("unsolvable mazes have no path, cut in the middle of the solution", "[primitives][maze]") {
  for (auto kind : all_kinds)
    for (auto algo : all_algorithms)
      for (std::uint32_t seed : {3u, 4u, 5u, 6u}) {
        CAPTURE(to_string(kind), to_string(algo), seed);
        const maze_shape shape{kind, 8, 8};
        auto solvable = generate_maze(shape, algo, seed);
        auto m = generate_maze(shape, algo, seed, false);
        REQUIRE(m);
        REQUIRE(solve(*m).empty());
        const std::size_t cuts = solvable->passages() - m->passages();
        REQUIRE(cuts >= 1);
        REQUIRE(cuts <= 3);
        REQUIRE(reference_answer(*m) == "\\boxed{False}");
        // every cut lies on the solution's middle third: the start and goal keep their passages
        const auto path = solve(*solvable);
        const std::size_t moves = path.size() - 1;
        for (std::size_t i = 0; i < moves; ++i)
          if (!m->passage(path[i], path[i + 1])) {
            REQUIRE(i >= moves / 3);
            REQUIRE(i <= (2 * moves) / 3);
          }
        REQUIRE(m->passage(path[0], path[1]));
        REQUIRE(m->passage(path[moves - 1], path[moves]));
      }
}

TEST_CASE("the verifier counts wall crossings on a hand-made maze", "[primitives][maze]") {
  // 2x2 on a 1000x1000 canvas without margin: passages 0-1, 1-3 and 0-2; start 0, goal 3.
  maze m(maze_shape{maze_kind::rectangular, 2, 2, 1000, 1000, 0.0});
  m.start = 0;
  m.goal = 3;
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
  // several points in one cell are one position; off-grid points belong to the nearest cell
  REQUIRE(verify_path(m, {{10, 10}, c0, {600, 100}, {999, 999}}).valid());
  const auto parsed = parse_text(reference_answer(m));
  REQUIRE(parsed.points.at(0).points == std::vector<point>{c0, c1, c3});
  REQUIRE(parsed.answer == "True");
}
