// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file maze.hpp
//! Maze tasks (research/visual_primitives.md §4.2): rectangular grids, circular mazes (rings x
//! sectors) and hexagonal (honeycomb, odd rows shifted right) mazes laid out on a canvas of
//! width x height pixels. Perfect mazes (spanning trees of the cell graph) come from randomised
//! DFS, Prim or Kruskal; an unsolvable variant closes one to three passages in the middle third
//! of the solution, never the first or last one. A BFS solver, cell centres in 0..999
//! coordinates, a point -> cell map, a verifier of point paths, the wall geometry a renderer
//! draws, and the reference answer in primitive syntax. Randomness is std::mt19937 with modulo
//! reduction, so a seed gives the same maze on every platform.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <numeric>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "vprim/core/status.hpp"
#include "vprim/primitives/codec.hpp"
#include "vprim/primitives/coordinates.hpp"

VPRIM_NAMESPACE_BEGIN
namespace primitives {

enum class maze_kind : std::uint8_t { rectangular, circular, hexagonal };
enum class maze_algorithm : std::uint8_t { dfs, prim, kruskal };

[[nodiscard]] constexpr std::string_view to_string(maze_kind k) noexcept {
  return k == maze_kind::rectangular ? "rect" : k == maze_kind::circular ? "circular" : "hex";
}
[[nodiscard]] constexpr std::string_view to_string(maze_algorithm a) noexcept {
  return a == maze_algorithm::dfs ? "dfs" : a == maze_algorithm::prim ? "prim" : "kruskal";
}

//! rows x cols cells; for circular mazes rows are rings (innermost first) and cols sectors.
struct maze_shape {
  maze_kind kind = maze_kind::rectangular;
  int rows = 8, cols = 8;
  int width = 1000, height = 1000;  //!< canvas in pixels
  double margin = 0.04;             //!< empty border, as a fraction of the shorter canvas side
};

//! One wall as drawn: a segment, or an arc of radius r around (cx, cy) from angle a0 to a1
//! (radians, image orientation: y grows downwards, so angles grow clockwise).
struct maze_wall {
  bool is_arc = false;
  pixel_point a, b;
  double cx = 0, cy = 0, r = 0, a0 = 0, a1 = 0;
};

//! Where cells sit on the canvas. Slots are the directions of a cell's neighbours:
//! rectangular 0 north, 1 east, 2 south, 3 west; circular 0 outward, 1 clockwise, 2 inward,
//! 3 counter-clockwise; hexagonal 0 east, 1 north-east, 2 north-west, 3 west, 4 south-west,
//! 5 south-east.
class maze_layout {
 public:
  static constexpr int max_degree = 6;

  maze_layout() = default;
  explicit maze_layout(const maze_shape& s) : shape_(s) {
    const double m = s.margin * std::min(s.width, s.height);
    const double w = s.width - 2 * m, h = s.height - 2 * m;
    switch (s.kind) {
      case maze_kind::rectangular:
        cell_w_ = w / s.cols;
        cell_h_ = h / s.rows;
        ox_ = m;
        oy_ = m;
        break;
      case maze_kind::circular:
        ox_ = s.width / 2.0;
        oy_ = s.height / 2.0;
        ring_ = std::min(w, h) / 2.0 / (s.rows + 1);  // one ring's width is left as the central hole
        break;
      case maze_kind::hexagonal: {
        const double root3 = std::sqrt(3.0);
        radius_ = std::min(w / (root3 * (s.cols + 0.5)), h / (1.5 * (s.rows - 1) + 2.0));
        ox_ = (s.width - root3 * radius_ * (s.cols + 0.5)) / 2.0;
        oy_ = (s.height - radius_ * (1.5 * (s.rows - 1) + 2.0)) / 2.0;
        break;
      }
    }
  }

