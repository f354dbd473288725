// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// Throughput of the visual-primitive toolkit: parsing (MB/s and primitives/s, over text and
// over token ids), maze generation + solving + verification, path-task generation, the maze
// reward, and rendering. A reinforcement-learning loop scores thousands of rollouts per step;
// these say how much of that budget the rule-based parts take.
#include <cstdint>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "vprim/primitives/rewards.hpp"
#include "vprim/primitives/task_render.hpp"

namespace {

namespace vp = vprim::primitives;

//! A long paper-style transcript: fine-grained counting sentences, a batch list, maze steps
//! and a path polyline, repeated; about 1 MB.
std::string long_transcript(std::size_t* primitives) {
  std::string unit =
      "I spot a <｜ref｜>bear<｜/ref｜><｜box｜>[[452,23,804,411]]<｜/box｜> clinging to a trunk. "
      "All of them: <｜ref｜>the men<｜/ref｜><｜box｜>[[30,120,110,200], [140,135,200,195], [225,150,300,215], "
      "[310,160,380,240]]<｜/box｜>. **Step2**: Moving left: <｜point｜>[[357,369],[260,372]]<｜/point｜> reaching "
      "<｜point｜>[[260,372]]<｜/point｜>. Path: <｜point｜>[[176,759],[230,779],[284,770],[331,741],[372,700],"
      "[410,652],[452,600],[500,551],[556,510],[618,478],[683,452],[745,433],[822,419]]<｜/point｜> \\boxed{5}\n";
  std::string text;
  std::size_t n = 0;
  while (text.size() < (1u << 20)) {
    text += unit;
    n += 5;  // 2 references + 3 point lists
  }
  *primitives = n;
  return text;
}

void BM_parse_text(benchmark::State& state) {
  std::size_t primitives = 0;
  const std::string text = long_transcript(&primitives);
  for (auto _ : state) {
    auto r = vp::parse_text(text);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.counters["primitives/s"] =
      benchmark::Counter(static_cast<double>(primitives), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_parse_text)->Unit(benchmark::kMillisecond);

//! The same transcript as token ids: tags are single ids, text comes in 4-byte pieces through a
//! lookup table, as a detokenizer would hand it over.
void BM_parse_tokens(benchmark::State& state) {
  std::size_t primitives = 0;
  const std::string text = long_transcript(&primitives);
  const auto events = vp::lex(text);
  const vp::tag_ids tags;
  const std::int64_t tag_id[] = {tags.ref, tags.ref_end, tags.box, tags.box_end, tags.point, tags.point_end};
  std::vector<std::string> pieces;
  std::vector<std::int64_t> ids;
  for (const auto& e : events) {
    if (e.type == vp::event::kind::tag) {
      ids.push_back(tag_id[static_cast<int>(e.which)]);
      continue;
    }
    for (std::size_t i = 0; i < e.text.size(); i += 4) {
      ids.push_back(static_cast<std::int64_t>(pieces.size()));
      pieces.emplace_back(e.text.substr(i, 4));
    }
  }
  for (auto _ : state) {
    auto r = vp::parse_tokens(ids, [&](std::int64_t id) -> std::string_view { return pieces[static_cast<std::size_t>(id)]; });
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(ids.size()), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["primitives/s"] =
      benchmark::Counter(static_cast<double>(primitives), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_parse_tokens)->Unit(benchmark::kMillisecond);

//! Generate a maze, solve it, and verify the solution as a point path: one task per iteration.
void BM_maze_generate_verify(benchmark::State& state) {
  const auto kind = static_cast<vp::maze_kind>(state.range(0));
  const auto algo = static_cast<vp::maze_algorithm>(state.range(1));
  const int side = static_cast<int>(state.range(2));
  std::uint32_t seed = 0;
  for (auto _ : state) {
    auto m = vp::generate_maze(vp::maze_shape{kind, side, side}, algo, ++seed);
    const auto pts = vp::solution_points(*m);
    benchmark::DoNotOptimize(vp::verify_path(*m, pts).valid());
  }
  state.SetLabel(std::string(vp::to_string(kind)) + "/" + std::string(vp::to_string(algo)) + " " + std::to_string(side) + "x" +
                 std::to_string(side));
  state.counters["mazes/s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_maze_generate_verify)
    ->ArgsProduct({{0, 1, 2}, {0, 1, 2}, {16}})
    ->Args({0, 0, 64})
    ->Unit(benchmark::kMicrosecond);

//! The five-term maze reward of the reference transcript (parse included).
void BM_maze_reward(benchmark::State& state) {
  const auto m = vp::generate_maze(vp::maze_shape{vp::maze_kind::rectangular, 16, 16}, vp::maze_algorithm::dfs, 3);
  const std::string transcript = vp::reference_answer(*m);
  for (auto _ : state) benchmark::DoNotOptimize(vp::maze_reward(*m, vp::maze_prediction_from(vp::parse_text(transcript))).total);
  state.counters["scores/s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_maze_reward)->Unit(benchmark::kMicrosecond);

void BM_path_task_generate(benchmark::State& state) {
  vp::path_task_params p;
  p.curves = static_cast<int>(state.range(0));
  std::uint32_t seed = 0;
  for (auto _ : state) benchmark::DoNotOptimize(vp::generate_path_task(p, ++seed)->waypoints.size());
  state.counters["tasks/s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_path_task_generate)->Arg(4)->Arg(8)->Unit(benchmark::kMicrosecond);

void BM_render_maze(benchmark::State& state) {
  const auto m = vp::generate_maze(vp::maze_shape{vp::maze_kind::hexagonal, 12, 12, 768, 768}, vp::maze_algorithm::prim, 1);
  for (auto _ : state) benchmark::DoNotOptimize(vp::render_maze(*m).pixels.data());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * 768 * 768 * 3);
}
BENCHMARK(BM_render_maze)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
