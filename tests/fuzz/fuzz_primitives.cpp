// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// libFuzzer harness for the primitive codec: the bytes as a transcript, and as token ids (two
// bytes per id, small ids decoding to fixed text pieces, the rest to the default tag ids).
// Properties: no crash or unbounded work (sanitizers watch), every error offset inside the
// input, every box ordered and in range, every point in range; the JSON report of any result
// parses back as JSON; the rewards and the overlay take whatever the parser produced; the
// byte-level piece decoder takes any bytes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "vprim/io/json.hpp"
#include "vprim/io/vocabulary.hpp"
#include "vprim/primitives/json_report.hpp"
#include "vprim/primitives/render.hpp"
#include "vprim/primitives/rewards.hpp"

namespace {
namespace vp = vprim::primitives;

const vp::maze& small_maze() {
  static const vp::maze m = *vp::generate_maze(vp::maze_shape{vp::maze_kind::hexagonal, 5, 6, 300, 200}, vp::maze_algorithm::dfs, 1);
  return m;
}

void use(const vp::parse_result& r) {
  if (!vprim::parse_json(vp::to_json(r))) std::abort();
  if (const double f = vp::format_reward(r); !(f >= 0.0 && f <= 1.0)) std::abort();
  if (const double t = vp::maze_reward(small_maze(), vp::maze_prediction_from(r)).total; !(t >= 0.0 && t <= 1.0)) std::abort();
  const vp::path_reference ref{{{0, 0}, {999, 999}}, {0, 0, 10, 10}, {990, 990, 999, 999}, "1"};
  if (const double t = vp::path_reward(vp::path_prediction_from(r), ref).total; !(t >= 0.0 && t <= 1.0)) std::abort();
  static vprim::rgb_image canvas = vprim::rgb_image::filled(37, 23, 0);
  vp::draw_transcript(canvas, r);
}

void check(const vp::parse_result& r, std::size_t size) {
  for (const auto& e : r.errors)
    if (e.offset > size) std::abort();
  for (const auto& ref : r.refs)
    for (const auto& b : ref.boxes)
      if (b.x1 > b.x2 || b.y1 > b.y2 || b.x1 < 0 || b.y1 < 0 || b.x2 > 999 || b.y2 > 999) std::abort();
  for (const auto& pl : r.points)
    for (const auto& p : pl.points)
      if (p.x < 0 || p.y < 0 || p.x > 999 || p.y > 999) std::abort();
  use(r);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check(vprim::primitives::parse_text(text), size);
  static const char* pieces[] = {"[", "]", ",", "1", "99", "999", " ", "bear", "\\boxed{", "}"};
  const vprim::primitives::tag_ids ids;
  std::vector<std::int64_t> tokens;
  for (std::size_t i = 0; i + 1 < size; i += 2) {
    const int v = data[i] | (data[i + 1] << 8);
    tokens.push_back(v % 20 < 10 ? v % 10 : ids.ref - v % 8);  // text pieces and the 8 tag ids
  }
  check(vprim::primitives::parse_tokens(tokens, [](std::int64_t id) { return std::string(pieces[id]); }), tokens.size());
  const std::string bytes = vprim::vocabulary::decode_piece(text);
  if (bytes.size() > size) std::abort();  // a piece never decodes to more bytes than it has
  return 0;
}