  [[nodiscard]] const maze_shape& shape() const noexcept { return shape_; }
  [[nodiscard]] int cells() const noexcept { return shape_.rows * shape_.cols; }
  [[nodiscard]] int degree() const noexcept { return shape_.kind == maze_kind::hexagonal ? 6 : 4; }
  //! A cell's typical width in pixels (rect: the shorter side; circular: a ring; hex: across flats).
  [[nodiscard]] double cell_size() const noexcept {
    switch (shape_.kind) {
      case maze_kind::rectangular: return std::min(cell_w_, cell_h_);
      case maze_kind::circular: return ring_;
      case maze_kind::hexagonal: return std::sqrt(3.0) * radius_;
    }
    return 1.0;
  }

  //! The neighbour of `cell` in direction `slot`, or -1 where there is none.
  [[nodiscard]] int neighbour(int cell, int slot) const noexcept {
    const int r = cell / shape_.cols, c = cell % shape_.cols, R = shape_.rows, C = shape_.cols;
    auto at = [&](int rr, int cc) { return (rr < 0 || cc < 0 || rr >= R || cc >= C) ? -1 : rr * C + cc; };
    switch (shape_.kind) {
      case maze_kind::rectangular: {
        constexpr int dr[] = {-1, 0, 1, 0}, dc[] = {0, 1, 0, -1};
        return slot < 4 ? at(r + dr[slot], c + dc[slot]) : -1;
      }
      case maze_kind::circular: {
        if (slot == 0) return at(r + 1, c);
        if (slot == 1) return r * C + (c + 1) % C;
        if (slot == 2) return at(r - 1, c);
        return slot == 3 ? r * C + (c + C - 1) % C : -1;
      }
      case maze_kind::hexagonal: {
        const int odd = r & 1;  // odd rows sit half a cell to the right
        switch (slot) {
          case 0: return at(r, c + 1);
          case 1: return at(r - 1, c + odd);
          case 2: return at(r - 1, c + odd - 1);
          case 3: return at(r, c - 1);
          case 4: return at(r + 1, c + odd - 1);
          case 5: return at(r + 1, c + odd);
          default: return -1;
        }
      }
    }
    return -1;
  }

  [[nodiscard]] pixel_point centre_px(int cell) const noexcept {
    const int r = cell / shape_.cols, c = cell % shape_.cols;
    switch (shape_.kind) {
      case maze_kind::rectangular: return {ox_ + (c + 0.5) * cell_w_, oy_ + (r + 0.5) * cell_h_};
      case maze_kind::circular: {
        const double rad = (r + 1.5) * ring_, ang = (c + 0.5) * sector_angle();
        return {ox_ + rad * std::cos(ang), oy_ + rad * std::sin(ang)};
      }
      case maze_kind::hexagonal:
        return {ox_ + std::sqrt(3.0) * radius_ * (c + 0.5 + 0.5 * (r & 1)), oy_ + radius_ * (1.0 + 1.5 * r)};
    }
    return {};
  }
  //! The centre in 0..999 coordinates.
  [[nodiscard]] point centre(int cell) const noexcept {
    const pixel_point p = centre_px(cell);
    return {to_normalized(p.x, shape_.width), to_normalized(p.y, shape_.height)};
  }

  //! The cell containing a canvas pixel position; positions off the maze map to the nearest cell.
  [[nodiscard]] int cell_at_px(pixel_point p) const noexcept {
    const int R = shape_.rows, C = shape_.cols;
    auto clamp_index = [](double v, int n) { return std::clamp(static_cast<int>(std::floor(v)), 0, n - 1); };
    switch (shape_.kind) {
      case maze_kind::rectangular:
        return clamp_index((p.y - oy_) / cell_h_, R) * C + clamp_index((p.x - ox_) / cell_w_, C);
      case maze_kind::circular: {
        const double dx = p.x - ox_, dy = p.y - oy_;
        double ang = std::atan2(dy, dx);
        if (ang < 0) ang += 2 * pi;
        return clamp_index(std::hypot(dx, dy) / ring_ - 1.0, R) * C + clamp_index(ang / sector_angle(), C);
      }
      case maze_kind::hexagonal: {
        // Hexagons are the Voronoi cells of their centres: the nearest centre among the
        // candidates around the estimated row and column is exact.
        const int r0 = clamp_index((p.y - oy_) / (1.5 * radius_), R);
        const int c0 = clamp_index((p.x - ox_) / (std::sqrt(3.0) * radius_), C);
        int best = r0 * C + c0;
        double best_d = 1e300;
        for (int r = std::max(0, r0 - 1); r <= std::min(R - 1, r0 + 1); ++r)
          for (int c = std::max(0, c0 - 1); c <= std::min(C - 1, c0 + 1); ++c) {
            const pixel_point q = centre_px(r * C + c);
            const double d = (q.x - p.x) * (q.x - p.x) + (q.y - p.y) * (q.y - p.y);
            if (d < best_d) best_d = d, best = r * C + c;
          }
        return best;
      }
    }
    return 0;
  }
  //! The cell containing a 0..999 point (decoded with v / 999 * size).
  [[nodiscard]] int cell_at(point p) const noexcept {
    return cell_at_px({to_pixel(p.x, shape_.width), to_pixel(p.y, shape_.height)});
  }

  //! The wall between `cell` and its neighbour in `slot` (the outer boundary where there is none).
  [[nodiscard]] maze_wall wall(int cell, int slot) const noexcept {
    const int r = cell / shape_.cols, c = cell % shape_.cols;
    maze_wall w;
    switch (shape_.kind) {
      case maze_kind::rectangular: {
        const double x0 = ox_ + c * cell_w_, y0 = oy_ + r * cell_h_, x1 = x0 + cell_w_, y1 = y0 + cell_h_;
        const pixel_point corners[] = {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}};  // NW NE SE SW
        w.a = corners[slot];
        w.b = corners[(slot + 1) % 4];
        break;
      }
      case maze_kind::circular: {
        const double a0 = c * sector_angle(), a1 = a0 + sector_angle();
        const double inner = (r + 1) * ring_, outer = inner + ring_;
        if (slot == 0 || slot == 2) {
          w.is_arc = true;
          w.cx = ox_, w.cy = oy_, w.r = slot == 0 ? outer : inner, w.a0 = a0, w.a1 = a1;
        } else {
          const double ang = slot == 1 ? a1 : a0;
          w.a = {ox_ + inner * std::cos(ang), oy_ + inner * std::sin(ang)};
          w.b = {ox_ + outer * std::cos(ang), oy_ + outer * std::sin(ang)};
        }
        break;
      }
      case maze_kind::hexagonal: {
        // Pointy-top hexagon: the side facing direction slot*60 degrees (counter-clockwise on
        // screen) joins the vertices 30 degrees either side of it.
        const pixel_point ctr = centre_px(cell);
        auto vertex = [&](double deg) {
          const double rad = deg * pi / 180.0;
          return pixel_point{ctr.x + radius_ * std::cos(rad), ctr.y - radius_ * std::sin(rad)};
        };
        w.a = vertex(slot * 60.0 - 30.0);
        w.b = vertex(slot * 60.0 + 30.0);
        break;
      }
    }
    return w;
  }

 private:
  static constexpr double pi = std::numbers::pi;
  [[nodiscard]] double sector_angle() const noexcept { return 2 * pi / shape_.cols; }

  maze_shape shape_;
  double ox_ = 0, oy_ = 0, cell_w_ = 1, cell_h_ = 1, ring_ = 1, radius_ = 1;
};

struct maze {
  maze_layout layout;
  //! open[cell * max_degree + slot]: a passage from the cell towards its neighbour in that slot.
  std::vector<std::uint8_t> open;
  int start = 0, goal = 0;

  maze() = default;
  explicit maze(const maze_shape& s)
      : layout(s), open(static_cast<std::size_t>(layout.cells() * maze_layout::max_degree), 0) {}

  [[nodiscard]] const maze_shape& shape() const noexcept { return layout.shape(); }
  [[nodiscard]] int cells() const noexcept { return layout.cells(); }
  [[nodiscard]] int neighbour(int cell, int slot) const noexcept { return layout.neighbour(cell, slot); }
  [[nodiscard]] point centre(int cell) const noexcept { return layout.centre(cell); }
  [[nodiscard]] int cell_at(point p) const noexcept { return layout.cell_at(p); }
  [[nodiscard]] bool is_open(int cell, int slot) const noexcept {
    return open[static_cast<std::size_t>(cell * maze_layout::max_degree + slot)] != 0;
  }
  //! The slot through which `a` touches `b`, or -1 when they are not adjacent.
  [[nodiscard]] int slot_towards(int a, int b) const noexcept {
    for (int s = 0; s < layout.degree(); ++s)
      if (neighbour(a, s) == b) return s;
    return -1;
  }
  [[nodiscard]] bool adjacent(int a, int b) const noexcept { return a != b && slot_towards(a, b) >= 0; }
  [[nodiscard]] bool passage(int a, int b) const noexcept {
    const int s = slot_towards(a, b);
    return s >= 0 && is_open(a, s);
  }
  void set_passage(int a, int b, bool value) {
    if (const int s = slot_towards(a, b); s >= 0) open[static_cast<std::size_t>(a * maze_layout::max_degree + s)] = value;
    if (const int s = slot_towards(b, a); s >= 0) open[static_cast<std::size_t>(b * maze_layout::max_degree + s)] = value;
  }
  [[nodiscard]] std::size_t passages() const noexcept {
    return static_cast<std::size_t>(std::count(open.begin(), open.end(), 1)) / 2;
  }
  //! Calls f(neighbour) for every cell joined to `cell` by a passage.
  template <class F>
  void for_each_passage(int cell, F&& f) const {
    for (int s = 0; s < layout.degree(); ++s)
      if (is_open(cell, s)) f(neighbour(cell, s));
  }
  //! Every wall to draw, each once: closed sides between cells and the outer boundary.
  [[nodiscard]] std::vector<maze_wall> walls() const {
    std::vector<maze_wall> out;
    for (int c = 0; c < cells(); ++c)
      for (int s = 0; s < layout.degree(); ++s) {
        const int n = neighbour(c, s);
        if (n < 0 || (n > c && !is_open(c, s))) out.push_back(layout.wall(c, s));
      }
    return out;
  }
};

//! Steps from every cell to `from` through passages; -1 for cells that cannot reach it.
[[nodiscard]] inline std::vector<int> passage_distances(const maze& m, int from) {
  std::vector<int> dist(static_cast<std::size_t>(m.cells()), -1);
  std::queue<int> q;
  q.push(from);
  dist[static_cast<std::size_t>(from)] = 0;
  while (!q.empty()) {
    const int c = q.front();
    q.pop();
    m.for_each_passage(c, [&](int n) {
      if (dist[static_cast<std::size_t>(n)] < 0) {
        dist[static_cast<std::size_t>(n)] = dist[static_cast<std::size_t>(c)] + 1;
        q.push(n);
      }
    });
  }
  return dist;
}

//! Shortest path of cells from start to goal, empty when there is none.
[[nodiscard]] inline std::vector<int> solve(const maze& m) {
  const auto to_goal = passage_distances(m, m.goal);
  if (to_goal[static_cast<std::size_t>(m.start)] < 0) return {};
  std::vector<int> path = {m.start};
  while (path.back() != m.goal) {  // walk downhill in distance to the goal
    int next = -1;
    m.for_each_passage(path.back(), [&](int n) {
      if (next < 0 && to_goal[static_cast<std::size_t>(n)] == to_goal[static_cast<std::size_t>(path.back())] - 1) next = n;
    });
    path.push_back(next);
  }
  return path;
}

//! Checks a shape before any layout is built from it.
[[nodiscard]] inline status check_maze_shape(const maze_shape& s, std::string* why) {
  auto fail = [&](std::string msg) {
    if (why) *why = "maze " + std::string(to_string(s.kind)) + " " + std::to_string(s.rows) + "x" + std::to_string(s.cols) +
                    " on " + std::to_string(s.width) + "x" + std::to_string(s.height) + ": " + std::move(msg);
    return status::invalid_argument;
  };
  if (s.rows < 2 || s.cols < 2 || s.rows > 256 || s.cols > 256) return fail("rows and columns must be within 2..256");
  if (s.kind == maze_kind::circular && s.cols < 3) return fail("a circular maze needs at least 3 sectors");
  if (s.width < 16 || s.height < 16 || s.width > 16384 || s.height > 16384)
    return fail("the canvas must be within 16..16384 pixels per side");
  if (!(s.margin >= 0.0 && s.margin < 0.4)) return fail("margin must be within [0, 0.4)");
  return status::ok;
}

//! Rectangular and hexagonal mazes run from the top-left to the bottom-right cell; circular
//! ones from the outer ring at angle 0 to the opposite sector of the innermost ring.
inline void place_start_and_goal(maze& m) {
  const maze_shape& s = m.shape();
  if (s.kind == maze_kind::circular) {
    m.start = (s.rows - 1) * s.cols;
    m.goal = s.cols / 2;
  } else {
    m.start = 0;
    m.goal = m.cells() - 1;
  }
}

namespace detail {
//! Opens the passages of a random spanning tree of the cell graph.
inline void carve_spanning_tree(maze& m, maze_algorithm algo, std::mt19937& rng) {
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const int N = m.cells(), D = m.layout.degree();
  auto idx = [](int c) { return static_cast<std::size_t>(c); };
  if (algo == maze_algorithm::dfs) {
    std::vector<bool> seen(idx(N), false);
    std::vector<int> stack = {static_cast<int>(pick(idx(N)))};
    seen[idx(stack.back())] = true;
    std::vector<int> next;
    while (!stack.empty()) {
      const int c = stack.back();
      next.clear();
      for (int s = 0; s < D; ++s)
        if (const int n = m.neighbour(c, s); n >= 0 && !seen[idx(n)]) next.push_back(n);
      if (next.empty()) {
        stack.pop_back();
        continue;
      }
      const int n = next[pick(next.size())];
      m.set_passage(c, n, true);
      seen[idx(n)] = true;
      stack.push_back(n);
    }
  } else if (algo == maze_algorithm::prim) {
    std::vector<bool> in(idx(N), false);
    std::vector<std::pair<int, int>> frontier;  // (inside cell, outside cell)
    auto add = [&](int c) {
      in[idx(c)] = true;
      for (int s = 0; s < D; ++s)
        if (const int n = m.neighbour(c, s); n >= 0 && !in[idx(n)]) frontier.emplace_back(c, n);
    };
    add(static_cast<int>(pick(idx(N))));
    while (!frontier.empty()) {
      const std::size_t i = pick(frontier.size());
      const auto [a, b] = frontier[i];
      frontier[i] = frontier.back();
      frontier.pop_back();
      if (in[idx(b)]) continue;
      m.set_passage(a, b, true);
      add(b);
    }
  } else {
    std::vector<std::pair<int, int>> edges;
    for (int c = 0; c < N; ++c)
      for (int s = 0; s < D; ++s)
        if (const int n = m.neighbour(c, s); n > c) edges.emplace_back(c, n);  // each edge once
    for (std::size_t i = edges.size(); i > 1; --i) std::swap(edges[i - 1], edges[pick(i)]);  // Fisher-Yates
    std::vector<int> parent(idx(N));
    std::iota(parent.begin(), parent.end(), 0);
    auto find = [&](int x) {
      while (parent[idx(x)] != x) x = parent[idx(x)] = parent[idx(parent[idx(x)])];
      return x;
    };
    for (const auto& [a, b] : edges) {
      const int ra = find(a), rb = find(b);
      if (ra == rb) continue;
      parent[idx(ra)] = rb;
      m.set_passage(a, b, true);
    }
  }
}
}  // namespace detail

//! A perfect maze from `seed`; an unsolvable one has 1..3 passages of the solution's middle
//! third closed (the paper's "a few walls around the middle of that path").
[[nodiscard]] inline result<maze> generate_maze(const maze_shape& shape, maze_algorithm algo, std::uint32_t seed,
                                                bool solvable = true) {
  std::string why;
  if (check_maze_shape(shape, &why) != status::ok) return make_error(status::invalid_argument, "generate_maze: " + why);
  maze m(shape);
  place_start_and_goal(m);
  std::mt19937 rng(seed);
  detail::carve_spanning_tree(m, algo, rng);
  if (!solvable) {
    const auto path = solve(m);  // a tree has one path; cutting any passage of it disconnects
    const std::size_t moves = path.size() - 1;
    // Passages moves/3 .. 2*moves/3, kept off the first and last passage whenever possible.
    const std::size_t lo = std::clamp<std::size_t>(moves / 3, std::min<std::size_t>(1, moves - 1), moves - 1);
    const std::size_t hi = std::clamp<std::size_t>((2 * moves) / 3, lo, moves > 2 ? moves - 2 : moves - 1);
    const std::size_t mid = (lo + hi) / 2;
    m.set_passage(path[mid], path[mid + 1], false);
    const std::size_t extra = rng() % 3;
    for (std::size_t k = 0; k < extra && hi > lo; ++k) {
      const std::size_t i = lo + rng() % (hi - lo + 1);
      m.set_passage(path[i], path[i + 1], false);
    }
  }
  return m;
}

//! The rectangular form kept for callers that only need a grid on a 1000x1000 canvas.
[[nodiscard]] inline result<maze> generate_maze(int rows, int cols, maze_algorithm algo, std::uint32_t seed,
                                                bool solvable = true) {
  return generate_maze(maze_shape{maze_kind::rectangular, rows, cols}, algo, seed, solvable);
}

//! What a point path does in a maze: points are mapped to the cells containing them.
struct path_check {
  std::size_t transitions = 0;     //!< moves between different cells
  std::size_t wall_crossings = 0;  //!< moves between adjacent cells through a wall
  std::size_t jumps = 0;           //!< moves between non-adjacent cells
  bool starts_at_start = false, ends_at_goal = false;
  [[nodiscard]] bool valid() const noexcept {
    return starts_at_start && ends_at_goal && wall_crossings == 0 && jumps == 0;
  }
};

[[nodiscard]] inline path_check verify_path(const maze& m, const std::vector<point>& path) {
  path_check pc;
  if (path.empty()) return pc;
  pc.starts_at_start = m.cell_at(path.front()) == m.start;
  pc.ends_at_goal = m.cell_at(path.back()) == m.goal;
  for (std::size_t i = 1; i < path.size(); ++i) {
    const int a = m.cell_at(path[i - 1]), b = m.cell_at(path[i]);
    if (a == b) continue;
    ++pc.transitions;
    if (!m.adjacent(a, b)) ++pc.jumps;
    else if (!m.passage(a, b)) ++pc.wall_crossings;
  }
  return pc;
}

//! The solution as cell centres in 0..999 coordinates; empty when there is none.
[[nodiscard]] inline std::vector<point> solution_points(const maze& m) {
  std::vector<point> pts;
  for (int c : solve(m)) pts.push_back(m.centre(c));
  return pts;
}

//! The reference answer: the solution as one point list, then \boxed{True}, or \boxed{False}
//! when there is no path.
[[nodiscard]] inline std::string reference_answer(const maze& m) {
  const auto pts = solution_points(m);
  return pts.empty() ? "\\boxed{False}" : format_points(pts) + " \\boxed{True}";
}

}  // namespace primitives
VPRIM_NAMESPACE_END
